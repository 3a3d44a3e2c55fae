"""The event study as rows of the impact table (issue 19): for every programme whose catalogue
lists at least two survey waves before its start, per survey item (pooled over the programme
districts, all respondents), the engine of `event_study` turned into rows:

``event_study``
    One row per wave other than the reference (the last wave before the start, `reference_wave`):
    the DiD of that wave against the reference, `wave` its number. A wave before the start should
    show no effect: its row is a pre-trend coefficient.
``pre_trend``
    The joint test of the pre-wave coefficients (Bonferroni, p = min(1, m · min p)): `p_value`
    only, no estimate. p < 5 % is the verdict "pre-trend not flat"; then every DiD row of that
    programme and item (and its robustness rows) is marked indicative with a note saying the
    DiD finding is only of limited reliability.
``placebo``
    A fake start between the pre-waves (`reference_wave` the last pre-wave before it, `wave` the
    first after it): a DiD that should be zero.

Disclosure: the rows inherit the protection of the pooled DiD row of the item (nothing where it is
withheld), and a row is withheld when a district × wave cell it is built from has fewer than
`min_cell` responses (0 means the district has no answers in that wave and is left out) or a
side of a wave has fewer than `min_cell`. They publish case numbers and the estimate only, no
means: a wave's means are not on the site. They are in no multiplicity family: the pre-trend test
checks the design, it is not a finding.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.impact.estimator import ALPHA
from pipeline.impact.event_study import Waves, event_study
from pipeline.impact.survey import ALL, POOL_NAME

EVENT_STUDY, PRE_TREND, PLACEBO = "event_study", "pre_trend", "placebo"
EVENT_METHODS = (EVENT_STUDY, PLACEBO, PRE_TREND)
DID_FAMILY = ("did", "did_top_box", "did_leave_one_out")   # rows a not-flat pre-trend weakens
WITHHELD = {"suppressed", "secondary", "inherited", "not_estimable"}
INFERENCE = "wild_cluster_bootstrap_wcr_webb"


def event_rows(every_wave: pd.DataFrame, did_rows: list[dict], catalogue, *, bootstrap_reps: int, rng_for,
               min_cell: int, indicative_below: int) -> list[dict]:
    """The event-study rows of every programme with ≥ 2 listed pre-waves whose pooled DiD row of
    the item is published; marks that programme's DiD-family rows of an item whose pre-trend is
    not flat (reason `pre_trend`). rng_for(*key): the row's random generator factory."""
    pooled = {(r["programme_id"], r["item"]): r for r in did_rows
              if r["method"] == "did" and r["district_ags"] == ALL and r["group"] == ALL
              and not WITHHELD & set(r["_reasons"])}
    rows: list[dict] = []
    for (programme_id, item), base in sorted(pooled.items()):
        programme = catalogue.programme(programme_id)
        listed = programme.survey_waves
        if sum(w.before_start for w in listed) < 2:
            continue
        part = every_wave[(every_wave["programme_id"] == programme_id) & (every_wave["item"] == item)]
        found = _waves(part, programme, [w.number for w in listed], [w.before_start for w in listed])
        if found is None:
            continue
        waves, numbers = found
        study = event_study(waves, bootstrap_reps, lambda key, p=programme_id, i=item: rng_for(p, "event", i, key))
        small = (waves.n > 0) & (waves.n < min_cell)
        made = _rows(base, study, waves, numbers, small, min_cell, indicative_below)
        rows += made
        verdict = next(r for r in made if r["method"] == PRE_TREND)
        if verdict.get("_flat") is False:
            for r in did_rows + rows:
                if (r["programme_id"], r["item"]) == (programme_id, item) and r["method"] in DID_FAMILY \
                        and not WITHHELD & set(r["_reasons"]):
                    r["_reasons"].append("pre_trend")
        verdict.pop("_flat", None)
    return rows


def _waves(part: pd.DataFrame, programme, numbers: list[int], before: list[bool]):
    """Counts and sums per district (programme districts first) and listed wave with answers; None
    unless at least two answered waves lie before the start and one after it."""
    if part.empty:
        return None
    districts = [d for d in (*programme.districts, *programme.comparison_districts)
                 if d in set(part["district_ags"].astype(str))]
    grouped = part.groupby([part["district_ags"].astype(str), part["wave_number"]], observed=True)["score"]
    n = grouped.count().unstack(fill_value=0).reindex(index=districts, columns=numbers, fill_value=0)
    s = grouped.sum().unstack(fill_value=0.0).reindex(index=districts, columns=numbers, fill_value=0.0)
    treated = np.array([d in programme.districts for d in districts], dtype=bool)
    answered = n.to_numpy().sum(axis=0) > 0            # listed waves not (yet) surveyed are left out
    before = np.array(before, dtype=bool)[answered]
    if not treated.any() or treated.all() or before.sum() < 2 or before.all():
        return None
    n, s, numbers = n.loc[:, answered], s.loc[:, answered], [k for k, a in zip(numbers, answered) if a]
    waves = Waves(n.to_numpy(dtype=float), s.to_numpy(dtype=float), treated, before,
                  float(part["score"].min()), float(part["score"].max()))
    return waves, numbers


def _counts(waves: Waves, first, second) -> dict:
    t, c = waves.treated, ~waves.treated
    return {"n_baseline": int(waves.n[t][:, first].sum()), "n_follow_up": int(waves.n[t][:, second].sum()),
            "n_comparison_baseline": int(waves.n[c][:, first].sum()),
            "n_comparison_follow_up": int(waves.n[c][:, second].sum())}


def _row(base: dict, method: str, reference: int | None, wave: int | None, counts: dict) -> dict:
    return {"programme_id": base["programme_id"], "method": method, "item": base["item"], "district_ags": ALL,
            "district_name": POOL_NAME[ALL], "role": "programme", "group": ALL, "wave": wave,
            "reference_wave": reference, **counts, "_reasons": [], "inference": INFERENCE}


def _result(row: dict, result, withheld: bool, indicative_below: int) -> None:
    if withheld:
        row["_reasons"].append("suppressed")
        return
    row.update(clusters_programme=result.clusters_treated, clusters_comparison=result.clusters_control)
    if math.isnan(result.estimate):
        row["_reasons"].append("not_estimable")
        return
    row.update(estimate=result.estimate, p_value=result.p_value, ci_low=result.ci_low, ci_high=result.ci_high,
               bootstrap_reps=result.reps or None)
    if result.enumerated:
        row["inference"] += "_enumerated"
    if math.isnan(result.p_value):      # fewer than MIN_DISTRICTS districts: event_study dropped it
        row.update(inference="none", bootstrap_reps=None)
        row["_reasons"].append("few_districts")
    elif math.isinf(result.ci_low) or math.isinf(result.ci_high):
        row["_reasons"].append("unbounded")
    if min(row[k] for k in ("n_baseline", "n_follow_up", "n_comparison_baseline", "n_comparison_follow_up")) \
            < indicative_below:
        row["_reasons"].append("indicative")


def _rows(base, study, waves: Waves, numbers, small, min_cell, indicative_below) -> list[dict]:
    ref = study.reference
    pre = [k for k in np.flatnonzero(waves.before)]

    def blocked(columns) -> bool:    # a small district cell, or a small side, in these waves
        counts = _counts(waves, columns, columns)
        return bool(small[:, columns].any()) or min(counts["n_baseline"], counts["n_comparison_baseline"]) < min_cell

    rows = []
    for k, result in enumerate(study.effects):
        if k == ref:
            continue
        row = _row(base, EVENT_STUDY, numbers[ref], numbers[k], _counts(waves, [ref], [k]))
        _result(row, result, blocked([ref]) or blocked([k]), indicative_below)
        rows.append(row)
    if study.placebo is not None:
        cut = len(pre) // 2
        row = _row(base, PLACEBO, numbers[pre[cut - 1]], numbers[pre[cut]], _counts(waves, pre[:cut], pre[cut:]))
        _result(row, study.placebo, any(blocked([k]) for k in pre), indicative_below)
        rows.append(row)
    trend = _row(base, PRE_TREND, numbers[ref], None, _counts(waves, [ref], pre[:-1]))
    trend["inference"] = "bonferroni_" + INFERENCE
    if any(blocked([k]) for k in pre):
        trend["_reasons"].append("suppressed")
    elif study.flat is None:
        trend.update(inference="none", clusters_programme=int(waves.treated.sum()),
                     clusters_comparison=int((~waves.treated).sum()))
        trend["_reasons"].append("few_districts")
    else:
        first = study.effects[pre[0]]
        trend.update(p_value=study.pre_trend_p, bootstrap_reps=first.reps or None,
                     clusters_programme=first.clusters_treated, clusters_comparison=first.clusters_control)
        trend["_flat"] = bool(study.flat)
        trend["_reasons"].append("pre_trend_flat" if study.flat else "pre_trend_not_flat")
    return rows + [trend]


def flat(p_value: float) -> bool:
    """The verdict of a pre-trend row's p-value (the joint test at ALPHA)."""
    return p_value >= ALPHA
