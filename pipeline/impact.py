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
      wild" algebra); no loop over replications or rows.

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

import functools
import itertools
import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

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
    Everything is a per-district sum (O(N)), and the B replications are O(B·G) matrix algebra.
    a and Q are linear in δ₀, so t*(δ₀) = (A0 − δ₀A1) / sqrt(c · (s00 − 2δ₀ s01 + δ₀² s11)).
    """

    def __init__(self, y, cluster, post, d, weights):
        n_clusters = int(cluster.max()) + 1
        sizes = np.bincount(cluster, minlength=n_clusters)

        def total(values):
            return np.bincount(cluster, weights=values, minlength=n_clusters)

        def demean(values):
            return values - (total(values) / sizes)[cluster]

        p_dm = demean(post)
        pp = float(p_dm @ p_dm)

        def residualise(values):   # M_Z: district fixed effects and the follow-up dummy
            values = demean(values)
            return values - p_dm * (float(p_dm @ values) / pp)

        y_t, d_t = residualise(y), residualise(d)
        self.s = float(d_t @ d_t)
        self.estimate = float(d_t @ y_t) / self.s
        u_hat = y_t - self.estimate * d_t
        n, k = len(y), n_clusters + 2
        self.c = n_clusters / (n_clusters - 1) * (n - 1) / (n - k)
        scores = total(d_t * u_hat)
        self.se = math.sqrt(self.c * float(scores @ scores)) / self.s

        a0, a1 = total(d_t * y_t), total(d_t * d_t)          # a(δ₀) = a0 − δ₀·a1
        alpha = total(d_t * p_dm)
        beta0, beta1 = total(p_dm * y_t) / pp, total(p_dm * d_t) / pp
        v = weights
        vq0 = np.outer(v @ beta0, alpha) + np.outer(v @ a0 / self.s, a1)   # (V Q0')
        vq1 = np.outer(v @ beta1, alpha) + np.outer(v @ a1 / self.s, a1)   # (V Q1')
        e0 = v * a0 - vq0                                    # B × G scores at δ₀ = 0 ...
        e1 = v * a1 - vq1                                    # ... and their slope in δ₀
        self.num0, self.num1 = v @ a0, v @ a1
        self.s00 = np.einsum("bg,bg->b", e0, e0)
        self.s01 = np.einsum("bg,bg->b", e0, e1)
        self.s11 = np.einsum("bg,bg->b", e1, e1)

    def p_value(self, delta0: float) -> float:
        num = self.num0 - delta0 * self.num1
        ss = np.maximum(self.s00 - 2 * delta0 * self.s01 + delta0 ** 2 * self.s11, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = np.where(ss > 0, np.abs(num) / np.sqrt(self.c * ss), np.where(num == 0, 0.0, np.inf))
        if self.se > 0:
            t_obs = abs(self.estimate - delta0) / self.se
        else:
            t_obs = 0.0 if delta0 == self.estimate else np.inf
        return float(np.mean(t_star >= t_obs * (1 - 1e-10) - 1e-12))

    def bound(self, direction: int, alpha: float, limit: float) -> float:
        """The edge of {δ₀ : p(δ₀) ≥ α} on one side of the estimate (bracketing, then bisection).
        ±inf when the test does not reject anywhere within ±limit (the logically possible range:
        with one treated district and two comparison districts the WCR cannot bound δ)."""
        step = self.se if self.se > 0 else 1e-6 * max(1.0, abs(self.estimate))
        inside, outside = self.estimate, None
        while abs(inside) < limit:
            candidate = self.estimate + direction * step
            if abs(candidate) >= limit:
                candidate = direction * limit
            if self.p_value(candidate) < alpha:
                outside = candidate
                break
            inside, step = candidate, step * 2
        if outside is None:
            return direction * math.inf
        for _ in range(200):
            middle = (inside + outside) / 2
            if abs(outside - inside) <= 1e-10 * max(1.0, abs(middle)):
                break
            if self.p_value(middle) < alpha:
                outside = middle
            else:
                inside = middle
        return (inside + outside) / 2


def did_wild_bootstrap(y, cluster, treated, post, *, reps: int = 999, rng: np.random.Generator | None = None,
                       seed: int = 20240601, alpha: float = ALPHA) -> DidResult:
    """Difference-in-differences with district fixed effects; WCR Webb bootstrap p-value for δ = 0
    and the 95 % interval by inverting the same test (see the module docstring).

    y: outcome per response; cluster: district per response; treated: the response's district is
    a programme district; post: the response is from the follow-up wave. Districts without
    responses in both waves carry no information on δ and are left out.
    """
    y = np.asarray(y, dtype=float)
    post = np.asarray(post, dtype=bool)
    treated = np.asarray(treated, dtype=bool)
    labels, cluster = np.unique(np.asarray(cluster), return_inverse=True)
    n_clusters = len(labels)
    has_pre = np.bincount(cluster, weights=(~post).astype(float), minlength=n_clusters) > 0
    has_post = np.bincount(cluster, weights=post.astype(float), minlength=n_clusters) > 0
    cluster_treated = np.bincount(cluster, weights=treated.astype(float), minlength=n_clusters) > 0
    both = has_pre & has_post
    n_treated, n_control = int((both & cluster_treated).sum()), int((both & ~cluster_treated).sum())
    if n_treated == 0 or n_control == 0:
        return DidResult(math.nan, math.nan, math.nan, math.nan, math.nan, n_treated, n_control, 0, False)
    keep = both[cluster]
    _, cluster = np.unique(cluster[keep], return_inverse=True)
    y, post, treated = y[keep], post[keep], treated[keep]
    rng = rng if rng is not None else np.random.default_rng(seed)
    weights, enumerated = webb_weights(n_treated + n_control, reps, rng)
    boot = _WildClusterBootstrap(y, cluster, post.astype(float), (treated & post).astype(float), weights)
    # A difference of four means of values in [a, b] lies within ±2(b − a): beyond that no
    # interval bound is meaningful.
    limit = max(2 * float(y.max() - y.min()), abs(boot.estimate) + boot.se, 1e-9)
    return DidResult(
        estimate=boot.estimate, se=boot.se, p_value=boot.p_value(0.0),
        ci_low=boot.bound(-1, alpha, limit), ci_high=boot.bound(+1, alpha, limit),
        clusters_treated=n_treated, clusters_control=n_control, reps=len(weights), enumerated=enumerated)


# -- pre/post: means per wave and the Welch change ------------------------------------------------

def _t_interval(n, mean, var, alpha=ALPHA):
    if n < 2:
        return math.nan, math.nan
    half = stats.t.ppf(1 - alpha / 2, n - 1) * math.sqrt(var / n)
    return mean - half, mean + half


def welch_change(n_b, m_b, v_b, n_f, m_f, v_f, alpha=ALPHA) -> tuple[float, float, float, float, float]:
    """Change follow-up − baseline of two independent samples: (estimate, se, ci_low, ci_high, p)."""
    diff = m_f - m_b
    if n_b < 2 or n_f < 2:
        return diff, math.nan, math.nan, math.nan, math.nan
    q_b, q_f = v_b / n_b, v_f / n_f
    se = math.sqrt(q_b + q_f)
    if se == 0:
        return diff, 0.0, diff, diff, (1.0 if diff == 0 else 0.0)
    df = (q_b + q_f) ** 2 / (q_b ** 2 / (n_b - 1) + q_f ** 2 / (n_f - 1))
    half = stats.t.ppf(1 - alpha / 2, df) * se
    p = 2 * stats.t.sf(abs(diff) / se, df)
    return diff, se, diff - half, diff + half, float(p)


# -- data -----------------------------------------------------------------------------------------

def load_responses(con, catalogue, items=None) -> pd.DataFrame:
    """One row per answered item per response and programme: programme_id, role, district_ags,
    response_id, wave, group, item, score. A response belongs to a programme when its district is
    a programme or comparison district of it and its date lies within the programme period."""
    items = _check_items(items)
    members = pd.DataFrame(
        [(p.id, role, ags, p.start.isoformat(), p.end.isoformat())
         for p in catalogue.programmes
         for role, districts in (("programme", p.districts), ("comparison", p.comparison_districts))
         for ags in districts],
        columns=["programme_id", "role", "district_ags", "start", "end"])
    long_columns = ["programme_id", "role", "district_ags", "response_id", "wave", "group", "item", "score"]
    if members.empty:
        return pd.DataFrame(columns=long_columns)
    con.register("_impact_members", members)
    try:
        frame = con.execute(f"""
            SELECT m.programme_id, m.role, s.district_ags, s.response_id, s.wave, s."group",
                   {", ".join(f's."{i}"' for i in items)}
            FROM cur_survey s JOIN _impact_members m
              ON s.district_ags = m.district_ags
             AND s.date BETWEEN CAST(m.start AS DATE) AND CAST(m."end" AS DATE)
            WHERE s.wave IN ('baseline', 'follow_up') AND s."group" IS NOT NULL""").df()
    finally:
        con.unregister("_impact_members")
    long = frame.melt(id_vars=long_columns[:6], value_vars=list(items), var_name="item", value_name="score")
    long = long[long["score"].notna()].copy()   # unanswered items are excluded per item
    long["score"] = long["score"].astype(float)
    for column in ("programme_id", "role", "district_ags", "response_id", "wave", "group", "item"):
        long[column] = long[column].astype(str)
    return long[long_columns].reset_index(drop=True)


def _cell_stats(long: pd.DataFrame) -> pd.DataFrame:
    """n, mean, variance per programme × role × district (and pool) × group (and ALL) × item × wave."""
    parts = []
    for pooled, all_groups in itertools.product((False, True), repeat=2):
        part = long.copy()
        if pooled:
            part["district_ags"] = part["role"].map(POOL)
        if all_groups:
            part["group"] = ALL
        parts.append(part)
    grouped = pd.concat(parts).groupby(["programme_id", "role", "district_ags", "group", "item", "wave"])["score"]
    cells = grouped.agg(n="count", mean="mean", var="var").reset_index()
    return cells


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
    stats_by = {}
    for rec in cells.itertuples(index=False):
        stats_by.setdefault((rec.programme_id, rec.role, rec.district_ags, rec.group, rec.item), {})[rec.wave] = rec
    rows = []
    for (programme_id, role, district, group, item), waves in stats_by.items():
        b, f = waves.get("baseline"), waves.get("follow_up")
        n_b, n_f = (int(b.n) if b else 0), (int(f.n) if f else 0)
        row = {"programme_id": programme_id, "method": "pre_post", "item": item, "district_ags": district,
               "district_name": POOL_NAME.get(district) or catalogue.district_name(district), "role": role,
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
    for row in rows:
        b, f = row.pop("_stats")
        if row["_reasons"]:
            continue
        n_b, n_f = row["n_baseline"], row["n_follow_up"]
        est, se, lo, hi, p = welch_change(n_b, b.mean, b.var, n_f, f.mean, f.var)
        b_lo, b_hi = _t_interval(n_b, b.mean, b.var)
        f_lo, f_hi = _t_interval(n_f, f.mean, f.var)
        row.update(estimate=est, se=se, ci_low=lo, ci_high=hi, p_value=p,
                   mean_baseline=float(b.mean), mean_baseline_ci_low=b_lo, mean_baseline_ci_high=b_hi,
                   mean_follow_up=float(f.mean), mean_follow_up_ci_low=f_lo, mean_follow_up_ci_high=f_hi)
        if min(n_b, n_f) < indicative_below:
            row["_reasons"].append("indicative")
    return rows


def _did_rows(long: pd.DataFrame, pre_post: list[dict], catalogue, groups, *, bootstrap_reps, seed,
              min_cell, indicative_below) -> list[dict]:
    published = {(r["programme_id"], r["item"], r["district_ags"], r["group"]): r for r in pre_post}
    rows = []
    for programme in catalogue.programmes:
        if not programme.comparison_districts:
            continue
        data = long[long["programme_id"] == programme.id]
        if data.empty:
            continue
        scopes = [ALL] + (list(programme.districts) if len(programme.districts) > 1 else [])
        for item, group, scope in itertools.product(sorted(data["item"].unique()), (ALL, *groups), scopes):
            part = data[data["item"] == item]
            if group != ALL:
                part = part[part["group"] == group]
            treated = (part["role"] == "programme").to_numpy()
            if scope != ALL:
                mask = (part["district_ags"] == scope).to_numpy() | ~treated
                part, treated = part[mask], treated[mask]
            if part.empty or not treated.any():
                continue
            post = (part["wave"] == "follow_up").to_numpy()
            counts = {"n_baseline": int((treated & ~post).sum()), "n_follow_up": int((treated & post).sum()),
                      "n_comparison_baseline": int((~treated & ~post).sum()),
                      "n_comparison_follow_up": int((~treated & post).sum())}
            row = {"programme_id": programme.id, "method": "did", "item": item, "district_ags": scope,
                   "district_name": POOL_NAME.get(scope) or catalogue.district_name(scope), "role": "programme",
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
            result = did_wild_bootstrap(
                part["score"].to_numpy(), part["district_ags"].to_numpy(), treated, post,
                reps=bootstrap_reps, rng=_row_seed(seed, programme.id, scope, item, group))
            row.update(clusters_programme=result.clusters_treated, clusters_comparison=result.clusters_control)
            if math.isnan(result.estimate):
                row["_reasons"].append("not_estimable")
                continue
            mine, theirs = sides
            # No `se` here: the cluster-robust standard error is only the bootstrap's studentising
            # device; with one treated district it is far too small and would mislead on its own.
            row.update(estimate=result.estimate, p_value=result.p_value,
                       ci_low=result.ci_low, ci_high=result.ci_high, bootstrap_reps=result.reps,
                       mean_baseline=mine["mean_baseline"], mean_follow_up=mine["mean_follow_up"],
                       mean_comparison_baseline=theirs["mean_baseline"],
                       mean_comparison_follow_up=theirs["mean_follow_up"])
            if result.enumerated:
                row["inference"] += "_enumerated"
            if min(counts.values()) < indicative_below:
                row["_reasons"].append("indicative")
            if result.clusters_treated < 2:
                row["_reasons"].append("one_programme")
            if result.clusters_control < 2:
                row["_reasons"].append("one_comparison")
            if math.isinf(result.ci_low) or math.isinf(result.ci_high):
                row["_reasons"].append("unbounded")
    return rows


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
