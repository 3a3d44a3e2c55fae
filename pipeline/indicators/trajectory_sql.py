"""The `trajectory` aggregate compiled: result indicators over individual integration paths
(indicator contract section 8), one set-based DuckDB SELECT per indicator.

A person is a pseudonym of one district (`district_ags`, `person_key`). Their observations inside
a programme's period are ordered with window functions (by date, then the row); one row per person
and programme then carries what every measure needs (first and latest language level, month of
arrival, the first course, the activity 18–30 months after arrival), and the measures count those
person rows per district and for the programme (ALL). Catalogue data chooses the measure and its
parameters (`definition.trajectory` in indicators.yaml); nothing here is per indicator.

Language levels are compared as CEFR steps: none < A1 < A2 < B1 < B2 < C1 < C2. Measures that
read a level use the observations with a level recorded (an empty level is "not recorded", not
"none"). Months are calendar months between the month of arrival and the month of the date
(`datediff('month', …)`: arrival 2023-05, observed 2023-08-15 → 3).
"""
from __future__ import annotations

from pipeline.indicators.model import ALL, ALL_COMPARISON, TOTAL
from pipeline.indicators.trajectory import LEVELS, Trajectory


def _rank(column: str) -> str:
    cases = " ".join(f"WHEN '{level}' THEN {n}" for n, level in enumerate(LEVELS))
    return f"CASE {column} {cases} END"


def _name(rank: str) -> str:
    return f"[{', '.join(repr(level) for level in LEVELS)}][{rank} + 1]"


def persons_sql(t: Trajectory, observations: str, scope_join: str) -> str:
    """One row per programme, comparison flag, district and person, with what the measures read.

    `observations`: the feed's current records (with `_date`); `scope_join`: the join to `_scope`
    (alias s) that keeps a record inside its programme's period."""
    # Window over a person's observations within one programme, ordered by date, then the row.
    w = "PARTITION BY s.programme_id, s.comparison, r.district_ags, r.person_key"
    order = "ORDER BY r.date, r.receipt_id, r.source_row"
    whole = f"({w} {order} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
    activities = ", ".join(f"'{a}'" for a in t.activities)
    return f"""
    WITH o AS (
        SELECT s.programme_id, s.comparison, r.district_ags, r.person_key, r.date,
               {_rank('r.language_level')} AS lvl, r.course, r.activity,
               first_value(r.arrival_month IGNORE NULLS) OVER {whole} AS arrival,
               first_value({_rank('r.language_level')} IGNORE NULLS) OVER {whole} AS first_lvl,
               first_value(CASE WHEN r.language_level IS NOT NULL THEN r.date END IGNORE NULLS) OVER {whole}
                   AS first_lvl_date,
               last_value({_rank('r.language_level')} IGNORE NULLS) OVER {whole} AS last_lvl,
               count(r.language_level) OVER {whole} AS lvl_obs,
               first_value(r.activity IGNORE NULLS) OVER {whole} AS first_activity
        FROM ({observations}) r {scope_join}),
    p AS (
        SELECT programme_id, comparison, district_ags, person_key,
               count(*) AS obs, min(date) AS first_date, max(date) AS last_date,
               any_value(arrival) AS arrival, any_value(first_lvl) AS first_lvl, any_value(last_lvl) AS last_lvl,
               any_value(lvl_obs) AS lvl_obs, any_value(first_activity) AS first_activity,
               bool_or(lvl >= first_lvl + {t.steps} AND date > first_lvl_date
                       AND date <= first_lvl_date + INTERVAL {t.within_months} MONTH) AS improved,
               min(date) FILTER (WHERE course IS NOT NULL AND course <> 'none') AS course_date,
               arg_max(activity, date) FILTER (WHERE activity IS NOT NULL AND arrival IS NOT NULL
                   AND datediff('month', arrival, date) BETWEEN {t.from_months} AND {t.to_months}) AS window_activity
        FROM o GROUP BY ALL)
    SELECT *,
           obs >= {t.min_observations} AND last_date >= first_date + INTERVAL {t.min_gap_months} MONTH AS followed,
           datediff('month', arrival, course_date) AS months_to_course,
           window_activity IN ({activities}) AS employed,
           CASE WHEN arrival IS NOT NULL THEN CAST(year(arrival) AS VARCHAR) || '-H'
                || CASE WHEN month(arrival) <= 6 THEN '1' ELSE '2' END END AS arrival_cohort,
           {_name('first_lvl')} AS language_level, first_activity AS activity,
           CASE WHEN lvl_obs >= 2 THEN {_name('first_lvl')} || '>' || {_name('last_lvl')} END AS transition
    FROM p"""


def measure_sql(t: Trajectory) -> dict[str, str]:
    """The aggregates over person rows: value (a share in percent), n (the persons it is of)."""
    if t.measure == "persons":
        return {"value": "count(*)", "n": "count(*)"}
    if t.measure == "persons_followed":
        # n: the persons observed, so that "none of 40 followed" is a figure, not a gap
        return {"value": "count(*) FILTER (WHERE followed)", "n": "count(*)"}
    if t.measure == "improved_share":
        base = "followed AND first_lvl IS NOT NULL"
        return {"value": f"100.0 * count(*) FILTER (WHERE {base} AND improved) / nullif(count(*) FILTER (WHERE {base}), 0)",
                "n": f"count(*) FILTER (WHERE {base})"}
    if t.measure == "months_to_course":
        return {"value": "median(months_to_course)", "n": "count(months_to_course)"}
    if t.measure == "employed_share":
        return {"value": "100.0 * count(*) FILTER (WHERE employed) / nullif(count(window_activity), 0)",
                "n": "count(window_activity)"}
    return {"value": "count(transition)", "n": "count(transition)"}  # transitions


def compile_trajectory(indicator_id: str, t: Trajectory, observations: str, scope_join: str,
                       breakdown: str | None = None) -> str:
    """VALUE_COLUMNS rows (period `total`: a path spans quarters) per district and ALL; with a
    breakdown, per value of it too. Persons without a value of the breakdown fall under ''."""
    m = measure_sql(t)
    b = ", b" if breakdown else ""
    by = f", coalesce({breakdown}, '') AS b" if breakdown else ""
    # A person row is a district's: ALL adds up districts' persons (pseudonyms are district-local).
    return f"""
    SELECT '{indicator_id}' AS indicator_id, programme_id, comparison,
           CASE WHEN grouping(district_ags) = 0 THEN district_ags
                WHEN comparison THEN '{ALL_COMPARISON}' ELSE '{ALL}' END AS district_ags,
           '{TOTAL}' AS period,
           CAST({m['value']} AS DOUBLE) AS value, CAST(NULL AS DOUBLE) AS value_high,
           CAST({m['n']} AS BIGINT) AS n, CAST(NULL AS DOUBLE) AS sd,
           CAST(NULL AS VARCHAR) AS method{' , b AS breakdown_value' if breakdown else ''}
    FROM (SELECT *{by} FROM ({persons_sql(t, observations, scope_join)}))
    GROUP BY GROUPING SETS ((programme_id, comparison, district_ags{b}), (programme_id, comparison{b}))
    HAVING {m['n']} > 0
    """


# The cohort progress chart's bands: months since arrival, in half-years (0–5, 6–11, …).
BAND_MONTHS = 6


def progress_sql(periods: str, observations: str = "cur_trajectories", band_months: int = BAND_MONTHS) -> str:
    """Language level over months since arrival, per programme, district (and ALL), arrival cohort
    and band: `persons` with a level recorded in the band, and their mean CEFR step (0 = none …
    6 = C2), each person at their latest level in the band. `periods`: (programme_id,
    district_ags, start, end) of the programme districts; observations outside them count nowhere."""
    return f"""
    WITH o AS (
        SELECT m.programme_id, r.district_ags, r.person_key, r.date, {_rank('r.language_level')} AS lvl,
               first_value(r.arrival_month IGNORE NULLS) OVER (
                   PARTITION BY m.programme_id, r.district_ags, r.person_key ORDER BY r.date, r.receipt_id, r.source_row
                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS arrival
        FROM {observations} r JOIN {periods} m ON m.district_ags = r.district_ags AND r.date BETWEEN m.start AND m."end"),
    banded AS (
        SELECT programme_id, district_ags, person_key,
               CAST(year(arrival) AS VARCHAR) || '-H' || CASE WHEN month(arrival) <= 6 THEN '1' ELSE '2' END AS arrival_cohort,
               {band_months} * (datediff('month', arrival, date) // {band_months}) AS band,
               arg_max(lvl, date) AS lvl
        FROM o WHERE arrival IS NOT NULL AND lvl IS NOT NULL GROUP BY ALL)
    SELECT programme_id, CASE WHEN grouping(district_ags) = 0 THEN district_ags ELSE '{ALL}' END AS district_ags,
           arrival_cohort, band, count(*) AS persons, avg(lvl) AS mean_level
    FROM banded
    GROUP BY GROUPING SETS ((programme_id, district_ags, arrival_cohort, band), (programme_id, arrival_cohort, band))
    ORDER BY ALL"""
