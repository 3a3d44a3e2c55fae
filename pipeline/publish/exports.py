"""The indicator exports: CSV, Parquet and XLSX, byte-identical for the same data and safe to open.

The complete table is indicators.csv and indicators.parquet, written by DuckDB's COPY straight
from the warehouse table (the CSV through pipeline.tables.write_csv, the one CSV writer). The
workbook holds what a person reads in Excel: per programme its `total` rows (every district) and
its programme-level quarters (district ALL), plus the sheet `Definitionen`. Written through
xlsxwriter's public API in constant_memory mode, so its size in memory does not grow with the rows.

Byte-identical: rows sorted by the catalogue's order, no timestamps inside the files (the XLSX
creation date fixed, its zip entries dated 1980 by xlsxwriter; Parquet carries none); files are
moved in place only if their bytes changed (pipeline.tables.atomic_path).
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import re
from numbers import Real
from pathlib import Path

import duckdb
import xlsxwriter

from pipeline import vocabulary
from pipeline.catalogue import Catalogue
from pipeline.indicators import ALL, COLUMNS, TABLE, TOTAL, IndicatorCatalogue
from pipeline.indicators.model import INHERIT
from pipeline.indicators.engine import BREAKDOWN_COLUMNS, BREAKDOWN_TABLE
from pipeline.tables import atomic_path, neutralise, neutralised, write_csv
from pipeline.warehouse import literal, q, table_exists

FIXED_CREATED = dt.datetime(2000, 1, 1)

INDICATOR_FILES = ("indicators.csv", "indicators.parquet", "indicators.xlsx")
# The complete table's columns: the indicator values', then which breakdown a row belongs to
# (both empty on the overall row).
EXPORT_COLUMNS = (*COLUMNS, "breakdown", "breakdown_value")

HEADERS_DE = {
    "programme_id": "Programm", "indicator_id": "Indikator-ID", "district_ags": "AGS",
    "district_name": "Kreis", "comparison": "Vergleichskreis", "period": "Zeitraum", "value": "Wert",
    "value_high": "Wert (obere Grenze)", "ci_low": "95-%-KI unten", "ci_high": "95-%-KI oben",
    "n": "Fallzahl", "method": "Methode", "target": "Zielwert", "direction": "Richtung", "status": "Status",
    "attainment_pct": "Zielerreichung (%)", "elapsed_share": "Laufzeitanteil", "baseline": "Ausgangswert",
    "baseline_date": "Ausgangswert vom", "baseline_source": "Ausgangswert: Quelle", "milestone": "Meilenstein",
    "milestone_due": "Meilenstein fällig am", "per_10k": "je 10.000 Einw.",
    "unit": "Einheit", "label_de": "Indikator", "label_en": "Indicator (EN)",
}
STATUS_DE = {code: word for code, word in vocabulary.STATUS["de"].items() if code is not None}
METHOD_DE = vocabulary.METHOD["de"]
DIRECTION_DE = vocabulary.DIRECTION["de"]
UNIT_DE = vocabulary.UNIT["de"]
PERIOD_DE = {TOTAL: "gesamt"}
WORDS_DE = {"status": STATUS_DE, "method": METHOD_DE, "direction": DIRECTION_DE, "period": PERIOD_DE,
            "unit": UNIT_DE}
WIDTHS = {"baseline_source": 30, "label_de": 48, "label_en": 40, "district_name": 30, "indicator_id": 26, "programme_id": 14}
# Figures whose number format follows the indicator's unit (EUR with cents, scores with two decimals).
UNIT_FORMATTED = ("value", "value_high", "target", "baseline", "milestone")


# -- the complete table: CSV and Parquet ------------------------------------------------------------

def catalogue_order(catalogue: Catalogue, indicators: IndicatorCatalogue, source: str = "src") -> str:
    """ORDER BY terms: the catalogue's order of programmes and indicators (others after, by id),
    then comparison flag, district, period; missing values last."""
    def place(column: str, ids) -> str:
        ids = ", ".join(literal(i) for i in ids)
        return f"list_position([{ids}]::VARCHAR[], {source}.{column}), {source}.{column}"
    keys = [place("programme_id", (p.id for p in catalogue.programmes)),
            place("indicator_id", indicators.ids)]
    keys += [f"{source}.{column}" for column in ("comparison", "district_ags", "period")]
    return ", ".join(keys)


def write_indicator_exports(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, indicators: IndicatorCatalogue,
                            exports_dir: Path | str, relation: str = TABLE, rows: str | None = None,
                            extra_columns: tuple[str, ...] = ()) -> list[Path]:
    """indicators.csv, .parquet and .xlsx in `exports_dir` from the table `relation`; returns their paths.
    `rows`: the complete table's SELECT if not `with_breakdowns(relation)` (the published state, the
    working state marked against it: pipeline/approval), with `extra_columns` after EXPORT_COLUMNS
    in the CSV and Parquet files."""
    exports_dir = Path(exports_dir)
    present = con.sql(f"SELECT * FROM {relation}").columns
    missing = [c for c in COLUMNS if c not in present]
    if missing:
        raise ValueError(f"indicator table lacks columns: {', '.join(missing)}")
    rows_workbook = relation
    relation = f"({rows or with_breakdowns(con, relation)})"
    columns = ", ".join(q(c) for c in (*EXPORT_COLUMNS, *extra_columns))
    order = catalogue_order(catalogue, indicators) + ", src.breakdown NULLS FIRST, src.breakdown_value"
    csv_name, parquet_name, xlsx_name = INDICATOR_FILES
    parquet_path = exports_dir / parquet_name
    rows, programmes = _workbook_rows(con, catalogue, indicators, rows_workbook)
    # The workbook is written in Python (xlsxwriter holds the GIL), the CSV and Parquet files by
    # DuckDB's COPY (which releases it): side by side, they use both cores.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        workbook = pool.submit(_write_workbook, rows, programmes, indicators, exports_dir / xlsx_name)
        csv_path = write_csv(f"SELECT {columns} FROM {relation}", exports_dir / csv_name, con, order_by=order)
        with atomic_path(parquet_path) as tmp:
            con.execute(f"COPY (SELECT {columns} FROM {relation} AS src ORDER BY {order}) "
                        f"TO {literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
        return [csv_path, parquet_path, workbook.result()]


def with_breakdowns(con, relation: str = TABLE) -> str:
    """The overall rows of `relation` (breakdown empty) and after them the breakdown rows
    (contract section 6), which carry no target or status."""
    overall = f"SELECT {', '.join(q(c) for c in COLUMNS)}, NULL AS breakdown, NULL AS breakdown_value FROM {relation}"
    if not table_exists(con, BREAKDOWN_TABLE):
        return overall
    cells = ", ".join(q(c) if c in BREAKDOWN_COLUMNS else f"NULL AS {q(c)}" for c in COLUMNS)
    return f"{overall} UNION ALL SELECT {cells}, breakdown, breakdown_value FROM {BREAKDOWN_TABLE}"


# -- the workbook -----------------------------------------------------------------------------------

class _Formats:
    def __init__(self, workbook):
        add = workbook.add_format
        self.header = add({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
        self.text = add({})
        self.wrap = add({"text_wrap": True, "valign": "top"})
        self.integer = add({"num_format": "#,##0"})
        self.decimal = add({"num_format": "#,##0.00"})
        self.score = add({"num_format": "0.00"})
        self.pct = add({"num_format": "0.0"})
        self.share = add({"num_format": "0.0%"})

    def for_cell(self, column: str, unit: str | None):
        if column in UNIT_FORMATTED:
            return {"eur": self.decimal, "score": self.score}.get(unit, self.integer)
        return {"ci_low": self.score, "ci_high": self.score, "n": self.integer, "attainment_pct": self.pct,
                "elapsed_share": self.share, "per_10k": self.decimal}.get(column, self.text)


def _german_cell(column: str, sql_type: str) -> str:
    """The select-list item of a workbook column: codes in German words (the CSV keeps the codes),
    yes/no in words, text neutralised, numbers that are not finite left blank."""
    source = f"src.{q(column)}"
    if column in WORDS_DE:
        cases = " ".join(f"WHEN {literal(code)} THEN {literal(word)}" for code, word in WORDS_DE[column].items())
        return f"{neutralised(f'CASE {source} {cases} ELSE {source} END')} AS {q(column)}"
    if column == "comparison":
        return f"CASE WHEN {source} THEN 'ja' ELSE 'nein' END AS {q(column)}"
    if sql_type in ("DOUBLE", "FLOAT"):
        return f"CASE WHEN isfinite({source}) THEN {source} END AS {q(column)}"
    if sql_type == "DATE":  # as German readers write it, and as text (a cell, not a serial number)
        return f"strftime({source}, '%d.%m.%Y') AS {q(column)}"
    if sql_type == "VARCHAR":
        return f"{neutralised(source)} AS {q(column)}"
    return f"{source} AS {q(column)}"


def _workbook_rows(con, catalogue: Catalogue, indicators: IndicatorCatalogue,
                   relation: str) -> tuple[list[tuple], list[str]]:
    """What the workbook shows, in catalogue order: every `total` row and the ALL quarters, each
    row's COLUMNS in German and last its unit code (for the number formats); and the programmes,
    the catalogue's first, then any other in the table."""
    table = con.sql(f"SELECT * FROM {relation}")
    types = {name: str(sql_type) for name, sql_type in zip(table.columns, table.types)}
    cells = ", ".join(_german_cell(c, types[c]) for c in COLUMNS)
    rows = con.execute(f"""
        SELECT {cells}, src.unit AS unit_code FROM {relation} AS src
        WHERE src.period = {literal(TOTAL)} OR src.district_ags = {literal(ALL)}
        ORDER BY {catalogue_order(catalogue, indicators)}""").fetchall()
    programmes = [p.id for p in catalogue.programmes]
    others = con.execute(f"SELECT DISTINCT programme_id FROM {relation} WHERE programme_id IS NOT NULL").fetchall()
    return rows, programmes + sorted({pid for (pid,) in others} - set(programmes))


def _write_cell(sheet, row: int, col: int, value, fmt) -> None:
    if value is None or (isinstance(value, float) and value != value):
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value, fmt)
    elif isinstance(value, Real):
        sheet.write_number(row, col, value, fmt)
    else:
        sheet.write_string(row, col, neutralise(str(value)), fmt)


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "Programm"
    candidate, n = base, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{base[:28]}~{n}"
    used.add(candidate.lower())
    return candidate


def _header(sheet, headers: list[str], formats: _Formats, widths: list[int]) -> None:
    for col, (text, width) in enumerate(zip(headers, widths)):
        sheet.write_string(0, col, text, formats.header)
        sheet.set_column(col, col, width)
    sheet.freeze_panes(1, 0)


def _programme_sheet(sheet, rows: list[tuple], formats: _Formats) -> None:
    """Header, then the rows (text neutralised and numbers made finite by the query already)."""
    columns = list(COLUMNS)
    _header(sheet, [HEADERS_DE[c] for c in columns], formats, [WIDTHS.get(c, 12) for c in columns])
    fixed = [None if c in UNIT_FORMATTED else formats.for_cell(c, None) for c in columns]
    by_unit: dict = {}
    write_number, write_string = sheet.write_number, sheet.write_string
    for r, record in enumerate(rows, start=1):
        unit = record[-1]
        if unit not in by_unit:
            by_unit[unit] = [fmt or formats.for_cell(c, unit) for c, fmt in zip(columns, fixed)]
        for c, (value, fmt) in enumerate(zip(record, by_unit[unit])):
            if value is None:
                continue
            if isinstance(value, str):
                write_string(r, c, value, fmt)
            else:
                write_number(r, c, value, fmt)
    sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)


def _override_text(o) -> str:
    """"lzz-2/15090: 180; Ausgangswert 0 (31.12.2022); Meilensteine 40 bis 30.06.2023, …"."""
    parts = [] if o.target == INHERIT else ["–" if o.target is None else f"{o.target:g}"]
    if o.baseline:
        parts.append(f"Ausgangswert {o.baseline.value:g} ({o.baseline.date:%d.%m.%Y})")
    if o.milestones:
        parts.append("Meilensteine " + ", ".join(f"{m.value:g} bis {m.due:%d.%m.%Y}" for m in o.milestones))
    return f"{o.programme}{'/' + o.district if o.district else ''}: {'; '.join(parts)}"


def _definition_rows(indicators: IndicatorCatalogue) -> list[list]:
    rows = []
    for i in indicators:
        d = i.definition
        overrides = "; ".join(_override_text(o) for o in i.overrides)
        scope = ", ".join(i.programmes) or "alle Programme"
        if i.districts:
            scope += " (Kreise " + ", ".join(i.districts) + ")"
        details = []
        if d.column:
            details.append(f"Spalte {d.column}")
        if d.high:
            details.append(f"obere Grenze {d.high}")
        if d.attendance_filter:
            details.append(f"Teilnahmen: {d.attendance_filter}")
        if d.fallback:
            details.append("ohne Teilnahmeliste: " + " + ".join(d.fallback))
        for extra in d.plus:
            details.append(f"plus {extra.feed}.{extra.column}" + (f" wo {extra.filter}" if extra.filter else ""))
        if d.places:
            details.append(f"Orte: {'Regionen' if d.places == 'regions' else 'Gemeinden'} aus places.yaml, "
                           "n = alle des Kreises")
        references = "; ".join(f"{r.framework}: {r.item}" + (f" ({', '.join(r.programmes)})" if r.programmes else "")
                               for r in i.references)
        rows.append([i.id, i.label_de, i.label_en, i.description_de, i.description_en, UNIT_DE.get(i.unit, i.unit),
                     DIRECTION_DE.get(i.direction, ""), i.target, overrides, scope, d.feed, d.filter or "",
                     d.aggregate, "; ".join(details), references])
    return rows


DEFINITION_HEADERS = ["ID", "Bezeichnung", "Label (EN)", "Beschreibung", "Description (EN)", "Einheit",
                      "Richtung", "Zielwert (Standard)", "Abweichende Zielwerte", "Gilt für", "Lieferung",
                      "Filter", "Aggregation", "Details", "Bezugsrahmen / Quelle"]
DEFINITION_WIDTHS = [26, 40, 34, 60, 60, 16, 12, 12, 24, 26, 14, 40, 14, 40, 60]
LEGEND = [
    ("Status erreicht", "Zielwert (mindestens) erreicht"),
    ("Status im Plan", "Wert ≥ Zielwert × Laufzeitanteil (Ende des zuletzt gemeldeten Quartals)"),
    ("Status im Rückstand", "Wert < Zielwert × Laufzeitanteil"),
    ("Status eingehalten / überschritten", "Höchstwert eingehalten / überschritten"),
    ("Methode eindeutig", "verschiedene Pseudonyme aus Teilnahmelisten und Beratungen"),
    ("Methode Summe", "Kopfzahlen der Veranstaltungen ohne Teilnahmeliste (Mehrfachzählung möglich)"),
    ("Methode gemischt", "beides zusammen"),
    ("AGS ALL", "Summe der Programmkreise (Pseudonyme sind kreisbezogen: keine Abgleiche über Kreise)"),
    ("AGS ALL_COMPARISON", "Summe der Vergleichskreise (nur Befragung)"),
]


def _definitions_sheet(sheet, indicators: IndicatorCatalogue, formats: _Formats) -> None:
    _header(sheet, DEFINITION_HEADERS, formats, DEFINITION_WIDTHS)
    row = 1
    for values in _definition_rows(indicators):
        for c, value in enumerate(values):
            _write_cell(sheet, row, c, value, formats.integer if c == 7 else formats.wrap)
        row += 1
    row += 1
    sheet.write_string(row, 0, "Parameter", formats.header)
    for p in indicators.parameters.values():
        row += 1
        for c, value in enumerate([p.name, p.label_de, p.label_en, p.source]):
            _write_cell(sheet, row, c, value, formats.wrap)
        _write_cell(sheet, row, 7, p.value, formats.integer)
    row += 2
    sheet.write_string(row, 0, "Legende", formats.header)
    for term, meaning in LEGEND:
        row += 1
        _write_cell(sheet, row, 0, term, formats.wrap)
        _write_cell(sheet, row, 1, meaning, formats.wrap)


def write_indicator_xlsx(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, indicators: IndicatorCatalogue,
                         path: Path | str, relation: str = TABLE) -> Path:
    """The workbook alone: one sheet per programme and a sheet `Definitionen`."""
    return _write_workbook(*_workbook_rows(con, catalogue, indicators, relation), indicators, Path(path))


def _write_workbook(rows: list[tuple], programmes: list[str], indicators: IndicatorCatalogue, path: Path) -> Path:
    by_programme: dict[str, list[tuple]] = {}
    for record in rows:  # sorted by programme already
        by_programme.setdefault(record[0], []).append(record)
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False}
    with atomic_path(path) as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), options)
        workbook.set_properties({"title": "Indikatoren / indicators", "created": FIXED_CREATED})
        formats = _Formats(workbook)
        used: set[str] = set()
        for pid in programmes:
            _programme_sheet(workbook.add_worksheet(_sheet_name(pid, used)), by_programme.get(pid, []), formats)
        _definitions_sheet(workbook.add_worksheet(_sheet_name("Definitionen", used)), indicators, formats)
        workbook.close()
    return path
