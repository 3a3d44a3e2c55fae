"""The difference-in-differences estimator with the restricted wild cluster bootstrap.

The point estimate is the OLS coefficient δ of the individual-level two-way model

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
"""
from __future__ import annotations

import concurrent.futures
import functools
import itertools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

ALPHA = 0.05
WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])


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
class Cells:
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


def _cells_from_rows(y, cluster, post, treated, keep=None) -> Cells:
    n_clusters = int(cluster.max()) + 1

    def total(values):
        return np.bincount(cluster, weights=values, minlength=n_clusters)

    pre = ~post
    n0, n1 = total(pre.astype(float)), total(post.astype(float))
    keep = (n0 > 0) & (n1 > 0) if keep is None else keep
    rows = keep[cluster]
    return Cells(n0[keep], n1[keep], total(np.where(pre, y, 0.0))[keep], total(np.where(post, y, 0.0))[keep],
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


def _fit(cells: Cells) -> _Fit:
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


def solve(problems: list[tuple[Cells, Callable[[], np.random.Generator]]], reps: int,
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
    problems in solve.
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
    return solve([(cells, lambda: rng)], reps, alpha)[0]

