"""Slides for the conference: each comparison chart as a PNG and one PDF pack, rendered by kaleido
in the system Chromium (Debian `chromium`), never a downloaded browser.

The charts are the site's own (charts_programme.py) after the same "< 5" rule; the switch buttons of the
interactive bar charts are dropped, a slide shows absolute values. With no browser,
`SlidesUnavailable` says so in German and English; the CLI prints it and exits non-zero.
"""
from __future__ import annotations

import asyncio
import base64
import json
import datetime as dt
import re
import contextlib
import html
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go

from dashboards import (charts_overview, charts_programme, geo, i18n, pages_programme, pages_start, privacy, slides_impact,
                        slides_map, style)
from dashboards.pages_common import compact_name, finding, is_finished, place_names, programme_name
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

# A slide is 1280 px wide on a 16:9 page of 297 mm (842 pt): 1 px = 0.66 pt, so 18 pt needs 28 px.
FONT_PX = 28
TITLE_PX = 34
# Indicators per slide: four rows of the heat map still take two-line labels at 28 px.
GROUP_SIZE = 4


def indicator_groups(rows, size: int = GROUP_SIZE) -> list[list[str]]:
    """The programme's targeted indicators in catalogue order, in groups of at most `size`."""
    ids = list(dict.fromkeys(rows[rows["target"].notna() & ~rows["comparison"]]["indicator_id"]))
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def slide_figures(data: site_data.SiteData, lang: str, programmes: list[str] | None = None,
                  notes: list[str] | None = None) -> list[Slide]:
    """Per programme, one slide per group of its targeted indicators: the heat map of those
    indicators across the districts, under a headline that states the finding; then its impact
    slide (slides_impact.py) and its map slide (slides_map.py). Why a programme has no map slide
    goes to `notes`."""
    slides: list[Slide] = []
    features = slides_map.boundaries(data)
    for programme in data.catalogue.programmes:
        if programmes and programme.id not in programmes:
            continue
        rows = pages_programme.heat_rows(data.totals(programme), programme)
        targeted = rows[rows["target"].notna() & ~rows["comparison"]]
        groups = indicator_groups(rows)
        for n, group in enumerate(groups):
            part = targeted[targeted["indicator_id"].isin(group)]
            figure = charts_programme.heatmap(part, lang, data.threshold)
            if figure is None:
                continue
            title = finding(part, data, programme, lang)
            suffix = f"_{n + 1}" if len(groups) > 1 else ""
            slides.append(Slide(f"{programme.id}_{len(slides) + 1:02d}_heatmap{suffix}", title,
                                _for_slide(figure, programme, lang, title)))
        for _, title, figure in slides_impact.impact_slides(data, lang, [programme], _for_slide):
            slides.append(Slide(f"{programme.id}_{len(slides) + 1:02d}_impact", title, figure))
        title, figure = slides_map.map_slide(data, programme, features, lang, _for_slide)
        if figure is None:
            if notes is not None and features is not None:   # no boundaries at all: said once below
                notes.append(i18n.t(lang, "slide_map_none", programme=compact_name(programme, lang), reason=title))
        else:
            slides.append(Slide(f"{programme.id}_{len(slides) + 1:02d}_map", title, figure))
    if features is None and notes is not None:
        notes.append(i18n.t(lang, "map_missing"))
    quality = _quality_slide(data, lang, programmes, len(slides) + 1)
    return slides + ([quality] if quality else [])


def _quality_slide(data: site_data.SiteData, lang: str, programmes: list[str] | None, number: int) -> Slide | None:
    """The talk's data-quality slide: rejected rows by reason, in the districts of the programmes
    shown, under a headline with the total and the most frequent reason."""
    chosen = [p for p in data.catalogue.programmes if not programmes or p.id in programmes]
    districts = {a for p in chosen for a in (*p.districts, *p.comparison_districts)}
    rejected = data.rejections[data.rejections["district_ags"].isin(districts)]
    figure = charts_overview.rejections_by_reason(rejected, {}, lang)
    if figure is None:
        return None
    by_reason = rejected.groupby("reason_code")["rows"].sum().sort_values(ascending=False, kind="stable")
    top = by_reason.index[0]
    title = i18n.t(lang, "slide_quality", rows=i18n.number(int(by_reason.sum()), lang),
                   reason=i18n.REASON[lang].get(top, top), share=i18n.percent(100 * by_reason.iloc[0] / by_reason.sum(), lang))
    figure = _for_slide(figure, None, lang, title)
    if by_reason.max() <= 6:   # counts: whole-number ticks, never 0,5
        figure.update_xaxes(dtick=1)
    return Slide(f"quality_{number:02d}", title, figure)


def _for_slide(figure, programme, lang: str, title: str, wrap: int = 40) -> go.Figure:
    """Static, 16:9, text ≥ 18 pt: the takeaway as headline, the programme named under it for a
    reader of the PDF who did not see the page."""
    figure = go.Figure(figure)
    figure.layout.updatemenus = ()
    for trace in figure.data:
        if trace.type == "bar":   # rejections by reason: one line each at 28 px, without the code
            trace.textfont.size = FONT_PX
            trace.y = tuple(re.sub(r"\s*\([a-z_]+\)$", "", " ".join(str(v).replace("<br>", " ").split()))
                            for v in trace.y)
        if trace.type == "heatmap":
            trace.textfont.size = FONT_PX
            # Narrow label column, upright district names (broken at spaces and hyphens): the
            # cells keep room for "✓ 1.970 %" at 28 px.
            trace.y = tuple(style.wrap(i18n.label(r, lang), 22) for r in _labels(trace.y))
            trace.x = tuple(_district_label(str(v)) for v in trace.x)
    lines = _lines(title, wrap)   # the headline starts above the plot, right of the row labels
    block = 44 * (lines.count("<br>") + 1) + FONT_PX + 14   # headline lines and the programme's name
    top, bottom = block + 90, 20   # the heat map's column names sit above the cells
    # The headline as an annotation anchored at its top: plotly places a multi-line *title* by its
    # first line, and a three-line takeaway ran off the slide.
    headline = dict(text=f"{lines}<br><span style='font-size:{FONT_PX}px;color:#555555'>"
                         f"{html.escape(compact_name(programme, lang) if programme else i18n.t(lang, 'nav_quality'))}</span>",
                    xref="paper", yref="paper", x=0, xanchor="left", align="left", showarrow=False,
                    y=1 + (top - 16) / (HEIGHT - top - bottom), yanchor="top", font=dict(size=TITLE_PX))
    figure.update_layout(width=WIDTH, height=HEIGHT, font=dict(size=FONT_PX), title=None,
                         margin=dict(l=30, r=30, t=top, b=bottom), annotations=[headline])
    figure.update_xaxes(tickangle=0)
    return figure


def _district_label(text: str) -> str:
    name = " ".join(text.replace("<br>", " ").split())
    return style.wrap(name.replace("-", "- "), 12).replace("- ", "-")


def _lines(text: str, width: int) -> str:
    return "<br>".join(html.escape(line) for line in style.wrap(text, width).split("<br>"))


def _labels(labels) -> list[dict]:
    """Axis labels back to plain text (the page wraps them at another width)."""
    return [{"label_de": str(v).replace("<br>", " "), "label_en": str(v).replace("<br>", " ")} for v in labels]


# -- rendering ------------------------------------------------------------------------------------

def export_slides(home: Home, lang: str = "de", browser_path: str | os.PathLike | None = None,
                  privacy_threshold: int = privacy.DEFAULT_THRESHOLD, programmes: list[str] | None = None,
                  notes: list[str] | None = None) -> list[Path]:
    """Write `slides/<chart>.png` for each comparison chart and `slides/folien_<lang>.pdf`;
    return the paths (PNGs, then the PDF). Raises SlidesUnavailable when no browser can run."""
    browser = find_browser(browser_path)
    catalogue = load_catalogue(home.catalogue_dir)
    indicators = load_indicators(catalogue)
    with warehouse.connect(home.warehouse, read_only=True) as con:
        data = site_data.load(con, catalogue, indicators, privacy_threshold)
    slides = slide_figures(data, lang, programmes, notes)
    chosen = [p for p in data.catalogue.programmes if not programmes or p.id in programmes]
    out = home.root / "slides"
    out.mkdir(parents=True, exist_ok=True)
    with _browser_env(browser):
        try:
            images, pdf = asyncio.run(_render(slides, browser, _front(data, chosen, lang, dt.date.today())))
        except SlidesUnavailable:
            raise
        except Exception as error:  # the browser would not start or died: the same advice holds
            if type(error).__name__ in ("ChromeNotFoundError", "BrowserFailedError", "BrowserClosedError"):
                raise SlidesUnavailable(_message(browser) + f"\n({type(error).__name__}: {error})") from None
            raise
    written = []
    # A slide of an earlier export that is not in this one (a map slide before the boundaries
    # went, numbers shifted by it) would pass for current: gone.
    current = {f"{slide.name}_{lang}.png" for slide in slides}
    for stale in out.glob(f"*_{lang}.png"):
        if stale.name not in current:
            stale.unlink()
    for slide, image in zip(slides, images):
        path = out / f"{slide.name}_{lang}.png"   # both languages side by side
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


async def _render(slides: list[Slide], browser: str, front: list[str]) -> tuple[list[bytes], bytes]:
    import kaleido

    opts = {"format": "png", "width": WIDTH, "height": HEIGHT, "scale": SCALE}
    # Local plotly.js and no MathJax: kaleido's defaults would fetch both from a CDN. The map
    # slides need the site's stub of the world topojson before plotly.js, else plotly.js fetches
    # it from a CDN: one script, the stub first.
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "plotly-geo-stub.min.js"
        script.write_text(geo.GEO_STUB + "\n" + _plotly_js().read_text(encoding="utf-8"), encoding="utf-8")
        async with kaleido.Kaleido(n=1, plotlyjs=str(script), mathjax=False, path=browser) as k:
            images = [await k.calc_fig(slide.figure, opts=opts) for slide in slides]
            pdf = await _print_pack(k, slides, images, front)
    return images, pdf


def _front(data: site_data.SiteData, programmes, lang: str, today: dt.date) -> list[str]:
    """The talk's first slides as HTML sections: the title (programmes, funders, date, data
    status), then per programme its summary: the finding in one sentence and its districts'
    scorecard (targets met of all, the districts behind first)."""
    t = lambda key, **kw: i18n.t(lang, key, **kw)  # noqa: E731
    names = "".join(f"<li>{html.escape(programme_name(p, lang))}</li>" for p in programmes)
    funders = ", ".join(dict.fromkeys(i18n.funder(p.funder, lang) for p in programmes))
    status = data.status_line(lang)
    out = [f"<section class='cover'><h1>{html.escape(t('site_title'))}</h1><ul>{names}</ul>"
           f"<p>{html.escape(t('funder'))}: {html.escape(funders)}</p>"
           f"<p>{html.escape(t('slides_date', date=i18n.date(today, lang)))} · {html.escape(status)}</p></section>"]
    sentences = dict(zip([p.id for p in data.catalogue.programmes], pages_start.headlines(data, lang)))
    for p in programmes:
        counts = pages_start.district_counts(data, p)
        finished = is_finished(data, p)
        rows = sorted(((pages_start.missed_count(c, finished), a, c) for a, c in counts.items()), key=lambda r: -r[0])
        cells = "".join(f"<tr><td>{html.escape(place_names(data, [a], lang)[0])}</td>"
                        f"<td class='n'>{c[0]} / {c[3]}</td><td>{'✗' if m else '✓'}</td></tr>" for m, a, c in rows[:8])
        out.append(f"<section class='summary'><h2>{html.escape(compact_name(p, lang))}</h2>"
                   f"<p>{html.escape(sentences[p.id])}</p><table><tr><th>{html.escape(t('districts'))}</th>"
                   f"<th>{html.escape(t('slides_met'))}</th><th></th></tr>{cells}</table></section>")
    return out


def _pack_html(slides: list[Slide], images: list[bytes], front: list[str]) -> str:
    pages_html = list(front)
    for slide, image in zip(slides, images):
        data = base64.b64encode(image).decode("ascii")
        pages_html.append(f"<section><img alt='{html.escape(slide.title)}' src='data:image/png;base64,{data}'></section>")
    # Text slides at 20 pt and more: readable from the back of the room.
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
            "@page{size:297mm 167mm;margin:0}body{margin:0;font-family:system-ui,sans-serif}"
            "section{width:297mm;height:167mm;display:flex;flex-direction:column;align-items:center;"
            "justify-content:center;page-break-after:always;overflow:hidden;box-sizing:border-box;padding:0 18mm}"
            "img{max-width:100%;max-height:100%}"
            ".cover h1{font-size:34pt;text-align:center;margin:0 0 8mm}.cover ul{list-style:none;padding:0;margin:0 0 6mm;"
            "font-size:22pt;text-align:center}.cover p{font-size:20pt;margin:2mm 0;text-align:center}"
            ".summary{align-items:flex-start;justify-content:flex-start;padding-top:12mm}.summary h2{font-size:30pt;margin:0 0 4mm}"
            ".summary p{font-size:20pt;margin:0 0 5mm}.summary table{font-size:18pt;border-collapse:collapse}"
            ".summary td,.summary th{padding:1mm 5mm;border-bottom:1px solid #ccc;text-align:left}.summary td.n{text-align:right}"
            "</style></head><body>" + "".join(pages_html) + "</body></html>")


async def _print_pack(browser, slides: list[Slide], images: list[bytes], front: list[str]) -> bytes:
    """One PDF: the slides' PNGs, one per landscape 16:9 page, printed by the same Chromium."""
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "pack.html"
        page.write_text(_pack_html(slides, images, front), encoding="utf-8")
        tab = await browser.create_tab(page.as_uri())
        # A new tab is about:blank, "complete" before the pack's navigation commits: printing it
        # then gave an empty first page now and then. Wait for the pack itself to be complete.
        ready = f"document.readyState === 'complete' && location.href === {json.dumps(page.as_uri())}"
        for _ in range(400):  # the images are inline: loaded within moments
            state = await tab.send_command("Runtime.evaluate", params={"expression": ready})
            if state.get("result", {}).get("result", {}).get("value") is True:
                break
            await asyncio.sleep(0.05)
        response = await tab.send_command("Page.printToPDF", params={
            "printBackground": True, "preferCSSPageSize": True, "marginTop": 0, "marginBottom": 0,
            "marginLeft": 0, "marginRight": 0})
        await browser.close_tab(tab.target_id)
    if "error" in response:
        raise RuntimeError(f"printToPDF: {response['error']}")
    return base64.b64decode(response["result"]["data"])


def run_cli(home: Home, lang: str = "de", browser_path: str | os.PathLike | None = None) -> int:
    """For `teilhabe slides [--home DIR]`: print what was written, or why nothing could be; 0 / 1.
    No traceback for a missing browser: that is the operator's situation, not a bug."""
    import sys

    notes: list[str] = []
    try:
        written = export_slides(home, lang=lang, browser_path=browser_path, notes=notes)
    except SlidesUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    for note in notes:   # e.g. why a programme has no map slide
        print(note, file=sys.stderr)
    for path in written:
        print(path)
    return 0
