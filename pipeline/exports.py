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
    return np.array([formats.for_cell(column, u) for u in units], dtype=object) if len(units) else formats.integer


class FastPathUnavailable(Exception):
    """A column holds values the block writer does not reproduce exactly (booleans, mixed types)."""


class BlockWorksheet(Worksheet):
    """An xlsxwriter worksheet that takes a block of rows at once and writes their XML vectorised.

    At 200,000 rows × 21 columns, xlsxwriter's per-cell calls (store, then format each cell at
    close) take about half a minute. This class produces the very same bytes: the strings enter
    the workbook's shared string table in the same first-seen order, each format gets its style
    index in the same first-used order, and the `<row>`/`<c>` elements, spans (per block of 16
    rows) and dimensions are written exactly as `Worksheet._write_rows` writes them for the cells
    xlsxwriter 3.3.1 (pinned) would store. tests/test_exports.py compares both writers byte for byte.
    """

    def __init__(self):
        super().__init__()
        self._blocks: list[tuple] = []

    def write_block(self, first_row: int, columns: list[pd.Series], cell_formats: list) -> None:
        """Cells of `columns` (one Series each, from column 0) from `first_row` on; blanks are skipped."""
        n = len(columns[0]) if columns else 0
        if n == 0:
            return
        kinds, present, texts = [], [], []
        for series in columns:
            kind, mask, text = _cell_values(series)
            kinds.append(kind)
            present.append(mask)
            texts.append(text)
        present = np.column_stack(present)
        strings = np.column_stack([t if k == "s" else np.full(n, None, dtype=object)
                                   for k, t in zip(kinds, texts)])
        flat = strings.ravel()  # row-major: the order xlsxwriter sees them in
        is_string = np.column_stack([present[:, c] & (kinds[c] == "s") for c in range(len(columns))]).ravel()
        codes, uniques = pd.factorize(flat[is_string])
        table = self.str_table
        indices = np.array([str(table._get_shared_string_index(u)) for u in uniques] + [""], dtype=object)
        table.count += int(is_string.sum()) - len(uniques)  # every further use counts, as in _write_string
        flat[is_string] = indices[codes]
        strings = flat.reshape(strings.shape)
        for c, kind in enumerate(kinds):
            if kind == "s":
                texts[c] = strings[:, c]
        rows = np.flatnonzero(present.any(axis=1))
        if len(rows):
            cols = np.flatnonzero(present.any(axis=0))
            self._check_dimensions(first_row + int(rows[0]), int(cols[0]))
            self._check_dimensions(first_row + int(rows[-1]), int(cols[-1]))
        self._blocks.append((first_row, kinds, texts, present, cell_formats))

    def _write_rows(self) -> None:
        held = {row: (min(cells), max(cells)) for row, cells in self.table.items() if cells}
        super()._write_rows()
        for block in self._blocks:
            self._write_block(*block, held)

    def _write_block(self, first_row: int, kinds: list[str], texts: list, present: np.ndarray,
                     cell_formats: list, held: dict) -> None:
        n, width = present.shape
        used = present.any(axis=1)
        styles = self._styles(kinds, cell_formats, present, n)
        numbers = np.arange(first_row + 1, first_row + n + 1).astype(str).astype(object)
        spans = _block_spans(first_row, present, held)
        for start in range(0, n, BLOCK_CHUNK):
            part = slice(start, min(start + BLOCK_CHUNK, n))
            pieces = [_where(used[part], "<row r=\""), _where(used[part], numbers[part]),
                      _where(used[part], spans[part])]
            for c in range(width):
                mask = present[part, c]
                pieces += [_where(mask, f'<c r="{xl_col_to_name(c)}'), _where(mask, numbers[part]),
                           _where(mask, styles[c][part]), _where(mask, texts[c][part]), _where(mask, "</v></c>")]
            pieces.append(_where(used[part], "</row>"))
            self.fh.write("".join(np.column_stack(pieces).ravel().tolist()))

    @staticmethod
    def _styles(kinds: list[str], cell_formats: list, present: np.ndarray, n: int) -> list[np.ndarray]:
        """`" s="3"><v>` (number) or `" s="3" t="s"><v>` (shared string) per cell. Style indices
        are handed out on first use, row by row, cell by cell, as xlsxwriter does at close."""
        grid = np.empty(present.shape, dtype=object)
        for c, fmt in enumerate(cell_formats):
            grid[:, c] = fmt
        for fmt in pd.unique(grid.ravel()[present.ravel()]):
            fmt._get_xf_index()
        styles = []
        for c, kind in enumerate(kinds):
            suffix = '" t="s"><v>' if kind == "s" else '"><v>'
            codes, uniques = pd.factorize(grid[:, c])
            texts = np.array([f'" s="{f._get_xf_index()}{suffix}' for f in uniques], dtype=object)
            styles.append(texts[codes])
        return styles


def _where(mask: np.ndarray, value) -> np.ndarray:
    return np.where(mask, value, "").astype(object)


def _block_spans(first_row: int, present: np.ndarray, held: dict) -> np.ndarray:
    """`" spans="a:b">` per row: first and last used column of its block of 16 sheet rows, the
    cells xlsxwriter holds itself (the header) included."""
    n, width = present.shape
    used = present.any(axis=1)
    sheet_rows = np.arange(first_row, first_row + n)
    frame = pd.DataFrame({"block": sheet_rows // 16, "first": present.argmax(axis=1),
                          "last": width - 1 - present[:, ::-1].argmax(axis=1)})[used]
    blocks = set(frame["block"])
    extra = [(row // 16, lo, hi) for row, (lo, hi) in held.items() if row // 16 in blocks]
    frame = pd.concat([frame, pd.DataFrame(extra, columns=["block", "first", "last"])])
    bounds = frame.groupby("block").agg(first=("first", "min"), last=("last", "max"))
    text = '" spans="' + (bounds["first"] + 1).astype(str) + ":" + (bounds["last"] + 1).astype(str) + '">'
    return text.reindex(sheet_rows // 16).fillna("").to_numpy(dtype=object)


BLOCK_CHUNK = 20_000  # rows per write: bounds the memory the pieces of one chunk take


def _cell_values(series: pd.Series) -> tuple[str, np.ndarray, np.ndarray]:
    """("n" | "s", which cells are written, their text): numbers as xlsxwriter prints them (`.16G`),
    text neutralised (shared string indices are filled in later). Raises FastPathUnavailable for
    values `_write_cell` would treat otherwise (booleans, mixed types)."""
    values = series.to_numpy(dtype=object)
    blank = pd.isna(series).to_numpy()
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "empty":
        return "n", ~blank, np.full(len(values), "", dtype=object)
    if kind in ("floating", "integer", "mixed-integer-float", "decimal"):
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        if np.isinf(numbers).any():  # xlsxwriter refuses them: let the reference writer say so
            raise FastPathUnavailable(series.name)
        codes, uniques = pd.factorize(numbers.view("int64"))  # by bit pattern: -0.0 stays "-0"
        texts = np.array([f"{x:.16G}" for x in uniques.view("float64")], dtype=object)
        return "n", ~blank, texts[codes]
    if kind == "string":
        if series[~blank].str.len().max() > 16383:  # xlsxwriter would check the 32,767 limit
            raise FastPathUnavailable(series.name)
        return "s", ~blank, map_unique(series, lambda v: neutralise(str(v))).to_numpy(dtype=object)
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
    programmes += sorted(set(german["programme_id"]) - set(programmes))
    by_programme = dict(tuple(german.groupby("programme_id", sort=False)))
    with atomic_path(path) as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False,
                                                  "strings_to_numbers": False})
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
