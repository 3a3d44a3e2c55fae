"""No file a district office can produce stops the reader or leaks a person (the reader's part of
"No file can stop the pipeline or leak a person"): bounded reading, ragged rows, office habits,
forbidden headers in every spelling, numbers too large. Files are real, written here or by
tests/conftest.py; they go through `teilhabe check`'s path (`check_files`) unless the reader alone
is the point."""
import dataclasses
import datetime as dt
import io
import re
import zipfile

import openpyxl
import pytest
import xlsxwriter

from pipeline.intake.check import check_files
from pipeline.intake.reader import csv_text, parse_file_name, read_csv_group, read_file
from tests.conftest import write_csv, write_xlsx

EVENTS = ["event_id", "date", "event_type", "title", "participants_total"]
GERMAN = ["Veranstaltung-ID", "Datum", "Art", "Titel", "Teilnehmende gesamt"]


def found(report):
    return sorted((f["row"], f["reason_code"], f["column"]) for f in report.findings)


def balanced(report):
    return report.rows_read == report.accepted + report.rejected


def _workbook_bytes(cells: dict[str, dict[tuple[int, int], object]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, values in cells.items():
        sheet = book.add_worksheet(name)
        for (r, c), value in values.items():
            sheet.write(r, c, value)
    book.close()
    return buffer.getvalue()


# --- 1. bounded reading -------------------------------------------------------------------------

def test_a_cell_at_xfd1048576_is_too_large_before_anything_is_allocated(contract):
    # One cell there (a 2 KB file) made calamine's dense grid ask for 550 GB; with a second cell in A1
    # calamine itself would allocate the whole range. The scan of the sheet XML sets both aside.
    for cells in ({(1048575, 16383): "x"}, {(0, 0): "event_id", (1048575, 16383): "x"}):
        data = _workbook_bytes({"Veranstaltungen": cells})
        assert len(data) < 10_000
        read = read_file("05766_2024-Q1.xlsx", data, contract)
        [problem] = read.problems
        assert problem.reason_code == "too_large" and not read.sheets
        assert problem.value == "mindestens 1.048.576 Zeilen / at least 1,048,576 rows"
        assert (problem.detail_de, problem.sheet) == ("Grenze 200.000", "Veranstaltungen")


def test_a_workbook_over_the_row_column_or_cell_limit_is_too_large(tmp_path, contract):
    rows = [EVENTS] + [["E%d" % i, "2024-01-10", "training", "x", 3] for i in range(60)]
    path = write_xlsx(tmp_path / "05766_2024-Q1.xlsx", {"events": rows})
    for limits, figure in [({"max_rows": 50}, "mindestens 61 Zeilen / at least 61 rows"),
                           ({"max_columns": 4}, "mindestens 5 Spalten / at least 5 columns"),
                           ({"max_cells": 200}, "61 Zeilen × 5 Spalten / 61 rows × 5 columns")]:
        read = read_file(path.name, path.read_bytes(), dataclasses.replace(contract, **limits))
        assert [(p.reason_code, p.value) for p in read.problems] == [("too_large", figure)], limits
    assert read_file(path.name, path.read_bytes(), contract).sheets  # within the real limits


def test_a_csv_over_its_limits_is_too_large_with_the_figure(contract):
    header = ",".join(EVENTS).encode() + b"\n"
    cases = [
        (b"a," * 2_600_000 + b"a\n", contract, "2,600,001 fields in one line"),  # pandas: std::bad_alloc
        (header + b"E1,2024-01-10,training," + b"x" * 100_001 + b",3\n", contract, "a line of 100,026 bytes"),
        (header + b"E1,2024-01-10,training,x,3\n" * 30, dataclasses.replace(contract, max_rows=20), "31 Zeilen / 31 lines"),
        (header + b"E1,2024-01-10,training,x,3\n" * 30, dataclasses.replace(contract, max_cells=100), "155 cells"),
    ]
    for data, limits, figure in cases:
        read = read_file("05766_2024-Q1_events.csv", data, limits, "events")
        [problem] = read.problems
        assert problem.reason_code == "too_large" and figure in problem.value, (figure, problem)
        # the grouped reader of a national run leaves such a file to `read_file`
        assert csv_text(0, data, limits) is None


def test_a_workbook_without_its_workbook_part_is_set_aside_with_a_reason(tmp_path, contract, catalogue):
    path = tmp_path / "05766_2024-Q1.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    [report] = check_files([path], contract, catalogue)
    [finding] = report.findings
    assert finding["reason_code"] == "unreadable" and "xl/workbook.xml" in finding["reason"]


def test_a_zip_that_lies_about_its_size_is_unreadable_not_inflated(tmp_path, contract):
    path = write_xlsx(tmp_path / "05766_2024-Q1.xlsx", {"events": [EVENTS, ["E1", "2024-01-10", "training", "x", 3]]})
    data = bytearray(path.read_bytes())
    # shrink the declared size of the sheet in its central directory entry: zipfile's checksum fails
    entry = data.rindex(b"xl/worksheets/sheet1.xml") - 46
    assert data[entry:entry + 4] == b"PK\x01\x02"
    data[entry + 24:entry + 28] = (10).to_bytes(4, "little")
    read = read_file(path.name, bytes(data), contract)
    assert [p.reason_code for p in read.problems] == ["unreadable"] and not read.sheets


def test_no_exception_escapes_the_reader(monkeypatch, contract):
    import pipeline.intake.reader as reader

    def broken(*args):
        raise MemoryError("a library gave up")

    monkeypatch.setattr(reader, "read_workbook", broken)
    read = read_file("05766_2024-Q1.xlsx", b"PK\x03\x04whatever", contract)
    [problem] = read.problems
    assert problem.reason_code == "unreadable" and "MemoryError" in problem.detail_en
    for data in (bytes(range(256)) * 40, b"\xff\xfe\x00", b'"' * 5000, b"a;b\r\r\r\x00", "ä".encode("utf-16")):
        for name in ("05766_2024-Q1_events.csv", "05766_2024-Q1.xlsx"):
            assert read_file(name, data, contract, "events").problems  # an answer, never a traceback


# --- 2. ragged rows -----------------------------------------------------------------------------

def test_one_ragged_line_is_one_rejected_row_and_the_rest_is_read(tmp_path, contract, catalogue):
    path = write_csv(tmp_path / "05766_2024-Q1_events.csv", [
        ";".join(GERMAN),
        "E1;2024-01-10;Schulung;Runder Tisch;12",
        "E2;2024-01-11;Schulung;Sprache; Kultur;13",        # an unquoted ; in the title: 6 fields
        "E3;2024-01-12;Schulung",                            # a line cut short: 3 fields
        "E4;2024-01-13;Schulung;Kurs;14;;",                  # empty fields beyond the header: fine
        "E5;2024-01-14;Schulung;Kurs;15"])
    [report] = check_files([path], contract, catalogue)
    assert found(report) == [(3, "bad_value", "(ganze Zeile / whole row)"), (4, "bad_value", "(ganze Zeile / whole row)")]
    assert [f["value"] for f in report.findings] == ["6 Felder statt 5 / 6 fields instead of 5",
                                                    "3 Felder statt 5 / 3 fields instead of 5"]
    assert "Anführungszeichen" in report.findings[0]["reason"]
    assert (report.rows_read, report.accepted, report.rejected) == (5, 3, 2)


def test_the_grouped_reader_leaves_ragged_files_to_the_file_reader(tmp_path, contract):
    good = (",".join(EVENTS) + "\nE1,2024-01-10,training,x,3\n").encode()
    ragged = (",".join(EVENTS) + "\nE1,2024-01-10,training,x,y,3\nE2,2024-01-10,training,x,3\n").encode()
    short = (",".join(EVENTS) + "\nE1,2024-01-10\n").encode()
    texts = [csv_text(n, data, contract) for n, data in enumerate([good, ragged, short])]
    reads, rest = read_csv_group(texts, contract.feeds["events"], contract)
    assert sorted(t.index for t in rest) == [1, 2]
    assert [t.index for r in reads for t in r.files] == [0]
    assert reads[0].rows.column("row_problem").null_count == 1


def test_excel_sep_line_title_rows_and_blank_lines_above_the_header(tmp_path, contract, catalogue):
    sep = write_csv(tmp_path / "05766_2024-Q1_events.csv",
                    ["sep=,", ",".join(EVENTS), "E1,2024-01-10,training,x,3", "E2,2024-01-11,training,y,4"])
    titled = write_csv(tmp_path / "05766_2024-Q1_advice.csv", [
        "Beratungen 1. Quartal 2024, Kreis Lippe", "Stand: 02.04.2024", "",
        "Beratung-ID;Datum;Beratene Art;Beratene-ID", "C1;2024-01-10;Einzelperson;KL-0001",
        "C2;2024-01-10;Einzelperson;KL-0002"])
    reports = check_files([sep, titled], contract, catalogue)
    assert all(r.clean and balanced(r) for r in reports), [r.findings for r in reports]
    assert [(r.rows_read, r.accepted) for r in reports] == [(2, 2), (2, 2)]
    # row numbers are the district's: Excel hides the sep= line; the title rows count
    assert [read_file(p.name, p.read_bytes(), contract, feed).sheets[0].rows["source_row"].tolist()
            for p, feed in ((sep, "events"), (titled, "advice"))] == [[2, 3], [5, 6]]


# --- 3. office habits ---------------------------------------------------------------------------

def test_title_rows_and_a_merged_two_row_header_in_a_workbook(tmp_path, contract, catalogue):
    path = tmp_path / "05766_2024-Q1.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Veranstaltungen")
    sheet.write(0, 0, "Veranstaltungen im 1. Quartal 2024")
    sheet.merge_range(2, 0, 3, 0, "Veranstaltung-ID")
    sheet.merge_range(2, 1, 3, 1, "Datum")
    sheet.merge_range(2, 2, 3, 2, "Art")
    sheet.merge_range(2, 3, 2, 5, "Teilnehmende")
    for col, text in enumerate(["gesamt", "davon ehrenamtlich", "davon hauptamtlich"], start=3):
        sheet.write(3, col, text)
    sheet.write_row(4, 0, ["E1", "2024-01-10", "Schulung", 12, 5, 4])
    sheet.write_row(5, 0, ["E2", "2024-01-11", "Workshop", 8, 9])          # volunteers > total
    book.close()
    [report] = check_files([path], contract, catalogue)
    assert found(report) == [(6, "inconsistent_counts", "davon ehrenamtlich")]
    assert (report.rows_read, report.accepted, report.rejected) == (2, 1, 1)
    sheet = read_file(path.name, path.read_bytes(), contract).sheets[0]
    assert sheet.headers["participants_total"] == "Teilnehmende gesamt"
    assert sheet.rows["source_row"].tolist() == [5, 6]


def test_a_totals_row_is_ignored_and_listed_not_rejected(tmp_path, contract, catalogue):
    csv_path = write_csv(tmp_path / "05766_2024-Q1_events.csv", [
        ";".join(EVENTS), "E1;2024-01-10;training;x;12", "E2;2024-01-11;training;y;1.300", "Summe;;;;1.312"])
    book = write_xlsx(tmp_path / "05766_2024-Q2.xlsx", {"Veranstaltungen": [
        GERMAN, ["E1", dt.date(2024, 4, 10), "Schulung", "x", 12], [None, None, None, None, None],
        ["Gesamt:", None, None, None, ("=SUM(E2:E2)", 12)]]})
    reports = check_files([csv_path, book], contract, catalogue)
    assert all(r.clean and balanced(r) for r in reports), [r.findings for r in reports]
    assert [(r.rows_read, r.accepted) for r in reports] == [(2, 2), (1, 1)]
    assert [r.ignored_columns for r in reports] == [["Zeile 4: Summenzeile / row 4: totals row"],
                                                    ["Zeile 4: Summenzeile / row 4: totals row"]]


def test_hidden_and_list_sheets_are_ignored_and_listed(tmp_path, contract, catalogue):
    path = tmp_path / "05766_2024-Q1.xlsx"
    book = xlsxwriter.Workbook(str(path))
    events = book.add_worksheet("Veranstaltungen")
    for r, row in enumerate([EVENTS, ["E1", "2024-01-10", "training", "x", 3]]):
        events.write_row(r, 0, row)
    book.add_worksheet("Listen").write_column(0, 0, ["Schulung", "Workshop"])
    hidden = book.add_worksheet("Hilfe")
    hidden.write_column(0, 0, ["a", "b"])
    hidden.hide()
    book.add_worksheet("Auswahl Art").write_column(0, 0, ["x"])
    book.close()
    [report] = check_files([path], contract, catalogue)
    assert report.clean and (report.rows_read, report.accepted) == (1, 1)
    assert report.ignored_sheets == ["Listen (Auswahlliste / list)", "Hilfe (ausgeblendet / hidden)",
                                     "Auswahl Art (Auswahlliste / list)"]


def test_a_formula_without_a_stored_value_gets_its_own_reason(tmp_path, contract, catalogue):
    path = tmp_path / "05766_2024-Q1.xlsx"
    book = openpyxl.Workbook()  # openpyxl writes formulas without a cached value, as some tools do
    sheet = book.active
    sheet.title = "Veranstaltungen"
    sheet.append(GERMAN)
    sheet.append(["E1", "2024-01-10", "Schulung", "x", 12])
    sheet.append(["E2", "2024-01-11", "Schulung", "y", "=E2*2"])
    book.save(path)
    [report] = check_files([path], contract, catalogue)
    assert found(report) == [(3, "bad_value", "(ganze Zeile / whole row)")]
    [finding] = report.findings
    assert finding["reason"].startswith("Formel ohne gespeicherten Wert")
    assert "Teilnehmende gesamt" in finding["value"]
    assert (report.rows_read, report.accepted, report.rejected) == (2, 1, 1)


def test_dates_with_a_midnight_time_part_are_dates(tmp_path, contract, catalogue):
    csv_path = write_csv(tmp_path / "05766_2024-Q1_events.csv", [
        ";".join(EVENTS), "E1;15.01.2024 00:00;training;x;3", "E2;2024-01-16 00:00:00;training;x;3",
        "E3;17.01.2024 00:00:00;training;x;3", "E4;18.01.2024 13:30;training;x;3"])
    path = tmp_path / "05766_2024-Q2.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("events")
    sheet.write_row(0, 0, EVENTS)
    sheet.write_row(1, 0, ["E1", None, "training", "x", 3])
    sheet.write_datetime(1, 1, dt.datetime(2024, 4, 10), book.add_format({"num_format": "dd.mm.yyyy hh:mm"}))
    book.close()
    reports = check_files([csv_path, path], contract, catalogue)
    assert found(reports[0]) == [(5, "bad_value", "date")]   # a time of day is not a date
    assert reports[1].clean and reports[1].accepted == 1


def test_xls_and_ods_are_told_what_to_send_instead(contract):
    for name, label in (("05766_2024-Q1.xls", "Excel 97-2003 (.xls)"), ("05766_2024-Q1.ods", "OpenDocument (.ods)")):
        problem = parse_file_name(name, contract)
        assert problem.reason_code == "bad_filename"
        assert problem.detail_de == f"{label}: bitte als .xlsx oder .csv speichern"
    xls_as_csv = read_file("05766_2024-Q1_events.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), contract, "events")
    assert "(.xls)" in xls_as_csv.problems[0].detail_de
    xls_as_xlsx = read_file("05766_2024-Q1.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), contract)
    assert "Kennwort" in xls_as_xlsx.problems[0].detail_de


def test_a_few_windows_1252_lines_in_a_utf8_file_are_rejected_not_mojibake(tmp_path, contract, catalogue):
    path = tmp_path / "05766_2024-Q1_events.csv"
    path.write_bytes(",".join(EVENTS).encode() + b"\nE1,2024-01-10,training,M\xc3\xbcllheim,3\n"
                     b"E2,2024-01-11,training,M\xfcllheim,4\nE3,2024-01-12,training,Detmold,5\n")
    [report] = check_files([path], contract, catalogue)
    assert found(report) == [(3, "bad_value", "(ganze Zeile / whole row)")]
    assert "UTF-8" in report.findings[0]["reason"]
    assert (report.rows_read, report.accepted, report.rejected) == (3, 2, 1)
    titles = read_file(path.name, path.read_bytes(), contract, "events").sheets[0].rows["title"].tolist()
    assert "MÃ¼llheim" not in titles and titles[0] == "Müllheim"
    # a file in Windows-1252 throughout is still read as such
    path.write_bytes(",".join(EVENTS).encode() + b"\nE2,2024-01-11,training,M\xfcllheim,4\n")
    [report] = check_files([path], contract, catalogue)
    assert report.clean


# --- 4. no identifier anywhere ------------------------------------------------------------------

# Header spellings seen in real district files: each names a person or how to reach one.
REAL_IDENTIFIER_HEADERS = [
    "Name", "Vorname", "Nachname", "Vor- und Nachname", "Name, Vorname", "Nachname, Vorname", "Vorname Nachname",
    "Familienname", "Name Teilnehmer/in", "Tel.", "Tel.-Nr.", "Telefon", "Telefonnummer", "Telefon privat", "Handy",
    "Handy-Nr.", "Mobil", "Mobilnummer", "Fon", "Kontakt", "Kontakt (Tel./Mail)", "E-Mail", "E-Mail-Adresse", "eMail",
    "Mail", "Email Adresse", "Geb.-Datum", "Geburtsdatum", "Geburtstag", "Geburtsort", "Geburtsjahr", "geb. am",
    "Straße/Hausnr.", "Straße", "Str.", "Hausnummer", "Anschrift", "Adresse", "Wohnort", "PLZ/Ort", "PLZ",
    "Ansprechpartner", "Ansprechpartnerin", "Ansprechperson", "first name", "Last Name", "Full name", "Phone",
    "Date of birth", "Address", "IBAN"]
# Headers that must pass: the contract's own (names and German aliases) and what offices add.
HARMLESS_HEADERS = ["veranstaltung_id", "person_key", "client_key", "titel", "gemeinde", "thema", "Kontakte",
                    "Name der Veranstaltung", "Projektname", "Bemerkung", "Ort", "Teilnehmende gesamt", "Thema",
                    "Beratene-ID", "Personen-ID", "Status"]


def test_forbidden_headers_in_real_german_spellings(contract):
    harmless = HARMLESS_HEADERS + [h for f in contract.feeds.values() for c in f.columns for h in (c.name, c.alias)]
    assert [h for h in REAL_IDENTIFIER_HEADERS if not contract.is_forbidden(h)] == []
    assert [h for h in harmless if contract.is_forbidden(h)] == []


@pytest.mark.parametrize("header", ["Vor- und Nachname", "Tel.", "Geb.-Datum", "Straße/Hausnr.", "Kontakt"])
def test_a_forbidden_spelling_sets_the_csv_aside(tmp_path, contract, catalogue, header):
    path = write_csv(tmp_path / "05766_2024-Q1_advice.csv", [
        ["case_id", "date", "client_type", "client_key", header], ["C1", "2024-01-10", "person", "KL-0001", "x y"]],
        sep=";")
    [report] = check_files([path], contract, catalogue)
    assert [(f["reason_code"], f["column"]) for f in report.findings] == [("forbidden_column", header)]
    assert (report.rows_read, report.rejected) == (1, 1)


def test_a_forbidden_column_on_any_sheet_sets_the_whole_workbook_aside(tmp_path, contract, catalogue, home):
    path = write_xlsx(tmp_path / "05766_2024-Q1.xlsx", {
        "Veranstaltungen": [EVENTS, ["E1", "2024-01-10", "training", "x", 3], ["E2", "2024-01-11", "training", "y", 4]],
        "Beratungen": [["Beratung-ID", "Datum", "Beratene Art", "Beratene-ID", "E-Mail"],
                       ["C1", "2024-01-10", "Einzelperson", "KL-0001", "anna@example.org"]]})
    [report] = check_files([path], contract, catalogue)
    assert {f["reason_code"] for f in report.findings} == {"forbidden_column"}
    assert {f["sheet"] for f in report.findings} == {"Veranstaltungen", "Beratungen"}
    assert (report.rows_read, report.accepted, report.rejected) == (3, 0, 3)
    read = read_file(path.name, path.read_bytes(), contract)
    assert read.forbidden and not read.sheets
    # a hidden or unknown sheet with an identifier column is no way around it
    for sheets in ({"Veranstaltungen": [EVENTS, ["E1", "2024-01-10", "training", "x", 3]],
                    "Notizen": [["Vor- und Nachname", "Anmerkung"], ["Anna Schmidt", "kommt"]]},):
        read = read_file(path.name, write_xlsx(tmp_path / "other.xlsx", sheets).read_bytes(), contract)
        assert read.forbidden and not read.sheets


# --- 5. numbers too large -----------------------------------------------------------------------

def test_a_number_too_large_is_called_too_large_not_negative(tmp_path, contract, catalogue):
    path = write_csv(tmp_path / "05766_2024-Q1_events.csv", [
        ",".join(EVENTS), "E1,2024-01-10,training,x,99999999999999999999", "E2,2024-01-10,training,x,9223372036854775808",
        "E3,2024-01-10,training,x,-99999999999999999999", "E4,2024-01-10,training,x,999999999999999"])
    [report] = check_files([path], contract, catalogue)
    reasons = {f["row"]: f["reason"] for f in report.findings}
    assert reasons == {2: "Zahl zu groß", 3: "Zahl zu groß", 4: "negative Zahl"}
    assert report.accepted == 1 and balanced(report)
    assert all(re.search(r"\d{16}", str(f["value"])) for f in report.findings)


def test_the_separator_is_the_one_under_which_the_header_is_found(tmp_path, contract, catalogue):
    # a title with commas above a `;` header, and a text with more commas than the header has `;`
    path = tmp_path / "05766_2024-Q1_advice.csv"
    path.write_bytes("\n".join([
        "Beratungen 1. Quartal 2024, Kreis Lippe, Stand 2.4.", "",
        "Beratung-ID;Datum;Beratene Art;Beratene-ID;Thema",
        'C1;2024-01-10;Einzelperson;KL-0001;"Wohnen, Arbeit, Schule, Kita, Sprache, Amt"']).encode("cp1252"))
    [report] = check_files([path], contract, catalogue)
    assert report.clean and (report.rows_read, report.accepted) == (1, 1)
    # a Windows-1252 file with a byte Windows-1252 does not define: that row, not the file
    path.write_bytes(b"case_id;date;client_type;client_key\nC1;2024-01-10;person;KL-0001\nC2;2024-01-10;person;KL-\x81\n")
    [report] = check_files([path], contract, catalogue)
    assert found(report) == [(3, "bad_value", "(ganze Zeile / whole row)")] and report.accepted == 1


def test_drop_down_values_are_no_forbidden_header(tmp_path, contract, catalogue):
    path = write_xlsx(tmp_path / "05766_2024-Q1.xlsx", {
        "Beratungen": [["Beratung-ID", "Datum", "Beratene Art", "Beratene-ID", "Thema"],
                       ["C1", "2024-01-10", "Einzelperson", "KL-0001", "Telefonberatung"]],
        "Listen": [["Art", "Thema"], ["Einzelperson", "Telefonberatung"], ["Gruppe", "E-Mail-Beratung"]]})
    [report] = check_files([path], contract, catalogue)
    assert report.clean and report.accepted == 1
    assert report.ignored_sheets == ["Listen (Auswahlliste / list)"]


def test_a_workbook_with_a_prefixed_namespace_is_scanned_and_read(tmp_path, contract):
    # some .NET writers prefix the main namespace (<x:row>, <x:c>): the scan must see those cells
    plain = write_xlsx(tmp_path / "plain.xlsx", {"Veranstaltungen": [EVENTS, ["E1", "2024-01-10", "training", "x", 3]]})
    source, out = zipfile.ZipFile(plain), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = re.sub(r"<(/?)(?![?])([A-Za-z]+)", r"<\1x:\2", data.decode()).replace('xmlns="', 'xmlns:x="')
                data = text.encode()
            target.writestr(info, data)
    read = read_file("05766_2024-Q1.xlsx", out.getvalue(), contract)
    assert not read.problems and len(read.sheets[0].rows) == 1
    tight = dataclasses.replace(contract, max_columns=4)
    assert [p.reason_code for p in read_file("05766_2024-Q1.xlsx", out.getvalue(), tight).problems] == ["too_large"]


def test_an_existing_warehouse_gets_the_row_problem_column(contract):
    import duckdb

    from pipeline import warehouse

    con = duckdb.connect()
    old = [(n, t) for n, t in warehouse.raw_fields(contract.feeds["events"]) if n != "row_problem"]
    con.execute(f"CREATE TABLE raw_events ({', '.join(f'{warehouse.q(n)} {t}' for n, t in old)})")
    con.execute("INSERT INTO raw_events (receipt_id, event_id) VALUES ('r1', 'E1')")
    warehouse.ensure_schema(con)
    assert con.execute("SELECT event_id, row_problem FROM raw_events").fetchall() == [("E1", None)]
