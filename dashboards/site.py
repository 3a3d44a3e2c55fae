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
import os
from pathlib import Path

from dashboards import data as site_data
from dashboards import fingerprint, geo, i18n, layout, pages, privacy
from pipeline.catalogue import Catalogue
from pipeline.home import Home
from pipeline.indicators.model import IndicatorCatalogue
from pipeline.tables import write_if_changed

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
    data = site_data.load(con, catalogue, indicators, privacy_threshold, as_of)
    write_if_changed(root / layout.PLOTLY_JS, plotly_js())
    write_if_changed(root / layout.CSS_FILE, layout.CSS.encode("utf-8"))
    data.reports = copy_reports(home, data, root)
    geo_file = geo.configured_path(geojson_path)
    digests = page_digests(data, catalogue, lang_default, geo_file)
    manifest = root / fingerprint.MANIFEST
    before, after = fingerprint.read_manifest(manifest), {}
    features = None
    written: list[Path] = []
    for lang in (lang_default, i18n.other(lang_default)):
        prefix = "" if lang == lang_default else f"{lang}/"
        for path in pages.all_paths(catalogue):
            target = root / prefix / path
            key = prefix + path
            if not fingerprint.is_current(before.get(key), digests[path], target):
                if features is None and geo_file:
                    features = geo.load_features(geo_file, set(data.districts()))
                place = layout.Place(lang=lang, path=path, lang_prefix=prefix)
                body = render(data, place, features, geo_file)
                write_if_changed(target, page_html(data, place, body).encode("utf-8"))
            after[key] = [digests[path], target.stat().st_size]
            written.append(target)
    remove_stale(root, written)
    write_if_changed(manifest, fingerprint.manifest_bytes(after))
    return written


def page_digests(data: site_data.SiteData, catalogue: Catalogue, lang_default: str,
                 geo_file: Path | None) -> dict[str, str]:
    """Per page path (the same in both languages): the digest of everything it is built from."""
    inputs = fingerprint.PageInputs(data)
    own = {pages.START_PATH: inputs.start(), pages.IMPACT_PATH: inputs.impact(),
           pages.QUALITY_PATH: inputs.quality(), pages.METHODS_PATH: inputs.methods()}
    own.update({pages.programme_path(p.id): inputs.programme(p) for p in catalogue.programmes})
    own.update({pages.district_path(a): inputs.district(a) for a in pages.catalogue_districts(catalogue)})
    common = fingerprint.shared(data, lang_default, geo_file)
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


def copy_reports(home: Home, data: site_data.SiteData, root: Path) -> dict:
    """The delivery quality reports travel with the site, so its links work from a USB stick too."""
    links = {}
    for key, source in site_data.report_links(home.reports, data.deliveries).items():
        relative = source.relative_to(home.reports).as_posix()
        _copy_if_changed(source, root / REPORTS_DIR / relative)
        links[key] = f"{REPORTS_DIR}/{relative}"
    return links


def _copy_if_changed(source: Path, target: Path) -> None:
    """A copy with the source's size and modification time is taken as current (8,800 reports at
    national scale: one stat each instead of reading both files).

    The copy is a hard link where the file system allows one: writing 8,800 copies took seconds
    of a national build. The reports step replaces a changed report by a new file (an atomic
    rename), so the link keeps the old bytes and differs in size or time until linked again."""
    stat = source.stat()
    try:
        copied = target.stat()
        if (copied.st_size, copied.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            return
        target.unlink()
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        write_if_changed(target, source.read_bytes())
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def remove_stale(root: Path, written: list[Path]) -> None:
    """A district or programme dropped from the catalogue must not leave its old page behind."""
    keep = {p.resolve() for p in written}
    for prefix in [root] + [root / lang for lang in i18n.LANGS]:
        for folder in PAGE_DIRS:
            for page in (prefix / folder).glob("*.html"):
                if page.resolve() not in keep:
                    page.unlink()


def page_sizes(paths: list[Path], root: Path) -> dict[str, int]:
    """Bytes of each page's own HTML and data (plotly.min.js is shared and not counted)."""
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in paths}
