"""National scale: unchanged inputs leave the table and the files alone while a changed one
rewrites them, and only the indicators reading a changed feed are recomputed."""
from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from pipeline.publish.exports import INDICATOR_FILES
from pipeline.indicators import compute_indicators, load_indicators
from tests.test_indicators import LIPPE, LUP, SALZWEDEL, build_warehouse, event, insert, micro, survey


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
