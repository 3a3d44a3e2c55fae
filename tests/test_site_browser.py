"""The conference site in a real browser: headless Debian Chromium opens every page of the demo
site from disk (file://) in an offline context.

Asserted per page, on a phone (390×844) and a desktop (1440×900): no console error, no request
that is not a file on disk, every Plotly div drawn (an SVG `.main-svg` inside it) no wider than
its box, and no horizontal scrolling of the document. Across pages: the start page's scorecard in
the first screen, German and English texts, the "< 5" rule visible, the absolute / per-10,000
switch working with the mouse and the keyboard. One browser and one page for the whole module. In CI these tests must run: a missing
Chromium fails there and is skipped only on a developer's machine.
"""
from __future__ import annotations


import pytest

from dashboards.sitemap import all_paths
from pipeline.catalogue import load_catalogue
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.test_site import demo_site

PAGES = [prefix + path for prefix in ("", "en/") for path in all_paths(load_catalogue())]
DRAWN = """() => [...document.querySelectorAll('.chart')].every(d => d.querySelector('.main-svg'))"""
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1440, "height": 900}
# How far each chart's drawing reaches past its box, and the document past the window (px).
FIT = """() => ({document: document.documentElement.scrollWidth - window.innerWidth,
               charts: [...document.querySelectorAll('.chart')].map(d => [d.id,
                        Math.round(d.querySelector('.main-svg').getBoundingClientRect().width - d.offsetWidth)])
                       .filter(([, over]) => over > 1)})"""




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
    require_chromium()
    from playwright.sync_api import sync_playwright

    site = demo_site(tmp_path_factory)
    recorder = Recorder()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(offline=True, viewport=DESKTOP)

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
def test_page_fits_a_phone_and_a_desktop_and_draws_every_chart(browser_page, relative):
    _, page, recorder = browser_page
    try:
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            page = _open(browser_page, relative)
            charts = page.locator(".chart").count()
            drawn = page.locator(".chart .main-svg").count()
            assert drawn >= charts, f"{relative} at {size}: {drawn} drawn of {charts}"
            fit = page.evaluate(FIT)
            assert fit["document"] <= 0, f"{relative} at {size}: the page scrolls sideways by {fit['document']} px"
            assert fit["charts"] == [], f"{relative} at {size}: charts wider than their box {fit['charts']}"
            assert not recorder.errors, f"{relative} at {size}: console errors {recorder.errors}"
            assert not recorder.network, f"{relative} at {size}: network requests {recorder.network}"
            if "programm/" in relative:
                assert charts >= 3, f"{relative}: a programme page shows its comparison charts"
    finally:
        page.set_viewport_size(DESKTOP)


@pytest.mark.parametrize("relative", ["index.html", "en/index.html"])
def test_scorecard_in_the_first_screen(browser_page, relative):
    """The five-second message: the scorecard's heading and its first district row are inside the
    first screen on a phone and a desktop, the data status above them."""
    _, page, _ = browser_page
    try:
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            page = _open(browser_page, relative)
            first_row = page.locator("table.scorecard tbody tr").nth(1).bounding_box()
            assert first_row["y"] + first_row["height"] <= size["height"], (relative, size, first_row)
            status = page.locator(".status-date").inner_text()
            assert status.startswith("Datenstand" if relative == "index.html" else "Data as of")
    finally:
        page.set_viewport_size(DESKTOP)


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


def test_switch_by_keyboard(browser_page):
    """The absolute / per-10,000 switch as buttons under the chart: Tab reaches them, Enter switches."""
    page = _open(browser_page, "programm/lzz-1.html")
    button = page.locator("#fig-bars-trainings_held + .chart-foot button", has_text="je 10.000 Einw.")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("""() => document.querySelector('#fig-bars-trainings_held .ytitle').textContent
                              .includes('10.000')""")
    assert button.get_attribute("aria-pressed") == "true"


def test_tab_passes_through_a_chart_s_toolbar(browser_page):
    """Tab from the first toolbar button leaves the chart within its few buttons and reaches the
    switch under it, Shift+Tab comes back: the toolbar does not trap the keyboard."""
    page = _open(browser_page, "programm/lzz-1.html")
    page.locator("#fig-bars-trainings_held .modebar-btn").first.focus()
    inside = "() => !!document.activeElement.closest('#fig-bars-trainings_held')"
    assert page.evaluate(inside)
    for _ in range(12):
        page.keyboard.press("Tab")
        if not page.evaluate(inside):
            break
    assert not page.evaluate(inside)
    assert page.evaluate("() => document.activeElement.closest('.chart-foot') !== null")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(inside)


def test_charts_keep_their_height_when_the_window_changes(browser_page):
    """Responsive Plotly re-reads the container on resize; a chart must not collapse then."""
    page = _open(browser_page, "programm/lzz-1.html")
    before = page.locator("#fig-bars-trainings_held .main-svg").first.bounding_box()["height"]
    page.set_viewport_size({"width": 1100, "height": 2000})
    page.wait_for_timeout(400)
    after = page.locator("#fig-bars-trainings_held .main-svg").first.bounding_box()["height"]
    page.set_viewport_size(DESKTOP)
    assert after == pytest.approx(before, abs=2)


def test_impact_page_forest_plots_and_readings(browser_page):
    """The impact page: a forest plot per item drawn, the unbounded amif-nom intervals as arrows at
    the edge, the readings of every result behind a click."""
    page = _open(browser_page, "wirkung.html")
    assert page.locator("[id^='fig-forest-lzz-2-'] .main-svg").count() >= 4
    assert page.locator("#fig-waves-lzz-2 .main-svg").count() >= 1
    arrows = page.locator("#fig-forest-amif-nom-belonging .scatterlayer .point")
    assert arrows.count() > 0
    details = page.locator("details.readings").first
    assert not details.locator("li").first.is_visible()
    details.locator("summary").click()
    assert details.locator("li").first.is_visible()
    assert "0,32 Punkte günstiger" in page.inner_text("main")
    page = _open(browser_page, "en/wirkung.html")
    text = page.inner_text("main")
    assert "0.32 points more favourably" in text and "unbounded" in text
