"""Impact evaluation: hand-worked estimates, the bootstrap algebra, the honesty rules, the export,
the plain-language reading and the Dagster asset with its checks."""
import datetime as dt
import math

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.catalogue import load_catalogue
from pipeline.home import Home
from pipeline.impact import (ALL, ALL_COMPARISON, COLUMNS, NUMBERS, did_wild_bootstrap, estimate_impact,
                             impact_reading, survey_items, webb_weights, write_impact_export)
from pipeline.impact.estimator import _WildClusterBootstrap
from pipeline.warehouse import ensure_schema

ITEMS = ("belonging", "participation", "information_access", "contacts")
BASELINE, FOLLOW_UP = dt.date(2023, 2, 15), dt.date(2024, 5, 15)   # inside lzz-2 (2023-01-01 – 2024-06-30)
A, B = "05766", "09174"        # lzz-2 programme districts (Kreis Lippe, Landkreis Dachau)
C, D = "15081", "05762"        # lzz-2 comparison districts (Altmarkkreis Salzwedel, Kreis Höxter)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def survey_con(responses) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the given responses in stg_survey (cur_survey derives from it).
    responses: (district, wave, group, belonging, contacts) tuples; the other two items copy belonging."""
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    rows = []
    for i, (ags, wave, group, belonging, contacts) in enumerate(responses):
        day = BASELINE if wave == "baseline" else FOLLOW_UP
        quarter = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        rows.append(("r-" + ags + quarter, ags, quarter, i + 2, quarter, False, f"S{i:05d}", day, wave, group,
                     belonging, belonging, belonging, contacts))
    if rows:
        con.executemany("""INSERT INTO stg_survey (receipt_id, district_ags, delivery_quarter, source_row, quarter,
                           is_late, response_id, date, wave, "group", belonging, participation, information_access,
                           contacts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows)
    return con


def cells(ags, wave, group, scores):
    return [(ags, wave, group, s, s) for s in scores]


def one(frame, **where) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for key, value in where.items():
        mask &= (frame[key] == value).to_numpy()
    assert mask.sum() == 1, (where, int(mask.sum()))
    return frame[mask].iloc[0]


# -- hand-worked ----------------------------------------------------------------------------------

HAND = (cells(A, "baseline", "newcomer", [2, 3, 3, 4]) + cells(A, "follow_up", "newcomer", [3, 4, 4, 5])
        + cells(B, "baseline", "newcomer", [1, 2, 2, 3]) + cells(B, "follow_up", "newcomer", [2, 2, 3, 3])
        + cells(C, "baseline", "newcomer", [3, 3, 4, 4]) + cells(C, "follow_up", "newcomer", [3, 4, 4, 5])
        + cells(D, "baseline", "newcomer", [2, 2, 2, 2]) + cells(D, "follow_up", "newcomer", [2, 2, 3, 1])
        # answered contacts only: belonging unanswered -> excluded from belonging, counted for contacts
        + [(A, "baseline", "newcomer", None, 4)])


@pytest.fixture(scope="module")
def hand(catalogue):
    con = survey_con(HAND)
    try:
        yield estimate_impact(con, catalogue, min_cell=1, bootstrap_reps=999)
    finally:
        con.close()


def test_hand_worked_pre_post(hand):
    """belonging in Kreis Lippe (A): baseline 2,3,3,4 -> mean 3.0, variance ((-1)²+0+0+1²)/3 = 2/3;
    follow-up 3,4,4,5 -> mean 4.0, variance 2/3. Change 4.0 - 3.0 = 1.0.
    Welch: se = sqrt(2/3/4 + 2/3/4) = sqrt(1/3) = 0.5774; df = (1/6+1/6)² / ((1/6)²/3 + (1/6)²/3) = 6;
    95 % interval 1.0 ± t(0.975, 6)·0.5774 = 1.0 ± 2.4469·0.5774 = [-0.4127, 2.4127]; t = 1.732, p = 0.134.
    Baseline mean interval: 3.0 ± t(0.975, 3)·sqrt(2/3/4) = 3.0 ± 3.1824·0.4082.
    Pools: programme districts baseline (12 + 8)/8 = 2.5, follow-up (16 + 10)/8 = 3.25, change 0.75;
    comparison districts baseline (14 + 8)/8 = 2.75, follow-up (16 + 8)/8 = 3.0, change 0.25.
    The response without a belonging answer counts for contacts only (n = 5 there)."""
    row = one(hand, method="pre_post", item="belonging", district_ags=A, group=ALL)
    assert (row.n_baseline, row.n_follow_up) == (4, 4)
    assert row.mean_baseline == pytest.approx(3.0, abs=1e-12)
    assert row.mean_follow_up == pytest.approx(4.0, abs=1e-12)
    assert row.estimate == pytest.approx(1.0, abs=1e-12)
    assert row.se == pytest.approx(math.sqrt(1 / 3), abs=1e-12)
    half = stats.t.ppf(0.975, 6) * math.sqrt(1 / 3)
    assert half == pytest.approx(2.4469 * 0.57735, abs=1e-4)
    assert (row.ci_low, row.ci_high) == (pytest.approx(1 - half, abs=1e-12), pytest.approx(1 + half, abs=1e-12))
    assert row.p_value == pytest.approx(0.1340, abs=1e-4)
    b_half = stats.t.ppf(0.975, 3) * math.sqrt(2 / 3 / 4)
    assert row.mean_baseline_ci_low == pytest.approx(3 - b_half, abs=1e-12)
    assert row.mean_baseline_ci_high == pytest.approx(3 + b_half, abs=1e-12)

    pool = one(hand, method="pre_post", item="belonging", district_ags=ALL, group=ALL)
    assert (pool.n_baseline, pool.n_follow_up) == (8, 8)
    assert (pool.mean_baseline, pool.mean_follow_up, pool.estimate) == (2.5, 3.25, 0.75)
    comparison = one(hand, method="pre_post", item="belonging", district_ags=ALL_COMPARISON, group=ALL)
    assert comparison.role == "comparison"
    assert (comparison.mean_baseline, comparison.mean_follow_up, comparison.estimate) == (2.75, 3.0, 0.25)
    # the group row equals the ALL row (everybody is a newcomer); no rows for absent groups
    assert one(hand, method="pre_post", item="belonging", district_ags=A, group="newcomer").estimate == 1.0
    assert not ((hand["group"] == "resident") | (hand["group"] == "volunteer")).any()
    # unanswered items are excluded per item
    assert one(hand, method="pre_post", item="contacts", district_ags=A, group=ALL).n_baseline == 5


def test_hand_worked_did(hand):
    """With the same number of answers per district and wave, the fixed-effects DiD equals the
    difference of the pooled changes: (3.25 - 2.5) - (3.0 - 2.75) = 0.75 - 0.25 = 0.5.
    Per district against the comparison pool: Lippe 1.0 - 0.25 = 0.75; Dachau 0.5 - 0.25 = 0.25
    (the comparison change is the mean of Salzwedel's +0.5 and Höxter's 0.0)."""
    pooled = one(hand, method="did", item="belonging", district_ags=ALL, group=ALL)
    assert pooled.estimate == pytest.approx(0.5, abs=1e-12)
    assert (pooled.n_baseline, pooled.n_follow_up, pooled.n_comparison_baseline, pooled.n_comparison_follow_up) \
        == (8, 8, 8, 8)
    assert (pooled.clusters_programme, pooled.clusters_comparison) == (2, 2)
    assert (pooled.mean_baseline, pooled.mean_follow_up) == (2.5, 3.25)
    assert (pooled.mean_comparison_baseline, pooled.mean_comparison_follow_up) == (2.75, 3.0)
    assert pooled.ci_low < 0.5 < pooled.ci_high and 0 < pooled.p_value <= 1
    assert pooled.inference == "wild_cluster_bootstrap_wcr_webb" and pooled.bootstrap_reps == 999
    assert pooled.indicative and not pooled.suppressed          # 8 < 30 answers per cell
    lippe_alone = one(hand, method="did", item="belonging", district_ags=A, group=ALL)
    assert lippe_alone.estimate == pytest.approx(0.75, abs=1e-12)
    dachau = one(hand, method="did", item="belonging", district_ags=B, group=ALL)
    assert dachau.estimate == pytest.approx(0.25, abs=1e-12)
    assert dachau.clusters_programme == 1 and dachau.indicative
    # 1 + 2 districts: too few for inference across districts (issue 19): the estimate, no p, no interval
    assert dachau.clusters_comparison == 2 and dachau.inference == "none"
    assert math.isnan(dachau.p_value) and math.isnan(dachau.ci_low) and math.isnan(dachau.ci_high)
    assert "Inferenz braucht mehr Kreise: nur 3 Kreise" in dachau.note_de
    assert "inference needs more districts" in dachau.note_en.lower()
    assert not dachau.established and pd.isna(dachau.family_size)
    # the sentence quotes model-adjusted means whose difference of differences is the estimate
    assert (pooled.mean_follow_up_adjusted - pooled.mean_baseline) \
        - (pooled.mean_comparison_follow_up_adjusted - pooled.mean_comparison_baseline) == pytest.approx(0.5)


def test_three_districts_enumerate_every_weight_vector():
    """3 clusters: all 6³ = 216 Webb weight vectors enumerated, no seed involved."""
    y, cl, tr, po = _unbalanced(seed=4, clusters=3, treated=1)
    result = did_wild_bootstrap(y, cl, tr, po, reps=999)
    assert result.enumerated and result.reps == 216
    assert result == did_wild_bootstrap(y, cl, tr, po, reps=999, seed=99)


def test_deterministic(hand, catalogue):
    con = survey_con(HAND)
    again = estimate_impact(con, catalogue, min_cell=1, bootstrap_reps=999)
    pd.testing.assert_frame_equal(hand, again)
    other_seed = estimate_impact(con, catalogue, min_cell=1, bootstrap_reps=999, seed=7)
    con.close()
    assert list(hand.columns) == list(COLUMNS)
    pd.testing.assert_series_equal(hand["estimate"], other_seed["estimate"])   # only the bootstrap moves


# -- the estimator against first principles -------------------------------------------------------

def _unbalanced(seed=3, clusters=7, treated=3):
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(clusters):
        for t in (0, 1):
            n = int(rng.integers(4, 25))
            y = 3 + 0.2 * g + 0.1 * t + 0.3 * (g < treated) * t + rng.normal(0, 0.3) + rng.normal(0, 1, n)
            rows += [(v, g, g < treated, t == 1) for v in y]
    y, cl, tr, po = (np.array(col) for col in zip(*rows))
    return y, cl.astype(int), tr.astype(bool), po.astype(bool)


def _ols_cr1(y, cl, tr, po):
    """δ and its CR1 standard error from the explicit dummy regression and sandwich."""
    G = cl.max() + 1
    X = np.column_stack([np.eye(G)[cl], po, tr & po]).astype(float)
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    u = y - X @ beta
    bread = np.linalg.inv(X.T @ X)
    meat = sum(np.outer(X[cl == g].T @ u[cl == g], X[cl == g].T @ u[cl == g]) for g in range(G))
    n, k = X.shape
    V = G / (G - 1) * (n - 1) / (n - k) * bread @ meat @ bread
    return beta[-1], math.sqrt(V[-1, -1]), X


def test_did_matches_dummy_regression_and_cr1():
    y, cl, tr, po = _unbalanced()
    delta, se, _ = _ols_cr1(y, cl, tr, po)
    result = did_wild_bootstrap(y, cl, tr, po, reps=99)
    assert result.estimate == pytest.approx(delta, abs=1e-10)
    assert result.se == pytest.approx(se, abs=1e-10)


def test_fast_bootstrap_equals_brute_force():
    """The closed-form WCR p-value equals refitting the regression on every bootstrap sample."""
    y, cl, tr, po = _unbalanced(seed=5, clusters=6)
    weights, _ = webb_weights(6, 49, np.random.default_rng(1))
    d = (tr & po).astype(float)
    fast = _WildClusterBootstrap(y, cl, po.astype(float), d, weights)
    delta, se, X = _ols_cr1(y, cl, tr, po)
    Z = X[:, :-1]
    for delta0 in (0.0, 0.25, -0.4):
        beta_r = np.linalg.lstsq(Z, y - delta0 * d, rcond=None)[0]
        u_r = y - delta0 * d - Z @ beta_r
        t_obs = abs(delta - delta0) / se
        t_star = []
        for v in weights:
            d_star, se_star, _ = _ols_cr1(Z @ beta_r + delta0 * d + u_r * v[cl], cl, tr, po)
            t_star.append(abs(d_star - delta0) / se_star)
        assert fast.p_value(delta0) == pytest.approx(np.mean(np.array(t_star) >= t_obs - 1e-12), abs=1e-12)


def test_interval_inverts_the_test():
    y, cl, tr, po = _unbalanced(seed=8, clusters=8, treated=4)
    result = did_wild_bootstrap(y, cl, tr, po, reps=199, seed=1)
    weights, _ = webb_weights(8, 199, np.random.default_rng(1))
    boot = _WildClusterBootstrap(y, cl, po.astype(float), (tr & po).astype(float), weights)
    assert boot.p_value(result.ci_low + 1e-6) >= 0.05 > boot.p_value(result.ci_low - 1e-6)
    assert boot.p_value(result.ci_high - 1e-6) >= 0.05 > boot.p_value(result.ci_high + 1e-6)
    assert (result.p_value < 0.05) == (result.ci_low > 0 or result.ci_high < 0)


def test_webb_weights():
    weights, enumerated = webb_weights(3, 999, np.random.default_rng(0))
    assert enumerated and weights.shape == (216, 3)
    root = math.sqrt
    assert np.allclose(np.sort(np.unique(weights)), [-root(1.5), -1, -root(.5), root(.5), 1, root(1.5)])
    weights, enumerated = webb_weights(10, 199, np.random.default_rng(0))
    assert not enumerated and weights.shape == (199, 10)
    assert abs(weights.mean()) < 0.05 and weights.var() == pytest.approx(1, abs=0.05)


def test_not_estimable_without_both_waves():
    y = np.array([1.0, 2, 3, 4, 5, 6])
    result = did_wild_bootstrap(y, ["a", "a", "b", "b", "c", "c"], [True, True, False, False, False, False],
                                [False, False, False, True, False, True])
    assert math.isnan(result.estimate) and result.clusters_treated == 0 and result.clusters_control == 2


# -- honesty rules --------------------------------------------------------------------------------

def _big(ags, group, n_baseline, n_follow_up, level=3):
    scores = lambda n, shift: [int(np.clip(level + shift + (i % 3) - 1, 1, 5)) for i in range(n)]  # noqa: E731
    return cells(ags, "baseline", group, scores(n_baseline, 0)) + cells(ags, "follow_up", group, scores(n_follow_up, 1))


@pytest.fixture(scope="module")
def honesty(catalogue):
    responses = []
    for ags in (A, B, C, D):
        responses += _big(ags, "newcomer", 40, 40) + _big(ags, "resident", 40, 40)
    responses += _big(A, "volunteer", 3, 6) + _big(B, "volunteer", 10, 10)     # Lippe: 3 volunteers at baseline
    responses += _big(C, "volunteer", 12, 12) + _big(D, "volunteer", 12, 12)
    con = survey_con(responses)
    try:
        yield estimate_impact(con, catalogue, bootstrap_reps=199)
    finally:
        con.close()


def test_small_cells_are_never_published(honesty):
    """Lippe has 3 volunteers at baseline: that row is withheld (primary). Its value could be
    recovered from Lippe's ALL row minus the other groups, and from the volunteer pool minus
    Dachau: so Lippe/newcomer, Dachau/volunteer and Dachau/newcomer are withheld too — the
    rectangle leaves Lippe's volunteers underdetermined."""
    pre = honesty[(honesty["method"] == "pre_post") & (honesty["item"] == "belonging")
                  & (honesty["role"] == "programme")]
    withheld = {(r.district_ags, r.group) for r in pre.itertuples() if r.suppressed}
    assert withheld == {(A, "volunteer"), (A, "newcomer"), (B, "volunteer"), (B, "newcomer")}
    primary = one(pre, district_ags=A, group="volunteer")
    assert "Weniger als 5" in primary.note_de and "fewer than 5" in primary.note_en.lower()
    assert "kleinen Zelle" in one(pre, district_ags=B, group="newcomer").note_de
    assert (primary.n_baseline, primary.n_follow_up) == (3, 6)      # counts stay: they reveal no answers
    suppressed = honesty[honesty["suppressed"]]
    assert suppressed[list(NUMBERS)].isna().all().all()
    published = honesty[~honesty["suppressed"]]
    ns = published[["n_baseline", "n_follow_up", "n_comparison_baseline", "n_comparison_follow_up"]]
    assert (ns.fillna(10 ** 6) >= 5).all().all()
    assert published["estimate"].notna().all()
    # DiD: Lippe's volunteers have a small cell; Dachau's inherit the protection; the pool is safe.
    assert one(honesty, method="did", item="belonging", district_ags=A, group="volunteer").suppressed
    inherited = one(honesty, method="did", item="belonging", district_ags=B, group="volunteer")
    assert inherited.suppressed and "zugrunde liegende" in inherited.note_de
    assert not one(honesty, method="did", item="belonging", district_ags=ALL, group="volunteer").suppressed


def test_fewer_than_30_is_indicative(honesty):
    big = one(honesty, method="pre_post", item="belonging", district_ags=C, group="newcomer")
    assert not big.indicative and big.note_de == ""
    small = one(honesty, method="pre_post", item="belonging", district_ags=C, group="volunteer")
    assert small.indicative and not small.suppressed and "Weniger als 30" in small.note_de
    pooled = one(honesty, method="did", item="belonging", district_ags=ALL, group="newcomer")
    assert not pooled.indicative                                    # 80 per cell, 2 + 2 districts
    assert one(honesty, method="did", item="belonging", district_ags=ALL, group="volunteer").indicative
    # one programme district against the pool: always indicative, whatever the n
    assert one(honesty, method="did", item="belonging", district_ags=A, group="resident").indicative


def test_output_counts_never_get_an_impact(honesty, catalogue):
    assert survey_items() == ITEMS
    assert set(honesty["item"]) == set(ITEMS)
    assert set(honesty["method"]) == {"pre_post", "did", "did_top_box"}   # 2 + 2 districts: no leave-one-out
    con = survey_con(HAND)
    for counts in (["newsletters_sent"], ["events_held"], ["belonging", "recipients"]):
        with pytest.raises(ValueError, match="survey score items only"):
            estimate_impact(con, catalogue, items=counts)
    con.close()


def test_responses_outside_the_programme_period_or_districts_are_ignored(catalogue):
    con = survey_con(HAND)
    con.execute("""UPDATE stg_survey SET date = DATE '2022-06-01' WHERE district_ags = ? AND wave = 'baseline'""", [D])
    # Landkreis Coburg (09473) belongs to lzz-1 (2018–2020) only: a 2023 response there counts nowhere.
    con.execute("""INSERT INTO stg_survey (receipt_id, district_ags, delivery_quarter, response_id, date, wave, "group",
                   belonging) VALUES ('x', '09473', '2023-Q1', 'X1', DATE '2023-02-15', 'baseline', 'newcomer', 5)""")
    frame = estimate_impact(con, catalogue, min_cell=1, bootstrap_reps=99)
    con.close()
    assert "09473" not in set(frame["district_ags"])
    comparison = one(frame, method="did", item="belonging", district_ags=ALL, group=ALL)
    assert comparison.n_comparison_baseline == 4 and comparison.clusters_comparison == 1
    assert "Inferenz braucht mehr Kreise: nur 3 Kreise" in comparison.note_de and comparison.indicative
    assert "Nur ein Vergleichskreis" not in comparison.note_de   # a note about an interval there is none of


def test_empty_survey(catalogue):
    con = survey_con([])
    frame = estimate_impact(con, catalogue)
    con.close()
    assert frame.empty and list(frame.columns) == list(COLUMNS)


# -- export and reading ---------------------------------------------------------------------------

def test_export_is_deterministic(hand, tmp_path):
    path = write_impact_export(hand, tmp_path)
    first = path.read_bytes()
    write_impact_export(hand.sample(frac=1, random_state=3), tmp_path)
    assert path.read_bytes() == first and path.name == "impact.csv"
    exported = pd.read_csv(path, dtype={"district_ags": str}, encoding="utf-8-sig")
    assert list(exported.columns) == list(COLUMNS)
    assert exported.loc[0, "method"] == "did" and exported.loc[0, "district_ags"] == ALL


def test_reading(honesty, hand):
    finding = one(hand, method="did", item="belonging", district_ags=ALL, group=ALL).to_dict()
    finding.update(estimate=0.4, ci_low=0.1, ci_high=0.7, p_value=0.012, indicative=False, note_de="", note_en="",
                   family="primary", family_size=1, p_adjusted=0.012, established=True)
    de, en = impact_reading(finding, "de"), impact_reading(finding, "en")
    assert "um 0,40 Punkte günstiger als in den Vergleichskreisen (95-%-Intervall 0,10 bis 0,70; p = 0,012)" in de
    assert "schließt null aus" in de and "Mit nur 4 Kreisen (2 Programm-, 2 Vergleichskreise)" in de
    assert "0.40 points more favourably than in the comparison districts (95 % interval 0.10 to 0.70" in en

    assert "Vorab festgelegtes Hauptergebnis: Das Intervall schließt null aus: Der Unterschied ist statistisch belegt." \
        in de and "Primary outcome, declared in advance" in en and "established" in en
    # exploratory: the interval excludes zero, Holm's correction over its family of 15 does not
    exploratory = dict(finding, family="exploratory", family_size=15, p_adjusted=0.18, established=False)
    assert ("Explorativ (eines von 15 Ergebnissen, gemeinsam nach Holm korrigiert): Das Intervall schließt null aus, "
            "doch nach der Korrektur für 15 Vergleiche ist der Unterschied nicht belegt (korrigiert p = 0,180)."
            ) in impact_reading(exploratory, "de")
    assert "after correcting for 15 comparisons the difference is not established (adjusted p = 0.180)" \
        in impact_reading(exploratory, "en")
    survived = dict(exploratory, p_adjusted=0.03, established=True)
    assert "statistisch belegt (korrigiert p = 0,030)" in impact_reading(survived, "de")
    # effect size and MDE, and a bootstrap p-value of 0 read as "below 1/(B + 1)", never 0
    sized = dict(finding, effect_size=0.341, mde=0.112, p_value=0.0, bootstrap_reps=199)
    assert "Das sind 0,34 Standardabweichungen der Vorher-Antworten." in impact_reading(sized, "de")
    assert "mit 80 % Wahrscheinlichkeit belegen würden: 0,11 Punkte" in impact_reading(sized, "de")
    assert "p < 0,005)" in impact_reading(sized, "de")           # 1/(199 + 1)
    assert "p < 0,005)" in impact_reading(dict(sized, bootstrap_reps=216), "de")   # 1/217 rounded up and "p = 0" not in impact_reading(sized, "de")
    assert "p < 0.001" in impact_reading(dict(sized, bootstrap_reps=999), "en")
    # too few districts: the estimate, no interval, no p-value, and why
    few = dict(finding, ci_low=math.nan, ci_high=math.nan, p_value=math.nan, established=False, indicative=True,
               note_en="Inference needs more districts: only 3 districts …")
    text = impact_reading(few, "en")
    assert "0.40 points more favourably than in the comparison districts." in text and "interval" not in text
    assert "cannot be told with so few districts" in text and "Inference needs more districts" in text

    null = dict(finding, estimate=-0.05, ci_low=-0.31, ci_high=0.2, p_value=0.61, established=False)
    assert "um 0,05 Punkte ungünstiger" in impact_reading(null, "de")
    assert "−0,31 bis 0,20" in impact_reading(null, "de") and "schließt null ein" in impact_reading(null, "de")
    assert "does not mean the programme had no effect" in impact_reading(null, "en")

    indicative = one(hand, method="did", item="belonging", district_ags=B, group=ALL)
    assert "Hinweis: " in impact_reading(indicative, "de") and "Note: " in impact_reading(indicative, "en")

    withheld = one(honesty, method="pre_post", item="belonging", district_ags=A, group="volunteer")
    assert impact_reading(withheld, "de").startswith(
        "Kreis Lippe, Zugehörigkeit (Ehrenamtliche): nicht veröffentlicht.")
    assert "not published" in impact_reading(withheld, "en")

    change = one(hand, method="pre_post", item="belonging", district_ags=A, group=ALL)
    text = impact_reading(change, "de")
    assert "vorher 3,00 (n = 4), nachher 4,00 (n = 4)" in text and "Veränderung +1,00 Punkte" in text
    assert "zeigt Veränderung, nicht Wirkung" in text

    unbounded = dict(finding, ci_low=-math.inf, ci_high=math.inf)
    assert "kein begrenztes 95-%-Intervall" in impact_reading(unbounded, "de")


# -- Dagster --------------------------------------------------------------------------------------

def test_asset_writes_table_csv_and_passes_checks(tmp_path):
    from assets.impact import ASSETS, CHECKS
    from assets.resources import TeilhabeHome

    home = Home(tmp_path / "home").ensure()
    source = survey_con(HAND + _big(A, "resident", 30, 30) + _big(C, "resident", 30, 30))
    rows = source.execute("SELECT * FROM stg_survey").df()
    source.close()
    con = duckdb.connect(str(home.warehouse))
    ensure_schema(con)
    con.register("_rows", rows)
    con.execute("INSERT INTO stg_survey SELECT * FROM _rows")
    con.close()

    result = dg.materialize([*ASSETS, *CHECKS], resources={"home": TeilhabeHome(home=str(home.root))},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 3 and all(c.passed for c in checks)
    metadata = result.asset_materializations_for_node("impact_estimates")[0].metadata
    assert metadata["csv"].value == str(home.exports / "impact.csv")
    assert "| programme_id | method |" in metadata["preview"].value
    con = duckdb.connect(str(home.warehouse), read_only=True)
    count = con.execute("SELECT count(*) FROM impact_estimates").fetchone()[0]
    nulls = con.execute("SELECT count(*) FROM impact_estimates WHERE suppressed AND estimate IS NOT NULL").fetchone()[0]
    con.close()
    assert count == metadata["dagster/row_count"].value and count > 0 and nulls == 0
    assert (home.exports / "impact.csv").exists()

    # the checks catch what must never be published
    from assets.impact import impact_rules
    resource = TeilhabeHome(home=str(home.root))
    con = duckdb.connect(str(home.warehouse))
    con.execute("""UPDATE impact_estimates SET n_baseline = 3
                   WHERE NOT suppressed AND method = 'pre_post' AND district_ags = 'ALL' AND "group" = 'ALL'""")
    con.execute("UPDATE impact_estimates SET item = 'newsletters_sent' WHERE method = 'did'")
    # a p-value across 3 districts (Dachau against the two comparison districts)
    con.execute("""UPDATE impact_estimates SET p_value = 0.03 WHERE method = 'did' AND district_ags = ?""", [B])
    con.close()
    results = {r.check_name: r.passed for r in impact_rules(home=resource)}
    assert results == {"impact_small_cells_withheld": False, "impact_only_survey_items": False,
                       "impact_inference_needs_districts": False}


# -- robustness rows (issue 19) ---------------------------------------------------------------------

E = "12069"   # a third lzz-2 programme district (Potsdam-Mittelmark)


def _shifted(ags, shift):
    """12 answers 2, 3, 4 (mean 3) at baseline and the same shifted by `shift` at follow-up."""
    base = [2, 3, 4] * 4
    return cells(ags, "baseline", "newcomer", base) + cells(ags, "follow_up", "newcomer", [v + shift for v in base])


def test_top_box_and_leave_one_out_by_hand(catalogue):
    """Programme districts Lippe +1, Dachau 0, Potsdam-Mittelmark +1; comparison Salzwedel 0,
    Höxter +1 (equal sizes, so equal weights). Pooled DiD 2/3 − 1/2 = 1/6. Without one district:
    Lippe (0 + 1)/2 − 1/2 = 0; Dachau 1 − 1/2 = 1/2; Potsdam-Mittelmark 0; Salzwedel 2/3 − 1 = −1/3;
    Höxter 2/3 − 0 = 2/3 (each leaves 4 districts: enough for inference). Share answering 4–5:
    1/3 at baseline, 2/3 after a shift of +1, so the top-box DiD is (2/3 · 1/3) − (1/2 · 1/3) = 1/18."""
    con = survey_con(_shifted(A, 1) + _shifted(B, 0) + _shifted(E, 1) + _shifted(C, 0) + _shifted(D, 1))
    frame = estimate_impact(con, catalogue, bootstrap_reps=199)
    con.close()
    assert one(frame, method="did", item="belonging", district_ags=ALL, group=ALL).estimate == pytest.approx(1 / 6)
    out = frame[(frame["method"] == "did_leave_one_out")]
    assert set(out["item"]) == {"belonging"}                       # the primary outcome only
    by_district = dict(zip(out["district_ags"], out["estimate"]))
    assert by_district == pytest.approx({A: 0.0, B: 0.5, E: 0.0, C: -1 / 3, D: 2 / 3})
    assert dict(zip(out["district_ags"], out["role"])) == {A: "programme", B: "programme", E: "programme",
                                                           C: "comparison", D: "comparison"}
    assert out["p_value"].notna().all() and (out["family"] == "robustness").all() and not out["established"].any()
    top = one(frame, method="did_top_box", item="belonging", district_ags=ALL, group=ALL)
    assert top.estimate == pytest.approx(1 / 18)
    assert top.mean_baseline == pytest.approx(1 / 3) and top.mean_comparison_baseline == pytest.approx(1 / 3)
    assert top.mean_follow_up_adjusted == pytest.approx(1 / 3 + 2 / 9)
    assert len(frame[frame["method"] == "did_top_box"]) == 4         # one per item
    de, en = impact_reading(top, "de"), impact_reading(top, "en")
    assert "Anteil der Antworten 4 oder 5: von 33,3 % auf 55,6 %" in de and "um 5,6 Prozentpunkte günstiger" in de
    assert "share answering 4 or 5" in en and "not a result of its own" in en
    without = impact_reading(one(frame, method="did_leave_one_out", district_ags=C), "de")
    assert without.startswith("Ohne Altmarkkreis Salzwedel (Vergleichskreis), Zugehörigkeit") and "ungünstiger" in without
