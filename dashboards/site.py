"""Build the conference site: `site/index.html` (German) and `site/en/index.html` (English), the
same pages in both (start, programmes, districts, impact, data quality, methods), one shared
`site/plotly.min.js`, the quality reports copied beside them.

Deterministic: the same warehouse gives byte-identical files (no timestamps, no random ids), and
an unchanged file is not rewritten (tables.write_if_changed), so a second run touches nothing.
Incremental: a page whose inputs (fingerprint.py) are those of the last build, and whose file is
still there, is not built again; a changed district rebuilds its own page and the pages that sum
it up (its programmes, the start page, data quality), in both languages.
Offline: nothing on any page is fetched from a network; the site opens from disk.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dashboards import data as site_data
from dashboards import fingerprint, geo, i18n, layout, pages, privacy
from pipeline.catalogue import Catalogue
from pipeline.home import Home
from pipeline.indicators.model import IndicatorCatalogue
from pipeline.tables import folder_entries, write_if_changed

REPORTS_DIR = "reports"
PAGE_DIRS = ("programm", "kreis")  # folders whose stale pages a build removes


def plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs
    return get_plotlyjs().encode("utf-8")


def build_site(con, catalogue: Catalogue, indicators: IndicatorCatalogue, home: Home, lang_default: str = "de",
               privacy_threshold: int = privacy.DEFAULT_THRESHOLD, geojson_path: str | os.PathLike | None = None,
               as_of: dt.date | None = None) -> list[Path]:
    """Write every page in both languages; return the pages' paths (default language first)."""
    if lang_default not in i18n.LANGS:
        raise ValueError(f"lang_default must be one of {i18n.LANGS}")
    root = home.site
    root.mkdir(parents=True, exist_ok=True)
    write_if_changed(root / layout.PLOTLY_JS, plotly_js())
    write_if_changed(root / layout.CSS_FILE, layout.CSS.encode("utf-8"))
    geo_file = geo.configured_path(geojson_path)
    common = fingerprint.shared(catalogue, indicators, privacy_threshold, lang_default, geo_file)
    as_of = as_of or site_data.reporting_date(con)
    # The 17,600 stats of the reports and their copies run while DuckDB hashes the warehouse.
    with ThreadPoolExecutor(1) as pool:
        listed = pool.submit(lambda: (html_files(home.reports), html_files(root / REPORTS_DIR)))
        warehouse = fingerprint.warehouse_print(con)
        sources, copies = listed.result()
    build = fingerprint.digest(common, warehouse, as_of, sorted(sources.items()))
    manifest = root / fingerprint.MANIFEST
    before, after = fingerprint.read_manifest(manifest), {fingerprint.BUILD: build}
    places = [layout.Place(lang=lang, path=path, lang_prefix=prefix) for lang, prefix in _languages(lang_default)
              for path in pages.all_paths(catalogue)]
    targets = {place.lang_prefix + place.path: root / place.lang_prefix / place.path for place in places}
    # Nothing changed (inputs, pages, report copies): nothing is loaded.
    if fingerprint.all_current(before, build, targets) and before.get(fingerprint.COPIES) == fingerprint.digest(
            sorted(copies.items())):
        remove_stale(root, list(targets.values()))
        return list(targets.values())
    reports = copy_reports(home, con, root, sources, copies)
    data = site_data.load(con, catalogue, indicators, privacy_threshold, as_of)
    data.reports = reports
    digests = page_digests(data, catalogue, common)
    stale = [p for p in places if not fingerprint.is_current(before.get(p.lang_prefix + p.path), digests[p.path],
                                                              targets[p.lang_prefix + p.path])]
    data.building = {p.path.removeprefix("kreis/").removesuffix(".html") for p in stale if p.path.startswith("kreis/")}
    features = geo.load_features(geo_file, set(data.districts())) if geo_file and stale else None
    write_pages(data, stale, root, features, geo_file)
    for place in places:
        key = place.lang_prefix + place.path
        after[key] = [digests[place.path], targets[key].stat().st_size]
    remove_stale(root, list(targets.values()))
    after[fingerprint.COPIES] = fingerprint.digest(sorted(html_files(root / REPORTS_DIR).items()))
    write_if_changed(manifest, fingerprint.manifest_bytes(after))
    return list(targets.values())


# Below this many pages, starting workers costs more than it saves (an incremental build
# rewrites a handful); a full national build renders 896.
POOL_MIN = 64
_JOB: tuple = ()  # what the forked workers render from, inherited rather than pickled


def write_pages(data: site_data.SiteData, places: list[layout.Place], root: Path, features, geo_file) -> None:
    """Render and write these pages; many at once in two processes. Both languages of a page go to
    the same worker, which prepares the page's rows once for both."""
    global _JOB
    _JOB = (data, root, features, geo_file)
    workers = min(2, os.cpu_count() or 1)
    if len(places) < POOL_MIN or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        _write_places(places)
        return
    pages.prepare(data)  # once, before the workers inherit it
    by_path: dict[str, list[layout.Place]] = {}
    for place in places:
        by_path.setdefault(place.path, []).append(place)
    groups = list(by_path.values())
    chunks = [sum(groups[n:n + 16], []) for n in range(0, len(groups), 16)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for _ in pool.imap_unordered(_write_places, chunks):
            pass
    _JOB = ()


def _write_places(places: list[layout.Place]) -> None:
    data, root, features, geo_file = _JOB
    for place in places:
        body = render(data, place, features, geo_file)
        write_if_changed(root / place.lang_prefix / place.path, page_html(data, place, body).encode("utf-8"))


def _languages(lang_default: str) -> list[tuple[str, str]]:
    """(language, folder prefix): the default language at the root, the other one in its folder."""
    other = i18n.other(lang_default)
    return [(lang_default, ""), (other, f"{other}/")]


def page_digests(data: site_data.SiteData, catalogue: Catalogue, common: str) -> dict[str, str]:
    """Per page path (the same in both languages): the digest of everything it is built from."""
    inputs = fingerprint.PageInputs(data)
    own = {pages.START_PATH: inputs.start(), pages.IMPACT_PATH: inputs.impact(),
           pages.QUALITY_PATH: inputs.quality(), pages.METHODS_PATH: inputs.methods()}
    own.update({pages.programme_path(p.id): inputs.programme(p) for p in catalogue.programmes})
    own.update({pages.district_path(a): inputs.district(a) for a in pages.catalogue_districts(catalogue)})
    return {path: fingerprint.digest(common, path, mine) for path, mine in own.items()}


def expected_pages(home: Home, catalogue: Catalogue, lang_default: str = "de") -> list[Path]:
    """The pages a build writes for this catalogue, in both languages."""
    return [home.site / ("" if lang == lang_default else f"{lang}/") / path
            for lang in (lang_default, i18n.other(lang_default)) for path in pages.all_paths(catalogue)]


def render(data: site_data.SiteData, place: layout.Place, features, geo_file: Path | None) -> layout.Body:
    path = place.path
    if path == pages.START_PATH:
        return pages.start_page(data, place)
    if path == pages.IMPACT_PATH:
        return pages.impact_page(data, place)
    if path == pages.QUALITY_PATH:
        return pages.quality_page(data, place)
    if path == pages.METHODS_PATH:
        return pages.methods_page(data, place, geo_file.name if geo_file else None)
    kind, name = path.split("/", 1)
    key = name.removesuffix(".html")
    if kind == "programm":
        return pages.programme_page(data, data.catalogue.programme(key), place, features, geo_file is not None)
    return pages.district_page(data, key, place)


def page_html(data: site_data.SiteData, place: layout.Place, body: layout.Body) -> str:
    nav = [(pages.programme_path(p.id), p.id) for p in data.catalogue.programmes]
    return layout.page(place, body, nav, data.threshold, geo.GEO_STUB if body.has_map else None)


def copy_reports(home: Home, con, root: Path, sources: dict, copies: dict) -> dict:
    """The delivery quality reports travel with the site, so its links work from a USB stick too.
    `sources`, `copies`: the reports and the site's copies of them, as `html_files` lists them."""
    links = {}
    for key, relative in site_data.report_links(site_data.delivery_keys(con), sources).items():
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
        for folder in PAGE_DIRS:
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
