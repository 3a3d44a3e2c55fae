"""Slides as a talk: a title slide (programmes, funder, date, data status), a summary per
programme, then one heat-map slide per group of indicators under a headline that states the
finding; PNGs and the PDF carry the language in their names, so German and English live side by
side. Rendered by kaleido in the system Chromium; with no browser, a clear bilingual
SlidesUnavailable instead of a traceback deep in kaleido."""
from __future__ import annotations

import datetime as dt
import os

import pytest

from dashboards import i18n, slides
from dashboards import data as site_data
from dashboards.slides import SlidesUnavailable, export_slides
from pipeline import warehouse
from tests.conftest import CHROMIUM, require_chromium
from tests.test_site import demo_site


def _published(site):
    with warehouse.connect(site.home.warehouse, read_only=True) as con:
        return site_data.load(con, site.catalogue, site.indicators)


def test_both_languages_side_by_side_and_the_title_slide_says_date_and_data_status(tmp_path_factory, monkeypatch):
    require_chromium()
    from pypdf import PdfReader

    monkeypatch.delenv(slides.BROWSER_ENV, raising=False)
    site = demo_site(tmp_path_factory)
    german = export_slides(site.home, lang="de", browser_path=str(CHROMIUM), programmes=["lzz-1"])
    english = export_slides(site.home, lang="en", browser_path=str(CHROMIUM), programmes=["lzz-1"])
    folder = site.home.root / "slides"
    assert german[-1] == folder / "folien_de.pdf" and english[-1] == folder / "folien_en.pdf"
    for written, lang in ((german, "de"), (english, "en")):
        pngs = written[:-1]
        # lzz-1 has 8 targeted indicators: two slides of four, never a slide per single bar; then
        # the data-quality slide.
        assert [p.name for p in pngs] == [f"lzz-1_01_heatmap_1_{lang}.png", f"lzz-1_02_heatmap_2_{lang}.png",
                                          f"quality_03_{lang}.png"]
        for png in pngs:
            data = png.read_bytes()
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, png.name
    assert all(p.exists() for p in german + english)   # the English run did not overwrite the German files
    data = _published(site)
    today = dt.date.today()
    for pdf, lang, words in ((german[-1], "de", ("Datenstand", "Robert Bosch Stiftung", "Folien vom")),
                             (english[-1], "en", ("Data as of", "Robert Bosch Stiftung", "Slides of"))):
        reader = PdfReader(pdf)
        first = " ".join(reader.pages[0].extract_text().split())
        for word in words:
            assert word in first, (lang, first)
        assert i18n.date(data.as_of, lang) in first and i18n.date(today, lang) in first, first
        summary = " ".join(reader.pages[1].extract_text().split())
        assert "Land.Zuhause.Zukunft" in summary
        assert ("36 von 38 Zielwerten erreicht" if lang == "de" else "36 of 38 targets met") in summary, summary
        assert len(reader.pages) == 2 + 2 + 1   # title, one summary, two heat-map slides, data quality
    assert os.environ.get(slides.BROWSER_ENV) is None  # set for the export only


def test_every_chart_slide_states_its_finding_in_18_pt(tmp_path_factory):
    """The headline is the finding, computed from the slide's own cells; every text at 28 px of a
    1280 px slide (18 pt on a 297 mm page) or more."""
    site = demo_site(tmp_path_factory)
    data = _published(site)
    found = slides.slide_figures(data, "de", ["lzz-1"])
    assert len(found) == 3
    quality = found.pop()
    # The quality slide's headline: the findings in lzz-1's districts and the most frequent reason.
    mine = data.rejections[data.rejections["district_ags"].isin(site.catalogue.programme("lzz-1").districts)]
    total = int(mine["rows"].sum())
    assert quality.title.startswith(f"{total} Befunde in abgelehnten Zeilen, am häufigsten: ")
    # The same 38 targets as the start page's scorecard (36 met): the first four indicators are met
    # in all six districts (24); of the other 14 targets, Prignitz and Ludwigslust-Parchim miss one each.
    assert [s.title for s in found] == [
        "Alle 24 Zielwerte erreicht",
        "12 von 14 Zielwerten erreicht, 2 nicht erreicht; nicht erreicht in Prignitz, Ludwigslust-Parchim"]
    for slide in found:
        layout = slide.figure.layout
        assert layout.font.size >= slides.FONT_PX and layout.annotations[0].font.size >= slides.FONT_PX
        assert layout.annotations[0].text.startswith(slide.title.split(";")[0][:30])
        assert all(tr.textfont.size >= slides.FONT_PX for tr in slide.figure.data if tr.type == "heatmap")
        assert (layout.width, layout.height) == (1280, 720)


def test_no_browser_says_so(tmp_path_factory, monkeypatch):
    site = demo_site(tmp_path_factory)
    with pytest.raises(SlidesUnavailable) as caught:
        export_slides(site.home, browser_path="/nonexistent/chromium")
    message = str(caught.value)
    assert "Kein Chromium-Browser gefunden" in message and "no Chromium browser found" in message
    assert "/nonexistent/chromium" in message and "BROWSER_PATH" in message
    monkeypatch.setenv(slides.BROWSER_ENV, "/nonexistent/too")
    with pytest.raises(SlidesUnavailable, match="/nonexistent/too"):
        slides.find_browser()
