"""The one validator: types a feed's rows, derives what the rules need, runs the feed's GX suite.

Every row rule of the delivery contract is an expectation in expectations/<feed>.json whose
`meta` names the reason code; this module only prepares the columns those expectations look at
and turns GX's row-level failures (`unexpected_index_list`) into rejections with the district's
file, row, column, value and reason. Set-based throughout: one GX validation per feed and call,
however many files and quarters the frame holds.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.catalogue import Catalogue
from pipeline.contract import Contract, Feed
from pipeline.judge import run_suite
from pipeline.quarters import quarter_bounds
from pipeline.values import type_columns
from pipeline.warehouse import insert_rows, stg_columns

REJECTION_COLUMNS = ["receipt_id", "feed", "district_ags", "delivery_quarter", "source_row", "column",
                     "value", "reason_code", "reason_de", "reason_en"]
MASK = "*** (verborgen / hidden)"


@dataclass
class Validated:
    accepted: pd.DataFrame    # stg_<feed> rows
    rejections: pd.DataFrame  # REJECTION_COLUMNS, one row per problem
    results: pd.DataFrame     # per receipt: rows_read, accepted, rejected, late


def _quarter_ends(delivery_quarter: pd.Series) -> pd.Series:
    ends = {q: pd.Timestamp(quarter_bounds(q)[1]) for q in delivery_quarter.dropna().unique()}
    return delivery_quarter.map(ends).astype("datetime64[s]")


def _quarter_starts(delivery_quarter: pd.Series) -> pd.Series:
    starts = {q: pd.Timestamp(quarter_bounds(q)[0]) for q in delivery_quarter.dropna().unique()}
    return delivery_quarter.map(starts).astype("datetime64[s]")


def _in_programme(frame: pd.DataFrame, feed: Feed, catalogue: Catalogue) -> pd.Series:
    """A record belongs to a programme of its district whose period holds its date (section 1 of
    indicators.md); comparison districts may only send survey rows."""
    members = catalogue.membership
    if feed.name != "survey":
        members = members[members["role"] == "programme"]
    if feed.date_column is None:
        return frame["district_ags"].isin(members["district_ags"]).astype(object)
    dates = frame[feed.date_column]
    pairs = frame[["district_ags"]].assign(_rid=frame.index, _date=dates).merge(members, on="district_ags")
    inside = pairs[(pairs["_date"] >= pairs["start"]) & (pairs["_date"] <= pairs["end"])]["_rid"].unique()
    result = pd.Series(False, index=frame.index, dtype=object)
    result[frame.index.isin(inside)] = True
    return result.where(dates.notna(), None)


def _event_known(frame: pd.DataFrame, known_events: pd.DataFrame) -> pd.Series:
    keys = pd.MultiIndex.from_frame(known_events[["district_ags", "event_id"]].astype(str))
    probe = pd.MultiIndex.from_arrays([frame["district_ags"].astype(str), frame["event_id"].fillna("").astype(str)])
    return pd.Series(probe.isin(keys), index=frame.index, dtype=object).where(frame["event_id"].notna(), None)


def prepare(raw: pd.DataFrame, feed: Feed, contract: Contract, catalogue: Catalogue,
            known_events: pd.DataFrame | None) -> pd.DataFrame:
    """Raw text rows -> the frame the suite validates (typed, raw, unparsed and derived columns)."""
    frame = type_columns(raw, feed.columns, contract)
    for col in ("receipt_id", "district_ags", "delivery_quarter", "source_row"):
        frame[col] = raw[col].to_numpy()
    frame["_quarter_end"] = _quarter_ends(frame["delivery_quarter"])
    frame["_in_programme"] = _in_programme(frame, feed, catalogue)
    if feed.name == "attendance":
        frame["_event_known"] = _event_known(frame, known_events if known_events is not None
                                             else pd.DataFrame(columns=["district_ags", "event_id"]))
    for name, expression in feed.derived.items():
        frame[name] = frame.eval(expression)
    frame["_rid"] = np.arange(len(frame))
    return frame.set_index("_rid", drop=False)


def _rejections(frame: pd.DataFrame, failures, feed: Feed, headers: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for meta, rids in failures:
        if not len(rids):
            continue
        columns = meta.get("report_columns") or [meta["column"]]
        values = [frame.loc[rids, f"{c}__raw"].fillna("").astype(str) if f"{c}__raw" in frame else
                  frame.loc[rids, c].astype(str) for c in columns]
        value = values[0] if len(values) == 1 else values[0].str.cat(values[1:], sep=" + ")
        if meta.get("mask_value"):
            value = pd.Series(MASK, index=value.index)
        part = frame.loc[rids, ["_rid", "receipt_id", "district_ags", "delivery_quarter", "source_row"]].copy()
        part["canonical"] = " + ".join(columns)
        part["value"] = value.to_numpy()
        part["reason_code"] = meta["reason_code"]
        part["reason_de"] = meta.get("reason_de")
        part["reason_en"] = meta.get("reason_en")
        parts.append(part.reset_index(drop=True))
    if not parts:
        return pd.DataFrame(columns=["_rid", *REJECTION_COLUMNS])
    rejections = pd.concat(parts, ignore_index=True)
    # Report columns under the headers the district wrote (German or English). Rejections are
    # few, so a lookup per finding is cheap.
    written = dict(zip(zip(headers["receipt_id"], headers["canonical"]), headers["header"]))
    rejections["column"] = [" + ".join(written.get((rid, c), c) for c in canonical.split(" + "))
                            for rid, canonical in zip(rejections["receipt_id"], rejections["canonical"])]
    rejections["feed"] = feed.name
    rejections = rejections.drop_duplicates(["_rid", "column", "reason_code", "reason_de"])
    return rejections.sort_values(["receipt_id", "source_row", "reason_code", "column"], kind="stable")[["_rid", *REJECTION_COLUMNS]]


def _header_table(headers: dict[str, dict[str, str]]) -> pd.DataFrame:
    rows = [(rid, canonical, written) for rid, mapping in headers.items() for canonical, written in mapping.items()]
    return pd.DataFrame(rows, columns=["receipt_id", "canonical", "header"])


def _accepted(frame: pd.DataFrame, rejected: np.ndarray, feed: Feed) -> pd.DataFrame:
    ok = frame[~frame["_rid"].isin(rejected)]
    out = ok[["receipt_id", "district_ags", "delivery_quarter", "source_row"]].copy()
    if feed.date_column:
        day = ok[feed.date_column]
        out["quarter"] = day.dt.year.astype("string") + "-Q" + ((day.dt.month - 1) // 3 + 1).astype("string")
        out["is_late"] = (day < _quarter_starts(ok["delivery_quarter"])).astype(bool)
    else:
        out["quarter"] = None
        out["is_late"] = False
    for name, _ in stg_columns(feed):
        values = ok[name]
        if isinstance(values.dtype, pd.BooleanDtype):
            values = values.astype(object).where(values.notna(), None)
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            values = values.dt.date
        out[name] = values
    return out.reset_index(drop=True)


def rejection_frame(frame: pd.DataFrame, failures, feed: Feed, headers: dict[str, dict[str, str]]) -> pd.DataFrame:
    """GX's failures as rejections (with `_rid`), under the headers the district wrote."""
    return _rejections(frame, failures, feed, _header_table(headers))


def accepted_frame(frame: pd.DataFrame, rejected: np.ndarray, feed: Feed) -> pd.DataFrame:
    """The stg rows of a prepared frame: every row not rejected."""
    return _accepted(frame, rejected, feed)


def validate(raw: pd.DataFrame, feed: Feed, contract: Contract, catalogue: Catalogue,
             headers: dict[str, dict[str, str]] | None = None,
             known_events: pd.DataFrame | None = None) -> Validated:
    """Validate all rows of one feed (any number of files and quarters) in one pass.

    raw: columns receipt_id, district_ags, delivery_quarter, source_row, decimal_comma and the
    feed's canonical columns as text. headers: receipt_id -> {canonical: header as written}.
    known_events: (district_ags, event_id) of events accepted anywhere, for attendance.
    """
    frame = prepare(raw, feed, contract, catalogue, known_events)
    failures = run_suite(frame, feed)
    rejections = _rejections(frame, failures, feed, _header_table(headers or {}))
    rejected_rids = rejections["_rid"].unique()
    accepted = _accepted(frame, rejected_rids, feed)

    per_receipt = frame.groupby("receipt_id").size().rename("rows_read").to_frame()
    per_receipt["rejected"] = (rejections.drop_duplicates("_rid").groupby("receipt_id").size()
                               .reindex(per_receipt.index, fill_value=0))
    per_receipt["accepted"] = per_receipt["rows_read"] - per_receipt["rejected"]
    per_receipt["late"] = accepted.groupby("receipt_id")["is_late"].sum().reindex(per_receipt.index, fill_value=0)
    results = per_receipt.reset_index()
    results.insert(1, "feed", feed.name)
    return Validated(accepted=accepted, rejections=rejections[REJECTION_COLUMNS].reset_index(drop=True),
                     results=results[["receipt_id", "feed", "rows_read", "accepted", "rejected", "late"]])


# --- set-based validation in DuckDB (the pipeline's staging) ------------------------------------
#
# `validate` above is the reference: every row through pandas typing and one GX validation. At
# national scale (8 million attendance rows) that is hours, so staging works set-based in the
# warehouse instead, with the same rules and the same answers:
#
# 1. Typing: each typed column's *distinct* raw texts (with the file's decimal-comma flag) are
#    typed by `values.type_columns` itself — the one implementation — and joined back in DuckDB.
# 2. Screening: every expectation of the feed's suite is compiled to a SQL predicate that is true
#    for every row the expectation could fail (a superset; regexes are evaluated by Python's `re`
#    exactly as GX does, over the distinct values; a compound-unique key flags every row of a
#    duplicated group). A suite with anything the compiler does not know is not screened at all:
#    staging then runs the reference path.
# 3. Judging: the flagged rows (typically well under 1 %) go through `prepare` and one GX
#    validation of the suite, exactly as in `validate`; GX decides which of them are rejected and
#    why. Unflagged rows cannot fail any expectation, so they are accepted as typed in step 1.
#
# tests/test_scale.py checks that this gives the same accepted rows, rejections and per-file
# counts as `validate` on files full of the contract's corner cases.

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
TYPED_SQL = {"date": "DATE", "int": "BIGINT", "decimal": "DOUBLE", "bool": "BOOLEAN", "enum": "VARCHAR"}
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
               "source_row": "BIGINT", "_quarter_end": "DATE", "_in_programme": "BOOLEAN"}
    if feed.name == "attendance":
        columns["_event_known"] = "BOOLEAN"
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


def screen_plan(feed: Feed) -> ScreenPlan | None:
    """The suite as SQL predicates, or None when some expectation is beyond the compiler."""
    columns = _typed_columns(feed)
    derived = {}
    for name, expression in feed.derived.items():
        sql = _derived_sql(expression, set(columns) | set(derived))
        if sql is None:
            return None
        derived[name] = sql
        columns[name] = "DOUBLE"
    plan = ScreenPlan(feed, [], [], [], derived)
    for e in feed.suite["expectations"]:
        kind, kw = e["type"], dict(e["kwargs"])
        if kind not in SCREEN_KWARGS or set(kw) - SCREEN_KWARGS[kind]:
            return None
        names = kw.get("column_list") or [kw[k] for k in ("column", "column_A", "column_B") if k in kw]
        if any(n not in columns for n in names):
            return None
        try:
            if kind == "expect_column_values_to_not_be_null":
                plan.predicates.append(f"{_q(kw['column'])} IS NULL")
            elif kind == "expect_column_values_to_be_null":
                plan.predicates.append(f"{_q(kw['column'])} IS NOT NULL")
            elif kind == "expect_column_values_to_be_in_set":
                if kw.get("value_set") is None:
                    continue
                values = ", ".join(_literal(v) for v in kw["value_set"]) or "NULL"
                plan.predicates.append(f"({_q(kw['column'])} IS NOT NULL AND {_q(kw['column'])} NOT IN ({values}))")
            elif kind in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
                if columns[kw["column"]] != "VARCHAR":
                    return None
                plan.regexes.append((kw["column"], kw["regex"], kind.endswith("to_match_regex")))
            elif kind == "expect_column_values_to_be_between":
                c = _q(kw["column"])
                if columns[kw["column"]] not in ("BIGINT", "DOUBLE"):
                    return None
                outside = [f"{c} < {_literal(kw['min_value'])}" for _ in [0] if kw.get("min_value") is not None]
                outside += [f"{c} > {_literal(kw['max_value'])}" for _ in [0] if kw.get("max_value") is not None]
                if outside:
                    plan.predicates.append(f"({c} IS NOT NULL AND ({' OR '.join(outside)}))")
            elif kind == "expect_compound_columns_to_be_unique":
                plan.unique_keys.append(list(kw["column_list"]))
            else:  # column pair A > B (or ≥), rows with a missing value ignored; ties are flagged too
                if kw.get("ignore_row_if") != "either_value_is_missing":
                    return None
                a, b = _q(kw["column_A"]), _q(kw["column_B"])
                plan.predicates.append(f"({a} IS NOT NULL AND {b} IS NOT NULL AND {a} <= {b})")
        except ValueError:
            return None
    return plan


def _lookup_frame(con, feed: Feed, col, where: str, params: list, contract: Contract) -> pd.DataFrame:
    """The distinct raw texts of one typed column, typed by the reference implementation."""
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
    select = ["r.receipt_id", "r.district_ags", "r.delivery_quarter", "r.source_row", "r.decimal_comma"]
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
    outer += [f"{sql} AS {_q(name)}" for name, sql in plan.derived.items()]
    if date is None:
        outer += ["CAST(NULL AS VARCHAR) AS _stg_quarter", "FALSE AS _is_late"]
    else:
        outer += [f"CASE WHEN t.{date} IS NULL THEN NULL ELSE CAST(year(t.{date}) AS VARCHAR) || '-Q' || "
                  f"CAST(quarter(t.{date}) AS VARCHAR) END AS _stg_quarter",
                  f"coalesce(t.{date} < t._quarter_start, FALSE) AS _is_late"]
    return f"SELECT {', '.join(outer)} FROM ({inner}) t"


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
