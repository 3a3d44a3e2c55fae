"""The SQL screen: a feed's suite compiled to DuckDB predicates, so GX judges only doubtful rows.

Staging works set-based in the warehouse (8 million attendance rows nationally):

1. Typing: each typed column's *distinct* raw texts (with the file's decimal-comma flag) are
   typed by `values.type_columns` itself, the one implementation, and joined back in DuckDB.
2. Screening: every expectation of the feed's suite is compiled to a SQL predicate that is true
   for every row the expectation could fail (a superset; regexes are evaluated by Python's `re`
   exactly as GX does, over the distinct values; a compound-unique key flags every row of a
   duplicated group). A suite with an expectation the compiler does not know is refused when the
   contract is loaded for staging (`screen_plan` raises): add its SQL form here first.
3. Judging: the flagged rows (typically well under 1 %) go through `suite.prepare` and one GX
   validation of the suite; GX decides which of them are rejected and why. Unflagged rows cannot
   fail any expectation, so they are accepted as typed in step 1.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.contract import Contract, Feed
from pipeline.intake.values import type_columns
from pipeline.warehouse import insert_rows

SCREEN_KWARGS = {
    "expect_column_values_to_not_be_null": {"column"},
    "expect_column_values_to_be_null": {"column"},
    "expect_column_values_to_be_in_set": {"column", "value_set"},
    "expect_column_values_to_match_regex": {"column", "regex"},
    "expect_column_values_to_not_match_regex": {"column", "regex"},
    "expect_column_values_to_be_between": {"column", "min_value", "max_value"},
    "expect_compound_columns_to_be_unique": {"column_list"},
    "expect_column_pair_values_a_to_be_greater_than_b": {"column_A", "column_B", "or_equal", "ignore_row_if"},
}
TYPED_SQL = {"date": "DATE", "month": "DATE", "int": "BIGINT", "decimal": "DOUBLE", "bool": "BOOLEAN", "enum": "VARCHAR"}
DERIVED_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d+)?)|([-+*()]))")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ValueError(value)


def _derived_sql(expression: str, columns: set[str]) -> str | None:
    """A derived column of the suite (`a + b`) in SQL; None if it is more than + - * of columns."""
    out, pos = [], 0
    while pos < len(expression.rstrip()):
        m = DERIVED_TOKEN.match(expression, pos)
        if not m:
            return None
        name, number, op = m.groups()
        if name is not None:
            if name not in columns:
                return None
            out.append(_q(name))
        else:
            out.append(number or op)
        pos = m.end()
    return " ".join(out) if out else None


@dataclass
class ScreenPlan:
    """A feed's suite compiled for set-based staging."""
    feed: Feed
    predicates: list[str]                       # SQL over the typed columns; a row is flagged if any holds
    regexes: list[tuple[str, str, bool]]        # (column, regex, must_match): failing values found in Python
    unique_keys: list[list[str]]                # compound-unique column lists
    derived: dict[str, str]                     # name -> SQL


def _typed_columns(feed: Feed) -> dict[str, str]:
    """Columns of the frame `prepare` builds, with their SQL type (what a predicate may name)."""
    columns = {"receipt_id": "VARCHAR", "district_ags": "VARCHAR", "delivery_quarter": "VARCHAR",
               "source_row": "BIGINT", "_quarter_end": "DATE", "_in_programme": "BOOLEAN", "row_problem": "VARCHAR"}
    if feed.name == "attendance":
        columns["_event_known"] = "BOOLEAN"
    if feed.name == "survey":
        columns["_wave_listed"] = "BOOLEAN"
    if feed.name == "trajectories":
        columns["_arrival_consistent"] = "BOOLEAN"
    for col in feed.columns:
        columns[f"{col.name}__raw"] = "VARCHAR"
        if col.type in ("text", "pseudonym"):
            columns[col.name] = "VARCHAR"
        elif col.type == "range":
            columns.update({col.name: "BIGINT", f"{col.name}_low": "BIGINT", f"{col.name}_high": "BIGINT",
                            f"{col.name}__unparsed": "VARCHAR"})
        else:
            columns[col.name] = TYPED_SQL[col.type]
            if col.type != "enum":
                columns[f"{col.name}__unparsed"] = "VARCHAR"
    return columns


class ScreenError(ValueError):
    """A suite holds an expectation the screen cannot compile: staging refuses it, since a row it
    could fail would be accepted unjudged. Add its SQL form in `_compile` first."""


def screen_plan(feed: Feed) -> ScreenPlan:
    """The suite as SQL predicates (ScreenError names the expectation beyond the compiler)."""
    columns = _typed_columns(feed)
    derived = {}
    for name, expression in feed.derived.items():
        sql = _derived_sql(expression, set(columns) | set(derived))
        if sql is None:
            raise ScreenError(f"{feed.name}: derived column {name} = {expression!r} is more than + - * of columns")
        derived[name] = sql
        columns[name] = "DOUBLE"
    plan = ScreenPlan(feed, [], [], [], derived)
    for e in feed.suite["expectations"]:
        if not _compile(plan, e["type"], dict(e["kwargs"]), columns):
            raise ScreenError(f"expectations/{feed.name}.json: {e['type']} {e['kwargs']} cannot be screened in SQL")
    return plan


def _compile(plan: ScreenPlan, kind: str, kw: dict, columns: dict[str, str]) -> bool:
    """Add one expectation's predicate (or regex, or unique key) to the plan; False if beyond it."""
    if kind not in SCREEN_KWARGS or set(kw) - SCREEN_KWARGS[kind]:
        return False
    names = kw.get("column_list") or [kw[k] for k in ("column", "column_A", "column_B") if k in kw]
    if any(n not in columns for n in names):
        return False
    try:
        if kind == "expect_column_values_to_not_be_null":
            plan.predicates.append(f"{_q(kw['column'])} IS NULL")
        elif kind == "expect_column_values_to_be_null":
            plan.predicates.append(f"{_q(kw['column'])} IS NOT NULL")
        elif kind == "expect_column_values_to_be_in_set":
            if kw.get("value_set") is not None:
                values = ", ".join(_literal(v) for v in kw["value_set"]) or "NULL"
                plan.predicates.append(f"({_q(kw['column'])} IS NOT NULL AND {_q(kw['column'])} NOT IN ({values}))")
        elif kind in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
            if columns[kw["column"]] != "VARCHAR":
                return False
            plan.regexes.append((kw["column"], kw["regex"], kind.endswith("to_match_regex")))
        elif kind == "expect_column_values_to_be_between":
            c = _q(kw["column"])
            if columns[kw["column"]] not in ("BIGINT", "DOUBLE"):
                return False
            outside = [f"{c} < {_literal(kw['min_value'])}" for _ in [0] if kw.get("min_value") is not None]
            outside += [f"{c} > {_literal(kw['max_value'])}" for _ in [0] if kw.get("max_value") is not None]
            if outside:
                plan.predicates.append(f"({c} IS NOT NULL AND ({' OR '.join(outside)}))")
        elif kind == "expect_compound_columns_to_be_unique":
            plan.unique_keys.append(list(kw["column_list"]))
        else:  # column pair A > B (or ≥), rows with a missing value ignored; ties are flagged too
            if kw.get("ignore_row_if") != "either_value_is_missing":
                return False
            a, b = _q(kw["column_A"]), _q(kw["column_B"])
            plan.predicates.append(f"({a} IS NOT NULL AND {b} IS NOT NULL AND {a} <= {b})")
    except ValueError:
        return False
    return True


def _lookup_frame(con, feed: Feed, col, where: str, params: list, contract: Contract) -> pd.DataFrame:
    """The distinct raw texts of one typed column, typed by `values.type_columns`."""
    comma = col.type in ("int", "decimal")
    distinct = con.execute(
        f"SELECT DISTINCT {_q(col.name)} AS v{', coalesce(decimal_comma, FALSE) AS dc' if comma else ''} "
        f"FROM raw_{feed.name} WHERE {where}", params).df()
    if not comma:
        distinct["dc"] = False
    raw = pd.DataFrame({col.name: distinct["v"].astype(object).where(distinct["v"].notna(), None),
                        "decimal_comma": distinct["dc"].astype(bool)})
    typed = type_columns(raw, (col,), contract)
    out = pd.DataFrame({"v": raw[col.name], "dc": raw["decimal_comma"]})
    if col.type == "range":
        out["typed"], out["low"], out["high"] = typed[col.name], typed[f"{col.name}_low"], typed[f"{col.name}_high"]
    else:
        out["typed"] = typed[col.name]
    if f"{col.name}__unparsed" in typed:
        out["unparsed"] = typed[f"{col.name}__unparsed"]
    for column in out.columns:
        if isinstance(out[column].dtype, pd.BooleanDtype):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def register_typing(con, feed: Feed, contract: Contract, where: str, params: list) -> None:
    """Temp tables _ty_<column>: raw text (+ decimal-comma flag) -> typed value, unparsed text."""
    for col in feed.columns:
        if col.type in ("text", "pseudonym"):
            continue
        frame = _lookup_frame(con, feed, col, where, params, contract)
        sql_type = "BIGINT" if col.type == "range" else TYPED_SQL[col.type]
        casts = ["CAST(v AS VARCHAR) AS v", "CAST(dc AS BOOLEAN) AS dc", f"CAST(typed AS {sql_type}) AS typed"]
        if col.type == "range":
            casts += ["CAST(low AS BIGINT) AS low", "CAST(high AS BIGINT) AS high"]
        if "unparsed" in frame:
            casts.append("CAST(unparsed AS VARCHAR) AS unparsed")
        con.register("_lookup", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ty_{col.name} AS SELECT {', '.join(casts)} FROM _lookup")
        con.unregister("_lookup")


def typed_select(plan: ScreenPlan, where: str) -> str:
    """SELECT of the frame `prepare` builds, over raw_<feed> (needs _ty_*, _quarters, _members)."""
    feed = plan.feed
    select = ["r.receipt_id", "r.district_ags", "r.delivery_quarter", "r.source_row", "r.decimal_comma", "r.row_problem"]
    joins = []
    for col in feed.columns:
        c, alias = _q(col.name), f"t_{col.name}"
        if col.type in ("text", "pseudonym"):  # its __raw twin is an alias in `typed_rows`, not a copy
            select.append(f"r.{c} AS {c}")
            continue
        select.append(f"r.{c} AS {_q(col.name + '__raw')}")
        on = f"{alias}.v IS NOT DISTINCT FROM r.{c}"
        if col.type in ("int", "decimal"):
            on += f" AND {alias}.dc = coalesce(r.decimal_comma, FALSE)"
        joins.append(f"LEFT JOIN _ty_{col.name} {alias} ON {on}")
        if col.type == "range":
            select += [f"{alias}.low AS {c}", f"{alias}.low AS {_q(col.name + '_low')}",
                       f"{alias}.high AS {_q(col.name + '_high')}"]
        else:
            select.append(f"{alias}.typed AS {c}")
        if col.type != "enum":
            select.append(f"{alias}.unparsed AS {_q(col.name + '__unparsed')}")
    select += ["qb.q_end AS _quarter_end", "qb.q_start AS _quarter_start"]
    joins.append("JOIN _quarters qb ON qb.q = r.delivery_quarter")
    inner = f"SELECT {', '.join(select)} FROM raw_{feed.name} r {' '.join(joins)} WHERE {where}"
    date = _q(feed.date_column) if feed.date_column else None
    if date is None:
        in_programme = "t.district_ags IN (SELECT district_ags FROM _members)"
    else:
        in_programme = (f"CASE WHEN t.{date} IS NULL THEN NULL ELSE EXISTS (SELECT 1 FROM _members m WHERE "
                        f"m.district_ags = t.district_ags AND t.{date} BETWEEN m.start AND m.\"end\") END")
    outer = ["t.*", f"{in_programme} AS _in_programme"]
    if feed.name == "attendance":
        outer.append("CASE WHEN t.event_id IS NULL THEN NULL ELSE EXISTS (SELECT 1 FROM _known_events k WHERE "
                     "k.district_ags = t.district_ags AND k.event_id = t.event_id) END AS _event_known")
    if feed.name == "survey":
        outer.append(f"{wave_listed_sql('t')} AS _wave_listed")
    source = f"({inner}) t"
    if feed.name == "trajectories":
        outer.append(ARRIVAL_CONSISTENT)
        source += " LEFT JOIN _known_arrivals ka ON ka.district_ags = t.district_ags AND ka.person_key = t.person_key"
    outer += [f"{sql} AS {_q(name)}" for name, sql in plan.derived.items()]
    if date is None:
        outer += ["CAST(NULL AS VARCHAR) AS _stg_quarter", "FALSE AS _is_late"]
    else:
        outer += [f"CASE WHEN t.{date} IS NULL THEN NULL ELSE CAST(year(t.{date}) AS VARCHAR) || '-Q' || "
                  f"CAST(quarter(t.{date}) AS VARCHAR) END AS _stg_quarter",
                  f"coalesce(t.{date} < t._quarter_start, FALSE) AS _is_late"]
    return f"SELECT {', '.join(outer)} FROM {source}"


# Trajectories: a person has one month of arrival (contract section 3). The month that counts is the
# one of the person's accepted rows in the district's earlier deliveries (`_known_arrivals`, built
# by staging), else of the person's first row in this file by date (then by row): a row with
# another month is the later row, rejected as `inconsistent_counts`. Computed here over the whole
# sheet, since the suite sees only the flagged rows; a row without a month or key is not judged.
ARRIVAL_CONSISTENT = """CASE WHEN t.arrival_month IS NULL OR t.person_key IS NULL THEN NULL
    ELSE t.arrival_month = coalesce(ka.arrival_month, first_value(t.arrival_month) OVER (
        PARTITION BY t.receipt_id, t.person_key
        ORDER BY t.arrival_month IS NULL, t.date NULLS LAST, t.source_row)) END AS _arrival_consistent"""


WAVE_NUMBERS = tuple(str(k) for k in range(1, 13))   # deliveries.md, survey `wave`


def wave_listed_sql(t: str) -> str:
    """Whether a survey row's numbered wave is one its programme lists (the programme found by
    district and date, `_waves` from Catalogue.survey_waves); NULL where the question does not
    arise (no number, no date, or outside every programme: other rules answer those)."""
    numbers = ", ".join(_literal(v) for v in WAVE_NUMBERS)
    inside = f"w.district_ags = {t}.district_ags AND {t}.date BETWEEN w.start AND w.\"end\""
    return (f"CASE WHEN {t}.wave IS NULL OR {t}.wave NOT IN ({numbers}) OR {t}.date IS NULL "
            f"OR NOT EXISTS (SELECT 1 FROM _waves w WHERE {inside}) THEN NULL "
            f"ELSE EXISTS (SELECT 1 FROM _waves w WHERE {inside} AND w.wave = {t}.wave) END")


def screen_tables(plan: ScreenPlan) -> list[str]:
    """The temp tables `start_screen` and `flag_candidates` leave behind."""
    return ["_cands", *(f"_rx_{n}" for n in range(len(plan.regexes))),
            *(f"_seen_{n}" for n in range(len(_regex_columns(plan)))),
            *(f"_dup_{n}" for n in range(len(plan.unique_keys)))]


def _regex_columns(plan: ScreenPlan) -> list[str]:
    return list(dict.fromkeys(column for column, _, _ in plan.regexes))


def start_screen(con, plan: ScreenPlan) -> None:
    """Empty verdict tables for a staging pass: _seen_<k> the texts of a regex column judged so
    far, _rx_<n> those regex n flags. The chunks of a pass share them: the same pseudonyms come
    back every quarter, and each distinct text is matched once."""
    for k, _ in enumerate(_regex_columns(plan)):
        con.execute(f"CREATE OR REPLACE TEMP TABLE _seen_{k} (v VARCHAR)")
    for n, _ in enumerate(plan.regexes):
        con.execute(f"CREATE OR REPLACE TEMP TABLE _rx_{n} (v VARCHAR)")


def _judge_regexes(con, plan: ScreenPlan) -> None:
    """Add to _rx_<n> the texts of _typed not judged before in this pass that regex n flags."""
    for k, column in enumerate(_regex_columns(plan)):
        values = con.execute(f"SELECT DISTINCT {_q(column)} AS v FROM _typed t WHERE {_q(column)} IS NOT NULL "
                             f"AND NOT EXISTS (SELECT 1 FROM _seen_{k} s WHERE s.v = t.{_q(column)})"
                             ).df()["v"].astype(object)
        for n, (of, regex, must_match) in enumerate(plan.regexes):
            if of != column:
                continue
            with warnings.catch_warnings():  # pandas warns about match groups; GX evaluates the same call
                warnings.simplefilter("ignore", UserWarning)
                hits = values.astype(str).str.contains(regex)  # what GX's pandas engine evaluates
            failing = values[~hits] if must_match else values[hits]
            insert_rows(con, f"_rx_{n}", pd.DataFrame({"v": failing.astype(object)}, dtype=object))
        insert_rows(con, f"_seen_{k}", pd.DataFrame({"v": values}, dtype=object))


def typed_rows(plan: ScreenPlan) -> str:
    """_typed with every column of the frame `prepare` builds: a text column's `<col>__raw` is
    the column itself, named twice here instead of stored twice (8 million pseudonyms)."""
    aliases = [f"{_q(c.name)} AS {_q(c.name + '__raw')}" for c in plan.feed.columns if c.type in ("text", "pseudonym")]
    return f"(SELECT *, {', '.join(aliases)} FROM _typed)" if aliases else "_typed"


def flag_candidates(con, plan: ScreenPlan) -> None:
    """Temp table _cands (receipt_id, source_row): every row of _typed some expectation could fail
    (after `start_screen` for the pass)."""
    predicates = list(plan.predicates)
    _judge_regexes(con, plan)
    predicates += [f"{_q(column)} IN (SELECT v FROM _rx_{n})" for n, (column, _, _) in enumerate(plan.regexes)]
    for n, key in enumerate(plan.unique_keys):
        # Grouped by one hash of the key, not by its texts: a collision only flags rows GX then clears.
        cols = ", ".join(_q(c) for c in key)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _dup_{n} AS SELECT hash({cols}) AS h FROM {typed_rows(plan)} "
                    f"GROUP BY 1 HAVING count(*) > 1")
        nulls = " OR ".join(f"t.{_q(c)} IS NULL" for c in key)
        t_cols = ", ".join(f"t.{_q(c)}" for c in key)
        predicates.append(f"({nulls} OR hash({t_cols}) IN (SELECT h FROM _dup_{n}))")
    where = " OR ".join(f"({p})" for p in predicates) or "FALSE"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _cands AS SELECT receipt_id, source_row FROM {typed_rows(plan)} t "
                f"WHERE {where}")
