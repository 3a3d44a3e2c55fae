"""Compile validation rules (rules.py) to DuckDB SQL: one set-based SELECT per rule, reading
the aggregate sides of grouped rules from one scan per feed, level and kind (`family_sql`).

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


def _scaled(expression: str, side: Side) -> str:
    return f"CAST({expression} AS DOUBLE)" if side.factor == 1 else f"CAST({expression} AS DOUBLE) * {side.factor!r}"


def _constant(side: Side) -> str:
    return _scaled(repr(side.number), side)


def side_columns(side: Side, keys: tuple[str, ...]) -> set[str]:
    """The columns of its feed a side reads: the unit's keys, its column, those its filter names."""
    named = {c for c in feed_columns(side.feed) if side.filter and re.search(rf"\b{re.escape(c)}\b", side.filter)}
    return {"district_ags", *keys, *([side.column] if side.column else []), *named}


# A figure: one aggregate side per unit, (feed, level, aggregate, column, filter); the factor is
# applied by the rule. A family: the figures one scan computes, (feed, level, distinct column or
# None for counts and sums).
Figure = tuple[str, str, str, str | None, str | None]
Family = tuple[str, str, str | None]


def figure_of(side: Side, level: str) -> Figure:
    return (side.feed, level, side.aggregate, side.column, side.filter)


def family_of(figure: Figure) -> Family:
    feed, level, aggregate, column, _ = figure
    return (feed, level, column if aggregate == "count_distinct" else None)


def side_families(rules) -> dict[Family, list[Figure]]:
    """The figures of the grouped rules' sides, each once, by family: `compute_warnings` computes
    a family in one scan of its feed (the four attendance rules: one pass over 8 million rows
    instead of four), and every rule then reads its figures from there."""
    families: dict[Family, list[Figure]] = {}
    for rule in rules:
        if rule.level == "record":
            continue
        for side in (rule.left, rule.right):
            if side.aggregate is not None:
                figure = figure_of(side, rule.level)
                members = families.setdefault(family_of(figure), [])
                if figure not in members:
                    members.append(figure)
    return families


def family_columns(figures: list[Figure]) -> set[str]:
    """The columns of its feed a family's scan reads."""
    return set().union(*(side_columns(Side(aggregate=a, feed=f, column=c, filter=w), UNIT_KEYS[level])
                         for f, level, a, c, w in figures))


def family_sql(family: Family, figures: list[Figure], parameters: dict[str, float], relation: str) -> str:
    """Per unit (district and the level's keys): the figures `v0, v1, ...` over the unit's records
    of `relation`, in one scan. A figure is empty (NULL) where none of the unit's records passes
    its filter, as if it were computed alone over the records that pass it (`bool_or`)."""
    feed, level, distinct = family
    group = ", ".join(("district_ags", *UNIT_KEYS[level]))
    filters = [f"({render_filter(w, parameters)})" for _, _, _, _, w in figures]
    scanned = " OR ".join(filters)
    if distinct is not None:
        # Counts of distinct values in two steps (DISTINCT aggregates per group are slow in
        # DuckDB): the unit's distinct values, each with whether a record of it passes each
        # filter, then per unit the values that pass.
        passes = ", ".join(f"bool_or({f}) AS _f{i}" for i, f in enumerate(filters))
        values = ", ".join(f"CASE WHEN bool_or(_f{i}) THEN count(_c) FILTER (WHERE _f{i}) END AS v{i}"
                           for i in range(len(figures)))
        return (f"SELECT {group}, {values} FROM (SELECT {group}, {q(distinct)} AS _c, {passes} FROM {relation} "
                f"WHERE {scanned} GROUP BY {group}, {q(distinct)}) GROUP BY {group}")
    values = []
    for i, ((_, _, aggregate, column, _), f) in enumerate(zip(figures, filters)):
        value = "count(*)" if aggregate == "count" else f"sum({q(column)})"
        values.append(f"CASE WHEN bool_or({f}) THEN {value} FILTER (WHERE {f}) END AS v{i}")
    return f"SELECT {group}, {', '.join(values)} FROM {relation} WHERE {scanned} GROUP BY {group}"


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


def _grouped_rule(rule: Rule, parameters: dict[str, float],
                  figures: dict[Figure, tuple[str, str]] | None) -> tuple[str, str, str]:
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
    joins, values = [], {}
    for name, side in (("l", rule.left), ("r", rule.right)):
        if side.aggregate is None:
            values[name] = _constant(side)
            continue
        figure = figure_of(side, rule.level)
        table, column = (figures or {}).get(figure) or (
            f"({family_sql(family_of(figure), [figure], parameters, source(side.feed, None))})", "v0")
        joins.append(f"LEFT JOIN {table} {name} USING ({group})")
        value = f"coalesce({name}.{column}, 0)" if side.counts else f"{name}.{column}"
        values[name] = _scaled(value, side)
    select = (f"SELECT u.receipt_id, u.district_ags, u.delivery_quarter, u.source_row, {values['l']} AS l, "
              f"{values['r']} AS r FROM ({units}) u {' '.join(joins)}")
    return select, "l", "r"


def compile_rule(rule: Rule, parameters: dict[str, float], records: str | None = None,
                 figures: dict[Figure, tuple[str, str]] | None = None) -> str:
    """The units where `left operator right` does not hold (an empty side makes no finding).
    `records`: another relation than the current records, for a record-level rule (staging
    judges the rows of the sheets it stages); `figures`: where the sides of a grouped rule are
    computed already, figure -> (table, column) of `family_sql`'s tables (default: computed here
    by `family_sql` over the current records, the side alone)."""
    if rule.level == "record":
        units, left, right = _record_rule(rule, parameters, records)
    else:
        units, left, right = _grouped_rule(rule, parameters, figures)
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
