"""Compile indicator definitions to DuckDB SQL: one set-based SELECT per definition.

Every compiled SELECT returns the same columns (VALUE_COLUMNS), one row per
programme × comparison flag × district (plus the ALL / ALL_COMPARISON sum row) × period, where the
period is the quarter of the record's own date or `total`. Records are placed into programmes by
joining the `_scope` table (indicator, programme, district, period start/end), which the engine
registers before running the query: a record counts toward every programme of its district whose
period contains its date.
"""
from __future__ import annotations

import functools
import re

from pipeline.contract import load_contract
from pipeline.indicators.model import ALL, ALL_COMPARISON, COVERAGE_PLACES, PLACE_BREAKDOWNS, TOTAL, Indicator
from pipeline.indicators.trajectory_sql import compile_trajectory
from pipeline.quarters import quarter_sql
from pipeline.warehouse import q, stg_columns

COMMON_COLUMNS = ("receipt_id", "district_ags", "delivery_quarter", "source_row", "quarter", "is_late")
# Attendance has no date of its own: it lives on its event's date (and may filter on its type).
ATTENDANCE_EXTRAS = ("date", "event_type")
# Contract rule, not a catalogue choice: cancelled micro-projects count nowhere.
BASE_CONDITIONS = {"micro_projects": "status IS DISTINCT FROM 'cancelled'"}

VALUE_COLUMNS = ("indicator_id", "programme_id", "comparison", "district_ags", "period",
                 "value", "value_high", "n", "sd", "method")

PLACEHOLDER = re.compile(r"\{(\w+)\}")
FORBIDDEN_SQL = re.compile(
    r";|--|/\*|\b(select|insert|update|delete|drop|create|alter|attach|detach|copy|pragma|install|load|"
    r"call|export|import)\b", re.IGNORECASE)

# Two-sided 95 % Student t quantiles for 1..30 degrees of freedom; above 30 the Cornish-Fisher
# expansion z + (z³+z)/(4ν) + (5z⁵+16z³+3z)/(96ν²) is exact to 1e-4.
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042)


def t975_sql(df: str) -> str:
    table = "[" + ", ".join(f"{t:.3f}" for t in T975) + "]"
    return (f"CASE WHEN {df} < 1 THEN NULL WHEN {df} <= 30 THEN {table}[CAST({df} AS INTEGER)] "
            f"ELSE 1.959964 + 2.372272 / {df} + 2.822405 / ({df} * {df}) END")


@functools.cache
def feed_columns(feed: str) -> frozenset[str]:
    """Columns a filter or a definition may name, per feed (as in cur_<feed>)."""
    columns = set(COMMON_COLUMNS) | {name for name, _ in stg_columns(load_contract().feeds[feed])}
    if feed == "attendance":
        columns |= set(ATTENDANCE_EXTRAS)
    return frozenset(columns)


def feeds() -> list[str]:
    return list(load_contract().feeds)


def date_column(feed: str) -> str:
    return "date" if feed == "attendance" else load_contract().feeds[feed].date_column


def render_filter(text: str | None, parameters: dict[str, float]) -> str:
    """Substitute `{parameter}` placeholders by their numeric value; no filter means every row."""
    if not text:
        return "TRUE"
    return PLACEHOLDER.sub(lambda m: repr(float(parameters[m.group(1)])), text)


def dated_attendance_sql(attendance: str = "cur_attendance", events: str = "cur_events") -> str:
    """Attendance rows with their event's date and type (an attendance row without its event has
    no date: it counts nowhere, and no reach can list it)."""
    return (f"SELECT a.*, e.date AS date, e.event_type AS event_type FROM {attendance} a "
            f"JOIN {events} e ON e.district_ags = a.district_ags AND e.event_id = a.event_id")


def source(feed: str, sources: dict[str, str] | None) -> str:
    """The relation a feed's current records come from: cur_<feed>, or what the engine made of it
    (a temp table per run; for attendance, already joined with its events as dated_attendance_sql)."""
    if sources and feed in sources:
        return sources[feed]
    return f"({dated_attendance_sql()})" if feed == "attendance" else f"cur_{feed}"


def records_sql(feed: str, condition: str, sources: dict[str, str] | None = None) -> str:
    """The feed's current records that pass `condition`, each with the date `_date` placing it."""
    rule = BASE_CONDITIONS.get(feed, "TRUE")
    return (f"SELECT *, {q(date_column(feed))} AS _date FROM {source(feed, sources)} "
            f"WHERE ({rule}) AND ({condition})")


def _scoped(indicator: Indicator, feed: str, condition: str, select: str, sources: dict[str, str] | None) -> str:
    """Records joined to every programme of their district whose period contains their date."""
    return (f"SELECT s.programme_id, s.comparison, r.district_ags, {quarter_sql('r._date')} AS q, {select} "
            f"FROM ({records_sql(feed, condition, sources)}) r JOIN _scope s "
            f"ON s.indicator_id = '{indicator.id}' AND s.district_ags = r.district_ags "
            f"AND r._date BETWEEN s.start AND s.end")


def _by(breakdown: str | None, alias: str = "r") -> str:
    """A breakdown's value as text ('' where the record gives none), or nothing without one."""
    return f", coalesce(CAST({alias}.{q(breakdown)} AS VARCHAR), '') AS b" if breakdown else ""


def _plain_rows(indicator: Indicator, parameters: dict[str, float],
                sources: dict[str, str] | None, breakdown: str | None = None) -> tuple[str, dict[str, str]]:
    d = indicator.definition
    condition = render_filter(d.filter, parameters)
    col = f"r.{q(d.column)}" if d.column else "NULL"
    high = f"coalesce(r.{q(d.high)}, r.{q(d.column)})" if d.high else "NULL"
    key = f"CAST({col} AS VARCHAR)" if d.aggregate == "count_distinct" else "NULL"
    if d.aggregate == "mean":  # an unanswered item is no answer, not a zero
        condition = f"({condition}) AND {q(d.column)} IS NOT NULL"
    rows = _scoped(indicator, d.feed, condition, f"{col} AS x, {high} AS xh, {key} AS k{_by(breakdown)}", sources)
    measures = {
        "count": {"value": "count(*)", "n": "count(*)"},
        "sum": {"value": "coalesce(sum(x), 0)", "n": "count(*)",
                "value_high": "coalesce(sum(xh), 0)" if d.high else "NULL"},
        "count_distinct": {},  # counted by _compile_distinct
        "mean": {"value": "avg(x)", "n": "count(x)", "sd": "stddev_samp(x)"},
    }[d.aggregate]
    return rows, measures


def _reach_rows(indicator: Indicator, parameters: dict[str, float], sources: dict[str, str] | None,
                breakdown: str | None = None) -> str:
    """Distinct persons where attendance lists them, head counts where it does not.

    An event with attendance rows contributes its listed persons (method `unique`), even when none
    of them passes the attendance filter; an event without contributes the sum of its fallback
    head counts (method `sum`). Extra key sources (advised persons) are distinct keys too.
    """
    d = indicator.definition
    fallback = " + ".join(f"coalesce(r.{q(c)}, 0)" for c in d.fallback) or "0"
    # Attendance rows of an event are its attendance rows whether or not dated_attendance_sql's
    # join keeps them: an event of ev is a current event, so the join keeps exactly those.
    attendance_rows = source("attendance", sources)
    listed = (sources or {}).get("listed_events", attendance_rows)  # the events that have a list
    events = _scoped(indicator, d.feed, render_filter(d.filter, parameters),
                     f"r.event_id, {fallback} AS fb, EXISTS (SELECT 1 FROM {listed} a "
                     f"WHERE a.district_ags = r.district_ags AND a.event_id = r.event_id) AS has_att{_by(breakdown)}",
                     sources)
    b = ", ev.b" if breakdown else ""
    attendance = render_filter(d.attendance_filter, parameters)
    parts = [
        "SELECT ev.programme_id, ev.comparison, ev.district_ags, ev.q, CAST(a.person_key AS VARCHAR) AS k, "
        f"0 AS fb, 'unique' AS kind{b} FROM ev JOIN (SELECT * FROM {attendance_rows} WHERE "
        f"({attendance})) a ON a.district_ags = ev.district_ags AND a.event_id = ev.event_id",
        "SELECT programme_id, comparison, district_ags, q, NULL AS k, CASE WHEN has_att THEN 0 ELSE fb END, "
        f"CASE WHEN has_att THEN 'unique' ELSE 'sum' END{b} FROM ev",
    ]
    no_event = ", '' AS b" if breakdown else ""
    for extra in d.plus:  # further keys (advised persons) have no event: their breakdown value is ''
        parts.append("SELECT * FROM (" + _scoped(
            indicator, extra.feed, render_filter(extra.filter, parameters),
            f"CAST(r.{q(extra.column)} AS VARCHAR) AS k, 0 AS fb, 'unique' AS kind{no_event}", sources) + ")")
    return f"WITH ev AS ({events}) " + " UNION ALL ".join(parts)


def compile_indicator(indicator: Indicator, parameters: dict[str, float],
                      sources: dict[str, str] | None = None, breakdown: str | None = None) -> str:
    """One SELECT with VALUE_COLUMNS for one indicator, over quarters and `total`, districts and ALL;
    with a `breakdown`, per value of that column too (and the column breakdown_value)."""
    if indicator.definition.aggregate == "coverage":
        return _compile_coverage(indicator, parameters, sources)
    d = indicator.definition
    if d.aggregate == "trajectory":
        scope = (f"JOIN _scope s ON s.indicator_id = '{indicator.id}' AND s.district_ags = r.district_ags "
                 f"AND r._date BETWEEN s.start AND s.end")
        observations = records_sql(d.feed, render_filter(d.filter, parameters), sources)
        return compile_trajectory(indicator.id, d.trajectory, observations, scope, breakdown)
    if indicator.definition.aggregate in ("reach", "count_distinct"):
        return _compile_distinct(indicator, parameters, sources, breakdown)
    rows, m = _plain_rows(indicator, parameters, sources, breakdown)
    b = ", b" if breakdown else ""
    return f"""
    SELECT '{indicator.id}' AS indicator_id, programme_id, comparison,
           CASE WHEN grouping(district_ags) = 0 THEN district_ags
                WHEN comparison THEN '{ALL_COMPARISON}' ELSE '{ALL}' END AS district_ags,
           period,
           CAST({m['value']} AS DOUBLE) AS value,
           CAST({m.get('value_high', 'NULL')} AS DOUBLE) AS value_high,
           CAST({m['n']} AS BIGINT) AS n,
           CAST({m.get('sd', 'NULL')} AS DOUBLE) AS sd,
           CAST({m.get('method', 'NULL')} AS VARCHAR) AS method{' , b AS breakdown_value' if breakdown else ''}
    FROM (SELECT *, unnest([q, '{TOTAL}']) AS period FROM ({rows}))
    GROUP BY GROUPING SETS ((programme_id, comparison, district_ags, period{b}), (programme_id, comparison, period{b}))
    """


def _compile_distinct(indicator: Indicator, parameters: dict[str, float], sources: dict[str, str] | None,
                      breakdown: str | None = None) -> str:
    """Distinct keys (count_distinct, reach) without DISTINCT aggregates, which over grouping sets
    and millions of attendance rows took most of the run. Each key is counted once per district
    and period by grouping in steps (quarter and key, then quarter; key, then total); ALL adds
    the districts up, which is exact because pseudonyms are district-local: the distinct
    [district, key] pairs of a programme are the sum of each district's distinct keys.

    value = distinct keys + head counts (fb); n = key occurrences + head counts; method (reach):
    `unique` if every row is a listed person, `sum` if every row is a head count, else `mixed`.
    """
    b = ", b" if breakdown else ""
    if indicator.definition.aggregate == "reach":
        rows = _reach_rows(indicator, parameters, sources, breakdown)
        method = "CASE WHEN u THEN 'unique' WHEN s THEN 'sum' ELSE 'mixed' END"
    else:
        plain, _ = _plain_rows(indicator, parameters, sources, breakdown)
        rows = (f"SELECT programme_id, comparison, district_ags, q, k, 0 AS fb, 'unique' AS kind{b} "
                f"FROM ({plain})")
        method = "NULL"
    # With a breakdown, b is one more key at every step: a key is distinct within its value.
    return f"""
    WITH r AS ({rows}),
    keyed AS MATERIALIZED (
        SELECT programme_id, comparison, district_ags, q{b}, k, count(k) AS c, coalesce(sum(fb), 0) AS fb,
               bool_and(kind = 'unique') AS u, bool_and(kind = 'sum') AS s
        FROM r GROUP BY ALL),
    totals AS (
        SELECT programme_id, comparison, district_ags{b}, k, sum(c) AS c, sum(fb) AS fb,
               bool_and(u) AS u, bool_and(s) AS s
        FROM keyed GROUP BY ALL),
    districts AS (
        SELECT programme_id, comparison, district_ags, q AS period{b}, count(k) AS keys, sum(c) AS c,
               sum(fb) AS fb, bool_and(u) AS u, bool_and(s) AS s
        FROM keyed GROUP BY ALL
        UNION ALL
        SELECT programme_id, comparison, district_ags, '{TOTAL}'{b}, count(k), sum(c), sum(fb), bool_and(u), bool_and(s)
        FROM totals GROUP BY ALL),
    places AS (
        SELECT programme_id, comparison, district_ags, period{b}, keys, c, fb, u, s FROM districts
        UNION ALL
        SELECT programme_id, comparison, CASE WHEN comparison THEN '{ALL_COMPARISON}' ELSE '{ALL}' END,
               period{b}, sum(keys), sum(c), sum(fb), bool_and(u), bool_and(s)
        FROM districts GROUP BY programme_id, comparison, period{b})
    SELECT '{indicator.id}' AS indicator_id, programme_id, comparison, district_ags, period,
           CAST(keys + fb AS DOUBLE) AS value, CAST(NULL AS DOUBLE) AS value_high,
           CAST(c + fb AS BIGINT) AS n, CAST(NULL AS DOUBLE) AS sd, CAST({method} AS VARCHAR) AS method{' , b AS breakdown_value' if breakdown else ''}
    FROM places
    """


# The places of the catalogue, as the engine registers them (pipeline/places/match.py).
PLACE_NAMES = "_place_names"


def _compile_coverage(indicator: Indicator, parameters: dict[str, float], sources: dict[str, str] | None) -> str:
    """Places reached (indicator contract section 7): distinct regions or municipalities of the
    district with at least one event in the period (events as the engine placed them, with the
    columns `region` and `municipality_key`), `n` = all of the district's (the "of N").

    Quarter rows exist for quarters with events (as for every indicator, reached may be 0 there);
    the `total` row for every district in scope, since the engine scopes a coverage to districts
    that hold places. ALL adds the districts up, reached and N alike (places are a district's own)."""
    d = indicator.definition
    column = COVERAGE_PLACES[d.places]
    counted = "region_id" if d.places == "regions" else "municipality_key"
    rows = _scoped(indicator, d.feed, render_filter(d.filter, parameters), f"r.{q(column)} AS k", sources)
    return f"""
    WITH keyed AS (SELECT programme_id, comparison, district_ags, q, k FROM ({rows}) GROUP BY ALL),
    places AS (SELECT district_ags, count(DISTINCT {counted}) AS n FROM {PLACE_NAMES} GROUP BY ALL),
    scoped AS (SELECT DISTINCT s.programme_id, s.comparison, s.district_ags, p.n FROM _scope s
               JOIN places p ON p.district_ags = s.district_ags WHERE s.indicator_id = '{indicator.id}'),
    districts AS (
        SELECT programme_id, comparison, district_ags, q AS period, count(k) AS reached FROM keyed GROUP BY ALL
        UNION ALL
        SELECT s.programme_id, s.comparison, s.district_ags, '{TOTAL}', count(DISTINCT k.k)
        FROM scoped s LEFT JOIN keyed k ON k.programme_id = s.programme_id AND k.comparison = s.comparison
             AND k.district_ags = s.district_ags
        GROUP BY ALL),
    figures AS (
        SELECT d.programme_id, d.comparison, d.district_ags, d.period, d.reached, s.n
        FROM districts d JOIN scoped s USING (programme_id, comparison, district_ags)
        UNION ALL
        SELECT d.programme_id, d.comparison, '{ALL}', d.period, sum(d.reached), any_value(a.n)
        FROM districts d JOIN (SELECT programme_id, comparison, sum(n) AS n FROM scoped GROUP BY ALL) a
             USING (programme_id, comparison)
        GROUP BY d.programme_id, d.comparison, d.period)
    SELECT '{indicator.id}' AS indicator_id, programme_id, comparison, district_ags, period,
           CAST(reached AS DOUBLE) AS value, CAST(NULL AS DOUBLE) AS value_high, CAST(n AS BIGINT) AS n,
           CAST(NULL AS DOUBLE) AS sd, CAST(NULL AS VARCHAR) AS method
    FROM figures
    """


def placed_only(breakdown: str, compiled: str) -> str:
    """A breakdown by place has rows only for the districts that hold places: elsewhere every
    record would fall in the part '' ("not given"), and a programme's regions are each
    district's own, so there is no ALL row to add them up."""
    if breakdown not in PLACE_BREAKDOWNS:
        return compiled
    return f"SELECT * FROM ({compiled}) WHERE district_ags IN (SELECT district_ags FROM {PLACE_NAMES})"


def filter_type_sql(feed: str, condition: str) -> str:
    """A query that binds `condition` against the feed and names its type, for validation."""
    return f"DESCRIBE SELECT ({condition}) AS f FROM ({records_sql(feed, 'TRUE')})"
