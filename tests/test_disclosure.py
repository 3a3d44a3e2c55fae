"""Disclosure control against an attacker who subtracts (issue 16, item 7; docs/disclosure.md).

The demo's survey is cut so that in Waldeck-Frankenberg (06635, a programme district of lzz-2)
the volunteers' baseline wave has 3 respondents instead of 12. The attacker then takes every
figure the site and the slides publish about lzz-2's baseline wave — the indicator values
(district pages, programme page, slides), the delivery table (row counts of each survey file)
and the impact table (case numbers, means per district and group, pools) — writes each as a
linear equation over the true cells (district × group), and asks linear algebra whether the
withheld cell is determined. (The slides are drawn from the same frames: slides.export_slides
reads them with the same `dashboards.data.load`.) It must not be: not the respondents, not the answers to any item,
not the summed score of any item. The same attacker against what the site published before the
rule (only "< 5" and the lonely-cell rule) recovers the 3 exactly from the delivery table: the
test can fail. The DiD rows' equations (weighted by the fixed effects) are not modelled here: the
rule withholds every DiD row built from a blocked cell, and a test holds it to that.
"""
from __future__ import annotations

import base64
import html
import json
import re

import numpy as np
import pandas as pd
import pytest

from dashboards import data as site_data
from dashboards import privacy
from dashboards.site import build_site
from pipeline import warehouse
from pipeline.catalogue import load_catalogue
from pipeline.demo import write_demo
from pipeline.home import Home
from pipeline.impact import estimate_impact, survey_items, write_impact_table
from pipeline.impact.disclosure import survey_blocks, withheld_estimates
from pipeline.indicators import compute_indicators, load_indicators
from tests.conftest import ingest

PROGRAMME, DISTRICT, GROUP, KEEP = "lzz-2", "06635", "volunteer", 3
FILE = f"{DISTRICT}_2023-Q1_survey.csv"
GROUPS = ("newcomer", "resident", "volunteer")


def _cut(path, keep: int) -> int:
    """Keep the first `keep` volunteers ("ehrenamtlich") of the file; return how many there were."""
    lines = path.read_bytes().split(b"\n")
    seen, out = 0, []
    for line in lines:
        if b";ehrenamtlich;" in line:
            seen += 1
            if seen > keep:
                continue
        out.append(line)
    path.write_bytes(b"\n".join(out))
    return seen


@pytest.fixture(scope="module")
def cut_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("disclosure")
    home = Home(root / "home").ensure()
    write_demo(home)
    assert _cut(home.inbox / FILE, KEEP) == 12
    ingest(home, "2017-01-01", "2025-10-01")
    catalogue = load_catalogue()
    indicators = load_indicators(catalogue)
    with warehouse.connect(home.warehouse) as con:
        compute_indicators(con, catalogue, indicators)
        write_impact_table(con, estimate_impact(con, catalogue, bootstrap_reps=99))
    with warehouse.connect(home.warehouse, read_only=True) as con:
        build_site(con, catalogue, indicators, home)
        published = site_data.load(con, catalogue, indicators)
        truth = con.execute(f"""SELECT district_ags, "group", count(*) FROM cur_survey WHERE wave = 'baseline'
                                GROUP BY ALL""").fetchall()
        # What the pages showed before the rule: "< 5" and the lonely-cell rule only.
        additive = {i.id for i in indicators if i.definition.aggregate in site_data.ADDITIVE}
        before = site_data.SiteData(
            catalogue=catalogue, indicators=indicators, threshold=5,
            values=site_data.suppress_secondary(privacy.apply(site_data.read_values(con)).assign(withheld=False),
                                                additive, 5),
            deliveries=site_data.read_deliveries(con), rejections=pd.DataFrame(), status=pd.DataFrame(),
            micro_projects=pd.DataFrame(), as_of=None, impact=site_data.read_impact(con))
    return home, catalogue, indicators, published, before, {(a, g): n for a, g, n in truth}


# -- the attacker ---------------------------------------------------------------------------------

class Equations:
    """Published figures as rows of A·x = b over the cells x[(district, group)] of one measure."""

    def __init__(self, districts):
        self.cells = [(d, g) for d in districts for g in GROUPS]
        self.rows, self.values = [], []

    def add(self, cells, value) -> None:
        if pd.isna(value):   # withheld: no equation
            return
        row = np.zeros(len(self.cells))
        for cell in cells:
            row[self.cells.index(cell)] = 1.0
        self.rows.append(row)
        self.values.append(float(value))

    def solve(self, cell) -> float | None:
        """The cell's value where the published equations determine it, else None."""
        if not self.rows:
            return None
        a, b = np.array(self.rows), np.array(self.values)
        target = np.zeros(len(self.cells))
        target[self.cells.index(cell)] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, target])) > np.linalg.matrix_rank(a):
            return None
        return float(np.linalg.lstsq(a, b, rcond=None)[0] @ target)


def attack(data: site_data.SiteData, catalogue) -> dict[str, float]:
    """Every measure of the baseline wave for which the attacker recovers (DISTRICT, GROUP)."""
    programme = catalogue.programme(PROGRAMME)
    districts = list(programme.districts)
    everyone = [(d, g) for d in districts for g in GROUPS]
    recovered = {}

    # Respondents: the indicator values (per district and the all-districts row, any period) and
    # the accepted rows of each district's survey CSV of the wave.
    respondents = Equations(districts)
    values = data.values[(data.values["programme_id"] == PROGRAMME) & ~data.values["comparison"]]
    for g in GROUPS:
        for r in values[values["indicator_id"] == f"survey_responses_baseline_{g}"].itertuples():
            shown = np.nan if r.masked else r.value
            cells = [(d, g) for d in districts] if r.district_ags == "ALL" else [(r.district_ags, g)]
            if r.district_ags == "ALL" or r.district_ags in districts:
                respondents.add(cells, shown)
    log = data.deliveries
    for r in log[log["file_name"].str.endswith("_2023-Q1_survey.csv")].itertuples():
        if r.district_ags in districts:
            respondents.add([(r.district_ags, g) for g in GROUPS], r.accepted)
    found = respondents.solve((DISTRICT, GROUP))
    if found is not None:
        recovered["respondents"] = found

    # Per item: answers (the impact table's case numbers) and summed scores (mean × n), from the
    # pre/post rows per district and group, the group ALL and the pool ALL, and the indicator
    # means (all groups) with their n.
    impact = data.impact[(data.impact["programme_id"] == PROGRAMME) & (data.impact["method"] == "pre_post")
                         & (data.impact["role"] == "programme")]
    for item in survey_items():
        answers, scores = Equations(districts), Equations(districts)
        for r in impact[impact["item"] == item].itertuples():
            cells = [c for c in everyone if (r.district_ags in ("ALL", c[0])) and (r.group in ("ALL", c[1]))]
            answers.add(cells, r.n_baseline)
            scores.add(cells, r.mean_baseline * r.n_baseline)
        for r in values[values["indicator_id"] == f"survey_{item}_baseline"].itertuples():
            cells = [c for c in everyone if r.district_ags in ("ALL", c[0])]
            scores.add(cells, r.value * r.n)
        for measure, equations in (("answers", answers), ("score", scores)):
            found = equations.solve((DISTRICT, GROUP))
            if found is not None:
                recovered[f"{measure}:{item}"] = found
    return recovered


def test_the_attacker_recovers_the_small_cell_from_what_was_published_before(cut_site):
    """The negative control: without the rule the three volunteers come back by subtraction."""
    _, catalogue, _, _, before, truth = cut_site
    assert truth[(DISTRICT, GROUP)] == KEEP
    found = attack(before, catalogue)
    assert found["respondents"] == pytest.approx(KEEP)   # 53 accepted rows − 26 − 24, as the issue found


def test_the_attacker_recovers_no_withheld_cell(cut_site):
    _, catalogue, _, published, _, _ = cut_site
    assert attack(published, catalogue) == {}


def test_every_estimate_built_from_the_block_is_withheld(cut_site):
    """DiD rows over the district or the programme's pool add equations of their own (weighted by
    the fixed effects): withheld, with every number and case number blank."""
    _, catalogue, _, published, _, _ = cut_site
    impact = published.impact[published.impact["programme_id"] == PROGRAMME]
    did = impact[impact["method"] == "did"]
    touching = did[did["district_ags"].isin(["ALL", DISTRICT])]
    assert len(touching) and touching["suppressed"].all()
    assert touching["estimate"].isna().all() and touching["n_baseline"].isna().all()
    assert touching["note_en"].str.startswith("Withheld").all()
    # A programme district's own DiD that uses no blocked cell is not withheld by the rule.
    with warehouse.connect(cut_site[0].warehouse, read_only=True) as con:
        blocks = site_data.withhold.read_blocks(con, catalogue)
    # the blocked district takes the one with the fewest respondents of the others along, counted
    # over all four survey waves of lzz-2 (issue 19): 15090 (Stendal)
    assert blocks == {(PROGRAMME, DISTRICT), (PROGRAMME, "15090")}
    free = did[~did["district_ags"].isin(["ALL"] + [d for _, d in blocks])]
    assert len(free) and not free["note_en"].str.startswith("Withheld: a respondent group").any()


def test_the_district_page_says_withheld_not_less_than_five(cut_site):
    home = cut_site[0]
    page = (home.site / "kreis" / f"{DISTRICT}.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "< 5" in text and "gesperrt" in text
    row = re.search(rf"<tr><td>2023-Q1</td><td>{FILE}</td>.*?</tr>", page).group(0)
    assert row.count("gesperrt") == 6, row   # five counts and the report link
    assert not any((home.site / "reports").rglob(f"*{DISTRICT}*2023-Q1*"))
    english = (home.site / "en" / "kreis" / f"{DISTRICT}.html").read_text(encoding="utf-8")
    assert "withheld" in english and "gesperrt" not in english


def _numbers(spec) -> list[float]:
    """Every number of a chart's data, typed arrays decoded."""
    out = []
    if isinstance(spec, dict):
        if "bdata" in spec and "dtype" in spec:
            return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"])).astype(float).tolist()
        for value in spec.values():
            out += _numbers(value)
    elif isinstance(spec, list):
        for value in spec:
            out += _numbers(value)
    elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
        out.append(float(spec))
    return out


def test_published_means_and_estimates_are_rounded(cut_site):
    """Full precision would add exact equations: none of the impact table's exact means or
    estimates (those with more than two decimals) is in the impact page's chart data; the
    published frame holds them to two decimals."""
    home, _, _, published, before, _ = cut_site
    exact = before.impact[[c for c in ("estimate", "ci_low", "ci_high", "mean_baseline", "mean_follow_up")]]
    exact = [v for v in exact.to_numpy(dtype=float).ravel() if np.isfinite(v) and abs(v * 100 - round(v * 100)) > 1e-6]
    assert exact
    page = (home.site / "wirkung.html").read_text(encoding="utf-8")
    specs = [json.loads(s.replace("<\\/", "</")) for s in re.findall(r"var s=(\{.*?\});var d=", page)]
    numbers = np.array([v for spec in specs for v in _numbers(spec["data"])])
    assert numbers.size
    leaked = [v for v in exact if np.isclose(numbers, v, rtol=0, atol=1e-9).any()]
    assert leaked == []
    means = published.impact["mean_baseline"].dropna().to_numpy()
    assert means.size and np.allclose(means, means.round(2))


def test_rule_units():
    """Hand-worked: one small district takes the smallest other with it; two small ones stand
    alone; a role with two districts loses its pool too."""
    rows = [("p", "programme", d, g, "baseline", n) for d, g, n in
            [("a", "x", 3), ("a", "y", 30), ("b", "x", 10), ("b", "y", 10), ("c", "x", 8), ("c", "y", 9),
             ("d", "x", 40), ("d", "y", 40)]]
    assert survey_blocks(rows) == {("p", "a"), ("p", "c")}
    rows2 = rows + [("p", "programme", "b", "z", "baseline", 2)]
    assert survey_blocks(rows2) == {("p", "a"), ("p", "b")}
    pair = [("q", "comparison", "e", "x", "baseline", 2), ("q", "comparison", "f", "x", "baseline", 50)]
    assert survey_blocks(pair) == {("q", "e"), ("q", "f"), ("q", "ALL_COMPARISON")}
    did = [{"programme_id": "p", "method": "did", "district_ags": "ALL"},
           {"programme_id": "p", "method": "did", "district_ags": "d"},
           {"programme_id": "p", "method": "pre_post", "district_ags": "d"},
           {"programme_id": "p", "method": "pre_post", "district_ags": "a"}]
    groups = lambda pid: (["a", "b", "c", "d"], ["k"])  # noqa: E731
    assert withheld_estimates(did, {("p", "a")}, groups) == [True, False, False, True]
    assert withheld_estimates(did, {("p", "k")}, groups) == [True, True, False, False]


def test_event_study_rows_built_from_the_block_are_withheld(cut_site):
    """The event-study rows of lzz-2 (per wave, placebo, joint pre-trend test) and the robustness
    rows are pooled over every programme district, Waldeck-Frankenberg's blocked volunteers
    included: withheld with every number blank, and the page draws no event-study chart."""
    home, _, _, published, _, _ = cut_site
    impact = published.impact[published.impact["programme_id"] == PROGRAMME]
    checks = impact[impact["method"].isin(["event_study", "placebo", "pre_trend", "did_top_box", "did_leave_one_out"])]
    assert set(checks["method"]) == {"event_study", "placebo", "pre_trend", "did_top_box", "did_leave_one_out"}
    assert checks["suppressed"].all()
    assert checks[["estimate", "ci_low", "ci_high", "p_value", "n_baseline", "n_follow_up"]].isna().all().all()
    page = (home.site / "wirkung.html").read_text(encoding="utf-8")
    assert f"fig-event-{PROGRAMME}" not in page


@pytest.fixture(scope="module")
def cut_pre_wave(tmp_path_factory):
    """Only the first wave (before lzz-2's start, not in any pre/post table) cut: Waldeck-
    Frankenberg's volunteers of wave 1 keep 3 respondents."""
    root = tmp_path_factory.mktemp("disclosure-pre-wave")
    home = Home(root / "home").ensure()
    write_demo(home)
    assert _cut(home.inbox / f"{DISTRICT}_2022-Q4_survey.csv", KEEP) > KEEP
    ingest(home, "2017-01-01", "2025-10-01")
    catalogue = load_catalogue()
    indicators = load_indicators(catalogue)
    with warehouse.connect(home.warehouse) as con:
        compute_indicators(con, catalogue, indicators)
        table = estimate_impact(con, catalogue, bootstrap_reps=99)
        write_impact_table(con, table)
    with warehouse.connect(home.warehouse, read_only=True) as con:
        build_site(con, catalogue, indicators, home)
        published = site_data.load(con, catalogue, indicators)
    return home, table, published


def test_a_small_cell_in_a_pre_wave_withholds_the_rows_built_from_it(cut_pre_wave):
    """Wave 1 is used only by the event study, pooled over all respondents: there every district
    cell has ~70 answers, so the estimate computes the rows. Publication counts wave 1 in the
    blocks (read_blocks: the survey period begins with the first listed wave) and withholds every
    event-study row of lzz-2 and the delivery counts of the cut file, from which the three
    volunteers could otherwise be read off (accepted rows − the other groups)."""
    home, table, published = cut_pre_wave
    events = table[(table["programme_id"] == PROGRAMME) & table["method"].isin(["event_study", "placebo", "pre_trend"])]
    assert len(events) and not events["suppressed"].any()
    with warehouse.connect(home.warehouse, read_only=True) as con:
        assert (PROGRAMME, DISTRICT) in site_data.withhold.read_blocks(con, load_catalogue())
    shown = published.impact[(published.impact["programme_id"] == PROGRAMME)
                             & published.impact["method"].isin(["event_study", "placebo", "pre_trend"])]
    assert len(shown) == len(events) and shown["suppressed"].all() and shown["estimate"].isna().all()
    log = published.deliveries
    row = log[log["file_name"] == f"{DISTRICT}_2022-Q4_survey.csv"]
    assert len(row) == 1 and row["accepted"].isna().all()
    page = (home.site / "wirkung.html").read_text(encoding="utf-8")
    assert f"fig-event-{PROGRAMME}" not in page


def test_the_sites_data_file_gives_the_attacker_nothing_either(cut_site):
    """The site's downloadable figures (site/daten/kennzahlen.csv) in place of the pages' frame:
    no withheld cell comes back, and no hidden row carries a number."""
    import dataclasses

    home, catalogue, _, published, _, _ = cut_site
    values = pd.read_csv(home.site / "daten" / "kennzahlen.csv", dtype={"district_ags": str}, encoding="utf-8-sig")
    hidden = values[values["masked"] | values["withheld"]]
    assert hidden["withheld"].any() and hidden[["value", "n", "attainment_pct"]].isna().all().all()
    assert attack(dataclasses.replace(published, values=values), catalogue) == {}
