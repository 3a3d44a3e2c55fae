"""The "< 5" rule: on published pages and slides, no count of persons below the threshold.

A small count of persons in a rural district can point at individuals ("the 3 people advised in
Prignitz in Q1"), so published pages show it as "< 5". Everything derived from such a count that
would let a reader compute it back (value per 10,000 inhabitants, % of target, the upper end of a
range) is hidden with it. A survey mean from fewer answers than the threshold is hidden too, with
its confidence interval. The evaluators' exports (pipeline/exports.py) are not touched: they keep
the exact values.
"""
from __future__ import annotations

import pandas as pd

from dashboards.i18n import is_missing
from pipeline.indicators.model import ALL, ALL_COMPARISON

DEFAULT_THRESHOLD = 5
# Units whose value counts persons: persons reached, clients advised (mostly individuals) and
# survey responses (one questionnaire, one person).
PERSON_UNITS = frozenset({"persons", "clients", "responses"})
# Units whose `n` counts persons: survey means, n = answers; a trajectory share or median, n =
# the persons it is of.
PERSON_N_UNITS = frozenset({"score", "responses", "percent", "months"})
# Shares of persons (trajectories): the persons counted (value % of n) and those not counted are
# cells of persons too, so a share is hidden when either is below the threshold ("3 of 40
# improved" names 3 persons as surely as a count of 3 does).
SHARE_UNITS = frozenset({"percent"})
# What goes with a hidden value.
DERIVED = ("value_high", "per_10k", "attainment_pct")


def small_share(value: pd.Series, n: pd.Series, threshold: int) -> pd.Series:
    """Shares in percent of n persons whose counted or uncounted persons number below the threshold."""
    n = n.astype("float64")
    counted = (value.astype("float64") * n / 100).round()
    return ((counted < threshold) | (n - counted < threshold) | (n < threshold)).fillna(False)


def is_small(value, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Below the threshold, zero included: the rule says any count below it."""
    return not is_missing(value) and float(value) < threshold


def masked_text(threshold: int = DEFAULT_THRESHOLD) -> str:
    return f"< {threshold}"


def apply(frame: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """A copy of indicator values fit for publishing: column `masked` marks rows whose value is
    a small count of persons, `n_masked` rows whose case number is; hidden figures become NaN."""
    out = frame.copy()
    persons = out["unit"].isin(PERSON_UNITS)
    out["masked"] = persons & (out["value"].astype("float64") < threshold).fillna(False)
    out["masked"] |= out["unit"].isin(SHARE_UNITS) & small_share(out["value"], out["n"], threshold)
    small_n = out["n"].astype("float64") < threshold
    out["n_masked"] = out["unit"].isin(PERSON_N_UNITS) & small_n.fillna(False)
    for column in ("value", *DERIVED):
        out[column] = out[column].astype("float64").mask(out["masked"])
    # A mean over fewer answers than the threshold is not published either, nor a hidden share's interval.
    means = (out["n_masked"] & ~out["unit"].isin(PERSON_UNITS)) | out["masked"]
    for column in ("value", "ci_low", "ci_high", "attainment_pct"):
        out[column] = out[column].astype("float64").mask(means)
    out["n"] = out["n"].astype("float64").mask(out["n_masked"])
    out["withheld"] = False   # set where a figure is hidden to protect another one (data.py, withhold.py)
    return out


def _withhold_lonely(out: pd.DataFrame, rows, keys: list[str], size: pd.Series) -> bool:
    """Where exactly one row of a group (over `rows`) is hidden, withhold the open row with the
    fewest persons too; whether any was withheld."""
    part = out.loc[rows]
    hidden = part["masked"] | part["withheld"]
    counts = hidden.groupby([part[k] for k in keys], sort=False, dropna=False).transform("sum")
    open_rows = part[(counts == 1) & ~hidden]
    if open_rows.empty:
        return False
    partners = size[open_rows.index].groupby([open_rows[k] for k in keys], sort=False, dropna=False).idxmin()
    out.loc[partners.to_numpy(), "withheld"] = True
    return True


def count_text(value, unit: str, threshold: int, fmt) -> str:
    """One figure for a page: `fmt(value)` or "< 5" when it is a small count of persons."""
    if unit in PERSON_UNITS and is_small(value, threshold):
        return masked_text(threshold)
    return fmt(value)


def breakdown_rows(frame: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Breakdown rows fit for publishing: a count of persons below the threshold is hidden
    (`masked`), and where a group (indicator, district, period, breakdown) would hide exactly one
    value, its next smallest goes with it — the parts of an additive count add up to the published
    whole, so one hidden part would be the whole minus the others. Column `withheld` marks those."""
    out = frame.copy()
    out["value"] = out["value"].astype("float64")
    if "n" not in out:
        out["n"] = float("nan")
    persons = out["unit"].isin(PERSON_UNITS)
    out["masked"] = persons & (out["value"] < threshold).fillna(False)
    # Shares and medians of persons (trajectories): by their persons, as on the overall rows.
    out["masked"] |= out["unit"].isin(SHARE_UNITS) & small_share(out["value"], out["n"], threshold)
    out["masked"] |= out["unit"].isin(PERSON_N_UNITS - SHARE_UNITS - PERSON_UNITS) & (
        out["n"].astype("float64") < threshold).fillna(False)
    out["withheld"] = False
    # The partner is the part with the fewest persons: the smallest count, or for a share or a
    # median the smallest n (its persons add up to the whole's as a count's parts do).
    size = out["value"].where(persons, out["n"].astype("float64"))
    parts = ["programme_id", "indicator_id", "comparison", "district_ags", "period", "breakdown"]
    # The same part in every district adds up to the programme's (ALL) part, shown on the
    # programme's page: a part hidden in one district alone is ALL minus the other districts'.
    places = ["programme_id", "indicator_id", "comparison", "period", "breakdown", "breakdown_value"]
    district = ~out["district_ags"].isin([ALL, ALL_COMPARISON])
    changed = True
    while changed:   # each pass can only hide more: it ends
        changed = _withhold_lonely(out, out.index, parts, size)
        changed |= _withhold_lonely(out, out.index[district], places, size)
    hidden = out["masked"] | out["withheld"]
    out["value"] = out["value"].mask(hidden)
    for column in ("ci_low", "ci_high"):
        if column in out:
            out[column] = out[column].astype("float64").mask(hidden)
    return out
WITHHELD_TEXT = {"de": "gesperrt", "en": "withheld"}


def withheld_text(lang: str) -> str:
    """A figure hidden not because it is small but because it would give a small one away."""
    return WITHHELD_TEXT[lang]


def hidden_text(withheld: bool, lang: str, threshold: int = DEFAULT_THRESHOLD) -> str:
    """The label of a hidden figure: "gesperrt / withheld" or "< 5"."""
    return withheld_text(lang) if withheld else masked_text(threshold)
