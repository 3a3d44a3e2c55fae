"""Seeded simulations of what issue 19 added to the impact evaluation: the cluster-robust pooled
pre/post interval, the family-wise corrected test of the exploratory rows, and the minimum
detectable effect (MDE) against the power the WCR test really has. Plus the hand-worked pieces.

Design like lzz-2 unless said otherwise: 6 programme and 4 comparison districts, 60–90 answers per
district and wave, district levels (sd 0.3), district × wave shocks (sd 0.15), answer noise sd 0.9
scaled per district by 0.7–1.3, a common trend +0.1. B = 199 bootstrap draws. Figures measured
with these seeds and counts, and with larger runs, are in docs/impact.md (section "Simulation").
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.impact import did_mde, did_wild_bootstrap, holm, pooled_change
from pipeline.impact.design import combined_sd, multiplier, side_change
from pipeline.impact.estimator import Cells, solve
from pipeline.impact.multiplicity import floor_p
from pipeline.impact.welch import welch_change

REPS = 199
ITEMS, GROUPS = 4, 3


def district_cells(rng, effect, treated=6, control=4, sizes=(60, 91), level_sd=0.3, shock_sd=0.15, sd=0.9,
                   trend=0.1, squares: list | None = None) -> Cells:
    """One outcome: per district and wave the count and the sum of the answers (what the model
    needs); with `squares`, the sums of squares per wave over all districts are appended to it."""
    districts = treated + control
    levels = rng.normal(0, level_sd, districts)
    n0, n1, s0, s1 = (np.zeros(districts) for _ in range(4))
    ss = [0.0, 0.0]
    low, high = np.inf, -np.inf
    for g in range(districts):
        scale = sd * rng.uniform(0.7, 1.3)
        for wave, (n, s) in enumerate(((n0, s0), (n1, s1))):
            n[g] = int(rng.integers(*sizes))
            mean = 3 + levels[g] + trend * wave + effect * (g < treated) * wave + rng.normal(0, shock_sd)
            y = mean + rng.normal(0, scale, int(n[g]))
            s[g], low, high = y.sum(), min(low, y.min()), max(high, y.max())
            ss[wave] += float(y @ y)
    if squares is not None:
        squares.append(ss)
    return Cells(n0, n1, s0, s1, np.arange(districts) < treated, float(low), float(high))


def survey_rows(rng, treated=6, control=4, sizes=(60, 91), item_corr=0.5, shock_sd=0.15, sd=0.9) -> list[Cells]:
    """A whole programme's exploratory DiD rows under the global null: 4 items × (all respondents +
    3 groups), minus the primary row (item 0, all respondents) = 15 rows. Items are correlated within
    a person (a shared component) and share part of the district × wave shock, as real items do;
    a group's rows are subsets of the all-respondents rows."""
    districts = treated + control
    per = {key: ([], []) for key in range(districts)}   # district -> (scores per wave)
    groups_of = {}
    levels = rng.normal(0, 0.3, (districts, ITEMS))
    for g in range(districts):
        for wave in (0, 1):
            n = int(rng.integers(*sizes))
            common_shock = rng.normal(0, shock_sd)
            shocks = math.sqrt(0.5) * common_shock + math.sqrt(0.5) * rng.normal(0, shock_sd, ITEMS)
            person = rng.normal(0, 1, (n, 1))
            noise = math.sqrt(item_corr) * person + math.sqrt(1 - item_corr) * rng.normal(0, 1, (n, ITEMS))
            per[g][wave].append(3 + levels[g] + 0.1 * wave + shocks + sd * noise)
            groups_of[(g, wave)] = rng.integers(0, GROUPS, n)
    rows = []
    for item in range(ITEMS):
        for group in (None, *range(GROUPS)):
            if item == 0 and group is None:
                continue      # the primary row, judged alone
            n0, n1, s0, s1 = (np.zeros(districts) for _ in range(4))
            low, high = np.inf, -np.inf
            for g in range(districts):
                for wave, (n, s) in enumerate(((n0, s0), (n1, s1))):
                    y = per[g][wave][0][:, item]
                    if group is not None:
                        y = y[groups_of[(g, wave)] == group]
                    n[g], s[g], low, high = len(y), y.sum(), min(low, y.min()), max(high, y.max())
            rows.append(Cells(n0, n1, s0, s1, np.arange(districts) < treated, float(low), float(high)))
    return rows


def family_rejects(seed: int, replications: int) -> tuple[float, float]:
    """Share of replications in which Holm rejects at least one of the 15 exploratory rows (the
    family-wise error under the global null), and the same without any correction."""
    rng = np.random.default_rng(seed)
    corrected = uncorrected = 0
    for _ in range(replications):
        rows = survey_rows(rng)
        # B = 999 as in the pipeline: with B = 199 the smallest p-value, 1/200, times the family's
        # 15 already exceeds 5 % and no row could ever be established
        results = solve([(cells, lambda r=rng: r) for cells in rows], 999)
        p = floor_p([r.p_value for r in results], [r.reps for r in results])
        corrected += bool((holm(p) < 0.05).any())
        uncorrected += bool((p < 0.05).any())
    return corrected / replications, uncorrected / replications


def test_family_wise_error_of_the_exploratory_rows_under_a_global_null():
    """Measured (seed 20240611, 300 replications of 15 rows, B = 999): Holm rejects some row in 4.0 %
    (Monte Carlo error 1.1 %); uncorrected, 44 % of the replications would report at least one
    "finding". About 7 s."""
    corrected, uncorrected = family_rejects(20240611, 300)
    assert corrected <= 0.07, corrected
    assert uncorrected >= 0.2, uncorrected       # the problem the correction solves


def coverage_of_pooled_change(seed: int, replications: int, districts: int = 6) -> tuple[float, float]:
    """Coverage of the true common change (the trend 0.1, without the shocks) by the cluster-robust
    interval of the pooled change, and by a Welch interval over the pooled answers (what it replaced)."""
    rng = np.random.default_rng(seed)
    robust = welch = 0
    for _ in range(replications):
        squares: list = []
        cells = district_cells(rng, 0.0, treated=districts, control=0, squares=squares)
        pooled = pooled_change(cells)
        robust += pooled["ci_low"] <= 0.1 <= pooled["ci_high"]
        (ss_b, ss_f), = squares
        n_b, n_f = cells.n0.sum(), cells.n1.sum()
        m_b, m_f = cells.s0.sum() / n_b, cells.s1.sum() / n_f
        v_b, v_f = (ss_b - n_b * m_b ** 2) / (n_b - 1), (ss_f - n_f * m_f ** 2) / (n_f - 1)
        _, _, lo, hi, _ = welch_change(n_b, m_b, v_b, n_f, m_f, v_f)
        welch += lo <= 0.1 <= hi
    return robust / replications, welch / replications


def test_pooled_change_interval_covers_with_district_wave_shocks():
    """Measured (seed 20240612, 2,000 replications of 6 districts): the cluster-robust interval covers
    the true change in 95.1 % (Monte Carlo error 0.5 %); a Welch interval over the pooled answers,
    the one it replaced, in 74.8 %."""
    robust, welch = coverage_of_pooled_change(20240612, 2000)
    assert 0.93 <= robust <= 0.97, robust
    assert welch < 0.85, welch


def test_mde_is_where_the_test_has_80_percent_power():
    """The analytic MDE (design.did_mde) against the WCR test: with the true effect set to the
    median reported MDE, the test rejects in 70–90 % of samples. Measured (seed 20240613, 200 + 400
    replications): median MDE 0.54 (10–90 %: 0.35–0.69), power there 77.8 % (Monte Carlo error
    2.1 %); for comparison, power at 0.3 is 40 %."""
    rng = np.random.default_rng(20240613)
    mdes = [did_mde(district_cells(rng, 0.0)) for _ in range(200)]
    mde = float(np.median(mdes))
    assert 0.3 < mde < 0.8, mde
    rejected = 0
    replications = 400
    for _ in range(replications):
        cells = district_cells(rng, mde)
        result = solve([(cells, lambda r=rng: r)], REPS)[0]
        rejected += result.p_value < 0.05
    power = rejected / replications
    assert 0.70 <= power <= 0.90, (mde, power)


# -- hand-worked ------------------------------------------------------------------------------------

def test_holm_by_hand():
    """p = (0.01, 0.04, 0.03, 0.5): sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1 = 0.04, 0.09, 0.08,
    0.5; made monotone 0.04, 0.09, 0.09, 0.5; back in the input order."""
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.3, 0.6]) == pytest.approx([0.6, 0.6]) and holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])
    # a bootstrap p-value of 0 counts as 1/(B + 1); a Welch p-value (no B) is left alone
    assert floor_p([0.0, 0.0, 1e-6], [999, 199, None]) == pytest.approx([0.001, 0.005, 1e-6])


def test_pooled_change_by_hand():
    """Districts with (n0, n1) = (2, 2), (4, 4), (1, 3), (3, 1) and changes 1, 0, 2, −1: weights
    n0·n1/(n0 + n1) = 1, 2, 0.75, 0.75; pooled change (1 + 0 + 1.5 − 0.75) / 4.5 = 0.3889. CR1:
    scores w·(Δ − γ) = 0.6111, −0.7778, 1.2083, −1.0417; c = 4/3 · 19/15; se = sqrt(c·Σs²)/4.5."""
    n0, n1 = np.array([2.0, 4, 1, 3]), np.array([2.0, 4, 3, 1])
    changes = np.array([1.0, 0, 2, -1])
    s0 = n0 * 3.0
    s1 = n1 * (3.0 + changes)
    cells = Cells(n0, n1, s0, s1, np.ones(4, dtype=bool), 1.0, 5.0)
    pooled = pooled_change(cells)
    assert pooled["estimate"] == pytest.approx(1.75 / 4.5)
    scores = np.array([1, 2, 0.75, 0.75]) * (changes - 1.75 / 4.5)
    se = math.sqrt(4 / 3 * 19 / 15 * (scores @ scores)) / 4.5
    assert pooled["se"] == pytest.approx(se)
    from scipy import stats
    assert pooled["ci_high"] == pytest.approx(1.75 / 4.5 + stats.t.ppf(0.975, 3) * se)
    assert pooled["p_value"] == pytest.approx(2 * stats.t.sf(1.75 / 4.5 / se, 3))
    assert pooled["mde"] == pytest.approx((stats.t.ppf(0.975, 3) + stats.t.ppf(0.8, 3)) * se)
    three = Cells(n0[:3], n1[:3], s0[:3], s1[:3], np.ones(3, dtype=bool), 1.0, 5.0)
    assert set(pooled_change(three)) == {"estimate", "districts"}      # 3 districts: no inference


def test_did_mde_and_side_changes_by_hand():
    """2 + 2 districts, equal sizes (weights equal): changes 0.5, 0.3 | 0.1, −0.1. Side means 0.4 and
    0.0, so δ = 0.4; residuals ±0.1 on both sides: Σr² = 0.04, divisor Σ(k − 2 + k·Σŵ²) = 2·(0 + 1)
    = 2, v = 0.02; Var(δ) = v·(1/2 + 1/2) = 0.02; MDE = (t(.975, 2) + t(.8, 2))·sqrt(0.02)."""
    from scipy import stats
    n = np.full(4, 10.0)
    changes = np.array([0.5, 0.3, 0.1, -0.1])
    cells = Cells(n, n, n * 3.0, n * (3.0 + changes), np.array([True, True, False, False]), 1.0, 5.0)
    assert side_change(cells, True) - side_change(cells, False) == pytest.approx(0.4)
    assert did_wild_bootstrap(np.repeat([3.0, 3.0, 3.0, 3.0, 3.5, 3.3, 3.1, 2.9], 10)
                              + np.tile(np.linspace(-1, 1, 10), 8),
                              np.tile(np.repeat(np.arange(4), 10), 2), np.tile(np.repeat([1, 1, 0, 0], 10), 2),
                              np.repeat([0, 1], 40), reps=99).estimate == pytest.approx(0.4)
    assert did_mde(cells) == pytest.approx((stats.t.ppf(0.975, 2) + stats.t.ppf(0.8, 2)) * math.sqrt(0.02))
    assert float(multiplier(10**6)[0]) == pytest.approx(1.95996 + 0.84162, abs=1e-4)   # the normal limit
    one_treated = Cells(n, n, n * 3.0, n * (3.0 + changes), np.array([True, False, False, False]), 1.0, 5.0)
    assert math.isnan(did_mde(one_treated))      # the WCR with one programme district has no such power


def test_combined_sd_by_hand():
    """(1, 3) and (3, 5): all four values 1, 3, 3, 5 have mean 3 and sd sqrt(8/3)."""
    assert combined_sd(2, 2.0, math.sqrt(2), 2, 4.0, math.sqrt(2)) == pytest.approx(math.sqrt(8 / 3))
