"""Contract section 2: the file formats real district offices produce all read the same."""
import codecs
import datetime as dt

from pipeline.intake.check import check_files
from pipeline.intake.reader import read_file
from tests.conftest import write_csv, write_xlsx

GERMAN_HEADER = ["Veranstaltung-ID", "Datum", "Art", "Überregional", "Teilnehmende gesamt", "davon ehrenamtlich"]


def rows_of(path, contract, feed="events"):
    read = read_file(path.name, path.read_bytes(), contract, feed)
    assert not read.problems, read.problems
    [sheet] = read.sheets
    return sheet


def test_utf8_bom_cp1252_and_utf16_read_alike(tmp_path, contract):
    lines = [";".join(GERMAN_HEADER), "E1;15.03.2024;Schulung;ja;12;5"]
    variants = {
        "bom": codecs.BOM_UTF8 + "\n".join(lines).encode("utf-8"),
        "cp1252": "\n".join(lines).encode("cp1252"),
        "utf16": "\n".join(lines).encode("utf-16"),   # Excel's "Unicode text" export
    }
    for name, data in variants.items():
        path = tmp_path / name / "05766_2024-Q1_events.csv"
        path.parent.mkdir()
        path.write_bytes(data)
        sheet = rows_of(path, contract)
        assert sheet.headers["supra_regional"] == "Überregional", name
        assert sheet.rows.loc[0, ["event_id", "date", "participants_total"]].tolist() == ["E1", "15.03.2024", "12"]


def test_separators_quotes_and_line_breaks(tmp_path, contract):
    for sep in (";", ",", "\t"):
        path = tmp_path / f"{ord(sep)}" / "05766_2024-Q1_events.csv"
        path.parent.mkdir()
        title = f'"Runder Tisch{sep} Teil 1\nmit Dolmetschung"'
        write_csv(path, [sep.join(["event_id", "date", "event_type", "title", "participants_total"]),
                         sep.join(["E1", "2024-01-10", "round_table", title, "9"]),
                         sep.join(["E2", "2024-01-11", "workshop", "kurz", "4"])])
        sheet = rows_of(path, contract)
        assert sheet.rows["title"].tolist() == [f"Runder Tisch{sep} Teil 1\nmit Dolmetschung", "kurz"]
        # The quoted line break does not shift the district's row numbers.
        assert sheet.rows["source_row"].tolist() == [2, 3]


def test_decimal_comma_dates_booleans_and_enum_aliases(tmp_path, contract, catalogue):
    path = write_csv(tmp_path / "13076_2019-Q2_micro_projects.csv", [
        "projekt_id;antragsteller;bewilligt_am;betrag_eur;status",
        "M1;Verein A;2019-04-03;1.000,50;bewilligt",
        "M2;Verein B;4.4.2019;950,5;Zurückgezogen",
        "M3;Verein C;05.04.2019;12;zurueckgezogen"], encoding="cp1252", sep=";")
    import duckdb

    from pipeline.intake.check import stage_files

    con = duckdb.connect()
    stage_files(con, [path], contract, catalogue)
    assert con.execute("SELECT count(*) FROM row_rejections").fetchall() == [(0,)]
    got = con.execute("SELECT approved_date, amount_eur, status FROM stg_micro_projects ORDER BY source_row").df()
    got = got.astype(str).values.tolist()
    assert got == [["2019-04-03", "1000.5", "approved"], ["2019-04-04", "950.5", "cancelled"],
                   ["2019-04-05", "12.0", "cancelled"]]


def test_workbook_sheets_dates_formulas_and_empty_rows(tmp_path, contract, catalogue):
    path = write_xlsx(tmp_path / "05766_2024-Q1.xlsx", {
        "Veranstaltungen": [
            GERMAN_HEADER,
            ["E1", dt.date(2024, 1, 10), "Schulung", "x", ("=4+8", 12), 5],   # real date, formula
            None,                                                           # empty row 3 is skipped
            ["E2", "15.01.2024", "Workshop", None, 7, None],               # date as text
        ],
        "Tabelle2": [],                                                     # empty sheet: ignored
        "TEILNAHMEN": [["Veranstaltung_ID", "Personen_ID", "Rolle"], ["E1", "KL-0001", "hauptamtlich"]],
    })
    [report] = check_files([path], contract, catalogue)
    assert report.clean, report.findings
    assert (report.rows_read, report.accepted) == (3, 3)
    assert report.ignored_sheets == ["Tabelle2"]
    read = read_file(path.name, path.read_bytes(), contract)
    events = next(s for s in read.sheets if s.feed == "events")
    assert events.rows[["source_row", "date", "participants_total", "supra_regional"]].values.tolist() == [
        [2, "2024-01-10", "12", "x"], [4, "15.01.2024", "7", None]]


def test_unknown_sheet_and_extra_columns_are_reported(tmp_path, contract, catalogue):
    path = write_xlsx(tmp_path / "05766_2024-Q1.xlsx", {
        "Veranstaltungen": [GERMAN_HEADER + ["Bemerkung"], ["E1", dt.date(2024, 1, 10), "Schulung", "", 3, 1, "gut"]],
        "Notizen": [["irgendwas"], ["mehr"]],
    })
    [report] = check_files([path], contract, catalogue)
    assert [(f["reason_code"], f["sheet"]) for f in report.findings] == [("unknown_feed", "Notizen")]
    assert report.ignored_columns == ["Bemerkung"]
    assert (report.rows_read, report.accepted, report.rejected) == (2, 1, 1)
