"""The contract rules of the feed `trajectories` [verlaeufe] (delivery contract section 3), from
real files through the one reader and validator (`teilhabe check` and the pipeline alike).

District 05766 (Kreis Lippe) is in lzz-2 (2023-01-01 – 2024-06-30). Rows are numbered as the
district sees them (header = row 1).
"""
from pipeline.intake.check import check_files
from tests.conftest import query, write_csv, write_xlsx

HEADER = "observation_id,person_key,date,arrival_month,language_level,course,activity,advice_service"


def findings(report):
    return sorted((f["row"], f["reason_code"], f["column"]) for f in report.findings)


def test_row_rules(tmp_path, contract, catalogue):
    path = write_csv(tmp_path / "05766_2024-Q1_trajectories.csv", [
        HEADER,
        "O1,KL-0001,2024-01-10,2023-05,A1,integration_course,job_seeking,migration_advice",  # 2 ok
        "O2,KL-0002,10.01.2024,15.08.2023,a2,Integrationskurs,beschäftigt,MBE",            # 3 ok (aliases, a date as month)
        "O3,KL-0003,2024-01-11,2023-13,A1,none,other,none",                                  # 4 bad_value month
        "O4,KL-0004,2024-01-12,2023-05,B3,none,other,none",                                  # 5 bad_enum level
        "O5,KL-0005,2024-01-13,2023-05,A1,Sprachcafe,other,none",                            # 6 bad_enum course
        "O6,KL-0006,2024-01-14,2023-05,A1,none,Rente,none",                                  # 7 bad_enum activity
        "O7,KL-0007,2024-01-15,2023-05,A1,none,other,Amt",                                   # 8 bad_enum advice_service
        "O8,KL-0008,2024-01-16,2024-02,A1,none,other,none",                                  # 9 out_of_range: before arrival
        "O9,KL-0009,2024-02-01,2024-02,A1,none,other,none",                                  # 10 ok: the month's first day
        "O10,Anna_Schmidt,2024-01-17,2023-05,A1,none,other,none",                            # 11 bad_pseudonym
        "O11,KL-0011,2024-04-01,2023-05,A1,none,other,none",                                 # 12 future_date
        "O12,KL-0012,2022-12-31,2022-05,A1,none,other,none",                                 # 13 outside_programme
        "O13,KL-0013,2024-01-18,,,,,",                                                       # 14 ok: only the required
        "O13,KL-0014,2024-01-19,,,,,",                                                       # 15 duplicate_id
        ",KL-0015,2024-01-20,,,,,",                                                          # 16 bad_value: id missing
    ])
    [report] = check_files([path], contract, catalogue)
    assert findings(report) == [
        (4, "bad_value", "arrival_month"), (5, "bad_enum", "language_level"), (6, "bad_enum", "course"),
        (7, "bad_enum", "activity"), (8, "bad_enum", "advice_service"), (9, "out_of_range", "date + arrival_month"),
        (11, "bad_pseudonym", "person_key"), (12, "future_date", "date"), (13, "outside_programme", "date"),
        (14, "duplicate_id", "observation_id"), (15, "duplicate_id", "observation_id"),
        (16, "bad_value", "observation_id")]
    # 15 rows read; rows 2, 3 and 10 accepted, 12 rejected.
    assert (report.rows_read, report.accepted, report.rejected) == (15, 3, 12)
    assert all("Anna" not in str(f["value"]) for f in report.findings)


def test_one_month_of_arrival_per_person(tmp_path, contract, catalogue):
    # KL-0001's first row by date (row 3, 2023-03-01) says 2023-01: row 2 (dated later) says
    # 2023-02, so row 2 is the later row and rejected; row 4 agrees; a row without a month
    # (row 5) is not judged. KL-0002 has one month throughout.
    path = write_csv(tmp_path / "05766_2023-Q2_verlaeufe.csv", [
        "beobachtung_id;personen_id;datum;zuzugsmonat;sprachniveau",
        "O1;KL-0001;2023-06-01;2023-02;A2",    # 2 inconsistent_counts
        "O2;KL-0001;2023-03-01;2023-01;A1",    # 3 ok: the person's first observation
        "O3;KL-0001;2023-06-02;2023-01;A2",    # 4 ok
        "O4;KL-0001;2023-06-03;;A2",           # 5 ok
        "O5;KL-0002;2023-04-01;2022-11;none",  # 6 ok
        "O6;KL-0002;2023-05-01;2022-11;A1",    # 7 ok
    ], sep=";")
    [report] = check_files([path], contract, catalogue)
    assert findings(report) == [(2, "inconsistent_counts", "zuzugsmonat")]
    assert (report.rows_read, report.accepted, report.rejected) == (6, 5, 1)


def test_later_delivery_is_judged_against_earlier_ones(tmp_path, contract, catalogue):
    # The 2023-Q1 delivery fixes KL-0001's month (2022-12); in 2023-Q3 its row with 2023-01 is the
    # later row, even though it is the first one in its own file.
    first = write_csv(tmp_path / "05766_2023-Q1_trajectories.csv",
                      ["observation_id,person_key,date,arrival_month", "O1,KL-0001,2023-02-01,2022-12"])
    later = write_csv(tmp_path / "05766_2023-Q3_trajectories.csv",
                      ["observation_id,person_key,date,arrival_month",
                       "O7,KL-0001,2023-08-01,2023-01",     # 2 inconsistent_counts
                       "O8,KL-0001,2023-09-01,2022-12"])    # 3 ok
    reports = check_files([first, later], contract, catalogue)
    assert [findings(r) for r in reports] == [[], [(2, "inconsistent_counts", "arrival_month")]]


def test_extra_forbidden_columns(tmp_path, contract, catalogue):
    for header in ("Staatsangehörigkeit", "nationality", "Geburtsjahr", "birth_year", "Geschlecht", "gender"):
        path = write_csv(tmp_path / "05766_2024-Q1_trajectories.csv",
                         [f"observation_id,person_key,date,{header}", "O1,KL-0001,2024-01-10,x"])
        [report] = check_files([path], contract, catalogue)
        assert findings(report) == [(None, "forbidden_column", header)], header
        assert (report.rows_read, report.rejected) == (1, 1)
    # Only in this feed: elsewhere an unknown column is ignored, as the contract says.
    events = write_csv(tmp_path / "05766_2024-Q1_events.csv",
                       ["event_id,date,event_type,participants_total,gender", "E1,2024-01-10,training,3,x"])
    [report] = check_files([events], contract, catalogue)
    assert report.clean


def test_workbook_sheet_by_german_name(tmp_path, contract, catalogue):
    path = write_xlsx(tmp_path / "05766_2024-Q1.xlsx", {"Verläufe": [
        ["Beobachtung-ID", "Personen-ID", "Datum", "Zuzugsmonat", "Sprachniveau", "Kurs", "Tätigkeit"],
        ["O1", "KL-0001", "2024-01-10", "2023-05", "B1", "Berufssprachkurs", "Ausbildung"]]})
    [report] = check_files([path], contract, catalogue)
    assert report.clean and report.accepted == 1


def test_corrections_and_redelivery(home, contract):
    """Through the pipeline: a later delivery's row of the same observation_id wins (a
    correction); a re-delivered file replaces the earlier one whole."""
    import datetime as dt

    from tests.conftest import ingest

    inbox, received = home.inbox, dt.datetime(2024, 7, 1, 9, 0)
    write_csv(inbox / "05766_2023-Q1_trajectories.csv",
              [HEADER, "O1,KL-0001,2023-02-01,2022-12,A1,none,job_seeking,none",
               "O2,KL-0002,2023-02-02,2022-12,none,none,job_seeking,none"], received=received)
    write_csv(inbox / "05766_2023-Q2_trajectories.csv",
              [HEADER, "O1,KL-0001,2023-02-01,2022-12,A2,none,job_seeking,none",    # corrects O1
               "O3,KL-0001,2023-05-01,2022-12,B1,none,employed,none"], received=received)
    ingest(home, "2023-01-01", "2023-04-01")
    assert query(home, "SELECT observation_id, language_level FROM cur_trajectories ORDER BY 1") == [
        ("O1", "A2"), ("O2", "none"), ("O3", "B1")]
    assert query(home, "SELECT quarter, accepted, corrected FROM delivery_log ORDER BY quarter") == [
        ("2023-Q1", 2, 0), ("2023-Q2", 2, 1)]
    # Re-delivery of 2023-Q2 without O3: O3 counts no more.
    write_csv(inbox / "05766_2023-Q2_trajectories.csv",
              [HEADER, "O1,KL-0001,2023-02-01,2022-12,A2,none,job_seeking,none"],
              received=received + dt.timedelta(days=3))
    ingest(home, "2023-01-01", "2023-04-01")
    assert query(home, "SELECT observation_id FROM cur_trajectories ORDER BY 1") == [("O1",), ("O2",)]
