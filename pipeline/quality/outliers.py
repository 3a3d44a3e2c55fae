"""Outliers (indicator contract section 4): delivered values far from the district's own history
and from its programme peers, kept on a follow-up list an evaluator works through.

Each measure of rules.yaml gives values: per `quarter` the count of a district's records dated in
that quarter, per `record` a column of each record. A value's modified z-score
0.6745 · (x − median) / MAD (Iglewicz & Hoaglin) is taken against
- history: the same measure's values of the same district dated in earlier quarters;
- peers: the programme's other districts in the same quarter: their values per quarter; per record,
  the records of the programme's districts in that quarter (one reference per programme and
  quarter, the district's own records included: at national scale a join of records, not of
  records × districts; docs/quality.md).
A MAD of 0 falls back to 1.2533 · mean absolute deviation; with no spread at all, or fewer than
`min_references` values, there is no score. A value is flagged when at least one score exists and
every existing score is beyond the threshold.

The follow-up list (table outlier_followup) is the evaluators' record, like an approval: a flagged
value is `open` until someone confirms it (`teilhabe confirm`, who and when kept) or a
re-delivery changes it (`corrected`). A confirmed value stays confirmed while it is unchanged.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from pipeline import warehouse
from pipeline.indicators.sql import BASE_CONDITIONS, render_filter
from pipeline.quality.rules import Measure, RuleCatalogue
from pipeline.warehouse import literal, q

KEY = ("measure_id", "district_ags", "quarter", "record_id")
STATUSES = ("open", "confirmed", "corrected")
# The first day of quarter `t.quarter` (YYYY-Qn).
QUARTER_START = "make_date(CAST(left(t.quarter, 4) AS INTEGER), CAST(right(t.quarter, 1) AS INTEGER) * 3 - 2, 1)"


def _values_sql(measure: Measure, id_column: str, parameters: dict[str, float]) -> str:
    where = f"({BASE_CONDITIONS.get(measure.feed, 'TRUE')}) AND ({render_filter(measure.filter, parameters)})"
    if measure.per == "quarter":
        return (f"SELECT {literal(measure.id)} AS measure_id, district_ags, quarter, '' AS record_id, "
                f"CAST(count(*) AS DOUBLE) AS x, arg_max(receipt_id, delivery_quarter) AS receipt_id, "
                f"max(delivery_quarter) AS delivery_quarter, CAST(NULL AS BIGINT) AS source_row "
                f"FROM cur_{measure.feed} WHERE {where} GROUP BY district_ags, quarter")
    column = q(measure.column)
    return (f"SELECT {literal(measure.id)} AS measure_id, district_ags, quarter, CAST({q(id_column)} AS VARCHAR), "
            f"CAST({column} AS DOUBLE), receipt_id, delivery_quarter, source_row "
            f"FROM cur_{measure.feed} WHERE {where} AND {column} IS NOT NULL")


def _spread(con, target: str, references: str, minimum: int) -> None:
    """Temp table `target`: per measure, district and quarter the median, count, MAD and mean
    absolute deviation of its reference values `x` (the rows of `references`)."""
    keys = "measure_id, district_ags, quarter"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _refs AS {references}")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {target} AS
        WITH med AS (SELECT {keys}, median(x) AS med, count(*) AS n FROM _refs GROUP BY ALL HAVING count(*) >= {minimum})
        SELECT {keys}, any_value(med.med) AS med, any_value(med.n) AS n, median(abs(r.x - med.med)) AS mad,
               avg(abs(r.x - med.med)) AS meanad
        FROM _refs r JOIN med USING ({keys}) GROUP BY ALL""")
    con.execute("DROP TABLE _refs")


def _score(x: str, alias: str) -> str:
    return (f"CASE WHEN {alias}.mad > 0 THEN 0.6745 * ({x} - {alias}.med) / {alias}.mad "
            f"WHEN {alias}.meanad > 0 THEN ({x} - {alias}.med) / (1.253314 * {alias}.meanad) END")


def flag_outliers(con, rules: RuleCatalogue, parameters: dict[str, float], members: str,
                  districts: list[str] | None = None) -> pd.DataFrame:
    """The outliers among the delivered values, with their scores. `members`: a relation of
    (district_ags, programme_id, start, end) for the programme districts. With `districts` (those
    whose records changed), only the values whose references can have changed are judged: the
    districts' own, and their programme peers' in the quarters where the districts have values or
    had outliers listed (temp table `_affected`); `update_followup` then leaves the rest alone."""
    from pipeline.contract import load_contract
    feeds = load_contract().feeds
    parts = [_values_sql(m, feeds[m.feed].id_columns[0], parameters) for m in rules.measures]
    con.execute("CREATE OR REPLACE TEMP TABLE _ov AS " + " UNION ALL ".join(parts or [
        "SELECT '' AS measure_id, '' AS district_ags, '' AS quarter, '' AS record_id, 0.0 AS x, '' AS receipt_id, "
        "'' AS delivery_quarter, CAST(NULL AS BIGINT) AS source_row WHERE FALSE"]))
    if not rules.measures:
        return pd.DataFrame(columns=["measure_id", "district_ags", "quarter", "record_id", "x"])
    per_record = [literal(m.id) for m in rules.measures if m.per == "record"] or ["''"]
    minimum = rules.min_references
    # The programmes each district's quarter belongs to (a programme whose period overlaps it).
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _placed AS
        SELECT DISTINCT t.measure_id, t.district_ags, t.quarter, m.programme_id
        FROM (SELECT DISTINCT measure_id, district_ags, quarter FROM _ov) t JOIN {members} m
          ON m.district_ags = t.district_ags
         AND m.start <= {QUARTER_START} + INTERVAL 3 MONTH - INTERVAL 1 DAY AND m."end" >= {QUARTER_START}""")
    _affected_keys(con, districts, members)
    _spread(con, "_hist", """
        SELECT k.measure_id, k.district_ags, k.quarter, o.x
        FROM _affected k
        JOIN _ov o ON o.measure_id = k.measure_id AND o.district_ags = k.district_ags AND o.quarter < k.quarter""",
            minimum)
    # Peers per quarter: the other districts' counts of that quarter.
    _spread(con, "_peer_quarter", f"""
        WITH counts AS (SELECT * FROM _placed WHERE measure_id NOT IN ({', '.join(per_record)})),
        pairs AS (
            SELECT DISTINCT a.measure_id, a.district_ags, a.quarter, b.district_ags AS peer
            FROM counts a SEMI JOIN _affected k USING (measure_id, district_ags, quarter)
            JOIN counts b ON b.measure_id = a.measure_id AND b.programme_id = a.programme_id
             AND b.quarter = a.quarter AND b.district_ags <> a.district_ags)
        SELECT p.measure_id, p.district_ags, p.quarter, o.x FROM pairs p
        JOIN _ov o ON o.measure_id = p.measure_id AND o.district_ags = p.peer AND o.quarter = p.quarter""", minimum)
    # Peers per record: the records of the programme's districts in that quarter, one reference
    # per programme and quarter (keyed by the programme in the district column) rather than one
    # per district without its own: at national scale that is a join of records, not records ×
    # districts. A district's own records are then part of its reference (1 in 6 in the demo's
    # programmes, 1 in 100 nationally); docs/quality.md says so.
    _spread(con, "_peer_programme", f"""
        SELECT o.measure_id, p.programme_id AS district_ags, o.quarter, o.x
        FROM _ov o JOIN _placed p USING (measure_id, district_ags, quarter)
        WHERE o.measure_id IN ({', '.join(per_record)}) AND (p.measure_id, p.programme_id, o.quarter) IN (
            SELECT (a.measure_id, a.programme_id, a.quarter) FROM _placed a SEMI JOIN _affected k
            USING (measure_id, district_ags, quarter))""", minimum)
    con.execute("""CREATE OR REPLACE TEMP TABLE _peer AS
        SELECT * FROM _peer_quarter
        UNION ALL
        SELECT p.measure_id, p.district_ags, p.quarter, arg_min(s.med, p.programme_id), arg_min(s.n, p.programme_id),
               arg_min(s.mad, p.programme_id), arg_min(s.meanad, p.programme_id)
        FROM _placed p JOIN _peer_programme s ON s.measure_id = p.measure_id AND s.district_ags = p.programme_id
         AND s.quarter = p.quarter GROUP BY p.measure_id, p.district_ags, p.quarter""")
    threshold = rules.threshold
    frame = warehouse.fetch_df(con, f"""
        SELECT o.*, h.med AS history_median, h.n AS history_n, {_score('o.x', 'h')} AS history_score,
               p.med AS peer_median, p.n AS peer_n, {_score('o.x', 'p')} AS peer_score
        FROM _ov o SEMI JOIN _affected k USING (measure_id, district_ags, quarter)
        LEFT JOIN _hist h USING (measure_id, district_ags, quarter)
        LEFT JOIN _peer p USING (measure_id, district_ags, quarter)
        WHERE ({_score('o.x', 'h')} IS NOT NULL OR {_score('o.x', 'p')} IS NOT NULL)
          AND coalesce(abs({_score('o.x', 'h')}) > {threshold}, TRUE)
          AND coalesce(abs({_score('o.x', 'p')}) > {threshold}, TRUE)
        ORDER BY measure_id, district_ags, quarter, record_id""")
    return frame


def _affected_keys(con, districts: list[str] | None, members: str) -> None:
    """Temp table _affected (measure, district, quarter): the values to judge (see flag_outliers)."""
    if districts is None:
        con.execute("CREATE OR REPLACE TEMP TABLE _affected AS SELECT DISTINCT measure_id, district_ags, quarter FROM _ov")
        return
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _affected AS
        WITH changed AS (
            SELECT DISTINCT programme_id, quarter FROM _placed WHERE district_ags IN (SELECT unnest($districts))
            UNION
            SELECT DISTINCT m.programme_id, t.quarter FROM outlier_followup t JOIN {members} m  -- t: QUARTER_START's alias
              ON m.district_ags = t.district_ags
             AND m.start <= {QUARTER_START} + INTERVAL 3 MONTH - INTERVAL 1 DAY AND m."end" >= {QUARTER_START}
            WHERE t.district_ags IN (SELECT unnest($districts)))
        SELECT DISTINCT measure_id, district_ags, quarter FROM _placed
        WHERE district_ags IN (SELECT unnest($districts)) OR (programme_id, quarter) IN (SELECT (programme_id, quarter) FROM changed)
        UNION
        SELECT DISTINCT measure_id, district_ags, quarter FROM _ov WHERE district_ags IN (SELECT unnest($districts))""",
                {"districts": list(districts)})


def update_followup(con, flagged: pd.DataFrame, districts: list[str] | None = None) -> None:
    """Bring the follow-up list up to date with this run's outliers (set-based, one transaction):
    a flagged value stays confirmed while it is unchanged, and is open otherwise; a listed value no
    longer delivered as it was is corrected; one unchanged but no longer an outlier leaves the list.
    Entries `flag_outliers` did not judge (outside `_affected`, of other `districts`) stay as they are."""
    judged = ("TRUE" if districts is None else
              "((e.measure_id, e.district_ags, e.quarter) IN (SELECT (measure_id, district_ags, quarter) FROM _affected)"
              " OR e.district_ags IN (SELECT unnest($districts)))")
    con.register("_flagged_frame", flagged.reindex(columns=[*KEY, "x", "receipt_id", "delivery_quarter", "source_row",
                                                            "history_median", "history_n", "history_score",
                                                            "peer_median", "peer_n", "peer_score"]))
    keys = " AND ".join(f"f.{k} = e.{k}" for k in KEY)
    try:
        with warehouse.transaction(con):
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _followup AS
                SELECT f.measure_id, f.district_ags, f.quarter, f.record_id, f.x AS value, f.x AS current_value,
                       f.receipt_id, f.delivery_quarter, CAST(f.source_row AS BIGINT) AS source_row,
                       f.history_median, CAST(f.history_n AS BIGINT) AS history_n, f.history_score, f.peer_median,
                       CAST(f.peer_n AS BIGINT) AS peer_n, f.peer_score,
                       CASE WHEN e.status = 'confirmed' AND e.value = f.x THEN 'confirmed' ELSE 'open' END AS status,
                       CASE WHEN e.status = 'confirmed' AND e.value = f.x THEN e.confirmed_by END AS confirmed_by,
                       CASE WHEN e.status = 'confirmed' AND e.value = f.x THEN e.confirmed_at END AS confirmed_at,
                       CASE WHEN e.status = 'confirmed' AND e.value = f.x THEN e.comment END AS comment
                FROM _flagged_frame f LEFT JOIN outlier_followup e ON {keys}
                UNION ALL
                SELECT e.measure_id, e.district_ags, e.quarter, e.record_id, e.value, o.x, e.receipt_id,
                       e.delivery_quarter, e.source_row, e.history_median, e.history_n, e.history_score, e.peer_median,
                       e.peer_n, e.peer_score, 'corrected', e.confirmed_by, e.confirmed_at, e.comment
                FROM outlier_followup e LEFT JOIN _ov o USING ({', '.join(KEY)})
                WHERE NOT EXISTS (SELECT 1 FROM _flagged_frame f WHERE {keys}) AND {judged}
                  AND (e.status = 'corrected' OR o.x IS DISTINCT FROM e.value)
                UNION ALL
                SELECT * FROM outlier_followup e WHERE NOT {judged}""",
                        {"districts": list(districts)} if districts is not None else None)
            con.execute("DELETE FROM outlier_followup")
            con.execute("INSERT INTO outlier_followup SELECT * FROM _followup")
    finally:
        con.unregister("_flagged_frame")
    for table in ("_followup", "_ov", "_hist", "_peer", "_peer_quarter", "_peer_programme", "_placed", "_affected"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def confirm(con, district_ags: str, quarter: str, measure_id: str, record_id: str = "", by: str = "",
            comment: str = "", at: dt.datetime | None = None) -> list[dict]:
    """Mark an open outlier as confirmed (the value is right as delivered); returns the entries
    confirmed, with the value they were confirmed for (none: no open outlier with this key)."""
    found = con.execute("""UPDATE outlier_followup SET status = 'confirmed', confirmed_by = ?, confirmed_at = ?,
                           comment = ? WHERE district_ags = ? AND quarter = ? AND measure_id = ? AND record_id = ?
                           AND status = 'open' RETURNING value, confirmed_at""",
                        [by, at or dt.datetime.now().replace(microsecond=0), comment or None, district_ags, quarter,
                         measure_id, record_id]).fetchall()
    return [dict(district_ags=district_ags, quarter=quarter, measure_id=measure_id, record_id=record_id,
                 value=value, by=by, at=when, comment=comment or None) for value, when in found]


def restore_confirmations(con, confirmations: list[dict]) -> int:
    """Put confirmations back into an empty follow-up list (a rebuilt warehouse, before its run):
    the run then keeps each one confirmed while its value is still delivered as it was, as it
    does after any re-delivery. The latest confirmation of a key wins."""
    latest = {(c["measure_id"], c["district_ags"], c["quarter"], c["record_id"]): c for c in confirmations}
    for (measure, ags, quarter, record), c in latest.items():
        con.execute("""INSERT INTO outlier_followup (measure_id, district_ags, quarter, record_id, value, status,
                       confirmed_by, confirmed_at, comment) VALUES (?, ?, ?, ?, ?, 'confirmed', ?, ?, ?)""",
                    [measure, ags, quarter, record, c["value"], c["by"], c["at"], c.get("comment")])
    return len(latest)


def followup(con) -> pd.DataFrame:
    return warehouse.fetch_df(con, "SELECT * FROM outlier_followup ORDER BY district_ags, quarter, measure_id, record_id")
