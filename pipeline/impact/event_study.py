"""Event study, pre-trend test and placebo for programmes surveyed in more than two waves
(issue 19, item 2): the estimation engine, on per-district counts and sums per wave.

Not yet fed by the pipeline: the delivery contract's numbered waves (1–12, listed per programme in
the catalogue with their dates and whether they lie before the programme's start) still need the
intake and the demo; until then every programme has the two waves `baseline` / `follow_up`, and
this module is exercised by its simulations (tests/test_impact_event_study.py).

* **Per-wave effects**: each wave k against the *last wave before the start* r, as the 2 × 2 DiD
  of the existing estimator on the responses of waves r and k (district fixed effects, WCR
  bootstrap with Webb weights, interval by test inversion). A wave before the start should show
  no effect: its coefficient is a pre-trend coefficient.
* **Joint pre-trend test**: with m ≥ 1 pre-wave coefficients, p = min(1, m · min_k p_k)
  (Bonferroni), valid whatever their dependence (they share the reference wave). "Flat" when
  p ≥ 5 %; otherwise the DiD finding must be weakened on the page.
* **Placebo**: a fake start between two pre-waves: the DiD of the pre-waves after the fake start
  (pooled) against those before it. With two pre-waves it is the one pre-trend coefficient.

Each estimate draws its own weights from its own generator (rng_for(key)), as the DiD rows do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from pipeline.impact.design import MIN_DISTRICTS
from pipeline.impact.estimator import ALPHA, Cells, DidResult, solve


@dataclass(frozen=True)
class Waves:
    """Per district (rows) and wave (columns, in time order): the number and sum of the answers;
    which districts are programme districts; which waves lie before the programme's start."""
    n: np.ndarray
    s: np.ndarray
    treated: np.ndarray
    before: np.ndarray
    y_min: float
    y_max: float

    def between(self, first, second) -> Cells:
        """The 2 × 2 cells of two sets of waves (each pooled per district): districts with answers
        in both."""
        first, second = list(first), list(second)
        n0, n1 = self.n[:, first].sum(axis=1), self.n[:, second].sum(axis=1)
        s0, s1 = self.s[:, first].sum(axis=1), self.s[:, second].sum(axis=1)
        keep = (n0 > 0) & (n1 > 0)
        return Cells(n0[keep].astype(float), n1[keep].astype(float), s0[keep], s1[keep], self.treated[keep],
                     self.y_min, self.y_max)


@dataclass(frozen=True)
class EventStudy:
    reference: int                  # the last wave before the start
    effects: list[DidResult]        # per wave (the reference wave: NaN)
    pre_trend_p: float              # joint test of the pre-wave coefficients (NaN: fewer than 2 pre-waves)
    placebo: DidResult | None       # fake start halfway through the pre-waves

    @property
    def flat(self) -> bool | None:
        """Whether the pre-trends pass the joint test; None when it cannot be run."""
        return None if math.isnan(self.pre_trend_p) else self.pre_trend_p >= ALPHA


def _inferable(result: DidResult) -> DidResult:
    """No p-value and no interval below MIN_DISTRICTS districts, as everywhere."""
    if result.clusters_treated + result.clusters_control < MIN_DISTRICTS:
        return DidResult(result.estimate, math.nan, math.nan, math.nan, math.nan, result.clusters_treated,
                         result.clusters_control, 0, False)
    return result


def event_study(waves: Waves, reps: int, rng_for: Callable[[str], Callable[[], np.random.Generator]]) -> EventStudy:
    """Per-wave effects against the last pre-wave, the joint pre-trend test and the placebo."""
    pre = np.flatnonzero(waves.before)
    if not len(pre) or pre[-1] == waves.n.shape[1] - 1:
        raise ValueError("an event study needs at least one wave before and one after the start")
    reference = int(pre[-1])
    others = [k for k in range(waves.n.shape[1]) if k != reference]
    problems = [(waves.between([reference], [k]), rng_for(f"wave-{k}")) for k in others]
    placebo_problem = None
    if len(pre) >= 2:
        cut = len(pre) // 2             # fake start after the first half of the pre-waves
        placebo_problem = (waves.between(pre[:cut], pre[cut:]), rng_for("placebo"))
    solved = [_inferable(r) for r in solve(problems + ([placebo_problem] if placebo_problem else []), reps)]
    by_wave = dict(zip(others, solved))
    nan = DidResult(math.nan, math.nan, math.nan, math.nan, math.nan, 0, 0, 0, False)
    effects = [by_wave.get(k, nan) for k in range(waves.n.shape[1])]
    # a bootstrap p-value of 0 counts as 1/(B + 1), as in the multiplicity rule
    pre_p = [max(effects[k].p_value, 1.0 / (effects[k].reps + 1)) for k in pre[:-1]]
    pre_trend = math.nan if not pre_p or any(math.isnan(p) for p in pre_p) else min(1.0, len(pre_p) * min(pre_p))
    return EventStudy(reference, effects, pre_trend, solved[-1] if placebo_problem else None)
