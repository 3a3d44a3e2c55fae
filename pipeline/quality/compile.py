"""Compile validation rules (rules.py) to DuckDB SQL: one set-based SELECT per rule.

Every SELECT returns RULE_COLUMNS, one row per unit where the rule does not hold: the file and
row the finding names (`report_on`), the figures on both sides. The units come from the cur_
views (corrections applied), so a finding always names the record that counts now. The temp
table `_rule_members` (district, programme, start, end) scopes rules to programmes.
"""
from __future__ import annotations

import re

from pipeline.indicators.sql import date_column, feed_columns, render_filter, source
from pipeline.quality.rules import Rule, Side
from pipeline.warehouse import literal, q

RULE_COLUMNS = ("rule_id", "reason_code", "feed", "receipt_id", "district_ags", "delivery_quarter", "source_row",
                "column", "left_value", "right_value")
SQL_OPERATORS = {"<=": "<=", "<": "<", "==": "=", ">=": ">=", ">": ">", "!=": "<>"}
# The columns that make a unit, per level (besides the district).
UNIT_KEYS = {"event": ("event_id",), "delivery": ("delivery_quarter",), "district_quarter": ("quarter",)}


def _aggregate(side: Side) -> str:
    column = q(side.column) if side.column else None
    return {"count": "count(*)", "sum": f"sum({column})",
            "count_distinct": f"count(DISTINCT {column})"}[side.aggregate]


def _scaled(expression: str, side: Side) -> str:
    return f"CAST({expression} AS DOUBLE)" if side.factor == 1 else f"CAST({expression} AS DOUBLE) * {side.factor!r}"


def _constant(side: Side) -> str:
    return _scaled(repr(side.number), side)


def side_columns(side: Side, keys: tuple[str, ...]) -> set[str]:
    """The columns of its feed a side reads: the unit's keys, its column, those its filter names."""
    named = {c for c in feed_columns(side.feed) if side.filter and re.search(rf"\b{re.escape(c)}\b", side.filter)}
    return {"district_ags", *keys, *([side.column] if side.column else []), *named}


def grouped_sides(rules) -> dict[str, set[str]]:
    """Per feed: the columns the grouped rules' sides read (what `compute_warnings` materialises
    once, so that several rules over 8 million attendance rows scan them once)."""
    needed: dict[str, set[str]] = {}
    for rule in rules:
        if rule.level == "record":
            continue
        for side in (rule.left, rule.right):
            if side.aggregate is not None:
                needed.setdefault(side.feed, set()).update(side_columns(side, UNIT_KEYS[rule.level]))
    return needed


def _side_table(side: Side, keys: tuple[str, ...], parameters: dict[str, float], sources: dict[str, str] | None) -> str:
    """Per unit: the side's figure over the unit's current records."""
    group = ", ".join(("district_ags", *keys))
    if side.aggregate == "count_distinct":  # in two steps: DISTINCT aggregates per group are slow in DuckDB
        column = q(side.column)
        return (f"SELECT {group}, count({column}) AS v FROM (SELECT DISTINCT {group}, {column} FROM "
                f"{source(side.feed, sources)} WHERE {render_filter(side.filter, parameters)}) GROUP BY {group}")
    return (f"SELECT {group}, {_aggregate(side)} AS v FROM {source(side.feed, sources)} "
            f"WHERE {render_filter(side.filter, parameters)} GROUP BY {group}")


def _in_programmes(rule: Rule, alias: str, day: str) -> str:
    if not rule.programmes:
        return "TRUE"
    ids = ", ".join(literal(p) for p in rule.programmes)
    return (f"EXISTS (SELECT 1 FROM _rule_members m WHERE m.programme_id IN ({ids}) "
            f"AND m.district_ags = {alias}.district_ags AND {alias}.{q(day)} BETWEEN m.start AND m.\"end\")")


def _record_rule(rule: Rule, parameters: dict[str, float], records: str | None = None) -> tuple[str, str, str]:
    """The record level: each current record of `report_on` (or of `records`), its own value or
    its previous one."""
    previous = []
    for name, side in (("l", rule.left), ("r", rule.right)):
        if side.aggregate == "previous":
            order = ", ".join(q(c) for c in side.order_by)
            previous.append(f"lag({q(side.column)}) OVER (PARTITION BY district_ags ORDER BY {order}) AS _prev_{name}")

    def figure(side: Side, name: str) -> str:
        if side.aggregate == "value":
            return _scaled(f"u.{q(side.column)}", side)
        if side.aggregate == "previous":
            return _scaled(f"u._prev_{name}", side)
        return _constant(side)

    records = records or source(rule.report_on, None)
    if previous:
        records = f"(SELECT *, {', '.join(previous)} FROM {records})"
    where = f"({render_filter(rule.filter, parameters)}) AND {_in_programmes(rule, 'u', date_column(rule.report_on))}"
    units = (f"SELECT u.receipt_id, u.district_ags, u.delivery_quarter, u.source_row, "
             f"{figure(rule.left, 'l')} AS l, {figure(rule.right, 'r')} AS r FROM {records} u WHERE {where}")
    return units, "l", "r"


def _grouped_rule(rule: Rule, parameters: dict[str, float], sources: dict[str, str] | None) -> tuple[str, str, str]:
    """Event, delivery and district × quarter levels: sides are aggregates per unit."""
    keys = UNIT_KEYS[rule.level]
    group = ", ".join(("district_ags", *keys))
    records = f"(SELECT * FROM {source(rule.report_on, None)} WHERE {render_filter(rule.filter, parameters)})"
    if rule.level == "event" and rule.report_on == "events":
        scope = _in_programmes(rule, "e", "date")
        units = f"SELECT district_ags, event_id, receipt_id, delivery_quarter, source_row FROM {records} e WHERE {scope}"
    elif rule.level == "event":  # attendance: the event's list, named by its first row
        scope = _in_programmes(rule, "a", "date")
        units = (f"SELECT district_ags, event_id, arg_min(receipt_id, source_row) AS receipt_id, "
                 f"any_value(delivery_quarter) AS delivery_quarter, min(source_row) AS source_row "
                 f"FROM {records} a WHERE {scope} GROUP BY district_ags, event_id")
    elif rule.level == "delivery":  # the delivery's current file of report_on
        units = (f"SELECT district_ags, delivery_quarter, receipt_id, CAST(NULL AS BIGINT) AS source_row "
                 f"FROM current_sheets WHERE feed = {literal(rule.report_on)}")
    else:  # district × quarter: named by the latest delivery with records of that quarter
        units = (f"SELECT district_ags, quarter, arg_max(receipt_id, delivery_quarter) AS receipt_id, "
                 f"max(delivery_quarter) AS delivery_quarter, CAST(NULL AS BIGINT) AS source_row "
                 f"FROM {records} GROUP BY district_ags, quarter")
    joins, figures = [], {}
    for name, side in (("l", rule.left), ("r", rule.right)):
        if side.aggregate is None:
            figures[name] = _constant(side)
            continue
        joins.append(f"LEFT JOIN ({_side_table(side, keys, parameters, sources)}) {name} USING ({group})")
        value = f"coalesce({name}.v, 0)" if side.counts else f"{name}.v"
        figures[name] = _scaled(value, side)
    select = (f"SELECT u.receipt_id, u.district_ags, u.delivery_quarter, u.source_row, {figures['l']} AS l, "
              f"{figures['r']} AS r FROM ({units}) u {' '.join(joins)}")
    return select, "l", "r"


def compile_rule(rule: Rule, parameters: dict[str, float], records: str | None = None,
                 sources: dict[str, str] | None = None) -> str:
    """The units where `left operator right` does not hold (an empty side makes no finding).
    `records`: another relation than the current records, for a record-level rule (staging
    judges the rows of the sheets it stages); `sources`: feed -> relation for the sides of
    grouped rules (default: the current records)."""
    if rule.level == "record":
        units, left, right = _record_rule(rule, parameters, records)
    else:
        units, left, right = _grouped_rule(rule, parameters, sources)
    column = literal(rule.column) if rule.column else "CAST(NULL AS VARCHAR)"
    return f"""
    SELECT {literal(rule.id)} AS rule_id, {literal(rule.code)} AS reason_code, {literal(rule.report_on)} AS feed,
           receipt_id, district_ags, delivery_quarter, source_row, {column} AS "column",
           {left} AS left_value, {right} AS right_value
    FROM ({units}) WHERE NOT coalesce({left} {SQL_OPERATORS[rule.operator]} {right}, TRUE)"""


def number_text(expression: str, lang: str) -> str:
    """A figure as a report prints it: whole numbers without decimals, others to two places
    (German with a decimal comma)."""
    text = (f"CASE WHEN {expression} = trunc({expression}) THEN CAST(CAST({expression} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST(round({expression}, 2) AS VARCHAR) END")
    return f"replace({text}, '.', ',')" if lang == "de" else text


def message_sql(template: str, lang: str) -> str:
    """The rule's message with {left} and {right} filled in from left_value / right_value."""
    return (f"replace(replace({literal(template)}, '{{left}}', {number_text('left_value', lang)}), "
            f"'{{right}}', {number_text('right_value', lang)})")
