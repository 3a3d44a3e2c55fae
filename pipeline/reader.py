"""The one reader of district files (contract sections 1, 2 and 4).

It turns a file's bytes into one table of text per feed, with the district's own row numbers,
or into file-level problems (unreadable, too large, forbidden column, missing column, unknown
sheet). It never types or judges values: that is the validator's job. The pipeline,
`teilhabe check` and the tests all read through here.
"""
from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field

import pandas as pd
import python_calamine

from pipeline.contract import Contract, Feed, fold

FILE_NAME = re.compile(
    r"^(?P<ags>\d{5})_(?P<year>\d{4})-q(?P<q>[1-4])(?:_(?P<feed>[^.]+))?\.(?P<ext>csv|xlsx)$",
    re.IGNORECASE)
SEPARATORS = {";": "semicolon", ",": "comma", "\t": "tab"}


@dataclass
class Problem:
    """A whole file or sheet that was set aside, with the reason."""
    reason_code: str
    detail_de: str = ""
    detail_en: str = ""
    feed: str | None = None
    sheet: str | None = None
    column: str | None = None
    value: str | None = None
    rows_read: int = 0


@dataclass
class Sheet:
    """One feed's rows from one file: text values under canonical column names."""
    feed: str
    sheet: str | None
    rows: pd.DataFrame                      # canonical columns + source_row
    headers: dict[str, str]                 # canonical name -> header as the district wrote it
    ignored_columns: list[str] = field(default_factory=list)
    decimal_comma: bool = False
    encoding: str | None = None
    separator: str | None = None


@dataclass
class FileRead:
    name: str
    kind: str
    sheets: list[Sheet] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_sheets: list[str] = field(default_factory=list)

    @property
    def forbidden(self) -> bool:
        return any(p.reason_code == "forbidden_column" for p in self.problems)


@dataclass(frozen=True)
class FileName:
    ags: str
    quarter: str
    feed: str | None   # None for a workbook
    kind: str          # csv | xlsx


def parse_file_name(name: str, contract: Contract) -> FileName | Problem:
    """Contract section 1. Returns the parsed name, or the reason the file is set aside."""
    m = FILE_NAME.match(name)
    if not m:
        return Problem("bad_filename", value=name)
    kind = m["ext"].lower()
    feed = None
    if kind == "csv":
        if not m["feed"]:
            return Problem("bad_filename", value=name,
                           detail_de="CSV-Name ohne Datenbereich", detail_en="CSV name without a feed")
        feed = contract.feed_lookup.get(fold(m["feed"]))
        if feed is None:
            return Problem("unknown_feed", value=m["feed"])
    elif m["feed"]:
        return Problem("bad_filename", value=name, detail_de="Arbeitsmappen heißen <AGS>_<JJJJ>-Q<n>.xlsx",
                       detail_en="workbooks are named <AGS>_<YYYY>-Q<n>.xlsx")
    return FileName(ags=m["ags"], quarter=f"{m['year']}-Q{m['q']}", feed=feed, kind=kind)


def read_file(name: str, data: bytes, contract: Contract, feed: str | None = None) -> FileRead:
    """Read one delivered file. `feed` is the feed named in a CSV's file name."""
    kind = "xlsx" if name.lower().endswith(".xlsx") else "csv"
    result = FileRead(name=name, kind=kind)
    if len(data) > contract.size_limit_bytes:
        limit_mb = contract.size_limit_bytes // (1024 * 1024)
        result.problems.append(Problem("too_large", value=f"{len(data) / 1048576:.1f} MB",
                                       detail_de=f"Grenze {limit_mb} MB", detail_en=f"limit {limit_mb} MB"))
        return result
    if not data:
        result.problems.append(Problem("unreadable", detail_de="Datei ist leer (0 Byte)", detail_en="file is empty (0 bytes)"))
        return result
    if kind == "xlsx":
        _read_workbook(data, contract, result)
    else:
        _read_csv(data, contract, feed, result)
    return result


# --- CSV ---------------------------------------------------------------------------------------

def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252"), "cp1252"


def _sniff_separator(first_line: str) -> str:
    """The separator that splits the header most; `;` wins ties (German Excel's default)."""
    counts = {sep: first_line.count(sep) for sep in (";", "\t", ",")}
    return max(counts, key=lambda s: counts[s])


def _read_csv(data: bytes, contract: Contract, feed: str | None, result: FileRead) -> None:
    if data.startswith(b"PK\x03\x04"):
        result.problems.append(Problem("unreadable", detail_de="Excel-Arbeitsmappe mit Endung .csv – bitte als .xlsx senden",
                                       detail_en="an Excel workbook named .csv – send it as .xlsx"))
        return
    try:
        text, encoding = _decode(data)
    except UnicodeDecodeError:
        result.problems.append(Problem("unreadable", detail_de="Zeichenkodierung nicht lesbar", detail_en="unknown text encoding"))
        return
    if "\x00" in text:
        result.problems.append(Problem("unreadable", detail_de="keine Textdatei (Binärdaten)", detail_en="not a text file (binary data)"))
        return
    first_line = text.split("\n", 1)[0]
    separator = _sniff_separator(first_line)
    try:
        grid = pd.read_csv(io.StringIO(text), sep=separator, header=None, dtype=str, keep_default_na=False,
                           na_filter=False, skip_blank_lines=False, quotechar='"', engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = str(exc).replace("Error tokenizing data. C error: ", "")
        result.problems.append(Problem("unreadable", detail_de=f"CSV-Struktur defekt oder abgeschnitten: {detail}",
                                       detail_en=f"broken or truncated CSV: {detail}"))
        return
    if feed is None:
        result.problems.append(Problem("unknown_feed"))
        return
    # Header = row 1; the district's row number of grid line i is i + 1.
    sheet = _sheet_from_grid(grid, pd.RangeIndex(1, len(grid) + 1), contract.feeds[feed], None, contract, result)
    if sheet is not None:
        sheet.decimal_comma = separator in (";", "\t")
        sheet.encoding, sheet.separator = encoding, SEPARATORS[separator]
        result.sheets.append(sheet)


# --- XLSX --------------------------------------------------------------------------------------

def _cell_text(value) -> str:
    """Excel cell -> the text the district sees; real dates become ISO dates."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _read_workbook(data: bytes, contract: Contract, result: FileRead) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        result.problems.append(Problem("unreadable", detail_de="keine gültige XLSX-Datei (beschädigt oder abgeschnitten)",
                                       detail_en="not a valid XLSX file (corrupt or truncated)"))
        return
    if unpacked > contract.xlsx_max_unpacked_bytes:
        result.problems.append(Problem("too_large", value=f"{unpacked / 1048576:.0f} MB entpackt / unpacked",
                                       detail_de="Arbeitsmappe entpackt zu groß", detail_en="workbook expands beyond the limit"))
        return
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = {name: workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
                  for name in workbook.sheet_names}
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        result.problems.append(Problem("unreadable", detail_de=f"Arbeitsmappe nicht lesbar: {exc}",
                                       detail_en=f"workbook cannot be read: {exc}"))
        return
    seen: set[str] = set()
    for sheet_name, cells in sheets.items():
        grid = pd.DataFrame(cells).map(_cell_text) if cells else pd.DataFrame()
        if grid.empty or not grid.map(bool).to_numpy().any():
            result.ignored_sheets.append(sheet_name)  # an empty "Tabelle2" loses nothing
            continue
        feed = contract.feed_lookup.get(fold(sheet_name))
        if feed is None or feed in seen:
            detail = ("Datenbereich doppelt in dieser Mappe", "feed appears twice in this workbook") if feed else ("", "")
            result.problems.append(Problem("unknown_feed", sheet=sheet_name, value=sheet_name,
                                           detail_de=detail[0], detail_en=detail[1],
                                           rows_read=_count_data_rows(grid)))
            continue
        seen.add(feed)
        sheet = _sheet_from_grid(grid, pd.RangeIndex(1, len(grid) + 1), contract.feeds[feed], sheet_name, contract, result)
        if sheet is not None:
            sheet.decimal_comma = True  # text cells in a German workbook carry decimal commas
            result.sheets.append(sheet)


# --- shared header handling --------------------------------------------------------------------

def _count_data_rows(grid: pd.DataFrame) -> int:
    nonempty = grid.map(bool).any(axis=1)
    return max(int(nonempty.sum()) - 1, 0)


def _clean_text(column: pd.Series) -> pd.Series:
    """Trimmed text, with empty cells (and columns the file lacks) as None."""
    text = column.astype("string").str.strip()
    return text.astype(object).where(text.notna() & (text != ""), None)


def _sheet_from_grid(grid: pd.DataFrame, row_numbers: pd.Index, feed: Feed, sheet_name: str | None,
                     contract: Contract, result: FileRead) -> Sheet | None:
    """Header checks of sections 2 and 4, then the data rows as text with their row numbers."""
    grid = grid.copy()
    grid.index = row_numbers
    nonempty = grid.map(bool).any(axis=1)
    if not nonempty.any():
        result.problems.append(Problem("unreadable", feed=feed.name, sheet=sheet_name,
                                       detail_de="keine Kopfzeile", detail_en="no header row"))
        return None
    header_row = nonempty.idxmax()  # the first non-empty row is the header
    headers = [str(h).strip() for h in grid.loc[header_row]]
    body = grid.loc[header_row + 1:]
    body = body[nonempty.loc[header_row + 1:]]
    rows_read = len(body)

    folded = [fold(h) for h in headers]
    forbidden = [h for h, f in zip(headers, folded) if f in contract.forbidden_columns]
    if forbidden:
        for h in forbidden:
            result.problems.append(Problem("forbidden_column", feed=feed.name, sheet=sheet_name, column=h,
                                           rows_read=rows_read))
        return None

    mapping: dict[int, str] = {}
    written: dict[str, str] = {}
    ignored = []
    for i, (h, f) in enumerate(zip(headers, folded)):
        canonical = feed.header_lookup.get(f)
        if canonical is None or canonical in written:
            if h:
                ignored.append(h)
            continue
        mapping[i] = canonical
        written[canonical] = h
    missing = [c for c in feed.required if c not in written]
    if missing:
        for c in missing:
            col = feed.column(c)
            result.problems.append(Problem("missing_column", feed=feed.name, sheet=sheet_name,
                                           column=f"{col.name} / {col.alias}", rows_read=rows_read))
        return None

    rows = body[list(mapping)].rename(columns=mapping)
    rows = rows.reindex(columns=[c.name for c in feed.columns])
    rows = rows.apply(_clean_text)
    rows.insert(0, "source_row", rows.index.astype("int64"))
    return Sheet(feed=feed.name, sheet=sheet_name, rows=rows.reset_index(drop=True), headers=written,
                 ignored_columns=ignored)
