"""Exports: byte-identical for the same data, safe against formula injection, readable in German.
The complete table is the CSV and the Parquet file; the workbook holds each programme's totals and
programme-level quarters, and the definitions."""
from __future__ import annotations

import shutil

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline import warehouse
from pipeline.catalogue import SHIPPED_DIR, load_catalogue
from pipeline.indicators import ALL, COLUMNS, TABLE, TOTAL, compute_indicators
from pipeline.publish.exports import write_indicator_exports
from pipeline.tables import literal, neutralise, neutralised, write_csv
from tests.test_indicators import build_warehouse, event, insert


@pytest.fixture(scope="module")
def con(catalogue, indicators):
    con = duckdb.connect(":memory:")
    warehouse.ensure_schema(con)
    build_warehouse(con)
    compute_indicators(con, catalogue, indicators)  # writes the table indicator_values
    return con


@pytest.fixture(scope="module")
def frame(con) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM {TABLE}").df()


def test_neutralise_text_only():
    assert neutralise("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert neutralise("+SUM(A1)") == "'+SUM(A1)"
    assert neutralise("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("\t=1") == "'\t=1"
    assert neutralise("-12") == "-12" and neutralise("+3,5") == "+3,5"  # plain numbers run nothing
    assert neutralise("Kreis Lippe") == "Kreis Lippe"
    assert neutralise(-5) == -5 and neutralise(2.5) == 2.5 and neutralise(None) is None


def test_sql_neutralisation_is_the_python_rule():
    cases = ["=HYPERLINK(\"http://x\")", "+SUM(A1)", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "\r=1", "-12",
             "+3,5", "-1.5", "-12\n", "-", "+", "Kreis Lippe", "", "a=1", "'=1", "O'Brien"]
    found = duckdb.sql(f"SELECT {neutralised('t.v')} FROM unnest([{', '.join(literal(c) for c in cases)}]) AS t(v)")
    assert [row[0] for row in found.fetchall()] == [neutralise(c) for c in cases]


def test_write_twice_gives_identical_bytes(con, frame, catalogue, indicators, tmp_path):
    first = write_indicator_exports(con, catalogue, indicators, tmp_path / "a")
    shuffled = duckdb.connect(":memory:")  # the same rows and types (Arrow keeps DATE), in another order
    values = con.execute(f"SELECT * FROM {TABLE}").to_arrow_table()
    shuffled.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM values ORDER BY md5(concat_ws('|', COLUMNS(*)))")
    breakdowns = con.execute("SELECT * FROM indicator_breakdowns").to_arrow_table()
    assert len(breakdowns)  # the shipped catalogue breaks events_held down by field and type
    shuffled.execute("CREATE TABLE indicator_breakdowns AS SELECT * FROM breakdowns "
                     "ORDER BY md5(concat_ws('|', COLUMNS(*)))")
    second = write_indicator_exports(shuffled, catalogue, indicators, tmp_path / "b")
    assert [p.name for p in first] == ["indicators.csv", "indicators.parquet", "indicators.xlsx"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    stamps = [p.stat().st_mtime_ns for p in first]
    write_indicator_exports(con, catalogue, indicators, tmp_path / "a")
    assert [p.stat().st_mtime_ns for p in first] == stamps  # unchanged files are not rewritten
    assert not list((tmp_path / "a").glob(".*tmp"))  # no temporary files left behind


def test_csv_is_utf8_with_bom_comma_and_newlines(con, frame, catalogue, indicators, tmp_path):
    path = write_indicator_exports(con, catalogue, indicators, tmp_path)[0]
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    header = raw[3:].split(b"\n", 1)[0].decode()
    assert header.split(",") == [*COLUMNS, "breakdown", "breakdown_value"]
    text = raw.decode("utf-8-sig")
    assert "Durchgeführte Bildungsveranstaltungen" in text
    # Whole numbers print without ".0"; the sorted order puts the catalogue's first programme first.
    assert "\nbpb-lsa-2017,trainings_held,15085,Landkreis Harz,False,total,0," in text
    back = pd.read_csv(path, dtype={"district_ags": str}, encoding="utf-8-sig")
    overall = back[back["breakdown"].isna()]
    assert len(overall) == len(frame)  # the complete table, every district's quarters included
    assert set(overall["period"]) == set(frame["period"])
    # Breakdown rows follow, without target or status (contract section 6).
    parts = back[back["breakdown"].notna()]
    assert len(parts) == con.execute("SELECT count(*) FROM indicator_breakdowns").fetchall()[0][0] > 0
    assert parts["target"].isna().all() and parts["status"].isna().all()


def test_parquet_round_trip(con, frame, catalogue, indicators, tmp_path):
    path = write_indicator_exports(con, catalogue, indicators, tmp_path)[1]
    table = pq.read_table(path).to_pandas()
    assert list(table.columns) == [*COLUMNS, "breakdown", "breakdown_value"]
    assert (table["breakdown"].isna()).sum() == len(frame)
    assert table["value"].dtype.kind == "f"
    csv = pd.read_csv(tmp_path / "indicators.csv", dtype={"district_ags": str}, encoding="utf-8-sig")
    assert table[["programme_id", "indicator_id", "district_ags", "period"]].equals(
        csv[["programme_id", "indicator_id", "district_ags", "period"]])  # the same rows in the same order


def test_xlsx_sheets_headers_frozen_and_formats(con, catalogue, indicators, tmp_path):
    path = write_indicator_exports(con, catalogue, indicators, tmp_path)[2]
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [p.id for p in catalogue.programmes] + ["Definitionen"]
    sheet = book["lzz-2"]
    headers = [c.value for c in sheet[1]]
    assert headers[:7] == ["Programm", "Indikator-ID", "AGS", "Kreis", "Vergleichskreis", "Zeitraum", "Wert"]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    index = {h: n for n, h in enumerate(headers)}
    people = next(r for r in rows if r[index["Indikator-ID"]] == "people_reached" and r[index["AGS"]] == "05766"
                  and r[index["Zeitraum"]] == "gesamt")
    assert people[index["Wert"]] == 62 and people[index["Status"]] == "im Plan"
    assert people[index["Zielwert"]] == 180 and people[index["Methode"]] == "gemischt"
    # Number formats: whole counts, EUR with cents, scores with two decimals.
    value_col = index["Wert"] + 1
    cell = next(c for c in sheet.iter_rows(min_row=2, min_col=value_col, max_col=value_col)
                if c[0].value == 62)[0]
    assert cell.number_format == "#,##0" and cell.data_type == "n"
    lzz1 = book["lzz-1"]
    funding = next(r for r in lzz1.iter_rows(min_row=2) if r[index["Indikator-ID"]].value == "micro_funding_eur"
                   and r[index["AGS"]].value == "13076" and r[index["Zeitraum"]].value == "gesamt")
    assert funding[index["Wert"]].value == 2900 and funding[index["Wert"]].number_format == "#,##0.00"
    assert funding[index["Status"]].value == "eingehalten"
    definitions = book["Definitionen"]
    assert definitions.freeze_panes == "A2"
    ids = [r[0] for r in definitions.iter_rows(min_row=2, values_only=True)]
    assert ids[:len(indicators)] == indicators.ids


def test_xlsx_holds_each_programmes_totals_and_all_quarters(con, frame, catalogue, indicators, tmp_path):
    # What a person reads in Excel: per programme every total row (each district, ALL) and the
    # programme's own quarters (ALL); a district's quarters are in the CSV and Parquet only.
    book = openpyxl.load_workbook(write_indicator_exports(con, catalogue, indicators, tmp_path)[2])
    for programme in catalogue.programmes:
        sheet = book[programme.id]
        headers = [c.value for c in sheet[1]]
        shown = pd.DataFrame(list(sheet.iter_rows(min_row=2, values_only=True)), columns=headers)
        own = frame[frame["programme_id"] == programme.id]
        wanted = own[(own["period"] == TOTAL) | (own["district_ags"] == ALL)]
        assert len(shown) == len(wanted) > 0, programme.id
        assert (shown["Programm"] == programme.id).all()
        quarters = shown[shown["Zeitraum"] != "gesamt"]
        assert (quarters["AGS"] == ALL).all() and len(quarters) == (wanted["period"] != TOTAL).sum()
        assert sorted(zip(shown["Indikator-ID"], shown["AGS"], shown["Zeitraum"].replace("gesamt", TOTAL))) == \
            sorted(zip(wanted["indicator_id"], wanted["district_ags"], wanted["period"]))
    districts_quarters = frame[(frame["period"] != TOTAL) & (frame["district_ags"] != ALL)]
    assert len(districts_quarters) > 0  # there was something to leave out


def test_xlsx_has_no_timestamps(con, catalogue, indicators, tmp_path):
    path = write_indicator_exports(con, catalogue, indicators, tmp_path)[2]
    book = openpyxl.load_workbook(path)
    assert book.properties.created.year == 2000


def test_formula_text_neutralised_numbers_stay_numbers(catalogue, indicators, tmp_path):
    # A district named like a formula (a catalogue typo or a hostile edit) and a hostile title.
    directory = tmp_path / "catalogue"
    directory.mkdir()
    for name in ("programmes.yaml", "indicators.yaml"):
        shutil.copy(SHIPPED_DIR / name, directory / name)
    districts = pd.read_csv(SHIPPED_DIR / "districts.csv", dtype=str, keep_default_na=False)
    districts.loc[districts.ags == "05766", "name"] = "=HYPERLINK(\"http://evil\",\"Lippe\")"
    districts.to_csv(directory / "districts.csv", index=False)
    hostile = load_catalogue(directory)
    con = duckdb.connect(":memory:")
    warehouse.ensure_schema(con)
    insert(con, "events", "05766", "2023-Q1", [event("E1", "2023-02-10", "training", 10, 4, 2, title="=1+1")])
    compute_indicators(con, hostile, indicators)
    first_programme = catalogue.programmes[0].id
    totals = con.execute(f"SELECT rowid FROM {TABLE} WHERE programme_id = ? AND period = '{TOTAL}' ORDER BY rowid "
                         "LIMIT 2", [first_programme]).fetchall()
    con.execute(f"UPDATE {TABLE} SET label_en = '@SUM(A1)' WHERE rowid = ?", [totals[0][0]])
    con.execute(f"UPDATE {TABLE} SET value = -5.0 WHERE rowid = ?", [totals[1][0]])  # a number, not a formula
    csv_path, _, xlsx_path = write_indicator_exports(con, hostile, indicators, tmp_path / "out")

    text = csv_path.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text.replace('"', "")
    assert "'@SUM(A1)" in text
    back = pd.read_csv(csv_path, dtype={"district_ags": str}, encoding="utf-8-sig")
    assert back["value"].dtype.kind in "if" and (back["value"] == -5).sum() == 1

    book = openpyxl.load_workbook(xlsx_path)
    sheet = book["lzz-2"]
    headers = [c.value for c in sheet[1]]
    name_col, value_col = headers.index("Kreis"), headers.index("Wert")
    names = {r[name_col].value for r in sheet.iter_rows(min_row=2)}
    assert "'=HYPERLINK(\"http://evil\",\"Lippe\")" in names
    assert all(r[name_col].data_type == "s" for r in sheet.iter_rows(min_row=2))
    assert all(r[value_col].data_type == "n" for r in sheet.iter_rows(min_row=2))
    first = book[first_programme]
    assert any(c.value == "'@SUM(A1)" for row in first.iter_rows(min_row=2) for c in row)
    assert any(c.value == -5 and c.data_type == "n" for row in first.iter_rows(min_row=2) for c in row)


def test_write_csv_helper_for_other_exports(tmp_path):
    frame = pd.DataFrame({"file": ["=cmd.csv", "ok.csv"], "row": [3, -4], "value": ["-1", "Müller & Söhne"]})
    path = write_csv(frame, tmp_path / "rejections.csv")
    raw = path.read_bytes()
    assert raw == ("\ufefffile,row,value\n'=cmd.csv,3,-1\nok.csv,-4,Müller & Söhne\n").encode("utf-8")


def test_one_csv_writer_for_frames_and_warehouse_tables(tmp_path):
    # Corner cases: quotes, line breaks, -0, inf, missing values, formulas, yes/no, nullable whole
    # numbers, dates. A frame and the same rows as a warehouse table give the same bytes.
    frame = pd.DataFrame({
        "x": [1.0, np.nan, np.inf, -np.inf, 1e20, 1.23456789012345, 1e-7, 0.0, 3.0, 0.1 + 0.2],
        "text": ["x", None, "y,z", "", " ", 'q"', "a\rb", "=1", "-12", "a\nb"],
        "flag": [True, False] * 5,
        "n": np.arange(-5, 5),
        "blank": [None] * 10,
        "arrow": pd.array(["x", None, "@a", "+1", "ü", 'é,"', "\tx", "a", "b", "c"], dtype="str"),
        "count": pd.array([1, None] * 5, dtype="Int64"),
        "day": pd.Timestamp("2024-01-01").date()})
    written = write_csv(frame, tmp_path / "frame.csv").read_bytes()
    lines = written.decode("utf-8").split("\n")
    assert lines[0] == "\ufeffx,text,flag,n,blank,arrow,count,day"
    assert lines[1] == "1,x,True,-5,,x,1,2024-01-01"
    assert lines[2] == ",,False,-4,,,,2024-01-01"  # missing is empty, NaN too
    assert lines[3] == "inf,\"y,z\",True,-3,,'@a,1,2024-01-01"
    assert lines[4] == "-inf,,False,-2,,+1,,2024-01-01"  # an empty text is written as a missing one
    assert lines[6] == '1.23456789012,"q""",False,0,,"é,""",,2024-01-01'
    assert lines[7] == "1e-07,\"a\rb\",True,1,,'\tx,1,2024-01-01"
    assert lines[8:] == ["0,'=1,False,2,,a,,2024-01-01", "3,-12,True,3,,b,1,2024-01-01",
                         '0.3,"a', 'b",False,4,,c,,2024-01-01', ""]  # a quoted line break
    back = pd.read_csv(tmp_path / "frame.csv", encoding="utf-8-sig", keep_default_na=False)
    assert back["text"].tolist()[7:] == ["'=1", "-12", "a\nb"] and back["arrow"][2] == "'@a"

    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    assert write_csv("t", tmp_path / "table.csv", con).read_bytes() == written
    # A SELECT sorted by the writer: `order_by` sees the columns' values, not their CSV text.
    write_csv("SELECT n, x FROM t", tmp_path / "sorted.csv", con, order_by="src.x DESC NULLS LAST, src.n")
    assert (tmp_path / "sorted.csv").read_text(encoding="utf-8-sig").split("\n")[:4] == ["n,x", "-3,inf", "-1,1e+20",
                                                                                          "3,3"]
    # Column names are written as they are, so one that would need quoting is refused.
    with pytest.raises(ValueError, match="column name"):
        write_csv(pd.DataFrame({"a,b": [1]}), tmp_path / "odd.csv")
