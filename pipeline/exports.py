"""The indicator exports: CSV, Parquet and XLSX, byte-identical for the same data and safe to open.

Byte-identical: no timestamps inside the files (XLSX creation date fixed, zip entries dated 1980
by xlsxwriter; Parquet carries none) and rows sorted by the catalogue's order. Formula safety and
atomic, write-if-changed files come from pipeline.tables.
"""
from __future__ import annotations

import datetime as dt
import re
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

from pipeline.catalogue import Catalogue
from pipeline.indicators import COLUMNS, IndicatorCatalogue
from pipeline.tables import atomic_path, neutralise, write_csv

FIXED_CREATED = dt.datetime(2000, 1, 1)

INDICATOR_FILES = ("indicators.csv", "indicators.parquet", "indicators.xlsx")

HEADERS_DE = {
    "programme_id": "Programm", "indicator_id": "Indikator-ID", "district_ags": "AGS",
    "district_name": "Kreis", "comparison": "Vergleichskreis", "period": "Zeitraum", "value": "Wert",
    "value_high": "Wert (obere Grenze)", "ci_low": "95-%-KI unten", "ci_high": "95-%-KI oben",
    "n": "Fallzahl", "method": "Methode", "target": "Zielwert", "direction": "Richtung", "status": "Status",
    "attainment_pct": "Zielerreichung (%)", "elapsed_share": "Laufzeitanteil", "per_10k": "je 10.000 Einw.",
    "unit": "Einheit", "label_de": "Indikator", "label_en": "Indicator (EN)",
}
STATUS_DE = {"achieved": "erreicht", "on_track": "im Plan", "behind": "im Rückstand",
             "within": "eingehalten", "exceeded": "überschritten"}
METHOD_DE = {"unique": "eindeutig (Personen)", "sum": "Summe (Kopfzahlen)", "mixed": "gemischt"}
DIRECTION_DE = {"at_least": "mindestens", "at_most": "höchstens"}
UNIT_DE = {"events": "Veranstaltungen", "persons": "Personen", "clients": "Beratene", "sessions": "Beratungen",
           "issues": "Ausgaben", "projects": "Projekte", "eur": "EUR", "responses": "Antworten",
           "score": "Mittelwert (1–5)"}
PERIOD_DE = {"total": "gesamt"}
WIDTHS = {"label_de": 48, "label_en": 40, "district_name": 30, "indicator_id": 26, "programme_id": 14}


# -- writing ----------------------------------------------------------------------------------------

def write_parquet(frame: pd.DataFrame, path: Path | str) -> Path:
    path = Path(path)
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def sort_indicator_frame(frame: pd.DataFrame, catalogue: Catalogue, indicators: IndicatorCatalogue) -> pd.DataFrame:
    """Catalogue order of programmes and indicators, then comparison flag, district, period."""
    programme_order = {p.id: n for n, p in enumerate(catalogue.programmes)}
    indicator_order = {iid: n for n, iid in enumerate(indicators.ids)}
    keyed = frame.assign(
        _p=frame["programme_id"].map(programme_order).fillna(len(programme_order)),
        _i=frame["indicator_id"].map(indicator_order).fillna(len(indicator_order)))
    keys = ["_p", "programme_id", "_i", "indicator_id", "comparison", "district_ags", "period"]
    return keyed.sort_values(keys, kind="mergesort").drop(columns=["_p", "_i"]).reset_index(drop=True)


def write_indicator_exports(frame: pd.DataFrame, catalogue: Catalogue, indicators: IndicatorCatalogue,
                            exports_dir: Path | str) -> list[Path]:
    """indicators.csv, .parquet and .xlsx in `exports_dir`; returns their paths."""
    exports_dir = Path(exports_dir)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"indicator frame lacks columns: {', '.join(missing)}")
    ordered = sort_indicator_frame(frame[list(COLUMNS)], catalogue, indicators)
    csv_name, parquet_name, xlsx_name = INDICATOR_FILES
    return [write_csv(ordered, exports_dir / csv_name),
            write_parquet(ordered, exports_dir / parquet_name),
            write_indicator_xlsx(ordered, catalogue, indicators, exports_dir / xlsx_name)]


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

    def for_cell(self, column: str, unit: str):
        if column in ("value", "value_high", "target"):
            return {"eur": self.decimal, "score": self.score}.get(unit, self.integer)
        return {"ci_low": self.score, "ci_high": self.score, "n": self.integer, "attainment_pct": self.pct,
                "elapsed_share": self.share, "per_10k": self.decimal}.get(column, self.text)


def _german(frame: pd.DataFrame) -> pd.DataFrame:
    """Codes in words for the people reading the workbook; the CSV keeps the codes."""
    out = frame.copy()
    out["status"] = out["status"].map(lambda s: STATUS_DE.get(s, s))
    out["method"] = out["method"].map(lambda s: METHOD_DE.get(s, s))
    out["direction"] = out["direction"].map(lambda s: DIRECTION_DE.get(s, s))
    out["period"] = out["period"].map(lambda s: PERIOD_DE.get(s, s))
    out["comparison"] = out["comparison"].map(lambda b: "ja" if b else "nein")
    out["unit_code"] = frame["unit"]
    out["unit"] = out["unit"].map(lambda s: UNIT_DE.get(s, s))
    return out


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _write_cell(sheet, row: int, col: int, value, fmt) -> None:
    if _is_blank(value):
        return
    if isinstance(value, (bool, np.bool_)):
        sheet.write_boolean(row, col, bool(value), fmt)
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


def _programme_sheet(sheet, rows: pd.DataFrame, formats: _Formats) -> None:
    columns = list(COLUMNS)
    _header(sheet, [HEADERS_DE[c] for c in columns], formats, [WIDTHS.get(c, 12) for c in columns])
    records = rows[columns + ["unit_code"]].itertuples(index=False, name=None)
    for r, record in enumerate(records, start=1):
        unit = record[-1]
        for c, column in enumerate(columns):
            _write_cell(sheet, r, c, record[c], formats.for_cell(column, unit))
    sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)


def _definition_rows(indicators: IndicatorCatalogue) -> list[list]:
    rows = []
    for i in indicators:
        d = i.definition
        overrides = "; ".join(f"{o.programme}{'/' + o.district if o.district else ''}: "
                              f"{'–' if o.target is None else f'{o.target:g}'}" for o in i.overrides)
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


def write_indicator_xlsx(frame: pd.DataFrame, catalogue: Catalogue, indicators: IndicatorCatalogue,
                         path: Path | str) -> Path:
    """One sheet per programme (catalogue order) and a sheet `Definitionen`."""
    path = Path(path)
    german = _german(frame)
    programmes = [p.id for p in catalogue.programmes]
    programmes += sorted(set(frame["programme_id"]) - set(programmes))
    with atomic_path(path) as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False,
                                                  "strings_to_numbers": False})
        workbook.set_properties({"title": "Indikatoren / indicators", "created": FIXED_CREATED})
        formats = _Formats(workbook)
        used: set[str] = set()
        for pid in programmes:
            sheet = workbook.add_worksheet(_sheet_name(pid, used))
            _programme_sheet(sheet, german[german["programme_id"] == pid], formats)
        _definitions_sheet(workbook.add_worksheet(_sheet_name("Definitionen", used)), indicators, formats)
        workbook.close()
    return path
