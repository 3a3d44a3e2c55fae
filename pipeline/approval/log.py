"""Approval of a programme's quarter (contract section 5): the evaluators' log, and each quarter's state.

`approve` records who approved which programme-quarter, when and why, together with what the
approval was given on: the quarter's figures as they stood (snapshot rows of indicator_values
and indicator_breakdowns: the quarter's rows and the programme-to-date `total` rows), the
deliveries whose records make up the quarter (file, SHA-256, received at) and the catalogue
version. `reopen` withdraws an approval. The log is only ever appended to.

A quarter's state: `open` (never approved, or reopened), `approved`, or `changed` ("changed since
approval") when the deliveries that now make up the quarter, or the catalogue files that decide
figures, are not those the approval was given on. Which records make up a quarter is read from
the warehouse's current records (cur_<feed>: the receipt each current record came from), so a
re-delivery that corrects a record of an approved quarter touches it, and one of another
quarter does not. Nothing here decides what to recompute: that stays Dagster's.
"""
from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from pipeline.approval import history
from pipeline.catalogue import Catalogue
from pipeline.contract import load_contract
from pipeline.warehouse import literal, q, table_exists, transaction

DDL = """
CREATE TABLE IF NOT EXISTS approvals (
    approval_id BIGINT PRIMARY KEY, programme_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL,
    action VARCHAR NOT NULL, approved_by VARCHAR NOT NULL, approved_at TIMESTAMP NOT NULL, comment VARCHAR,
    catalogue_version BIGINT, deliveries_print VARCHAR);
CREATE TABLE IF NOT EXISTS approval_deliveries (
    approval_id BIGINT NOT NULL, district_ags VARCHAR, quarter VARCHAR, feed VARCHAR, receipt_id VARCHAR,
    file_name VARCHAR, sha256 VARCHAR, received_at TIMESTAMP);
"""
APPROVED, REOPENED = "approved", "reopened"
OPEN, CHANGED = "open", "changed"
QUARTER = re.compile(r"[0-9]{4}-Q[1-4]")


class ApprovalError(ValueError):
    """A request the log cannot take (unknown programme, no figures for the quarter, nothing to reopen)."""

    def __init__(self, code: str, de: str, en: str):
        super().__init__(en)
        self.code, self.de, self.en = code, de, en


def ensure_tables(con) -> None:
    con.execute(DDL)
    con.execute(history.DDL)


def has_approvals(con) -> bool:
    return table_exists(con, "approvals") and con.execute("SELECT count(*) FROM approvals").fetchall()[0][0] > 0


# -- which deliveries make up a quarter ---------------------------------------------------------------

def contributions_sql(quarters: list[str] | None = None, districts: list[str] | None = None) -> str:
    """(district_ags, quarter, feed, receipt_id) of every current record, by the quarter the record
    belongs to (an attendance list: its event's quarter), one row per receipt, not per record;
    only of these quarters and districts when given. The lists are literals inside each feed's
    scan: a filter from outside does not reach through the union, the DISTINCT and the cur_ views'
    windows (national scale: 4.6 s for all attendance lists, under 1 s for one quarter's)."""
    def where(district: str, quarter: str) -> str:
        terms = [f"{quarter} IN ({', '.join(literal(x) for x in quarters)})" if quarters is not None else "",
                 f"{district} IN ({', '.join(literal(x) for x in districts)})" if districts is not None else ""]
        terms = [t for t in terms if t]
        return f" WHERE {' AND '.join(terms)}" if terms else ""

    if (quarters is not None and not quarters) or (districts is not None and not districts):
        return ("SELECT NULL::VARCHAR AS district_ags, NULL::VARCHAR AS quarter, NULL::VARCHAR AS feed, "
                "NULL::VARCHAR AS receipt_id WHERE false")
    parts = []
    for feed in load_contract().feeds:
        if feed == "attendance":
            parts.append("SELECT DISTINCT a.district_ags, e.quarter, 'attendance' AS feed, a.receipt_id "
                         "FROM cur_attendance a JOIN cur_events e ON e.district_ags = a.district_ags "
                         f"AND e.event_id = a.event_id{where('a.district_ags', 'e.quarter')}")
        else:
            parts.append(f"SELECT DISTINCT district_ags, quarter, {literal(feed)} AS feed, receipt_id "
                         f"FROM cur_{feed}{where('district_ags', 'quarter')}")
    return " UNION ALL ".join(parts)


def _members_frame(catalogue: Catalogue) -> pd.DataFrame:
    m = catalogue.membership
    return pd.DataFrame({"programme_id": m["programme_id"].astype(object), "district_ags": m["district_ags"].astype(object)})


def _quarter_deliveries(con, catalogue: Catalogue, keys: pd.DataFrame) -> str:
    """SQL: (programme_id, quarter, district_ags, feed, receipt_id, file_name, sha256, received_at) of
    the programme-quarters in `keys` (registered as _keys, with _members)."""
    members = _members_frame(catalogue)
    con.register("_members", members)
    con.register("_keys", keys)
    districts = sorted(set(members.loc[members["programme_id"].isin(set(keys["programme_id"])), "district_ags"]))
    return f"""
        SELECT k.programme_id, c.quarter, c.district_ags, c.feed, c.receipt_id, r.file_name, r.sha256, r.received_at
        FROM ({contributions_sql(sorted(set(keys["quarter"])), districts)}) c
        JOIN _members m ON m.district_ags = c.district_ags
        JOIN _keys k ON k.programme_id = m.programme_id AND k.quarter = c.quarter
        JOIN receipts r ON r.receipt_id = c.receipt_id"""


PRINT = "md5(string_agg(district_ags || '|' || feed || '|' || sha256, ',' ORDER BY district_ags, feed, sha256))"


# -- approve and reopen ---------------------------------------------------------------------------------

def _check_request(con, catalogue: Catalogue, programme_id: str, quarter: str) -> None:
    if programme_id not in {p.id for p in catalogue.programmes}:
        raise ApprovalError("unknown_programme", f"Unbekanntes Programm: {programme_id}",
                            f"unknown programme: {programme_id}")
    if not QUARTER.fullmatch(quarter):
        raise ApprovalError("bad_quarter", f"Quartal {quarter!r} nicht in der Form JJJJ-Qn",
                            f"quarter {quarter!r} is not of the form YYYY-Qn")
    found = table_exists(con, "indicator_values") and con.execute(
        "SELECT count(*) FROM indicator_values WHERE programme_id = ? AND period = ?",
        [programme_id, quarter]).fetchall()[0][0]
    if not found:
        raise ApprovalError("no_figures", f"Für {programme_id} {quarter} gibt es noch keine Werte (erst `teilhabe run`)",
                            f"{programme_id} {quarter} has no figures yet (run `teilhabe run` first)")


def _next_id(con) -> int:
    return con.execute("SELECT coalesce(max(approval_id), 0) + 1 FROM approvals").fetchall()[0][0]


def _snapshot(con, table: str, source: str, approval_id: int, programme_id: str, quarter: str) -> None:
    """Copy the programme's rows of `quarter` and `total` from `source` into `table` (the snapshot
    grows a column when the source gained one since: older snapshots then hold NULL there)."""
    if not table_exists(con, source):
        return
    if not table_exists(con, table):
        con.execute(f"CREATE TABLE {table} AS SELECT CAST(NULL AS BIGINT) AS approval_id, * FROM {source} WHERE false")
    have = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]).fetchall()}
    for name, sql_type in con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                                      "ORDER BY column_index", [source]).fetchall():
        if name not in have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {q(name)} {sql_type}")
    con.execute(f"INSERT INTO {table} BY NAME SELECT {approval_id} AS approval_id, * FROM {source} "
                "WHERE programme_id = ? AND period IN (?, 'total')", [programme_id, quarter])


def approve(con, catalogue: Catalogue, programme_id: str, quarter: str, by: str, comment: str = "",
            now: dt.datetime | None = None, keep=None) -> int:
    """Approve the programme's quarter as it stands now; returns the approval's id. `keep(con, id)`
    runs inside the transaction once the entry is written (journal.keeper: the archive's copy)."""
    ensure_tables(con)
    _check_request(con, catalogue, programme_id, quarter)
    now = now or dt.datetime.now().replace(microsecond=0)
    version = history.record_catalogue(con, catalogue, now)
    keys = pd.DataFrame({"programme_id": [programme_id], "quarter": [quarter]}, dtype=object)
    with transaction(con):
        approval_id = _next_id(con)
        con.execute(f"""INSERT INTO approval_deliveries
                        SELECT {approval_id}, district_ags, quarter, feed, receipt_id, file_name, sha256, received_at
                        FROM ({_quarter_deliveries(con, catalogue, keys)})""")
        printed = con.execute(f"SELECT {PRINT} FROM approval_deliveries WHERE approval_id = ?",
                              [approval_id]).fetchall()[0][0]
        _snapshot(con, "approved_values", "indicator_values", approval_id, programme_id, quarter)
        _snapshot(con, "approved_breakdowns", "indicator_breakdowns", approval_id, programme_id, quarter)
        con.execute("INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [approval_id, programme_id, quarter, APPROVED, by, now, comment or None, version, printed])
        if keep:
            keep(con, approval_id)
    con.unregister("_keys")
    con.unregister("_members")
    return approval_id


def reopen(con, catalogue: Catalogue, programme_id: str, quarter: str, by: str, comment: str = "",
           now: dt.datetime | None = None, keep=None) -> int:
    """Withdraw the standing approval of the programme's quarter: it is open again and its quarter
    rows leave the published state until approved again. Returns the log entry's id."""
    ensure_tables(con)
    last = con.execute("SELECT action FROM approvals WHERE programme_id = ? AND quarter = ? "
                       "ORDER BY approval_id DESC LIMIT 1", [programme_id, quarter]).fetchall()
    if not last or last[0][0] != APPROVED:
        raise ApprovalError("not_approved", f"{programme_id} {quarter} ist nicht freigegeben: nichts zu öffnen",
                            f"{programme_id} {quarter} is not approved: nothing to reopen")
    now = now or dt.datetime.now().replace(microsecond=0)
    version = history.record_catalogue(con, catalogue, now)
    with transaction(con):
        approval_id = _next_id(con)
        con.execute("INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    [approval_id, programme_id, quarter, REOPENED, by, now, comment or None, version])
        if keep:
            keep(con, approval_id)
    return approval_id


# -- states ---------------------------------------------------------------------------------------------

def states(con, catalogue: Catalogue) -> pd.DataFrame:
    """Every programme-quarter with figures, or with an entry in the log: its state (open, approved,
    changed), why it changed (deliveries, catalogue), and the standing log entry (id, action, who,
    when, comment). Set-based: one query over the current records of the approved quarters."""
    columns = ["programme_id", "quarter", "state", "changed_because", "approval_id", "action", "approved_by",
               "approved_at", "comment"]
    if not table_exists(con, "indicator_values") and not table_exists(con, "approvals"):
        return pd.DataFrame(columns=columns)
    approvals = table_exists(con, "approvals") and table_exists(con, "catalogue_versions")
    figures = ("SELECT DISTINCT programme_id, period AS quarter FROM indicator_values WHERE period <> 'total'"
               if table_exists(con, "indicator_values") else "SELECT NULL::VARCHAR AS programme_id, NULL::VARCHAR AS quarter WHERE false")
    if not approvals:
        frame = con.execute(f"SELECT * FROM ({figures}) ORDER BY ALL").df()
        frame["state"] = OPEN
        return frame.reindex(columns=columns)
    standing = con.execute("""SELECT * FROM approvals
                              QUALIFY row_number() OVER (PARTITION BY programme_id, quarter ORDER BY approval_id DESC) = 1""").df()
    keys = standing.loc[standing["action"] == APPROVED, ["programme_id", "quarter"]].astype(object)
    current = con.execute(f"SELECT programme_id, quarter, {PRINT} AS now_print FROM "
                          f"({_quarter_deliveries(con, catalogue, keys.reset_index(drop=True))}) GROUP BY ALL").df()
    con.unregister("_keys")
    con.unregister("_members")
    con.register("_figure_files", pd.DataFrame({
        "file": list(history.FIGURE_FILES),
        "sha256": [history.sha256_of(path) for name, path in history.catalogue_files(catalogue).items()
                   if name in history.FIGURE_FILES]}, dtype=object))
    moved = con.execute("""SELECT DISTINCT v.version_id FROM catalogue_versions v JOIN _figure_files f USING (file)
                           WHERE v.sha256 <> f.sha256""").df()
    con.unregister("_figure_files")
    frame = con.execute(f"SELECT * FROM ({figures}) ORDER BY ALL").df()
    frame = frame.merge(standing, on=["programme_id", "quarter"], how="outer")
    frame = frame.merge(current, on=["programme_id", "quarter"], how="left")
    approved = frame["action"] == APPROVED
    deliveries = approved & (frame["now_print"].fillna("") != frame["deliveries_print"].fillna(""))
    catalogue_moved = approved & frame["catalogue_version"].isin(set(moved["version_id"]))
    frame["state"] = OPEN
    frame.loc[approved, "state"] = APPROVED
    frame.loc[deliveries | catalogue_moved, "state"] = CHANGED
    frame["changed_because"] = [", ".join(w for w, flag in (("deliveries", d), ("catalogue", c)) if flag) or None
                                for d, c in zip(deliveries, catalogue_moved)]
    order = [p.id for p in catalogue.programmes]
    frame["_order"] = frame["programme_id"].map({pid: n for n, pid in enumerate(order)}).fillna(len(order))
    frame = frame.sort_values(["_order", "programme_id", "quarter"]).reset_index(drop=True)
    return frame.reindex(columns=columns)


STATES_TABLE = "approval_states"


def write_states(con, catalogue: Catalogue) -> pd.DataFrame:
    """`states`, also kept as the table approval_states (derived, replaced whole by each run's
    asset `approvals`), from which the UI check and the data-quality page read them."""
    frame = states(con, catalogue)
    con.register("_states", frame.astype({"approval_id": "float64"}))
    con.execute(f"CREATE OR REPLACE TABLE {STATES_TABLE} AS SELECT * FROM _states")
    con.unregister("_states")
    return frame


def read_states(con, catalogue: Catalogue) -> pd.DataFrame:
    """The states as the last run left them (approval_states), or computed when there is none."""
    if table_exists(con, STATES_TABLE):
        return con.execute(f"SELECT * FROM {STATES_TABLE}").df()
    return states(con, catalogue)


def log(con) -> pd.DataFrame:
    """The log as recorded, oldest first."""
    if not table_exists(con, "approvals"):
        return pd.DataFrame(columns=["approval_id", "programme_id", "quarter", "action", "approved_by", "approved_at",
                                     "comment", "catalogue_version"])
    return con.execute("SELECT approval_id, programme_id, quarter, action, approved_by, approved_at, comment, "
                       "catalogue_version FROM approvals ORDER BY approval_id").df()
