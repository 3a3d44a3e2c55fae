"""The one reader of district files (contract sections 1, 2 and 4).

It turns a file's bytes into one table of text per feed, with the district's own row numbers,
or into file-level problems (unreadable, too large, forbidden column, missing column, unknown
sheet). It never types or judges values: that is the validator's job. The pipeline,
`teilhabe check` and the tests all read through here. Whatever a file holds, reading it ends in
rows or in that file's problems: no file can stop a run (`read_file`), and no file is parsed
before its dimensions are checked against the contract's limits (workbook.py for XLSX).
"""
from __future__ import annotations

import codecs
import csv
import functools
import io
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipeline.contract import Contract, Feed, fold
from pipeline.intake.header import (ROW_PROBLEM, FileRead, HeaderPlan, Problem, RowNotes, Sheet, header_problems,
                                    plan_header, sheet_from_grid)
from pipeline.intake.workbook import read_workbook

__all__ = ["FILE_NAME", "SEPARATORS", "CsvGroupRead", "CsvText", "FileName", "FileRead", "HeaderPlan", "Problem",
           "Sheet", "csv_text", "group_csv_texts", "parse_file_name", "plan_header", "read_csv_group", "read_file"]

FILE_NAME = re.compile(
    r"^(?P<ags>\d{5})_(?P<year>\d{4})-q(?P<q>[1-4])(?:_(?P<feed>[^.]+))?\.(?P<ext>csv|xlsx)$",
    re.IGNORECASE)
# Formats offices save by habit that the contract does not take: the name says what to send instead.
OTHER_FORMATS = {".xls": "Excel 97-2003 (.xls)", ".ods": "OpenDocument (.ods)", ".xlsm": "Excel mit Makros (.xlsm)",
                 ".xlsb": "Excel-Binär (.xlsb)", ".numbers": "Numbers (.numbers)"}
SEPARATORS = {";": "semicolon", ",": "comma", "\t": "tab"}
SEP_LINE = re.compile(r"^\ufeff?sep=(.)\s*$", re.IGNORECASE)  # Excel's first line naming the separator


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
        ext = next((e for e in OTHER_FORMATS if name.lower().endswith(e)), None)
        if ext:
            return Problem("bad_filename", value=name,
                           detail_de=f"{OTHER_FORMATS[ext]}: bitte als .xlsx oder .csv speichern",
                           detail_en=f"{OTHER_FORMATS[ext]}: please save it as .xlsx or .csv")
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
    """Read one delivered file. `feed` is the feed named in a CSV's file name. Never raises for
    what a file holds: anything a library raises while reading it makes the file `unreadable`."""
    kind = "xlsx" if name.lower().endswith(".xlsx") else "csv"
    result = FileRead(name=name, kind=kind)
    try:
        _read(data, contract, feed, result)
    except Exception as exc:  # noqa: BLE001 - one file must never stop a run; the reason is kept
        result.sheets, result.ignored_sheets = [], []
        forbidden = [p for p in result.problems if p.reason_code == "forbidden_column"]
        # The error's kind only: its text may quote the file's content (a person's name, say).
        result.problems = forbidden or [Problem(
            "unreadable", detail_de=f"Datei konnte nicht gelesen werden ({type(exc).__name__})",
            detail_en=f"the file could not be read ({type(exc).__name__})")]
    return result


def _read(data: bytes, contract: Contract, feed: str | None, result: FileRead) -> None:
    if len(data) > contract.size_limit_bytes:
        limit_mb = contract.size_limit_bytes // (1024 * 1024)
        result.problems.append(Problem("too_large", value=f"{len(data) / 1048576:.1f} MB",
                                       detail_de=f"Grenze {limit_mb} MB", detail_en=f"limit {limit_mb} MB"))
        return
    if not data:
        result.problems.append(Problem("unreadable", detail_de="Datei ist leer (0 Byte)", detail_en="file is empty (0 bytes)"))
        return
    if result.kind == "xlsx":
        read_workbook(data, contract, result)
    else:
        _read_csv(data, contract, feed, result)


# --- CSV ---------------------------------------------------------------------------------------

def _decode(data: bytes) -> tuple[str, str, np.ndarray | None]:
    """Text, encoding, and per physical line whether it was not in the file's encoding (None: all
    were). A UTF-8 file with a few Windows-1252 lines (pasted from an old file) keeps its UTF-8
    lines; the others are read as Windows-1252 and their rows rejected, never loaded as mojibake.
    A file with no UTF-8 at all is Windows-1252; a byte that Windows-1252 does not define garbles
    its line the same way. (UTF-16 is decoded by the caller.)"""
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[3:] if bom else data
    try:
        return body.decode("utf-8"), "utf-8-sig" if bom else "utf-8", None
    except UnicodeDecodeError:
        pass
    lines = body.split(b"\n")
    utf8 = []
    for line in lines:
        try:
            utf8.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            utf8.append(None)
    if bom or any(text is not None and not text.isascii() for text in utf8):
        encoding, decoded = ("utf-8-sig" if bom else "utf-8"), utf8
    else:
        try:
            return body.decode("cp1252"), "cp1252", None
        except UnicodeDecodeError:
            encoding, decoded = "cp1252", [None] * len(lines)
            for i, line in enumerate(lines):
                try:
                    decoded[i] = line.decode("cp1252")
                except UnicodeDecodeError:
                    pass
    garbled = np.array([text is None for text in decoded], dtype=bool)
    text = "\n".join(t if t is not None else line.decode("cp1252", errors="replace") for t, line in zip(decoded, lines))
    return text, encoding, garbled


def _separator(head: str, feed: Feed | None) -> tuple[bool, str]:
    """(an Excel `sep=` line first?, the separator). Otherwise the separator under which one of
    the first lines names the most of the feed's columns (a title line above the header may hold a
    comma, a text below it many); when none names any, the one that splits the first non-blank
    line most (`;` wins ties, German Excel's default)."""
    first, _, rest = head.partition("\n")
    sep_line = SEP_LINE.match(first.rstrip("\r"))
    if sep_line:
        return True, sep_line[1]
    top = head.split("\n", HEADER_LINES)[:HEADER_LINES]
    if feed is not None:
        def named(sep: str) -> int:
            return max(sum(fold(cell.strip().strip('"')) in feed.header_lookup for cell in line.split(sep))
                       for line in top)
        scores = {sep: named(sep) for sep in (";", "\t", ",")}
        if max(scores.values()):
            return False, max(scores, key=lambda sep: scores[sep])
    return False, _sniff_separator(next((line for line in top if line.strip(" \t\r;,")), first))


def _sniff_separator(first_line: str) -> str:
    """The separator that splits the header most; `;` wins ties (German Excel's default)."""
    counts = {sep: first_line.count(sep) for sep in (";", "\t", ",")}
    return max(counts, key=lambda s: counts[s])


def _too_large(figure_de: str, figure_en: str, limit_de: str, limit_en: str) -> Problem:
    return Problem("too_large", value=f"{figure_de} / {figure_en}", detail_de=limit_de, detail_en=limit_en)


def _csv_limits(data: bytes, separator: str, contract: Contract) -> Problem | None:
    """Lines, fields per line and line length, counted on the bytes before anything is parsed
    (about twice the file's size in memory at most: its lines as bytes)."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines > contract.max_rows + 1:
        return _too_large(f"{lines:,} Zeilen".replace(",", "."), f"{lines:,} lines",
                          f"Grenze {contract.max_rows + 1:,} Zeilen".replace(",", "."), f"limit {contract.max_rows + 1:,} lines")
    parts = data.split(b"\n")
    longest = max(map(len, parts))
    # A line has fewer separators than bytes: fields are counted line by line only where a line is
    # long enough to hold too many (most files: none is).
    sep = separator.encode()
    widest = 1 + (max((part.count(sep) for part in parts if len(part) >= contract.max_columns), default=0)
                  if longest >= contract.max_columns else 0)
    if widest > contract.max_columns:
        return _too_large(f"{widest:,} Felder in einer Zeile".replace(",", "."), f"{widest:,} fields in one line",
                          f"Grenze {contract.max_columns} Felder", f"limit {contract.max_columns} fields")
    # Cells are the fields the file holds (a ragged line pads the grid with empty cells, 8 bytes each:
    # at most 200 x 200,001 of them).
    cells = data.count(separator.encode()) + lines
    if cells > contract.max_cells:
        return _too_large(f"{cells:,} Zellen".replace(",", "."), f"{cells:,} cells",
                          f"Grenze {contract.max_cells:,} Zellen".replace(",", "."), f"limit {contract.max_cells:,} cells")
    if longest > contract.max_line_bytes:
        return _too_large(f"eine Zeile mit {longest:,} Byte".replace(",", "."), f"a line of {longest:,} bytes",
                          f"Grenze {contract.max_line_bytes:,} Byte".replace(",", "."), f"limit {contract.max_line_bytes:,} bytes")
    return None


def _parse_records(text: str, separator: str, strict: bool) -> tuple[list[list[str]], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar='"', doublequote=True,
                        strict=strict)
    records, lines = [], []
    for record in reader:
        records.append(record)
        lines.append(reader.line_num)
    return records, lines


def _records(text: str, separator: str, garbled: np.ndarray | None) -> tuple[pd.DataFrame, RowNotes]:
    """The CSV as a grid (one row per record, "" for a missing cell) with each record's field
    count; quoted separators and line breaks as pandas and Excel read them (doubled quotes)."""
    try:
        records, lines = _parse_records(text, separator, strict=True)
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise  # the file ends inside a quoted field: cut off in transit
        # a stray quote inside a field (`5" Display`) is read as a character, as Excel reads it
        records, lines = _parse_records(text, separator, strict=False)
    fields = np.array([len(r) for r in records], dtype="int64")
    grid = pd.DataFrame(records, dtype=object).fillna("") if records else pd.DataFrame()
    bad = None
    if garbled is not None and len(records):
        # a record is garbled when any of its physical lines is (a quoted field may span lines)
        last = np.array(lines, dtype="int64")
        first = np.concatenate(([1], last[:-1] + 1))
        seen = np.concatenate(([0], np.cumsum(garbled)))
        bad = seen[np.minimum(last, len(garbled))] - seen[np.minimum(first - 1, len(garbled))] > 0
    return grid, RowNotes(fields=fields, garbled=bad)


def _read_csv(data: bytes, contract: Contract, feed: str | None, result: FileRead) -> None:
    if data.startswith(b"PK\x03\x04"):
        result.problems.append(Problem("unreadable", detail_de="Excel-Arbeitsmappe mit Endung .csv – bitte als .xlsx senden",
                                       detail_en="an Excel workbook named .csv – send it as .xlsx"))
        return
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        result.problems.append(Problem("unreadable", detail_de="Excel 97-2003 (.xls) mit Endung .csv – bitte als .xlsx "
                                       "oder .csv speichern", detail_en="an Excel 97-2003 file (.xls) named .csv – save "
                                       "it as .xlsx or .csv"))
        return
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text, encoding, garbled = data.decode("utf-16"), "utf-16", None
        except UnicodeDecodeError:
            result.problems.append(Problem("unreadable", detail_de="Zeichenkodierung nicht lesbar (UTF-16 defekt)",
                                           detail_en="unknown text encoding (broken UTF-16)"))
            return
        raw = text.encode("utf-8")
    else:
        text, raw = None, data
    # The limits are checked on the bytes before the text is decoded line by line or parsed.
    sep_line, separator = _separator(raw[:HEADER_BYTES].decode("utf-8", "replace"),
                                     contract.feeds.get(feed) if feed else None)
    problem = _csv_limits(raw, separator, contract)
    if problem is not None:
        result.problems.append(problem)
        return
    if text is None:
        text, encoding, garbled = _decode(data)
    if "\x00" in text:
        result.problems.append(Problem("unreadable", detail_de="keine Textdatei (Binärdaten)", detail_en="not a text file (binary data)"))
        return
    if sep_line:  # Excel's `sep=;`: Excel hides the line, so the header is still row 1
        text = text.partition("\n")[2]
        garbled = garbled[1:] if garbled is not None else None
    try:
        grid, notes = _records(text, separator, garbled)
    except csv.Error as exc:
        result.problems.append(Problem("unreadable", detail_de=f"CSV-Struktur defekt oder abgeschnitten: {exc}",
                                       detail_en=f"broken or truncated CSV: {exc}"))
        return
    if feed is None:
        result.problems.append(Problem("unknown_feed"))
        return
    if grid.empty:
        result.problems.append(Problem("unreadable", feed=feed, detail_de="keine Kopfzeile", detail_en="no header row"))
        return
    sheet = sheet_from_grid(grid, contract.feeds[feed], None, contract, result, notes)
    if sheet is not None:
        sheet.decimal_comma = separator in (";", "\t")
        sheet.encoding, sheet.separator = encoding, SEPARATORS.get(separator, separator)
        result.sheets.append(sheet)


# The separator is sniffed on the first line that is not blank (title and blank lines above the
# header are found by the header search).
HEADER_LINES = 12
HEADER_BYTES = 1 << 20


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
    first_line = data[:data.find(b"\n")] if b"\n" in data[:HEADER_BYTES] else data[:HEADER_BYTES]
    if _csv_limits(data, _sniff_separator(first_line.decode("utf-8", "replace")), contract) is not None:
        return None  # over a limit: `read_file` refuses it, before decoding 50 MB twice
    try:
        text, encoding = (data[3:].decode("utf-8"), "utf-8-sig") if data.startswith(codecs.BOM_UTF8) \
            else (data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text or text.count("\r") != text.count("\r\n") or text.count('"') % 2:
        return None  # an odd number of quotes: cut off inside a quoted field, or a stray quote
    first, _, body = text.partition("\n")
    separator = _sniff_separator(first)
    header_line = first[:-1] if first.endswith("\r") else first
    if not header_line.replace(separator, "").strip(" \t"):
        return None  # a blank first line: the header is further down, `read_file` finds it
    if SEP_LINE.match(header_line) or _has_totals_line(body, contract.totals_words):
        return None  # Excel's `sep=` line or a totals row: `read_file` reads the file alone
    if body and not body.endswith("\n"):
        body += "\n"
    return CsvText(index, encoding, separator, header_line, body, body.count("\n"))


def group_csv_texts(texts: list[CsvText], feeds: list[str]) -> dict[tuple[str, str, str], list[CsvText]]:
    """Files of one feed with the same header line and separator, in the given order."""
    groups: dict[tuple[str, str, str], list[CsvText]] = {}
    for text, feed in zip(texts, feeds):
        groups.setdefault((feed, text.separator, text.header_line), []).append(text)
    return groups


@functools.cache
def _has_totals_line(body: str, totals_words: frozenset[str]) -> bool:
    """Whether a line could be a totals row. The words are looked for anywhere first (a substring
    search, fast), the line-start pattern only where one occurs: most files have none."""
    folded = body.casefold()
    return any(word in folded for word in _shortest(totals_words)) and bool(_totals_line(totals_words).search(body))


@functools.cache
def _shortest(words: frozenset[str]) -> tuple[str, ...]:
    """The words no other word is part of: `sum` finds `summe` and `gesamtsumme` too."""
    return tuple(sorted(w for w in words if not any(other != w and other in w for other in words)))


def _totals_line(totals_words: frozenset[str]) -> re.Pattern:
    """A line whose first cell could be a totals word (header.py judges it; this only routes)."""
    words = "|".join(sorted(map(re.escape, totals_words)))
    return re.compile(rf'^[\s;,\t"]*(?:{words})\b', re.IGNORECASE | re.MULTILINE)


def _parse_arrow(text: str, separator: str, rows: int, quoted: bool) -> list[pa.Array] | None:
    """Header line and bodies with Arrow's (multi-threaded) reader. Arrow refuses a line whose
    field count differs from the header's (a ragged line: `read_file` rejects that one row and
    reads the rest) and a line longer than its block; and each physical line must be one record
    (a quoted field spanning lines merges them), so the district's row numbers can be read off.
    Otherwise None: the files are read one by one."""
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=separator, quote_char='"' if quoted else False,
                                             double_quote=quoted, escape_char=False, newlines_in_values=quoted,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(GROUP_COLUMNS)},
                                                 null_values=[], strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if table.num_rows != rows or table.num_columns > GROUP_COLUMNS:
        return None
    return [column.combine_chunks() for column in table.columns]


# Arrow types the columns by name (f0, f1, …): every column of a group is text.
GROUP_COLUMNS = 256


def _parse_group(files: list[CsvText]) -> list[pa.Array] | None:
    """The grid of header line + every body line, one Arrow string array per column; None when
    row numbers cannot be read off or a line has another field count than the header."""
    text = files[0].header_line + "\n" + "".join(f.body for f in files)
    separator, rows = files[0].separator, 1 + sum(f.lines for f in files)
    return _parse_arrow(text, separator, rows, quoted='"' in text)


def _trimmed_text(column: pa.Array | None, length: int) -> pa.Array:
    """header.py's `_clean_text` in Arrow (pandas' str.strip is this same Arrow kernel): trimmed, empty -> null."""
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
    # As in `sheet_from_grid`: a cell is empty only when it is "".
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
    if header_problems(result.plan, feed, None, 0):
        # A title line above the header, a missing or a forbidden column: each file alone finds
        # its header or gives its own answer (the same problems, with its own rows read).
        return [], files
    keep = pa.array(nonempty)
    kept = {name: body[i].filter(keep) for i, name in result.plan.mapping.items()}
    length = int(nonempty.sum())
    columns = {"source_row": pa.array(line_in_file[nonempty] + 2, pa.int64())}  # header = row 1
    columns.update({c.name: _trimmed_text(kept.get(c.name), length) for c in feed.columns})
    columns[ROW_PROBLEM] = pa.nulls(length, pa.string())  # every line had the header's fields
    result.rows = pa.table(columns)
    result.file_of_row = file_of_line[nonempty]
    return [result], []
