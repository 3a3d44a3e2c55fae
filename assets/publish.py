"""Publish stage: the conference site (static Plotly pages, German and English, offline).

It only reads the warehouse, but DuckDB will not open a file for reading while another process
writes it, so the asset still waits its turn in the `duckdb` pool. Its data version is made of
its inputs' data versions (indicator values, quality reports, impact estimates), the micro
projects it lists, the catalogue, the boundary file and the day: when none of them changed and
every page is there, the site is not rendered again.
"""
import hashlib
from pathlib import Path

import dagster as dg
import pandas as pd

from assets.metadata import markdown_table
from assets.quality import as_of
from assets.resources import TeilhabeHome
from assets.versions import code_version, digest, last_data_version
from dashboards import geo, pages_places
from dashboards.site import build_site, expected_pages, page_sizes
from pipeline import warehouse
from pipeline.indicators import cached_indicators
from pipeline.places import places_path

OWNERS = ["team:evaluation"]
SITE_CODE = code_version("dashboards", "pipeline.impact.readings", "pipeline.indicators.model")
# approvals: the published figures are the approved ones (pipeline/approval).
INPUTS = [dg.AssetKey("indicator_values"), dg.AssetKey("quality_reports"), dg.AssetKey("quality_warnings"),
          dg.AssetKey("impact_estimates"), dg.AssetKey("approvals")]



@dg.asset(
    # impact_estimates: the "Wirkung / Impact" page is rebuilt after new estimates.
    deps=INPUTS,
    group_name="publish",
    pool="duckdb",
    kinds={"html", "plotly"},
    owners=OWNERS,
    code_version=SITE_CODE,
    description="Konferenz-Dashboards: statische Plotly-Seiten unter site/ (Deutsch, Englisch unter site/en/), "
                "mit der Seite „Wirkung“ aus den Wirkungsschätzungen, ohne Netz lesbar, Personenzahlen unter 5 als "
                "„< 5“. Conference dashboards: a static site, with the impact page, that opens from disk with no "
                "network.",
)
def conference_site(context: dg.AssetExecutionContext, home: TeilhabeHome) -> dg.MaterializeResult:
    paths, catalogue = home.paths, home.catalogue()
    indicators = cached_indicators(catalogue)
    geojson = geo.configured_path()
    # places.yaml names the regions on district pages; a municipal boundary file draws them.
    municipal = pages_places.configured_path()
    files = [*(catalogue.directory / name for name in ("programmes.yaml", "districts.csv")), Path(indicators.path),
             places_path(catalogue), *([municipal] if municipal else [])]
    with home.connect(read_only=True) as con:
        version = digest(SITE_CODE, *(last_data_version(context, key) for key in INPUTS), as_of().isoformat(),
                         warehouse.inputs_signature(con, relations=["stg_micro_projects"], files=files),
                         hashlib.sha256(geojson.read_bytes()).hexdigest() if geojson else None)
        expected = expected_pages(paths, catalogue)
        unchanged = version == last_data_version(context) and all(p.is_file() for p in expected)
        if not unchanged:
            pages = build_site(con, catalogue, indicators, paths, geojson_path=geojson)
    if unchanged:
        pages = expected
    sizes = page_sizes(pages, paths.site)
    context.log.info("%s Seiten / pages in %s%s", len(pages), paths.site,
                     " (Eingaben unverändert / inputs unchanged)" if unchanged else "")
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "unchanged": dg.MetadataValue.bool(unchanged),
        "site": dg.MetadataValue.path(str(paths.site / "index.html")),
        "site_en": dg.MetadataValue.path(str(paths.site / "en" / "index.html")),
        "pages_written": dg.MetadataValue.int(len(pages)),
        "largest_page_kb": dg.MetadataValue.float(round(max(sizes.values()) / 1024, 1) if sizes else 0.0),
        "page_sizes": dg.MetadataValue.md(markdown_table(pd.DataFrame(
            {"Seite / page": list(sizes), "kB": [round(size / 1024, 1) for size in sizes.values()]}), len(sizes))),
        "map": dg.MetadataValue.text(str(geojson) if geojson else "keine GeoJSON-Datei / no GeoJSON configured"),
    })


@dg.asset_check(asset=conference_site, description="Jede Seite in beiden Sprachen geschrieben, jede unter 1 MB; "
                                                    "plotly.min.js einmal vorhanden. Every page written, each under 1 MB.")
def every_page_written(home: TeilhabeHome) -> dg.AssetCheckResult:
    site = home.paths.site
    expected = expected_pages(home.paths, home.catalogue())
    missing = [p.relative_to(site).as_posix() for p in expected if not p.is_file()]
    too_large = [p.relative_to(site).as_posix() for p in expected if p.is_file() and p.stat().st_size >= 1024 * 1024]
    shared = (site / "plotly.min.js").is_file()
    return dg.AssetCheckResult(passed=not missing and not too_large and shared, metadata={
        "expected": len(expected), "missing": dg.MetadataValue.json(missing),
        "over_1_mb": dg.MetadataValue.json(too_large), "plotly_min_js": shared})


ASSETS = [conference_site]
CHECKS = [every_page_written]
