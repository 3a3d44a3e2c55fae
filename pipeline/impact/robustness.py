"""Robustness rows beside the DiD (issue 19): checks of a finding, never findings of their own.

``did_top_box``
    Per programme and survey item, pooled over the programme districts, all respondents: the DiD
    of the *share* answering 4 or 5 instead of the mean. A mean on a 1–5 scale treats the steps as
    equal; the share of favourable answers does not. Same model, same bootstrap, same rules (no
    inference below MIN_DISTRICTS districts); estimates in shares (0.05 = 5 percentage points).
``did_leave_one_out``
    Per programme, for its primary outcome(s): the pooled DiD without one district at a time
    (`district_ags` = the district left out, `role` its side). A finding that hangs on a single
    district shows as one row far from the others. Only where at least MIN_DISTRICTS districts
    remain.

Both inherit the protection of the pooled DiD row they check (nothing is published where that
row is withheld) and use only cells already published on their own: each district's cells of
the item for all respondents. They are in no family of the multiplicity rule (`multiplicity`):
their p-values say how stable a result is, not whether there is one.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from pipeline.impact.design import MIN_DISTRICTS, did_mde, side_change
from pipeline.impact.estimator import Cells, solve
from pipeline.impact.survey import ALL, POOL_NAME, DistrictCells

TOP_BOX, LEAVE_ONE_OUT = "did_top_box", "did_leave_one_out"
TOP_BOX_FROM = 4          # answers 4 and 5 of the 1–5 scale count as favourable
WITHHELD = {"suppressed", "secondary", "inherited", "not_estimable"}


def _subset(cells: Cells, keep: np.ndarray) -> Cells:
    return Cells(cells.n0[keep], cells.n1[keep], cells.s0[keep], cells.s1[keep], cells.treated[keep],
                 cells.y_min, cells.y_max)


def _counts(cells: Cells) -> dict:
    t, c = cells.treated, ~cells.treated
    return {"n_baseline": int(cells.n0[t].sum()), "n_follow_up": int(cells.n1[t].sum()),
            "n_comparison_baseline": int(cells.n0[c].sum()), "n_comparison_follow_up": int(cells.n1[c].sum())}


def _means(cells: Cells) -> dict:
    """Baseline and raw follow-up means per side over the districts of the model, and the
    follow-up means adjusted as the model does (baseline + change within districts)."""
    out = {}
    for prefix, side in (("mean_", cells.treated), ("mean_comparison_", ~cells.treated)):
        base = float(cells.s0[side].sum() / cells.n0[side].sum())
        out[f"{prefix}baseline"] = base
        out[f"{prefix}follow_up"] = float(cells.s1[side].sum() / cells.n1[side].sum())
        out[f"{prefix}follow_up_adjusted"] = base + side_change(cells, prefix == "mean_")
    return out


def robustness_rows(long: pd.DataFrame, did: list[dict], cells: DistrictCells, catalogue, groups, *,
                    bootstrap_reps: int, rng_for, indicative_below: int) -> list[dict]:
    """The robustness rows of every programme whose pooled DiD rows (all respondents) are
    published. rng_for(*key): the row's own random generator factory, as for the DiD rows."""
    pooled = {(r["programme_id"], r["item"]): r for r in did
              if r["district_ags"] == ALL and r["group"] == ALL and not WITHHELD & set(r["_reasons"])}
    if not pooled:
        return []
    top = DistrictCells.of(long.assign(score=(long["score"] >= TOP_BOX_FROM).astype(float)), groups)
    name = functools.cache(catalogue.district_name)
    rows, pending = [], []
    for (programme_id, item), base in pooled.items():
        programme = catalogue.programme(programme_id)
        treated = cells.treated(programme)
        found = top.clusters(programme, top.treated(programme), item, ALL, ALL)
        if found is not None:
            row = _row(base, TOP_BOX, ALL, base["district_name"], "programme")
            pending.append((row, found[1], rng_for(programme_id, "top_box", item)))
            rows.append(row)
        if item not in programme.primary_outcomes:
            continue
        _, model = cells.clusters(programme, treated, item, ALL, ALL)
        labels = [d for d, keep in zip(cells.districts, _kept(cells, programme, item)) if keep]
        for i, district in enumerate(labels):
            keep = np.arange(len(labels)) != i
            rest = _subset(model, keep)
            if len(rest.n0) < MIN_DISTRICTS or rest.treated.all() or not rest.treated.any():
                continue
            role = "programme" if model.treated[i] else "comparison"
            row = _row(base, LEAVE_ONE_OUT, district, name(district), role)
            pending.append((row, rest, rng_for(programme_id, "leave_one_out", item, district)))
            rows.append(row)
    results = solve([(model, rng) for _, model, rng in pending], bootstrap_reps)
    for (row, model, _), result in zip(pending, results):
        row.update(**_counts(model), **_means(model), estimate=result.estimate, p_value=result.p_value,
                   ci_low=result.ci_low, ci_high=result.ci_high, bootstrap_reps=result.reps,
                   clusters_programme=result.clusters_treated, clusters_comparison=result.clusters_control)
        if result.enumerated:
            row["inference"] += "_enumerated"
        if result.clusters_treated + result.clusters_control < MIN_DISTRICTS:
            row.update(p_value=math.nan, ci_low=math.nan, ci_high=math.nan, bootstrap_reps=None, inference="none")
            row["_reasons"].append("few_districts")
        else:
            row["mde"] = did_mde(model)
            if math.isinf(result.ci_low) or math.isinf(result.ci_high):
                row["_reasons"].append("unbounded")
        if min(_counts(model).values()) < indicative_below:
            row["_reasons"].append("indicative")
    return rows


def _kept(cells: DistrictCells, programme, item: str) -> np.ndarray:
    """The districts DistrictCells.clusters keeps for a pooled row (label order)."""
    n = cells.n[cells.programmes[programme.id], cells.items[item], cells.groups[ALL]]
    return (n[:, 0] > 0) & (n[:, 1] > 0)


def _row(base: dict, method: str, district: str, district_name: str, role: str) -> dict:
    return {"programme_id": base["programme_id"], "method": method, "item": base["item"], "district_ags": district,
            "district_name": POOL_NAME.get(district, district_name), "role": role, "group": ALL, "_reasons": [],
            "inference": "wild_cluster_bootstrap_wcr_webb"}
