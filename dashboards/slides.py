"""Slides for the conference: each comparison chart as a PNG and one PDF pack, rendered by kaleido
in the system Chromium (Debian `chromium`), never a downloaded browser.

The charts are the site's own (charts_programme.py) after the same "< 5" rule; the switch buttons of the
interactive bar charts are dropped, a slide shows absolute values. With no browser,
`SlidesUnavailable` says so in German and English; the CLI prints it and exits non-zero.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go

from dashboards import charts_programme, i18n, pages_programme, privacy
from dashboards import data as site_data
from pipeline import warehouse
from pipeline.catalogue import load_catalogue
from pipeline.home import Home
from pipeline.indicators import load_indicators
from pipeline.tables import write_if_changed

# choreographer, the browser driver under kaleido, takes the browser from this variable.
BROWSER_ENV = "BROWSER_PATH"
SYSTEM_BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
WIDTH, HEIGHT, SCALE = 1280, 720, 1.5
PACK_NAME = "folien_{lang}.pdf"


class SlidesUnavailable(Exception):
    """No browser to render with; the message says what to do, in German and English."""


@dataclass(frozen=True)
class Slide:
    name: str        # file stem, e.g. "lzz-1_02_bars_trainings_held"
    title: str
    figure: go.Figure


def _executable(path: str | os.PathLike | None) -> str | None:
    if not path:
        return None
    found = shutil.which(str(path)) if os.sep not in str(path) else str(path)
    return found if found and os.path.isfile(found) and os.access(found, os.X_OK) else None


def find_browser(browser_path: str | os.PathLike | None = None) -> str:
    """The argument, else BROWSER_PATH, else the system Chromium. A path given but unusable is an
    error, not a reason to look elsewhere: the operator meant that one."""
    explicit = browser_path or os.environ.get(BROWSER_ENV)
    if explicit:
        found = _executable(explicit)
        if found:
            return found
        raise SlidesUnavailable(_message(str(explicit)))
    for candidate in (*SYSTEM_BROWSERS, "chromium", "chromium-browser"):
        found = _executable(candidate)
        if found:
            return found
    raise SlidesUnavailable(_message(", ".join(SYSTEM_BROWSERS)))


def _message(where: str) -> str:
    return (f"Keine Folien: Kein Chromium-Browser gefunden ({where}). Bitte das Debian-Paket „chromium“ "
            f"installieren (apt-get install chromium) oder {BROWSER_ENV} auf den Browser setzen.\n"
            f"No slides: no Chromium browser found ({where}). Install the Debian package 'chromium' "
            f"(apt-get install chromium) or set {BROWSER_ENV} to the browser.")


# -- which charts ---------------------------------------------------------------------------------

def slide_figures(data: site_data.SiteData, lang: str, programmes: list[str] | None = None) -> list[Slide]:
    """Per programme: the attainment heatmap, a bar chart per indicator with a target, the cumulative
    progress charts and the micro-project fund."""
    slides: list[Slide] = []
    for programme in data.catalogue.programmes:
        if programmes and programme.id not in programmes:
            continue
        totals, quarters = data.totals(programme), data.quarters(programme)
        found: list[tuple[str, str, go.Figure | None]] = [
            ("heatmap", i18n.t(lang, "heatmap_title"),
             charts_programme.heatmap(pages_programme.heat_rows(totals, programme), lang, data.threshold))]
        targeted = [i for i in data.indicators
                    if ((totals["indicator_id"] == i.id) & totals["target"].notna()).any()]
        for indicator in targeted:
            found.append((f"bars_{indicator.id}", i18n.label(indicator, lang),
                          charts_programme.indicator_bars(totals, indicator, programme, data.catalogue.districts, lang,
                                                data.threshold)))
        for indicator in targeted:
            found.append((f"progress_{indicator.id}", i18n.label(indicator, lang),
                          charts_programme.cumulative(quarters, pages_programme.heat_rows(totals, programme),
                                                      indicator, programme, lang)))
        for ags, projects, budget, cap in pages_programme.micro_inputs(data, programme, totals):
            label = (cap.label_de if lang == "de" else cap.label_en) if cap else None
            found.append((f"micro_{ags}", i18n.t(lang, "micro_title"),
                          charts_programme.micro_funding(projects, budget, cap.value if cap else None, lang, cap_label=label)))
        for n, (kind, title, figure) in enumerate(f for f in found if f[2] is not None):
            slides.append(Slide(f"{programme.id}_{n + 1:02d}_{kind}", title, _for_slide(figure, programme, lang, title)))
    return slides


def _for_slide(figure: go.Figure, programme, lang: str, fallback_title: str) -> go.Figure:
    """Static: no switch buttons, room at the edges, the programme named under the title for a
    reader of the PDF who did not see the page."""
    figure = go.Figure(figure)
    figure.layout.updatemenus = ()
    name = programme.name_de if lang == "de" else programme.name_en
    title = figure.layout.title.text or fallback_title
    top = 160 if figure.layout.xaxis.side == "top" else 110  # heatmap labels sit above the cells
    figure.update_layout(width=WIDTH, height=HEIGHT, margin=dict(l=90, r=50, t=top, b=110),
                         title=dict(text=f"{title}<br><span style='font-size:13px;color:#555555'>"
                                         f"{html.escape(name)}</span>", x=0.02, xanchor="left"))
    return figure


# -- rendering ------------------------------------------------------------------------------------

def export_slides(home: Home, lang: str = "de", browser_path: str | os.PathLike | None = None,
                  privacy_threshold: int = privacy.DEFAULT_THRESHOLD, programmes: list[str] | None = None) -> list[Path]:
    """Write `slides/<chart>.png` for each comparison chart and `slides/folien_<lang>.pdf`;
    return the paths (PNGs, then the PDF). Raises SlidesUnavailable when no browser can run."""
    browser = find_browser(browser_path)
    catalogue = load_catalogue(home.catalogue_dir)
    indicators = load_indicators(catalogue)
    with warehouse.connect(home.warehouse, read_only=True) as con:
        data = site_data.load(con, catalogue, indicators, privacy_threshold)
    slides = slide_figures(data, lang, programmes)
    out = home.root / "slides"
    out.mkdir(parents=True, exist_ok=True)
    with _browser_env(browser):
        try:
            images, pdf = asyncio.run(_render(slides, browser, _pack_title(lang, data)))
        except SlidesUnavailable:
            raise
        except Exception as error:  # the browser would not start or died: the same advice holds
            if type(error).__name__ in ("ChromeNotFoundError", "BrowserFailedError", "BrowserClosedError"):
                raise SlidesUnavailable(_message(browser) + f"\n({type(error).__name__}: {error})") from None
            raise
    written = []
    for slide, image in zip(slides, images):
        path = out / f"{slide.name}.png"
        write_if_changed(path, image)
        written.append(path)
    pack = out / PACK_NAME.format(lang=lang)
    write_if_changed(pack, pdf)
    written.append(pack)
    return written


@contextlib.contextmanager
def _browser_env(browser: str):
    """BROWSER_PATH for the duration of the export only: choreographer reads it."""
    before = os.environ.get(BROWSER_ENV)
    os.environ[BROWSER_ENV] = browser
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(BROWSER_ENV, None)
        else:
            os.environ[BROWSER_ENV] = before


def _plotly_js() -> Path:
    import plotly
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


async def _render(slides: list[Slide], browser: str, title: str) -> tuple[list[bytes], bytes]:
    import kaleido

    opts = {"format": "png", "width": WIDTH, "height": HEIGHT, "scale": SCALE}
    # Local plotly.js and no MathJax: kaleido's defaults would fetch both from a CDN.
    async with kaleido.Kaleido(n=1, plotlyjs=str(_plotly_js()), mathjax=False, path=browser) as k:
        images = [await k.calc_fig(slide.figure, opts=opts) for slide in slides]
        pdf = await _print_pack(k, slides, images, title)
    return images, pdf


def _pack_html(slides: list[Slide], images: list[bytes], title: str) -> str:
    pages_html = [f"<section class='cover'><h1>{html.escape(title)}</h1></section>"]
    for slide, image in zip(slides, images):
        data = base64.b64encode(image).decode("ascii")
        pages_html.append(f"<section><img alt='{html.escape(slide.title)}' src='data:image/png;base64,{data}'></section>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
            "@page{size:297mm 167mm;margin:0}body{margin:0;font-family:system-ui,sans-serif}"
            "section{width:297mm;height:167mm;display:flex;align-items:center;justify-content:center;"
            "page-break-after:always;overflow:hidden}img{max-width:100%;max-height:100%}"
            ".cover h1{font-size:28pt;text-align:center;padding:0 20mm}"
            "</style></head><body>" + "".join(pages_html) + "</body></html>")


async def _print_pack(browser, slides: list[Slide], images: list[bytes], title: str) -> bytes:
    """One PDF: the slides' PNGs, one per landscape 16:9 page, printed by the same Chromium."""
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "pack.html"
        page.write_text(_pack_html(slides, images, title), encoding="utf-8")
        tab = await browser.create_tab(page.as_uri())
        for _ in range(200):  # the images are inline: loaded within moments
            state = await tab.send_command("Runtime.evaluate", params={"expression": "document.readyState"})
            if state.get("result", {}).get("result", {}).get("value") == "complete":
                break
            await asyncio.sleep(0.05)
        response = await tab.send_command("Page.printToPDF", params={
            "printBackground": True, "preferCSSPageSize": True, "marginTop": 0, "marginBottom": 0,
            "marginLeft": 0, "marginRight": 0})
        await browser.close_tab(tab.target_id)
    if "error" in response:
        raise RuntimeError(f"printToPDF: {response['error']}")
    return base64.b64decode(response["result"]["data"])


def _pack_title(lang: str, data: site_data.SiteData) -> str:
    return i18n.t(lang, "site_title")


def run_cli(home: Home, lang: str = "de", browser_path: str | os.PathLike | None = None) -> int:
    """For `teilhabe slides [--home DIR]`: print what was written, or why nothing could be; 0 / 1.
    No traceback for a missing browser: that is the operator's situation, not a bug."""
    import sys

    try:
        written = export_slides(home, lang=lang, browser_path=browser_path)
    except SlidesUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0
