"""Build the conference site: `site/index.html` (German) and `site/en/index.html` (English), the
same pages in both (start, programmes, districts, impact, data quality, methods), one shared
`site/plotly.min.js`, the quality reports copied beside them.

Deterministic: the same warehouse gives byte-identical files (no timestamps, no random ids), and
a file whose bytes are already on disk is not rewritten (tables.write_if_changed), so a second
run touches nothing and a changed district rewrites only the pages that show it.
Every page is rendered on each build, in the calling process: whether the build runs at all is
the Dagster asset's to decide (its data version), not a manifest's here.
Offline: nothing on any page is fetched from a network; the site opens from disk.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from dashboards import data as site_data
from dashboards import (downloads, geo, i18n, layout, pages_common, pages_district, pages_impact, pages_methods,
                        pages_programme, pages_quality, pages_start, privacy, sitemap)
from pipeline.catalogue import Catalogue
from pipeline.home import Home
from pipeline.indicators.model import IndicatorCatalogue
from pipeline.tables import folder_entries, write_if_changed

REPORTS_DIR = "reports"


def plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs
    return get_plotlyjs().encode("utf-8")


def build_site(con, catalogue: Catalogue, indicators: IndicatorCatalogue, home: Home, lang_default: str = "de",
               privacy_threshold: int = privacy.DEFAULT_THRESHOLD, geojson_path: str | os.PathLike | None = None,
               as_of: dt.date | None = None, publication=None) -> list[Path]:
    """Write every page in both languages; return the pages' paths (default language first).
    `publication`: whose figures (pipeline.approval.publication; default: what is published now)."""
    if lang_default not in i18n.LANGS:
        raise ValueError(f"lang_default must be one of {i18n.LANGS}")
    root = home.site
    root.mkdir(parents=True, exist_ok=True)
    write_if_changed(root / layout.PLOTLY_JS, plotly_js())
    write_if_changed(root / layout.CSS_FILE, layout.CSS.encode("utf-8"))
    # Builds before this one kept a manifest of page digests here; nothing reads it any more.
    (root / ".fingerprints.json").unlink(missing_ok=True)
    geo_file = geo.configured_path(geojson_path)
    data = site_data.load(con, catalogue, indicators, privacy_threshold, as_of, publication)
    data.reports = copy_reports(home, con, root, data.withheld_reports)
    downloads.write_downloads(data, root)
    features = geo.load_features(geo_file, set(data.districts())) if geo_file else None
    if geo_file:   # the states' borders, dissolved once from the whole file, for every programme's map
        data.memo["state_outlines"] = geo.state_outlines(geo_file, {a[:2] for a in data.districts()})
    written = []
    for lang, prefix in _languages(lang_default):
        for path in sitemap.all_paths(catalogue):
            place = layout.Place(lang=lang, path=path, lang_prefix=prefix)
            target = root / prefix / path
            write_if_changed(target, page_html(data, place, render(data, place, features, geo_file)).encode("utf-8"))
            written.append(target)
    remove_stale(root, written)
    return written


def _languages(lang_default: str) -> list[tuple[str, str]]:
    """(language, folder prefix): the default language at the root, the other one in its folder."""
    other = i18n.other(lang_default)
    return [(lang_default, ""), (other, f"{other}/")]


def expected_pages(home: Home, catalogue: Catalogue, lang_default: str = "de") -> list[Path]:
    """The pages a build writes for this catalogue, in both languages."""
    return [home.site / ("" if lang == lang_default else f"{lang}/") / path
            for lang in (lang_default, i18n.other(lang_default)) for path in sitemap.all_paths(catalogue)]


def render(data: site_data.SiteData, place: layout.Place, features, geo_file: Path | None) -> layout.Body:
    """The page at this place, from the module that builds it."""
    path = place.path
    if path == sitemap.START_PATH:
        return pages_start.start_page(data, place)
    if path == sitemap.IMPACT_PATH:
        return pages_impact.impact_page(data, place)
    if path == sitemap.QUALITY_PATH:
        return pages_quality.quality_page(data, place)
    if path == sitemap.METHODS_PATH:
        return pages_methods.methods_page(data, place, geo_file.name if geo_file else None)
    kind, name = path.split("/", 1)
    key = name.removesuffix(".html")
    if kind == "programm":
        return pages_programme.programme_page(data, data.catalogue.programme(key), place, features,
                                              geo_file is not None)
    return pages_district.district_page(data, key, place)


def page_html(data: site_data.SiteData, place: layout.Place, body: layout.Body) -> str:
    # Programmes by name, not code: a reviewer does not know "bpb-lsa-2017".
    nav = [(sitemap.programme_path(p.id), pages_common.compact_name(p, place.lang)) for p in data.catalogue.programmes]
    # "Datenstand": the latest approval's date once figures are approved, else the reporting date.
    day = data.datenstand or data.as_of
    source = i18n.t(place.lang, "chart_source", date=i18n.date(day, place.lang)) if day else ""
    return layout.page(place, body, nav, data.threshold, geo.GEO_STUB if body.has_map else None, source)


def copy_reports(home: Home, con, root: Path, withheld: set = frozenset()) -> dict:
    """The delivery quality reports travel with the site, so its links work from a USB stick too.
    A copy is made again where it differs from its report in size or time (see `_copy`). A report
    of a (district, quarter) in `withheld` is not published: it counts the rows of a survey file
    whose counts are withheld (withhold.py); an earlier copy is removed."""
    sources, copies = html_files(home.reports), html_files(root / REPORTS_DIR)
    links = {}
    for key, relative in site_data.report_links(site_data.delivery_keys(con), sources).items():
        if key in withheld:
            (root / REPORTS_DIR / relative).unlink(missing_ok=True)
            continue
        if copies.get(relative) != sources[relative]:
            _copy(home.reports / relative, root / REPORTS_DIR / relative)
        links[key] = f"{REPORTS_DIR}/{relative}"
    return links


def html_files(folder: Path) -> dict[str, tuple[int, int]]:
    """The HTML files in a folder and its subfolders (reports/ and quarter folders): relative path
    -> (size, modification time). A copy with its source's size and time is taken as current:
    8,800 reports at national scale, listed a folder at a time instead of read."""
    return {relative: (stat.st_size, stat.st_mtime_ns) for relative, entry in folder_entries(folder)
            if relative.endswith(".html") and entry.is_file() for stat in [entry.stat()]}


def _copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows one: writing 8,800 copies took seconds of a
    national build. The reports step replaces a changed report by a new file (an atomic rename),
    so the link keeps the old bytes and differs in size or time until linked again."""
    target.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        stat = source.stat()
        write_if_changed(target, source.read_bytes())
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def remove_stale(root: Path, written: list[Path]) -> None:
    """A district or programme dropped from the catalogue must not leave its old page behind."""
    keep = {os.path.normpath(p) for p in written}
    for prefix in [root] + [root / lang for lang in i18n.LANGS]:
        for folder in sitemap.PAGE_DIRS:
            try:
                entries = list(os.scandir(prefix / folder))
            except FileNotFoundError:
                continue
            for page in entries:
                if page.name.endswith(".html") and os.path.normpath(page.path) not in keep:
                    os.unlink(page.path)


def page_sizes(paths: list[Path], root: Path) -> dict[str, int]:
    """Bytes of each page's own HTML and data (plotly.min.js is shared and not counted)."""
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in paths}
