"""Every reason code of contract section 5, from real files, through the one reader and validator.

District 05766 (Kreis Lippe) is in lzz-2 (2023-01-01 – 2024-06-30); 15081 (Altmarkkreis
Salzwedel) is only a comparison district of lzz-2. Rows are numbered as the district sees them
(header = row 1).
"""
import dataclasses

from pipeline.intake.check import check_files
from pipeline.intake.reader import read_file
from tests.conftest import write_csv, write_xlsx

EVENTS_HEADER = ["event_id", "date", "event_type", "participants_total", "participants_volunteer", "participants_staff"]


def findings(reports):
    return sorted((r.path.name, f["row"], f["reason_code"], f["column"]) for r in reports for f in r.findings)


def check(paths, contract, catalogue, **kw):
    return check_files(paths, contract, catalogue, **kw)


def test_file_name_problems(tmp_path, contract, catalogue):
    paths = [write_csv(tmp_path / "Lieferung_Q3_final.csv", ["a,b"]),
             write_csv(tmp_path / "99999_2024-Q1_events.csv", ["a,b"]),
             write_csv(tmp_path / "05766_2024-Q1_workshops.csv", ["a,b"]),
             write_csv(tmp_path / "05766_2024-Q5_events.csv", ["a,b"])]
    assert findings(check(paths, contract, catalogue)) == [
        ("05766_2024-Q1_workshops.csv", None, "unknown_feed", None),
        ("05766_2024-Q5_events.csv", None, "bad_filename", None),
        ("99999_2024-Q1_events.csv", None, "unknown_district", None),
        ("Lieferung_Q3_final.csv", None, "bad_filename", None),
    ]


def test_unreadable_files(tmp_path, contract, catalogue):
    empty = tmp_path / "05766_2024-Q1_events.csv"
    empty.write_bytes(b"")
    truncated = write_csv(tmp_path / "05766_2024-Q1_advice.csv",
                          ['case_id,date,client_type,client_key,topic', 'C1,2024-01-10,person,KL-0001,"Wohnung und'])
    corrupt = tmp_path / "05766_2024-Q2.xlsx"
    write_xlsx(corrupt, {"events": [EVENTS_HEADER]})
    corrupt.write_bytes(corrupt.read_bytes()[:300])  # cut off in transit
    xlsx_as_csv = tmp_path / "05766_2024-Q1_newsletters.csv"
    xlsx_as_csv.write_bytes(write_xlsx(tmp_path / "x.xlsx", {"a": [["a"]]}).read_bytes())
    reports = check([empty, truncated, corrupt, xlsx_as_csv], contract, catalogue)
    assert [f["reason_code"] for r in reports for f in r.findings] == ["unreadable"] * 4
    assert all(r.rows_read == r.accepted + r.rejected for r in reports)
    assert "abgeschnitten" in reports[1].findings[0]["reason"]


def test_header_only_is_a_valid_delivery_of_nothing(tmp_path, contract, catalogue):
    path = write_csv(tmp_path / "05766_2024-Q1_events.csv", [",".join(EVENTS_HEADER)])
    [report] = check([path], contract, catalogue)
    assert report.clean and report.rows_read == 0


def test_too_large(tmp_path, contract):
    small = dataclasses.replace(contract, size_limit_bytes=100)
    read = read_file("05766_2024-Q1_events.csv", b"x" * 101, small, "events")
    assert [p.reason_code for p in read.problems] == ["too_large"]


def test_workbook_that_unpacks_too_far_is_too_large(tmp_path, contract):
    path = write_xlsx(tmp_path / "05766_2024-Q1.xlsx", {"events": [EVENTS_HEADER] + [["E1"] * 6] * 50})
    tight = dataclasses.replace(contract, xlsx_max_unpacked_bytes=1000)
    read = read_file(path.name, path.read_bytes(), tight)
    assert [p.reason_code for p in read.problems] == ["too_large"]


def test_forbidden_and_missing_columns_set_the_sheet_aside(tmp_path, contract, catalogue):
    forbidden = write_csv(tmp_path / "05766_2024-Q1_attendance.csv",
                          ["event_id;person_key;role;Name", "E1;KL-0001;ehrenamtlich;Erika Beispiel",
                           "E1;KL-0002;hauptamtlich;Max Muster"], sep=";")
    missing = write_csv(tmp_path / "05766_2024-Q1_events.csv", ["event_id,date", "E1,2024-01-10"])
    reports = check([forbidden, missing], contract, catalogue)
    assert findings(reports) == [
        ("05766_2024-Q1_attendance.csv", None, "forbidden_column", "Name"),
        ("05766_2024-Q1_events.csv", None, "missing_column", "event_type / art"),
        ("05766_2024-Q1_events.csv", None, "missing_column", "participants_total / teilnehmende_gesamt"),
    ]
    # read = accepted + rejected: a set-aside sheet rejects every row it had, once.
    assert [(r.rows_read, r.accepted, r.rejected) for r in reports] == [(2, 0, 2), (1, 0, 1)]


def test_row_level_reason_codes_for_events(tmp_path, contract, catalogue):
    rows = [EVENTS_HEADER,
            ["E1", "2024-01-10", "training", "12", "5", "4"],         # 2 ok
            ["E2", "31.02.2024", "training", "12", "", ""],           # 3 bad_value date
            ["E3", "2024-01-11", "Stammtisch", "10", "", ""],         # 4 bad_enum
            ["E4", "2024-01-12", "workshop", "-3", "", ""],           # 5 out_of_range
            ["E5", "2024-01-13", "workshop", "10", "11", ""],         # 6 inconsistent (volunteer > total; staff
                                                                      #   empty, so the sum rule has nothing to add)
            ["E6", "2024-01-14", "workshop", "10", "6", "5"],         # 7 inconsistent (6 + 5 > 10)
            ["E7", "2024-01-15", "workshop", "10", "", ""],           # 8 duplicate_id
            ["E7", "2024-01-16", "workshop", "11", "", ""],           # 9 duplicate_id
            ["E8", "2024-04-02", "workshop", "10", "", ""],           # 10 future_date (after 2024-Q1)
            ["E9", "2022-12-31", "workshop", "10", "", ""],           # 11 outside_programme (lzz-2 starts 2023)
            ["E10", "2024-01-17", "workshop", "zwölf", "", ""],       # 12 bad_value int
            ["", "2024-01-18", "workshop", "3", "", ""]]              # 13 bad_value required id empty
    path = write_csv(tmp_path / "05766_2024-Q1_events.csv", rows)
    [report] = check([path], contract, catalogue)
    got = sorted((f["row"], f["reason_code"], f["column"]) for f in report.findings)
    assert got == [
        (3, "bad_value", "date"), (4, "bad_enum", "event_type"), (5, "out_of_range", "participants_total"),
        (6, "inconsistent_counts", "participants_volunteer"),
        (7, "inconsistent_counts", "participants_volunteer + participants_staff"),
        (8, "duplicate_id", "event_id"), (9, "duplicate_id", "event_id"), (10, "future_date", "date"),
        (11, "outside_programme", "date"), (12, "bad_value", "participants_total"), (13, "bad_value", "event_id"),
    ]
    # 12 rows read: E1 accepted; 11 rejected, row 6 once although it has two findings.
    assert (report.rows_read, report.accepted, report.rejected) == (12, 1, 11)


def test_attendance_reasons_and_pseudonyms(tmp_path, contract, catalogue):
    events = write_csv(tmp_path / "05766_2024-Q1_events.csv",
                       [EVENTS_HEADER, ["E1", "2024-01-10", "training", "12", "5", "4"]])
    attendance = write_csv(tmp_path / "05766_2024-Q1_attendance.csv", [
        "event_id,person_key,role",
        "E1,KL-0001,volunteer",          # 2 ok
        "E1,erika@example.org,staff",    # 3 e-mail
        "E1,Anna_Schmidt,staff",         # 4 looks like a name
        "E1,01711234567,staff",          # 5 looks like a phone number
        "E1,KL1,staff",                  # 6 too short
        "E99,KL-0002,staff",             # 7 unknown_event
        "E1,KL-0003,Gast",               # 8 bad_enum
        "E1,KL-0004,ehrenamtlich",       # 9 ok (German alias)
    ])
    reports = check([events, attendance], contract, catalogue)
    got = sorted((f["row"], f["reason_code"]) for f in reports[1].findings)
    assert got == [(3, "bad_pseudonym"), (4, "bad_pseudonym"), (5, "bad_pseudonym"), (6, "bad_pseudonym"),
                   (7, "unknown_event"), (8, "bad_enum")]
    # The report never repeats a person key that looks like an identifier.
    assert all("@" not in str(f["value"]) and "Anna" not in str(f["value"]) for f in reports[1].findings)
    assert reports[1].accepted == 2


def test_comparison_district_may_send_survey_only(tmp_path, contract, catalogue):
    survey = write_csv(tmp_path / "15081_2023-Q1_survey.csv", [
        "response_id,date,wave,group,belonging,participation,information_access,contacts",
        "S1,2023-02-01,baseline,newcomer,4,3,,2",       # ok: unanswered item allowed
        "S2,2023-02-01,vorher,einheimisch,7,3,3,3",     # out_of_range 7
    ])
    events = write_csv(tmp_path / "15081_2023-Q1_events.csv", [EVENTS_HEADER, ["E1", "2023-02-01", "training", "5", "", ""]])
    reports = check([survey, events], contract, catalogue)
    assert findings(reports) == [("15081_2023-Q1_events.csv", 2, "outside_programme", "date"),
                                 ("15081_2023-Q1_survey.csv", 3, "out_of_range", "belonging")]


def test_micro_project_values(tmp_path, contract, catalogue):
    path = write_csv(tmp_path / "13076_2019-Q2_micro_projects.csv", [
        "Projekt-ID;Antragsteller;Bewilligt am;Betrag EUR;Kostenart;Ehrenamtliche;Erreichte Zugewanderte;Status",
        "M1;Verein A;03.04.2019;1.000,50;Honorare;4;60-70;bewilligt",        # ok, range, over cap accepted
        "M2;Verein B;4.4.2019;950;Material;3;60 – 70;zurückgezogen",         # ok, cancelled, en dash
        "M3;Verein C;05.04.2019;abc;Fahrtkosten;2;40;abgeschlossen",         # bad_value amount
        "M4;Verein D;06.04.2019;100;Fahrtkosten;2;80-70;zurueckgezogen",     # bad_value inverted range
        "M5;Verein E;07.04.2019;100;Reisen;2;5;storniert",                   # bad_enum cost category
    ], encoding="cp1252", sep=";")
    [report] = check([path], contract, catalogue)
    assert sorted((f["row"], f["reason_code"], f["column"]) for f in report.findings if f["severity"] == "rejected") == [
        (4, "bad_value", "Betrag EUR"), (5, "bad_value", "Erreichte Zugewanderte"), (6, "bad_enum", "Kostenart")]
    # Over the cap of 1,000 EUR: accepted, with the warning over_cap (the cancelled M2 counts nowhere).
    assert [(f["row"], f["reason_code"], f["value"]) for f in report.findings if f["severity"] == "warning"] == [
        (2, "over_cap", "1000.5")]
    assert report.accepted == 2
