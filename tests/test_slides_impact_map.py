"""The talk's impact and map slides (issue 16): per programme with survey estimates one impact
slide whose headline is the impact page's verdict for the primary outcome, never a number the site
withholds, and "inference needs more districts" where the site says so; per programme one map
slide, the programme page's map, or none (and a note why) without boundaries. Built from the same
SiteData as the site, so the same disclosure and approval rules hold."""
from __future__ import annotations

import dataclasses
import re

from dashboards import geo, pages_impact, slides, withhold
from dashboards import data as site_data
from pipeline import warehouse
from pipeline.indicators.model import ALL
from tests.test_site import demo_site, synthetic_geojson


def _published(site):
    with warehouse.connect(site.home.warehouse, read_only=True) as con:
        return site_data.load(con, site.catalogue, site.indicators)


def _numbers(figure) -> str:
    """Every text and number a slide shows: headline, tick labels aside (the axis scale)."""
    out = [a.text or "" for a in figure.layout.annotations]
    for trace in figure.data:
        out += [str(v) for v in (trace.x or ())] + [str(v) for v in (getattr(trace, "text", None) or ())]
    return " ".join(out)


def test_impact_slide_states_the_site_verdict_for_the_primary_outcome(tmp_path_factory, monkeypatch):
    monkeypatch.delenv(geo.ENV, raising=False)
    site = demo_site(tmp_path_factory)
    data = _published(site)
    found = {s.name: s for s in slides.slide_figures(data, "de", ["lzz-2", "amif-nom"])}
    # lzz-2: two heat-map slides, then the impact slide; no map without boundaries; amif-nom
    # likewise; then the data-quality slide.
    assert list(found) == ["lzz-2_01_heatmap_1", "lzz-2_02_heatmap_2", "lzz-2_03_impact",
                           "amif-nom_04_heatmap_1", "amif-nom_05_heatmap_2", "amif-nom_06_impact", "quality_07"]
    impact = found["lzz-2_03_impact"]
    # The planted finding (README): belonging, the primary outcome, DiD +0.32, 95 % interval
    # 0.26 to 0.39 with p < 5 %: the page's chip says "Unterschied belegt".
    row = data.impact[(data.impact["programme_id"] == "lzz-2") & (data.impact["method"] == "did")
                      & (data.impact["item"] == "belonging") & (data.impact["district_ags"] == ALL)
                      & (data.impact["group"] == ALL)].iloc[0]
    assert "Unterschied belegt" in pages_impact.impact_chips(row, "de")
    assert impact.title == "Zugehörigkeit (Hauptergebnis): Unterschied belegt, +0,32 [0,26; 0,39]"
    # the point on the chart is the published estimate (first marker trace, first point)
    points = [tr for tr in impact.figure.data if tr.mode == "markers"]
    assert round(points[0].x[0], 2) == 0.32
    assert all(tr.textfont.size is None or tr.textfont.size >= slides.FONT_PX for tr in impact.figure.data)
    assert impact.figure.layout.yaxis.tickfont.size >= slides.FONT_PX
    # amif-nom: one programme district against two comparison districts — no inference, and the
    # slide says so instead of an estimate: no number of the estimate anywhere on it.
    amif = found["amif-nom_06_impact"]
    assert amif.title == "Wirkung: Inferenz braucht mehr Kreise"
    assert not amif.figure.data
    assert "1 Programmkreis, 2 Vergleichskreise" in _numbers(amif.figure)
    english = [s for s in slides.slide_figures(data, "en", ["lzz-2"]) if s.name.endswith("_impact")]
    assert english[0].title == "Sense of belonging (primary outcome): difference established, +0.32 [0.26, 0.39]"


def test_no_impact_number_the_site_withholds(tmp_path_factory, monkeypatch):
    """A respondent group under 5 in one lzz-2 district blocks it (withhold.py): every pooled DiD
    of lzz-2 is built from that district's cells, so the site withholds them, and the slide shows
    the word, not the +0,32 or its interval."""
    monkeypatch.delenv(geo.ENV, raising=False)
    site = demo_site(tmp_path_factory)
    data = _published(site)
    programme = site.catalogue.programme("lzz-2")
    blocked = withhold.withhold_impact(data.impact, {("lzz-2", programme.districts[0])}, site.catalogue)
    cut = dataclasses.replace(data, impact=blocked)
    impact = [s for s in slides.slide_figures(cut, "de", ["lzz-2"]) if s.name.endswith("_impact")][0]
    assert impact.title == "Zugehörigkeit (Hauptergebnis): nicht veröffentlicht"
    shown = _numbers(impact.figure)
    assert not re.search(r"0[,.]32|0[,.]26|0[,.]39", shown), shown
    assert not [tr for tr in impact.figure.data if tr.mode == "markers"]   # no point drawn


def test_map_slide_is_the_programme_page_map_or_none_with_a_note(tmp_path_factory, tmp_path, monkeypatch):
    site = demo_site(tmp_path_factory)
    data = _published(site)
    monkeypatch.delenv(geo.ENV, raising=False)
    notes: list[str] = []
    assert not [s for s in slides.slide_figures(data, "de", ["lzz-1"], notes) if s.name.endswith("_map")]
    assert notes == [slides.i18n.t("de", "map_missing")]
    programme = site.catalogue.programme("lzz-1")
    path = synthetic_geojson(tmp_path / "kreise.geojson", [*programme.districts, *programme.comparison_districts])
    monkeypatch.setenv(geo.ENV, str(path))
    data = _published(site)
    found = slides.slide_figures(data, "de", ["lzz-1"])
    assert [s.name for s in found] == ["lzz-1_01_heatmap_1", "lzz-1_02_heatmap_2", "lzz-1_03_map", "quality_04"]
    drawn = found[2]
    # The start page's count for lzz-1 (36 of 38 met); Prignitz and Ludwigslust-Parchim miss one each.
    assert drawn.title == ("36 von 38 Zielwerten erreicht, 2 nicht erreicht; nicht erreicht in Prignitz, "
                           "Ludwigslust-Parchim")
    areas = [tr for tr in drawn.figure.data if tr.type == "choropleth"]
    assert sorted(a for tr in areas for a in tr.locations) == sorted({*programme.districts, *programme.comparison_districts})
    assert drawn.figure.layout.legend.font.size >= slides.FONT_PX
