"""The one reader of district files (contract sections 1, 2 and 4).

It turns a file's bytes into one table of text per feed, with the district's own row numbers,
or into file-level problems (unreadable, too large, forbidden column, missing column, unknown
sheet). It never types or judges values: that is the validator's job. The pipeline,
`teilhabe check` and the tests all read through here.
"""
from __future__ import annotations

import codecs
import datetime as dt
import functools
import io
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
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
    feeds = ", ".join(f"{f.name} / {f.alias_de}" for f in contract.feeds.values())
    if not m:
        return Problem("bad_filename", value=name, detail_de=f"Datenbereiche: {feeds}", detail_en=f"feeds: {feeds}")
    kind = m["ext"].lower()
    feed = None
    if kind == "csv":
        if not m["feed"]:
            return Problem("bad_filename", value=name, detail_de=f"CSV-Name ohne Datenbereich ({feeds})",
                           detail_en=f"CSV name without a feed ({feeds})")
        feed = contract.feed_lookup.get(fold(m["feed"]))
        if feed is None:
            return Problem("unknown_feed", value=m["feed"], detail_de=f"erlaubt: {feeds}", detail_en=f"allowed: {feeds}")
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


@dataclass
class HeaderPlan:
    """What a header row means for one feed: canonical columns by position, or why it is set aside."""
    mapping: dict[int, str]                 # grid column -> canonical name
    written: dict[str, str]                 # canonical name -> header as the district wrote it
    ignored: list[str]
    forbidden: list[str]
    missing: list[str]                      # "name / alias" of each missing required column


def plan_header(headers: list[str], feed: Feed, contract: Contract) -> HeaderPlan:
    """Header checks of sections 2 and 4 (forbidden and missing columns, aliases, extra columns)."""
    folded = [fold(h) for h in headers]
    forbidden = [h for h, f in zip(headers, folded) if f in contract.forbidden_columns]
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
    missing = [f"{feed.column(c).name} / {feed.column(c).alias}" for c in feed.required if c not in written]
    return HeaderPlan(mapping, written, ignored, forbidden, missing)


def _header_problems(plan: HeaderPlan, feed: Feed, sheet_name: str | None, rows_read: int) -> list[Problem]:
    if plan.forbidden:
        return [Problem("forbidden_column", feed=feed.name, sheet=sheet_name, column=h, rows_read=rows_read)
                for h in plan.forbidden]
    return [Problem("missing_column", feed=feed.name, sheet=sheet_name, column=c, rows_read=rows_read)
            for c in plan.missing]


def _canonical_rows(body: pd.DataFrame, plan: HeaderPlan, feed: Feed) -> pd.DataFrame:
    """Body rows (already without empty rows) as trimmed text under the feed's canonical columns."""
    rows = body[list(plan.mapping)].rename(columns=plan.mapping)
    rows = rows.reindex(columns=[c.name for c in feed.columns])
    return rows.apply(_clean_text)


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

    plan = plan_header(headers, feed, contract)
    problems = _header_problems(plan, feed, sheet_name, rows_read)
    if problems:
        result.problems += problems
        return None
    rows = _canonical_rows(body, plan, feed)
    rows.insert(0, "source_row", rows.index.astype("int64"))
    return Sheet(feed=feed.name, sheet=sheet_name, rows=rows.reset_index(drop=True), headers=plan.written,
                 ignored_columns=plan.ignored)


# --- many CSV files of one shape at once (national scale) ---------------------------------------
#
# Reading 48,000 files one by one costs a pandas parse and a frame per file. Files of one feed
# whose first line is the same header (and separator) are parsed together instead: the same
# decoding, the same pandas C tokenizer with the same options as `_read_csv`, over the header line
# followed by every file's body. Each physical line is one grid row exactly when no quoted field
# spans a line break, which the row count proves (a spanning field merges lines, so the grid would
# have fewer rows than the files have lines); then the district's row number of a line is its line
# number in its own file. Whatever the group parse cannot prove (a parse error, a count mismatch)
# is split in halves and retried, down to single files, which go through `read_file`. Files that
# are not plain UTF-8 text (UTF-16, Windows-1252, NUL bytes, lone CR line ends, a blank first
# line, too large, empty, a workbook named .csv) never enter a group.


@dataclass
class CsvText:
    """A delivered CSV decoded for group reading: its header line and its body (whole lines)."""
    index: int                  # the caller's position of the file
    encoding: str
    separator: str
    header_line: str
    body: str                   # every line after the header, ending with a line break (or empty)
    lines: int                  # physical lines in body


@dataclass
class CsvGroupRead:
    """Per file of a group: rows read (non-empty body rows) and problems; rows of all good files."""
    feed: str
    separator: str
    files: list[CsvText]
    plan: HeaderPlan | None = None
    rows: pa.Table | None = None            # source_row + canonical columns (text) of all good files
    file_of_row: np.ndarray | None = None   # position in `files` of each row
    rows_read: np.ndarray | None = None     # per file
    problems: list[Problem] = field(default_factory=list)  # the same for every file of the group


def csv_text(index: int, data: bytes, contract: Contract) -> CsvText | None:
    """The decoded file if it can be read in a group; None sends it to `read_file`."""
    if not data or len(data) > contract.size_limit_bytes or data.startswith(b"PK\x03\x04"):
        return None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    try:
        text, encoding = (data[3:].decode("utf-8"), "utf-8-sig") if data.startswith(codecs.BOM_UTF8) \
            else (data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text or text.count("\r") != text.count("\r\n"):
        return None
    first, _, body = text.partition("\n")
    separator = _sniff_separator(first)
    header_line = first[:-1] if first.endswith("\r") else first
    if not header_line.replace(separator, "").strip(" \t"):
        return None  # a blank first line: the header is further down, `read_file` finds it
    if body and not body.endswith("\n"):
        body += "\n"
    return CsvText(index, encoding, separator, header_line, body, body.count("\n"))


def group_csv_texts(texts: list[CsvText], feeds: list[str]) -> dict[tuple[str, str, str], list[CsvText]]:
    """Files of one feed with the same header line and separator, in the given order."""
    groups: dict[tuple[str, str, str], list[CsvText]] = {}
    for text, feed in zip(texts, feeds):
        groups.setdefault((feed, text.separator, text.header_line), []).append(text)
    return groups


def _parse_unquoted(text: str, separator: str, columns: int, rows: int) -> list[pa.Array] | None:
    """Text without any quote character, every line as many fields as the header: then splitting
    at line ends and separators is all either parser does, and Arrow's (multi-threaded) reader gives
    the very grid pandas gives. Anything else (a blank or short line) raises: pandas reads it."""
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=separator, quote_char=False, double_quote=False,
                                             escape_char=False, newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(columns)},
                                                 null_values=[], strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if table.num_columns != columns or table.num_rows != rows:
        return None
    return [column.combine_chunks() for column in table.columns]


def _parse_group(files: list[CsvText]) -> list[pa.Array] | None:
    """The grid of header line + every body line, one Arrow string array per column (null where
    pandas gives NaN, i.e. a short line); None when row numbers cannot be read off."""
    text = files[0].header_line + "\n" + "".join(f.body for f in files)
    separator, rows = files[0].separator, 1 + sum(f.lines for f in files)
    if '"' not in text:
        grid = _parse_unquoted(text, separator, len(files[0].header_line.split(separator)), rows)
        if grid is not None:
            return grid
    try:
        frame = pd.read_csv(io.StringIO(text), sep=files[0].separator, header=None, dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=False, quotechar='"', engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if len(frame) != rows:
        return None  # a quoted field spans a line break somewhere: row numbers cannot be read off
    return [pa.array(frame[c].to_numpy(dtype=object), pa.string(), from_pandas=True) for c in frame.columns]


def _trimmed_text(column: pa.Array | None, length: int) -> pa.Array:
    """`_clean_text` in Arrow (pandas' str.strip is this same Arrow kernel): trimmed, empty -> null."""
    if column is None:
        return pa.nulls(length, pa.string())
    text = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def read_csv_group(files: list[CsvText], feed: Feed, contract: Contract) -> tuple[list[CsvGroupRead], list[CsvText]]:
    """Read files that share feed, separator and header line. Returns the group reads and the files
    that must go through `read_file` one by one."""
    if not files:
        return [], []
    grid = _parse_group(files)
    if grid is None:
        if len(files) == 1:
            return [], files
        half = len(files) // 2
        first, rest_a = read_csv_group(files[:half], feed, contract)
        second, rest_b = read_csv_group(files[half:], feed, contract)
        return first + second, rest_a + rest_b
    result = CsvGroupRead(feed=feed.name, separator=files[0].separator, files=files)
    # As in `_sheet_from_grid`: a cell is empty only when it is "" (a NaN of a short line is not).
    header = [column[0].as_py() for column in grid]
    if all(h == "" for h in header):
        return [], files
    lines = np.array([f.lines for f in files], dtype="int64")
    body = [column.slice(1) for column in grid]
    filled = [pc.fill_null(pc.not_equal(column, ""), True) for column in body]
    nonempty = functools.reduce(pc.or_, filled).to_numpy(zero_copy_only=False)
    file_of_line = np.repeat(np.arange(len(files)), lines)
    line_in_file = np.arange(len(file_of_line)) - np.repeat(np.cumsum(lines) - lines, lines)
    result.rows_read = np.bincount(file_of_line[nonempty], minlength=len(files))
    result.plan = plan_header(["nan" if h is None else h.strip() for h in header], feed, contract)
    result.problems = _header_problems(result.plan, feed, None, 0)
    if not result.problems:
        keep = pa.array(nonempty)
        kept = {name: body[i].filter(keep) for i, name in result.plan.mapping.items()}
        length = int(nonempty.sum())
        columns = {"source_row": pa.array(line_in_file[nonempty] + 2, pa.int64())}  # header = row 1
        columns.update({c.name: _trimmed_text(kept.get(c.name), length) for c in feed.columns})
        result.rows = pa.table(columns)
        result.file_of_row = file_of_line[nonempty]
    return [result], []
