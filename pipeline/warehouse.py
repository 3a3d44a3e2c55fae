"""DuckDB warehouse: schema, connection, and partition-replace writes.

Layers (as in dbt's jaffle_shop): raw_<feed> holds rows as delivered (text), stg_<feed> the
typed rows that passed the contract, cur_<feed> the current records with corrections applied
(the latest delivery of an id wins). Indicators read cur_<feed> only.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.contract import load_contract

SQL_TYPES = {"text": "VARCHAR", "pseudonym": "VARCHAR", "enum": "VARCHAR", "date": "DATE",
             "int": "BIGINT", "decimal": "DOUBLE", "bool": "BOOLEAN"}

META_DDL = """
CREATE TABLE IF NOT EXISTS receipts (
    receipt_id VARCHAR PRIMARY KEY, file_name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
    size_bytes BIGINT, received_at TIMESTAMP NOT NULL, district_ags VARCHAR, quarter VARCHAR,
    kind VARCHAR, archive_path VARCHAR, status VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS sheets (
    receipt_id VARCHAR NOT NULL, feed VARCHAR NOT NULL, sheet VARCHAR, rows_read BIGINT NOT NULL,
    headers VARCHAR, ignored_columns VARCHAR, encoding VARCHAR, separator VARCHAR);
CREATE TABLE IF NOT EXISTS file_rejections (
    receipt_id VARCHAR NOT NULL, feed VARCHAR, sheet VARCHAR, "column" VARCHAR, value VARCHAR,
    reason_code VARCHAR NOT NULL, reason_de VARCHAR, reason_en VARCHAR, rows_read BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS row_rejections (
    receipt_id VARCHAR NOT NULL, feed VARCHAR NOT NULL, district_ags VARCHAR, delivery_quarter VARCHAR,
    source_row BIGINT, "column" VARCHAR, value VARCHAR, reason_code VARCHAR NOT NULL,
    reason_de VARCHAR, reason_en VARCHAR);
CREATE TABLE IF NOT EXISTS sheet_results (
    receipt_id VARCHAR NOT NULL, feed VARCHAR NOT NULL, rows_read BIGINT, accepted BIGINT,
    rejected BIGINT, late BIGINT);
"""

# A delivery's current file per feed: the latest received sheet that was loaded. A set-aside
# file never becomes current, so it cannot wipe out an earlier good delivery.
VIEWS_SQL = """
CREATE OR REPLACE VIEW current_sheets AS
SELECT s.receipt_id, s.feed, r.district_ags, r.quarter AS delivery_quarter, r.file_name, r.received_at
FROM sheets s JOIN receipts r USING (receipt_id)
QUALIFY row_number() OVER (PARTITION BY r.district_ags, r.quarter, s.feed
                           ORDER BY r.received_at DESC, r.file_name DESC) = 1;
"""


def raw_columns(feed) -> list[str]:
    return [c.name for c in feed.columns]


def stg_columns(feed) -> list[tuple[str, str]]:
    cols = []
    for c in feed.columns:
        if c.type == "range":
            cols += [(f"{c.name}_low", "BIGINT"), (f"{c.name}_high", "BIGINT")]
        else:
            cols.append((c.name, SQL_TYPES[c.type]))
    return cols


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _feed_ddl(feed) -> str:
    raw = ", ".join(f"{q(c)} VARCHAR" for c in raw_columns(feed))
    stg = ", ".join(f"{q(n)} {t}" for n, t in stg_columns(feed))
    ids = ", ".join(q(c) for c in ("district_ags", *feed.id_columns))
    if feed.name == "attendance":
        # An event's attendance list belongs to the event: the latest delivery listing it wins.
        current = f"""
        CREATE OR REPLACE VIEW cur_attendance AS SELECT * FROM stg_attendance
        QUALIFY delivery_quarter = max(delivery_quarter) OVER (PARTITION BY district_ags, event_id);"""
    else:
        current = f"""
        CREATE OR REPLACE VIEW cur_{feed.name} AS SELECT * FROM stg_{feed.name}
        QUALIFY row_number() OVER (PARTITION BY {ids} ORDER BY delivery_quarter DESC) = 1;"""
    return f"""
    CREATE TABLE IF NOT EXISTS raw_{feed.name} (
        receipt_id VARCHAR NOT NULL, district_ags VARCHAR, delivery_quarter VARCHAR, sheet VARCHAR,
        source_row BIGINT, decimal_comma BOOLEAN, {raw});
    CREATE TABLE IF NOT EXISTS stg_{feed.name} (
        receipt_id VARCHAR NOT NULL, district_ags VARCHAR NOT NULL, delivery_quarter VARCHAR NOT NULL,
        source_row BIGINT, quarter VARCHAR, is_late BOOLEAN, {stg});
    {current}
    """


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(META_DDL)
    for feed in load_contract().feeds.values():
        con.execute(_feed_ddl(feed))
    con.execute(VIEWS_SQL)


@contextlib.contextmanager
def connect(path: Path | str, read_only: bool = False):
    """One connection per unit of work; writers are serialised by the Dagster pool `duckdb`."""
    path = Path(path)
    if read_only and not path.exists():
        con = duckdb.connect(":memory:")
        ensure_schema(con)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
        if not read_only:
            ensure_schema(con)
    try:
        yield con
    finally:
        con.close()


def replace_rows(con, table: str, frame: pd.DataFrame, where: str, params: list) -> None:
    """Delete what a unit of work owns, then insert its new rows, in one transaction."""
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
        if len(frame):
            con.register("_frame", frame)
            cols = ", ".join(q(c) for c in frame.columns)
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _frame")
            con.unregister("_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def fetch_df(con, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()
