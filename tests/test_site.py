"""The conference site without a browser: locale formatting, the "< 5" rule, determinism, page
sizes, offline references, the optional map and the Dagster asset.

The demo site is built once per session (demo deliveries -> ingest -> indicators -> impact
estimates -> site) and shared with test_site_browser.py, test_slides.py and test_impact_page.py
through `demo_site()`.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from dashboards import geo, i18n, privacy
from dashboards.data import suppress_secondary
from dashboards.site import build_site, expected_pages, page_sizes
from pipeline import warehouse
from pipeline.catalogue import Catalogue, load_catalogue
from pipeline.demo import write_demo
from pipeline.home import Home
from pipeline.impact import estimate_impact, write_impact_table
from pipeline.indicators import IndicatorCatalogue, compute_indicators, load_indicators
from tests.conftest import ingest

PAGE_LIMIT = 512 * 1024  # "well under a megabyte" per page, plotly.min.js not counted


@dataclass(frozen=True)
class DemoSite:
    home: Home
    pages: list[Path]
    geojson: Path
    catalogue: Catalogue
    indicators: IndicatorCatalogue


_BUILT: dict[str, DemoSite] = {}


def synthetic_geojson(path: Path, districts: list[str]) -> Path:
    """One small square per district, outer rings deliberately counter-clockwise (the site must
    rewind them), so the test needs no real boundaries."""
    features = []
    for n, ags in enumerate(districts):
        x, y = 6 + (n % 5) * 1.5, 48 + (n // 5) * 1.2
        ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]  # counter-clockwise
        features.append({"type": "Feature", "properties": {"ags": ags, "name": ags},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def demo_site(tmp_path_factory) -> DemoSite:
    """The demo, ingested, with indicators, impact estimates and the site (with a map) built; once
    per session."""
    if "demo" not in _BUILT:
        root = tmp_path_factory.mktemp("site-demo")
        home = Home(root / "home").ensure()
        write_demo(home)
        ingest(home, "2017-01-01", "2025-10-01")
        catalogue = load_catalogue()
        indicators = load_indicators(catalogue)
        with warehouse.connect(home.warehouse) as con:
            compute_indicators(con, catalogue, indicators)
            write_impact_table(con, estimate_impact(con, catalogue))  # the "Wirkung / Impact" page
        districts = sorted({a for p in catalogue.programmes for a in p.districts + p.comparison_districts})
        geojson = synthetic_geojson(root / "kreise.geojson", districts)
        with warehouse.connect(home.warehouse, read_only=True) as con:
            pages = build_site(con, catalogue, indicators, home, geojson_path=geojson)
        _BUILT["demo"] = DemoSite(home, pages, geojson, catalogue, indicators)
    return _BUILT["demo"]


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> DemoSite:
    return demo_site(tmp_path_factory)


def read(site: DemoSite, relative: str) -> str:
    return (site.home.site / relative).read_text(encoding="utf-8")


# -- locale ---------------------------------------------------------------------------------------

def test_numbers_german_and_english():
    assert i18n.number(1234.5, "de") == "1.234,5"
    assert i18n.number(1234.5, "en") == "1,234.5"
    assert i18n.number(1234567, "de") == "1.234.567"
    assert i18n.number(0.25, "de", 2) == "0,25"
    assert i18n.number(float("nan"), "de") == "–"
    assert i18n.percent(85.7, "de", 1) == "85,7\u202f%"
    assert i18n.percent(85.7, "en", 1) == "85.7%"


def test_dates_german_and_english():
    day = dt.date(2024, 3, 15)
    assert i18n.date(day, "de") == "15.03.2024"
    assert i18n.date(day, "en") == "15 Mar 2024"
    assert i18n.date(dt.datetime(2024, 3, 15, 9, 0), "de") == "15.03.2024"
    assert i18n.period(dt.date(2023, 1, 1), dt.date(2024, 6, 30), "de") == "01.01.2023 – 30.06.2024"


def test_every_text_key_in_both_languages():
    assert set(i18n.TEXT["de"]) == set(i18n.TEXT["en"])
    for table in (i18n.STATUS, i18n.DELIVERY_STATUS, i18n.METHOD, i18n.UNIT, i18n.REASON, i18n.STATUS_GROUP):
        assert set(table["de"]) == set(table["en"])


# -- privacy --------------------------------------------------------------------------------------

def _rows(*rows) -> pd.DataFrame:
    columns = ["programme_id", "indicator_id", "district_ags", "comparison", "period", "unit", "value",
               "value_high", "n", "per_10k", "attainment_pct", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)


def test_small_counts_of_persons_are_hidden_with_what_reveals_them():
    frame = _rows(
        ("p", "reach", "01001", False, "total", "persons", 3.0, None, 3, 0.3, 2.1, None, None),
        ("p", "reach", "01002", False, "total", "persons", 0.0, None, 0, 0.0, 0.0, None, None),
        ("p", "reach", "01003", False, "total", "persons", 5.0, None, 5, 0.5, 3.5, None, None),
        ("p", "clients", "01001", False, "total", "clients", 4.0, None, 4, 0.4, 26.0, None, None),
        ("p", "events", "01001", False, "total", "events", 2.0, None, 2, 0.2, 14.0, None, None),
        ("p", "mean", "01001", False, "total", "score", 3.4, None, 3, None, None, 2.0, 4.8),
        ("p", "mean", "01002", False, "total", "score", 3.1, None, 40, None, None, 2.9, 3.3),
    )
    out = privacy.apply(frame, threshold=5)
    assert out["masked"].tolist() == [True, True, False, True, False, False, False]
    hidden = out[out["masked"]]
    assert hidden[["value", "per_10k", "attainment_pct"]].isna().all().all()
    assert out.loc[2, "value"] == 5.0 and out.loc[4, "value"] == 2.0  # events are not persons
    # a survey mean from 3 answers: n and the mean with its interval are not published
    assert out.loc[5, "n_masked"] and pd.isna(out.loc[5, "value"]) and pd.isna(out.loc[5, "ci_low"])
    assert not out.loc[6, "n_masked"] and out.loc[6, "value"] == 3.1
    assert privacy.count_text(3, "persons", 5, str) == "< 5"
    assert privacy.count_text(3, "events", 5, str) == "3"
    # the input (what the exports read) keeps its exact values
    assert frame.loc[0, "value"] == 3.0


def test_a_lonely_hidden_quarter_takes_a_partner_along():
    frame = _rows(
        ("p", "vol", "01001", False, "2020-Q1", "persons", 3.0, None, 1, 0.1, None, None, None),
        ("p", "vol", "01001", False, "2020-Q2", "persons", 9.0, None, 1, 0.9, None, None, None),
        ("p", "vol", "01001", False, "2020-Q3", "persons", 12.0, None, 1, 1.2, None, None, None),
        ("p", "vol", "01001", False, "total", "persons", 24.0, None, 3, 2.4, None, None, None),
    )
    out = suppress_secondary(privacy.apply(frame, 5), {"vol"}, 5)
    # 24 − 9 − 12 would give the hidden 3 back: the next smallest quarter goes too
    assert out["masked"].tolist() == [True, True, False, False]
    assert pd.isna(out.loc[1, "value"])


def test_published_site_values_never_hold_a_small_count(site):
    from dashboards.data import load
    with warehouse.connect(site.home.warehouse, read_only=True) as con:
        data = load(con, site.catalogue, site.indicators, 5)
    persons = data.values[data.values["unit"].isin(privacy.PERSON_UNITS)]
    assert not (persons["value"] < 5).any()
    assert data.values["masked"].any(), "the demo has small counts; the rule must have hidden some"


def test_hidden_counts_show_as_less_than_five(site):
    page = read(site, "kreis/13076.html")
    assert "&lt; 5" in page       # the note under the table
    assert '"< 5"' in page        # the hatched bars' label in the chart data


# -- pages ----------------------------------------------------------------------------------------

def test_same_pages_in_both_languages(site):
    root = site.home.site
    german = {p.relative_to(root).as_posix() for p in root.rglob("*.html")
              if not p.relative_to(root).as_posix().startswith(("en/", "reports/"))}
    english = {p.relative_to(root / "en").as_posix() for p in (root / "en").rglob("*.html")}
    assert german == english
    assert {"index.html", "datenqualitaet.html", "methoden.html", "programm/lzz-1.html", "kreis/13076.html"} <= german
    assert sorted(site.pages) == sorted(expected_pages(site.home, site.catalogue))
    assert '<html lang="de">' in read(site, "index.html")
    assert '<html lang="en">' in read(site, "en/index.html")


def test_words_and_labels_per_language(site):
    de, en = read(site, "programm/lzz-1.html"), read(site, "en/programm/lzz-1.html")
    programme = site.catalogue.programme("lzz-1")
    assert programme.name_de in de and programme.name_en in en
    trainings = site.indicators.get("trainings_held")
    assert trainings.label_de in de and trainings.label_en in en
    assert "Zielerreichung je Kreis und Indikator" in de and "Target attainment per district" in en
    assert "01.01.2018 – 31.12.2020" in de and "1 Jan 2018 – 31 Dec 2020" in en
    assert '"separators":",."' in de and '"separators":".,"' in en  # Plotly's axes follow the locale
    start = read(site, "index.html")
    assert "Zielwerten erreicht" in start and "targets met" in read(site, "en/index.html")


def test_every_page_has_its_sections(site):
    quality = read(site, "datenqualitaet.html")
    assert "Meldequote je Kreis und Quartal" in quality
    assert "reports/2018-Q3/03153_2018-Q3.html" in quality  # the delivery with a rejected row links its report
    assert (site.home.site / "reports/2018-Q3/03153_2018-Q3.html").is_file()
    methods = read(site, "methoden.html")
    assert "dl-de/by-2-0" in methods and "Zensus 2022" in methods
    for indicator in site.indicators:
        assert indicator.label_de in methods
    district = read(site, "kreis/13076.html")
    assert "Lieferungen" in district and "13076_2018-Q1" in district
    assert "fig-micro-13076" in read(site, "programm/lzz-1.html")


def test_one_shared_plotly_referred_relatively(site):
    root = site.home.site
    scripts = [p for p in root.rglob("*.js")]
    assert [p.relative_to(root).as_posix() for p in scripts] == ["plotly.min.js"]
    assert "src='plotly.min.js'" in read(site, "index.html")
    assert "src='../plotly.min.js'" in read(site, "en/index.html")
    assert "src='../plotly.min.js'" in read(site, "programm/lzz-1.html")
    assert "src='../../plotly.min.js'" in read(site, "en/kreis/13076.html")


def test_pages_stay_small(site):
    sizes = page_sizes(site.pages, site.home.site)
    assert len(sizes) == len(site.pages)
    too_big = {p: s for p, s in sizes.items() if s >= PAGE_LIMIT}
    assert not too_big, too_big


class _Links(HTMLParser):
    """Every URL-valued attribute and every script or style text of a page."""
    ATTRS = {"src", "href", "action", "data", "poster", "srcset", "formaction", "background"}

    def __init__(self):
        super().__init__()
        self.urls, self.code, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        self.urls += [v for k, v in attrs if k in self.ATTRS and v]
        self.urls += re.findall(r"url\(([^)]*)\)", dict(attrs).get("style") or "")
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            self.code.append(data)


EXTERNAL = re.compile(r"^\s*['\"]?\s*(https?:|ftp:|//|ws:|wss:)", re.IGNORECASE)


def test_nothing_refers_to_the_network(site):
    """No attribute, stylesheet or script of any written page or report points off the disk.
    URLs in visible text (e.g. a citation) would be allowed; there are none to fetch."""
    root = site.home.site
    for path in [*root.rglob("*.html"), *root.rglob("*.css")]:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".css":
            parser = _Links()
            parser.urls = re.findall(r"url\(([^)]*)\)", text) + re.findall(r"@import\s+([^;]+)", text)
        else:
            parser = _Links()
            parser.feed(text)
        offending = [u for u in parser.urls if EXTERNAL.match(u)]
        offending += [m for code in parser.code for m in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[/\w.-]*", code)]
        offending += re.findall(r"@import|@font-face", "".join(parser.code))
        assert not offending, f"{path.relative_to(root)}: {offending}"


def test_a_second_build_changes_nothing(site):
    root = site.home.site
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}
    with warehouse.connect(site.home.warehouse, read_only=True) as con:
        pages = build_site(con, site.catalogue, site.indicators, site.home, geojson_path=site.geojson)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}
    assert pages == site.pages
    assert after == before
    assert not re.search(r"\b20[2-9]\d-\d\d-\d\dT\d\d:", read(site, "index.html"))  # no build timestamp


# -- the map --------------------------------------------------------------------------------------

def test_map_with_a_configured_geojson(site):
    page = read(site, "programm/lzz-1.html")
    assert 'id="fig-map"' in page
    stub, plotly = page.index("window.PlotlyGeoAssets"), page.index("plotly.min.js'")
    assert stub < plotly, "the world topojson must be stubbed before plotly.min.js loads"
    assert "Keine Karte" not in page
    # bpb-lsa-2017 sets programme-wide targets only: its map shows what varies by district, the
    # first count of events (trainings held) per 10,000 inhabitants as in the export, and says why.
    page = read(site, "programm/bpb-lsa-2017.html")
    assert "die Karte zeigt daher, was sich zwischen den Kreisen unterscheidet" in page
    spec = json.loads(re.search(r'<div id="fig-map".*?var s=(\{.*?\});var d=', page, re.S).group(1).replace("<\\/", "</"))
    shaded = next(trace for trace in spec["data"] if trace["type"] == "choropleth" and trace.get("showscale"))
    with warehouse.connect(site.home.warehouse, read_only=True) as con:
        computed = dict(con.execute("SELECT district_ags, per_10k FROM indicator_values WHERE programme_id = "
                                    "'bpb-lsa-2017' AND indicator_id = 'trainings_held' AND period = 'total' "
                                    "AND district_ags <> 'ALL'").fetchall())
    assert len(computed) == 3 and dict(zip(shaded["locations"], shaded["z"])) == pytest.approx(computed)
    assert "Karte: Durchgeführte Bildungsveranstaltungen je 10.000 Einwohner" in page


def test_rewind_makes_outer_rings_clockwise_and_holes_counter_clockwise():
    outer = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]          # counter-clockwise
    hole = [[0.2, 0.2], [0.2, 0.8], [0.8, 0.8], [0.8, 0.2], [0.2, 0.2]]  # clockwise
    wound = geo.rewind({"type": "Polygon", "coordinates": [outer, hole]})["coordinates"]
    assert geo._signed_area(wound[0]) < 0 < geo._signed_area(wound[1])
    multi = geo.rewind({"type": "MultiPolygon", "coordinates": [[outer]]})["coordinates"]
    assert geo._signed_area(multi[0][0]) < 0


def test_geojson_path_from_the_environment(tmp_path, monkeypatch):
    path = synthetic_geojson(tmp_path / "k.geojson", ["13076"])
    monkeypatch.setenv(geo.ENV, str(path))
    assert geo.configured_path() == path
    assert geo.configured_path(tmp_path / "other.geojson") is None  # the argument wins, even if missing
    monkeypatch.delenv(geo.ENV)
    assert geo.configured_path() is None
    features = geo.load_features(path, {"13076", "99999"})
    assert [f["id"] for f in features] == ["13076"]


# -- the Dagster asset ----------------------------------------------------------------------------

def test_asset_writes_the_site_and_says_how_to_get_a_map(site, tmp_path, monkeypatch):
    """The asset on a copy of the demo warehouse, with no GeoJSON configured."""
    from assets.publish import conference_site, every_page_written
    from assets.resources import TeilhabeHome

    monkeypatch.delenv(geo.ENV, raising=False)
    home = Home(tmp_path / "home").ensure()
    shutil.copyfile(site.home.warehouse, home.warehouse)
    shutil.copytree(site.home.reports, home.reports, dirs_exist_ok=True)
    result = dg.materialize([conference_site, every_page_written],
                            resources={"home": TeilhabeHome(home=str(home.root))})
    assert result.success
    metadata = result.asset_materializations_for_node("conference_site")[0].metadata
    assert metadata["pages_written"].value == len(site.pages)
    assert metadata["largest_page_kb"].value < PAGE_LIMIT / 1024
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
    page = (home.site / "programm/lzz-1.html").read_text(encoding="utf-8")
    assert "TEILHABE_GEOJSON" in page and "Keine Karte" in page
    assert "window.PlotlyGeoAssets" not in page
    assert "TEILHABE_GEOJSON" in (home.site / "en/programm/lzz-1.html").read_text(encoding="utf-8")


def test_the_demo_shows_a_warning_of_each_code_in_reports_export_and_quality_page(site):
    # The demo plants a head count below its attendance list and a lost mailing list
    # (pipeline/demo/faults.py), carries a micro-project above the cap, has outliers, and
    # Ludwigslust-Parchim's offices name places that are no municipality of the district.
    exported = (site.home.exports / "rejections.csv").read_text(encoding="utf-8-sig").splitlines()
    codes = {line.split(",")[9] for line in exported[1:] if line.split(",")[8] == "warning"}
    assert codes == {"rule_violation", "over_cap", "outlier", "unknown_municipality"}
    report = (site.home.reports / "2019-Q3" / "13076_2019-Q3.html").read_text(encoding="utf-8")
    assert "Die Teilnahmeliste nennt" in report.split("<h2>Hinweise")[1]
    for page, words in (("datenqualitaet.html", ("Prüfregel verletzt (rule_violation)", "über dem Höchstbetrag (over_cap)",
                                                 "Ausreißer (outlier)", "Ausreißer und ihre Nachverfolgung",
                                                 "unbekannte Gemeinde (unknown_municipality)")),
                        ("en/datenqualitaet.html", ("validation rule violated (rule_violation)", "above the cap (over_cap)",
                                                    "Outliers and their follow-up",
                                                    "unknown municipality (unknown_municipality)"))):
        text = read(site, page)
        assert all(word in text for word in words), page


def test_stendal_s_fields_of_action_are_shown_on_the_lzz2_page(site):
    page = read(site, "programm/lzz-2.html")
    assert "Veranstaltungen insgesamt nach Handlungsfeld" in page and "fig-breakdown-events_held-field" in page
    assert all(word in page for word in ("Wirtschaft", "Politik", "Soziales und Kultur"))
    assert "Events held by field of action" in read(site, "en/programm/lzz-2.html")


def test_ludwigslust_parchim_s_page_shows_its_five_regions_reached(site):
    page = read(site, "kreis/13076.html")
    section = page.split("<h3>Regionen des Kreises")[1].split("<h3>")[0]
    assert "Die Regionen sind illustrativ" in section and "von 5 Regionen" in section and "von 142 Gemeinden" in section
    assert section.count("<tr><td>Region ") == 5
    assert "Region Ost (Parchim, Lübz, Goldberg, Plau am See)" in read(site, "kreis/13076.html").split(
        "Aufschlüsselungen – ")[1]   # the region breakdown, named
    assert "Regions of the district" in read(site, "en/kreis/13076.html")
    lzz1 = read(site, "programm/lzz-1.html")
    assert "fig-breakdown-events_held-region" in lzz1


def test_a_district_page_lists_its_breakdowns(site):
    page = read(site, "kreis/15090.html")
    section = page.split("Aufschlüsselungen – ")[1]
    assert "Handlungsfeld" in section and "Bildung" in section and "ohne Angabe" in section
def test_state_outlines_dissolve_shared_edges(tmp_path):
    """Two neighbouring districts of one state share an edge: it is no border. Hand-worked: two
    unit squares side by side leave 6 of their 8 edges; a square of another state beside them keeps
    its 4 and takes nothing from the first state's border."""
    def square(ags, x):
        ring = [[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]
        return {"type": "Feature", "properties": {"ags": ags}, "geometry": {"type": "Polygon", "coordinates": [ring]}}

    path = tmp_path / "b.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection",
                                "features": [square("01001", 0), square("01002", 1), square("02001", 2)]}))
    outlines = geo.state_outlines(path, {"01", "02"})
    assert len(outlines["01"]) == 6 and ((1.0, 0.0), (1.0, 1.0)) not in outlines["01"]
    assert len(outlines["02"]) == 4
    assert geo.state_outlines(path, {"02"}).keys() == {"02"}


def test_map_classes_separate_districts(tmp_path_factory):
    """lzz-2 on the demo: the share of each district's targets met, hand-counted from its district
    page (Lippe 5 of 6 = 83.3 %, Dachau 6 of 6), in classes, not a mean capped at 100 %."""
    from dashboards.pages_programme import map_met_share

    site = demo_site(tmp_path_factory)
    with warehouse.connect(site.home.warehouse, read_only=True) as con:
        data = site_data_load(con, site)
    share = map_met_share(data, site.catalogue.programme("lzz-2"))
    assert share["05766"] == pytest.approx(83.3) and share["09174"] == 100.0
    spec = json.loads(re.search(r'<div id="fig-map".*?var s=(\{.*?\});var d=', (site.home.site / "programm/lzz-2.html")
                                .read_text(encoding="utf-8"), re.S).group(1).replace("<\\/", "</"))
    names = [t.get("name") for t in spec["data"]]
    assert "alle Zielwerte erreicht" in names and "75 bis unter 100 % erreicht" in names
    assert "grau: Vergleichskreis (keine Zielwerte)" in names and "Landesgrenzen" in names


def site_data_load(con, site):
    from dashboards.data import load
    return load(con, site.catalogue, site.indicators)


def test_stendal_s_baseline_and_milestones_are_shown(site):
    # lzz-2 is over in the demo: the target itself is due, so the milestone in force is not said twice.
    assert "Ausgangswert 0 (31.12.2022) → mindestens 14" in read(site, "kreis/15090.html")
    assert "baseline 0 (31 Dec 2022) → at least 14" in read(site, "en/kreis/15090.html")
    # The cumulative chart draws Stendal's phases as steps (due by each quarter's end: 0, 2, 2, 4, 12, 14).
    page = read(site, "programm/lzz-2.html")
    assert "Meilensteine (Stendal)" in page and "Meilensteine 2024-Q1: 12" in page
    methods = read(site, "methoden.html")
    assert "Meilenstein 12 bis 31.03.2024 (Phase 3: Pilotmaßnahmen)" in methods


def test_every_page_links_the_sites_data_and_it_says_what_the_pages_say(site):
    """The footer of every page links two CSV files (site/daten/): the figures as the pages show
    them. A hidden figure is an empty cell with its reason, never the number."""
    import pandas as pd

    root = site.home.site
    for page in ("index.html", "en/index.html", "programm/lzz-2.html", "en/kreis/13076.html"):
        links = re.findall(r'href="([^"]+\.csv)" download', read(site, page))
        assert [link.rsplit("/", 1)[1] for link in links] == ["kennzahlen.csv", "kennzahlen_aufschluesselungen.csv"]
        assert all(((root / page).parent / link).resolve().is_file() for link in links), page
    values = pd.read_csv(root / "daten" / "kennzahlen.csv", dtype={"district_ags": str}, encoding="utf-8-sig")
    # The page of Ludwigslust-Parchim says how many of its 5 regions were reached; so does the file.
    reached = int(re.search(r"Erreicht:</strong> (\d+) von 5 Regionen", read(site, "kreis/13076.html")).group(1))
    row = values[(values["indicator_id"] == "regions_reached") & (values["district_ags"] == "13076")
                 & (values["period"] == "total")]
    assert row["value"].tolist() == [reached]
    hidden = values[values["masked"] | values["withheld"]]
    assert len(hidden) > 0   # the demo has small counts
    assert hidden[["value", "value_high", "ci_low", "ci_high", "n", "attainment_pct"]].isna().all().all()
    persons = values[values["unit"].isin(["persons", "clients", "responses"]) & ~values["masked"]]
    assert not (persons["value"] < 5).any()
    breakdowns = pd.read_csv(root / "daten" / "kennzahlen_aufschluesselungen.csv", encoding="utf-8-sig")
    assert breakdowns[breakdowns["masked"] | breakdowns["withheld"]]["value"].isna().all()
    assert "Wirtschaft" in set(breakdowns["breakdown_value"]) or "economy" in set(breakdowns["breakdown_value"])
