"""What the design of a comparison allows: the change within districts pooled over several
districts with a cluster-robust interval, the minimum detectable effect (MDE) of a row, and the
rule that inference across districts needs at least ``MIN_DISTRICTS`` of them.

Pooled pre/post change. Responses of one district share that district's wave-specific shocks
(a new office, a closed shelter), so the responses of a pool of districts are not independent:
a Welch interval over the pooled responses covered the true change in only 78 % of simulated
samples with district × wave shocks (issue 19). The pooled change is therefore the coefficient γ
of the two-way model y = α_district + γ · follow_up + ε (the w-weighted mean of the districts'
own changes Δ_g, w_g = n0·n1/(n0 + n1): the same within-district changes the DiD compares), with
a CR1 cluster-robust standard error by district and t(G − 1) critical values. That is a weighted
one-sample t-test of the district changes: with G ≥ 4 districts of similar size close to nominal
(tests/test_impact_design.py). A single district's own pre/post row keeps the Welch interval:
there the estimand is that district's change, shocks included, and its respondents are the sample.

MDE at 80 % power (two-sided 5 %), analytic (Bloom 1995): MDE = (t(0.975, df) + t(0.80, df)) · SE,
with the SE of the design rather than of the sample's own noise where districts are the units:
* DiD: Var(δ̂) = v · (Σ_programme ŵ_g² + Σ_comparison ŵ_g²), ŵ the districts' weights normalised
  per side, v the variance of a district's change around its side's mean, estimated from the
  districts' changes with the exact unbiased divisor for weighted means; df = G − 2. Given only
  where both sides have at least two districts (with one programme district the WCR test used is
  very conservative, so an MDE from this formula would promise power the test does not have).
* Pooled pre/post: the CR1 SE above, df = G − 1. A single district's pre/post: the Welch SE and df.
The simulated power of the WCR test at the reported MDE: docs/impact.md.
"""
from __future__ import annotations

import math

import numpy as np

from pipeline.impact.estimator import ALPHA, Cells
from pipeline.impact.welch import t_ppf, t_sf

MIN_DISTRICTS = 4     # below this, no p-value and no interval across districts (issue 19)
POWER = 0.80


def multiplier(df, alpha: float = ALPHA, power: float = POWER) -> np.ndarray:
    """t(1 − α/2, df) + t(power, df): the MDE in standard errors (NaN where df ≤ 0)."""
    df = np.atleast_1d(np.asarray(df, dtype=float))
    return t_ppf(1 - alpha / 2, df) + t_ppf(power, df)


def changes(cells: Cells) -> tuple[np.ndarray, np.ndarray]:
    """Each district's change of means follow-up − baseline and its weight n0·n1/(n0 + n1)."""
    return cells.s1 / cells.n1 - cells.s0 / cells.n0, cells.n0 * cells.n1 / (cells.n0 + cells.n1)


def side_change(cells: Cells, treated: bool) -> float:
    """The w-weighted mean change of one side's districts: the model-adjusted change of the DiD
    (δ̂ = programme side − comparison side, exactly)."""
    delta, w = changes(cells)
    mask = cells.treated == treated
    return float(w[mask] @ delta[mask] / w[mask].sum()) if mask.any() else math.nan


def pooled_change(cells: Cells, alpha: float = ALPHA) -> dict:
    """The change within districts pooled over the districts of `cells` (all of them, whatever
    their `treated` flag): estimate, CR1 se, t(G − 1) interval and p-value, the MDE, and the
    number of districts. Below MIN_DISTRICTS: the estimate only."""
    delta, w = changes(cells)
    districts = len(delta)
    if districts == 0:
        return {"estimate": math.nan, "districts": 0}
    estimate = float(w @ delta / w.sum())
    out = {"estimate": estimate, "districts": districts}
    if districts < MIN_DISTRICTS:
        return out
    n_obs = float((cells.n0 + cells.n1).sum())
    c = districts / (districts - 1) * (n_obs - 1) / (n_obs - districts - 1)
    scores = w * (delta - estimate)
    se = math.sqrt(c * float(scores @ scores)) / float(w.sum())
    df = districts - 1
    half = float(t_ppf(1 - alpha / 2, np.array([df]))[0]) * se
    p = float(2 * t_sf(abs(estimate) / se, df)) if se > 0 else (1.0 if estimate == 0 else 0.0)
    out.update(se=se, ci_low=estimate - half, ci_high=estimate + half, p_value=p,
               mde=float(multiplier(df)[0]) * se)
    return out


def did_mde(cells: Cells) -> float:
    """The DiD's minimum detectable effect at 80 % power (see the module docstring); NaN with
    fewer than two districts on a side or fewer than MIN_DISTRICTS in all."""
    delta, w = changes(cells)
    sides = [cells.treated, ~cells.treated]
    if min(int(s.sum()) for s in sides) < 2 or len(delta) < MIN_DISTRICTS:
        return math.nan
    residual, divisor, variance_factor = 0.0, 0.0, 0.0
    for side in sides:
        share = w[side] / w[side].sum()
        mean = float(share @ delta[side])
        residual += float(((delta[side] - mean) ** 2).sum())
        concentration = float(share @ share)
        # E Σ (Δ_g − Δ̄_w)² = v · Σ (1 − 2ŵ_g + Σŵ²) = v · (k − 2 + k·Σŵ²)
        divisor += side.sum() - 2 + side.sum() * concentration
        variance_factor += concentration
    se = math.sqrt(residual / divisor * variance_factor)
    return float(multiplier(len(delta) - 2)[0]) * se


def welch_mde(se, df) -> np.ndarray:
    """MDE of a single district's pre/post change from its Welch standard error and df."""
    return multiplier(df) * np.asarray(se, dtype=float)


def combined_sd(n1: float, m1: float, sd1: float, n2: float, m2: float, sd2: float) -> float:
    """Standard deviation of two samples together, from their sizes, means and SDs."""
    n = n1 + n2
    if n < 2:
        return math.nan
    ss = (n1 - 1) * sd1 ** 2 + (n2 - 1) * sd2 ** 2 + n1 * n2 / n * (m1 - m2) ** 2
    return math.sqrt(ss / (n - 1))
