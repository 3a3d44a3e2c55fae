"""Publish stage: the conference site (static Plotly pages, German and English, offline).

It only reads the warehouse, but DuckDB will not open a file for reading while another process
writes it, so the asset still waits its turn in the `duckdb` pool.
"""
import dagster as dg

from assets.resources import TeilhabeHome
from dashboards import geo
from dashboards.site import build_site, page_sizes
from pipeline.indicators import cached_indicators

OWNERS = ["team:evaluation"]


def _size_table(sizes: dict[str, int]) -> str:
    lines = ["| Seite / page | kB |", "|---|---|"]
    lines += [f"| {path} | {size / 1024:.1f} |" for path, size in sizes.items()]
    return "\n".join(lines)


@dg.asset(
    # impact_estimates: the "Wirkung / Impact" page is rebuilt after new estimates.
    deps=[dg.AssetKey("indicator_values"), dg.AssetKey("quality_reports"), dg.AssetKey("impact_estimates")],
    group_name="publish",
    pool="duckdb",
    kinds={"html", "plotly"},
    owners=OWNERS,
    description="Konferenz-Dashboards: statische Plotly-Seiten unter site/ (Deutsch, Englisch unter site/en/), "
                "mit der Seite „Wirkung“ aus den Wirkungsschätzungen, ohne Netz lesbar, Personenzahlen unter 5 als "
                "„< 5“. Conference dashboards: a static site, with the impact page, that opens from disk with no "
                "network.",
)
def conference_site(context: dg.AssetExecutionContext, home: TeilhabeHome) -> dg.MaterializeResult:
    paths, catalogue = home.paths, home.catalogue()
    indicators = cached_indicators(catalogue)
    geojson = geo.configured_path()
    with home.connect(read_only=True) as con:
        pages = build_site(con, catalogue, indicators, paths, geojson_path=geojson)
    sizes = page_sizes(pages, paths.site)
    context.log.info("%s Seiten / pages in %s", len(pages), paths.site)
    return dg.MaterializeResult(metadata={
        "site": dg.MetadataValue.path(str(paths.site / "index.html")),
        "site_en": dg.MetadataValue.path(str(paths.site / "en" / "index.html")),
        "pages_written": dg.MetadataValue.int(len(pages)),
        "largest_page_kb": dg.MetadataValue.float(round(max(sizes.values()) / 1024, 1) if sizes else 0.0),
        "page_sizes": dg.MetadataValue.md(_size_table(sizes)),
        "map": dg.MetadataValue.text(str(geojson) if geojson else "keine GeoJSON-Datei / no GeoJSON configured"),
    })


@dg.asset_check(asset=conference_site, description="Jede Seite in beiden Sprachen geschrieben, jede unter 1 MB; "
                                                    "plotly.min.js einmal vorhanden. Every page written, each under 1 MB.")
def every_page_written(home: TeilhabeHome) -> dg.AssetCheckResult:
    from dashboards.site import expected_pages

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
