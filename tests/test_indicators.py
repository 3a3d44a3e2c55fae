"""The indicator engine on small hand-made warehouses; every expected figure is worked by hand.

The main warehouse (`build_warehouse`) holds, per programme:
- lzz-2 (2023-01-01 – 2024-06-30): Kreis Lippe 05766 and Dachau 09174, delivered up to 2023-Q2, plus
  the comparison district Altmarkkreis Salzwedel 15081 (survey rows, and one stray event that
  must count nowhere);
- lzz-1: Ludwigslust-Parchim 13076 micro-projects (one cancelled, one over the cap, one range),
  and one micro-project of Goslar 03153, which is outside the fund's scope;
- bpb-lsa-2017 (targets on the ALL row): newsletters and a training in Stendal 15090 and Harz 15085;
- amif-nom: formats counted by type in Northeim 03155.
The warehouse's reporting date is the end of its latest delivery quarter, 2023-Q2 (2023-06-30):
bpb-lsa-2017 and lzz-1 are over (elapsed share 1); lzz-2 has run 180 of 546 days (0.3297).
"""
from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from pipeline import warehouse
from pipeline.catalogue import SHIPPED_DIR, load_catalogue
from pipeline.contract import load_contract
from pipeline.indicators import compute_indicators, load_indicators
from pipeline.quarters import quarter_of

LIPPE, DACHAU, SALZWEDEL, LUP, GOSLAR, STENDAL, HARZ, NORTHEIM = (
    "05766", "09174", "15081", "13076", "03153", "15090", "15085", "03155")
DATE_COLUMNS = {"date", "sent_date", "approved_date"}


# -- building a warehouse ---------------------------------------------------------------------------

def insert(con, feed: str, ags: str, delivery_quarter: str, rows: list[dict]) -> None:
    """Rows as the loader would stage them: typed, with the common columns filled in."""
    spec = load_contract().feeds[feed]
    columns = [name for name, _ in warehouse.stg_columns(spec)]
    records = []
    for n, row in enumerate(rows):
        record = {c: row.get(c) for c in columns}
        for c in DATE_COLUMNS & set(columns):
            if isinstance(record[c], str):
                record[c] = dt.date.fromisoformat(record[c])
        quarter = quarter_of(record[spec.date_column]) if spec.date_column else None
        records.append({"receipt_id": f"{ags}_{delivery_quarter}_{feed}", "district_ags": ags,
                        "delivery_quarter": delivery_quarter, "source_row": n + 2, "quarter": quarter,
                        "is_late": bool(quarter and quarter < delivery_quarter), **record})
    frame = pd.DataFrame(records, columns=["receipt_id", "district_ags", "delivery_quarter", "source_row",
                                           "quarter", "is_late", *columns])
    con.register("_rows", frame)
    con.execute(f"INSERT INTO stg_{feed} BY NAME SELECT * FROM _rows")
    con.unregister("_rows")


def event(event_id, date, event_type, total, volunteer=None, staff=None, title=None):
    return dict(event_id=event_id, date=date, event_type=event_type, participants_total=total,
                participants_volunteer=volunteer, participants_staff=staff, title=title)


def attendance(event_id, *people):
    return [dict(event_id=event_id, person_key=key, role=role) for key, role in people]


def advice(case_id, date, client_type, client_key):
    return dict(case_id=case_id, date=date, client_type=client_type, client_key=client_key)


def micro(project_id, date, amount, volunteers, low, high=None, status="approved"):
    return dict(project_id=project_id, applicant="Verein e.V.", approved_date=date, amount_eur=amount,
                volunteers=volunteers, newcomers_reached_low=low, newcomers_reached_high=high, status=status)


def survey(response_id, date, wave, group, **scores):
    return dict(response_id=response_id, date=date, wave=wave, group=group, **scores)


def build_warehouse(con) -> None:
    # lzz-2, Lippe. E2 is delivered twice (a correction: 2023-Q2 wins with 9 / 5 / 1); E7 is late
    # (dated 2023-Q1, delivered 2023-Q2); E0 lies before lzz-2 began and counts nowhere.
    insert(con, "events", LIPPE, "2023-Q1", [
        event("E1", "2023-02-10", "training", 10, 4, 2),
        event("E2", "2023-03-05", "training", 8, 3, 1),
        event("E3", "2023-03-20", "network_meeting", 12),
        event("E0", "2022-12-01", "network_meeting", 50),
    ])
    insert(con, "events", LIPPE, "2023-Q2", [
        event("E4", "2023-05-10", "best_practice", 25),
        event("E5", "2023-06-01", "best_practice", 15),
        event("E6", "2023-05-20", "training", 5, 2, 1),
        event("E7", "2023-03-15", "training", 6, 6, 0),
        event("E2", "2023-03-05", "training", 9, 5, 1),
    ])
    insert(con, "attendance", LIPPE, "2023-Q1",
           attendance("E1", ("P1", "volunteer"), ("P2", "staff"), ("P3", "newcomer"), ("P4", "volunteer"))
           + attendance("E3", ("P1", "volunteer"), ("P5", "other")))
    insert(con, "attendance", LIPPE, "2023-Q2", attendance("E6", ("P1", "volunteer"), ("P6", "volunteer")))
    insert(con, "advice", LIPPE, "2023-Q2", [
        advice("C1", "2023-02-01", "person", "K1"),
        advice("C2", "2023-02-15", "person", "K1"),       # the same client again
        advice("C3", "2023-05-05", "group", "G1"),
        advice("C4", "2023-05-06", "person", "P1"),       # also attended events: one person
        advice("C5", "2023-04-10", "organisation", "O1"),
    ])
    insert(con, "newsletters", LIPPE, "2023-Q2", [
        dict(issue_id="N1", sent_date="2023-01-15", recipients=100),
        dict(issue_id="N2", sent_date="2023-04-15", recipients=120),
    ])
    insert(con, "survey", LIPPE, "2023-Q1", [
        survey("R1", "2023-02-01", "baseline", "newcomer", belonging=3),
        survey("R2", "2023-02-02", "baseline", "newcomer", belonging=4),
        survey("R3", "2023-02-03", "baseline", "newcomer", belonging=5),
        survey("R4", "2023-02-04", "baseline", "newcomer"),   # returned, nothing answered
    ])
    insert(con, "survey", LIPPE, "2023-Q2", [
        survey("R5", "2023-05-01", "follow_up", "resident", belonging=4, participation=2),
    ])
    # lzz-2, Dachau: head counts only; P1 here is another person than Lippe's P1.
    insert(con, "events", DACHAU, "2023-Q1", [
        event("D1", "2023-02-01", "training", 20, 10, 5),
        event("D2", "2023-02-02", "network_meeting", 3),
    ])
    insert(con, "attendance", DACHAU, "2023-Q1", attendance("D2", ("P1", "other")))
    # lzz-2 comparison district: survey rows count, flagged; an event must count nowhere.
    insert(con, "survey", SALZWEDEL, "2023-Q1", [
        survey("S1", "2023-03-01", "baseline", "resident", belonging=2),
        survey("S2", "2023-03-02", "baseline", "resident", belonging=4),
    ])
    insert(con, "events", SALZWEDEL, "2023-Q1", [event("X1", "2023-02-01", "training", 99, 50, 49)])
    # lzz-1, Ludwigslust-Parchim micro-project fund; Goslar's project is outside the fund.
    insert(con, "micro_projects", LUP, "2018-Q3", [
        micro("M1", "2018-06-01", 800.0, 5, 100, 100),
        micro("M2", "2018-09-01", 1200.0, 3, 50, 80, status="completed"),
    ])
    insert(con, "micro_projects", LUP, "2019-Q1", [
        micro("M3", "2019-02-01", 900.0, 4, 20),
        micro("M4", "2019-03-01", 5000.0, 10, 300, status="cancelled"),
    ])
    insert(con, "micro_projects", GOSLAR, "2019-Q1", [micro("M9", "2019-01-10", 1500.0, 2, 10)])
    # bpb-lsa-2017: 4 + 3 newsletters, one training (Stendal is also an lzz-2 district: 2017
    # records count toward bpb-lsa-2017 only, since lzz-2 began in 2023).
    insert(con, "newsletters", STENDAL, "2017-Q4", [
        dict(issue_id=f"S{k}", sent_date=f"2017-{3 + 2 * k:02d}-10", recipients=50) for k in range(4)])
    insert(con, "newsletters", HARZ, "2017-Q4", [
        dict(issue_id=f"H{k}", sent_date=f"2017-{4 + 2 * k:02d}-10", recipients=40) for k in range(3)])
    insert(con, "events", STENDAL, "2017-Q2", [event("B1", "2017-05-01", "training", 30, 20, 5)])
    # amif-nom, Northeim: formats by type, head counts only.
    insert(con, "events", NORTHEIM, "2023-Q2", [
        event("A1", "2023-03-01", "round_table", 15),
        event("A2", "2023-04-01", "workshop", 12),
        event("A3", "2023-04-15", "workshop", 10),
        event("A4", "2023-04-02", "culture", 40),
    ])


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect(":memory:")
    warehouse.ensure_schema(con)
    build_warehouse(con)
    yield con
    con.close()


@pytest.fixture(scope="module")
def values(con, catalogue, indicators) -> pd.DataFrame:
    return compute_indicators(con, catalogue, indicators)


def row(values, programme, indicator, district, period="total", comparison=False) -> pd.Series:
    found = values[(values.programme_id == programme) & (values.indicator_id == indicator)
                   & (values.district_ags == district) & (values.period == period)
                   & (values.comparison == comparison)]
    assert len(found) == 1, (programme, indicator, district, period, len(found))
    return found.iloc[0]


def value(values, programme, indicator, district, period="total", comparison=False) -> float:
    return row(values, programme, indicator, district, period, comparison)["value"]


def absent(values, programme, indicator, district, period="total") -> bool:
    return values[(values.programme_id == programme) & (values.indicator_id == indicator)
                  & (values.district_ags == district) & (values.period == period)].empty


def blank(x) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


# -- the standard set -----------------------------------------------------------------------------

def test_trainings_held_counts_late_record_in_its_own_quarter_and_correction_once(values):
    # Lippe trainings: E1, E2 (delivered twice: one event), E7 (late, dated Q1) in Q1; E6 in Q2.
    assert value(values, "lzz-2", "trainings_held", LIPPE, "2023-Q1") == 3
    assert value(values, "lzz-2", "trainings_held", LIPPE, "2023-Q2") == 1
    assert value(values, "lzz-2", "trainings_held", LIPPE) == 4
    # ALL: Lippe 4 + Dachau 1 (D1); the comparison district's X1 counts nowhere.
    assert value(values, "lzz-2", "trainings_held", "ALL") == 5
    assert value(values, "lzz-2", "trainings_held", "ALL", "2023-Q1") == 4


def test_engaged_reached_mixed_unique_and_sum(values):
    # Lippe Q1: E1 lists P1 (vol), P2 (staff), P4 (vol) -> 3 distinct (P3 is a newcomer);
    # E2 has no list: corrected 5 + 1 = 6; E7 (late) has none: 6 + 0 = 6. 3 + 6 + 6 = 15, mixed.
    q1 = row(values, "lzz-2", "engaged_reached", LIPPE, "2023-Q1")
    assert (q1.value, q1.method) == (15, "mixed")
    # Q2: E6 lists P1 and P6 -> 2, every counted event has a list: unique.
    q2 = row(values, "lzz-2", "engaged_reached", LIPPE, "2023-Q2")
    assert (q2.value, q2.method) == (2, "unique")
    # total: distinct within the whole period {P1, P2, P4, P6} = 4, + 12 head counts = 16 (not 15 + 2).
    total = row(values, "lzz-2", "engaged_reached", LIPPE)
    assert (total.value, total.method, total.n) == (16, "mixed", 17)  # n: 5 attendances + 12 heads
    # Dachau: D1 without list, 10 + 5 = 15, sum.
    dachau = row(values, "lzz-2", "engaged_reached", DACHAU)
    assert (dachau.value, dachau.method) == (15, "sum")
    # ALL adds the districts: 16 + 15 = 31; mixed.
    assert (row(values, "lzz-2", "engaged_reached", "ALL").value,
            row(values, "lzz-2", "engaged_reached", "ALL").method) == (31, "mixed")


def test_best_practice_meetings_need_twenty_participants(values):
    # E4 (25) counts, E5 (15) does not.
    assert value(values, "lzz-2", "best_practice_meetings", LIPPE, "2023-Q2") == 1
    assert value(values, "lzz-2", "best_practice_meetings", LIPPE) == 1
    assert absent(values, "lzz-2", "best_practice_meetings", LIPPE, "2023-Q1")  # no activity, no quarter row


def test_advised_clients_distinct_within_period_and_advice_sessions(values):
    # Q1: K1 twice -> 1; Q2: G1, P1, O1 -> 3; total {K1, G1, P1, O1} = 4 (any client type).
    assert value(values, "lzz-2", "advised_clients", LIPPE, "2023-Q1") == 1
    assert value(values, "lzz-2", "advised_clients", LIPPE, "2023-Q2") == 3
    assert value(values, "lzz-2", "advised_clients", LIPPE) == 4
    # Sessions are rows: 2 in Q1, 3 in Q2, 5 in total.
    assert value(values, "lzz-2", "advice_sessions", LIPPE, "2023-Q1") == 2
    assert value(values, "lzz-2", "advice_sessions", LIPPE) == 5


def test_newsletters_sent(values):
    assert value(values, "lzz-2", "newsletters_sent", LIPPE, "2023-Q1") == 1
    assert value(values, "lzz-2", "newsletters_sent", LIPPE) == 2
    # bpb-lsa-2017: Stendal 4 + Harz 3 = 7 on the ALL row.
    assert value(values, "bpb-lsa-2017", "newsletters_sent", STENDAL) == 4
    assert value(values, "bpb-lsa-2017", "newsletters_sent", "ALL") == 7


def test_people_reached_unites_attendees_and_advised_persons(values):
    # Lippe Q1: listed persons of E1 and E3 {P1..P5} + advised person K1 = 6, plus heads of events
    # without lists E2 (9, corrected) + E7 (6) = 15 -> 21.
    assert value(values, "lzz-2", "people_reached", LIPPE, "2023-Q1") == 21
    # Q2: E6 {P1, P6} ∪ advised {P1} = 2, plus E4 25 + E5 15 -> 42.
    assert value(values, "lzz-2", "people_reached", LIPPE, "2023-Q2") == 42
    # total: {P1..P6, K1} = 7 + 9 + 6 + 25 + 15 = 62; mixed.
    total = row(values, "lzz-2", "people_reached", LIPPE)
    assert (total.value, total.method) == (62, "mixed")
    # Dachau: D2 lists its own P1 -> 1, D1 without list 20 -> 21. ALL: 62 + 21 = 83 (pseudonyms are
    # district-local, so the two P1 are two persons).
    assert value(values, "lzz-2", "people_reached", DACHAU) == 21
    assert value(values, "lzz-2", "people_reached", "ALL") == 83


def test_events_held_and_network_meetings(values):
    # Lippe: Q1 E1, E2, E3, E7 (E0 is outside the programme period); Q2 E4, E5, E6.
    assert value(values, "lzz-2", "events_held", LIPPE, "2023-Q1") == 4
    assert value(values, "lzz-2", "events_held", LIPPE) == 7
    assert value(values, "lzz-2", "network_meetings", LIPPE) == 1
    assert value(values, "lzz-2", "events_held", "ALL") == 9          # + Dachau D1, D2
    assert value(values, "lzz-2", "network_meetings", "ALL") == 2
    assert absent(values, "lzz-2", "events_held", LIPPE, "2022-Q4")


def test_comparison_districts_count_in_no_activity_indicator(values):
    assert values[(values.district_ags == SALZWEDEL) & ~values.indicator_id.str.startswith("survey_")].empty
    assert values[values.comparison & ~values.indicator_id.str.startswith("survey_")].empty


def test_records_count_toward_the_programme_whose_period_holds_their_date(values):
    # Stendal is in bpb-lsa-2017 and lzz-2: its 2017 records count toward bpb-lsa-2017 only.
    assert value(values, "bpb-lsa-2017", "trainings_held", STENDAL) == 1
    assert value(values, "lzz-2", "newsletters_sent", STENDAL) == 0
    assert value(values, "lzz-2", "trainings_held", STENDAL) == 0


def test_zero_rows_for_districts_without_records(values):
    # Every programme district has a total row, so a silent district shows as behind.
    ravensburg = row(values, "lzz-2", "trainings_held", "08436")
    assert (ravensburg.value, ravensburg.status) == (0, "behind")
    assert absent(values, "lzz-2", "trainings_held", "08436", "2023-Q1")


# -- micro-projects (lzz-1, Ludwigslust-Parchim) ------------------------------------------------

def test_micro_projects_skip_cancelled_and_other_districts(values):
    # M1, M2, M3 count; M4 is cancelled; Goslar's M9 is outside the fund.
    assert value(values, "lzz-1", "micro_projects_funded", LUP) == 3
    assert value(values, "lzz-1", "micro_projects_funded", LUP, "2018-Q2") == 1
    assert value(values, "lzz-1", "micro_projects_funded", LUP, "2019-Q1") == 1
    assert value(values, "lzz-1", "micro_projects_funded", "ALL") == 3
    assert absent(values, "lzz-1", "micro_projects_funded", GOSLAR)
    assert absent(values, "lzz-2", "micro_projects_funded", "ALL")
    # 800 + 1200 + 900 = 2900 EUR (M4's 5000 never counts); volunteers 5 + 3 + 4 = 12.
    assert value(values, "lzz-1", "micro_funding_eur", LUP) == 2900
    assert value(values, "lzz-1", "micro_volunteers", LUP) == 12


def test_micro_over_cap_and_ranges(values):
    # Only M2 (1200 > 1000) is over the cap; the cancelled M4 (5000) is not counted.
    assert value(values, "lzz-1", "micro_projects_over_cap", LUP) == 1
    # Newcomers: low 100 + 50 + 20 = 170; high 100 + 80 + 20 (no high end: the low end) = 200.
    reached = row(values, "lzz-1", "micro_newcomers_reached", LUP)
    assert (reached.value, reached.value_high) == (170, 200)
    q3 = row(values, "lzz-1", "micro_newcomers_reached", LUP, "2018-Q3")
    assert (q3.value, q3.value_high) == (50, 80)
    assert blank(row(values, "lzz-1", "micro_funding_eur", LUP).value_high)


# -- amif-nom -----------------------------------------------------------------------------------------

def test_amif_formats_by_type(values):
    assert value(values, "amif-nom", "round_tables", NORTHEIM) == 1
    assert value(values, "amif-nom", "workshops", NORTHEIM) == 2
    assert value(values, "amif-nom", "workshops", NORTHEIM, "2023-Q2") == 2
    assert value(values, "amif-nom", "culture_events", NORTHEIM) == 1
    assert absent(values, "lzz-2", "workshops", "ALL")


# -- survey --------------------------------------------------------------------------------------------

def test_survey_responses_per_wave_and_group(values):
    # Lippe: 4 baseline newcomer questionnaires (R4 answered nothing but was returned).
    assert value(values, "lzz-2", "survey_responses_baseline_newcomer", LIPPE, "2023-Q1") == 4
    assert value(values, "lzz-2", "survey_responses_baseline_newcomer", "ALL") == 4
    assert value(values, "lzz-2", "survey_responses_follow_up_resident", LIPPE) == 1
    # Only where survey rows exist: no zero rows for Dachau.
    assert absent(values, "lzz-2", "survey_responses_baseline_newcomer", DACHAU)


def test_survey_mean_with_confidence_interval(values):
    # Belonging at baseline in Lippe: 3, 4, 5 (R4 unanswered) -> mean 4, sd 1, n 3;
    # t(0.975, 2) = 4.303 -> half width 4.303 / √3 = 2.4843 -> [1.5157, 6.4843].
    mean = row(values, "lzz-2", "survey_belonging_baseline", LIPPE)
    assert (mean.value, mean.n) == (4, 3)
    assert mean.ci_low == pytest.approx(1.5157, abs=1e-4)
    assert mean.ci_high == pytest.approx(6.4843, abs=1e-4)
    assert blank(mean.per_10k)
    # One answer: a mean, but no interval.
    single = row(values, "lzz-2", "survey_participation_follow_up", LIPPE)
    assert (single.value, single.n) == (2, 1) and blank(single.ci_low) and blank(single.ci_high)
    # The ALL row pools the programme districts only (the comparison district is apart).
    assert value(values, "lzz-2", "survey_belonging_baseline", "ALL") == 4


def test_survey_of_comparison_districts_is_flagged(values):
    # Salzwedel: 2, 4 -> mean 3, sd √2, n 2; t(0.975, 1) = 12.706 -> [−9.706, 15.706].
    mean = row(values, "lzz-2", "survey_belonging_baseline", SALZWEDEL, comparison=True)
    assert (mean.value, mean.n) == (3, 2)
    assert mean.ci_low == pytest.approx(-9.706, abs=1e-3)
    assert value(values, "lzz-2", "survey_responses_baseline_resident", "ALL_COMPARISON", comparison=True) == 2
    assert absent(values, "lzz-2", "survey_responses_baseline_resident", "ALL")


# -- targets, status, attainment, per 10,000 ------------------------------------------------------

def test_status_achieved_on_programme_level_target(values):
    # bpb-lsa-2017 sets targets for the whole project: 7 newsletters of 7 on the ALL row.
    all_row = row(values, "bpb-lsa-2017", "newsletters_sent", "ALL")
    assert (all_row.target, all_row.status, all_row.attainment_pct) == (7, "achieved", 100.0)
    # ... and none on its district rows.
    assert blank(row(values, "bpb-lsa-2017", "newsletters_sent", STENDAL).target)
    assert blank(row(values, "bpb-lsa-2017", "newsletters_sent", STENDAL).status)


def test_status_behind_for_finished_programme(values):
    # bpb-lsa-2017 is over (share 1): 1 training of 14 is behind, 7.1 % attained.
    trainings = row(values, "bpb-lsa-2017", "trainings_held", "ALL")
    assert (trainings.elapsed_share, trainings.status, trainings.attainment_pct) == (1.0, "behind", 7.1)


def test_status_on_track_and_behind_by_elapsed_share(values):
    # lzz-2 latest reported quarter 2023-Q2: (2023-06-30 − 2023-01-01) / (2024-06-30 − 2023-01-01)
    # = 180 / 546 = 0.3297.
    people = row(values, "lzz-2", "people_reached", LIPPE)
    assert people.elapsed_share == pytest.approx(0.3297, abs=1e-4)
    # 62 < 180 but 62 ≥ 180 × 0.3297 = 59.3 -> on track; 62 / 180 = 34.4 %.
    assert (people.target, people.status, people.attainment_pct) == (180, "on_track", 34.4)
    # 4 trainings < 14 × 0.3297 = 4.6 -> behind.
    assert row(values, "lzz-2", "trainings_held", LIPPE).status == "behind"
    # Quarter rows carry no target and no status.
    quarter = row(values, "lzz-2", "people_reached", LIPPE, "2023-Q1")
    assert blank(quarter.target) and blank(quarter.status)
    # District-level targets: the ALL row has none.
    assert blank(row(values, "lzz-2", "people_reached", "ALL").target)


def test_status_within_and_exceeded_for_at_most_targets(values):
    funding = row(values, "lzz-1", "micro_funding_eur", LUP)
    assert (funding.target, funding.direction, funding.status, funding.attainment_pct) == (
        10000, "at_most", "within", 29.0)
    over = row(values, "lzz-1", "micro_projects_over_cap", LUP)
    assert (over.target, over.status) == (0, "exceeded")
    assert blank(over.attainment_pct)  # nothing to divide by


def test_per_10k_inhabitants(values):
    # Lippe 62 / 348,030 × 10,000 = 1.78; ALL 83 / 1,264,408 (six lzz-2 districts) × 10,000 = 0.66.
    assert row(values, "lzz-2", "people_reached", LIPPE).per_10k == 1.78
    assert row(values, "lzz-2", "people_reached", "ALL").per_10k == 0.66
    # ALL of a fund scoped to one district: that district's population, 3 / 208,824 × 10,000 = 0.14.
    assert row(values, "lzz-1", "micro_projects_funded", "ALL").per_10k == 0.14


def test_labels_units_and_names(values):
    r = row(values, "lzz-2", "trainings_held", LIPPE)
    assert (r.district_name, r.unit, r.label_de, r.label_en) == (
        "Kreis Lippe", "events", "Durchgeführte Bildungsveranstaltungen", "Trainings held")
    assert row(values, "lzz-2", "trainings_held", "ALL").district_name == "Alle Kreise des Programms"


# -- the table ----------------------------------------------------------------------------------------

def test_table_written_and_order_deterministic(con, catalogue, indicators, values):
    stored = con.execute("SELECT * FROM indicator_values").df()
    pd.testing.assert_frame_equal(stored, values)
    again = compute_indicators(con, catalogue, indicators)
    pd.testing.assert_frame_equal(again, values)
    keys = ["programme_id", "indicator_id", "comparison", "district_ags", "period"]
    assert not values.duplicated(keys).any()
    first = values.drop_duplicates("programme_id")["programme_id"].tolist()
    assert first == [p.id for p in catalogue.programmes]


def test_totals_never_below_quarters_and_all_adds_up(values, indicators):
    additive = {i.id for i in indicators if i.additive}
    frame = values[values.indicator_id.isin(additive)]
    keys = ["programme_id", "indicator_id", "comparison", "district_ags"]
    quarters = frame[frame.period != "total"].groupby(keys)["value"].max()
    totals = frame[frame.period == "total"].set_index(keys)["value"]
    assert (totals.reindex(quarters.index) >= quarters).all()
    districts = frame[~frame.district_ags.isin(["ALL", "ALL_COMPARISON"])]
    summed = districts.groupby(["programme_id", "indicator_id", "comparison", "period"])["value"].sum()
    alls = frame[frame.district_ags.isin(["ALL", "ALL_COMPARISON"])].set_index(
        ["programme_id", "indicator_id", "comparison", "period"])["value"]
    assert (alls - summed.reindex(alls.index).fillna(0)).abs().max() < 1e-9


def test_explicit_as_of_finishes_a_programme(con, catalogue, indicators):
    # At 2024-07-01 lzz-2 is over: share 1, so 62 of 180 people is behind.
    later = compute_indicators(con, catalogue, indicators, as_of=dt.date(2024, 7, 1))
    people = row(later, "lzz-2", "people_reached", LIPPE)
    assert (people.elapsed_share, people.status) == (1.0, "behind")


def test_empty_warehouse_gives_zero_rows_for_every_programme(catalogue, indicators):
    con = duckdb.connect(":memory:")
    warehouse.ensure_schema(con)
    frame = compute_indicators(con, catalogue, indicators)
    assert set(frame.period) == {"total"} and (frame.value == 0).all()
    assert set(frame.programme_id) == {p.id for p in catalogue.programmes}
    assert not frame.indicator_id.str.startswith("survey_").any()


# -- catalogue copies: another programme, another indicator -----------------------------------------

def copy_catalogue(tmp_path: Path) -> Path:
    directory = tmp_path / "catalogue"
    directory.mkdir()
    for name in ("programmes.yaml", "districts.csv", "indicators.yaml"):
        shutil.copy(SHIPPED_DIR / name, directory / name)
    return directory


def test_a_record_counts_toward_every_programme_of_its_district(tmp_path, con):
    directory = copy_catalogue(tmp_path)
    data = yaml.safe_load((directory / "programmes.yaml").read_text(encoding="utf-8"))
    data["programmes"].append({"id": "pilot-x", "name_de": "Pilot", "name_en": "Pilot", "start": "2023-04-01",
                               "end": "2023-12-31", "districts": [LIPPE]})
    (directory / "programmes.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    catalogue = load_catalogue(directory)
    frame = compute_indicators(con, catalogue, load_indicators(catalogue))
    # Lippe's events from 2023-04-01 on (E4, E5, E6) count toward lzz-2 and pilot-x alike.
    assert value(frame, "pilot-x", "events_held", LIPPE) == 3
    assert value(frame, "pilot-x", "events_held", "ALL") == 3
    assert value(frame, "lzz-2", "events_held", LIPPE) == 7


def test_indicator_added_purely_in_the_catalogue(tmp_path, con):
    directory = copy_catalogue(tmp_path)
    path = directory / "indicators.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["indicators"] += [
        {"id": "workshops_held", "label_de": "Durchgeführte Workshops", "label_en": "Workshops held",
         "unit": "events", "direction": "at_least", "target": 4,
         "overrides": [{"programme": "amif-nom", "target": 2}],
         "definition": {"feed": "events", "filter": "event_type = 'workshop'", "aggregate": "count"}},
        {"id": "training_attendances", "label_de": "Teilnahmen an Schulungen", "label_en": "Training attendances",
         "unit": "attendances",
         "definition": {"feed": "attendance", "filter": "event_type = 'training'", "aggregate": "count"}},
    ]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    catalogue = load_catalogue(directory)
    indicators = load_indicators(catalogue)  # the folder's own indicators.yaml
    frame = compute_indicators(con, catalogue, indicators)
    # Northeim's two workshops meet amif-nom's own target of 2; Lippe has none of its 4.
    workshops = row(frame, "amif-nom", "workshops_held", NORTHEIM)
    assert (workshops.value, workshops.target, workshops.status) == (2, 2, "achieved")
    assert row(frame, "lzz-2", "workshops_held", LIPPE).target == 4
    # Attendance rows of trainings, placed by their event's date: E1 4 in Q1, E6 2 in Q2.
    assert value(frame, "lzz-2", "training_attendances", LIPPE, "2023-Q1") == 4
    assert value(frame, "lzz-2", "training_attendances", LIPPE) == 6


# -- Dagster ------------------------------------------------------------------------------------------

def check_results(home) -> dict[str, bool]:
    from assets.indicators import impossible_results

    return {r.check_name: r.passed for r in impossible_results(home=home)}


def test_dagster_assets_materialize_with_checks(tmp_path):
    from assets.indicators import ASSETS, CHECKS
    from assets.resources import TeilhabeHome

    home = TeilhabeHome(home=str(tmp_path))
    with home.connect() as con:
        build_warehouse(con)
    result = dg.materialize([*ASSETS, *CHECKS], resources={"home": home})
    assert result.success
    materialized = {e.asset_key.to_user_string(): e.materialization.metadata
                    for e in result.get_asset_materialization_events()}
    assert set(materialized) == {"indicator_values", "indicator_exports"}
    assert materialized["indicator_values"]["dagster/row_count"].value > 0
    assert "| programme_id |" in materialized["indicator_values"]["preview"].value
    for name in ("csv", "parquet", "xlsx"):
        assert Path(materialized["indicator_exports"][name].value).is_file()
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"no_negative_values": True, "reach_within_attendances": True,
                      "totals_not_below_quarters": True, "all_rows_add_up": True}
    # An impossible figure makes the check fail.
    with home.connect() as con:
        con.execute("UPDATE indicator_values SET value = -1 WHERE indicator_id = 'events_held' "
                    "AND district_ags = 'ALL' AND programme_id = 'lzz-2'")
    assert check_results(home)["no_negative_values"] is False


def test_checks_catch_reach_above_attendances_and_total_below_quarter(tmp_path):
    from assets.indicators import ASSETS
    from assets.resources import TeilhabeHome

    home = TeilhabeHome(home=str(tmp_path))
    with home.connect() as con:
        build_warehouse(con)
    assert dg.materialize(ASSETS[:1], resources={"home": home}).success
    with home.connect() as con:
        con.execute("UPDATE indicator_values SET value = 100 WHERE indicator_id = 'engaged_reached' "
                    "AND district_ags = '05766' AND period = '2023-Q2'")
    results = check_results(home)
    assert results["reach_within_attendances"] is False
    assert results["totals_not_below_quarters"] is False
    assert results["all_rows_add_up"] is False
    assert results["no_negative_values"] is True
