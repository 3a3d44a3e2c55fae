"""Warnings (delivery contract, "Warnings: findings that do not reject"): the rules of rules.yaml
with severity `warning`, the outliers and the municipalities no place of the catalogue matches, as one table `row_warnings` the quality reports,
exports/rejections.csv (severity `warning`), `teilhabe check` and the data-quality page read.

A warning leaves its row accepted and counted: read = accepted + rejected never sees it. The table
is derived data, computed whole from the current records each time (set-based SQL per rule): a
rule across feeds can change with any delivery of the district, so there is nothing to keep.
"""
from __future__ import annotations

import pandas as pd

from pipeline import warehouse
from pipeline.catalogue import Catalogue
from pipeline.contract import load_contract
from pipeline.indicators.loader import cached_indicators
from pipeline.indicators.sql import source
from pipeline.places import cached_places, drop_places, register_places, unmatched_sql
from pipeline.quality.compile import compile_rule, family_columns, family_sql, message_sql, number_text, side_families
from pipeline.quality.outliers import flag_outliers, update_followup
from pipeline.quality.rules import RuleCatalogue, cached_rules
from pipeline.warehouse import literal

CONTRACT = load_contract()
TABLE = "row_warnings"
COLUMNS = ("rule_id", "reason_code", "feed", "receipt_id", "district_ags", "delivery_quarter", "source_row",
           "column", "value", "left_value", "right_value", "reason_de", "reason_en")
STATUS_TEXT = {"open": ("offen – bitte bestätigen oder korrigieren", "open – please confirm or correct"),
               "confirmed": ("bestätigt", "confirmed")}


def register_members(con, catalogue: Catalogue) -> None:
    """Temp table _rule_members: the programme districts with their programmes' periods."""
    members = catalogue.membership
    members = members[members["role"] == "programme"][["district_ags", "programme_id", "start", "end"]]
    con.register("_members_frame", members)
    con.execute("""CREATE OR REPLACE TEMP TABLE _rule_members AS SELECT CAST(district_ags AS VARCHAR) AS district_ags,
                   CAST(programme_id AS VARCHAR) AS programme_id, CAST(start AS DATE) AS start,
                   CAST("end" AS DATE) AS "end" FROM _members_frame""")
    con.unregister("_members_frame")


def _rule_rows(rules: RuleCatalogue, parameters: dict[str, float], figures: dict) -> list[str]:
    parts = []
    for rule in rules.rules:
        if rule.severity != "warning":
            continue
        # The value shown is the reported column's own figure: the side that reads it (else the left).
        shown = "right_value" if (rule.right.feed in (None, rule.report_on) and rule.right.column
                                  and rule.right.column == rule.column and rule.left.column != rule.column) else "left_value"
        parts.append(f"""SELECT rule_id, reason_code, feed, receipt_id, district_ags, delivery_quarter, source_row,
                                "column", {number_text(shown, 'en')} AS value, left_value, right_value,
                                {message_sql(rule.message_de, 'de')} AS reason_de,
                                {message_sql(rule.message_en, 'en')} AS reason_en
                         FROM ({compile_rule(rule, parameters, figures=figures)})""")
    return parts


def _outlier_rows(rules: RuleCatalogue) -> str:
    """The follow-up list's open and confirmed entries as warnings, with the references they were
    compared with in the reason."""
    labels = {m.id: (m.label_de, m.label_en) for m in rules.measures}
    columns = {m.id: m.column for m in rules.measures}

    def case(values: dict[str, str | None]) -> str:
        whens = " ".join(f"WHEN {literal(k)} THEN {literal(v) if v else 'NULL'}" for k, v in values.items())
        return f"CASE measure_id {whens} END" if whens else "NULL"

    def figure(column: str, lang: str) -> str:
        return f"coalesce({number_text(column, lang)}, '–')"

    status = {lang: "CASE status " + " ".join(f"WHEN '{s}' THEN {literal(t[i])}" for s, t in STATUS_TEXT.items())
              + " END" for i, lang in enumerate(("de", "en"))}
    score = {lang: f"coalesce({number_text('round(history_score, 1)', lang)}, '–')" for lang in ("de", "en")}
    peer = {lang: f"coalesce({number_text('round(peer_score, 1)', lang)}, '–')" for lang in ("de", "en")}
    return f"""
    SELECT measure_id AS rule_id, 'outlier' AS reason_code,
           {case({m.id: m.feed for m in rules.measures})} AS feed, receipt_id, district_ags, delivery_quarter,
           source_row, {case(columns)} AS "column", {number_text('value', 'en')} AS value, value AS left_value,
           coalesce(history_median, peer_median) AS right_value,
           'Ausreißer bei ' || {case({k: v[0] for k, v in labels.items()})} || ': ' || {figure('value', 'de')}
             || '; eigene frühere Quartale: Median ' || {figure('history_median', 'de')} || ' (z = ' || {score['de']}
             || '), andere Kreise: Median ' || {figure('peer_median', 'de')} || ' (z = ' || {peer['de']} || '); '
             || {status['de']} AS reason_de,
           'Outlier in ' || lower({case({k: v[1] for k, v in labels.items()})}) || ': ' || {figure('value', 'en')}
             || '; own earlier quarters: median ' || {figure('history_median', 'en')} || ' (z = ' || {score['en']}
             || '), other districts: median ' || {figure('peer_median', 'en')} || ' (z = ' || {peer['en']} || '); '
             || {status['en']} AS reason_en
    FROM outlier_followup WHERE status IN ('open', 'confirmed')"""


def compute_warnings(con, catalogue: Catalogue, rules: RuleCatalogue | None = None, outliers: bool = True,
                     districts: list[str] | None = None) -> pd.DataFrame:
    """Bring row_warnings up to date: the findings of every warning rule and (with `outliers`)
    the follow-up list's open and confirmed entries, after updating it. With `districts`, only
    these districts' records changed since the table was last computed whole for these rules:
    every rule compares within a district, so only theirs are judged again (and the outliers
    whose references they are, `flag_outliers`). Returns the count per reason code and rule."""
    rules = rules or cached_rules(catalogue)
    parameters = {n: p.value for n, p in cached_indicators(catalogue).parameters.items()}
    register_members(con, catalogue)
    con.execute("CREATE OR REPLACE TEMP TABLE _rule_districts AS SELECT unnest(CAST(? AS VARCHAR[])) AS district_ags",
                [list(districts or [])])
    mine = "TRUE" if districts is None else "district_ags IN (SELECT district_ags FROM _rule_districts)"
    # The grouped rules' figures, one scan per family (feed, level, kind) over this run's records.
    figures, tables = {}, []
    for i, (family, members) in enumerate(side_families([r for r in rules.rules if r.severity == "warning"]).items()):
        feed = family[0]
        # Attendance joined with its events' dates only where a rule names the date or type.
        plain = family_columns(members) <= {name for name, _ in warehouse.stg_columns(CONTRACT.feeds[feed])} | {"district_ags"}
        relation = f"(SELECT * FROM {f'cur_{feed}' if plain else source(feed, None)} WHERE {mine})"
        tables.append(f"_rule_fig_{i}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _rule_fig_{i} AS {family_sql(family, members, parameters, relation)}")
        figures.update({figure: (tables[-1], f"v{k}") for k, figure in enumerate(members)})
    parts = [f"SELECT * FROM ({part}) WHERE {mine}" for part in _rule_rows(rules, parameters, figures)]
    # unknown_municipality: events of districts with places whose municipality names none of them.
    places = cached_places(catalogue)
    if places:
        register_places(con, places)
        parts.append(f"SELECT * FROM ({unmatched_sql('cur_events', places)}) WHERE {mine}")
    if outliers:
        update_followup(con, flag_outliers(con, rules, parameters, "_rule_members", districts), districts)
    with warehouse.transaction(con):
        con.execute(f"DELETE FROM {TABLE} WHERE reason_code <> 'outlier' AND {mine}")
        for part in parts:  # one rule at a time: side by side, their hash tables outgrow the memory limit
            con.execute(f"INSERT INTO {TABLE} ({', '.join(warehouse.q(c) for c in COLUMNS)}) {part}")
        if outliers:  # the follow-up list is small: its warnings are written whole
            con.execute(f"DELETE FROM {TABLE} WHERE reason_code = 'outlier'")
            con.execute(f"INSERT INTO {TABLE} ({', '.join(warehouse.q(c) for c in COLUMNS)}) {_outlier_rows(rules)}")
    for table in ["_rule_members", "_rule_districts", *tables]:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    drop_places(con)
    return summary(con)


def district_prints(con) -> dict[str, str]:
    """Per district: a digest of its staged records of every feed and of the outliers it confirmed
    (what its warnings are computed from), so that a run can tell whose warnings to judge again."""
    parts = [f"SELECT district_ags AS grp, hash(t) AS h FROM stg_{feed} t" for feed in CONTRACT.feeds]
    parts.append("SELECT district_ags AS grp, hash(f) AS h FROM outlier_followup f WHERE status = 'confirmed'")
    return warehouse.group_prints(con, parts)


def rule_rejections(con, catalogue: Catalogue, feed: str, where: str, params: list) -> pd.DataFrame:
    """The rows of stg_<feed> matching `where` that a `reject` rule refuses, removed from stg and
    returned as rejections (reason `rule_violation`, the rule's message). Such a rule judges a row
    by its own values only (rules.py), so staging one sheet at a time decides as a whole run would."""
    rules = cached_rules(catalogue).rejecting(feed)
    columns = ["receipt_id", "feed", "district_ags", "delivery_quarter", "source_row", "column", "value",
               "reason_code", "reason_de", "reason_en", "is_late"]
    if not rules:
        return pd.DataFrame(columns=columns)
    parameters = {n: p.value for n, p in cached_indicators(catalogue).parameters.items()}
    register_members(con, catalogue)
    rows = f"(SELECT * FROM stg_{feed} WHERE {where})"
    parts = [f"""SELECT v.receipt_id, v.feed, v.district_ags, v.delivery_quarter, v.source_row, v."column",
                        {number_text('v.left_value', 'en')} AS value, 'rule_violation' AS reason_code,
                        {message_sql(rule.message_de, 'de')} AS reason_de, {message_sql(rule.message_en, 'en')} AS reason_en,
                        s.is_late
                 FROM ({compile_rule(rule, parameters, records=rows)}) v
                 JOIN stg_{feed} s ON s.receipt_id = v.receipt_id AND s.source_row = v.source_row"""
             for rule in rules]
    found = warehouse.fetch_df(con, " UNION ALL ".join(parts) + " ORDER BY receipt_id, source_row, reason_de",
                               params * len(parts))
    if len(found):
        con.register("_ruled", found[["receipt_id", "source_row"]].drop_duplicates())
        con.execute(f"DELETE FROM stg_{feed} WHERE (receipt_id, source_row) IN (SELECT (receipt_id, source_row) FROM _ruled)")
        con.unregister("_ruled")
    con.execute("DROP TABLE IF EXISTS _rule_members")
    return found[columns]


def summary(con) -> pd.DataFrame:
    return warehouse.fetch_df(con, f"""SELECT reason_code, rule_id, count(*) AS n FROM {TABLE}
                                       GROUP BY ALL ORDER BY reason_code, rule_id""")


def warnings_frame(con, reason_codes: tuple[str, ...] | None = None, limit: int | None = None) -> pd.DataFrame:
    """The standing warnings with their files (current sheets), as the reports and checks list them."""
    codes = f"AND reason_code IN ({', '.join(literal(c) for c in reason_codes)})" if reason_codes else ""
    return warehouse.fetch_df(con, f"""
        SELECT district_ags, quarter, file, "row", "column", value, reason_code, reason, reason_en
        FROM findings WHERE severity = 'warning' {codes}
        ORDER BY district_ags, quarter, file, "row" NULLS FIRST, reason_code {f'LIMIT {limit}' if limit else ''}""")
