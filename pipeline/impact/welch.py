"""Pre/post: the t-interval of each wave's mean and the Welch interval and p-value of the change.

Respondents differ between the waves (independent samples), so Welch is the right two-sample
interval. A pre/post change is a *change*, not an impact: it includes whatever would have
happened anyway.
"""
from __future__ import annotations

import numpy as np

from pipeline.impact.estimator import ALPHA


def t_ppf(q: float, df) -> np.ndarray:
    """scipy.stats.t.ppf(q, df) for one 0 < q < 1: the special function it calls where df > 0,
    NaN elsewhere, as its generic wrapper does. From scipy.special because importing scipy.stats
    costs ~1.5 s and scipy.special ~0.3 s (tests/test_impact_fast.py compares both)."""
    from scipy import special

    df = np.asarray(df, dtype=float)
    good = df > 0
    out = np.full(df.shape, np.nan)
    out[good] = special.stdtrit(df[good], q)
    return out


def t_sf(x, df) -> np.ndarray:
    """scipy.stats.t.sf(x, df), as t_ppf: 1 at x = -inf, 0 at +inf, NaN for NaN x or df <= 0."""
    from scipy import special

    x, df = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(df, dtype=float))
    good = df > 0
    out = np.zeros(x.shape)
    out[~good | np.isnan(x)] = np.nan
    out[good & (x == -np.inf)] = 1.0
    inside = good & np.isfinite(x)
    out[inside] = special.stdtr(df[inside], -x[inside])
    return out


def t_intervals(n, mean, var, alpha=ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """95 % t-interval of each mean (NaN below two responses); arrays in, arrays out."""
    n, mean, var = (np.asarray(x, dtype=float) for x in (n, mean, var))
    with np.errstate(divide="ignore", invalid="ignore"):
        half = t_ppf(1 - alpha / 2, n - 1) * np.sqrt(var / n)
    half = np.where(n < 2, np.nan, half)
    return mean - half, mean + half


def welch_df(n_b, v_b, n_f, v_f) -> np.ndarray:
    """Welch–Satterthwaite degrees of freedom of the change (NaN where undefined)."""
    n_b, v_b, n_f, v_f = (np.asarray(x, dtype=float) for x in (n_b, v_b, n_f, v_f))
    q_b, q_f = v_b / n_b, v_f / n_f
    with np.errstate(divide="ignore", invalid="ignore"):
        return (q_b + q_f) ** 2 / (q_b ** 2 / (n_b - 1) + q_f ** 2 / (n_f - 1))


def welch_changes(n_b, m_b, v_b, n_f, m_f, v_f, alpha=ALPHA) -> tuple[np.ndarray, ...]:
    """welch_change for arrays of cells: one scipy call for all of them."""
    n_b, m_b, v_b, n_f, m_f, v_f = (np.asarray(x, dtype=float) for x in (n_b, m_b, v_b, n_f, m_f, v_f))
    diff = m_f - m_b
    se = np.sqrt(v_b / n_b + v_f / n_f)
    df = welch_df(n_b, v_b, n_f, v_f)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = t_ppf(1 - alpha / 2, df) * se
        p = 2 * t_sf(np.abs(diff) / se, df)
    degenerate = se == 0
    lo, hi = np.where(degenerate, diff, diff - half), np.where(degenerate, diff, diff + half)
    p = np.where(degenerate, np.where(diff == 0, 1.0, 0.0), p)
    few = (n_b < 2) | (n_f < 2)
    se, lo, hi, p = (np.where(few, np.nan, x) for x in (se, lo, hi, p))
    return diff, se, lo, hi, p


def welch_change(n_b, m_b, v_b, n_f, m_f, v_f, alpha=ALPHA) -> tuple[float, float, float, float, float]:
    """Change follow-up − baseline of two independent samples: (estimate, se, ci_low, ci_high, p)."""
    return tuple(float(x) for x in welch_changes(n_b, m_b, v_b, n_f, m_f, v_f, alpha))

