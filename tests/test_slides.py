"""Slides: PNGs of the comparison charts and one PDF pack through kaleido and the system Chromium;
with no browser, a clear bilingual SlidesUnavailable instead of a traceback deep in kaleido."""
from __future__ import annotations

import os

import pytest

from dashboards import slides
from dashboards.slides import SlidesUnavailable, export_slides
from tests.conftest import CHROMIUM, require_chromium
from tests.test_site import demo_site





def test_png_per_chart_and_one_pdf(tmp_path_factory, monkeypatch):
    require_chromium()
    monkeypatch.delenv(slides.BROWSER_ENV, raising=False)
    site = demo_site(tmp_path_factory)
    written = export_slides(site.home, lang="de", browser_path=str(CHROMIUM), programmes=["lzz-1"])
    pngs, pdf = written[:-1], written[-1]
    assert pdf == site.home.root / "slides" / "folien_de.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pngs and all(p.suffix == ".png" and p.parent == pdf.parent for p in pngs)
    for png in pngs:
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, png.name
    names = [p.stem for p in pngs]
    assert names[0] == "lzz-1_01_heatmap"
    assert "lzz-1_02_bars_trainings_held" in names and any("micro_13076" in n for n in names)
    assert os.environ.get(slides.BROWSER_ENV) is None  # set for the export only


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
