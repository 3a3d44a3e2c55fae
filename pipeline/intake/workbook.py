"""Reading XLSX workbooks (contract section 2), bounded before anything is allocated.

python-calamine turns a sheet into a dense grid spanning every cell it holds: one cell at
XFD1048576 makes a 2 KB file ask for 550 GB. So every part of the zip is inflated here first,
through `zipfile` (whose checksum stops a part that lies about its size), and each worksheet's XML
is scanned for the cells it really holds (with a value) against the contract's limits. Only a
workbook that fits is handed to calamine. The scan also finds formulas without a stored value,
which calamine would read as empty cells.
"""
from __future__ import annotations

import datetime as dt
import html
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field

import pandas as pd
import python_calamine

from pipeline.contract import Contract, fold
from pipeline.intake.header import FileRead, Problem, RowNotes, count_data_rows, looks_forbidden, sheet_from_grid

CHUNK = 4 * 1024 * 1024
# A cell with content: its opening tag (not self-closing) with its reference first, as Excel,
# LibreOffice, xlsxwriter and openpyxl write it.
VALUED_ROW = re.compile(rb'<c r="[A-Z]{1,3}([0-9]{1,7})"[^>]*(?<!/)>')
VALUED_COLUMN = re.compile(rb'<c r="([A-Z]{1,3})[0-9]{1,7}"[^>]*(?<!/)>')
# A cell holding a formula and no value (`<f>…</f>` or `<f …/>`, then `</c>`).
FORMULA_ONLY = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*(?<!/)>\s*<f(?:\s[^>]*)?(?:/>|>[^<]*</f>)'
                          rb'\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>')  # openpyxl writes an empty <v />
PREFIXED = re.compile(rb"<(\w+):(?:worksheet|sheetData)\b")
TAGS = re.compile(rb"<(row|c|f|v|is|/c)(?=[\s/>])([^>]*)>")
REF = re.compile(rb'\br="([A-Z]{0,3})([0-9]{0,7})"')
SHEET_ENTRY = re.compile(rb'<(?:\w+:)?sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]*)"')
RELATION = re.compile(rb'<Relationship\b[^>]*?\bId="([^"]*)"[^>]*?\bTarget="([^"]*)"')
RELATION_REVERSED = re.compile(rb'<Relationship\b[^>]*?\bTarget="([^"]*)"[^>]*?\bId="([^"]*)"')


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - 64
    return number


@dataclass
class SheetScan:
    """What a worksheet's XML holds: the used range from A1 (what calamine would allocate)."""
    rows: int = 0
    columns: int = 0
    cells: int = 0
    formulas: list[tuple[int, int]] = field(default_factory=list)  # 0-based (row, column)


class TooLarge(Exception):
    """A sheet over a limit: the figure that broke it (both languages) and the limit."""

    def __init__(self, figure: str, limit_de: str, limit_en: str):
        super().__init__(figure)
        self.figure, self.limit_de, self.limit_en = figure, limit_de, limit_en


def _figure(what_de: str, what_en: str, value: int, limit: int) -> TooLarge:
    # the scan stops at the first row over the limit: the figure is what it had seen by then
    return TooLarge(f"mindestens {value:,} {what_de}".replace(",", ".") + f" / at least {value:,} {what_en}",
                    f"Grenze {limit:,}".replace(",", "."), f"limit {limit:,}")


def _check(scan: SheetScan, contract: Contract) -> None:
    if scan.rows > contract.max_rows:
        raise _figure("Zeilen", "rows", scan.rows, contract.max_rows)
    if scan.columns > contract.max_columns:
        raise _figure("Spalten", "columns", scan.columns, contract.max_columns)


def _scan_fast(chunk: bytes, scan: SheetScan) -> None:
    """Cells with their reference first (the usual case): regular expressions, no loop per cell."""
    rows = VALUED_ROW.findall(chunk)
    if rows:
        scan.rows = max(scan.rows, max(map(int, set(rows))))
        scan.columns = max(scan.columns, max(map(_column_number, set(VALUED_COLUMN.findall(chunk)))))
        scan.cells += len(rows)
    if b"<f" in chunk:
        for letters, row in FORMULA_ONLY.findall(chunk):
            scan.formulas.append((int(row) - 1, _column_number(letters) - 1))


def _scan_tags(chunk: bytes, scan: SheetScan, state: list[int]) -> None:
    """Tag by tag, for writers that leave out cell references (calamine then counts positions)."""
    row, col, has_f, has_v = state
    for tag, attrs in TAGS.findall(chunk):
        if tag == b"row":
            ref = REF.search(attrs)
            row = int(ref[2]) if ref and ref[2] else row + 1
            col = 0
        elif tag == b"c":
            ref = REF.search(attrs)
            if ref and ref[1]:
                col = _column_number(ref[1])
                row = int(ref[2]) if ref[2] else row
            else:
                col += 1
            has_f = has_v = 0
            if attrs.endswith(b"/"):
                continue
            scan.cells += 1
            scan.rows, scan.columns = max(scan.rows, row), max(scan.columns, col)
        elif tag == b"f":
            has_f = 1
        elif tag in (b"v", b"is"):
            has_v = 0 if attrs.rstrip().endswith(b"/") else 1
        elif has_f and not has_v:  # </c>
            scan.formulas.append((row - 1, col - 1))
    state[:] = [row, col, has_f, has_v]


def _scan_sheet(archive: zipfile.ZipFile, part: str, contract: Contract) -> SheetScan:
    """Inflate one worksheet part in chunks, cut at row ends, and check its used range as it goes."""
    scan, state, pending, prefix = SheetScan(), [0, 0, 0, 0], b"", None
    with archive.open(part) as stream:
        while True:
            data = stream.read(CHUNK)
            if prefix is None:  # `<x:sheetData>`: a writer that prefixes the main namespace
                found = PREFIXED.search(data)
                prefix = found[1] + b":" if found else b""
            if prefix:
                data = data.replace(b"<" + prefix, b"<").replace(b"</" + prefix, b"</")
            buffer = pending + data
            cut = buffer.rfind(b"</row>") + len(b"</row>") if data else len(buffer)
            if cut < len(b"</row>"):
                if len(buffer) > 16 * CHUNK:  # one row of 64 MB: no table
                    raise TooLarge("eine Zeile über 64 MB / one row over 64 MB", "", "")
                pending = buffer
                continue
            chunk, pending = buffer[:cut], buffer[cut:]
            cells = chunk.count(b"<c ") + chunk.count(b"<c>") + chunk.count(b"<c/>")
            if not state[0] and cells == chunk.count(b'<c r="'):
                _scan_fast(chunk, scan)
            else:
                state[0] = state[0] or scan.rows
                _scan_tags(chunk, scan, state)
            _check(scan, contract)
            if not data:
                break
    if scan.rows * scan.columns > contract.max_cells:
        raise TooLarge(f"{scan.rows:,} Zeilen × {scan.columns} Spalten".replace(",", ".")
                       + f" / {scan.rows:,} rows × {scan.columns} columns",
                       f"Grenze {contract.max_cells:,} Zellen".replace(",", "."), f"limit {contract.max_cells:,} cells")
    return scan


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> worksheet part, from xl/workbook.xml and its relations."""
    names = set(archive.namelist())
    book = archive.read("xl/workbook.xml")
    rels = archive.read("xl/_rels/workbook.xml.rels") if "xl/_rels/workbook.xml.rels" in names else b""
    targets = {rid: target for rid, target in RELATION.findall(rels)}
    targets.update({rid: target for target, rid in RELATION_REVERSED.findall(rels)})
    parts = {}
    for name, rid in SHEET_ENTRY.findall(book):
        target = targets.get(rid, b"").decode("utf-8", "replace")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        if part in names:
            parts[html.unescape(name.decode("utf-8", "replace"))] = part
    return parts


def scan_workbook(data: bytes, contract: Contract) -> dict[str, SheetScan] | Problem:
    """Every part inflated once (checksums), every worksheet within the limits, or why not."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE container: Excel 97-2003, or a workbook with a password
        return Problem("unreadable", detail_de="Excel 97-2003 (.xls) oder mit Kennwort geschützt – bitte ohne Kennwort "
                       "als .xlsx oder .csv speichern", detail_en="Excel 97-2003 (.xls) or protected by a password – "
                       "please save it as .xlsx or .csv without a password")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            unpacked = sum(info.file_size for info in infos)
            if unpacked > contract.xlsx_max_unpacked_bytes:
                limit = contract.xlsx_max_unpacked_bytes / 1048576
                return Problem("too_large", value=f"{unpacked / 1048576:.0f} MB entpackt / unpacked",
                               detail_de=f"Arbeitsmappe entpackt zu groß (Grenze {limit:.0f} MB)",
                               detail_en=f"workbook expands beyond the limit ({limit:.0f} MB)")
            names = {info.filename for info in infos}
            if "xl/workbook.xml" not in names:
                if "content.xml" in names:
                    return Problem("unreadable", detail_de="OpenDocument-Tabelle (.ods) mit Endung .xlsx – bitte als "
                                   ".xlsx oder .csv speichern", detail_en="an OpenDocument spreadsheet (.ods) named "
                                   ".xlsx – save it as .xlsx or .csv")
                return Problem("unreadable", detail_de="keine Excel-Arbeitsmappe (xl/workbook.xml fehlt)",
                               detail_en="not an Excel workbook (xl/workbook.xml is missing)")
            parts = _sheet_parts(archive)
            # every worksheet part is scanned, also one whose sheet name could not be matched
            named = {part: name for name, part in parts.items()}
            worksheets = [*parts.values(), *sorted(n for n in names - set(named)
                                                   if n.startswith("xl/worksheets/") and n.endswith(".xml"))]
            scans = {}
            for part in worksheets:
                name = named.get(part, part)
                try:
                    scans[name] = _scan_sheet(archive, part, contract)
                except TooLarge as large:
                    return Problem("too_large", sheet=name, value=large.figure, detail_de=large.limit_de,
                                   detail_en=large.limit_en)
            for info in infos:  # the other parts: inflated once, so their checksums are proven too
                if info.filename not in worksheets:
                    with archive.open(info) as stream:
                        while stream.read(CHUNK):
                            pass
            return scans
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, ValueError, OSError) as exc:
        return Problem("unreadable", detail_de=f"keine gültige XLSX-Datei (beschädigt oder abgeschnitten: {exc})",
                       detail_en=f"not a valid XLSX file (corrupt or truncated: {exc})")


def _cell_text(value) -> str:
    """Excel cell -> the text the district sees; real dates (also at midnight) become ISO dates."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return str(value).strip()


def read_workbook(data: bytes, contract: Contract, result: FileRead) -> None:
    scans = scan_workbook(data, contract)
    if isinstance(scans, Problem):
        result.problems.append(scans)
        return
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        visible = {m.name: m.visible == python_calamine.SheetVisibleEnum.Visible for m in workbook.sheets_metadata}
        kinds = {m.name: m.typ for m in workbook.sheets_metadata}
        grids = {}
        for name in workbook.sheet_names:
            scan = scans.get(name)
            if (scan is not None and not scan.cells) or kinds.get(name, python_calamine.SheetTypeEnum.WorkSheet) \
                    != python_calamine.SheetTypeEnum.WorkSheet:  # no cell with a value, or a chart sheet
                grids[name] = pd.DataFrame()
                continue
            # (a sheet without a scan of its own: every worksheet part was within the limits)
            sheet = workbook.get_sheet_by_name(name)
            rows, columns = (sheet.end[0] + 1, sheet.end[1] + 1) if sheet.end else (0, 0)
            if rows > contract.max_rows or columns > contract.max_columns or rows * columns > contract.max_cells:
                # the scan and calamine disagree (a writer the scan does not know): calamine's word counts
                result.problems.append(Problem("too_large", sheet=name, value=f"{rows:,} × {columns:,}",
                                               detail_de="Blatt zu groß", detail_en="sheet too large"))
                return
            cells = sheet.to_python(skip_empty_area=False)
            del sheet
            for i, row in enumerate(cells):  # row by row, so the cells as calamine gave them are freed as we go
                cells[i] = [v.strip() if type(v) is str else _cell_text(v) for v in row]
            grids[name] = pd.DataFrame(cells, dtype=object) if cells else pd.DataFrame()
            del cells
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        result.problems.append(Problem("unreadable", detail_de=f"Arbeitsmappe nicht lesbar: {exc}",
                                       detail_en=f"workbook cannot be read: {exc}"))
        return
    seen: set[str] = set()
    for sheet_name, grid in grids.items():
        if grid.empty or not grid.ne("").to_numpy().any():
            result.ignored_sheets.append(sheet_name)  # an empty "Tabelle2" loses nothing
            continue
        feed = contract.feed_lookup.get(fold(sheet_name))
        hidden = not visible.get(sheet_name, True)
        if feed is None and (hidden or contract.is_list_sheet(sheet_name)):
            # drop-down values or a hidden helper: not data, but it must hold no identifier either
            _forbidden_elsewhere(grid, sheet_name, contract, result)
            label = "ausgeblendet / hidden" if hidden else "Auswahlliste / list"
            result.ignored_sheets.append(f"{sheet_name} ({label})")
            continue
        if feed is None or feed in seen:
            detail = ("Datenbereich doppelt in dieser Mappe", "feed appears twice in this workbook") if feed else ("", "")
            if not _forbidden_elsewhere(grid, sheet_name, contract, result):
                result.problems.append(Problem("unknown_feed", sheet=sheet_name, value=sheet_name,
                                               detail_de=detail[0], detail_en=detail[1],
                                               rows_read=count_data_rows(grid)))
            continue
        seen.add(feed)
        formulas = scans[sheet_name].formulas if sheet_name in scans else []
        notes = RowNotes(formulas=formulas) if formulas else None
        sheet = sheet_from_grid(grid, contract.feeds[feed], sheet_name, contract, result, notes)
        if sheet is not None:
            sheet.decimal_comma = True  # text cells in a German workbook carry decimal commas
            result.sheets.append(sheet)
    if result.forbidden:
        _set_aside_whole(result)


def _forbidden_elsewhere(grid: pd.DataFrame, sheet_name: str, contract: Contract, result: FileRead) -> bool:
    found = looks_forbidden(grid, contract)
    result.problems += [Problem("forbidden_column", sheet=sheet_name, column=h, rows_read=count_data_rows(grid))
                        for h in found]
    return bool(found)


def _set_aside_whole(result: FileRead) -> None:
    """A personal identifier on any sheet sets the whole workbook aside: it is not archived, so
    none of its sheets can be loaded either. Their rows count as rejected (read = accepted + rejected)."""
    where = ", ".join(dict.fromkeys(p.sheet or "" for p in result.problems if p.reason_code == "forbidden_column"))
    for sheet in result.sheets:
        result.problems.append(Problem("forbidden_column", feed=sheet.feed, sheet=sheet.sheet, rows_read=len(sheet.rows),
                                       detail_de=f"Blatt {where} enthält Personendaten; die ganze Mappe wurde nicht eingelesen",
                                       detail_en=f"sheet {where} carries personal identifiers; the whole workbook was not loaded"))
    result.sheets = []
