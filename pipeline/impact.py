"""Impact evaluation: survey outcomes before and after, against comparison districts.

Two kinds of rows, one table (`impact_estimates`, `exports/impact.csv`):

``pre_post``
    Per programme, district (programme and comparison districts, plus the pools ``ALL`` and
    ``ALL_COMPARISON``), respondent group (plus ``ALL``) and survey item: the mean per wave with
    a 95 % t-interval and the change baseline → follow-up with a Welch 95 % interval and p-value.
    Respondents differ between the waves (independent samples), so Welch is the right two-sample
    interval. A pre/post change is a *change*, not an impact: it includes whatever would have
    happened anyway.

``did``
    Difference-in-differences per programme, item and group: programme districts against the
    programme's comparison districts, baseline → follow-up. Pooled over the programme districts
    (``district_ags = ALL``) and each programme district against the comparison pool. The point
    estimate is the OLS coefficient δ of the individual-level two-way model

        y_i = α_district(i) + γ · follow_up_i + δ · (programme_district_i × follow_up_i) + ε_i

    (district fixed effects, so a change in the mix of districts between waves does not move δ;
    with equal numbers per district and wave δ equals the difference of the pooled changes).

    Uncertainty is clustered by district and must stay honest with very few districts (lzz-2 has
    6 + 4, amif-nom 1 + 2). Cluster-robust standard errors with t(G−1) critical values over-reject
    badly with so few clusters, so we use the **restricted wild cluster bootstrap (WCR)** with
    **Webb six-point weights** (Cameron, Gelbach & Miller 2008; Webb 2023; MacKinnon & Webb 2017,
    2018; Roodman, MacKinnon, Nielsen & Webb 2019, "Fast and wild"):

    * WCR (the null hypothesis imposed on the bootstrap DGP) has the most reliable test size of
      the wild cluster bootstraps with few clusters; the unrestricted variant (WCU) tends to
      over-reject, which an evaluation of a funded programme must not do.
    * Webb weights, because with G < 12 clusters Rademacher weights yield only 2^G distinct
      bootstrap samples (2^(G−1) distinct |t|), so p-values become coarse and interval-valued;
      Webb's six points give 6^G. When 6^G is at most the number of replications (G ≤ 3 for 999),
      every weight vector is enumerated instead of drawn, so the p-value is exact for the
      bootstrap distribution and needs no seed.
    * The 95 % interval is the set of δ₀ the WCR test does not reject at 5 % (test inversion), so
      the interval and the p-value always agree (the interval excludes 0 exactly when p < 0.05).
      All replications share one weight matrix, and the bootstrap t-statistic is a closed-form
      function of δ₀ (restricted residuals are linear in δ₀), so every p(δ₀) costs O(B) and the
      bounds are found by bracketing and bisection.
    * Everything is vectorised: the B × G weight matrix times cluster-level scores ("fast and
      wild" algebra); no loop over replications or rows. The model's sufficient statistics are
      each district's count and score sum per wave, so a row costs O(G), not O(responses); the
      rows' searches run in lockstep, batched, and a bisection step only re-evaluates the
      bootstrap samples whose verdict could still change within the bracket (proved per sample
      with a margin far above rounding), so every step is exactly that of evaluating them all.

    Known limits: with one treated cluster (every per-district row, and amif-nom pooled) the WCR
    is very conservative (MacKinnon & Webb 2017) — intervals are wide or unbounded (±inf: the
    test rejects nowhere in the possible range) and rarely exclude 0; those rows are flagged
    ``indicative``. With very unequal district sizes it over-rejects slightly (≈ 6–8 % at a
    nominal 5 % with 10 districts; the cluster-robust t-test: ≈ 8–9 %). Measured coverage and
    rejection rates: tests/test_impact_simulation.py. DiD rows carry no ``se``: the CR1 standard
    error is only the bootstrap's studentising device and is far too small with one treated
    district. pyfixest (which offers the same bootstrap) was not used: it
    pulls ~35 packages (matplotlib, IPython, great-tables, …) into the pipeline for ~150 lines of
    numpy.

Honesty rules (issue 6): a row with fewer than ``indicative_below`` (30) responses in any cell, or
with a single programme or comparison district, is ``indicative``; a row with fewer than
``min_cell`` (5) persons in any cell is ``suppressed`` — its numbers are NaN from the start, never
computed into the frame. Because the pools and the group ``ALL`` rows are sums of the other rows,
a small cell could be recovered by subtraction; secondary suppression withholds further rows
until no small cell (nor a small combination of cells) is derivable from what is published
(an exact linear-algebra audit of the table). Counts (n) stay published: they say nothing about
anybody's answers. Only the survey's score items are ever estimated: output counts (events,
newsletters, …) never get an "impact" (`survey_items`, checked in `estimate_impact`).
"""
from __future__ import annotations

import concurrent.futures
import functools
import itertools
import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from pipeline.contract import EXPECTATIONS_DIR
from pipeline.tables import write_csv

TABLE = "impact_estimates"
EXPORT_NAME = "impact.csv"
ALL = "ALL"                      # pool of a programme's districts / all respondent groups
ALL_COMPARISON = "ALL_COMPARISON"  # pool of a programme's comparison districts
POOL = {"programme": ALL, "comparison": ALL_COMPARISON}
POOL_NAME = {ALL: "Alle Kreise des Programms", ALL_COMPARISON: "Alle Vergleichskreise"}
WAVES = ("baseline", "follow_up")
ALPHA = 0.05
MIN_CELL = 5
INDICATIVE_BELOW = 30

COLUMNS = (
    "programme_id", "method", "item", "district_ags", "district_name", "role", "group",
    "estimate", "ci_low", "ci_high", "p_value", "se",
    "n_baseline", "n_follow_up", "n_comparison_baseline", "n_comparison_follow_up",
    "mean_baseline", "mean_baseline_ci_low", "mean_baseline_ci_high",
    "mean_follow_up", "mean_follow_up_ci_low", "mean_follow_up_ci_high",
    "mean_comparison_baseline", "mean_comparison_follow_up",
    "clusters_programme", "clusters_comparison", "bootstrap_reps", "inference",
    "indicative", "suppressed", "note_de", "note_en",
)
NUMBERS = ("estimate", "ci_low", "ci_high", "p_value", "se", "mean_baseline", "mean_baseline_ci_low",
           "mean_baseline_ci_high", "mean_follow_up", "mean_follow_up_ci_low", "mean_follow_up_ci_high",
           "mean_comparison_baseline", "mean_comparison_follow_up")
COUNTS = ("n_baseline", "n_follow_up", "n_comparison_baseline", "n_comparison_follow_up",
          "clusters_programme", "clusters_comparison", "bootstrap_reps")

WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])

NOTES = {
    "suppressed": ("Weniger als {min_cell} Antworten in mindestens einer Zelle: Werte nicht veröffentlicht.",
                   "Fewer than {min_cell} responses in at least one cell: figures withheld."),
    "secondary": ("Zum Schutz einer kleinen Zelle derselben Tabelle nicht veröffentlicht "
                  "(sonst ließe sie sich herausrechnen).",
                  "Withheld to protect a small cell of the same table (it could otherwise be "
                  "derived by subtraction)."),
    "inherited": ("Nicht veröffentlicht, weil eine zugrunde liegende Vorher-nachher-Zelle geschützt ist.",
                  "Withheld because an underlying before/after cell is protected."),
    "not_estimable": ("Nicht schätzbar: kein Programm- oder kein Vergleichskreis mit Antworten in beiden Wellen.",
                      "Not estimable: no programme or no comparison district with responses in both waves."),
    "indicative": ("Weniger als {indicative_below} Antworten in mindestens einer Zelle: nur als Hinweis zu lesen.",
                   "Fewer than {indicative_below} responses in at least one cell: indicative only."),
    "one_programme": ("Nur ein Programmkreis: Das Intervall beruht auf sehr wenigen Kreisen und ist eher zu "
                      "weit; nur als Hinweis zu lesen.",
                      "Only one programme district: the interval rests on very few districts and tends to be "
                      "too wide; indicative only."),
    "one_comparison": ("Nur ein Vergleichskreis: nur als Hinweis zu lesen.",
                       "Only one comparison district: indicative only."),
    "unbounded": ("Die Daten begrenzen das Intervall nach mindestens einer Seite nicht (es reicht über den "
                  "möglichen Wertebereich hinaus).",
                  "The data do not bound the interval on at least one side (it reaches beyond the possible "
                  "range)."),
}


# -- what may be estimated ------------------------------------------------------------------------

@functools.cache
def _survey_meta() -> dict:
    return json.loads((EXPECTATIONS_DIR / "survey.json").read_text(encoding="utf-8"))["meta"]


def survey_items() -> tuple[str, ...]:
    """The survey's score items (expectations/survey.json, columns with `score: true`): the only
    things that can have an impact estimate. Output counts (events, newsletters) never do."""
    return tuple(c["name"] for c in _survey_meta()["columns"] if c.get("score"))


def survey_groups() -> tuple[str, ...]:
    column = next(c for c in _survey_meta()["columns"] if c["name"] == "group")
    return tuple(column["values"])


def _check_items(items) -> tuple[str, ...]:
    allowed = survey_items()
    items = allowed if items is None else tuple(items)
    foreign = [i for i in items if i not in allowed]
    if foreign:
        raise ValueError(
            f"Keine Wirkungsschätzung für {', '.join(foreign)}: nur Befragungs-Items ({', '.join(allowed)}) / "
            f"no impact estimate for {', '.join(foreign)}: survey score items only; output counts never get an impact")
    return items


# -- the DiD estimator with the restricted wild cluster bootstrap --------------------------------

@dataclass(frozen=True)
class DidResult:
    estimate: float
    se: float
    p_value: float
    ci_low: float
    ci_high: float
    clusters_treated: int
    clusters_control: int
    reps: int            # bootstrap samples used (6^G when enumerated)
    enumerated: bool


NOT_ESTIMABLE = DidResult(math.nan, math.nan, math.nan, math.nan, math.nan, 0, 0, 0, False)


def webb_weights(clusters: int, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """A reps × clusters matrix of Webb six-point weights; all 6^G vectors when that is ≤ reps."""
    if 6 ** clusters <= reps:
        index = np.array(list(itertools.product(range(6), repeat=clusters)), dtype=np.intp)
        return WEBB[index], True
    return WEBB[rng.integers(0, 6, size=(reps, clusters))], False


@dataclass(frozen=True)
class _Cells:
    """What one DiD needs from its responses: per district (those with responses in both waves,
    in label order) the number and sum of the scores per wave, and the range of the scores. The
    model has district fixed effects and one follow-up dummy, so these per-district sums are
    sufficient statistics: every DiD row costs O(districts), not O(responses)."""
    n0: np.ndarray
    n1: np.ndarray
    s0: np.ndarray
    s1: np.ndarray
    treated: np.ndarray
    y_min: float
    y_max: float


def _cells_from_rows(y, cluster, post, treated, keep=None) -> _Cells:
    n_clusters = int(cluster.max()) + 1

    def total(values):
        return np.bincount(cluster, weights=values, minlength=n_clusters)

    pre = ~post
    n0, n1 = total(pre.astype(float)), total(post.astype(float))
    keep = (n0 > 0) & (n1 > 0) if keep is None else keep
    rows = keep[cluster]
    return _Cells(n0[keep], n1[keep], total(np.where(pre, y, 0.0))[keep], total(np.where(post, y, 0.0))[keep],
                  (total(treated.astype(float)) > 0)[keep], float(y[rows].min()), float(y[rows].max()))


@dataclass(frozen=True)
class _Fit:
    """OLS δ, its CR1 standard error and the per-district pieces of the bootstrap (see
    _WildClusterBootstrap). With ṗ the follow-up dummy demeaned by district, w_g = Σ_g ṗ² =
    n0·n1/n per district and Δ_g its change in means, M_Z y = ẏ − ṗ·b_y and D̃ = ṗ·(T_g − b_d)
    (b_y, b_d: w-weighted means of Δ and of the treatment), so every per-district sum of the
    closed form is a product of w, T − b_d and Δ − b_y."""
    estimate: float
    se: float
    c: float
    s: float
    a0: np.ndarray
    a1: np.ndarray
    alpha: np.ndarray
    beta0: np.ndarray
    beta1: np.ndarray
    limit: float


def _fit(cells: _Cells) -> _Fit:
    n = cells.n0 + cells.n1
    w = cells.n0 * cells.n1 / n
    change = cells.s1 / cells.n1 - cells.s0 / cells.n0
    pp = float(w.sum())
    t = cells.treated - float(w @ cells.treated) / pp
    dev = change - float(w @ change) / pp
    alpha = t * w
    a0, a1 = alpha * dev, alpha * t
    s = float(a1.sum())
    estimate = float(a0.sum()) / s
    n_obs, k, clusters = float(n.sum()), len(n) + 2, len(n)
    c = clusters / (clusters - 1) * (n_obs - 1) / (n_obs - k)
    scores = a0 - estimate * a1
    se = math.sqrt(c * float(scores @ scores)) / s
    # A difference of four means of values in [a, b] lies within ±2(b − a): beyond that no
    # interval bound is meaningful.
    limit = max(2 * (cells.y_max - cells.y_min), abs(estimate) + se, 1e-9)
    return _Fit(estimate, se, c, s, a0, a1, alpha, w * dev / pp, alpha / pp, limit)


def _replicates(fits: list[_Fit], weights: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """num0, num1, s00, s01, s11 (problems × B) of
    t*(δ₀) = |num0 − δ₀num1| / sqrt(c(s00 − 2δ₀s01 + δ₀²s11)), for problems of one shape (same B
    and G): batched B × G products, a few problems at a time so the temporaries stay in the CPU cache."""
    size = max(1, CACHE_ELEMENTS // weights[0].size)
    parts = [_replicates_of(fits[i:i + size], weights[i:i + size]) for i in range(0, len(fits), size)]
    return tuple(np.concatenate(arrays) for arrays in zip(*parts))


def _replicates_of(fits: list[_Fit], weights: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    v = np.stack(weights)

    def stack(name):
        return np.stack([getattr(f, name) for f in fits])[:, :, None]

    a0, a1, alpha, beta0, beta1 = (stack(name) for name in ("a0", "a1", "alpha", "beta0", "beta1"))
    s = np.array([f.s for f in fits])[:, None, None]
    num0, num1 = np.matmul(v, a0), np.matmul(v, a1)                     # problems × B × 1
    alpha, a1_row = alpha.transpose(0, 2, 1), a1.transpose(0, 2, 1)

    def scores(a, num, beta):   # v∘a − (V Q'): the bootstrap scores at δ₀ = 0, and their slope in δ₀
        projected = np.matmul(v, beta) * alpha
        projected += num / s * a1_row
        e = v * a.transpose(0, 2, 1)
        e -= projected
        return e

    e0, e1 = scores(a0, num0, beta0), scores(a1, num1, beta1)
    return (num0[..., 0], num1[..., 0], np.einsum("kbg,kbg->kb", e0, e0), np.einsum("kbg,kbg->kb", e0, e1),
            np.einsum("kbg,kbg->kb", e1, e1))


def _hits(num0, num1, s00, s01, s11, c, estimate, se, delta0):
    """Whether each bootstrap t*(δ₀) = |num0 − δ₀num1| / sqrt(c·max(s00 − 2δ₀s01 + δ₀²s11, 0)) reaches
    the observed t(δ₀) (broadcasting over problems). In place: this is the innermost loop."""
    t_star = num1 * delta0
    np.subtract(num0, t_star, out=t_star)
    np.abs(t_star, out=t_star)
    ss = s01 * (2 * delta0)
    np.subtract(s00, ss, out=ss)
    ss += s11 * delta0 ** 2
    np.maximum(ss, 0.0, out=ss)
    np.multiply(ss, c, out=ss)
    np.sqrt(ss, out=ss)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(t_star, ss, out=t_star)       # inf where only ss is 0; NaN where both are: t* = 0 there
        t_obs = np.where(se > 0, np.abs(estimate - delta0) / se, np.where(delta0 == estimate, 0.0, np.inf))
    threshold = t_obs * (1 - 1e-10) - 1e-12
    hits = t_star >= threshold
    undefined = np.isnan(t_star)
    if undefined.any():
        hits |= undefined & (threshold <= 0.0)
    return hits


# Certainty margin of _Batch._settle, relative to the magnitudes involved: far above rounding
# (≈ 1e-15) and below the tolerance of the comparison in _hits (1e-10).
SURE = 1e-9
# The first bisection steps evaluate every sample: their brackets are too wide to settle many; and
# a few hundred samples are cheaper to evaluate than to settle (numpy's per-call overhead).
SETTLE_FROM = 2
SETTLE_MIN = 256


class _Batch:
    """The WCR test for many problems with the same number of bootstrap samples B, evaluated in
    lockstep: one numpy pass per step of all problems' searches instead of a Python loop each."""

    def __init__(self, fits: list[_Fit], num0, num1, s00, s01, s11):
        self.estimate = np.array([f.estimate for f in fits])
        self.se = np.array([f.se for f in fits])
        self.c = np.array([f.c for f in fits])
        self.limit = np.array([f.limit for f in fits])
        self.arrays = (num0, num1, s00, s01, s11)
        self.reps = num0.shape[1]

    def p_values(self, problems, delta0) -> np.ndarray:
        col = (slice(None), None)
        hits = _hits(*(a[problems] for a in self.arrays), self.c[problems][col], self.estimate[problems][col],
                     self.se[problems][col], np.asarray(delta0, dtype=float)[col])
        return hits.sum(axis=1) / self.reps

    def bounds(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Per problem, the edges of {δ₀ : p(δ₀) ≥ α} below and above the estimate: step out by
        se, 2se, 4se … until the test rejects (±inf when it does not within ±limit), then bisect
        to a relative width of 1e-10."""
        problem = np.repeat(np.arange(len(self.estimate)), 2)
        direction = np.tile([-1.0, 1.0], len(self.estimate))
        estimate, se, limit = self.estimate[problem], self.se[problem], self.limit[problem]
        step = np.where(se > 0, se, 1e-6 * np.maximum(1.0, np.abs(estimate)))
        inside, outside = estimate.copy(), np.full(len(problem), np.nan)
        result = np.full(len(problem), np.nan)
        searching = np.ones(len(problem), dtype=bool)
        while searching.any():
            beyond = searching & ~(np.abs(inside) < limit)
            result[beyond] = direction[beyond] * np.inf
            searching &= ~beyond
            open_ = np.flatnonzero(searching)
            if not len(open_):
                break
            candidate = estimate[open_] + direction[open_] * step[open_]
            candidate = np.where(np.abs(candidate) >= limit[open_], direction[open_] * limit[open_], candidate)
            rejected = self.p_values(problem[open_], candidate) < alpha
            outside[open_[rejected]] = candidate[rejected]
            searching[open_[rejected]] = False
            keep = open_[~rejected]
            inside[keep], step[keep] = candidate[~rejected], step[keep] * 2
        bracketed = np.flatnonzero(~np.isnan(outside))
        result[bracketed] = self._bisect(problem[bracketed], inside[bracketed], outside[bracketed], alpha)
        return result[0::2], result[1::2]

    def _bisect(self, problems, inside, outside, alpha) -> np.ndarray:
        """Plain bisection, all searches in lockstep. Only the bootstrap samples whose verdict could
        change within the current bracket are evaluated: a sample that certainly reaches (or
        certainly misses) the observed t everywhere in the bracket keeps that verdict in every
        sub-bracket, so the count, and with it every step, is exactly that of the full evaluation."""
        searches = len(problems)
        search = np.repeat(np.arange(searches), self.reps)
        pairs = [a[problems].ravel() for a in self.arrays]          # num0, num1, s00, s01, s11 per (search, sample)
        c, se, estimate = self.c[problems], self.se[problems], self.estimate[problems]
        sure_hits = np.zeros(searches)
        result = np.full(searches, np.nan)
        active = np.ones(searches, dtype=bool)
        for step in range(200):
            middle = (inside + outside) / 2
            done = active & (np.abs(outside - inside) <= 1e-10 * np.maximum(1.0, np.abs(middle)))
            result[done] = middle[done]
            active &= ~done
            if not active.any():
                return result
            if step >= SETTLE_FROM and len(search) >= SETTLE_MIN:
                sure, hit = _settle(*pairs, c[search], se[search], estimate[search], middle[search],
                                    (np.abs(outside - inside) / 2 * (1 + 1e-9))[search])   # 1 + 1e-9: cover the ends
                sure |= ~active[search]
                sure_hits += np.bincount(search, weights=hit & active[search], minlength=searches)
                search, pairs = search[~sure], [a[~sure] for a in pairs]
            count = sure_hits + np.bincount(
                search, weights=_hits(*pairs, c[search], estimate[search], se[search], middle[search]),
                minlength=searches)
            rejected = count / self.reps < alpha
            outside = np.where(active & rejected, middle, outside)
            inside = np.where(active & ~rejected, middle, inside)
        result[active] = ((inside + outside) / 2)[active]
        return result


def _settle(num0, num1, s00, s01, s11, c, se, estimate, m, h):
    """Per bootstrap sample: is its verdict certain for every δ₀ in [m − h, m + h], and is it a
    certain hit. G(δ) = se²·num(δ)² − c·(δ − estimate)²·ss(δ) is a quartic in δ, and t* reaches t
    where G ≥ 0; around m, |G(m + x) − G(m)| ≤ Σ|g_k|h^k. Certain when G keeps its sign by a
    margin of SURE times the magnitudes of all terms (so rounding cannot flip the verdict), and
    for a miss when t stays ≥ 0.01 (so the absolute tolerance in _hits cannot flip it)."""
    se2, d = se * se, m - estimate
    cd2, c2d = c * d * d, 2 * c * d
    n0 = num0 - m * num1                                   # num(m + x) = n0 − x·num1
    q1 = s11 * m
    q1 -= s01
    q1 *= 2                                                # ss(m + x) = q0 + q1·x + s11·x²
    q0 = s00 - 2 * m * s01 + m * m * s11
    g0 = se2 * n0 * n0 - cd2 * q0
    spread = np.abs(c * s11)                               # |g4|, then Horner: Σ |g_k| h^k
    spread *= h
    spread += np.abs(c2d * s11 + c * q1)                   # |g3|
    spread *= h
    spread += np.abs(se2 * num1 * num1 - (cd2 * s11 + c2d * q1 + c * q0))   # |g2|
    spread *= h
    spread += np.abs(-2 * se2 * n0 * num1 - (cd2 * q1 + c2d * q0))         # |g1|
    spread *= h
    reach = np.abs(m) + h
    margin = np.abs(num1) * reach
    margin += np.abs(num0)
    margin *= margin
    margin *= se2
    size = np.abs(s11) * (reach * reach)
    size += np.abs(s01) * (2 * reach)
    size += np.abs(s00)
    size *= c * (np.abs(d) + h) ** 2
    margin += size
    margin *= SURE
    with np.errstate(divide="ignore", invalid="ignore"):
        far = (np.abs(d) - h) / se >= 0.01
    hit = (se > 0) & (g0 - spread > margin)
    miss = (se > 0) & far & (g0 + spread < -margin)
    return hit | miss, hit


# Problems × B × G elements: of a batch of problems solved in lockstep (bounds its memory, ~16 MB
# per array), and of the temporaries of one step of the B × G algebra (fit in the CPU cache).
BATCH_ELEMENTS = 1_000_000
CACHE_ELEMENTS = 100_000
THREADS = 2


def _solve(problems: list[tuple[_Cells, Callable[[], np.random.Generator]]], reps: int,
           alpha: float = ALPHA) -> list[DidResult]:
    """DidResult per (cells, rng factory) problem. Each problem draws its own weights from its own
    rng (so a row's result does not depend on the others). Problems with the same weight-matrix
    shape are solved together in batches, on two threads: numpy releases the GIL in its loops, and
    the batches are independent, so the results do not depend on the threads."""
    results: list = [None] * len(problems)
    runs: dict = {}
    for i, (cells, rng) in enumerate(problems):
        treated, control = int(cells.treated.sum()), int((~cells.treated).sum())
        if treated == 0 or control == 0:
            results[i] = DidResult(math.nan, math.nan, math.nan, math.nan, math.nan, treated, control, 0, False)
            continue
        clusters = treated + control
        shape = (6 ** clusters if 6 ** clusters <= reps else reps, clusters)   # as webb_weights draws
        runs.setdefault(shape, []).append((i, cells, rng))
    batches = [run[start:start + max(1, BATCH_ELEMENTS // (b * g))]
               for (b, g), run in runs.items() for start in range(0, len(run), max(1, BATCH_ELEMENTS // (b * g)))]
    solve = functools.partial(_solve_batch, reps=reps, alpha=alpha)
    if len(batches) == 1:   # one row (did_wild_bootstrap): no thread to start
        solved_batches = map(solve, batches)
    else:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=THREADS)
        solved_batches = pool.map(solve, batches)
        pool.shutdown(wait=False)   # the map's results are still delivered
    for solved in solved_batches:
        for i, result in solved:
            results[i] = result
    return results


def _solve_batch(batch: list[tuple], reps: int, alpha: float) -> list[tuple[int, DidResult]]:
    fits = [_fit(cells) for _, cells, _ in batch]
    drawn = [webb_weights(len(cells.n0), reps, rng()) for _, cells, rng in batch]
    tests = _Batch(fits, *_replicates(fits, [weights for weights, _ in drawn]))
    p_values = tests.p_values(np.arange(len(batch)), np.zeros(len(batch)))
    low, high = tests.bounds(alpha)
    return [(i, DidResult(fit.estimate, fit.se, float(p), float(lo), float(hi), int(cells.treated.sum()),
                          int((~cells.treated).sum()), len(weights), enumerated))
            for (i, cells, _), fit, (weights, enumerated), p, lo, hi in zip(batch, fits, drawn, p_values, low, high)]


class _WildClusterBootstrap:
    """Restricted wild cluster bootstrap-t for δ, as a closed-form function of the null δ₀.

    Notation (FWL): Z = [district dummies, follow_up], X = [Z, D], D = programme × follow_up,
    D̃ = M_Z D, ỹ = M_Z y, S = D̃'D̃. Under H0: δ = δ₀ the restricted residuals are ũ = ỹ − δ₀ D̃,
    the bootstrap sample y* = Zβ̃ + δ₀D + ũ∘v (v: one weight per district), and
        δ* − δ₀ = Σ_g v_g a_g / S,                  a_g = D̃_g'ũ_g
        score*_g = D̃_g'û*_g = v_g a_g − (Q v)_g,    Q_gh = D̃_g'X_g (X'X)⁻¹ X_h'ũ_h
    with û* the unrestricted residuals of the bootstrap sample (CR1 variance). The hat matrix of X
    is P_Z + D̃D̃'/S, and D̃ sums to zero within each district, so Q has rank two:
        Q_gh = (D̃_g'ṗ_g)(ṗ_h'ũ_h)/(ṗ'ṗ) + (D̃_g'D̃_g)(D̃_h'ũ_h)/S,   ṗ = follow_up demeaned by district.
    Every term is a per-district sum, and those follow from the districts' counts and score sums
    per wave (_fit); the B replications are O(B·G) matrix algebra (_replicates).
    a and Q are linear in δ₀, so t*(δ₀) = (A0 − δ₀A1) / sqrt(c · (s00 − 2δ₀ s01 + δ₀² s11)).

    One problem from response-level data (the tests' reference interface); the pipeline batches
    problems in _solve.
    """

    def __init__(self, y, cluster, post, d, weights):
        cluster = np.asarray(cluster)
        cells = _cells_from_rows(np.asarray(y, dtype=float), cluster, np.asarray(post) > 0, np.asarray(d) > 0,
                                 keep=np.ones(int(cluster.max()) + 1, dtype=bool))
        fit = _fit(cells)
        self.estimate, self.se, self.c, self.s = fit.estimate, fit.se, fit.c, fit.s
        self._batch = _Batch([fit], *_replicates([fit], [weights]))

    def p_value(self, delta0: float) -> float:
        return float(self._batch.p_values(np.zeros(1, dtype=np.intp), [delta0])[0])


def did_wild_bootstrap(y, cluster, treated, post, *, reps: int = 999, rng: np.random.Generator | None = None,
                       seed: int = 20240601, alpha: float = ALPHA) -> DidResult:
    """Difference-in-differences with district fixed effects; WCR Webb bootstrap p-value for δ = 0
    and the 95 % interval by inverting the same test (see the module docstring).

    y: outcome per response; cluster: district per response; treated: the response's district is
    a programme district; post: the response is from the follow-up wave. Districts without
    responses in both waves carry no information on δ and are left out.
    """
    _, cluster = np.unique(np.asarray(cluster), return_inverse=True)
    cells = _cells_from_rows(np.asarray(y, dtype=float), cluster, np.asarray(post, dtype=bool),
                             np.asarray(treated, dtype=bool))
    rng = rng if rng is not None else np.random.default_rng(seed)
    return _solve([(cells, lambda: rng)], reps, alpha)[0]


# -- pre/post: means per wave and the Welch change ------------------------------------------------

def _t_ppf(q: float, df) -> np.ndarray:
    """scipy.stats.t.ppf(q, df) for one 0 < q < 1: the special function it calls where df > 0,
    NaN elsewhere, as its generic wrapper does. From scipy.special because importing scipy.stats
    costs ~1.5 s and scipy.special ~0.3 s (tests/test_impact_fast.py compares both)."""
    from scipy import special

    df = np.asarray(df, dtype=float)
    good = df > 0
    out = np.full(df.shape, np.nan)
    out[good] = special.stdtrit(df[good], q)
    return out


def _t_sf(x, df) -> np.ndarray:
    """scipy.stats.t.sf(x, df), as _t_ppf: 1 at x = -inf, 0 at +inf, NaN for NaN x or df <= 0."""
    from scipy import special

    x, df = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(df, dtype=float))
    good = df > 0
    out = np.zeros(x.shape)
    out[~good | np.isnan(x)] = np.nan
    out[good & (x == -np.inf)] = 1.0
    inside = good & np.isfinite(x)
    out[inside] = special.stdtr(df[inside], -x[inside])
    return out


def _t_intervals(n, mean, var, alpha=ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """95 % t-interval of each mean (NaN below two responses); arrays in, arrays out."""
    n, mean, var = (np.asarray(x, dtype=float) for x in (n, mean, var))
    with np.errstate(divide="ignore", invalid="ignore"):
        half = _t_ppf(1 - alpha / 2, n - 1) * np.sqrt(var / n)
    half = np.where(n < 2, np.nan, half)
    return mean - half, mean + half


def _welch(n_b, m_b, v_b, n_f, m_f, v_f, alpha=ALPHA) -> tuple[np.ndarray, ...]:
    """welch_change for arrays of cells: one scipy call for all of them."""
    n_b, m_b, v_b, n_f, m_f, v_f = (np.asarray(x, dtype=float) for x in (n_b, m_b, v_b, n_f, m_f, v_f))
    diff = m_f - m_b
    q_b, q_f = v_b / n_b, v_f / n_f
    se = np.sqrt(q_b + q_f)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (q_b + q_f) ** 2 / (q_b ** 2 / (n_b - 1) + q_f ** 2 / (n_f - 1))
        half = _t_ppf(1 - alpha / 2, df) * se
        p = 2 * _t_sf(np.abs(diff) / se, df)
    degenerate = se == 0
    lo, hi = np.where(degenerate, diff, diff - half), np.where(degenerate, diff, diff + half)
    p = np.where(degenerate, np.where(diff == 0, 1.0, 0.0), p)
    few = (n_b < 2) | (n_f < 2)
    se, lo, hi, p = (np.where(few, np.nan, x) for x in (se, lo, hi, p))
    return diff, se, lo, hi, p


def welch_change(n_b, m_b, v_b, n_f, m_f, v_f, alpha=ALPHA) -> tuple[float, float, float, float, float]:
    """Change follow-up − baseline of two independent samples: (estimate, se, ci_low, ci_high, p)."""
    return tuple(float(x) for x in _welch(n_b, m_b, v_b, n_f, m_f, v_f, alpha))


# -- data -----------------------------------------------------------------------------------------

def load_responses(con, catalogue, items=None) -> pd.DataFrame:
    """One row per answered item per response and programme: programme_id, role, district_ags,
    wave, group, item (categorical labels), score. A response belongs to a programme
    when its district is a programme or comparison district of it and its date lies within the
    programme period."""
    items = _check_items(items)
    members = pd.DataFrame(
        [(p.id, role, ags, p.start.isoformat(), p.end.isoformat())
         for p in catalogue.programmes
         for role, districts in (("programme", p.districts), ("comparison", p.comparison_districts))
         for ags in districts],
        columns=["programme_id", "role", "district_ags", "start", "end"])
    long_columns = ["programme_id", "role", "district_ags", "wave", "group", "item", "score"]
    if members.empty:
        return pd.DataFrame(columns=long_columns)
    con.register("_impact_members", members)
    try:
        frame = con.execute(f"""
            SELECT m.programme_id, m.role, s.district_ags, s.wave, s."group",
                   {", ".join(f's."{i}"' for i in items)}
            FROM cur_survey s JOIN _impact_members m
              ON s.district_ags = m.district_ags
             AND s.date BETWEEN CAST(m.start AS DATE) AND CAST(m."end" AS DATE)
            WHERE s.wave IN ('baseline', 'follow_up') AND s."group" IS NOT NULL
            ORDER BY ALL""").df()   # a fixed order: sums, and so the last digits, do not vary between runs
    finally:
        con.unregister("_impact_members")
    for column in long_columns[:5]:   # categories: the long format repeats every label once per item
        frame[column] = frame[column].astype(str).astype("category")
    long = frame.melt(id_vars=long_columns[:5], value_vars=list(items), var_name="item", value_name="score")
    long = long[long["score"].notna()]   # unanswered items are excluded per item
    long = long.assign(score=long["score"].astype(float), item=long["item"].astype("category"))
    return long[long_columns].reset_index(drop=True)


def _codes(values: pd.Series, extra=()) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a column numbered in label order (sorting codes sorts labels), and the
    labels; `extra` labels get codes too."""
    codes, labels = pd.factorize(values, sort=True)
    labels = np.asarray(labels, dtype=object)
    if not extra:
        return codes, labels
    merged = np.array(sorted({*labels, *extra}), dtype=object)
    return np.searchsorted(merged, labels)[codes], merged


def _cell_stats(long: pd.DataFrame) -> pd.DataFrame:
    """n, mean, variance per programme × role × district (and pool) × group (and ALL) × item × wave,
    in label order. Each cell's responses are aggregated in their order in `long` by pandas'
    compensated mean and variance, grouped on one integer key per cell."""
    keys = ["programme_id", "role", "district_ags", "group", "item", "wave"]
    extra = {"district_ags": tuple(POOL.values()), "group": (ALL,)}
    coded = {key: _codes(long[key], extra.get(key, ())) for key in keys}
    codes = {key: code for key, (code, _) in coded.items()}
    labels = {key: label for key, (_, label) in coded.items()}
    shape = tuple(len(labels[key]) for key in keys)
    pool = np.searchsorted(labels["district_ags"], [POOL[role] for role in labels["role"]])
    score = long["score"].to_numpy(dtype=float)
    parts = []
    for pooled, all_groups in itertools.product((False, True), repeat=2):
        variant = dict(codes)
        if pooled:
            variant["district_ags"] = pool[codes["role"]]
        if all_groups:
            variant["group"] = np.full(len(long), int(np.searchsorted(labels["group"], ALL)))
        cell = np.ravel_multi_index([variant[key] for key in keys], shape)
        parts.append(pd.Series(score).groupby(cell).agg(n="count", mean="mean", var="var"))
    stats_ = pd.concat(parts).sort_index()
    cells = pd.DataFrame({key: labels[key][code].astype(str)
                          for key, code in zip(keys, np.unravel_index(stats_.index.to_numpy(), shape))})
    for column in ("n", "mean", "var"):
        cells[column] = stats_[column].to_numpy()
    return cells


@dataclass(frozen=True)
class _DistrictCells:
    """Per programme × item × group (and ALL) × district × wave: n, sum, min and max of the scores,
    dense arrays indexed by label codes (districts in label order): all a DiD row needs."""
    programmes: dict
    items: dict
    groups: dict
    districts: dict
    n: np.ndarray
    total: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, long: pd.DataFrame, groups) -> "_DistrictCells":
        (programme, programmes), (item, items), (district, districts) = (
            _codes(long[key]) for key in ("programme_id", "item", "district_ags"))
        group = pd.Categorical(long["group"], categories=list(groups)).codes.astype(np.intp) + 1   # 0: ALL only
        shape = (len(programmes), len(items), len(groups) + 1, len(districts), len(WAVES))
        base = np.ravel_multi_index((programme, item, np.zeros_like(group), district,
                                     (long["wave"] == WAVES[1]).to_numpy(dtype=np.intp)), shape)
        own = group > 0
        stride = shape[3] * shape[4]
        index = np.concatenate([base, (base + group * stride)[own]])     # every response in ALL and in its group
        score = long["score"].to_numpy(dtype=float)
        score = np.concatenate([score, score[own]])
        size = math.prod(shape)
        low, high = np.full(size, np.inf), np.full(size, -np.inf)
        np.minimum.at(low, index, score)
        np.maximum.at(high, index, score)
        return cls({p: i for i, p in enumerate(programmes)}, {it: i for i, it in enumerate(items)},
                   {g: i for i, g in enumerate((ALL, *groups))}, {d: i for i, d in enumerate(districts)},
                   np.bincount(index, minlength=size).reshape(shape),
                   np.bincount(index, weights=score, minlength=size).reshape(shape),
                   low.reshape(shape), high.reshape(shape))

    def treated(self, programme) -> np.ndarray:
        mask = np.zeros(len(self.districts), dtype=bool)
        mask[[self.districts[d] for d in programme.districts if d in self.districts]] = True
        return mask

    def clusters(self, programme, treated: np.ndarray, item: str, group: str, scope: str):
        """The responses of one DiD row by district: (counts per side and wave, _Cells of the
        districts with both waves), or None when the row has no programme-district response.
        treated: self.treated(programme)."""
        at = (self.programmes[programme.id], self.items[item], self.groups[group])
        n = self.n[at]
        chosen = n.sum(axis=1) > 0
        if scope != ALL:
            chosen &= ~treated
            if scope in self.districts:
                chosen[self.districts[scope]] = n[self.districts[scope]].sum() > 0
        mine, theirs = chosen & treated, chosen & ~treated
        if not mine.any():
            return None
        counts = {"n_baseline": int(n[mine, 0].sum()), "n_follow_up": int(n[mine, 1].sum()),
                  "n_comparison_baseline": int(n[theirs, 0].sum()), "n_comparison_follow_up": int(n[theirs, 1].sum())}
        keep = chosen & (n[:, 0] > 0) & (n[:, 1] > 0)
        total = self.total[at][keep]
        cells = _Cells(n[keep, 0].astype(float), n[keep, 1].astype(float), total[:, 0], total[:, 1], treated[keep],
                       float(self.low[at][keep].min(initial=np.inf)), float(self.high[at][keep].max(initial=-np.inf)))
        return counts, cells


# -- honesty: small cells never published, nor derivable ------------------------------------------

def _null_space(matrix: np.ndarray, width: int) -> np.ndarray:
    """Columns spanning {x : matrix·x = 0}: a combination t·x of the unknowns is determined by
    the published figures exactly when t is orthogonal to all of them."""
    if not len(matrix):
        return np.eye(width)
    _, singular, vh = np.linalg.svd(matrix)
    rank = int((singular > 1e-9 * max(1.0, singular.max(initial=0.0))).sum())
    return vh[rank:].T


def _protect(entries: dict, districts: list[str], pool: str, groups: list[str], min_cell: int) -> set:
    """Secondary suppression for one programme × item × role table (districts × groups, with the
    pool row and the ALL column as margins). entries: (district, group) -> {"n": {wave: n},
    "suppressed": bool}. Returns the entries to withhold in addition. Every margin equation
    (row total = sum of its groups; pool = sum of its districts) is known for published entries;
    an unpublished entry whose n is > 0 is an unknown. No unknown with 0 < n < min_cell — and no
    line's sum of unknown cells with 0 < n < min_cell — may be determined by the equations
    (an exact audit: one SVD of the equations per change)."""
    rows, cols = [*districts, pool], [*groups, ALL]
    lines = [([(r, g) for g in groups], (r, ALL)) for r in rows]
    lines += [([(d, c) for d in districts], (pool, c)) for c in cols]
    added: set = set()

    def n(key, wave):
        return entries[key]["n"][wave] if key in entries else 0

    def hidden(key):
        return key in entries and (entries[key]["suppressed"] or key in added)

    def first_derivable(wave):
        unknown = [key for key in entries if hidden(key) and n(key, wave) > 0]
        position = {key: i for i, key in enumerate(unknown)}
        matrix = []
        for cells, total in lines:
            row = np.zeros(len(unknown))
            for key in cells:
                if key in position:
                    row[position[key]] = 1.0
            if total in position:
                row[position[total]] = -1.0
            if row.any():
                matrix.append(row)
        null = _null_space(np.array(matrix), len(unknown))
        targets = [[key] for key in unknown if n(key, wave) < min_cell]
        for cells, _ in lines:
            group = [key for key in cells if key in position]
            if len(group) > 1 and 0 < sum(n(key, wave) for key in group) < min_cell:
                targets.append(group)
        for target in targets:
            vector = np.zeros(len(unknown))
            vector[[position[key] for key in target]] = 1.0
            if np.abs(vector @ null).max(initial=0.0) < 1e-9:
                return target
        return None

    for wave in itertools.cycle(WAVES):
        target = first_derivable(wave)
        if target is None:
            other = WAVES[1 - WAVES.index(wave)]
            if first_derivable(other) is None:
                return added
            continue
        extra = _complement(target, wave, lines, rows, cols, n, hidden, entries)
        if not extra:   # last resort, not reached in a two-way table: withhold the rest
            extra = {key for key in entries if not hidden(key) and n(key, wave) > 0}
        if not extra:
            raise RuntimeError(f"cannot protect {target}")   # a derivable cell with everything hidden: impossible
        added.update(extra)


def _complement(target, wave, lines, rows, cols, n, hidden, entries) -> set:
    """What to withhold next so that `target` is no longer derivable. For one cell (r, c): the
    cheapest rectangle (r, c'), (r', c), (r', c') — the classic pattern that leaves a cell
    underdetermined in a two-way table with margins — counting the persons newly hidden. Else (or
    for a combination of cells) the smallest published entry of a line through the target."""
    def usable(key):
        return key in entries and n(key, wave) > 0

    def cost(key):
        return 0 if hidden(key) else sum(n(key, w) for w in WAVES)

    if len(target) == 1:
        r, c = target[0]
        best = None
        for r2, c2 in itertools.product(rows, cols):
            corners = [(r, c2), (r2, c), (r2, c2)]
            if r2 == r or c2 == c or not all(usable(k) for k in corners):
                continue
            rank = (sum(cost(k) for k in corners), rows.index(r2), cols.index(c2))
            if not all(hidden(k) for k in corners) and (best is None or rank < best[0]):
                best = (rank, corners)
        if best is not None:
            return {k for k in best[1] if not hidden(k)}
    candidates = [key for cells, total in lines if set(target) & {*cells, total}
                  for key in [*cells, total] if usable(key) and not hidden(key)]
    if not candidates:
        return set()
    return {min(candidates, key=lambda key: (n(key, wave), cost(key), rows.index(key[0]), cols.index(key[1])))}


# -- the table ------------------------------------------------------------------------------------

def _row_seed(seed: int, *key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32("|".join(key).encode("utf-8"))])


def _note(reasons: list[str], lang: int, **values) -> str:
    return " ".join(NOTES[r][lang].format(**values) for r in reasons)


def _pre_post_rows(cells: pd.DataFrame, catalogue, groups, min_cell, indicative_below) -> list[dict]:
    name = functools.cache(catalogue.district_name)   # a pandas lookup each: thousands of rows
    stats_by = {}
    for rec in cells.itertuples(index=False):
        stats_by.setdefault((rec.programme_id, rec.role, rec.district_ags, rec.group, rec.item), {})[rec.wave] = rec
    rows = []
    for (programme_id, role, district, group, item), waves in stats_by.items():
        b, f = waves.get("baseline"), waves.get("follow_up")
        n_b, n_f = (int(b.n) if b else 0), (int(f.n) if f else 0)
        row = {"programme_id": programme_id, "method": "pre_post", "item": item, "district_ags": district,
               "district_name": POOL_NAME.get(district) or name(district), "role": role,
               "group": group, "n_baseline": n_b, "n_follow_up": n_f, "inference": "welch",
               "_reasons": [], "_stats": (b, f)}
        if min(n_b, n_f) < min_cell:
            row["_reasons"].append("suppressed")
        rows.append(row)
    # secondary suppression, per programme × item × role table
    by_table: dict = {}
    for row in rows:
        by_table.setdefault((row["programme_id"], row["item"], row["role"]), []).append(row)
    for (programme_id, _, role), table in by_table.items():
        programme = catalogue.programme(programme_id)
        districts = list(programme.districts if role == "programme" else programme.comparison_districts)
        entries = {(r["district_ags"], r["group"]): {"n": {"baseline": r["n_baseline"], "follow_up": r["n_follow_up"]},
                                                     "suppressed": bool(r["_reasons"])} for r in table}
        extra = _protect(entries, districts, POOL[role], list(groups), min_cell)
        for r in table:
            if (r["district_ags"], r["group"]) in extra:
                r["_reasons"].append("secondary")
    published = [row for row in rows if not row["_reasons"]]
    stats_ = [row.pop("_stats") for row in rows]
    if published:
        b = [row_stats[0] for row, row_stats in zip(rows, stats_) if not row["_reasons"]]
        f = [row_stats[1] for row, row_stats in zip(rows, stats_) if not row["_reasons"]]
        n_b, n_f = [r["n_baseline"] for r in published], [r["n_follow_up"] for r in published]
        m_b, v_b = [c.mean for c in b], [c.var for c in b]
        m_f, v_f = [c.mean for c in f], [c.var for c in f]
        change = zip(*_welch(n_b, m_b, v_b, n_f, m_f, v_f))
        before, after = zip(*_t_intervals(n_b, m_b, v_b)), zip(*_t_intervals(n_f, m_f, v_f))
        for row, (est, se, lo, hi, p), (b_lo, b_hi), (f_lo, f_hi), mb, mf in zip(published, change, before, after,
                                                                               m_b, m_f):
            row.update(estimate=float(est), se=float(se), ci_low=float(lo), ci_high=float(hi), p_value=float(p),
                       mean_baseline=float(mb), mean_baseline_ci_low=float(b_lo), mean_baseline_ci_high=float(b_hi),
                       mean_follow_up=float(mf), mean_follow_up_ci_low=float(f_lo),
                       mean_follow_up_ci_high=float(f_hi))
            if min(row["n_baseline"], row["n_follow_up"]) < indicative_below:
                row["_reasons"].append("indicative")
    return rows


def _did_rows(long: pd.DataFrame, pre_post: list[dict], catalogue, groups, *, bootstrap_reps, seed,
              min_cell, indicative_below) -> list[dict]:
    published = {(r["programme_id"], r["item"], r["district_ags"], r["group"]): r for r in pre_post}
    cells = _DistrictCells.of(long, groups)
    name = functools.cache(catalogue.district_name)
    rows, pending = [], []
    for programme in catalogue.programmes:
        if not programme.comparison_districts or programme.id not in cells.programmes:
            continue
        items = [item for item in cells.items if cells.n[cells.programmes[programme.id], cells.items[item]].any()]
        treated = cells.treated(programme)
        scopes = [ALL] + (list(programme.districts) if len(programme.districts) > 1 else [])
        for item, group, scope in itertools.product(items, (ALL, *groups), scopes):
            found = cells.clusters(programme, treated, item, group, scope)
            if found is None:
                continue
            counts, clusters = found
            row = {"programme_id": programme.id, "method": "did", "item": item, "district_ags": scope,
                   "district_name": POOL_NAME.get(scope) or name(scope), "role": "programme",
                   "group": group, **counts, "_reasons": [],
                   "inference": "wild_cluster_bootstrap_wcr_webb"}
            rows.append(row)
            if min(counts.values()) < min_cell:
                row["_reasons"].append("suppressed")
                continue
            sides = [published.get((programme.id, item, scope, group)),
                     published.get((programme.id, item, ALL_COMPARISON, group))]
            if any(side is None or {"suppressed", "secondary"} & set(side["_reasons"]) for side in sides):
                row["_reasons"].append("inherited")
                continue
            rng = functools.partial(_row_seed, seed, programme.id, scope, item, group)
            pending.append((row, sides, (clusters, rng)))
    results = _solve([problem for _, _, problem in pending], bootstrap_reps)
    for (row, (mine, theirs), _), result in zip(pending, results):
        _did_result(row, result, mine, theirs, indicative_below)
    return rows


def _did_result(row: dict, result: DidResult, mine: dict, theirs: dict, indicative_below) -> None:
    row.update(clusters_programme=result.clusters_treated, clusters_comparison=result.clusters_control)
    if math.isnan(result.estimate):
        row["_reasons"].append("not_estimable")
        return
    # No `se` here: the cluster-robust standard error is only the bootstrap's studentising
    # device; with one treated district it is far too small and would mislead on its own.
    row.update(estimate=result.estimate, p_value=result.p_value,
               ci_low=result.ci_low, ci_high=result.ci_high, bootstrap_reps=result.reps,
               mean_baseline=mine["mean_baseline"], mean_follow_up=mine["mean_follow_up"],
               mean_comparison_baseline=theirs["mean_baseline"],
               mean_comparison_follow_up=theirs["mean_follow_up"])
    if result.enumerated:
        row["inference"] += "_enumerated"
    if min(row[k] for k in ("n_baseline", "n_follow_up", "n_comparison_baseline", "n_comparison_follow_up")) \
            < indicative_below:
        row["_reasons"].append("indicative")
    if result.clusters_treated < 2:
        row["_reasons"].append("one_programme")
    if result.clusters_control < 2:
        row["_reasons"].append("one_comparison")
    if math.isinf(result.ci_low) or math.isinf(result.ci_high):
        row["_reasons"].append("unbounded")


def _finish(rows: list[dict], items, groups, min_cell, indicative_below) -> pd.DataFrame:
    withheld = {"suppressed", "secondary", "inherited", "not_estimable"}
    flags = {"indicative", "one_programme", "one_comparison", "unbounded"}
    for row in rows:
        reasons = row.pop("_reasons")
        row["suppressed"] = bool(withheld & set(reasons))
        row["indicative"] = bool(flags & set(reasons))
        row["note_de"] = _note(reasons, 0, min_cell=min_cell, indicative_below=indicative_below)
        row["note_en"] = _note(reasons, 1, min_cell=min_cell, indicative_below=indicative_below)
        if row["suppressed"]:   # never computed, never published
            for column in NUMBERS:
                row[column] = math.nan
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in NUMBERS:
        frame[column] = frame[column].astype(float)
    for column in COUNTS:
        frame[column] = frame[column].astype("Int64")
    for column in ("indicative", "suppressed"):
        frame[column] = frame[column].astype(bool)
    for column in ("programme_id", "method", "item", "district_ags", "district_name", "role", "group",
                   "inference", "note_de", "note_en"):
        frame[column] = frame[column].fillna("").astype(str)
    return sort_impact(frame, items, groups)


def sort_impact(frame: pd.DataFrame, items=None, groups=None) -> pd.DataFrame:
    """Deterministic order: programme, method (did first), item (survey order), role, district
    (pool first), group (ALL first)."""
    items = list(items or survey_items())
    groups = [ALL, *(groups or survey_groups())]
    key = pd.DataFrame({
        "p": frame["programme_id"],
        "m": frame["method"].map({"did": 0, "pre_post": 1}),
        "i": frame["item"].map(lambda v: items.index(v) if v in items else len(items)),
        "r": frame["role"].map({"programme": 0, "comparison": 1}),
        "d0": ~frame["district_ags"].isin([ALL, ALL_COMPARISON]),
        "d": frame["district_ags"],
        "g": frame["group"].map(lambda v: groups.index(v) if v in groups else len(groups)),
    })
    order = key.sort_values(list(key.columns), kind="mergesort").index
    return frame.loc[order].reset_index(drop=True)


def estimate_impact(con, catalogue, *, bootstrap_reps: int = 999, seed: int = 20240601, min_cell: int = MIN_CELL,
                    indicative_below: int = INDICATIVE_BELOW, items=None) -> pd.DataFrame:
    """Pre/post and difference-in-differences estimates for every programme with survey
    responses; one row per programme × method × item × district (or pool) × group. Reads
    `cur_survey`. Deterministic for a given seed. Raises ValueError for anything that is not a
    survey score item (output counts never get an impact)."""
    items = _check_items(items)
    groups = survey_groups()
    long = load_responses(con, catalogue, items)
    if long.empty:
        return _finish([], items, groups, min_cell, indicative_below)
    pre_post = _pre_post_rows(_cell_stats(long), catalogue, groups, min_cell, indicative_below)
    did = _did_rows(long, pre_post, catalogue, groups, bootstrap_reps=bootstrap_reps, seed=seed,
                    min_cell=min_cell, indicative_below=indicative_below)
    frame = _finish(pre_post + did, items, groups, min_cell, indicative_below)
    if not set(frame["item"]) <= set(survey_items()):   # belt and braces: only survey items, ever
        raise ValueError("impact rows for a non-survey item")
    return frame


def write_impact_table(con, frame: pd.DataFrame) -> None:
    """CREATE OR REPLACE the warehouse table (NaN become NULL)."""
    con.register("_impact_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM _impact_frame")
    finally:
        con.unregister("_impact_frame")


def write_impact_export(frame: pd.DataFrame, exports_dir: Path | str) -> Path:
    """exports/impact.csv: sorted, numbers rounded to 4 decimals, byte-identical for the same data."""
    path = Path(exports_dir) / EXPORT_NAME
    out = sort_impact(frame.reindex(columns=list(COLUMNS)))
    for column in NUMBERS:
        out[column] = out[column].astype(float).round(4)
    write_csv(out, path)
    return path


# -- plain-language reading -----------------------------------------------------------------------

ITEM_LABEL = {"belonging": ("Zugehörigkeit", "sense of belonging"),
              "participation": ("Teilhabe", "participation"),
              "information_access": ("Informationszugang", "access to information"),
              "contacts": ("Kontakte", "contacts")}
GROUP_LABEL = {ALL: ("alle Befragten", "all respondents"), "newcomer": ("Zugewanderte", "newcomers"),
               "resident": ("Einheimische", "residents"), "volunteer": ("Ehrenamtliche", "volunteers")}
SCOPE_LABEL = {ALL: ("Alle Programmkreise", "All programme districts"),
               ALL_COMPARISON: ("Alle Vergleichskreise", "All comparison districts")}


def _num(value: float, lang: str, signed: bool = False) -> str:
    text = f"{value:+.2f}" if signed else f"{value:.2f}"
    if lang == "de":
        text = text.replace("-", "−").replace(".", ",")
    return text


def _p(value: float, lang: str) -> str:
    if value < 0.001:
        return "p < 0,001" if lang == "de" else "p < 0.001"
    text = f"p = {value:.3f}"
    return text.replace(".", ",") if lang == "de" else text


def _bound(value: float, lang: str) -> str:
    if math.isinf(value):
        return ("−∞" if lang == "de" else "-∞") if value < 0 else "+∞"
    return _num(value, lang)


def impact_reading(row: Mapping, lang: str = "de") -> str:
    """One estimate and its limits as a plain-language sentence (German with decimal comma, or
    English). Covers a finding, a null result, indicative and suppressed rows."""
    de = lang == "de"
    i = 0 if de else 1
    get = row.get if hasattr(row, "get") else (lambda key, default=None: row[key])
    item = ITEM_LABEL.get(get("item"), (get("item"), get("item")))[i]
    group = GROUP_LABEL.get(get("group"), (get("group"), get("group")))[i]
    district = get("district_ags")
    scope = SCOPE_LABEL[district][i] if district in SCOPE_LABEL else (get("district_name") or district)
    head = f"{scope}, {item} ({group})"
    note = get(f"note_{'de' if de else 'en'}") or ""
    if bool(get("suppressed")):
        return (f"{head}: nicht veröffentlicht. {note}" if de else f"{head}: not published. {note}").strip()

    est, lo, hi, p = (float(get(k)) for k in ("estimate", "ci_low", "ci_high", "p_value"))
    if math.isinf(lo) and math.isinf(hi):
        interval = ("kein begrenztes 95-%-Intervall: die Daten reichen dafür nicht" if de
                    else "no bounded 95 % interval: the data are not enough for one")
    else:
        interval = (f"95-%-Intervall {_bound(lo, 'de')} bis {_bound(hi, 'de')}" if de
                    else f"95 % interval {_bound(lo, 'en')} to {_bound(hi, 'en')}")
    excludes_zero = lo > 0 or hi < 0
    if get("method") == "did":
        if est > 0:
            direction = (f"um {_num(est, 'de')} Punkte günstiger" if de
                         else f"{_num(est, 'en')} points more favourably")
        elif est < 0:
            direction = (f"um {_num(-est, 'de')} Punkte ungünstiger" if de
                         else f"{_num(-est, 'en')} points less favourably")
        else:
            direction = "genauso" if de else "just the same"
        mb, mf = _num(float(get("mean_baseline")), lang), _num(float(get("mean_follow_up")), lang)
        cb, cf = _num(float(get("mean_comparison_baseline")), lang), _num(float(get("mean_comparison_follow_up")), lang)
        gp, gc = int(get("clusters_programme")), int(get("clusters_comparison"))
        if de:
            text = (f"{head}: Der Mittelwert (Skala 1–5) ging von {mb} auf {mf}, in den Vergleichskreisen von "
                    f"{cb} auf {cf}. Er entwickelte sich damit {direction} als in den Vergleichskreisen "
                    f"({interval}; {_p(p, 'de')}). ")
            text += ("Das Intervall schließt null aus: Der Unterschied ist statistisch belegt. " if excludes_zero else
                     "Das Intervall schließt null ein: Ein Unterschied ist nicht belegt – das heißt nicht, dass "
                     "das Programm nicht gewirkt hat, nur dass diese Daten es nicht zeigen können. ")
            text += (f"Mit nur {gp + gc} Kreisen ({gp} Programm-, {gc} Vergleichskreise) ist die Unsicherheit "
                     "groß, und auch ihre Schätzung ist unsicher. " if gp + gc < 20 else "")
            text += ("Die Schätzung setzt voraus, dass sich beide Kreisgruppen ohne das Programm gleich entwickelt "
                     "hätten; je Welle antworten andere Personen, und wer antwortet, wählt sich selbst aus.")
        else:
            text = (f"{head}: the mean (scale 1–5) went from {mb} to {mf}, in the comparison districts from "
                    f"{cb} to {cf}. It thus developed {direction} than in the comparison districts "
                    f"({interval}; {_p(p, 'en')}). ")
            text += ("The interval excludes zero: the difference is statistically supported. " if excludes_zero else
                     "The interval includes zero: a difference is not shown – which does not mean the programme "
                     "had no effect, only that these data cannot show one. ")
            text += (f"With only {gp + gc} districts ({gp} programme, {gc} comparison) the uncertainty is large, "
                     "and its own estimate is uncertain too. " if gp + gc < 20 else "")
            text += ("The estimate assumes both groups of districts would have developed alike without the "
                     "programme; different people answer in each wave, and respondents select themselves.")
    else:
        mb, mf = _num(float(get("mean_baseline")), lang), _num(float(get("mean_follow_up")), lang)
        nb, nf = int(get("n_baseline")), int(get("n_follow_up"))
        if de:
            text = (f"{head}: vorher {mb} (n = {nb}), nachher {mf} (n = {nf}) auf der Skala 1–5; Veränderung "
                    f"{_num(est, 'de', signed=True)} Punkte ({interval}). ")
            text += ("Das Intervall schließt null aus. " if excludes_zero else
                     "Das Intervall schließt null ein: Eine Veränderung ist nicht belegt. ")
            text += ("Ein Vorher-nachher-Vergleich zeigt Veränderung, nicht Wirkung: Ob sie auch ohne das "
                     "Programm eingetreten wäre, sagt erst der Vergleich mit den Vergleichskreisen; je Welle "
                     "antworten andere Personen.")
        else:
            text = (f"{head}: before {mb} (n = {nb}), after {mf} (n = {nf}) on the 1–5 scale; change "
                    f"{_num(est, 'en', signed=True)} points ({interval}). ")
            text += ("The interval excludes zero. " if excludes_zero else
                     "The interval includes zero: a change is not shown. ")
            text += ("A before/after comparison shows change, not impact: whether it would have happened "
                     "without the programme only the comparison districts can tell; different people answer "
                     "in each wave.")
    if bool(get("indicative")) and note:
        text += (" Hinweis: " if de else " Note: ") + note
    return text
