"""What the publication rule for the survey (pipeline/impact/disclosure.py, docs/disclosure.md)
withholds on the site and in the slides, and how published survey figures are rounded.

A survey *block* is a district (or pool) of a programme whose survey figures are all withheld:
its respondent counts and means in the indicator tables and charts, its rows and case numbers in
the impact table, the row counts of its survey files in the delivery table and those deliveries'
quality reports. Withheld figures are labelled "gesperrt / withheld", not "< 5": they are not
small, they protect a small one. Every page and slide reads SiteData, so this is the one place
the rule is applied.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards import privacy
from pipeline.catalogue import Catalogue
from pipeline.impact.disclosure import MIN_CELL, P_VALUE_DECIMALS, PUBLISHED_DECIMALS, survey_blocks, withheld_estimates
from pipeline.quarters import quarter_of

SURVEY_FEED = "survey"
# Delivery-table columns that count a file's rows.
DELIVERY_COUNTS = ("rows_read", "accepted", "rejected", "late", "corrected")


def read_blocks(con, catalogue: Catalogue, min_cell: int = MIN_CELL) -> set[tuple[str, str]]:
    """The survey blocks from the current survey rows: respondents per district, wave and group,
    counted for each programme whose survey period holds the quarter (a district may be in two)."""
    if not _relation(con, "cur_survey"):   # a view
        return set()
    counts = con.execute("""SELECT district_ags, quarter, wave, "group", count(*) FROM cur_survey
                            GROUP BY ALL ORDER BY ALL""").fetchall()
    rows = []
    for p in catalogue.programmes:
        # the survey period: from the first listed wave, which may lie before the start (issue 19)
        first, last = quarter_of(p.survey_start), quarter_of(p.end)
        roles = {**{a: "comparison" for a in p.comparison_districts}, **{a: "programme" for a in p.districts}}
        for ags, quarter, wave, group, n in counts:
            if ags in roles and quarter is not None and first <= quarter <= last:
                rows.append((p.id, roles[ags], ags, group, wave, n))
    return survey_blocks(rows, min_cell)


def survey_receipts(con) -> set[str]:
    """Receipts (files) that carried survey rows: their row counts are a margin of the groups."""
    if not _relation(con, "raw_survey"):
        return set()
    return {r for (r,) in con.execute("SELECT DISTINCT receipt_id FROM raw_survey").fetchall()}


def _relation(con, name: str) -> bool:
    """A table or a view of that name (warehouse.table_exists sees tables only)."""
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0])


def survey_indicators(indicators) -> set[str]:
    return {i.id for i in indicators if i.definition.feed == SURVEY_FEED}


def withhold_values(values: pd.DataFrame, blocks: set[tuple[str, str]], survey_ids: set[str]) -> pd.DataFrame:
    """Indicator values after the "< 5" rule: every survey row of a block withheld (a small count
    keeps its "< 5"); published survey means and intervals rounded."""
    out = values.copy()
    if "withheld" not in out:
        out["withheld"] = False
    survey = out["indicator_id"].isin(survey_ids).to_numpy()
    keys = list(zip(out["programme_id"], out["district_ags"]))
    blocked = survey & np.array([k in blocks for k in keys], dtype=bool)
    out.loc[blocked & ~out["masked"].to_numpy(), "withheld"] = True
    out.loc[blocked, "masked"] = True
    out.loc[blocked, "n_masked"] = True
    for column in ("value", "n", "ci_low", "ci_high", *privacy.DERIVED):
        out.loc[blocked, column] = float("nan")
    scores = (out["unit"] == "score").to_numpy()
    for column in ("value", "ci_low", "ci_high"):
        out.loc[scores, column] = out.loc[scores, column].astype("float64").round(PUBLISHED_DECIMALS)
    return out


def withhold_impact(impact: pd.DataFrame, blocks: set[tuple[str, str]], catalogue: Catalogue) -> pd.DataFrame:
    """The impact table as published: rows built from a block's cells withheld with their case
    numbers and a note saying why; means, estimates and intervals rounded."""
    from pipeline.impact import COUNTS, NUMBERS

    out = impact.copy()
    for column in COUNTS:   # floats: a withheld case number is NaN, as every other missing figure
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    if len(out) and blocks:
        groups = {p.id: (list(p.districts), list(p.comparison_districts)) for p in catalogue.programmes}
        hit = np.array(withheld_estimates(out.to_dict("records"), blocks, lambda pid: groups.get(pid, ([], []))),
                       dtype=bool)
        out.loc[hit, "suppressed"] = True
        out.loc[hit, "indicative"] = False
        out.loc[hit, "note_de"] = NOTE["de"]
        out.loc[hit, "note_en"] = NOTE["en"]
        for column in (*NUMBERS, *COUNTS):
            out.loc[hit, column] = float("nan")
    for column in NUMBERS:
        out[column] = out[column].astype("float64").round(P_VALUE_DECIMALS if column == "p_value" else PUBLISHED_DECIMALS)
    return out


NOTE = {"de": "Gesperrt: Eine Befragtengruppe dieses Kreises oder der Vergleichskreise hat weniger als 5 Antworten; "
              "aus diesem Wert ließe sie sich zusammen mit anderen veröffentlichten Zahlen errechnen.",
        "en": "Withheld: a respondent group of this district or of the comparison districts has fewer than 5 "
              "answers; with other published figures it could be computed from this value."}


def withheld_deliveries(deliveries: pd.DataFrame, blocks: set[tuple[str, str]], receipts: set[str]) -> pd.Series:
    """Per delivery: whether its row counts are withheld (a file with survey rows of a blocked
    district)."""
    blocked = {ags for _, ags in blocks}
    return pd.Series([a in blocked and r in receipts for a, r in zip(deliveries["district_ags"], deliveries["receipt_id"])],
                     index=deliveries.index, dtype=bool)
