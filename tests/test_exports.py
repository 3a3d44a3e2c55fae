"""Exports: byte-identical for the same data, safe against formula injection, readable in German."""
from __future__ import annotations

import shutil

import duckdb
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline import warehouse
from pipeline.catalogue import SHIPPED_DIR, load_catalogue
from pipeline.publish.exports import write_indicator_exports
from pipeline.tables import neutralise, write_csv
from pipeline.indicators import COLUMNS, compute_indicators
from tests.test_indicators import build_warehouse, event, insert


@pytest.fixture(scope="module")
def frame(catalogue, indicators) -> pd.DataFrame:
    con = duckdb.connect(":memory:")
    warehouse.ensure_schema(con)
    build_warehouse(con)
    return compute_indicators(con, catalogue, indicators)


def test_neutralise_text_only():
    assert neutralise("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert neutralise("+SUM(A1)") == "'+SUM(A1)"
    assert neutralise("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("\t=1") == "'\t=1"
    assert neutralise("-12") == "-12" and neutralise("+3,5") == "+3,5"  # plain numbers run nothing
    assert neutralise("Kreis Lippe") == "Kreis Lippe"
    assert neutralise(-5) == -5 and neutralise(2.5) == 2.5 and neutralise(None) is None


def test_write_twice_gives_identical_bytes(frame, catalogue, indicators, tmp_path):
    first = write_indicator_exports(frame, catalogue, indicators, tmp_path / "a")
    second = write_indicator_exports(frame.sample(frac=1, random_state=1), catalogue, indicators, tmp_path / "b")
    assert [p.name for p in first] == ["indicators.csv", "indicators.parquet", "indicators.xlsx"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert not list((tmp_path / "a").glob(".*tmp"))  # no temporary files left behind


def test_csv_is_utf8_with_bom_comma_and_newlines(frame, catalogue, indicators, tmp_path):
    path = write_indicator_exports(frame, catalogue, indicators, tmp_path)[0]
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    header = raw[3:].split(b"\n", 1)[0].decode()
    assert header.split(",") == list(COLUMNS)
    text = raw.decode("utf-8-sig")
    assert "Durchgeführte Bildungsveranstaltungen" in text
    # Whole numbers print without ".0"; the sorted order puts the catalogue's first programme first.
    assert "\nbpb-lsa-2017,trainings_held,15085,Landkreis Harz,False,total,0," in text
    back = pd.read_csv(path, dtype={"district_ags": str}, encoding="utf-8-sig")
    assert len(back) == len(frame)


def test_parquet_round_trip(frame, catalogue, indicators, tmp_path):
    path = write_indicator_exports(frame, catalogue, indicators, tmp_path)[1]
    table = pq.read_table(path).to_pandas()
    assert list(table.columns) == list(COLUMNS) and len(table) == len(frame)
    assert table["value"].dtype.kind == "f"


def test_xlsx_sheets_headers_frozen_and_formats(frame, catalogue, indicators, tmp_path):
    path = write_indicator_exports(frame, catalogue, indicators, tmp_path)[2]
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


def test_xlsx_has_no_timestamps(frame, catalogue, indicators, tmp_path):
    path = write_indicator_exports(frame, catalogue, indicators, tmp_path)[2]
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
    frame = compute_indicators(con, hostile, indicators)
    frame.loc[frame.index[0], "label_en"] = "@SUM(A1)"
    frame.loc[frame.index[1], "value"] = -5.0   # a negative number is a number, not a formula
    csv_path, _, xlsx_path = write_indicator_exports(frame, hostile, indicators, tmp_path / "out")

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
    first = book[catalogue.programmes[0].id]
    assert any(c.value == "'@SUM(A1)" for row in first.iter_rows(min_row=2) for c in row)
    assert any(c.value == -5 and c.data_type == "n" for row in first.iter_rows(min_row=2) for c in row)


def test_write_csv_helper_for_other_exports(tmp_path):
    frame = pd.DataFrame({"file": ["=cmd.csv", "ok.csv"], "row": [3, -4], "value": ["-1", "Müller & Söhne"]})
    path = write_csv(frame, tmp_path / "rejections.csv")
    raw = path.read_bytes()
    assert raw == ("\ufefffile,row,value\n'=cmd.csv,3,-1\nok.csv,-4,Müller & Söhne\n").encode("utf-8")


def test_fast_csv_gives_the_bytes_pandas_gives():
    # The fast path formats each distinct value once and joins the rows in Arrow; pandas' to_csv
    # is the yardstick, corner cases included (quotes, line breaks, -0, inf, missing, formulas).
    import numpy as np

    from pipeline.tables import FLOAT_FORMAT, _fast_csv_bytes, csv_bytes, neutralise_frame

    frame = pd.DataFrame({
        "x": [1.0, np.nan, np.inf, -np.inf, -0.0, 1e20, 1.23456789012345, 1e-7, 0.0, 3.0],
        "text": ["x", None, "y,z", "", " ", 'q"', "a\rb", "=1", "-12", "a\nb"],
        "flag": [True, False] * 5,
        "n": np.arange(-5, 5),
        "blank": [None] * 10,
        "arrow": pd.array(["x", None, "@a", "+1", "ü", 'é,"', "\tx", "a", "b", "c"], dtype="str"),
        "objects": np.array(["x", None, "@a", "+1", "ü", 'é,"', "\tx", "a", "b", np.nan], dtype=object)})
    for neutralise_text in (True, False):
        data = neutralise_frame(frame) if neutralise_text else frame
        expected = data.to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT).encode()
        assert _fast_csv_bytes(frame, neutralise_text) == expected
    written = _fast_csv_bytes(frame, True)
    assert b"\n1e-07,'=1,False,2,,a,a\n" in written and b'\n3,"a\nb",False,4,' in written
    # What the fast path does not take, pandas writes: one column, no rows, dates, nullable, mixed.
    for other in (frame[["x"]], frame.iloc[:0], frame.assign(day=pd.Timestamp("2024-01-01")),
                  frame.assign(count=pd.array([1, None] * 5, dtype="Int64")), frame.assign(mixed=[1, "a"] * 5)):
        expected = neutralise_frame(other).to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT)
        assert csv_bytes(other) == expected.encode()
