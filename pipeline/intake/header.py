"""What the reader hands on, and how a grid of text becomes one feed's rows (contract sections 2, 4).

A grid is the file as the district sees it: one row per spreadsheet row (a CSV record), text cells,
"" for an empty cell. Here the header row is found (the row that names the most of the feed's
columns, so title rows and a merged two-row header are understood), forbidden and missing columns
set the sheet aside, totals rows are set apart, and what is wrong with a whole row (too many or too
few fields, characters in another encoding, a formula without a stored value) goes into the raw
column `row_problem`, which every feed's suite rejects as `bad_value`: one validation path.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.contract import Contract, Feed, fold

# Rows searched for the header: a title, a subtitle, a blank line and a two-row header fit.
HEADER_SEARCH_ROWS = 10
# A totals row's other cells: numbers as offices write them (`1.234`, `12,5`, `€ 300`).
TOTALS_NUMBER = r"^\s*(?:€|EUR)?\s*-?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?\s*(?:€|EUR)?\s*$|^\s*-?\d+(?:\.\d+)?\s*$"
# Texts of `row_problem` (also the value a finding shows); each feed's suite matches their start.
FIELDS_TEXT = "{found} Felder statt {expected} / {found} fields instead of {expected}"
ENCODING_TEXT = "Zeichenkodierung gemischt (kein UTF-8) / mixed encoding (not UTF-8)"
FORMULA_TEXT = "Formel ohne gespeicherten Wert in {column} / formula without a stored value in {column}"
ROW_PROBLEM = "row_problem"
ROW_PROBLEM_HEADER = "(ganze Zeile / whole row)"


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
    rows: pd.DataFrame                      # canonical columns + source_row + row_problem
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


@dataclass
class RowNotes:
    """What the file reader knows about grid rows that a grid of text cannot show."""
    fields: np.ndarray | None = None                     # per grid row: fields in the CSV record
    garbled: np.ndarray | None = None                    # per grid row: bytes not in the file's encoding
    formulas: list[tuple[int, int]] = field(default_factory=list)  # (grid row, grid column) without a value


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
    forbidden = [h for h in headers if h and (contract.is_forbidden(h) or fold(h) in feed.forbidden)]
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


def header_problems(plan: HeaderPlan, feed: Feed, sheet_name: str | None, rows_read: int) -> list[Problem]:
    if plan.forbidden:
        return [Problem("forbidden_column", feed=feed.name, sheet=sheet_name, column=h, rows_read=rows_read)
                for h in plan.forbidden]
    return [Problem("missing_column", feed=feed.name, sheet=sheet_name, column=c, rows_read=rows_read)
            for c in plan.missing]


def _clean_text(column: pd.Series) -> pd.Series:
    """Trimmed text, with empty cells (and columns the file lacks) as None."""
    text = column.astype("string").str.strip()
    return text.astype(object).where(text.notna() & (text != ""), None)


def _known(header: str, feed: Feed, contract: Contract) -> bool:
    return bool(header) and (fold(header) in feed.header_lookup or fold(header) in feed.forbidden
                             or contract.is_forbidden(header))


def _merged(upper: list[str], lower: list[str], feed: Feed, contract: Contract) -> list[str]:
    """A two-row header cell by cell: "Teilnehmende" (merged over three columns) above "gesamt" is
    `Teilnehmende gesamt`; "davon ehrenamtlich" below it stands alone; an id merged down two rows
    stands in the upper row. The first of these readings the feed knows wins."""
    filled = pd.Series(upper).replace("", np.nan).ffill().fillna("").tolist()
    merged = []
    for up, fill, low in zip(upper, filled, lower):
        options = [f"{fill} {low}".strip() if fill and low else "", low, up]
        merged.append(next((o for o in options if _known(o, feed, contract)), low or up))
    return merged


def find_header(grid: pd.DataFrame, nonempty: np.ndarray, feed: Feed, contract: Contract) -> tuple[int, int, list[str]]:
    """(first header position, last header position, header texts): among the first non-empty
    rows, the row (or the pair of adjacent rows) naming the most of the feed's columns; the first
    non-empty row when none names any (it then lacks the required columns)."""
    positions = np.flatnonzero(nonempty)[:HEADER_SEARCH_ROWS]
    first = int(positions[0])
    best = (0, first, first, [str(h).strip() for h in grid.iloc[first]])
    for pos in positions:
        lower = [str(h).strip() for h in grid.iloc[pos]]
        readings = [(pos, lower)]
        if pos > 0 and nonempty[pos - 1]:
            readings.append((pos - 1, _merged([str(h).strip() for h in grid.iloc[pos - 1]], lower, feed, contract)))
        for top, headers in readings:
            score = sum(_known(h, feed, contract) for h in headers)
            if score > best[0]:
                best = (score, int(top), int(pos), headers)
    return best[1], best[2], best[3]


def _totals_rows(body: pd.DataFrame, contract: Contract) -> pd.Series:
    """Rows whose first non-empty cell is "Summe", "Gesamt", "Total" … and the others numbers."""
    filled = body.ne("").to_numpy()
    if not len(body) or not filled.any():
        return pd.Series(False, index=body.index)
    first_col = filled.argmax(axis=1)
    first = pd.Series(body.to_numpy()[np.arange(len(body)), first_col], index=body.index, dtype=object)
    # the word itself ("Summe", "Gesamt:", "Summe Q1"), not an id that starts with it ("Total-1", "Summe1")
    words = "|".join(sorted(contract.totals_words))
    candidate = first.str.match(rf"^\s*(?:{words})\b(?![-_/]?\d)", case=False).fillna(False).astype(bool)
    if not candidate.any():
        return candidate
    rest = body[candidate.to_numpy()].to_numpy(dtype=object, copy=True)
    rest[np.arange(len(rest)), first_col[candidate.to_numpy()]] = ""
    rest = pd.DataFrame(rest, dtype=object).apply(lambda c: c.str.strip())
    numbers = rest.apply(lambda c: c.str.match(TOTALS_NUMBER) | c.eq(""))
    some_number = rest.ne("").any(axis=1)
    candidate[candidate] = (numbers.all(axis=1) & some_number).to_numpy()
    return candidate


def _row_problems(grid: pd.DataFrame, body_index: pd.Index, header_pos: int, headers: list[str],
                  notes: RowNotes | None) -> pd.Series:
    """`row_problem` per body row (positions in `grid`): None, or what makes the row unreadable."""
    problem = pd.Series(None, index=body_index, dtype=object)
    if notes is None:
        return problem
    if notes.fields is not None:
        width = max((i + 1 for i, h in enumerate(headers) if h), default=len(headers))
        fields = notes.fields[body_index]
        beyond = grid.iloc[body_index, width:].ne("").any(axis=1).to_numpy() if grid.shape[1] > width else False
        ragged = (fields < width) | beyond
        problem[ragged] = [FIELDS_TEXT.format(found=int(n), expected=width) for n in fields[ragged]]
    if notes.garbled is not None:
        garbled = notes.garbled[body_index] & problem.isna().to_numpy()
        problem[garbled] = ENCODING_TEXT
    for row, col in notes.formulas:
        if row in problem.index and pd.isna(problem[row]):
            column = headers[col] if col < len(headers) and headers[col] else f"Spalte / column {col + 1}"
            problem[row] = FORMULA_TEXT.format(column=column)
    return problem


def sheet_from_grid(grid: pd.DataFrame, feed: Feed, sheet_name: str | None, contract: Contract,
                    result: FileRead, notes: RowNotes | None = None) -> Sheet | None:
    """Header checks of sections 2 and 4, then the data rows as text with the district's row
    numbers (grid row i is row i + 1: the header of a plain file is row 1)."""
    grid = grid.reset_index(drop=True)
    nonempty = grid.ne("").any(axis=1).to_numpy()
    if not nonempty.any():
        result.problems.append(Problem("unreadable", feed=feed.name, sheet=sheet_name,
                                       detail_de="keine Kopfzeile", detail_en="no header row"))
        return None
    _, header_pos, headers = find_header(grid, nonempty, feed, contract)
    body_index = pd.Index(np.flatnonzero(nonempty[header_pos + 1:]) + header_pos + 1)
    body = grid.iloc[body_index]
    totals = _totals_rows(body, contract).to_numpy()
    plan = plan_header(headers, feed, contract)
    ignored = list(plan.ignored)
    if totals.any():
        # Not data and not a mistake: set apart, listed with the ignored columns, not counted as read.
        ignored += [f"Zeile {n}: Summenzeile / row {n}: totals row" for n in body_index[totals] + 1]
        body_index, body = body_index[~totals], body[~totals]
    problems = header_problems(plan, feed, sheet_name, len(body))
    if problems:
        result.problems += problems
        return None
    rows = body[list(plan.mapping)].rename(columns=plan.mapping)
    rows = rows.reindex(columns=[c.name for c in feed.columns]).apply(_clean_text)
    rows.insert(0, "source_row", (body_index + 1).astype("int64"))
    problem = _row_problems(grid, body_index, header_pos, headers, notes)
    rows[ROW_PROBLEM] = problem.astype(object).where(problem.notna(), None).to_numpy()
    written = dict(plan.written)
    if rows[ROW_PROBLEM].notna().any():
        written[ROW_PROBLEM] = ROW_PROBLEM_HEADER  # how a finding on the whole row names its column
    return Sheet(feed=feed.name, sheet=sheet_name, rows=rows.reset_index(drop=True), headers=written,
                 ignored_columns=ignored)


def count_data_rows(grid: pd.DataFrame) -> int:
    nonempty = grid.ne("").any(axis=1)
    return max(int(nonempty.sum()) - 1, 0)


def looks_forbidden(grid: pd.DataFrame, contract: Contract) -> list[str]:
    """Forbidden headers in the first non-empty row of a sheet that is not read as a feed (an
    unknown, hidden or list sheet): the workbook is archived whole, so it must not keep a list of
    people there either. Only that row: the values of a drop-down list ("Telefonberatung",
    "E-Mail-Beratung") are no header."""
    nonempty = grid.ne("").any(axis=1).to_numpy()
    if not nonempty.any():
        return []
    first = grid.iloc[int(np.flatnonzero(nonempty)[0])]
    return [str(h) for h in dict.fromkeys(first) if h and contract.is_forbidden(str(h))]
