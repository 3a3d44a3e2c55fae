"""Writing files people open in Excel: deterministic bytes, no formula injection, no half files.

Safe: a text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
leading apostrophe (OWASP "CSV injection"); numbers, and text that is just a number, stay as they
are. Deterministic: fixed line endings and float format. Unchanged content is not rewritten, so
a second run on the same data changes nothing, not even a file's mtime.

One CSV writer, `write_csv`: DuckDB's COPY, from a warehouse relation or from a frame (registered
with DuckDB), the formula rule applied in SQL (`neutralised`).
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.warehouse import literal, q

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)*")  # "-12" or "+3,5" cannot run as a formula
FLOAT_FORMAT = "%.12g"  # 14.0 -> 14, 0.1 + 0.2 -> 0.3: stable text for the same figures


def neutralise(value):
    """Prefix `'` to text a spreadsheet would treat as a formula; anything else unchanged.
    The same rule as `neutralised` (SQL); tests/test_exports.py holds them to each other."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralised(expression: str) -> str:
    """SQL for `neutralise` of a text expression (NULL stays NULL)."""
    starts = ", ".join(literal(s) for s in FORMULA_STARTS)
    return (f"CASE WHEN left({expression}, 1) IN ({starts}) AND NOT regexp_full_match({expression}, "
            f"{literal(PLAIN_NUMBER.pattern)}) THEN '''' || {expression} ELSE {expression} END")


def csv_cell(name: str, sql_type: str, neutralise_text: bool = True, source: str = "src",
             header: str | None = None) -> str:
    """The select-list item that turns column `name` of `source` into its CSV text: floats as
    FLOAT_FORMAT (NaN blank, as missing), booleans True/False, text neutralised (empty text
    blank); others as DuckDB writes them (whole numbers, dates, timestamps ISO). `header`: the
    name written in the header row, if not `name`."""
    column = f"{source}.{q(name)}"
    if sql_type in ("DOUBLE", "FLOAT"):
        cell = f"CASE WHEN NOT isnan({column}) THEN printf({literal(FLOAT_FORMAT)}, {column}) END"
    elif sql_type == "BOOLEAN":
        cell = f"CASE WHEN {column} THEN 'True' WHEN NOT {column} THEN 'False' END"
    elif sql_type == "VARCHAR":
        # An empty text is written as nothing, as a missing one (COPY would write `""`).
        cell = f"nullif({neutralised(column) if neutralise_text else column}, '')"
    else:
        cell = column
    return f"{cell} AS {q(name if header is None else header)}"


def write_csv(data: pd.DataFrame | str, path: Path | str, con: duckdb.DuckDBPyConnection | None = None,
              order_by: str = "", neutralise_text: bool = True) -> Path:
    """The one CSV writer: comma-separated UTF-8 with BOM, `\\n` line endings, a header row.

    `data` is a frame, or a table name or SELECT over `con` (the warehouse: no round trip through
    pandas). `order_by` sorts the rows (SQL over the columns as `src.<column>`); a frame keeps its
    row order. Written by DuckDB's COPY to a temporary file, moved in place only if changed.
    Column names are plain (no comma, quote or line break): they are written unquoted."""
    path = Path(path)
    own = con is None
    con = duckdb.connect() if own else con
    registered = None
    try:
        if isinstance(data, pd.DataFrame):
            registered = "csv_frame"
            con.register(registered, data)
            source = registered
        else:
            source = data if re.fullmatch(r"\w+", data) else f"({data})"
        relation = con.sql(f"SELECT * FROM {source}")
        names = relation.columns
        if any(re.search(r'[,"\r\n]', name) for name in names):
            raise ValueError(f"a CSV column name holds a comma, quote or line break: {names}")
        # COPY has no byte-order mark option; the header row is the names as they are, so the
        # first name carries it.
        cells = [csv_cell(name, str(sql_type), neutralise_text, header="\ufeff" + name if n == 0 else None)
                 for n, (name, sql_type) in enumerate(zip(names, relation.types))]
        order = f" ORDER BY {order_by}" if order_by else ""
        with atomic_path(path) as tmp:
            con.execute(f"COPY (SELECT {', '.join(cells)} FROM {source} AS src{order}) TO {literal(str(tmp))} "
                        "(FORMAT csv, HEADER, DELIMITER ',', QUOTE '\"', NEW_LINE '\\n')")
    finally:
        if registered is not None:
            con.unregister(registered)
        if own:
            con.close()
    return path


@contextlib.contextmanager
def atomic_path(path: Path):
    """Write to a temporary name, then move it in place only if the bytes changed.

    A write that fails (a full disk, a stopped process) leaves the previous file as it was and no
    half file under the real name: the rename is atomic. The hidden temporary file is removed; a
    failure to remove it (a read-only folder) must not hide the error that stopped the write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        if path.is_file() and path.stat().st_size == tmp.stat().st_size and path.read_bytes() == tmp.read_bytes():
            return
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def folder_entries(folder: Path) -> list[tuple[str, os.DirEntry]]:
    """What a folder and its subfolders hold, one level down (reports/<quarter>/<file>), as
    (path relative to `folder`, entry); nothing if the folder is missing. Listed a folder at a
    time: the entries carry what is needed (type, stat) without a lookup per file."""
    try:
        top = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    found = []
    for entry in top:
        found.append((entry.name, entry))
        if entry.is_dir():
            found += [(f"{entry.name}/{inner.name}", inner) for inner in os.scandir(entry.path)]
    return found


def write_if_changed(path: Path, data: bytes) -> bool:
    path = Path(path)
    if path.exists() and path.read_bytes() == data:
        return False
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return True
