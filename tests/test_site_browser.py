"""The conference site in a real browser: headless Debian Chromium opens every page of the demo
site from disk (file://) in an offline context.

Asserted per page: no console error, no request that is not a file on disk, every Plotly div
drawn (an SVG `.main-svg` inside it). Across pages: German and English texts, the "< 5" rule
visible, the absolute / per-10,000 switch working. In CI these tests must run: a missing
Chromium fails there and is skipped only on a developer's machine.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboards.pages import all_paths
from pipeline.catalogue import load_catalogue
from tests.test_site import demo_site

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PAGES = [prefix + path for prefix in ("", "en/") for path in all_paths(load_catalogue())]
DRAWN = """() => [...document.querySelectorAll('.chart')].every(d => d.querySelector('.main-svg'))"""


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} fehlt / is missing: .ci/run installs the Debian package chromium")
    pytest.skip(f"{CHROMIUM} missing (install the Debian package chromium); CI does not skip this")


class Recorder:
    """Console errors, page errors and any request that would leave the disk."""

    def __init__(self):
        self.errors: list[str] = []
        self.network: list[str] = []

    def reset(self):
        self.errors.clear()
        self.network.clear()


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    site = demo_site(tmp_path_factory)
    recorder = Recorder()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})

        def route(route):
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                recorder.network.append(route.request.url)
                route.abort()

        context.route("**/*", route)
        context.on("request", lambda r: None if r.url.startswith(("file://", "data:")) else recorder.network.append(r.url))
        page = context.new_page()
        page.on("console", lambda m: recorder.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: recorder.errors.append(str(e)))
        yield site, page, recorder
        context.close()
        browser.close()


def _open(browser_page, relative: str):
    site, page, recorder = browser_page
    recorder.reset()
    page.goto((site.home.site / relative).as_uri(), wait_until="load")
    page.wait_for_function(DRAWN, timeout=20_000)
    return page


@pytest.mark.parametrize("relative", PAGES)
def test_page_opens_offline_and_draws_every_chart(browser_page, relative):
    page = _open(browser_page, relative)
    _, _, recorder = browser_page
    charts = page.locator(".chart").count()
    drawn = page.locator(".chart .main-svg").count()
    assert drawn >= charts, f"{relative}: {drawn} drawn of {charts}"
    assert not recorder.errors, f"{relative}: console errors {recorder.errors}"
    assert not recorder.network, f"{relative}: network requests {recorder.network}"
    if relative.endswith(("index.html", ".html")) and "programm/" in relative:
        assert charts >= 3, f"{relative}: a programme page shows its comparison charts"


def test_german_and_english_texts(browser_page):
    page = _open(browser_page, "index.html")
    assert page.get_attribute("html", "lang") == "de"
    text = page.inner_text("main")
    assert "Zielwerten erreicht" in text and "Landkreise" in text and "Laufzeit" in text
    page.click("text=English")
    page.wait_for_function(DRAWN)
    assert page.get_attribute("html", "lang") == "en"
    text = page.inner_text("main")
    assert "targets met" in text and "Districts" in text and "Period" in text
    assert page.url.endswith("/en/index.html")


def test_less_than_five_is_visible(browser_page):
    page = _open(browser_page, "kreis/13076.html")
    assert "< 5" in page.inner_text("main")                       # the note in the page
    assert page.locator(".chart text", has_text="< 5").count() > 0  # the label on a hatched bar
    page = _open(browser_page, "en/kreis/13076.html")
    assert page.locator(".chart text", has_text="< 5").count() > 0


def test_map_drawn_offline(browser_page):
    page = _open(browser_page, "programm/lzz-1.html")
    assert page.locator("#fig-map .choroplethlocation").count() >= 6  # the six lzz-1 districts


def test_switch_to_per_10k(browser_page):
    page = _open(browser_page, "programm/lzz-1.html")
    chart = page.locator("#fig-bars-trainings_held")
    assert "Veranstaltungen" in chart.locator(".ytitle").text_content()
    chart.locator(".updatemenu-button", has_text="je 10.000 Einw.").click()
    page.wait_for_function("""() => document.querySelector('#fig-bars-trainings_held .ytitle').textContent
                              .includes('10.000')""")


def test_charts_keep_their_height_when_the_window_changes(browser_page):
    """Responsive Plotly re-reads the container on resize; a chart must not collapse then."""
    page = _open(browser_page, "programm/lzz-1.html")
    before = page.locator("#fig-bars-trainings_held .main-svg").first.bounding_box()["height"]
    page.set_viewport_size({"width": 1100, "height": 2000})
    page.wait_for_timeout(400)
    after = page.locator("#fig-bars-trainings_held .main-svg").first.bounding_box()["height"]
    page.set_viewport_size({"width": 1400, "height": 900})
    assert after == pytest.approx(before, abs=2)
