"""National scale: the fast paths give the same bytes as the reference paths, and unchanged inputs
leave the table and the files alone while a changed one rewrites them."""
from __future__ import annotations

import math
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline import warehouse
from pipeline.publish.exports import INDICATOR_FILES, sort_indicator_frame, write_indicator_xlsx
from pipeline.indicators import compute_indicators, load_indicators
from pipeline.tables import map_unique, neutralise
from tests.test_indicators import LIPPE, LUP, SALZWEDEL, build_warehouse, event, insert, micro, survey


@pytest.fixture(scope="module")
def frame(catalogue, indicators) -> pd.DataFrame:
    con = duckdb.connect(":memory:")
    warehouse.ensure_schema(con)
    build_warehouse(con)
    return sort_indicator_frame(compute_indicators(con, catalogue, indicators), catalogue, indicators)


def _odd_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Values the block writer must print exactly as xlsxwriter does: -0, long and tiny floats,
    formula-like and XML-special text, blanks in text and number columns."""
    odd = frame.head(6).copy()
    odd["value"] = [-0.0, 1 / 3, 1e-7, 123456789012.5, np.nan, 2.0 ** 60]
    odd["district_name"] = ["=HYPERLINK(\"x\")", "A & B <c>", " lead", None, "-12", "Ü\tß"]
    odd["status"] = [None, "behind", "on_track", None, "within", "achieved"]
    odd["n"] = [0, 1, 2, 3, 4, 5]
    return pd.concat([frame, odd], ignore_index=True)


def test_block_writer_gives_the_reference_bytes(frame, catalogue, indicators, tmp_path):
    for name, data in (("plain", frame), ("odd", _odd_rows(frame)), ("empty", frame.iloc[:0])):
        fast = write_indicator_xlsx(data, catalogue, indicators, tmp_path / f"{name}-fast.xlsx")
        reference = write_indicator_xlsx(data, catalogue, indicators, tmp_path / f"{name}-ref.xlsx", fast=False)
        assert fast.read_bytes() == reference.read_bytes(), name


def test_block_writer_spans_blocks_of_sixteen_rows(frame, catalogue, indicators, tmp_path):
    # Rows of one programme past several 16-row blocks, some with their last columns blank.
    many = pd.concat([frame[frame.programme_id == "lzz-2"]] * 3, ignore_index=True)
    many.loc[::7, ["label_de", "label_en", "unit"]] = None
    fast = write_indicator_xlsx(many, catalogue, indicators, tmp_path / "fast.xlsx")
    reference = write_indicator_xlsx(many, catalogue, indicators, tmp_path / "ref.xlsx", fast=False)
    assert fast.read_bytes() == reference.read_bytes()


def test_map_unique_equals_map():
    series = pd.Series(["=1", "a", None, "a", math.nan, "-3", "@x"], dtype=object)
    pd.testing.assert_series_equal(map_unique(series, neutralise), series.map(neutralise), check_dtype=False)
    flags = pd.Series([True, False, True])
    assert map_unique(flags, lambda b: "ja" if b else "nein", missing=True).tolist() == ["ja", "nein", "ja"]
    gaps = pd.Series([None, "x"], dtype=object)
    assert map_unique(gaps, lambda v: "leer" if v is None else v, missing=True).tolist() == ["leer", "x"]


# -- skipping work: the assets on a small home ----------------------------------------------------

def _materialize(home, selection):
    result = dg.materialize(selection, resources={"home": home})
    assert result.success
    return {e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}


def _stamps(paths: list[Path]) -> list[int]:
    return [p.stat().st_mtime_ns for p in paths]


def test_unchanged_inputs_skip_and_a_changed_district_recomputes(tmp_path):
    from assets.indicators import ASSETS
    from assets.resources import TeilhabeHome

    home = TeilhabeHome(home=str(tmp_path))
    with home.connect() as con:
        build_warehouse(con)
    first = _materialize(home, ASSETS)
    assert first["indicator_values"]["unchanged"].value is False
    assert first["indicator_exports"]["unchanged"].value is False
    paths = [home.paths.exports / name for name in INDICATOR_FILES]
    stamps = _stamps(paths)
    with home.connect(read_only=True) as con:
        before = con.execute("SELECT * FROM indicator_values").df()

    # Nothing changed: neither the table nor the files are written again.
    again = _materialize(home, ASSETS)
    assert again["indicator_values"]["unchanged"].value is True
    assert again["indicator_exports"]["unchanged"].value is True
    assert _stamps(paths) == stamps

    # A missing file is written again, whatever the fingerprint says.
    paths[2].unlink()
    assert _materialize(home, ASSETS)["indicator_exports"]["unchanged"].value is False
    assert paths[2].is_file() and _stamps(paths)[:2] == stamps[:2]

    # Lippe re-delivers 2023-Q2 with one more training (dated 2023-05-25): its trainings_held for
    # 2023-Q2 goes from 1 (E6) to 2, its total from 4 to 5, and lzz-2's ALL total from 5 to 6.
    with home.connect() as con:
        insert(con, "events", LIPPE, "2023-Q2", [event("E8", "2023-05-25", "training", 4)])
    changed = _materialize(home, ASSETS)
    assert changed["indicator_values"]["recomputed"].value == "districts:1"
    assert changed["indicator_exports"]["unchanged"].value is False
    with home.connect() as con:
        after = con.execute("SELECT * FROM indicator_values").df()
        # The same table as a recomputation of everything.
        pd.testing.assert_frame_equal(after, compute_indicators(con, home.catalogue(), load_indicators(home.catalogue())))
    key = ["programme_id", "indicator_id", "district_ags", "period"]
    trainings = after[after.indicator_id == "trainings_held"].set_index(key)["value"]
    old = before[before.indicator_id == "trainings_held"].set_index(key)["value"]
    for k, (was, now) in {("lzz-2", "trainings_held", LIPPE, "2023-Q2"): (1, 2),
                          ("lzz-2", "trainings_held", LIPPE, "total"): (4, 5),
                          ("lzz-2", "trainings_held", "ALL", "total"): (5, 6)}.items():
        assert (old[k], trainings[k]) == (was, now), k
    assert all(a != b for a, b in zip(_stamps(paths), stamps))


def test_a_changed_comparison_district_and_a_fund_give_the_full_figures(tmp_path):
    # Means (survey, ALL_COMPARISON) and sums of decimals (micro-projects) are not sums of their
    # districts: their ALL rows come from the records again, and must equal a full recomputation.
    from assets.indicators import ASSETS
    from assets.resources import TeilhabeHome

    home = TeilhabeHome(home=str(tmp_path))
    with home.connect() as con:
        build_warehouse(con)
    _materialize(home, ASSETS[:1])
    with home.connect() as con:
        insert(con, "survey", SALZWEDEL, "2023-Q2", [survey("S3", "2023-04-01", "baseline", "resident", belonging=5)])
        insert(con, "micro_projects", LUP, "2019-Q2", [micro("M5", "2019-04-01", 333.33, 1, 5)])
    done = _materialize(home, ASSETS[:1])["indicator_values"]["recomputed"].value
    assert done == "districts:2"
    with home.connect() as con:
        after = con.execute("SELECT * FROM indicator_values").df()
        full = compute_indicators(con, home.catalogue(), load_indicators(home.catalogue()))
    pd.testing.assert_frame_equal(after, full)
    belonging = after[(after.indicator_id == "survey_belonging_baseline") & (after.district_ags == "ALL_COMPARISON")
                      & (after.period == "total")]
    assert belonging["value"].tolist() == [3.6667]  # Salzwedel 2, 4 and now 5: 11 / 3


def test_only_the_indicators_reading_a_changed_feed_are_recomputed(indicators):
    from pipeline.indicators.engine import _changed_feeds, _reading

    # District prints are `feed:count:hash` per feed; a feed that differs, appears or goes is changed.
    assert _changed_feeds("advice:2:7;events:3:1", "advice:2:7;events:3:2") == {"events"}
    assert _changed_feeds("advice:2:7;events:3:1", "events:3:1") == {"advice"}
    assert _changed_feeds(None, "events:3:1") is None and _changed_feeds("events:3:1", None) is None
    # A re-delivered events file: the counts of events and, as attendance is dated by its event,
    # every reach; not the survey's means nor the micro-fund's sums.
    redo = _reading(indicators, {"events"}).ids
    assert {"trainings_held", "people_reached"} <= set(redo)
    assert "survey_belonging_baseline" not in redo and "micro_funding_eur" not in redo
    assert _reading(indicators, {"survey"}).ids == [i.id for i in indicators if i.definition.feed == "survey"]
    assert _reading(indicators, None) is indicators


def test_workbook_reuses_unchanged_parts_and_gives_the_same_bytes(frame, catalogue, indicators, tmp_path,
                                                                  monkeypatch):
    import zipfile

    import pipeline.publish.exports

    path = tmp_path / "indicators.xlsx"
    write_indicator_xlsx(frame, catalogue, indicators, path)
    before = zipfile.ZipFile(path)
    old = {name: before.read(name) for name in before.namelist()}
    # lzz-2 (the third programme, sheet3.xml) changes: only its sheet is compressed anew.
    changed = frame.copy()
    changed.loc[(changed.programme_id == "lzz-2") & (changed.indicator_id == "trainings_held"), "value"] += 1
    anew = []
    reusable = pipeline.publish.exports._Parts._reusable

    def recording(self, data):
        found = reusable(self, data)
        if found is None:
            anew.append(data)
        return found

    monkeypatch.setattr(pipeline.publish.exports._Parts, "_reusable", recording)
    write_indicator_xlsx(changed, catalogue, indicators, path)
    assert anew == [zipfile.ZipFile(path).read("xl/worksheets/sheet3.xml")]
    assert zipfile.ZipFile(path).read("xl/worksheets/sheet3.xml") != old["xl/worksheets/sheet3.xml"]
    fresh = write_indicator_xlsx(changed, catalogue, indicators, tmp_path / "fresh.xlsx")
    reference = write_indicator_xlsx(changed, catalogue, indicators, tmp_path / "ref.xlsx", fast=False)
    assert path.read_bytes() == fresh.read_bytes() == reference.read_bytes()
    # A damaged earlier file is no help, and no harm.
    path.write_bytes(b"PK\x03\x04 not a workbook")
    write_indicator_xlsx(changed, catalogue, indicators, path)
    assert path.read_bytes() == reference.read_bytes()
