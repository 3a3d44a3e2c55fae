"""Staging: raw_<feed> -> stg_<feed> through the contract's row rules, per feed and quarters.

The unit is one received sheet: its rows are judged by themselves (duplicates count per delivered
file; replacements and corrections are resolved later by the cur_ views). Typing and the SQL
screen run set-based in DuckDB (screen.py); only the flagged rows go through the GX suite
(suite.py). Which quarters need staging is Dagster's decision (assets/ingest.py): this module
stages every sheet of the quarters it is given.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pandas as pd

from pipeline import warehouse
from pipeline.catalogue import Catalogue
from pipeline.contract import Contract, Feed
from pipeline.intake.screen import (ScreenPlan, flag_candidates, register_typing, screen_plan, screen_tables, start_screen,
                                    typed_rows, typed_select)
from pipeline.intake.suite import REJECTION_COLUMNS, accepted_frame, prepare, rejection_frame, run_suite
from pipeline.indicators.loader import cached_indicators
from pipeline.quality.findings import rule_rejections
from pipeline.quality.rules import cached_rules
from pipeline.quarters import quarter_bounds


# The sheets a staging pass works on (temp table `_todo`, filled by `stage_feed`).
TODO = "(SELECT receipt_id FROM _todo)"


def _headers(con, feed: Feed, quarters: list[str], receipt_ids: list[str] | None = None) -> dict[str, dict[str, str]]:
    sheets = warehouse.fetch_df(con, f"""
        SELECT s.receipt_id, s.headers FROM sheets s JOIN receipts r USING (receipt_id)
        WHERE s.feed = ? AND r.quarter IN (SELECT unnest(?))
        {"AND s.receipt_id IN (SELECT unnest(?))" if receipt_ids is not None else ""}""",
                                [feed.name, quarters] + ([receipt_ids] if receipt_ids is not None else []))
    return {rid: json.loads(h) for rid, h in zip(sheets["receipt_id"], sheets["headers"])}


@dataclass
class Staged:
    """What staging left in the warehouse for one feed and these quarters."""
    results: pd.DataFrame        # per received sheet: receipt_id, feed, rows_read, accepted, rejected, late
    reasons: pd.Series           # reason_code -> rejected findings, most frequent first
    accepted: int                # stg rows of these quarters (current sheets)
    preview: pd.DataFrame        # a few stg rows
    print: str                   # digest of the stg rows and rejections of these quarters


# Quarters are staged in chunks of about this many raw rows (bounded memory in DuckDB and pandas).
STAGE_CHUNK_ROWS = 2_500_000


def stage_feed(con, contract: Contract, catalogue: Catalogue, feed: Feed, quarters: list[str],
               whole: set[str] | None = None) -> Staged:
    """Validate the feed's received sheets in these delivery quarters; current sheets become stg
    rows; rejections and per-sheet counts replace what staging left there before. The quarters in
    `whole` (default: all) are staged whole; in the others only the districts whose staging is
    out of date (`changed_districts`). Returns what staging left for the whole quarters."""
    whole = set(quarters) if whole is None else whole & set(quarters)
    if feed.name == "trajectories" and len(quarters) > 1:
        # A person's month of arrival is judged against the district's earlier deliveries
        # (`known_arrivals`): the quarters one at a time, in order, each on the ones before.
        for quarter in sorted(quarters):
            stage_feed(con, contract, catalogue, feed, [quarter], whole)
        return _staged(con, feed, quarters)
    limited = sorted(set(quarters) - whole)
    districts = sorted(changed_districts(con, feed, limited)) if limited else []
    # A withdrawn file (no longer in the inbox) is not judged again and its rows stop counting.
    con.execute(f"""DELETE FROM stg_{feed.name} WHERE delivery_quarter IN (SELECT unnest(?))
                    AND receipt_id IN (SELECT receipt_id FROM receipts WHERE status = 'withdrawn')""", [quarters])
    con.execute("""CREATE OR REPLACE TEMP TABLE _todo AS
                   SELECT s.receipt_id, r.quarter AS delivery_quarter FROM sheets s JOIN receipts r USING (receipt_id)
                   WHERE s.feed = $feed AND r.status <> 'withdrawn'
                     AND (r.quarter IN (SELECT unnest(CAST($whole AS VARCHAR[])))
                          OR (r.quarter IN (SELECT unnest(CAST($limited AS VARCHAR[])))
                              AND r.district_ags IN (SELECT unnest(CAST($districts AS VARCHAR[])))))""",
                {"feed": feed.name, "whole": sorted(whole), "limited": limited, "districts": districts})
    plan = screen_plan(feed)  # a suite beyond the screen is refused even when there is nothing to stage
    if con.execute("SELECT count(*) FROM _todo").fetchall()[0][0]:  # every write below is scoped to _todo
        _stage(con, contract, catalogue, feed, quarters, plan)
    con.execute("DROP TABLE _todo")
    return _staged(con, feed, quarters)


def known_arrivals(quarter: str) -> str:
    """Per district and person, the month of arrival of the person's accepted trajectory rows
    delivered before `quarter` (current sheets; the earliest dated row's, should they differ)."""
    return f"""(SELECT s.district_ags, s.person_key, arg_min(s.arrival_month, (s.date, s.source_row)) AS arrival_month
                FROM stg_trajectories s JOIN current_sheets c ON c.receipt_id = s.receipt_id AND c.feed = 'trajectories'
                WHERE s.delivery_quarter < {warehouse.literal(quarter)} AND s.arrival_month IS NOT NULL GROUP BY ALL)"""


def arrivals_prints(quarter: str) -> str:
    """Per district, a set hash of `known_arrivals(quarter)`: what its sheets of `quarter` were judged against."""
    return f"""(SELECT district_ags, bit_xor(hash(person_key, arrival_month)) AS arrivals_print
                FROM {known_arrivals(quarter)} GROUP BY 1)"""


# Per district, a set hash of the events attendance may name (what `_known_events` holds).
EVENTS_PRINTS = """(SELECT district_ags, bit_xor(hash(event_id)) AS events_print
                    FROM (SELECT DISTINCT district_ags, event_id FROM stg_events) GROUP BY 1)"""


def changed_districts(con, feed: Feed, quarters: list[str]) -> set[str]:
    """The districts whose staging of this feed in these quarters is out of date: a sheet never
    staged (no results: a new file), stg rows of a sheet no longer current (replaced or
    withdrawn), a current sheet with accepted rows missing from stg (the file that replaced it
    was withdrawn), or, for attendance, a sheet judged against other events than its district
    has now. Staging these districts' sheets leaves what staging the quarters whole would: every
    sheet is judged by itself and, for attendance, its district's events."""
    in_quarters = "delivery_quarter IN (SELECT unnest($quarters))"
    current = f"(SELECT receipt_id FROM current_sheets WHERE feed = $feed AND {in_quarters})"
    parts = [f"""SELECT r.district_ags FROM sheets s JOIN receipts r USING (receipt_id)
                 WHERE s.feed = $feed AND r.quarter IN (SELECT unnest($quarters)) AND r.status <> 'withdrawn'
                   AND NOT EXISTS (SELECT 1 FROM sheet_results sr WHERE sr.receipt_id = s.receipt_id AND sr.feed = s.feed)""",
             f"SELECT district_ags FROM stg_{feed.name} WHERE {in_quarters} AND receipt_id NOT IN {current}",
             f"""SELECT c.district_ags FROM current_sheets c JOIN sheet_results sr USING (receipt_id, feed)
                 WHERE c.feed = $feed AND c.{in_quarters} AND sr.accepted > 0 AND NOT EXISTS (
                     SELECT 1 FROM stg_{feed.name} t WHERE t.{in_quarters} AND t.receipt_id = c.receipt_id)"""]
    if feed.name == "attendance":
        parts.append(f"""SELECT r.district_ags FROM sheet_results sr JOIN receipts r USING (receipt_id)
                         LEFT JOIN {EVENTS_PRINTS} e USING (district_ags)
                         WHERE sr.feed = $feed AND r.quarter IN (SELECT unnest($quarters)) AND r.status <> 'withdrawn'
                           AND sr.events_print IS DISTINCT FROM coalesce(e.events_print, 0)""")
    if feed.name == "trajectories":  # staged a quarter at a time (stage_feed)
        parts += [f"""SELECT r.district_ags FROM sheet_results sr JOIN receipts r USING (receipt_id)
                      LEFT JOIN {arrivals_prints(quarter)} a USING (district_ags)
                      WHERE sr.feed = $feed AND r.quarter = {warehouse.literal(quarter)} AND r.status <> 'withdrawn'
                        AND sr.arrivals_print IS DISTINCT FROM coalesce(a.arrivals_print, 0)""" for quarter in quarters]
    found = con.execute(" UNION ".join(parts), {"feed": feed.name, "quarters": quarters}).fetchall()  # a few rows
    return {row[0] for row in found}


def basis(contract: Contract, catalogue: Catalogue, feed: Feed) -> str:
    """What every quarter of a feed is staged with besides its files and the code: the suite,
    the boolean words, the programme periods and the catalogue's reject rules. A change to any
    restages every quarter."""
    digest = hashlib.sha256(json.dumps(feed.suite, sort_keys=True, ensure_ascii=False).encode())
    digest.update(repr((sorted(contract.true_values), sorted(contract.false_values))).encode())
    digest.update(catalogue.membership.to_csv(index=False).encode())
    if feed.name == "survey":   # the survey's period and valid wave numbers come from the listed waves
        digest.update(catalogue.survey_waves.to_csv(index=False).encode())
    rejecting = cached_rules(catalogue).rejecting(feed.name)
    if rejecting:  # the catalogue's reject rules for this feed and the parameters they may name
        parameters = {n: p.value for n, p in cached_indicators(catalogue).parameters.items()}
        digest.update(repr((rejecting, sorted(parameters.items()))).encode())
    return digest.hexdigest()[:24]


def _current(con, feed: Feed, quarters: list[str]) -> set[str]:
    return set(warehouse.fetch_df(con, "SELECT receipt_id FROM current_sheets WHERE feed = ? AND delivery_quarter IN "
                                       "(SELECT unnest(?))", [feed.name, quarters])["receipt_id"])


def _known_events(con) -> pd.DataFrame:
    return warehouse.fetch_df(con, "SELECT DISTINCT district_ags, event_id FROM stg_events")


def _write_results(con, feed: Feed, quarters: list[str], rejections: pd.DataFrame, results: pd.DataFrame) -> None:
    warehouse.replace_rows(con, "row_rejections", rejections, "feed = ? AND delivery_quarter IN (SELECT unnest(?)) "
                           f"AND receipt_id IN {TODO}", [feed.name, quarters])
    warehouse.replace_rows(con, "sheet_results", results, f"feed = ? AND receipt_id IN {TODO}", [feed.name])


def _quarter_chunks(con, feed: Feed, quarters: list[str]) -> list[tuple[list[str], int]]:
    """The quarters in runs of at most STAGE_CHUNK_ROWS raw rows to stage (a larger quarter alone)."""
    sizes = dict(con.execute(f"SELECT delivery_quarter, count(*) FROM raw_{feed.name} "
                             f"WHERE delivery_quarter IN (SELECT unnest(?)) AND receipt_id IN {TODO} GROUP BY 1",
                             [quarters]).fetchall())
    chunks, current, rows = [], [], 0
    for quarter in quarters:
        if current and rows + sizes.get(quarter, 0) > STAGE_CHUNK_ROWS:
            chunks.append((current, rows))
            current, rows = [], 0
        current.append(quarter)
        rows += sizes.get(quarter, 0)
    return chunks + [(current, rows)] if current else chunks


def _stage(con, contract: Contract, catalogue: Catalogue, feed: Feed, quarters: list[str], plan: ScreenPlan) -> None:
    """Typing and screening in DuckDB (screen.py), GX on the flagged rows (suite.py)."""
    chunks = _quarter_chunks(con, feed, quarters)
    where = f"r.delivery_quarter IN (SELECT unnest($quarters)) AND r.receipt_id IN {TODO}"
    members = catalogue.survey_membership if feed.name == "survey" else catalogue.membership
    if feed.name != "survey":
        members = members[members["role"] == "programme"]
    else:   # the wave values each programme's survey rows may write (numbered waves: its catalogue)
        con.register("_waves_frame", catalogue.survey_waves[["district_ags", "start", "end", "wave"]])
        con.execute("""CREATE OR REPLACE TEMP TABLE _waves AS SELECT CAST(district_ags AS VARCHAR) AS district_ags,
                       CAST(start AS DATE) AS start, CAST("end" AS DATE) AS "end", CAST(wave AS VARCHAR) AS wave
                       FROM _waves_frame""")
        con.unregister("_waves_frame")
    bounds = pd.DataFrame([(q, *quarter_bounds(q)) for q in quarters], columns=["q", "q_start", "q_end"])
    con.register("_members_frame", members[["district_ags", "start", "end"]])
    con.register("_quarters_frame", bounds)
    con.execute("""CREATE OR REPLACE TEMP TABLE _members AS SELECT CAST(district_ags AS VARCHAR) AS district_ags,
                   CAST(start AS DATE) AS start, CAST("end" AS DATE) AS "end" FROM _members_frame""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _quarters AS SELECT CAST(q AS VARCHAR) AS q,
                   CAST(q_start AS DATE) AS q_start, CAST(q_end AS DATE) AS q_end FROM _quarters_frame""")
    con.unregister("_members_frame")
    con.unregister("_quarters_frame")
    if feed.name == "attendance":
        con.execute("CREATE OR REPLACE TEMP TABLE _known_events AS SELECT DISTINCT district_ags, event_id FROM stg_events")
    if feed.name == "trajectories":  # one quarter per pass (stage_feed)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _known_arrivals AS SELECT * FROM {known_arrivals(min(quarters))}")
    register_typing(con, feed, contract, f"delivery_quarter IN (SELECT unnest(?)) AND receipt_id IN {TODO}", [quarters])
    current = sorted(_current(con, feed, quarters))
    con.execute("CREATE OR REPLACE TEMP TABLE _cur AS SELECT unnest(?::VARCHAR[]) AS receipt_id", [current])
    stg_names = [name for name, _ in warehouse.stg_columns(feed)]
    stg_select = ", ".join(["receipt_id", "district_ags", "delivery_quarter", "source_row",
                            "_stg_quarter AS quarter", "_is_late AS is_late", *map(warehouse.q, stg_names)])
    raw_select = ", ".join(["receipt_id", "district_ags", "delivery_quarter", "source_row", "decimal_comma", "row_problem",
                            *(f"{warehouse.q(c + '__raw')} AS {warehouse.q(c)}" for c in warehouse.raw_columns(feed)),
                            *(["_arrival_consistent"] if feed.name == "trajectories" else [])])
    con.execute(f"DELETE FROM stg_{feed.name} WHERE delivery_quarter IN (SELECT unnest(?)) AND receipt_id IN {TODO}",
                [quarters])
    flagged, counts = [], []
    start_screen(con, plan)
    for chunk, _ in chunks:
        typed = typed_select(plan, where).replace("$quarters", "?")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _typed AS {typed}", [chunk])
        flag_candidates(con, plan)
        # Every staged sheet's clean rows, current or not: the reject rules judge them all below.
        con.execute(f"""INSERT INTO stg_{feed.name} SELECT {stg_select} FROM _typed t
                        WHERE NOT EXISTS (SELECT 1 FROM _cands c WHERE c.receipt_id = t.receipt_id
                                          AND c.source_row = t.source_row)""")
        counts.append(warehouse.fetch_df(con, """
            SELECT t.receipt_id, count(*) AS rows_read,
                   count(*) FILTER (WHERE t._is_late AND c.receipt_id IS NULL) AS late_clean
            FROM _typed t LEFT JOIN _cands c USING (receipt_id, source_row) GROUP BY 1"""))
        flagged.append(warehouse.fetch_df(con, f"""
            SELECT {raw_select} FROM {typed_rows(plan)} t SEMI JOIN _cands c USING (receipt_id, source_row)
            ORDER BY receipt_id, source_row"""))
    for table in ["_typed", "_cur", "_members", "_waves", "_quarters", "_known_events", "_known_arrivals", *(f"_ty_{c.name}" for c in feed.columns),
                  *screen_tables(plan)]:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    flagged = [f for f in flagged if len(f)]
    raw = pd.concat(flagged, ignore_index=True) if flagged else None
    per_receipt = pd.concat(counts, ignore_index=True) if counts else pd.DataFrame(
        columns=["receipt_id", "rows_read", "late_clean"])
    if raw is not None:
        headers = _headers(con, feed, quarters, sorted(set(raw["receipt_id"])))
        known_events = _known_events(con) if feed.name == "attendance" else None
        frame = prepare(raw, feed, contract, catalogue, known_events)
        failures = run_suite(frame, feed)  # one GX validation of the suite over every flagged row
        rejections = rejection_frame(frame, failures, feed, headers)
        accepted = accepted_frame(frame, rejections["_rid"].unique(), feed)
        warehouse.insert_rows(con, f"stg_{feed.name}", accepted)
        rejected = rejections.drop_duplicates("_rid").groupby("receipt_id").size()
        late = accepted.groupby("receipt_id")["is_late"].sum()
        rejections = rejections[REJECTION_COLUMNS].reset_index(drop=True)
    else:
        rejected = late = pd.Series(dtype="int64")
        rejections = pd.DataFrame(columns=REJECTION_COLUMNS)
    # The catalogue's reject rules (rules.yaml) over the rows the contract accepted; then only the
    # current sheets' rows stay in stg.
    scope = f"delivery_quarter IN (SELECT unnest(?)) AND receipt_id IN {TODO}"
    ruled = rule_rejections(con, catalogue, feed.name, scope, [quarters])
    con.execute(f"DELETE FROM stg_{feed.name} WHERE {scope} AND receipt_id NOT IN (SELECT unnest(?))",
                [quarters, current])
    if len(ruled):
        per_row = ruled.drop_duplicates(["receipt_id", "source_row"])
        rejected = rejected.add(per_row.groupby("receipt_id").size(), fill_value=0)
        late = late.add(-per_row.groupby("receipt_id")["is_late"].sum(), fill_value=0)
        rejections = pd.concat([rejections, ruled[REJECTION_COLUMNS]], ignore_index=True)
    # A sheet without rows gets its results too (0 read): it is staged, not "never staged".
    todo = warehouse.fetch_df(con, "SELECT receipt_id FROM _todo")["receipt_id"]
    results = per_receipt.set_index("receipt_id").reindex(sorted(set(todo) | set(per_receipt["receipt_id"])),
                                                          fill_value=0)
    results = results.astype("int64")
    results.index.name = "receipt_id"
    results["rejected"] = rejected.reindex(results.index, fill_value=0).astype("int64")
    results["accepted"] = results["rows_read"] - results["rejected"]
    results["late"] = (results["late_clean"] + late.reindex(results.index, fill_value=0)).astype("int64")
    results = results.reset_index()
    results.insert(1, "feed", feed.name)
    columns = ["receipt_id", "feed", "rows_read", "accepted", "rejected", "late"]
    if feed.name == "attendance":  # what it was judged against: `changed_districts` compares it with stg_events
        prints = warehouse.fetch_df(con, f"""SELECT t.receipt_id, coalesce(e.events_print, 0) AS events_print
            FROM _todo t JOIN receipts r USING (receipt_id) LEFT JOIN {EVENTS_PRINTS} e USING (district_ags)""")
        results = results.merge(prints, on="receipt_id", how="left")
        columns.append("events_print")
    if feed.name == "trajectories":  # `changed_districts` compares it with the earlier deliveries as they are then
        prints = warehouse.fetch_df(con, f"""SELECT t.receipt_id, coalesce(a.arrivals_print, 0) AS arrivals_print
            FROM _todo t JOIN receipts r USING (receipt_id) LEFT JOIN {arrivals_prints(min(quarters))} a USING (district_ags)""")
        results = results.merge(prints, on="receipt_id", how="left")
        columns.append("arrivals_print")
    _write_results(con, feed, quarters, rejections, results[columns])


def _staged(con, feed: Feed, quarters: list[str]) -> Staged:
    results = warehouse.fetch_df(con, """
        SELECT sr.* FROM sheet_results sr JOIN receipts r USING (receipt_id)
        WHERE sr.feed = ? AND r.quarter IN (SELECT unnest(?)) ORDER BY sr.receipt_id""", [feed.name, quarters])
    reasons = warehouse.fetch_df(con, """
        SELECT reason_code, count(*) AS n FROM row_rejections WHERE feed = ? AND delivery_quarter IN (SELECT unnest(?))
        GROUP BY 1 ORDER BY 2 DESC, 1""", [feed.name, quarters])
    accepted = con.execute(f"SELECT count(*) FROM stg_{feed.name} WHERE delivery_quarter IN (SELECT unnest(?))",
                           [quarters]).fetchall()[0][0]
    preview = warehouse.fetch_df(con, f"""SELECT * FROM stg_{feed.name} WHERE delivery_quarter IN (SELECT unnest(?))
                                          ORDER BY delivery_quarter, district_ags, source_row LIMIT 10""", [quarters])
    return Staged(results=results, reasons=pd.Series(reasons["n"].to_numpy(), index=reasons["reason_code"]),
                  accepted=int(accepted), preview=preview,
                  print=_print(con, feed, quarters))


def _print(con, feed: Feed, quarters: list[str]) -> str:
    """What staging left for these quarters, as one digest (their stg rows and rejections)."""
    where = f"delivery_quarter IN ({', '.join(warehouse.literal(q) for q in quarters) or 'NULL'})"
    prints = warehouse.relation_prints(con, {
        "stg": f"(SELECT * FROM stg_{feed.name} WHERE {where})",
        "rejected": f"(SELECT * FROM row_rejections WHERE feed = {warehouse.literal(feed.name)} AND {where})"})
    return hashlib.sha256(repr(sorted(prints.items())).encode()).hexdigest()[:24]


def quarter_results(con, feed: Feed, quarters: list[str]) -> pd.DataFrame:
    """Per current delivery of these quarters: rows read / accepted / rejected and top reasons."""
    return warehouse.fetch_df(con, """
        SELECT c.district_ags, c.delivery_quarter, c.file_name, sr.rows_read, sr.accepted, sr.rejected, sr.late
        FROM current_sheets c JOIN sheet_results sr ON sr.receipt_id = c.receipt_id AND sr.feed = c.feed
        WHERE c.feed = ? AND c.delivery_quarter IN (SELECT unnest(?))
        ORDER BY c.delivery_quarter, c.district_ags""", [feed.name, quarters])
