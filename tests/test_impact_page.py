"""The "Wirkung / Impact" page of the conference site (issue 6, item 5), without a browser.

On the demo (which plants a real finding on `belonging` in lzz-2 and a real null on `contacts`):
the page in both languages, the readings with the locale's decimal sign, indicative rows labelled,
the unbounded amif-nom intervals written out instead of numbers, the links to it. With made-up
withheld rows: no figure of theirs anywhere. With no survey data: a clear message, no chart.
"""
from __future__ import annotations

import dataclasses
import html
import json
import math
import re

import dagster as dg
import duckdb
import pandas as pd
import pytest

from dashboards import charts_impact, pages_impact, pages_programme, sitemap
from dashboards.data import empty_impact, load, read_impact
from dashboards.layout import Place
from pipeline import warehouse
from pipeline.impact import COLUMNS, NOTES, NUMBERS, impact_reading
from tests.test_site import DemoSite, demo_site, read

IMPACT = sitemap.IMPACT_PATH
PAGE_BUDGET = 512 * 1024  # "well under a megabyte", plotly.min.js not counted


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> DemoSite:
    return demo_site(tmp_path_factory)


@pytest.fixture(scope="module")
def data(site):
    with warehouse.connect(site.home.warehouse, read_only=True) as con:
        return load(con, site.catalogue, site.indicators, 5)


def _row(frame: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    hit = frame[mask]
    assert len(hit) == 1, where
    return hit.iloc[0]


def _li(page: str, key: str) -> str:
    found = re.search(rf"<li data-row='{re.escape(key)}'>(.*?)</li>", page, re.S)
    assert found, key
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


def _specs(page: str) -> list[dict]:
    return [json.loads(s.replace("<\\/", "</")) for s in re.findall(r"var s=(\{.*?\});var d=", page)]


# -- the demo ---------------------------------------------------------------------------------------

def test_page_in_both_languages_and_linked_from_every_page(site):
    de, en = read(site, IMPACT), read(site, f"en/{IMPACT}")
    assert '<html lang="de">' in de and '<html lang="en">' in en
    assert "Wirkung: Befragung vorher und nachher" in de and "Impact: survey before and after" in en
    assert site.home.site / IMPACT in site.pages and site.home.site / "en" / IMPACT in site.pages
    for path in site.pages:
        text = path.read_text(encoding="utf-8")
        assert re.search(r"<li><a href='(\.\./)*wirkung\.html'[^>]*>(Wirkung|Impact)</a></li>", text), path
    assert "aria-current=page>Wirkung</a>" in de


def test_programme_pages_with_survey_data_link_to_their_section(site, data):
    with_survey = {p.id for p in site.catalogue.programmes if data.has_impact(p)}
    assert with_survey == {"lzz-2", "amif-nom"}
    for programme in site.catalogue.programmes:
        for prefix in ("", "en/"):
            page = read(site, f"{prefix}programm/{programme.id}.html")
            linked = f"href='../wirkung.html#wirkung-{programme.id}'" in page
            assert linked == (programme.id in with_survey), (prefix, programme.id)
    assert "id='wirkung-lzz-2'" in read(site, IMPACT) and "id='wirkung-amif-nom'" in read(site, IMPACT)


def test_the_planted_finding_and_the_null_read_in_each_language(site, data):
    de, en = read(site, IMPACT), read(site, f"en/{IMPACT}")
    belonging = _row(data.impact, programme_id="lzz-2", method="did", item="belonging", district_ags="ALL", group="ALL")
    contacts = _row(data.impact, programme_id="lzz-2", method="did", item="contacts", district_ags="ALL", group="ALL")
    # the pipeline's own sentence, whole, in the page
    assert html.escape(impact_reading(belonging, "de"), quote=False) in de
    assert html.escape(impact_reading(belonging, "en"), quote=False) in en
    key = "lzz-2 did belonging ALL ALL"
    assert "um 0,32 Punkte günstiger" in _li(de, key) and "95-%-Intervall 0,26 bis 0,39" in _li(de, key)
    assert "0.32 points more favourably" in _li(en, key) and "95 % interval 0.26 to 0.39" in _li(en, key)
    assert "Unterschied belegt" in _li(de, key) and "difference established" in _li(en, key)
    # the primary outcome declared in the catalogue: judged alone, and marked as such
    assert belonging["family"] == "primary" and belonging["established"]
    assert "Hauptergebnis" in _li(de, key) and "primary outcome" in _li(en, key)
    # the sentence's means are the model's: 2,95 → 3,35 against 3,09 → 3,17, whose difference of
    # differences (0,40 − 0,08) is the estimate 0,32, not the raw pooled means
    assert "ging von 2,95 auf 3,35, in den Vergleichskreisen von 3,09 auf 3,17" in _li(de, key)
    assert (belonging["mean_follow_up_adjusted"] - belonging["mean_baseline"]
            - belonging["mean_comparison_follow_up_adjusted"] + belonging["mean_comparison_baseline"]) \
        == pytest.approx(belonging["estimate"], abs=1e-12)
    # no draw of 999 was as extreme: p below 1/(B + 1), never 0
    assert belonging["p_value"] == 0 and "p < 0,001" in _li(de, key) and "p < 0.001" in _li(en, key)
    # the table at a glance: the estimate with its interval, German comma, English point
    assert "+0,32" in de and "[0,26; 0,39]" in de and "+0.32" in en and "[0.26, 0.39]" in en
    # the null: an interval around zero, said as not shown (and not as "no effect")
    key = "lzz-2 did contacts ALL ALL"
    assert "[−0,02; 0,07]" in de and "[−0.02, 0.07]" in en
    assert "nicht belegt" in _li(de, key) and "schließt null ein" in _li(de, key)
    assert "not established" in _li(en, key) and "does not mean the programme had no effect" in _li(en, key)
    assert "not shown" not in en        # "nicht belegt" is "not established" everywhere on the English page
    assert contacts["family"] == "exploratory" and contacts["family_size"] == 15 and not contacts["established"]
    assert contacts["ci_low"] < 0 < contacts["ci_high"]


def test_every_estimate_has_its_reading_and_indicative_ones_say_so(site, data):
    de, en = read(site, IMPACT), read(site, f"en/{IMPACT}")
    assert data.impact["indicative"].any() and (~data.impact["indicative"]).any()
    # the event-study rows (per wave, placebo, joint test) are read in their own table and chart
    # (dashboards/pages_event_study.py, tests/test_survey_waves.py), not one sentence each
    for _, row in data.impact[~data.impact["method"].isin(["event_study", "placebo", "pre_trend"])].iterrows():
        key = " ".join(str(row[k]) for k in ("programme_id", "method", "item", "district_ags", "group"))
        for page, label in ((de, "nur als Hinweis"), (en, "indicative only")):
            item = _li(page, key)
            assert (label in item) == bool(row["indicative"]), (key, item)


def test_amif_nom_says_inference_needs_more_districts(site, data):
    """amif-nom has 1 programme and 2 comparison districts: its DiD rows carry the estimate but no
    p-value and no interval, and say why, in words; never a number standing in for one."""
    amif = data.impact[(data.impact["programme_id"] == "amif-nom") & (data.impact["method"] == "did")]
    assert len(amif) and amif["p_value"].isna().all() and amif["ci_low"].isna().all()
    assert amif["estimate"].notna().all() and not amif["established"].any()
    for prefix, word in (("", "Inferenz braucht mehr Kreise"), ("en/", "inference needs more districts")):
        page = read(site, f"{prefix}{IMPACT}")
        section = page[page.index("id='wirkung-amif-nom'"):]
        glance = section[:section.index("<h3", section.index("</table>"))]
        assert glance.count(word) >= 2 * 4   # the chip in each item's line and in its reading
        key = "amif-nom did belonging ALL ALL"
        assert word.lower() in _li(page, key).lower() and "p =" not in _li(page, key)
        assert "Infinity" not in page and "inf]" not in page and "NaN" not in page
        for spec in _specs(page):
            for trace in spec["data"]:
                assert all(v is None or math.isfinite(v) for v in trace.get("x", []) if not isinstance(v, str))


def test_exploratory_rows_are_corrected_and_apart_from_the_primary_one(site, data):
    """lzz-2: 9 DiD rows have p < 0.05 uncorrected; 'belegt' only for the primary outcome and for
    the exploratory rows that survive Holm within their family."""
    lzz = data.impact[(data.impact["programme_id"] == "lzz-2") & ~data.impact["suppressed"]]
    did = lzz[lzz["method"] == "did"]
    assert (did["p_value"] < 0.05).sum() > did["established"].sum()
    explored = did[did["family"] == "exploratory"]
    assert (explored["p_adjusted"] >= explored["p_value"]).all()
    for _, row in explored[(explored["p_value"] < 0.05) & ~explored["established"]].iterrows():
        key = " ".join(str(row[k]) for k in ("programme_id", "method", "item", "district_ags", "group"))
        assert "nach Korrektur nicht belegt" in _li(read(site, IMPACT), key)
        assert "not established after correction" in _li(read(site, f"en/{IMPACT}"), key)
    de = read(site, IMPACT)
    section = de[de.index("id='wirkung-lzz-2'"):de.index("id='wirkung-amif-nom'")]
    assert section.index("Hauptergebnis: vorab") < section.index("Explorativ: weitere Items")


def test_robustness_of_the_planted_finding(site, data):
    """The planted belonging effect holds without any one of lzz-2's 10 districts, and in the share
    answering 4–5; the page shows both as checks, not as findings."""
    lzz = data.impact[data.impact["programme_id"] == "lzz-2"]
    out = lzz[lzz["method"] == "did_leave_one_out"]
    assert len(out) == 10 and set(out["item"]) == {"belonging"}
    assert (out["ci_low"] > 0).all() and out["estimate"].between(0.25, 0.4).all()
    top = _row(lzz, method="did_top_box", item="belonging", district_ags="ALL", group="ALL")
    assert top["ci_low"] > 0 and not top["established"] and top["family"] == "robustness"
    for prefix, words in (("", ("Robustheit: Prüfungen", "10 von 10 Intervallen schließen null aus",
                                "Robustheitsprüfung")),
                          ("en/", ("Robustness: checks", "10 of 10 intervals exclude zero", "robustness check"))):
        page = read(site, f"{prefix}{IMPACT}")
        section = page[page.index("id='wirkung-lzz-2'"):page.index("id='wirkung-amif-nom'")]
        assert all(word in section for word in words), prefix


def test_forest_plot_handles_one_sided_infinite_and_wide_intervals():
    rows = pd.DataFrame({"estimate": [0.3, 0.1, 0.2], "ci_low": [-math.inf, -4.0, 0.1], "ci_high": [0.5, 4.0, math.inf],
                         "indicative": [True, True, False], "suppressed": [False, False, False]})
    x_range = charts_impact.forest_range([rows])
    figure = charts_impact.forest(rows, ["a", "b", "c"], ["", "", ""], "de", "t", x_range, 5)
    arrows = {tr["marker"]["symbol"]: list(zip(tr["y"], tr["hovertext"])) for tr in figure["data"]
              if tr.get("marker", {}).get("symbol", "").startswith("triangle")}
    assert arrows["triangle-left"] == [("a", "unbegrenzt"), ("b", "reicht bis −4,00")]
    assert arrows["triangle-right"] == [("b", "reicht bis 4,00"), ("c", "unbegrenzt")]
    xs = [v for tr in figure["data"] for v in tr["x"] if v is not None]
    assert all(x_range[0] <= v <= x_range[1] for v in xs)
    assert charts_impact.interval_text(-math.inf, 0.5, "de") == "nach unten unbegrenzt, bis 0,50"
    assert charts_impact.interval_text(0.1, math.inf, "en") == "from 0.10, unbounded above"
    assert charts_impact.interval_text(-math.inf, math.inf, "en") == "unbounded"
    assert charts_impact.interval_text(-0.0196, 0.0739, "de") == "[−0,02; 0,07]"


def test_page_stays_well_under_a_megabyte(site):
    for prefix in ("", "en/"):
        size = (site.home.site / prefix / IMPACT).stat().st_size
        assert size < PAGE_BUDGET, (prefix, size)


# -- withheld rows, and no survey data at all -------------------------------------------------------

def _withhold(frame: pd.DataFrame, **where) -> tuple[pd.DataFrame, str]:
    """As the pipeline writes a row below the 5-person rule: numbers NaN, suppressed, its note."""
    frame = frame.copy()
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    assert mask.sum() == 1
    frame.loc[mask, list(NUMBERS)] = float("nan")
    frame.loc[mask, "suppressed"] = True
    frame.loc[mask, "indicative"] = False
    frame.loc[mask, "note_de"] = NOTES["suppressed"][0].format(min_cell=5)
    frame.loc[mask, "note_en"] = NOTES["suppressed"][1].format(min_cell=5)
    return frame, " ".join(str(where[k]) for k in ("programme_id", "method", "item", "district_ags", "group"))


def test_withheld_rows_show_no_figure(data):
    impact, key_district = _withhold(data.impact, programme_id="lzz-2", method="did", item="belonging",
                                     district_ags="05766", group="ALL")
    impact, key_pooled = _withhold(impact, programme_id="lzz-2", method="did", item="contacts",
                                   district_ags="ALL", group="volunteer")
    impact, _ = _withhold(impact, programme_id="lzz-2", method="pre_post", item="contacts",
                          district_ags="ALL_COMPARISON", group="volunteer")
    withheld = dataclasses.replace(data, impact=impact)
    for lang, word in (("de", "nicht veröffentlicht"), ("en", "not published")):
        body = pages_impact.impact_page(withheld, Place(lang=lang, path=IMPACT))
        page = "\n".join(body.parts)
        for key in (key_district, key_pooled):
            text = _li(page, key)
            assert word in text
            assert not re.search(r"\d", text.replace("< 5", "").replace(" 5 ", " ")), text
        specs = _specs(page)
        forest = next(s for s in specs if s["layout"]["title"]["text"].startswith("Kontakte" if lang == "de" else "Contacts"))
        label = "Alle Programmkreise: Ehrenamtliche" if lang == "de" else "All programme districts: volunteers"
        label = next(y for y in forest["layout"]["yaxis"]["categoryarray"] if y.replace("<br>", " ") == label)
        drawn = [tr for tr in forest["data"] if tr.get("mode") != "text" and label in tr["y"]]
        assert not drawn, "a withheld row has no point and no interval"
        text = [tr for tr in forest["data"] if tr.get("mode") == "text"]
        assert text and label in text[0]["y"] and f"{word} (< 5)" in text[0]["text"]
        waves = next(s for s in specs if s["layout"].get("annotations"))
        volunteer = [tr for tr in waves["data"] if any(f"{word} (< 5)" in h for h in tr["hovertext"])]
        assert len(volunteer) == 1 and volunteer[0]["y"] == [None, None]


def test_read_impact_blanks_whatever_a_withheld_row_carries():
    con = duckdb.connect()
    row = {c: None for c in COLUMNS} | {"programme_id": "p", "method": "did", "item": "belonging",
                                        "district_ags": "ALL", "group": "ALL", "estimate": 0.4, "ci_low": 0.1,
                                        "ci_high": 0.7, "suppressed": True, "indicative": False}
    frame = pd.DataFrame([row], columns=list(COLUMNS))
    con.register("f", frame)
    con.execute("CREATE TABLE impact_estimates AS SELECT * FROM f")
    out = read_impact(con)
    assert bool(out.loc[0, "suppressed"]) and out.loc[0, list(NUMBERS)].isna().all()


def test_no_survey_data_yet(data):
    con = duckdb.connect()
    assert read_impact(con).empty                      # no table
    con.register("f", empty_impact().astype({"estimate": float}))
    con.execute("CREATE TABLE impact_estimates AS SELECT * FROM f")
    assert read_impact(con).empty                      # a table without rows
    nothing = dataclasses.replace(data, impact=read_impact(con))
    for lang, message in (("de", "Noch keine Befragungsdaten"), ("en", "No survey data yet")):
        body = pages_impact.impact_page(nothing, Place(lang=lang, path=IMPACT))
        page = "\n".join(body.parts)
        assert message in page and body.figures == 0
        assert "Grenzen" in page if lang == "de" else "Limits" in page   # the method and its limits still
        programme = pages_programme.programme_page(nothing, data.catalogue.programme("lzz-2"),
                                                   Place(lang, "programm/lzz-2.html"), None, False)
        assert "#wirkung-" not in "\n".join(programme.parts)


def test_site_asset_waits_for_the_impact_estimates():
    from assets.publish import conference_site
    assert dg.AssetKey("impact_estimates") in conference_site.dependency_keys
