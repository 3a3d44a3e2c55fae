"""Approvals kept in the archive, so that `teilhabe rebuild` puts them back.

The warehouse is derived from the archive, except for what people decide (pipeline/decisions.py).
An approval is such a decision, and what it published cannot be derived again: the figures it
was given on stand in the warehouse as snapshots (approved_values, approved_breakdowns), computed
from deliveries and a catalogue that may both have changed since. So each log entry is written,
inside the transaction that writes it to the warehouse, to `archive/approvals/NNNNNN/` as one
Parquet file per table (its rows of approvals, approval_deliveries, approved_values,
approved_breakdowns, and the catalogue version it names), and announced by one line of the
decisions journal. A rebuild reads them back before anything is recomputed: the approval log,
the published state and `publish --as-of` are then what they were.

What a rebuild cannot bring back: catalogue versions that no approval named (seen only by a run).
The versions it restores are valid from their first sight until the next restored one.
"""
from __future__ import annotations

from pipeline import decisions
from pipeline.approval.log import ensure_tables
from pipeline.home import Home
from pipeline.warehouse import literal, table_exists

KIND = "approval"
FOLDER = "approvals"
LOG_TABLES = ("approvals", "approval_deliveries")
SNAPSHOT_TABLES = ("approved_values", "approved_breakdowns")
CATALOGUE_TABLE = "catalogue_versions"


def keeper(home: Home):
    """The hook `approve` / `reopen` call inside their transaction with the new entry's id."""
    return lambda con, approval_id: keep(con, home, approval_id)


def keep(con, home: Home, approval_id: int) -> None:
    """Write entry `approval_id` (as the open transaction sees it) into the archive and the journal."""
    folder = home.archive / FOLDER / f"{int(approval_id):06d}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):  # left by a transaction that did not commit
        old.unlink()
    where = f"approval_id = {int(approval_id)}"
    for table in (*LOG_TABLES, *SNAPSHOT_TABLES):
        if table_exists(con, table):
            _copy(con, f"SELECT * FROM {table} WHERE {where}", folder / f"{table}.parquet")
    _copy(con, f"SELECT * FROM {CATALOGUE_TABLE} WHERE version_id = (SELECT catalogue_version FROM approvals "
               f"WHERE {where})", folder / f"{CATALOGUE_TABLE}.parquet")
    decisions.append(home, KIND, approval_id=int(approval_id), folder=folder.relative_to(home.archive).as_posix())


def _copy(con, select: str, path) -> None:
    con.execute(f"COPY ({select}) TO {literal(str(path))} (FORMAT parquet)")


def restore(con, home: Home) -> int:
    """Put the journal's approvals back into a new warehouse; returns how many entries."""
    entries = decisions.entries(home, KIND)
    folders = [home.archive / e["folder"] for e in entries if (home.archive / e["folder"]).is_dir()]
    if not folders:
        return 0
    ensure_tables(con)
    for table in (*LOG_TABLES, *SNAPSHOT_TABLES, CATALOGUE_TABLE):
        files = [str(f / f"{table}.parquet") for f in folders if (f / f"{table}.parquet").is_file()]
        if not files:
            continue
        source = f"read_parquet([{', '.join(literal(f) for f in files)}], union_by_name = true)"
        if table in SNAPSHOT_TABLES:  # their columns are those of the figures when approved
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {source} ORDER BY approval_id")
        elif table == CATALOGUE_TABLE:
            con.execute(f"""INSERT INTO {table} BY NAME
                WITH v AS (SELECT DISTINCT ON (version_id, file) * FROM {source}),
                ends AS (SELECT version_id, lead(valid_from) OVER (ORDER BY version_id) AS ends
                         FROM (SELECT DISTINCT version_id, valid_from FROM v))
                SELECT v.* EXCLUDE (valid_to), ends.ends AS valid_to FROM v JOIN ends USING (version_id)
                WHERE version_id NOT IN (SELECT version_id FROM {table})""")
        else:
            con.execute(f"INSERT INTO {table} BY NAME SELECT DISTINCT * FROM {source} ORDER BY approval_id")
    return len(folders)

