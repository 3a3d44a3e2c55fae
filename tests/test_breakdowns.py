"""Breakdowns (indicator contract section 6) on a hand-made warehouse: further rows per value of a
column, empty breakdown on the overall row (unchanged), adding up where the aggregate is additive.

Kreis Lippe 05766 in lzz-2 (2023-01-01 – 2024-06-30), delivery 2023-Q1:
- events E1 training/economy 12, E2 training/politics 8 (attendance: P1, P2, P3), E3 workshop/economy
  20 (attendance: P1, P4), E4 workshop without a field, 5;
- advice: two sessions of person K1, one of group G1.
"""
import duckdb
import pytest

from pipeline import warehouse
from pipeline.catalogue import load_catalogue
from pipeline.indicators import compute_indicators, load_indicators
from tests.test_indicators import advice, attendance, event, insert

LIPPE = "05766"


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect(":memory:")
    warehouse.ensure_schema(con)
    events = [event("E1", "2023-01-10", "training", 12), event("E2", "2023-02-10", "training", 8),
              event("E3", "2023-02-20", "workshop", 20), event("E4", "2023-03-01", "workshop", 5)]
    for row, field in zip(events, ("economy", "politics", "economy", None)):
        row["field"] = field
    insert(con, "events", LIPPE, "2023-Q1", events)
    insert(con, "attendance", LIPPE, "2023-Q1",
           attendance("E2", ("P1", "volunteer"), ("P2", "volunteer"), ("P3", "newcomer"))
           + attendance("E3", ("P1", "volunteer"), ("P4", "staff")))
    insert(con, "advice", LIPPE, "2023-Q1", [advice("B1", "2023-01-05", "person", "K1"),
                                              advice("B2", "2023-02-05", "person", "K1"),
                                              advice("B3", "2023-03-05", "group", "G1")])
    catalogue = load_catalogue()
    compute_indicators(con, catalogue, load_indicators(catalogue))
    return con


def rows(con, indicator, breakdown, district=LIPPE, period="total"):
    return con.execute("""SELECT breakdown_value, value FROM indicator_breakdowns WHERE programme_id = 'lzz-2'
                          AND indicator_id = ? AND breakdown = ? AND district_ags = ? AND period = ?
                          ORDER BY breakdown_value""", [indicator, breakdown, district, period]).fetchall()


def overall(con, indicator, district=LIPPE, period="total"):
    return con.execute("""SELECT value FROM indicator_values WHERE programme_id = 'lzz-2' AND indicator_id = ?
                          AND district_ags = ? AND period = ?""", [indicator, district, period]).fetchall()[0][0]


def test_events_by_field_and_type_add_up_to_the_whole(con):
    assert rows(con, "events_held", "field") == [("", 1.0), ("economy", 2.0), ("politics", 1.0)]
    assert rows(con, "events_held", "event_type") == [("training", 2.0), ("workshop", 2.0)]
    assert overall(con, "events_held") == 4.0
    # per quarter and for the programme's ALL row as well
    assert rows(con, "events_held", "field", period="2023-Q1") == [("", 1.0), ("economy", 2.0), ("politics", 1.0)]
    assert rows(con, "events_held", "event_type", district="ALL") == [("training", 2.0), ("workshop", 2.0)]


def test_advice_sessions_by_client_type(con):
    assert rows(con, "advice_sessions", "client_type") == [("group", 1.0), ("person", 2.0)]
    assert overall(con, "advice_sessions") == 3.0


def test_people_reached_by_field_counts_distinct_persons_within_each_field(con):
    # Overall: P1..P4 listed (4) + E1's 12 and E4's 5 head counts + advised person K1 = 22.
    # economy: E1 12 (no list) + E3's P1, P4 = 14; politics: E2's P1, P2, P3 = 3; no field: E4's 5 + K1 = 6.
    # P1 is in economy and politics: the fields add up to 23, one more than the whole (distinct persons).
    assert overall(con, "people_reached") == 22.0
    assert rows(con, "people_reached", "field") == [("", 6.0), ("economy", 14.0), ("politics", 3.0)]


def test_breakdown_rows_carry_no_target_and_the_overall_rows_are_unchanged(con):
    assert "target" not in [c[0] for c in con.execute("DESCRIBE indicator_breakdowns").fetchall()]
    assert con.execute("SELECT count(*) FROM indicator_values WHERE indicator_id = 'events_held'").fetchall()[0][0] > 0


def test_a_breakdown_the_feed_does_not_have_is_refused(tmp_path):
    import shutil

    import yaml

    from pipeline.catalogue import SHIPPED_DIR, CatalogueError

    shutil.copytree(SHIPPED_DIR, tmp_path / "cat", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    data = yaml.safe_load((tmp_path / "cat" / "indicators.yaml").read_text(encoding="utf-8"))
    by_id = {i["id"]: i for i in data["indicators"]}
    by_id["advice_sessions"]["breakdowns"] = ["field"]
    by_id["people_reached"]["breakdowns"] = ["role"]
    by_id["events_held"]["breakdowns"] = ["colour"]
    (tmp_path / "cat" / "indicators.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError) as error:
        load_indicators(load_catalogue(tmp_path / "cat"))
    text = "\n".join(error.value.problems)
    assert "indicator 'advice_sessions': Aufschlüsselung 'field' gibt es in advice nicht" in text
    assert "indicator 'people_reached': eine Reichweite lässt sich nur nach Merkmalen der Veranstaltung" in text
    assert "indicator 'events_held': Aufschlüsselung 'colour' unbekannt" in text


def test_a_lonely_small_part_takes_its_next_smallest_part_along():
    import pandas as pd

    from dashboards.privacy import breakdown_rows

    def part(value_, values, unit="persons"):
        return [dict(programme_id="lzz-2", indicator_id="people_reached", comparison=False, district_ags=LIPPE,
                     period="total", breakdown="field", breakdown_value=v, value=x, unit=unit)
                for v, x in zip(value_, values)]

    # 3 is hidden; the whole (published) minus 12 and 40 would give it back: 12 goes too ("gesperrt").
    frame = pd.DataFrame(part(["economy", "politics", "education"], [12, 3, 40]))
    out = breakdown_rows(frame)
    assert out["masked"].tolist() == [False, True, False] and out["withheld"].tolist() == [True, False, False]
    assert out["value"].isna().tolist() == [True, True, False]
    # Two small parts hide each other; counts of events are no persons and stay.
    assert breakdown_rows(pd.DataFrame(part(["a", "b", "c"], [2, 4, 30])))["withheld"].tolist() == [False] * 3
    assert breakdown_rows(pd.DataFrame(part(["a", "b"], [2, 30], unit="events")))["value"].tolist() == [2, 30]
