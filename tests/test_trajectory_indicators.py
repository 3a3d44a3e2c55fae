"""Result indicators of individual integration paths (indicator contract section 8), compiled from
the catalogue's `trajectory` aggregate, on a hand-made warehouse. Every figure is worked by hand.

Kreis Lippe 05766 in lzz-2 (2023-01-01 – 2024-06-30); months are calendar months between the
month of arrival and the observation's month. Six persons:

| person | arrival | observations (date level course activity)                               |
|--------|---------|--------------------------------------------------------------------------|
| P1     | 2022-11 | 2023-01-10 A1 none job_seeking; 2023-06-15 A2 integration_course;        |
|        |         | 2023-11-20 B1 → corrected in 2024-Q1 to B2, employed                     |
| P2     | 2022-03 | 2023-02-01 none other_course; 2023-05-01 none; 2024-01-15 A1 job_seeking; |
|        |         | 2024-05-10 A1 employed                                                   |
| P3     | 2022-01 | 2023-03-01 A2 integration_course job_seeking; 2023-07-01 A2 job_seeking; |
|        |         | 2024-06-01 B1 school                                                     |
| P4     | 2023-01 | 2023-02-01 A1 none                                                       |
| P5     | 2022-08 | 2023-04-01 B1; 2023-08-01 B1 (4 months apart)                            |
| P6     | —       | 2023-05-01 A1 job_language_course; 2024-02-01 A2                         |

Dachau 09174 (lzz-2) has one person with the same pseudonym as P1 (pseudonyms are district-local):
arrival 2023-01, 2023-03-01 A1.
"""
import datetime as dt
import math

import duckdb
import pandas as pd
import pytest

from pipeline import warehouse
from pipeline.catalogue import load_catalogue
from pipeline.contract import load_contract
from pipeline.indicators import compute_indicators, load_indicators

LIPPE, DACHAU = "05766", "09174"


def obs(oid, person, date, arrival, level=None, course=None, activity=None):
    return {"observation_id": oid, "person_key": person, "date": dt.date.fromisoformat(date),
            "arrival_month": dt.date.fromisoformat(arrival + "-01") if arrival else None,
            "language_level": level, "course": course, "activity": activity}


def insert(con, ags, delivery_quarter, rows):
    columns = [name for name, _ in warehouse.stg_columns(load_contract().feeds["trajectories"])]
    frame = pd.DataFrame([{"receipt_id": f"{ags}_{delivery_quarter}", "district_ags": ags,
                           "delivery_quarter": delivery_quarter, "source_row": n + 2,
                           "quarter": f"{r['date'].year}-Q{(r['date'].month - 1) // 3 + 1}", "is_late": False,
                           **{c: r.get(c) for c in columns}} for n, r in enumerate(rows)])
    con.register("_rows", frame)
    con.execute("INSERT INTO stg_trajectories BY NAME SELECT * FROM _rows")
    con.unregister("_rows")


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect(":memory:")
    warehouse.ensure_schema(con)
    insert(con, LIPPE, "2024-Q2", [
        obs("O1", "P1", "2023-01-10", "2022-11", "A1", "none", "job_seeking"),
        obs("O2", "P1", "2023-06-15", "2022-11", "A2", "integration_course"),
        obs("O3", "P1", "2023-11-20", "2022-11", "B1", None, "employed"),
        obs("O4", "P2", "2023-02-01", "2022-03", "none", "other_course"),
        obs("O5", "P2", "2023-05-01", "2022-03", "none"),
        obs("O6", "P2", "2024-01-15", "2022-03", "A1", None, "job_seeking"),
        obs("O7", "P2", "2024-05-10", "2022-03", "A1", None, "employed"),
        obs("O8", "P3", "2023-03-01", "2022-01", "A2", "integration_course", "job_seeking"),
        obs("O9", "P3", "2023-07-01", "2022-01", "A2", None, "job_seeking"),
        obs("O10", "P3", "2024-06-01", "2022-01", "B1", None, "school"),
        obs("O11", "P4", "2023-02-01", "2023-01", "A1", "none"),
        obs("O12", "P5", "2023-04-01", "2022-08", "B1"),
        obs("O13", "P5", "2023-08-01", "2022-08", "B1"),
        obs("O14", "P6", "2023-05-01", None, "A1", "job_language_course"),
        obs("O15", "P6", "2024-02-01", None, "A2"),
    ])
    # Replaced: the stg rows of an earlier delivery of O3 lose to the later one (cur_trajectories).
    con.execute("UPDATE stg_trajectories SET delivery_quarter = '2023-Q4' WHERE observation_id = 'O3'")
    insert(con, LIPPE, "2024-Q1", [obs("O3", "P1", "2023-11-20", "2022-11", "B2", None, "employed")])
    insert(con, DACHAU, "2023-Q1", [obs("D1", "P1", "2023-03-01", "2023-01", "A1")])
    catalogue = load_catalogue()
    compute_indicators(con, catalogue, load_indicators(catalogue))
    return con


def figure(con, indicator, district=LIPPE):
    return con.execute("""SELECT value, n, ci_low, ci_high FROM indicator_values WHERE programme_id = 'lzz-2'
                          AND indicator_id = ? AND district_ags = ? AND period = 'total'""",
                       [indicator, district]).fetchall()[0]


def parts(con, indicator, breakdown, district=LIPPE):
    return con.execute("""SELECT breakdown_value, value, n FROM indicator_breakdowns WHERE programme_id = 'lzz-2'
                          AND indicator_id = ? AND breakdown = ? AND district_ags = ? ORDER BY 1""",
                       [indicator, breakdown, district]).fetchall()


def wilson(k, n, z=1.959964):
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * (centre - half) / (1 + z * z / n), 100 * (centre + half) / (1 + z * z / n)


def test_persons_observed_and_followed(con):
    # Six persons in Lippe; ALL adds Dachau's one (the same pseudonym is another person there): 7.
    assert figure(con, "traj_persons")[:2] == (6, 6)
    assert figure(con, "traj_persons", "ALL")[:2] == (7, 7)
    # Followed (≥ 2 observations, first and latest ≥ 6 months apart): P1 (10 months), P2, P3, P6
    # (9 months); not P4 (one observation) nor P5 (4 months). n: the 6 persons observed.
    assert figure(con, "traj_followed")[:2] == (4, 6)
    # Arrival cohorts: 2022-H1 P2, P3; 2022-H2 P1, P5; 2023-H1 P4; without a month P6.
    assert parts(con, "traj_persons", "arrival_cohort") == [("", 1, 1), ("2022-H1", 2, 2), ("2022-H2", 2, 2),
                                                            ("2023-H1", 1, 1)]


def test_language_level_up_within_12_months(con):
    # Of the 4 followed: P1 A1 → A2 after 5 months (yes), P2 none → A1 on 2024-01-15, within 12
    # months of 2023-02-01 (yes), P3 A2 → B1 only after 15 months (no), P6 A1 → A2 after 9 (yes):
    # 3 of 4 = 75 %; Wilson: (0.75 + 3.8415/8 ∓ 1.96·√(0.1875/4 + 3.8415/64)) / (1 + 3.8415/4)
    # = (1.23018 ∓ 0.64081) / 1.96037 = 30.06 % … 95.44 %.
    value, n, low, high = figure(con, "traj_language_improved")
    assert (value, n) == (75.0, 4)
    assert (low, high) == pytest.approx((30.06, 95.44), abs=0.01)
    assert (low, high) == pytest.approx(wilson(3, 4), abs=1e-4)
    # Per cohort: 2022-H1 P2 yes, P3 no: 50 % of 2; 2022-H2 P1: 100 % of 1; no month: P6 100 % of 1.
    assert parts(con, "traj_language_improved", "arrival_cohort") == [("", 100.0, 1), ("2022-H1", 50.0, 2),
                                                                      ("2022-H2", 100.0, 1)]
    low, high = con.execute("""SELECT ci_low, ci_high FROM indicator_breakdowns WHERE indicator_id =
        'traj_language_improved' AND breakdown = 'arrival_cohort' AND breakdown_value = '2022-H1'
        AND district_ags = ?""", [LIPPE]).fetchall()[0]
    assert (low, high) == pytest.approx(wilson(1, 2), abs=1e-4)  # 9.45 % … 90.55 %


def test_median_months_to_first_course(con):
    # First observation with a course other than none: P1 2023-06 from 2022-11 = 7 months; P2
    # 2023-02 from 2022-03 = 11; P3 2023-03 from 2022-01 = 14; P6 has no month of arrival; P4, P5
    # no course. Median of 7, 11, 14 = 11, over 3 persons; ALL the same (Dachau has no course).
    assert figure(con, "traj_months_to_course")[:2] == (11.0, 3)
    assert figure(con, "traj_months_to_course", "ALL")[:2] == (11.0, 3)


def test_employed_18_to_30_months_after_arrival(con):
    # P2 (arrival 2022-03): 2024-01 is month 22, 2024-05 month 26, the latest: employed. P3
    # (2022-01): 2023-07 month 18 (job_seeking), 2024-06 month 29 (school), the latest: not.
    # P1's latest is month 12, before the window. 1 of 2 = 50 %; Wilson 9.45 % … 90.55 %.
    value, n, low, high = figure(con, "traj_employed_18_30")
    assert (value, n) == (50.0, 2)
    assert (low, high) == pytest.approx((9.45, 90.55), abs=0.01)


def test_transition_matrix(con):
    # First → latest level, persons with ≥ 2 observations with a level: P1 A1 > B2 (the corrected
    # O3), P2 none > A1, P3 A2 > B1, P5 B1 > B1, P6 A1 > A2; P4 has one. Dachau's one has one.
    assert parts(con, "traj_transitions", "transition") == [
        ("A1>A2", 1, 1), ("A1>B2", 1, 1), ("A2>B1", 1, 1), ("B1>B1", 1, 1), ("none>A1", 1, 1)]
    assert figure(con, "traj_transitions")[:2] == (5, 5)
    assert figure(con, "traj_transitions", "ALL")[:2] == (5, 5)


def test_districts_without_trajectories_have_no_rows(con):
    # The feed is optional: no zero rows for a district that delivers none (Kreis Dachau has one
    # person, so it has rows; a district of lzz-2 without any has none).
    districts = {d for (d,) in con.execute("SELECT DISTINCT district_ags FROM indicator_values "
                                           "WHERE indicator_id LIKE 'traj_%'").fetchall()}
    assert districts == {LIPPE, DACHAU, "ALL"}


def _refused(tmp_path, change) -> str:
    import shutil

    import yaml

    from pipeline.catalogue import SHIPPED_DIR, CatalogueError

    directory = tmp_path / "catalogue"
    shutil.copytree(SHIPPED_DIR, directory, dirs_exist_ok=True)
    path = directory / "indicators.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(next(i for i in data["indicators"] if i["id"] == "traj_employed_18_30"))
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError) as raised:
        load_indicators(load_catalogue(directory))
    return str(raised.value)


def test_catalogue_mistakes_are_refused_with_the_entry_named(tmp_path):
    def parameters(entry):
        entry["definition"]["trajectory"] = {"measure": "employed_share", "from_months": 30, "to_months": 18,
                                             "activities": ["employed", "retired"], "steps": 2}
    text = _refused(tmp_path, parameters)
    assert "traj_employed_18_30" in text and "activities" in text and "from_months > to_months" in text
    assert "'steps' passt nicht zu / is not used by trajectory employed_share" in text

    def breakdown(entry):
        entry["breakdowns"] = ["role"]
    assert "Aufschlüsselung 'role' passt nicht zu / does not fit trajectory" in _refused(tmp_path, breakdown)

    def measure(entry):
        entry["definition"]["trajectory"] = {"measure": "happiness"}
    assert "trajectory.measure 'happiness' unbekannt" in _refused(tmp_path, measure)
