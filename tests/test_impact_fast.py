"""The fast DiD path (per-district sums, batched lockstep test inversion, settled samples) gives
the same numbers as the straightforward computation it replaces."""
import math

import numpy as np
import pytest

from pipeline.impact.estimator import (_Batch, _cells_from_rows, _fit, _replicates, _WildClusterBootstrap,
                                       did_wild_bootstrap, solve, webb_weights)


def _design(seed, treated=4, control=3, integer=True):
    rng = np.random.default_rng(seed)
    y, cluster, is_treated, post = [], [], [], []
    for g in range(treated + control):
        for wave in (0, 1):
            n = int(rng.integers(5, 40))
            values = 3 + rng.normal(0, 0.3) + 0.2 * wave + 0.3 * (g < treated) * wave + rng.normal(0, 1, n)
            y.append(np.clip(np.round(values), 1, 5) if integer else values)
            cluster += [g] * n
            is_treated += [g < treated] * n
            post += [wave == 1] * n
    return np.concatenate(y), np.array(cluster), np.array(is_treated), np.array(post)


def _plain_bound(boot: _WildClusterBootstrap, direction: int, limit: float, alpha=0.05) -> float:
    """The test inversion as first written: one p-value at a time, every bootstrap sample."""
    step = boot.se
    inside, outside = boot.estimate, None
    while abs(inside) < limit:
        candidate = boot.estimate + direction * step
        if abs(candidate) >= limit:
            candidate = direction * limit
        if boot.p_value(candidate) < alpha:
            outside = candidate
            break
        inside, step = candidate, step * 2
    if outside is None:
        return direction * math.inf
    for _ in range(200):
        middle = (inside + outside) / 2
        if abs(outside - inside) <= 1e-10 * max(1.0, abs(middle)):
            break
        if boot.p_value(middle) < alpha:
            outside = middle
        else:
            inside = middle
    return (inside + outside) / 2


@pytest.mark.parametrize("seed", range(12))
def test_interval_equals_plain_bisection(seed):
    """Settling samples whose verdict cannot change only skips work: every bisection step, and so
    the interval, is bit for bit that of evaluating all samples at every step."""
    integer = seed % 2 == 0
    y, cluster, treated, post = _design(seed, treated=1 + seed % 5, control=2 + seed % 3, integer=integer)
    result = did_wild_bootstrap(y, cluster, treated, post, reps=199, seed=seed)
    weights, _ = webb_weights(len(np.unique(cluster)), 199, np.random.default_rng(seed))
    boot = _WildClusterBootstrap(y, cluster, post.astype(float), (treated & post).astype(float), weights)
    limit = max(2 * float(y.max() - y.min()), abs(boot.estimate) + boot.se, 1e-9)
    assert result.ci_low == _plain_bound(boot, -1, limit)
    assert result.ci_high == _plain_bound(boot, +1, limit)
    assert result.p_value == boot.p_value(0.0)


def test_per_district_sums_equal_the_response_level_regression():
    """δ and its CR1 standard error from per-district counts and sums equal the residualised
    response-level computation (the dummy regression itself: tests/test_impact.py)."""
    y, cluster, treated, post = _design(3, integer=False)
    fit = _fit(_cells_from_rows(y, cluster, post, treated))
    n_clusters = cluster.max() + 1
    sizes = np.bincount(cluster)

    def demean(values):
        return values - (np.bincount(cluster, weights=values) / sizes)[cluster]

    p_dm = demean(post.astype(float))

    def residualise(values):
        values = demean(values)
        return values - p_dm * (p_dm @ values) / (p_dm @ p_dm)

    y_t, d_t = residualise(y), residualise((treated & post).astype(float))
    estimate = (d_t @ y_t) / (d_t @ d_t)
    scores = np.bincount(cluster, weights=d_t * (y_t - estimate * d_t))
    c = n_clusters / (n_clusters - 1) * (len(y) - 1) / (len(y) - n_clusters - 2)
    assert fit.estimate == pytest.approx(estimate, rel=1e-12)
    assert fit.se == pytest.approx(math.sqrt(c * scores @ scores) / (d_t @ d_t), rel=1e-12)


def test_a_batch_equals_its_problems_one_by_one():
    """Rows are solved in batches and on threads; each row's result is that of solving it alone."""
    problems = []
    for seed in range(7):
        y, cluster, treated, post = _design(seed, treated=1 + seed % 3, control=3)
        problems.append((_cells_from_rows(y, cluster, post, treated), seed))
    together = solve([(cells, lambda s=seed: np.random.default_rng(s)) for cells, seed in problems], 99)
    for (cells, seed), result in zip(problems, together):
        alone = solve([(cells, lambda s=seed: np.random.default_rng(s))], 99)[0]
        assert result == alone


def test_settled_samples_keep_their_verdict():
    """Every sample _Batch counts as certain over a bracket has that verdict at points across it."""
    from pipeline.impact.estimator import _hits, _settle
    y, cluster, treated, post = _design(11, treated=3, control=4)
    fit = _fit(_cells_from_rows(y, cluster, post, treated))
    weights, _ = webb_weights(7, 999, np.random.default_rng(11))
    batch = _Batch([fit], *_replicates([fit], [weights]))
    arrays = [a[0] for a in batch.arrays]
    for low, high in ((fit.estimate, fit.estimate + fit.se), (fit.estimate + fit.se, fit.estimate + 3 * fit.se),
                      (fit.estimate - 0.1 * fit.se, fit.estimate - 0.05 * fit.se)):
        sure, hit = _settle(*arrays, fit.c, fit.se, fit.estimate, (low + high) / 2, (high - low) / 2)
        assert sure.any()
        for point in np.linspace(low, high, 9):
            verdict = _hits(*arrays, fit.c, fit.estimate, fit.se, point)
            assert (verdict[sure] == hit[sure]).all()


def test_t_distribution_from_scipy_special_equals_scipy_stats():
    # pipeline.impact.welch takes t quantiles and tails from scipy.special (scipy.stats costs a second to
    # import); they must be exactly scipy.stats.t's, corner cases included.
    from scipy import stats

    from pipeline.impact.welch import t_ppf, t_sf

    rng = np.random.default_rng(7)
    df = np.concatenate([rng.uniform(-2, 300, 5000), [np.nan, np.inf, 0, -1, 1e-9, 1, 2, 1e12]])
    x = np.concatenate([rng.normal(0, 5, 5000), [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300, -1e-300, 3]])
    assert np.array_equal(t_ppf(0.975, df), stats.t.ppf(0.975, df), equal_nan=True)
    assert np.array_equal(t_sf(x, df), stats.t.sf(x, df), equal_nan=True)
    assert np.array_equal(t_sf(np.abs(x), 4.0), stats.t.sf(np.abs(x), 4.0), equal_nan=True)
    assert t_ppf(0.975, np.array([9.0]))[0] == pytest.approx(2.262157, abs=1e-6)  # the table value
