"""Skipping work the Dagster way: unchanged inputs (the same data version) leave the table and the
files alone, a changed one recomputes them whole and gives exactly a full recomputation."""
from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from pipeline.publish.exports import INDICATOR_FILES
from pipeline.indicators import compute_indicators, load_indicators
from tests.test_indicators import LIPPE, LUP, SALZWEDEL, build_warehouse, event, insert, micro, survey


# -- skipping work: the assets on a small home ----------------------------------------------------

def _materialize(home, selection, instance):
    result = dg.materialize(selection, resources={"home": home}, instance=instance)
    assert result.success
    return {e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}


def _stamps(paths: list[Path]) -> list[int]:
    return [p.stat().st_mtime_ns for p in paths]


def test_unchanged_inputs_skip_and_a_changed_district_recomputes(tmp_path):
    from assets.indicators import ASSETS
    from assets.resources import TeilhabeHome

    home, instance = TeilhabeHome(home=str(tmp_path)), dg.DagsterInstance.ephemeral()
    with home.connect() as con:
        build_warehouse(con)
    first = _materialize(home, ASSETS, instance)
    assert first["indicator_values"]["unchanged"].value is False
    assert first["indicator_exports"]["unchanged"].value is False
    paths = [home.paths.exports / name for name in INDICATOR_FILES]
    stamps = _stamps(paths)
    with home.connect(read_only=True) as con:
        before = con.execute("SELECT * FROM indicator_values").df()

    # Nothing changed: neither the table nor the files are written again.
    again = _materialize(home, ASSETS, instance)
    assert again["indicator_values"]["unchanged"].value is True
    assert again["indicator_exports"]["unchanged"].value is True
    assert _stamps(paths) == stamps

    # A missing file is written again, whatever the fingerprint says.
    paths[2].unlink()
    assert _materialize(home, ASSETS, instance)["indicator_exports"]["unchanged"].value is False
    assert paths[2].is_file() and _stamps(paths)[:2] == stamps[:2]

    # Lippe re-delivers 2023-Q2 with one more training (dated 2023-05-25): its trainings_held for
    # 2023-Q2 goes from 1 (E6) to 2, its total from 4 to 5, and lzz-2's ALL total from 5 to 6.
    with home.connect() as con:
        insert(con, "events", LIPPE, "2023-Q2", [event("E8", "2023-05-25", "training", 4)])
    changed = _materialize(home, ASSETS, instance)
    assert changed["indicator_values"]["unchanged"].value is False
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
    # Means (survey, ALL_COMPARISON) and sums of decimals (micro-projects): a change recomputes them
    # from the records, equal to a full recomputation.
    from assets.indicators import ASSETS
    from assets.resources import TeilhabeHome

    home, instance = TeilhabeHome(home=str(tmp_path)), dg.DagsterInstance.ephemeral()
    with home.connect() as con:
        build_warehouse(con)
    _materialize(home, ASSETS[:1], instance)
    with home.connect() as con:
        insert(con, "survey", SALZWEDEL, "2023-Q2", [survey("S3", "2023-04-01", "baseline", "resident", belonging=5)])
        insert(con, "micro_projects", LUP, "2019-Q2", [micro("M5", "2019-04-01", 333.33, 1, 5)])
    assert _materialize(home, ASSETS[:1], instance)["indicator_values"]["unchanged"].value is False
    with home.connect() as con:
        after = con.execute("SELECT * FROM indicator_values").df()
        full = compute_indicators(con, home.catalogue(), load_indicators(home.catalogue()))
    pd.testing.assert_frame_equal(after, full)
    belonging = after[(after.indicator_id == "survey_belonging_baseline") & (after.district_ags == "ALL_COMPARISON")
                      & (after.period == "total")]
    assert belonging["value"].tolist() == [3.6667]  # Salzwedel 2, 4 and now 5: 11 / 3
