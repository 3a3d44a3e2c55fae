"""The indicator exports: CSV, Parquet and XLSX, byte-identical for the same data and safe to open.

Byte-identical: no timestamps inside the files (XLSX creation date fixed, zip entries dated 1980
by xlsxwriter; Parquet carries none) and rows sorted by the catalogue's order. Formula safety and
atomic, write-if-changed files come from pipeline.tables.

Fast at national scale (200,000 rows): the workbook's cells are written as blocks (BlockWorksheet)
and its parts zipped in parallel, a part equal to the one in the workbook as last written taken
over compressed (_PartsZip): after one district changed, one sheet of four is compressed again.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import functools
import os
import re
import struct
import types
import zipfile
import zlib
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xlsxwriter
import xlsxwriter.workbook

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from pipeline.catalogue import Catalogue
from pipeline.indicators import COLUMNS, IndicatorCatalogue
from pipeline.tables import atomic_path, map_unique, neutralise, write_csv

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
    keys = [_ranks(frame["programme_id"], programme_order), _ranks(frame["programme_id"]),
            _ranks(frame["indicator_id"], indicator_order), _ranks(frame["indicator_id"])]
    keys += [_ranks(frame[c]) for c in ("comparison", "district_ags", "period")]
    order = np.lexsort(keys[::-1])  # stable, as the mergesort of sort_values by these keys
    if (order == np.arange(len(order))).all():  # the table is written in this order already
        return frame.reset_index(drop=True)
    return frame.take(order).reset_index(drop=True)


def _ranks(series: pd.Series, order: dict | None = None) -> np.ndarray:
    """Each value's place in the sort of sort_values: by `order` (values it lacks after all it has),
    or by value; missing values last."""
    codes, uniques = pd.factorize(series, sort=order is None, use_na_sentinel=True)
    if order is not None:
        places = np.array([order.get(u, len(order)) for u in uniques] + [len(order)], dtype=np.int64)
        return places[codes]
    return np.where(codes < 0, len(uniques), codes)


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
    for column, words in (("status", STATUS_DE), ("method", METHOD_DE), ("direction", DIRECTION_DE),
                          ("period", PERIOD_DE), ("unit", UNIT_DE)):
        out[column] = map_unique(out[column], lambda s, words=words: words.get(s, s))
    out["comparison"] = map_unique(out["comparison"], lambda b: "ja" if b else "nein", missing=True)
    out["unit_code"] = frame["unit"]
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
    """The reference writer: one xlsxwriter call per cell (small frames, and the yardstick in tests)."""
    columns = list(COLUMNS)
    _header(sheet, [HEADERS_DE[c] for c in columns], formats, [WIDTHS.get(c, 12) for c in columns])
    records = rows[columns + ["unit_code"]].itertuples(index=False, name=None)
    for r, record in enumerate(records, start=1):
        unit = record[-1]
        for c, column in enumerate(columns):
            _write_cell(sheet, r, c, record[c], formats.for_cell(column, unit))
    sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)


def _fast_programme_sheet(sheet: "BlockWorksheet", rows: pd.DataFrame, formats: _Formats) -> None:
    """The same sheet as `_programme_sheet`, its cells written as one block (see BlockWorksheet)."""
    columns = list(COLUMNS)
    _header(sheet, [HEADERS_DE[c] for c in columns], formats, [WIDTHS.get(c, 12) for c in columns])
    units = rows["unit_code"].to_numpy(dtype=object)
    cell_formats = [_column_formats(formats, column, units) for column in columns]
    sheet.write_block(1, [rows[c] for c in columns], cell_formats)
    sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)


def _column_formats(formats: _Formats, column: str, units: np.ndarray):
    """The format of each cell of a column: one Format, or an array of them where the unit decides."""
    if column not in ("value", "value_high", "target"):
        return formats.for_cell(column, "")
    if not len(units):
        return formats.integer
    codes, uniques = pd.factorize(units, use_na_sentinel=False)  # a few units, not a call per row
    return np.array([formats.for_cell(column, u) for u in uniques], dtype=object)[codes]


class FastPathUnavailable(Exception):
    """A column holds values the block writer does not reproduce exactly (booleans, mixed types)."""


class BlockWorksheet(Worksheet):
    """An xlsxwriter worksheet that takes a block of rows at once and writes their XML vectorised.

    At 200,000 rows × 21 columns, xlsxwriter's per-cell calls (store, then format each cell at
    close) take about half a minute. This class produces the very same bytes: the strings enter
    the workbook's shared string table in the same first-seen order, each format gets its style
    index in the same first-used order, and the `<row>`/`<c>` elements, spans (per block of 16
    rows) and dimensions are written exactly as `Worksheet._write_rows` writes them for the cells
    xlsxwriter 3.3.1 (pinned) would store. The XML is assembled by Arrow's string kernels from
    each column's distinct texts. tests/test_exports.py compares both writers byte for byte.
    """

    def __init__(self):
        super().__init__()
        self._blocks: list[tuple] = []
        self.written = None  # called with the sheet's file once its XML is complete

    def _assemble_xml_file(self) -> None:
        super()._assemble_xml_file()
        if self.written is not None:
            self.written(self.fh.name)

    def write_block(self, first_row: int, columns: list[pd.Series], cell_formats: list) -> None:
        """Cells of `columns` (one Series each, from column 0) from `first_row` on; blanks are skipped."""
        n = len(columns[0]) if columns else 0
        if n == 0:
            return
        cells = [_cell_values(series) for series in columns]
        present = np.column_stack([cell.codes >= 0 for cell in cells])
        self._share_strings(cells)
        rows = np.flatnonzero(present.any(axis=1))
        if len(rows):
            cols = np.flatnonzero(present.any(axis=0))
            self._check_dimensions(first_row + int(rows[0]), int(cols[0]))
            self._check_dimensions(first_row + int(rows[-1]), int(cols[-1]))
        self._blocks.append((first_row, cells, present, cell_formats))

    def _share_strings(self, cells: list["_Cells"]) -> None:
        """Enter the block's strings into the shared string table in the order xlsxwriter meets
        them (row by row, cell by cell) and turn each string column's texts into their indices."""
        width = len(cells)
        firsts = []
        for c, cell in enumerate(cells):
            if cell.kind == "s" and len(cell.texts):
                at = _first_rows(cell.codes, len(cell.texts)) * width + c  # row-major position
                firsts.append(pd.DataFrame({"text": cell.texts, "at": at}))
        if not firsts:
            return
        order = pd.concat(firsts).groupby("text", sort=False)["at"].min().sort_values(kind="stable")
        table = self.str_table
        index = {text: table._get_shared_string_index(text) for text in order.index}
        table.count += sum(int((cell.codes >= 0).sum()) for cell in cells if cell.kind == "s") - len(index)
        for cell in cells:
            if cell.kind == "s":
                cell.texts = np.array([str(index[t]) for t in cell.texts], dtype=object)

    def _write_rows(self) -> None:
        held = {row: (min(cells), max(cells)) for row, cells in self.table.items() if cells}
        # xlsxwriter walks every row up to the sheet's last (in Python, 200,000 of them); it holds
        # none of the blocks' rows, so it stops after its own: the same rows and spans are written.
        last, self.dim_rowmax = self.dim_rowmax, max([*held, *self.row_info, *self.comments], default=self.dim_rowmax)
        try:
            super()._write_rows()
        finally:
            self.dim_rowmax = last
        for block in self._blocks:
            self._write_block(*block, held)

    def _write_block(self, first_row: int, cells: list["_Cells"], present: np.ndarray, cell_formats: list,
                     held: dict) -> None:
        n = len(present)
        styles = self._styles(cells, cell_formats, present)
        numbers = pa.array(np.arange(first_row + 1, first_row + n + 1)).cast(pa.large_string())
        spans = _block_spans(first_row, present, held)
        row_cells = []
        for c, (cell, style) in enumerate(zip(cells, styles)):
            start = _text(f'<c r="{xl_col_to_name(c)}')
            if isinstance(style, pa.Scalar):  # one style: each distinct text wrapped once, not per cell
                parts = [start, numbers, cell.arrow(style.as_py(), "</v></c>")]
            else:
                parts = [start, numbers, style, cell.arrow(), _text("</v></c>")]
            row_cells.append(pc.binary_join_element_wise(*parts, _text("")))
        rows = pc.binary_join_element_wise(_text('<row r="'), numbers, spans, *row_cells, _text("</row>"), _text(""),
                                           null_handling="skip")
        used = present.any(axis=1)
        if not used.all():
            rows = rows.filter(pa.array(used))
        if len(rows):
            joined = pc.binary_join(pa.LargeListArray.from_arrays([0, len(rows)], rows), _text(""))
            self.fh.flush()  # UTF-8 bytes straight to the file under the text stream, in order
            self.fh.buffer.write(joined[0].as_buffer())

    @staticmethod
    def _styles(cells: list["_Cells"], cell_formats: list, present: np.ndarray) -> list:
        """`" s="3"><v>` (number) or `" s="3" t="s"><v>` (shared string) per cell, a scalar where a
        column has one format. Style indices are handed out on first use, row by row, cell by cell,
        as xlsxwriter does at close."""
        width = len(cells)
        used = []
        for c, fmt in enumerate(cell_formats):
            rows = np.flatnonzero(present[:, c])
            if not len(rows):
                continue
            if isinstance(fmt, np.ndarray):
                codes, uniques = pd.factorize(fmt[rows])
                used += [(int(rows[r]) * width + c, f) for r, f in zip(_first_rows(codes, len(uniques)), uniques)]
            else:
                used.append((int(rows[0]) * width + c, fmt))
        for _, fmt in sorted(used, key=lambda pair: pair[0]):
            fmt._get_xf_index()
        styles = []
        for cell, fmt in zip(cells, cell_formats):
            suffix = '" t="s"><v>' if cell.kind == "s" else '"><v>'
            if isinstance(fmt, np.ndarray):
                codes, uniques = pd.factorize(fmt)
                texts = pa.array([_style(f, suffix) for f in uniques], pa.large_string())
                styles.append(texts.take(pa.array(codes)))
            else:
                styles.append(_text(_style(fmt, suffix)))
        return styles


def _style(fmt, suffix: str) -> str:
    index = fmt._get_xf_index()
    return (f'" s="{index}' if index else '"') + suffix  # xlsxwriter leaves out s="0"


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _first_rows(codes: np.ndarray, count: int) -> np.ndarray:
    """The first row of each code 0 … count-1 (codes as pd.factorize gives them; -1 is a blank)."""
    found, first = np.unique(codes, return_index=True)
    keep = found >= 0
    out = np.empty(count, dtype=np.int64)
    out[found[keep]] = first[keep]
    return out


def _block_spans(first_row: int, present: np.ndarray, held: dict) -> pa.Array:
    """`" spans="a:b">` per row: first and last used column of its block of 16 sheet rows, the
    cells xlsxwriter holds itself (the header) included; empty for a block without used rows."""
    n, width = present.shape
    used = present.any(axis=1)
    blocks = np.arange(first_row, first_row + n) // 16
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
    lows = np.minimum.reduceat(np.where(used, present.argmax(axis=1), width), starts)
    highs = np.maximum.reduceat(np.where(used, width - 1 - present[:, ::-1].argmax(axis=1), -1), starts)
    where = {int(b): k for k, b in enumerate(blocks[starts])}
    for row, (lo, hi) in held.items():
        k = where.get(row // 16)
        if k is not None and highs[k] >= 0:
            lows[k], highs[k] = min(lows[k], lo), max(highs[k], hi)
    texts = pa.array([f'" spans="{lo + 1}:{hi + 1}">' if hi >= 0 else "" for lo, hi in zip(lows, highs)],
                     pa.large_string())
    return texts.take(pa.array(np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))))


class _Cells:
    """One column of a block: "n" (number) or "s" (string), each row's code into `texts` (-1: blank)."""

    def __init__(self, kind: str, codes: np.ndarray, texts: np.ndarray):
        self.kind, self.codes, self.texts = kind, codes, texts

    def arrow(self, before: str = "", after: str = "") -> pa.Array:
        """Each row's text (between `before` and `after`), null where blank."""
        texts = pa.array([before + text + after for text in self.texts] + [None], pa.large_string())
        codes = np.where(self.codes >= 0, self.codes, len(self.texts))
        return texts.take(pa.array(codes))


def _cell_values(series: pd.Series) -> _Cells:
    """Numbers as xlsxwriter prints them (`.16G`), text neutralised (shared string indices are
    filled in later), each distinct value once. Raises FastPathUnavailable for values
    `_write_cell` would treat otherwise (booleans, mixed types)."""
    blank = pd.isna(series).to_numpy()
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "empty":
        return _Cells("n", np.full(len(series), -1, dtype=np.int64), np.array([], dtype=object))
    if kind in ("floating", "integer", "mixed-integer-float", "decimal"):
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        if np.isinf(numbers).any():  # xlsxwriter refuses them: let the reference writer say so
            raise FastPathUnavailable(series.name)
        codes, uniques = pd.factorize(numbers.view("int64"))  # by bit pattern: -0.0 stays "-0"
        codes = np.where(blank, -1, codes)
        return _Cells("n", codes, np.array([f"{x:.16G}" for x in uniques.view("float64")], dtype=object))
    if kind == "string":
        if series[~blank].str.len().max() > 16383:  # xlsxwriter would check the 32,767 limit
            raise FastPathUnavailable(series.name)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        return _Cells("s", codes, np.array([neutralise(str(v)) for v in uniques], dtype=object))
    raise FastPathUnavailable(f"{series.name}: {kind}")


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
                         path: Path | str, fast: bool = True) -> Path:
    """One sheet per programme (catalogue order) and a sheet `Definitionen`. `fast` writes each
    programme's cells as one block (same bytes); without it, or where a column holds values the
    block writer does not handle, every cell goes through xlsxwriter one by one."""
    path = Path(path)
    german = _german(frame)
    if fast:
        try:
            return _write_xlsx(german, catalogue, indicators, path, fast=True)
        except FastPathUnavailable:
            pass
    return _write_xlsx(german, catalogue, indicators, path, fast=False)


def _write_xlsx(german: pd.DataFrame, catalogue: Catalogue, indicators: IndicatorCatalogue, path: Path,
                fast: bool) -> Path:
    programmes = [p.id for p in catalogue.programmes]
    programmes += sorted(set(german["programme_id"].unique()) - set(programmes))
    by_programme = dict(tuple(german.groupby("programme_id", sort=False)))
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    with atomic_path(path) as tmp:
        # The reference writer stays plain xlsxwriter: the yardstick for the fast one, zip included.
        if fast:
            workbook = _ReusingWorkbook(str(tmp), options, previous=path)
        else:
            workbook = xlsxwriter.Workbook(str(tmp), options)
        workbook.set_properties({"title": "Indikatoren / indicators", "created": FIXED_CREATED})
        formats = _Formats(workbook)
        used: set[str] = set()
        for pid in programmes:
            rows = by_programme.get(pid, german.iloc[:0])
            if fast:
                sheet = workbook.add_worksheet(_sheet_name(pid, used), worksheet_class=BlockWorksheet)
                _fast_programme_sheet(sheet, rows, formats)
            else:
                _programme_sheet(workbook.add_worksheet(_sheet_name(pid, used)), rows, formats)
        _definitions_sheet(workbook.add_worksheet(_sheet_name("Definitionen", used)), indicators, formats)
        workbook.close()
    return path


# -- zipping the workbook -----------------------------------------------------------------------------

class _ReusingWorkbook(xlsxwriter.Workbook):
    """xlsxwriter's workbook, zipped by `_PartsZip`: the same archive, byte for byte, made faster.

    `Workbook._store_workbook` creates its ZipFile by the module-level name; it runs here with
    that one name bound to `_PartsZip` (its own code, other globals unchanged), so nothing is
    patched for anyone else."""

    def __init__(self, filename: str, options: dict, previous: Path | None):
        super().__init__(filename, options)
        self._previous = previous

    def _store_workbook(self) -> None:
        store = xlsxwriter.Workbook._store_workbook
        with _Parts(self._previous) as parts:
            for sheet in self.worksheets():
                if isinstance(sheet, BlockWorksheet):
                    sheet.written = parts.start  # a sheet's part is compressed while the next is rendered
            names = dict(vars(xlsxwriter.workbook), ZipFile=functools.partial(_PartsZip, parts=parts))
            types.FunctionType(store.__code__, names, store.__name__, store.__defaults__, store.__closure__)(self)


class _Parts:
    """The workbook's parts, each compressed on a thread pool (zlib releases the GIL) as soon as
    its file is written. A part whose bytes equal a member of `previous` (the workbook as last
    written: after one district changed, all sheets but one) takes that member's compressed bytes
    instead, once inflating them proved the bytes equal."""

    def __init__(self, previous: Path | None):
        self._old = _zip_members(previous)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
        self._started: dict[str, tuple[bytes, concurrent.futures.Future]] = {}

    def __enter__(self) -> "_Parts":
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(cancel_futures=True)

    def start(self, filename) -> None:
        data = Path(filename).read_bytes()
        self._started[str(filename)] = (data, self._pool.submit(self._compress, data))

    def take(self, filename) -> tuple[bytes, concurrent.futures.Future]:
        """The part's bytes and their compression (deflate, zlib's default level)."""
        if str(filename) not in self._started:
            self.start(filename)
        return self._started.pop(str(filename))

    def _compress(self, data: bytes) -> bytes:
        reused = self._reusable(data)
        if reused is not None:
            return reused
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # as ZipFile's deflate
        return compressor.compress(data) + compressor.flush()

    def _reusable(self, data: bytes) -> bytes | None:
        """An earlier member's compressed bytes, if they inflate to exactly `data`."""
        old = self._old.get((len(data), zlib.crc32(data)))
        return old if old is not None and zlib.decompress(old, -15) == data else None


class _PartsZip(zipfile.ZipFile):
    """A ZipFile for writing that takes each member's compressed bytes from `_Parts`. The archive
    is what ZipFile.write would write: the entries (name, date, mode) come from ZipInfo.from_file
    and are written in order by ZipFile's own writer; only its compressor replays the bytes."""

    def __init__(self, *args, parts: _Parts, **kwargs):
        super().__init__(*args, **kwargs)
        self._parts = parts
        self._pending: list[tuple] = []

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None) -> None:
        zinfo = zipfile.ZipInfo.from_file(filename, arcname, strict_timestamps=self._strict_timestamps)
        zinfo.compress_type = self.compression if compress_type is None else compress_type
        zinfo._compresslevel = self.compresslevel if compresslevel is None else compresslevel
        if zinfo.compress_type != zipfile.ZIP_DEFLATED or zinfo._compresslevel is not None:
            raise ValueError("_PartsZip compresses with deflate at zlib's default level only")
        # The bytes are read now: xlsxwriter removes the file as soon as this returns.
        self._pending.append((zinfo, *self._parts.take(filename)))

    def close(self) -> None:
        try:
            for zinfo, data, compressed in self._pending:
                with self.open(zinfo, "w") as dest:
                    dest._compressor = _Replay(compressed.result())
                    dest.write(data)  # counts size and CRC; the compressor hands over the bytes
        finally:
            self._pending = []
            super().close()


class _Replay:
    """A compressor that returns bytes compressed beforehand: nothing per write, all at the flush."""

    def __init__(self, compressed: bytes):
        self._compressed = compressed

    def compress(self, data) -> bytes:
        return b""

    def flush(self) -> bytes:
        return self._compressed


LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local file header


def _zip_members(path: Path | None) -> dict[tuple[int, int], bytes]:
    """{(size, CRC): compressed bytes} of a zip archive's deflated members; {} if there is none or
    it cannot be read (then everything is compressed anew)."""
    if path is None or not path.is_file():
        return {}
    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
            members = {}
            for info in archive.infolist():
                if info.compress_type != zipfile.ZIP_DEFLATED:
                    continue
                raw.seek(info.header_offset)
                header = LOCAL_HEADER.unpack(raw.read(LOCAL_HEADER.size))
                raw.seek(header[-2] + header[-1], os.SEEK_CUR)  # the name and the extra field
                members[(info.file_size, info.CRC)] = raw.read(info.compress_size)
            return members
    except (OSError, zipfile.BadZipFile, struct.error):
        return {}
