"""Compute every indicator of the catalogue in DuckDB and write the table `indicator_values`.

The catalogue decides, in small frames registered as temp tables, *where* an indicator applies
(`_scope`: indicator × programme × district with the programme period), *which* rows are
published with which name, population and target (`_rows`), and how far each programme is
(`_programmes`: elapsed share). The records are never touched in Python: each definition is one
compiled SELECT (sql.py) and the status, attainment and per-10,000 figures are one final query.
The current records are read from cur_<feed> once per run into temp tables (`_materialise`), so
that forty indicators over millions of attendance rows do not evaluate the views forty times.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re

import pandas as pd

from pipeline.catalogue import Catalogue, Programme
from pipeline.contract import load_contract
from pipeline.indicators import sql
from pipeline.indicators.model import ALL, ALL_COMPARISON, TOTAL, Indicator, IndicatorCatalogue
from pipeline.places import cached_places, placed_events_sql
from pipeline.quarters import quarter_bounds
from pipeline.warehouse import frame_print, relation_prints, view_definitions

TABLE = "indicator_values"
BREAKDOWN_TABLE = "indicator_breakdowns"
BREAKDOWN_COLUMNS = ("programme_id", "indicator_id", "district_ags", "district_name", "comparison", "period",
                     "breakdown", "breakdown_value", "value", "value_high", "n", "method", "unit", "label_de", "label_en",
                     "ci_low", "ci_high")
COLUMNS = ("programme_id", "indicator_id", "district_ags", "district_name", "comparison", "period",
           "value", "value_high", "ci_low", "ci_high", "n", "method", "target", "direction", "status",
           "attainment_pct", "elapsed_share", "baseline", "baseline_date", "baseline_source", "milestone",
           "milestone_due", "per_10k", "unit", "label_de", "label_en")
ALL_NAME = "Alle Kreise des Programms"
ALL_COMPARISON_NAME = "Alle Vergleichskreise"


# -- what the catalogue says, as frames ---------------------------------------------------------

def _places(indicator: Indicator, programme: Programme, placed: frozenset[str]) -> list[tuple[str, bool]]:
    """(district, is_comparison) pairs an indicator reports for one programme; a coverage only
    where the district holds places (`placed`): elsewhere there is nothing to cover."""
    members = [(a, False) for a in programme.districts if indicator.applies_to(programme.id, a)
               and (indicator.definition.aggregate != "coverage" or a in placed)]
    if indicator.comparison and not indicator.districts:
        members += [(a, True) for a in programme.comparison_districts]
    return members


def _placed(catalogue: Catalogue) -> frozenset[str]:
    return frozenset(cached_places(catalogue).districts)


def scope_frame(catalogue: Catalogue, indicators: IndicatorCatalogue) -> pd.DataFrame:
    placed = _placed(catalogue)
    rows = [(i.id, p.id, ags, cmp, p.start, p.end)
            for i in indicators for p in catalogue.programmes if i.applies_to(p.id)
            for ags, cmp in _places(i, p, placed)]
    return pd.DataFrame(rows, columns=["indicator_id", "programme_id", "district_ags", "comparison", "start", "end"])


def rows_frame(catalogue: Catalogue, indicators: IndicatorCatalogue) -> pd.DataFrame:
    """Every published district / ALL row with its name, population, target and zero-fill rule."""
    population = catalogue.districts["population"]
    places = {ags for p in catalogue.programmes for ags in (*p.districts, *p.comparison_districts)}
    names = {ags: catalogue.district_name(ags) for ags in places}  # once per district, not per row
    inhabitants = {ags: float(population.get(ags, float("nan"))) for ags in places}
    pooled: dict[tuple, float] = {}  # the same members recur for every indicator of a programme
    placed = _placed(catalogue)
    rows = []
    for i in indicators:
        fill = i.when_no_data == "zero"
        for p in catalogue.programmes:
            if not i.applies_to(p.id):
                continue
            places = _places(i, p, placed)
            by_district = p.target_level == "district"
            for ags, cmp in places:
                targeted = by_district and not cmp
                target = i.target_for(p.id, ags) if targeted else None
                rows.append((i.id, p.id, cmp, ags, names[ags], inhabitants[ags], target, fill and not cmp,
                             *_baseline(i, p, ags, targeted)))
            for cmp, code, name in ((False, ALL, ALL_NAME), (True, ALL_COMPARISON, ALL_COMPARISON_NAME)):
                members = [a for a, c in places if c == cmp]
                if not members:
                    continue
                targeted = not by_district and not cmp
                target = i.target_for(p.id, None) if targeted else None
                key = tuple(members)
                if key not in pooled:
                    pooled[key] = float(population.reindex(members).sum())
                rows.append((i.id, p.id, cmp, code, name, pooled[key], target, fill and not cmp,
                             *_baseline(i, p, None, targeted)))
    return pd.DataFrame(rows, columns=["indicator_id", "programme_id", "comparison", "district_ags",
                                       "district_name", "population", "target", "zero_fill",
                                       "baseline", "baseline_date", "baseline_source"])


def _baseline(indicator: Indicator, programme: Programme, ags: str | None, targeted: bool) -> tuple:
    """(value, date, source) of the baseline of a row that carries the target, else three NULLs."""
    found = indicator.baseline_for(programme.id, ags) if targeted else None
    return (found.value, found.date, found.source) if found else (None, None, None)


def milestones_frame(catalogue: Catalogue, indicators: IndicatorCatalogue) -> pd.DataFrame:
    """Every milestone of the rows that carry a target, and that target itself, due at the
    programme's end: status paces against the latest one due by the reporting date (section 6)."""
    rows = []
    placed = _placed(catalogue)
    for i in indicators:
        if not i.overrides:
            continue
        for p in catalogue.programmes:
            if not i.applies_to(p.id):
                continue
            by_district = p.target_level == "district"
            places = [ags for ags, cmp in _places(i, p, placed) if not cmp] if by_district else [ALL]
            for ags in places:
                key = None if ags == ALL else ags
                milestones, target = i.milestones_for(p.id, key), i.target_for(p.id, key)
                if not milestones or target is None:
                    continue
                rows += [(i.id, p.id, False, ags, m.due, m.value) for m in milestones]
                rows.append((i.id, p.id, False, ags, p.end, target))
    return pd.DataFrame(rows, columns=["indicator_id", "programme_id", "comparison", "district_ags", "due", "value"])


def indicators_frame(indicators: IndicatorCatalogue) -> pd.DataFrame:
    rows = [(n, i.id, i.direction, i.unit, i.label_de, i.label_en, i.definition.aggregate,
             bool(i.definition.high), i.interval) for n, i in enumerate(indicators)]
    return pd.DataFrame(rows, columns=["ord", "indicator_id", "direction", "unit", "label_de", "label_en",
                                       "aggregate", "has_high", "interval"])


# -- how far each programme is ------------------------------------------------------------------

def latest_quarters(con) -> dict[str, str]:
    """Latest delivery quarter per district: its current sheets, and any records loaded."""
    sources = ["SELECT district_ags, delivery_quarter FROM current_sheets"]
    sources += [f"SELECT district_ags, delivery_quarter FROM stg_{f}" for f in load_contract().feeds]
    found = con.execute(f"SELECT district_ags, max(delivery_quarter) FROM ({' UNION ALL '.join(sources)}) "
                        "WHERE delivery_quarter IS NOT NULL GROUP BY 1").fetchall()
    return dict(found)


def reached_date(programme: Programme, latest: str | None, as_of: dt.date | None) -> dt.date:
    """The date the programme's reporting has reached (end of the latest reported quarter, within
    the period; a finished programme its end): the end of the elapsed share, and milestones due
    by then are in force."""
    if as_of is not None and as_of >= programme.end:
        return programme.end
    if latest is None:
        return programme.start
    return min(max(quarter_bounds(latest)[1], programme.start), programme.end)


def elapsed_share(programme: Programme, latest: str | None, as_of: dt.date | None) -> float:
    """(reached date − start) / (end − start), in [0, 1]; finished → 1."""
    reached = reached_date(programme, latest, as_of)
    return (reached - programme.start).days / max((programme.end - programme.start).days, 1)


def programmes_frame(con, catalogue: Catalogue, as_of: dt.date | None = None,
                     latest: dict[str, str] | None = None) -> pd.DataFrame:
    """Programme order and elapsed share. Without `as_of`, the warehouse's own reporting date
    (end of the latest delivery quarter of any district) decides whether a programme is over,
    so the same data always gives the same figures, whatever the wall clock says. `latest`:
    `latest_quarters(con)`, if the caller has it already."""
    latest = latest_quarters(con) if latest is None else latest
    if as_of is None and latest:
        as_of = quarter_bounds(max(latest.values()))[1]
    rows = []
    for n, p in enumerate(catalogue.programmes):
        reported = max([latest[a] for a in p.districts if a in latest], default=None)
        rows.append((n, p.id, elapsed_share(p, reported, as_of), reached_date(p, reported, as_of)))
    return pd.DataFrame(rows, columns=["ord", "programme_id", "share", "reached"])


# -- the query ----------------------------------------------------------------------------------

FINAL_SQL = """
WITH v AS (SELECT * FROM {parts}),
filled AS (
    SELECT * FROM v
    UNION ALL
    SELECT r.indicator_id, r.programme_id, r.comparison, r.district_ags, '{total}', 0, NULL, 0, NULL, NULL
    FROM _rows r
    WHERE r.zero_fill AND NOT EXISTS (
        SELECT 1 FROM v WHERE v.indicator_id = r.indicator_id AND v.programme_id = r.programme_id
        AND v.comparison = r.comparison AND v.district_ags = r.district_ags AND v.period = '{total}')
),
in_force AS (
    -- per row with milestones: the latest due by the reporting date (none yet: nothing is due)
    SELECT m.indicator_id, m.programme_id, m.comparison, m.district_ags, true AS paced,
           max(m.due) FILTER (WHERE m.due <= p.reached) AS m_due,
           arg_max(m.value, m.due) FILTER (WHERE m.due <= p.reached) AS m_value
    FROM _milestones m JOIN _programmes p USING (programme_id)
    GROUP BY ALL
),
figures AS (
    SELECT f.*, r.district_name, r.population, i.direction, i.unit, i.label_de, i.label_en, i.aggregate,
           i.ord AS i_ord, p.ord AS p_ord, p.share,
           CASE WHEN f.period = '{total}' THEN r.baseline END AS baseline,
           CASE WHEN f.period = '{total}' THEN r.baseline_date END AS baseline_date,
           CASE WHEN f.period = '{total}' THEN r.baseline_source END AS baseline_source,
           CASE WHEN f.period = '{total}' THEN coalesce(m.paced, false) ELSE false END AS paced,
           CASE WHEN f.period = '{total}' THEN m.m_value END AS m_value,
           CASE WHEN f.period = '{total}' THEN m.m_due END AS m_due,
           round(f.value, 4) AS v,
           CASE WHEN i.has_high THEN round(coalesce(f.value_high, 0), 4) END AS vh,
           CASE WHEN f.period = '{total}' THEN r.target END AS t,
           CASE WHEN i.interval = 't' AND f.n >= 2
                THEN ({t975}) * f.sd / sqrt(f.n) END AS half_width,
           {wilson}
    FROM filled f
    JOIN _rows r USING (indicator_id, programme_id, comparison, district_ags)
    JOIN _indicators i USING (indicator_id)
    JOIN _programmes p USING (programme_id)
    LEFT JOIN in_force m USING (indicator_id, programme_id, comparison, district_ags)
)
SELECT programme_id, indicator_id, district_ags, district_name, comparison, period,
       v AS value, vh AS value_high,
       round(coalesce(v - half_width, w_low), 4) AS ci_low, round(coalesce(v + half_width, w_high), 4) AS ci_high,
       n, method, t AS target, direction,
       CASE WHEN t IS NULL OR direction IS NULL THEN NULL
            WHEN direction = 'at_most' THEN CASE WHEN v <= t THEN 'within' ELSE 'exceeded' END
            WHEN v >= t THEN 'achieved'
            WHEN paced THEN CASE WHEN v >= coalesce(m_value, 0) THEN 'on_track' ELSE 'behind' END
            WHEN v >= t * share THEN 'on_track'
            ELSE 'behind' END AS status,
       CASE WHEN t > 0 THEN round(v / t * 100, 1) END AS attainment_pct,
       CASE WHEN period = '{total}' THEN round(share, 4) END AS elapsed_share,
       baseline, baseline_date, baseline_source, m_value AS milestone, m_due AS milestone_due,
       CASE WHEN aggregate NOT IN ('mean', 'coverage', 'trajectory') AND population > 0
            THEN round(v / population * 10000, 2) END AS per_10k,
       unit, label_de, label_en
FROM figures
ORDER BY p_ord, i_ord, comparison, district_ags, period
"""


def compile_values(indicators: IndicatorCatalogue, sources: dict[str, str] | None = None) -> str:
    """Every indicator's VALUE_COLUMNS rows (districts and ALL, quarters and total), unfinished."""
    params = {n: p.value for n, p in indicators.parameters.items()}
    return " UNION ALL ".join(f"({sql.compile_indicator(i, params, sources)})" for i in indicators)


def compile_breakdowns(indicators: IndicatorCatalogue, sources: dict[str, str] | None = None) -> str | None:
    """Every declared breakdown's rows (VALUE_COLUMNS, breakdown, breakdown_value), unfinished."""
    params = {n: p.value for n, p in indicators.parameters.items()}
    parts = [f"(SELECT *, '{b}' AS breakdown FROM ({sql.placed_only(b, sql.compile_indicator(i, params, sources, b))}))"
             for i in indicators for b in i.breakdowns]
    return " UNION ALL ".join(parts) if parts else None


# Breakdown rows carry no target or status (a target is set for the whole, contract section 6);
# they are rounded and named as the overall rows are, and exist only where those apply.
BREAKDOWN_FINAL_SQL = """
SELECT v.programme_id, v.indicator_id, v.district_ags, r.district_name, v.comparison, v.period, v.breakdown,
       v.breakdown_value, round(v.value, 4) AS value,
       CASE WHEN i.has_high THEN round(coalesce(v.value_high, 0), 4) END AS value_high, v.n, v.method,
       i.unit, i.label_de, i.label_en, round(w_low, 4) AS ci_low, round(w_high, 4) AS ci_high
FROM (SELECT v.*, {wilson} FROM {parts} v JOIN _indicators i USING (indicator_id)) v
JOIN _rows r USING (indicator_id, programme_id, comparison, district_ags)
JOIN _indicators i USING (indicator_id)
JOIN _programmes p USING (programme_id)
ORDER BY p.ord, i.ord, v.comparison, v.district_ags, v.period, v.breakdown, v.breakdown_value
"""


def compile_breakdown_final(parts: str) -> str:
    return BREAKDOWN_FINAL_SQL.format(parts=parts, wilson=wilson_sql("v.value", "v.n", "i.interval"))


def compile_final(parts: str = "_values") -> str:
    """Zero rows, names, targets, status and rounding, over the unfinished rows in `parts`."""
    return FINAL_SQL.format(parts=parts, total=TOTAL, t975=sql.t975_sql("(f.n - 1)"),
                            wilson=wilson_sql("f.value", "f.n", "i.interval"))


def wilson_sql(percent: str, n: str, interval: str) -> str:
    """The Wilson score interval (95 %, z = 1.959964) of a share given in percent of n persons, as
    w_low, w_high in percent: (p + z²/2n ∓ z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n). Unlike p ± z·se it
    stays inside 0–100 and is not empty at 0 % or 100 %."""
    p, z2 = f"({percent} / 100.0)", "3.841459"
    centre = f"({p} + {z2} / (2.0 * {n}))"
    half = f"(1.959964 * sqrt({p} * (1 - {p}) / {n} + {z2} / (4.0 * {n} * {n})))"
    scale = f"(1 + {z2} / {n})"
    on = f"{interval} = 'wilson' AND {n} > 0"
    return (f"CASE WHEN {on} THEN 100 * ({centre} - {half}) / {scale} END AS w_low, "
            f"CASE WHEN {on} THEN 100 * ({centre} + {half}) / {scale} END AS w_high")


def _register(con, name: str, frame: pd.DataFrame, casts: dict[str, str]) -> None:
    """A catalogue frame as a temp table with explicit types (dates as DATE, not TIMESTAMP)."""
    con.register("_frame", frame)
    columns = ", ".join(f"CAST({sql.q(c)} AS {casts[c]}) AS {sql.q(c)}" if c in casts else sql.q(c)
                        for c in frame.columns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns} FROM _frame")
    con.unregister("_frame")


# -- inputs ---------------------------------------------------------------------------------------

def input_feeds(indicators: IndicatorCatalogue) -> list[str]:
    """The feeds whose current records the indicators read (a reach reads attendance too)."""
    used = set()
    for i in indicators:
        d = i.definition
        used |= {d.feed, *(extra.feed for extra in d.plus)}
        if d.aggregate == "reach":
            used.add("attendance")
    if "attendance" in used:
        used.add("events")  # attendance is dated by its event
    return [f for f in sql.feeds() if f in used]


def catalogue_frames(con, catalogue: Catalogue, indicators: IndicatorCatalogue, as_of: dt.date | None = None,
                     latest: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """What the catalogue and the reporting date say, as the frames the query joins."""
    places = cached_places(catalogue)
    return {"_scope": scope_frame(catalogue, indicators), "_rows": rows_frame(catalogue, indicators),
            "_indicators": indicators_frame(indicators), "_milestones": milestones_frame(catalogue, indicators),
            "_programmes": programmes_frame(con, catalogue, as_of, latest),
            # The places events are matched to (region breakdowns, coverage), and the prefixes the
            # matching strips: both part of what the values are computed from.
            sql.PLACE_NAMES: places.lookup, "_place_prefixes": pd.DataFrame({"prefix": list(places.prefixes)})}


def inputs_print(con, indicators: IndicatorCatalogue, frames: dict[str, pd.DataFrame]) -> str:
    """What `indicator_values` is computed from: the staged rows of every feed the indicators read
    (cur_<feed> is a view over them, whose definition counts too), the compiled SQL and the
    catalogue frames (where each indicator applies, names, targets, order, the reporting date)."""
    feeds = input_feeds(indicators)
    digest = hashlib.sha256(repr(sorted(relation_prints(con, {f: f"stg_{f}" for f in feeds}).items())).encode())
    digest.update(repr(view_definitions(con, [f"cur_{feed}" for feed in feeds])).encode())
    digest.update(compile_values(indicators).encode())
    digest.update((compile_breakdowns(indicators) or "").encode())
    digest.update(compile_final().encode())
    for name in sorted(frames):
        digest.update(name.encode() + frame_print(frames[name]).encode())
    return digest.hexdigest()[:24]


def _recompute(con, indicators, target: str, prefixes: tuple[str, ...] = ()) -> None:
    """compile_values over all current records into the temp table `target` (and the breakdowns
    into `target`_breakdowns)."""
    sources = _materialise(con, indicators, input_feeds(indicators), prefixes)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS "
                    f"{compile_values(indicators, sources)}")
        breakdowns = compile_breakdowns(indicators, sources)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {target}_breakdowns AS " + (breakdowns or (
            "SELECT *, '' AS breakdown_value, '' AS breakdown FROM " + target + " WHERE FALSE")))
    finally:
        for name in sources.values():
            con.execute(f"DROP TABLE IF EXISTS {name}")


def _materialise(con, indicators: IndicatorCatalogue, feeds: list[str], prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    """Each feed's current records once per run as a temp table: cur_<feed> is a view (a window,
    for attendance a join over millions of rows) that the indicators would otherwise evaluate
    once per indicator, and a reach twice. Events carry the place their municipality names
    (columns `municipality_key`, `region`; pipeline/places), matched once per distinct spelling."""
    sources = {}
    for feed in feeds:
        if feed == "attendance":
            continue
        relation = f"({placed_events_sql('cur_events', prefixes)})" if feed == "events" else f"cur_{feed}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE _src_{feed} AS SELECT * FROM {relation}")
        sources[feed] = f"_src_{feed}"
    if "attendance" in feeds:
        # Millions of rows: only the columns the definitions name (a column left out would be a
        # binder error, never a different figure).
        columns = ", ".join(sql.q(c) for c in sorted(_named_columns(indicators, "attendance") - {"date", "event_type"}))
        attendance = f"(SELECT {columns} FROM cur_attendance)"
        con.execute("CREATE OR REPLACE TEMP TABLE _src_attendance AS "
                    + sql.dated_attendance_sql(attendance, sources["events"]))
        sources["attendance"] = "_src_attendance"
        # Whether an event has an attendance list, asked by every reach: once, not per reach.
        con.execute("CREATE OR REPLACE TEMP TABLE _src_listed_events AS "
                    "SELECT DISTINCT district_ags, event_id FROM _src_attendance")
        sources["listed_events"] = "_src_listed_events"
    return sources


WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _named_columns(indicators: IndicatorCatalogue, feed: str) -> set[str]:
    """The feed's columns that any definition's text names, and those the compiled SQL uses."""
    texts = []
    for i in indicators:
        d = i.definition
        texts += [d.filter, d.attendance_filter, d.column, d.high, *d.fallback]
        texts += [x for extra in d.plus for x in (extra.filter, extra.column)]
        texts += list(i.breakdowns)
    words = {w for text in texts if text for w in WORD.findall(text)}
    return (words & sql.feed_columns(feed)) | {"district_ags", "event_id", "person_key", sql.date_column(feed)}


def compute_indicators(con, catalogue: Catalogue, indicators: IndicatorCatalogue,
                       as_of: dt.date | None = None) -> pd.DataFrame:
    """(Re)write `indicator_values` from the cur_<feed> views and return it, in published order."""
    write_indicators(con, indicators, catalogue_frames(con, catalogue, indicators, as_of))
    return read_indicator_values(con)


CASTS = {
    "_scope": {"indicator_id": "VARCHAR", "programme_id": "VARCHAR", "district_ags": "VARCHAR",
               "comparison": "BOOLEAN", "start": "DATE", "end": "DATE"},
    "_rows": {"indicator_id": "VARCHAR", "programme_id": "VARCHAR", "district_ags": "VARCHAR",
              "comparison": "BOOLEAN", "district_name": "VARCHAR", "population": "DOUBLE",
              "target": "DOUBLE", "zero_fill": "BOOLEAN", "baseline": "DOUBLE", "baseline_date": "DATE",
              "baseline_source": "VARCHAR"},
    "_milestones": {"indicator_id": "VARCHAR", "programme_id": "VARCHAR", "comparison": "BOOLEAN",
                    "district_ags": "VARCHAR", "due": "DATE", "value": "DOUBLE"},
    "_indicators": {"indicator_id": "VARCHAR", "direction": "VARCHAR", "unit": "VARCHAR", "label_de": "VARCHAR",
                    "label_en": "VARCHAR", "aggregate": "VARCHAR", "has_high": "BOOLEAN", "ord": "INTEGER",
                    "interval": "VARCHAR"},
    "_programmes": {"programme_id": "VARCHAR", "ord": "INTEGER", "share": "DOUBLE", "reached": "DATE"},
    sql.PLACE_NAMES: {"district_ags": "VARCHAR", "norm": "VARCHAR", "municipality_key": "VARCHAR", "region_id": "VARCHAR"},
    "_place_prefixes": {"prefix": "VARCHAR"},
}


def write_indicators(con, indicators: IndicatorCatalogue, frames: dict[str, pd.DataFrame]) -> None:
    """(Re)write `indicator_values` from all records and the catalogue frames, keeping no state."""
    for name, frame in frames.items():
        _register(con, name, frame, CASTS[name])
    try:
        prefixes = tuple(frames["_place_prefixes"]["prefix"]) if "_place_prefixes" in frames else ()
        _recompute(con, indicators, "_values", prefixes)
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS {compile_final()}")
        con.execute(f"CREATE OR REPLACE TABLE {BREAKDOWN_TABLE} AS {compile_breakdown_final('_values_breakdowns')}")
    finally:
        for name in (*frames, "_values", "_values_breakdowns"):
            con.execute(f"DROP TABLE IF EXISTS {name}")


def read_indicator_values(con) -> pd.DataFrame:
    """The table as written (insertion order is the published order)."""
    return con.execute(f"SELECT * FROM {TABLE}").df()
