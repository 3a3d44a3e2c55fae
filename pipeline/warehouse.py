"""DuckDB warehouse: schema, connection, and partition-replace writes.

Layers (as in dbt's jaffle_shop): raw_<feed> holds rows as delivered (text), stg_<feed> the
typed rows that passed the contract, cur_<feed> the current records with corrections applied
(the latest delivery of an id wins). Indicators read cur_<feed> only.
"""
from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from pipeline.contract import load_contract

SQL_TYPES = {"text": "VARCHAR", "pseudonym": "VARCHAR", "enum": "VARCHAR", "date": "DATE", "month": "DATE",
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
    rejected BIGINT, late BIGINT, events_print UBIGINT, arrivals_print UBIGINT);
-- Findings that do not reject (pipeline/quality/findings.py): derived, recomputed whole.
CREATE TABLE IF NOT EXISTS row_warnings (
    rule_id VARCHAR, reason_code VARCHAR NOT NULL, feed VARCHAR, receipt_id VARCHAR, district_ags VARCHAR,
    delivery_quarter VARCHAR, source_row BIGINT, "column" VARCHAR, value VARCHAR, left_value DOUBLE,
    right_value DOUBLE, reason_de VARCHAR, reason_en VARCHAR);
-- The outliers' follow-up list (pipeline/quality/outliers.py): the evaluators' record of what they
-- confirmed, by whom and when, and what a re-delivery corrected.
CREATE TABLE IF NOT EXISTS outlier_followup (
    measure_id VARCHAR NOT NULL, district_ags VARCHAR NOT NULL, quarter VARCHAR NOT NULL, record_id VARCHAR NOT NULL,
    value DOUBLE, current_value DOUBLE, receipt_id VARCHAR, delivery_quarter VARCHAR, source_row BIGINT,
    history_median DOUBLE, history_n BIGINT, history_score DOUBLE, peer_median DOUBLE, peer_n BIGINT,
    peer_score DOUBLE, status VARCHAR NOT NULL, confirmed_by VARCHAR, confirmed_at TIMESTAMP, comment VARCHAR);
"""

# A delivery's current file per feed: the latest received sheet that was loaded. A set-aside
# file never becomes current, so it cannot wipe out an earlier good delivery; a withdrawn one
# (no longer in the inbox) counts no more.
VIEWS_SQL = """
CREATE OR REPLACE VIEW current_sheets AS
SELECT s.receipt_id, s.feed, r.district_ags, r.quarter AS delivery_quarter, r.file_name, r.received_at
FROM sheets s JOIN receipts r USING (receipt_id)
WHERE r.status <> 'withdrawn'
QUALIFY row_number() OVER (PARTITION BY r.district_ags, r.quarter, s.feed
                           ORDER BY r.received_at DESC, r.file_name DESC) = 1;
"""


def repeated_ids(feed) -> str:
    """The staged records of `feed` (one id column) whose id the district delivered more than
    once: receipt_id, district_ags, delivery_quarter, id. Only these can be corrections (a record
    whose id came in an earlier delivery of the district), and they are few."""
    ident = q(feed.id_columns[0])
    return f"""(SELECT s.receipt_id, s.district_ags, s.delivery_quarter, s.{ident} AS id FROM stg_{feed.name} s
               SEMI JOIN (SELECT district_ags, {ident} FROM stg_{feed.name} GROUP BY ALL HAVING count(*) > 1) a
               ON a.district_ags = s.district_ags AND a.{ident} = s.{ident})"""


def _views_sql(feeds) -> str:
    corrections = " UNION ALL ".join(
        f"""SELECT receipt_id, count(*) AS n FROM (
                SELECT receipt_id, delivery_quarter > min(delivery_quarter) OVER (PARTITION BY district_ags, id) AS later
                FROM {repeated_ids(f)}) WHERE later GROUP BY 1"""
        for f in feeds if len(f.id_columns) == 1)
    return VIEWS_SQL + f"""
CREATE OR REPLACE VIEW latest_receipts AS
SELECT * FROM receipts WHERE status <> 'withdrawn'
QUALIFY row_number() OVER (PARTITION BY lower(file_name) ORDER BY received_at DESC, file_name DESC) = 1;

-- Per received file: read = accepted + rejected, always (a set-aside file rejects all it read).
CREATE OR REPLACE VIEW delivery_log AS
WITH sheet_counts AS (
    SELECT receipt_id, sum(rows_read) AS rows_read, sum(accepted) AS accepted, sum(rejected) AS rejected,
           sum(late) AS late FROM sheet_results GROUP BY receipt_id),
set_aside AS (
    SELECT receipt_id, sum(n) AS rows_read FROM (
        SELECT receipt_id, coalesce(feed, ''), coalesce(sheet, ''), max(rows_read) AS n
        FROM file_rejections GROUP BY ALL) GROUP BY receipt_id),
superseded AS (
    SELECT s.receipt_id, string_agg(s.feed || ': ' || c.file_name, '; ' ORDER BY s.feed) AS superseded_by
    FROM sheets s JOIN receipts r USING (receipt_id)
    JOIN current_sheets c ON c.district_ags = r.district_ags AND c.delivery_quarter = r.quarter AND c.feed = s.feed
    WHERE c.receipt_id <> s.receipt_id GROUP BY s.receipt_id),
corrected AS (SELECT receipt_id, sum(n) AS corrected FROM ({corrections}) GROUP BY receipt_id)
SELECT r.receipt_id, r.file_name, r.sha256, r.received_at, r.district_ags, r.quarter, r.kind, r.status,
       CAST(coalesce(sc.rows_read, 0) + coalesce(sa.rows_read, 0) AS BIGINT) AS rows_read,
       CAST(coalesce(sc.accepted, 0) AS BIGINT) AS accepted,
       CAST(coalesce(sc.rejected, 0) + coalesce(sa.rows_read, 0) AS BIGINT) AS rejected,
       CAST(coalesce(sc.late, 0) AS BIGINT) AS late, CAST(coalesce(co.corrected, 0) AS BIGINT) AS corrected,
       su.superseded_by, r.archive_path, r.size_bytes
FROM receipts r
LEFT JOIN sheet_counts sc USING (receipt_id) LEFT JOIN set_aside sa USING (receipt_id)
LEFT JOIN superseded su USING (receipt_id) LEFT JOIN corrected co USING (receipt_id);

-- Rejections that stand now: of current sheets, and of the latest version of each file name.
CREATE OR REPLACE VIEW rejections AS
SELECT r.file_name AS file, fr.sheet, r.district_ags, r.quarter, fr.feed, CAST(NULL AS BIGINT) AS "row",
       fr."column", fr.value, fr.reason_code, fr.reason_de AS reason, fr.reason_en
FROM file_rejections fr JOIN latest_receipts r USING (receipt_id)
UNION ALL
SELECT c.file_name, s.sheet, rr.district_ags, rr.delivery_quarter, rr.feed, rr.source_row,
       rr."column", rr.value, rr.reason_code, rr.reason_de, rr.reason_en
FROM row_rejections rr JOIN current_sheets c ON c.receipt_id = rr.receipt_id AND c.feed = rr.feed
JOIN sheets s ON s.receipt_id = rr.receipt_id AND s.feed = rr.feed;

-- What a delivery gets back: the rejections, and the warnings on rows that stay accepted.
CREATE OR REPLACE VIEW findings AS
SELECT file, sheet, district_ags, quarter, feed, "row", "column", value, reason_code, reason, reason_en,
       'rejected' AS severity FROM rejections
UNION ALL
SELECT c.file_name, s.sheet, w.district_ags, w.delivery_quarter, w.feed, w.source_row, w."column", w.value,
       w.reason_code, w.reason_de, w.reason_en, 'warning'
FROM row_warnings w JOIN current_sheets c ON c.receipt_id = w.receipt_id AND c.feed = w.feed
JOIN sheets s ON s.receipt_id = w.receipt_id AND s.feed = w.feed;
"""


def raw_columns(feed) -> list[str]:
    return [c.name for c in feed.columns]


# What every raw row carries besides the delivered cells (text, one column per contract column).
RAW_FIELDS = (("receipt_id", "VARCHAR NOT NULL"), ("district_ags", "VARCHAR"), ("delivery_quarter", "VARCHAR"),
              ("sheet", "VARCHAR"), ("source_row", "BIGINT"), ("decimal_comma", "BOOLEAN"),
              # what makes the whole row unreadable (too many or too few fields, another encoding,
              # a formula without a value), written by the reader; each feed's suite rejects it
              ("row_problem", "VARCHAR"))
_ARROW_TYPES = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "BOOLEAN": pa.bool_()}


def raw_fields(feed) -> list[tuple[str, str]]:
    """raw_<feed>'s columns and SQL types (with their constraint)."""
    return [*RAW_FIELDS, *((name, "VARCHAR") for name in raw_columns(feed))]


def raw_arrow_schema(feed) -> pa.Schema:
    """raw_<feed>'s columns as Arrow types: what the intake hands DuckDB to append."""
    return pa.schema([(name, _ARROW_TYPES[sql.split()[0]]) for name, sql in raw_fields(feed)])


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


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _feed_ddl(feed) -> str:
    raw = ", ".join(f"{q(c)} {sql}" for c, sql in raw_fields(feed))
    stg = ", ".join(f"{q(n)} {t}" for n, t in stg_columns(feed))
    ids = ", ".join(q(c) for c in ("district_ags", *feed.id_columns))
    if feed.name == "attendance":
        # An event's attendance list belongs to the event: the latest delivery listing it wins.
        # A window, so that a filter on districts reaches the table (one district 0.40 s -> 0.08 s
        # for the incremental indicators; all 8 million rows 1.5 s -> 1.7 s, read once per run).
        current = """
        CREATE OR REPLACE VIEW cur_attendance AS SELECT * FROM stg_attendance
        QUALIFY delivery_quarter = max(delivery_quarter) OVER (PARTITION BY district_ags, event_id);"""
    else:
        current = f"""
        CREATE OR REPLACE VIEW cur_{feed.name} AS SELECT * FROM stg_{feed.name}
        QUALIFY row_number() OVER (PARTITION BY {ids} ORDER BY delivery_quarter DESC) = 1;"""
    return f"""
    CREATE TABLE IF NOT EXISTS raw_{feed.name} ({raw});
    ALTER TABLE raw_{feed.name} ADD COLUMN IF NOT EXISTS row_problem VARCHAR;  -- homes before row_problem
    CREATE TABLE IF NOT EXISTS stg_{feed.name} (
        receipt_id VARCHAR NOT NULL, district_ags VARCHAR NOT NULL, delivery_quarter VARCHAR NOT NULL,
        source_row BIGINT, quarter VARCHAR, is_late BOOLEAN, {stg});
    {current}
    """


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    # Change-tracking tables of earlier versions: what changed is Dagster's record now (assets/versions.py).
    con.execute("DROP TABLE IF EXISTS stage_state; DROP TABLE IF EXISTS inbox_seen; DROP TABLE IF EXISTS asset_state; "
                "DROP TABLE IF EXISTS indicator_parts; DROP TABLE IF EXISTS indicator_district_state")
    con.execute(META_DDL)
    con.execute("ALTER TABLE receipts ADD COLUMN IF NOT EXISTS ignored_sheets VARCHAR")  # homes of 0.1.0
    con.execute("ALTER TABLE sheet_results ADD COLUMN IF NOT EXISTS events_print UBIGINT")  # homes of 0.2.0
    con.execute("ALTER TABLE sheet_results ADD COLUMN IF NOT EXISTS arrivals_print UBIGINT")  # homes before trajectories
    for feed in load_contract().feeds.values():
        con.execute(_feed_ddl(feed))
    con.execute(_views_sql(list(load_contract().feeds.values())))


# Bounded memory whatever the volume (DuckDB spills to disk beyond it); no progress bar in logs.
# Checkpoints when a step closes its connection rather than after every 16 MB of log: a national
# intake otherwise checkpoints after each chunk (its commits 3.8 s -> 1.4 s). A step's log stays
# on disk until then, so a stopped run loses nothing that was committed.
CONFIG = {"memory_limit": "2GB", "checkpoint_threshold": "1GB"}


@contextlib.contextmanager
def connect(path: Path | str, read_only: bool = False):
    """One connection per unit of work; writers are serialised by the Dagster pool `duckdb`."""
    path = Path(path)
    if read_only and not path.exists():
        con = duckdb.connect(":memory:")
        ensure_schema(con)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only, config=CONFIG)
        con.execute("SET enable_progress_bar = false")
        if not read_only:
            ensure_schema(con)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con):
    """One DuckDB transaction around the block: committed when it ends, rolled back when anything
    (an interrupt too) leaves it, so a stopped step leaves nothing half written."""
    con.execute("BEGIN")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def replace_rows(con, table: str, frame, where: str, params: list) -> None:
    """Delete what a unit of work owns, then insert its new rows, in one transaction."""
    with transaction(con):
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
        insert_rows(con, table, frame)


def insert_rows(con, table: str, frame) -> None:
    """Append a pandas frame or Arrow table to `table`, matching columns by name."""
    if not len(frame):
        return
    con.register("_frame", frame)
    names = frame.column_names if hasattr(frame, "column_names") else frame.columns  # Arrow or pandas
    cols = ", ".join(q(c) for c in names)
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _frame")
    con.unregister("_frame")


def table_exists(con, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchall()[0][0])


def inputs_signature(con, relations=(), files=(), views=(), extra: bytes = b"") -> str:
    """What a derived output is computed from: the rows of these relations (one query; table
    names, or name -> table or SELECT in parentheses, whose SQL counts too), these files' bytes (a
    missing file counts as empty), these views' definitions and `extra` (e.g. names from the
    catalogue), so a change to any re-computes. The code counts as the asset's code version."""
    relations = relations if isinstance(relations, dict) else {name: name for name in relations}
    digest = hashlib.sha256(repr((sorted(relations.items()), sorted(relation_prints(con, relations).items()))).encode())
    for path in files:
        digest.update(path.read_bytes() if path.is_file() else b"")
    digest.update(repr(view_definitions(con, views)).encode())
    digest.update(extra)
    return digest.hexdigest()


def group_prints(con, selects: list[str]) -> dict[str, str]:
    """Per `grp`: an order-independent digest of the row hashes `h` the selects yield (count, sum
    and XOR: the sum catches what XOR alone misses, a pair of equal rows changed alike)."""
    if not selects:
        return {}
    found = con.execute(f"""SELECT grp, md5(concat_ws(':', count(*), sum(h), bit_xor(h)))
                            FROM ({" UNION ALL ".join(selects)}) GROUP BY grp""").fetchall()
    return dict(found)


def row_hashes(frame: pd.DataFrame):
    """One uint64 per row of an in-memory frame, from the values of all columns (not the index);
    pandas hashes with a fixed key, so the same rows give the same hashes in every run."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def frame_print(frame: pd.DataFrame) -> str:
    """Digest of a frame's columns, their types and every row, in order."""
    digest = hashlib.sha256(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(row_hashes(frame).tobytes())
    return digest.hexdigest()


def relation_prints(con, relations: dict[str, str]) -> dict[str, str]:
    """name -> digest of the rows of that relation (a table, or a SELECT in parentheses), all in one query."""
    return group_prints(con, [f"SELECT '{name}' AS grp, hash(t) AS h FROM {sql} t" for name, sql in relations.items()])


def delivery_log_relations(feeds) -> dict[str, str]:
    """What the views delivery_log and rejections are computed from, as stored: the receipt and
    rejection tables and the id columns whose repeats are corrections. Fingerprinting these
    evaluates no view."""
    relations = {name: name for name in ("receipts", "sheets", "sheet_results", "file_rejections", "row_rejections")}
    for f in feeds:
        if len(f.id_columns) == 1:
            relations[f"ids_{f.name}"] = (f"(SELECT receipt_id, district_ags, delivery_quarter, {q(f.id_columns[0])} "
                                          f"FROM stg_{f.name})")
    return relations


def view_definitions(con, names) -> list[tuple[str, str]]:
    """(name, SQL) of these views, by name: a changed definition changes what they give."""
    if not names:
        return []
    return con.execute("SELECT view_name, sql FROM duckdb_views() WHERE view_name IN ? ORDER BY 1",
                       [list(names)]).fetchall()


def fetch_df(con, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()
