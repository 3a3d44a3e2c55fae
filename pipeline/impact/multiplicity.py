"""Multiple testing: which impact rows may be called "belegt / established".

lzz-2 alone publishes over a hundred DiD rows and a few hundred pre/post rows; at 5 % each, a
handful "findings" are expected with no effect at all. So:

* **Primary** rows: the pooled DiD (all programme districts, all respondents) of each survey item
  the catalogue declares as a primary outcome of the programme (`primary_outcomes` in
  programmes.yaml, declared before the data are seen). Each is judged alone, at 5 %.
* **Exploratory** rows: every other row with a p-value. They form four families per programme —
  DiD and pre/post (a change is not an impact: a different question), each over the pools (all
  items × respondent groups of the programme) or over the single districts (each district × item
  × group) — and are judged after **Holm's** step-down correction within their family
  (family-wise error ≤ 5 % per family). Pools and single districts are kept apart because a
  district's row answers a different question (did it work *there*), and because otherwise the
  programme's ~100 district rows would bury its ~15 pooled ones.

Why Holm and not Romano–Wolf: Holm controls the family-wise error under any dependence between
the rows and needs nothing but their p-values, so it applies alike to the bootstrap DiD rows, the
cluster-robust pooled changes and the Welch rows. Romano–Wolf gains power from the correlation of
the tests, but needs every row of a family evaluated on the *same* bootstrap draws; here each row
draws its own weights so that a row's result never depends on which other rows exist (a property
the table guarantees and tests), and Welch rows have no draws at all. With families of 20–100
mostly weakly correlated rows (different items and groups), Holm's loss against Romano–Wolf is
small; the simulated size of the family test under a global null: docs/impact.md.

A bootstrap p-value is a share of B draws: 0 means "below 1/(B + 1)", never 0. The corrected
p-values use p ≥ 1/(B + 1) for those rows, so a family cannot be "established" by draws that
simply ran out (Holm multiplies the smallest p-value by the family's size).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.impact.estimator import ALPHA
from pipeline.impact.survey import ALL, ALL_COMPARISON

PRIMARY, EXPLORATORY, ROBUSTNESS = "primary", "exploratory", "robustness"
POOLS = (ALL, ALL_COMPARISON)


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values (step-down, monotone, at most 1), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="mergesort")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def floor_p(p_value, reps) -> np.ndarray:
    """A bootstrap p-value of 0 read as its resolution 1/(B + 1); other p-values unchanged."""
    p = np.asarray(p_value, dtype=float)
    reps = pd.to_numeric(pd.Series(reps), errors="coerce").to_numpy(dtype=float)
    floor = np.where(np.isnan(reps), 0.0, 1.0 / (reps + 1.0))
    return np.maximum(p, floor)


def judge(frame: pd.DataFrame, catalogue) -> pd.DataFrame:
    """Adds family (primary / exploratory; robustness for the rows of `robustness`, never
    established), family_size (the number of tests judged together),
    p_adjusted and established (p_adjusted < 5 %) to the impact table. Rows without a p-value
    (withheld, or too few districts for inference) are in no family and never established."""
    primary_items = {p.id: set(p.primary_outcomes) for p in catalogue.programmes}
    is_primary = ((frame["method"] == "did") & (frame["district_ags"] == ALL) & (frame["group"] == ALL)
                  & np.array([item in primary_items.get(pid, ()) for pid, item in
                              zip(frame["programme_id"], frame["item"])], dtype=bool))
    judged = frame["method"].isin(["did", "pre_post"]).to_numpy()     # robustness rows check, they do not find
    frame = frame.assign(family=np.where(is_primary, PRIMARY, np.where(judged, EXPLORATORY, ROBUSTNESS)))
    tested = frame["p_value"].notna().to_numpy() & ~frame["suppressed"].to_numpy(dtype=bool) & judged
    p = floor_p(frame["p_value"], frame["bootstrap_reps"])
    adjusted = np.full(len(frame), np.nan)
    size = np.zeros(len(frame), dtype=int)
    primary = is_primary.to_numpy() & tested
    adjusted[primary], size[primary] = p[primary], 1
    exploratory = ~is_primary.to_numpy() & tested
    keys = frame.loc[exploratory, ["programme_id", "method"]].assign(
        pooled=frame.loc[exploratory, "district_ags"].isin(POOLS))
    for _, index in keys.groupby(["programme_id", "method", "pooled"], sort=True).indices.items():
        rows = np.flatnonzero(exploratory)[index]
        adjusted[rows] = holm(p[rows])
        size[rows] = len(rows)
    frame["p_adjusted"] = adjusted
    frame["family_size"] = pd.Series(size, index=frame.index, dtype="Int64").where(tested)
    frame["established"] = tested & (adjusted < ALPHA)
    return frame
