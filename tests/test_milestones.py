"""Baselines and milestone targets (indicator contract, section 6), worked by hand.

The shipped catalogue paces Stendal's (15090) lzz-2 trainings by its four phases:
2 trainings due by 2023-06-30, 4 by 2023-12-31, 12 by 2024-03-31 and the target 14 at the
programme's end, 2024-06-30. lzz-2 runs 2023-01-01 – 2024-06-30 (546 days). Kreis Lippe (05766)
has no milestones and paces linearly: 14 × elapsed share.
"""
from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pandas as pd
import pytest
import yaml

from pipeline import warehouse
from pipeline.catalogue import SHIPPED_DIR, CatalogueError, load_catalogue
from pipeline.indicators import compute_indicators, load_indicators
from tests.test_indicators import LIPPE, STENDAL, event, insert, row


def trainings(n: int, start: dt.date) -> list[dict]:
    """n trainings five days apart from `start` (inside one quarter for the n used here)."""
    return [event(f"T{k}", (start + dt.timedelta(days=5 * k)).isoformat(), "training", 10) for k in range(n)]


def computed(catalogue, indicators, deliveries: dict[str, list[tuple[str, int, str]]]):
    """A warehouse with, per district, deliveries (quarter, trainings, first date); the latest
    quarter delivered sets the reporting date, as in production."""
    con = duckdb.connect(":memory:")
    warehouse.ensure_schema(con)
    for ags, batches in deliveries.items():
        for n, (quarter, count, first) in enumerate(batches):
            rows = [dict(r, event_id=f"{r['event_id']}-{n}") for r in trainings(count, dt.date.fromisoformat(first))]
            insert(con, "events", ags, quarter, rows)
    values = compute_indicators(con, catalogue, indicators)
    con.close()
    return values


@pytest.mark.parametrize("deliveries, stendal, lippe", [
    # Reported up to 2023-Q1 (reached 2023-03-31): no milestone due yet, so Stendal's 0 trainings
    # are on track; Lippe's 1 is behind its linear 14 × 89/546 = 2.28.
    ({STENDAL: [], LIPPE: [("2023-Q1", 1, "2023-02-01")]},
     (0, "on_track", None, None), (1, "behind")),
    # Up to 2023-Q3 (reached 2023-09-30, 272 days): Stendal's 3 trainings meet the 2 due by
    # 2023-06-30 → on track, where linear pacing would want 14 × 272/546 = 6.97; Lippe's 3 are behind.
    ({STENDAL: [("2023-Q3", 3, "2023-07-03")], LIPPE: [("2023-Q3", 3, "2023-07-03")]},
     (3, "on_track", 2, "2023-06-30"), (3, "behind")),
    # Up to 2023-Q4: Stendal 8 ≥ 4 due by 2023-12-31 → on track.
    ({STENDAL: [("2023-Q4", 8, "2023-10-02")], LIPPE: []},
     (8, "on_track", 4, "2023-12-31"), (0, "behind")),
    # Up to 2024-Q1 (reached 2024-03-31, 455 days): the pilot phase wants 12; Stendal's 8 are behind,
    # while linear pacing would want 14 × 455/546 = 11.67 — Lippe's 12 are on track.
    ({STENDAL: [("2023-Q4", 8, "2023-10-02")], LIPPE: [("2024-Q1", 12, "2024-01-01")]},
     (8, "behind", 12, "2024-03-31"), (12, "on_track")),
    # Up to 2024-Q2: the programme is over, the target itself is due: 13 of 14 is behind, 14 achieved.
    ({STENDAL: [("2024-Q2", 13, "2024-04-01")], LIPPE: [("2024-Q2", 14, "2024-04-01")]},
     (13, "behind", 14, "2024-06-30"), (14, "achieved")),
])
def test_status_paces_against_the_milestone_due_by_the_reporting_date(catalogue, indicators, deliveries,
                                                                        stendal, lippe):
    values = computed(catalogue, indicators, deliveries)
    s = row(values, "lzz-2", "trainings_held", STENDAL)
    value, status, milestone, due = stendal
    assert (s["value"], s["status"]) == (value, status)
    if milestone is None:
        assert pd.isna(s["milestone"]) and pd.isna(s["milestone_due"])
    else:
        assert s["milestone"] == milestone
        assert str(s["milestone_due"])[:10] == due
    # The baseline rides along on the total row, with its date and source.
    assert (s["baseline"], str(s["baseline_date"])[:10]) == (0, "2022-12-31")
    assert s["baseline_source"].startswith("illustrativ")
    l_row = row(values, "lzz-2", "trainings_held", LIPPE)
    assert (l_row["value"], l_row["status"]) == lippe
    assert pd.isna(l_row["milestone"])  # Lippe paces linearly: no milestone
    # Quarter rows carry no target, hence no baseline and no milestone.
    quarters = values[(values.indicator_id == "trainings_held") & (values.district_ags == STENDAL)
                      & (values.period != "total")]
    assert quarters["milestone"].isna().all() and quarters["baseline"].isna().all()


# -- the loader says what is wrong ------------------------------------------------------------------

def _catalogue_with(tmp_path, override: dict, direction: str = "at_least"):
    folder = tmp_path / "catalogue"
    shutil.copytree(SHIPPED_DIR, folder)
    data = yaml.safe_load((folder / "indicators.yaml").read_text(encoding="utf-8"))
    entry = next(i for i in data["indicators"] if i["id"] == "trainings_held")
    entry["direction"] = direction
    entry["overrides"] = [override]
    (folder / "indicators.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    catalogue = load_catalogue(folder)
    return lambda: load_indicators(catalogue)


STENDAL_LZZ2 = {"programme": "lzz-2", "district": STENDAL}


@pytest.mark.parametrize("override, direction, says", [
    ({**STENDAL_LZZ2, "milestones": [{"due": "2022-06-30", "value": 2}]}, "at_least",
     "milestones #1: fällig 2022-06-30 liegt nicht in der Laufzeit 2023-01-01 – 2024-06-30"),
    ({**STENDAL_LZZ2, "milestones": [{"due": "2023-12-31", "value": 5}, {"due": "2023-06-30", "value": 6}]},
     "at_least", "Fälligkeiten müssen aufsteigen (2023-12-31, 2023-06-30)"),
    ({**STENDAL_LZZ2, "milestones": [{"due": "2023-06-30", "value": 5}, {"due": "2023-12-31", "value": 3}]},
     "at_least", "kumulierte Werte dürfen nicht fallen (5 → 3)"),
    ({**STENDAL_LZZ2, "milestones": [{"due": "2023-06-30", "value": 20}]}, "at_least",
     "Meilenstein 20 über dem Zielwert 14"),
    ({**STENDAL_LZZ2, "target": None, "milestones": [{"due": "2023-06-30", "value": 2}]}, "at_least",
     "Meilensteine ohne Zielwert"),
    ({**STENDAL_LZZ2, "milestones": [{"due": "2023-06-30", "value": 2}]}, "at_most",
     "Meilensteine takten nur Ziele 'at_least'"),
    ({**STENDAL_LZZ2, "milestones": [{"due": "Ende Juni", "value": 2}]}, "at_least",
     "Fälligkeit 'Ende Juni' ist kein Datum"),
    ({**STENDAL_LZZ2, "baseline": {"value": 3, "date": "2022-12-31"}}, "at_least", "baseline: Quelle fehlt"),
    ({**STENDAL_LZZ2, "baseline": {"value": -1, "date": "2022-12-31", "source": "x"}}, "at_least",
     "baseline: Wert '-1' muss eine Zahl ≥ 0 sein"),
    ({**STENDAL_LZZ2, "baseline": 0}, "at_least", "baseline: erwartet {value, date, source}"),
    ({**STENDAL_LZZ2}, "at_least", "target, baseline oder milestones nötig"),
    ({**STENDAL_LZZ2, "milestone": []}, "at_least", "unbekannte Angabe / unknown key: milestone"),
])
def test_loader_names_what_is_wrong_with_a_milestone_or_baseline(tmp_path, override, direction, says):
    load = _catalogue_with(tmp_path, override, direction)
    with pytest.raises(CatalogueError) as raised:
        load()
    text = str(raised.value)
    assert "indicators.yaml indicator 'trainings_held' override lzz-2/15090" in text
    assert says in text, text


def test_an_override_with_only_a_baseline_keeps_the_target(tmp_path):
    loaded = _catalogue_with(tmp_path, {**STENDAL_LZZ2, "baseline": {"value": 4, "date": "2022-12-31",
                                                                     "source": "Jahresbericht 2022"}})()
    trainings_held = loaded.get("trainings_held")
    assert trainings_held.target_for("lzz-2", STENDAL) == 14
    assert trainings_held.baseline_for("lzz-2", STENDAL).value == 4
    assert trainings_held.milestones_for("lzz-2", STENDAL) == ()
    assert trainings_held.baseline_for("lzz-2", LIPPE) is None
