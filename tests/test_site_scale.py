"""The site at scale: a build renders every page but rewrites exactly the files whose bytes changed,
and a programme with many districts stays readable and small.

Works on a copy of the demo site's home (test_site.demo_site), so the shared demo stays untouched.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import os

from dashboards import charts_programme
from dashboards.site import build_site
from pipeline import warehouse
from pipeline.home import Home
from tests.test_site import demo_site

PROGRAMME, DISTRICT, INDICATOR, QUARTER = "lzz-1", "13076", "trainings_held", "2019-Q2"


@pytest.fixture
def copied(tmp_path, tmp_path_factory):
    demo = demo_site(tmp_path_factory)
    home = Home(tmp_path / "home").ensure()
    shutil.copy(demo.home.warehouse, home.warehouse)
    shutil.copytree(demo.home.reports, home.reports, dirs_exist_ok=True)
    return demo, home


def _build(demo, home) -> list[Path]:
    with warehouse.connect(home.warehouse, read_only=True) as con:
        return build_site(con, demo.catalogue, demo.indicators, home, geojson_path=demo.geojson)


def _state(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in root.rglob("*.html") if "reports" not in p.parts}


def test_one_changed_quarter_rewrites_its_district_and_programme_pages_only(copied):
    demo, home = copied
    _build(demo, home)
    before = _state(home.site)
    # Hand-worked: one quarter of a count of events (not persons: no "< 5" rule, no partner
    # hidden) of one district in one programme. It shows on that district's timeline and in that
    # programme's cumulative chart; the totals (start page, heat map, bars) are left as they were,
    # as are the other programme the district may be in, the quality and the impact pages.
    with duckdb.connect(str(home.warehouse)) as con:
        changed = con.execute("UPDATE indicator_values SET value = value + 1 WHERE programme_id = ? AND "
                              "district_ags = ? AND indicator_id = ? AND period = ?",
                              [PROGRAMME, DISTRICT, INDICATOR, QUARTER]).fetchall()[0][0]
    assert changed == 1
    assert f'id="fig-cum-{INDICATOR}"' in before[f"programm/{PROGRAMME}.html"][0].decode()
    _build(demo, home)
    after = _state(home.site)
    rewritten = sorted(p for p in after if after[p] != before[p])
    assert rewritten == sorted([f"kreis/{DISTRICT}.html", f"en/kreis/{DISTRICT}.html",
                                f"programm/{PROGRAMME}.html", f"en/programm/{PROGRAMME}.html"])


def test_unchanged_inputs_rewrite_nothing_and_a_missing_page_is_written(copied):
    demo, home = copied
    _build(demo, home)
    before = _state(home.site)
    missing = home.site / "en" / "kreis" / f"{DISTRICT}.html"
    missing.unlink()
    _build(demo, home)
    after = _state(home.site)
    assert after[f"en/kreis/{DISTRICT}.html"][0] == before[f"en/kreis/{DISTRICT}.html"][0]
    rewritten = sorted(p for p in after if after[p] != before[p])
    assert rewritten == [f"en/kreis/{DISTRICT}.html"]
    assert not (home.site / ".fingerprints.json").exists()  # no manifest of page digests


def test_a_missing_report_copy_is_linked_again(copied):
    demo, home = copied
    _build(demo, home)
    report = home.site / "reports" / QUARTER / f"{DISTRICT}_{QUARTER}.html"
    source = home.reports / QUARTER / f"{DISTRICT}_{QUARTER}.html"
    assert report.read_bytes() == source.read_bytes()
    report.unlink()
    _build(demo, home)
    assert report.read_bytes() == source.read_bytes()


def test_every_build_renders_every_page_in_the_calling_process(copied, monkeypatch):
    demo, home = copied
    pages = _build(demo, home)
    rendered = []
    real = __import__("dashboards.site", fromlist=["render"]).render
    monkeypatch.setattr("dashboards.site.render", lambda *a: rendered.append((a[1].lang, a[1].path, os.getpid()))
                        or real(*a))
    assert _build(demo, home) == pages
    assert len(set(rendered)) == len(pages) and {pid for *_, pid in rendered} == {os.getpid()}


def _many_districts(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """n districts of one programme, each with a target and 4 quarters of a count."""
    quarters = ["2021-Q1", "2021-Q2", "2021-Q3", "2021-Q4"]
    rows = [dict(district_ags=f"9{k:04d}", district_name=f"Landkreis Nummer {k}", indicator_id=INDICATOR,
                 period=q, value=float(k % 7 + 1), target=None) for k in range(n) for q in quarters]
    totals = [dict(district_ags=f"9{k:04d}", district_name=f"Landkreis Nummer {k}", indicator_id=INDICATOR,
                   period="total", value=float(4 * (k % 7 + 1)), target=10.0, label_de="Veranstaltungen",
                   label_en="Events") for k in range(n)]
    return pd.DataFrame(rows), pd.DataFrame(totals)


def test_a_hundred_districts_share_one_line_trace(demo_catalogue_programme):
    programme, indicator = demo_catalogue_programme
    quarters, totals = _many_districts(100)
    figure = charts_programme.cumulative(quarters, totals, indicator, programme, "de")
    districts, target = figure["data"]
    assert districts["name"] == "100 Landkreise, je eine Linie"
    assert districts["x"].count(None) == 100        # one gap after each district's line
    assert target["name"].startswith("anteiliger Zielwert")
    few = charts_programme.cumulative(*_many_districts(charts_programme.MAX_LINES), indicator, programme, "de")
    assert len(few["data"]) == charts_programme.MAX_LINES + 1  # up to MAX_LINES: a line and legend entry each


@pytest.fixture
def demo_catalogue_programme(catalogue, indicators):
    import dataclasses
    import datetime as dt
    programme = dataclasses.replace(catalogue.programme(PROGRAMME), start=dt.date(2021, 1, 1),
                                    end=dt.date(2021, 12, 31))
    return programme, indicators.get(INDICATOR)


def test_a_programme_with_many_districts_gets_one_fund_overview_and_a_small_page(tmp_path_factory):
    """Hand-worked: the demo's lzz-1 has 6 programme districts and one micro-project fund (13076,
    12 projects, 7,080.50 EUR granted). With 20 made-up districts added (26 > MANY_DISTRICTS) it
    has many: one overview chart `fig-micro` with one bar of 7,080.50 EUR replaces the
    per-district chart `fig-micro-13076`, the bars lie across, and the page stays under 1 MB."""
    import dataclasses

    from dashboards import data as site_data, layout, pages_common, pages_programme, sitemap
    from dashboards.site import page_html
    import base64
    import json
    import numpy as np

    demo = demo_site(tmp_path_factory)
    with warehouse.connect(demo.home.warehouse, read_only=True) as con:
        data = site_data.load(con, demo.catalogue, demo.indicators)
    small = demo.catalogue.programme(PROGRAMME)
    assert not pages_common.has_many_districts(small) and len(small.districts) == 6
    many = dataclasses.replace(small, districts=(*small.districts, *(f"99{k:03d}" for k in range(20))))
    assert pages_common.has_many_districts(many) and pages_common.MANY_DISTRICTS == 20
    place = layout.Place(lang="de", path=sitemap.programme_path(PROGRAMME), lang_prefix="")
    html = page_html(data, place, pages_programme.programme_page(data, many, place, None, False))
    assert 'id="fig-micro"' in html and "fig-micro-13076" not in html
    assert "Mikroprojektfonds je Kreis" in html and '"orientation":"h"' in html
    start = html.index('id="fig-micro"')
    figure = json.loads(html[html.index("var s=", start) + 6:].split(";", 1)[0].replace("<\\/", "</"))
    bar = figure["data"][0]
    granted = np.frombuffer(base64.b64decode(bar["x"]["bdata"]), dtype=bar["x"]["dtype"])
    assert granted.tolist() == [7080.5] and len(bar["y"]) == 1
    assert "12 Projekte" in bar["hovertext"][0]
    assert len(html.encode("utf-8")) < 1024 * 1024
    small_html = page_html(data, place, pages_programme.programme_page(data, small, place, None, False))
    assert "fig-micro-13076" in small_html and 'id="fig-micro"' not in small_html
