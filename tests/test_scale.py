"""National scale at a small size: the generator, grouped CSV reading, and the SQL screen.

The pipeline reads CSV files of one header together (`reader.read_csv_group`) and stages set-based
in DuckDB (`screen.screen_plan` …, GX judges only the flagged rows). Grouped reading must give
what `read_file` gives one file at a time, over files full of the contract's corner cases.
"""
from __future__ import annotations

import datetime as dt
import os
import re

import pytest

from pipeline import warehouse
from pipeline.catalogue import load_catalogue
from pipeline.contract import load_contract
from pipeline.demo import national_plan, write_national
from pipeline.home import Home
from pipeline.indicators import load_indicators
from pipeline.intake import inbox, receive, stage
from pipeline.intake.reader import FileName
from pipeline.intake.screen import ScreenError, screen_plan
from tests.conftest import ingest, query, write_csv

NAME = re.compile(r"^(?P<ags>\d{5})_(?P<quarter>\d{4}-Q[1-4])_(?P<feed>[a-z_]+)\.csv$")
RECEIVED = dt.datetime(2024, 10, 10, 9)
TABLES = ["receipts", "sheets", "file_rejections", "row_rejections", "sheet_results",
          *(f"{layer}_{feed}" for layer in ("raw", "stg") for feed in load_contract().feeds)]
EVENTS = "event_id,date,event_type,title,participants_total,participants_volunteer,participants_staff"


# -- the national demo generator ------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_national(tmp_path_factory):
    home = Home.resolve(tmp_path_factory.mktemp("national"))
    return home, write_national(home, districts=3, quarters=2)


def test_national_demo_writes_a_valid_catalogue_and_named_files(tiny_national):
    home, paths = tiny_national
    catalogue = load_catalogue(home.catalogue_dir)        # validated on load
    indicators = load_indicators(catalogue)
    plan = national_plan(3, 2)
    assert catalogue.districts.index.tolist() == [*plan.districts, *plan.comparison]
    assert not set(catalogue.districts.index) & set(load_catalogue().districts.index)  # synthetic keys
    assert {"events_held", "people_reached", "engaged_reached"} <= set(indicators.ids)
    assert all(p.comparison_districts for p in catalogue.programmes)
    contract = load_contract()
    for path in paths:
        m = NAME.match(path.name)
        assert m and m["ags"] in catalogue.districts.index and m["feed"] in contract.feeds, path.name
        assert m["quarter"] in plan.quarters
        text = path.read_bytes().decode("utf-8-sig")      # UTF-8 throughout, English headers
        assert text.split(",", 1)[0] in {c.name for c in contract.feeds[m["feed"]].columns}
    comparison = {p.name for p in paths if p.name[:5] in plan.comparison}
    assert comparison and all(n.endswith("_survey.csv") for n in comparison)


def test_national_demo_volumes_and_determinism(tiny_national, tmp_path):
    home, paths = tiny_national
    events = [p for p in paths if p.name.endswith("_events.csv")]
    attendance = [p for p in paths if p.name.endswith("_attendance.csv")]
    assert len(events) == 3 * 2
    per_file = [len(p.read_text(encoding="utf-8-sig").strip().splitlines()) - 1 for p in events]
    assert all(34 <= n <= 47 for n in per_file), per_file
    rows = sum(len(p.read_text(encoding="utf-8-sig").strip().splitlines()) - 1 for p in attendance)
    assert 20 * sum(per_file) <= rows <= 30 * sum(per_file)
    again = write_national(Home.resolve(tmp_path / "again"), districts=3, quarters=2)
    assert [p.name for p in again] == [p.name for p in paths]
    for a, b in zip(paths, again):
        assert a.read_bytes() == b.read_bytes() and a.stat().st_mtime == b.stat().st_mtime, a.name


def test_national_demo_through_the_pipeline(tiny_national, tmp_path):
    source, _ = tiny_national
    home = Home(tmp_path / "home").ensure()
    for folder in ("inbox", "catalogue"):
        for path in (source.root / folder).iterdir():
            target = home.root / folder / path.name
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(path.read_bytes())
            stat = path.stat()
            os.utime(target, (stat.st_atime, stat.st_mtime))
    ingest(home, "2021-01-01", "2021-04-01")
    reasons = {r[0] for r in query(home, "SELECT DISTINCT reason_code FROM rejections")}
    assert len(reasons) >= 4, reasons      # a realistic sprinkle of several reason codes
    assert "forbidden_column" in reasons   # one office sent e-mail addresses
    assert query(home, "SELECT count(*) FROM delivery_log WHERE rows_read <> accepted + rejected") == [(0,)]
    assert query(home, "SELECT count(*) FROM stg_attendance")[0][0] > 4000  # 3 × 40 events × 25, one file set aside


# -- fast paths against the reference paths ------------------------------------------------------

def _tricky_inbox(inbox):
    """Files of the contract's corner cases; two share a header with a file that cannot be grouped."""
    w = lambda name, text, encoding="utf-8": write_csv(inbox / name, [text.rstrip("\n")], encoding=encoding,
                                                       received=RECEIVED)
    raw = lambda name, data: (inbox / name).write_bytes(data)
    # BOM, CRLF, a blank line, whitespace, a short row, an empty row, a quoted comma, ties and faults
    raw("05766_2024-Q1_events.csv", ("\ufeff" + "\r\n".join([
        EVENTS,
        'E1,2024-01-10,training,"Schulung, Teil 1",12,12,0',      # total == volunteers: a tie, accepted
        "E2,10.01.2024,Schulung, kurz ,8,,",                       # German date, alias, whitespace
        "",
        "E3,2024-03-31,workshop,,10,6,5",                           # quarter end; 6 + 5 > 10
        "E4,2024-02-30,workshop,x,3",                               # bad date, short row
        ",,,,,,",
        "E5,2024-04-02,workshop,x,4,,",                             # future date
        "E5,2024-01-05,round_table,x,-1,,",                         # duplicate id, negative
        "E6,2022-12-31,Stammtisch,x,zwölf,,",                       # outside programme, bad enum, bad int
        ",2024-01-05,other,x,3,,"]) + "\r\n").encode("utf-8"))
    # same header, but a quoted line break: the group splits it off to `read_file`
    w("05766_2024-Q2_events.csv", "\n".join([EVENTS, 'E7,2024-04-10,training,"zwei\nZeilen",9,3,3',
                                              "E8,2024-05-10,network_meeting,y,7,,"]))
    w("05766_2024-Q3_events.csv", "\n".join([EVENTS, "E9,2024-07-10,training,y,9,3,3,99"]))  # a field too many
    w("05766_2024-Q4_events.csv", EVENTS)                                                     # header only
    w("05766_2024-Q1_attendance.csv", "event_id,person_key,role,email\nE1,KL-0001,volunteer,a@b.de")
    w("05766_2024-Q2_attendance.csv", "\n".join([
        "event_id,person_key,role", "E1,KL-0001,volunteer", "E1,KL-0001,staff", "E2,Anna_Schmidt,staff",
        "E8,01711234567,staff", "E8,KL1,newcomer", "E99,KL-0002,staff", "E8,KL-0003,Gast", "E8,KL-0004,ehrenamtlich",
        "E5,KL-0005,other", "E8,, ", "E8,KL-0006,newcomer"]))
    w("05766_2024-Q1_advice.csv", "\n".join([
        "Beratung-ID;Datum;Beratene Art;Beratene-ID;Thema;Dauer Min",
        "B1;15.01.2024;Person;KL-0010;Wohnen;1.000", "B2;16.01.2024;Verein;KL-0011;;12,0",
        "B3;17.01.2024;person;KL-0012;;12,5", "B3;18.01.2024;person;Mueller;;-15"]))
    w("05766_2024-Q2_advice.csv", "case_id,date,client_key\nB9,2024-04-01,KL-0001")           # missing columns
    raw("05766_2024-Q3_advice.csv", b"")                                                      # empty
    w("05766_2024-Q1_newsletters.csv", "issue_id;sent_date;recipients;title\nN1;01.02.2024;120;Grüße", "cp1252")
    w("05766_2024-Q2_newsletters.csv", "issue_id\tsent_date\trecipients\tissue_id\tRemark\n"
                                       "N2\t2024-04-02\t1.200\tX\tok\nN3\t2024-04-03\tviele\tY\t")
    raw("05766_2024-Q4_newsletters.csv", b"issue_id,sent_date,recipients\rN4,2024-10-02,5\r")  # lone CR
    w("05766_2024-Q3_newsletters.csv", "\nissue_id,sent_date,recipients\nN5,2024-07-01,100")  # header on row 2
    w("05766_2024-Q1_survey.csv", "\n".join([
        "response_id,date,wave,group,belonging,participation,information_access,contacts",
        "S1,2024-02-01,baseline,newcomer,4,3,,2", "S2,2024-02-01,vorher,einheimisch,7,3,3,3",
        "S3,2024-02-02,Zwischenbefragung,newcomer,1,1,1,1", "S3,2024-03-31,baseline,volunteer,5,5,5,5"]))
    w("15081_2024-Q1_survey.csv", "response_id,date,wave,group,belonging,participation,information_access,contacts\n"
                                  "S1,2024-02-01,baseline,newcomer,4,3,,2")
    w("15081_2024-Q1_events.csv", EVENTS + "\nE1,2024-02-01,training,x,5,,")
    w("13076_2019-Q2_micro_projects.csv", "\n".join([
        "Projekt-ID;Antragsteller;Bewilligt am;Betrag EUR;Kostenart;Ehrenamtliche;Erreichte Zugewanderte;Status",
        "M1;Verein A;03.04.2019;1.000,50;Honorare;4;60-70;bewilligt",
        "M2;Verein B;4.4.2019;950 €;Material;3;60 – 70;zurückgezogen",
        "M3;Verein C;05.04.2019;abc;Fahrtkosten;2;40;", "M4;Verein D;06.04.2019;100;Fahrtkosten;2;80-70;x",
        "M5;Verein E;30.06.2019;100;Reisen;2;5;storniert"]))
    for path in inbox.iterdir():
        stamp = RECEIVED.replace(tzinfo=dt.UTC).timestamp()
        os.utime(path, (stamp, stamp))


def _run(home: Home, monkeypatch=None, one_by_one: bool = False) -> dict[str, list]:
    contract, catalogue = load_contract(), load_catalogue()
    if one_by_one:
        monkeypatch.setattr(receive, "csv_text", lambda *args: None)    # every file through read_file
    items = inbox.scan_inbox(home.inbox, contract, catalogue, ("2017-Q1", "2026-Q4"))
    quarters = sorted({i.parsed.quarter for i in items if isinstance(i.parsed, FileName)})
    with warehouse.connect(home.warehouse) as con:
        receive.receive(con, home, contract, items)
        for feed in contract.feeds.values():
            stage.stage_feed(con, contract, catalogue, feed, quarters)
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}


def test_grouped_reading_gives_exactly_what_reading_one_by_one_gives(tmp_path, monkeypatch):
    fast, ref = Home(tmp_path / "fast").ensure(), Home(tmp_path / "ref").ensure()
    _tricky_inbox(fast.inbox)
    _tricky_inbox(ref.inbox)
    got = _run(fast)
    expected = _run(ref, monkeypatch, one_by_one=True)
    for table in TABLES:
        assert got[table] == expected[table], table
    # the corner cases did happen: grouped and single files, every kind of finding
    assert len(got["row_rejections"]) > 25 and len(got["stg_events"]) >= 3
    codes = {r[0] for r in query(fast, "SELECT DISTINCT reason_code FROM row_rejections")}
    assert {"bad_value", "bad_enum", "duplicate_id", "future_date", "outside_programme", "unknown_event",
            "bad_pseudonym", "out_of_range", "inconsistent_counts"} <= codes


def test_group_reader_keeps_the_districts_row_numbers(tmp_path):
    home = Home(tmp_path / "home").ensure()
    _tricky_inbox(home.inbox)
    _run(home)
    assert query(home, """SELECT source_row, event_id FROM raw_events r JOIN receipts USING (receipt_id)
                          WHERE file_name = '05766_2024-Q1_events.csv' ORDER BY 1""") == [
        (2, "E1"), (3, "E2"), (5, "E3"), (6, "E4"), (8, "E5"), (9, "E5"), (10, "E6"), (11, None)]
    assert query(home, """SELECT file_name, status FROM receipts WHERE file_name LIKE '%Q3_events%'
                          OR file_name LIKE '%Q1_attendance%' ORDER BY 1""") == [
        ("05766_2024-Q1_attendance.csv", "set_aside"), ("05766_2024-Q3_events.csv", "loaded")]
    # a line with a field too many is one rejected row now, not a file set aside
    assert query(home, """SELECT source_row, reason_code, value FROM row_rejections JOIN receipts USING (receipt_id)
                          WHERE file_name = '05766_2024-Q3_events.csv'""") == [
        (2, "bad_value", "8 Felder statt 7 / 8 fields instead of 7")]
    # the forbidden file is not archived, its content is nowhere
    assert query(home, "SELECT archive_path FROM receipts WHERE file_name = '05766_2024-Q1_attendance.csv'") == [(None,)]


def test_every_shipped_suite_compiles_to_the_screen(contract):
    for feed in contract.feeds.values():
        plan = screen_plan(feed)
        assert plan.predicates or plan.regexes or plan.unique_keys, feed.name


def test_a_suite_beyond_the_screen_is_refused_with_the_expectation_named(contract):
    # No row may be accepted unjudged: staging refuses a suite the screen cannot compile.
    import dataclasses
    feed = contract.feeds["events"]
    suite = {**feed.suite, "expectations": [*feed.suite["expectations"], {
        "type": "expect_column_values_to_be_unique", "kwargs": {"column": "event_id"}, "meta": {}}]}
    with pytest.raises(ScreenError, match="expect_column_values_to_be_unique"):
        screen_plan(dataclasses.replace(feed, suite=suite))
    mostly = {**feed.suite, "expectations": [{**feed.suite["expectations"][0],
                                              "kwargs": {**feed.suite["expectations"][0]["kwargs"], "mostly": 0.9}}]}
    with pytest.raises(ScreenError, match="mostly"):
        screen_plan(dataclasses.replace(feed, suite=mostly))


def test_restaging_after_a_redelivery_equals_a_fresh_run(tmp_path):
    home, fresh = Home(tmp_path / "home").ensure(), Home(tmp_path / "fresh").ensure()
    contract, catalogue = load_contract(), load_catalogue()
    header = "event_id,date,event_type,participants_total"
    files = {"05766_2024-Q1_events.csv": [header, "E1,2024-01-10,training,12", "E2,2024-02-10,workshop,8"],
             "05766_2024-Q2_events.csv": [header, "E3,2024-04-10,training,9"],
             "05766_2024-Q2_attendance.csv": ["event_id,person_key,role", "E1,KL-0001,volunteer", "E3,KL-0002,staff",
                                              "E4,KL-0003,staff"]}
    for name, lines in files.items():
        write_csv(home.inbox / name, lines, received=RECEIVED)

    def run(target, quarters):
        items = inbox.scan_inbox(target.inbox, contract, catalogue, ("2017-Q1", "2026-Q4"))
        with warehouse.connect(target.warehouse) as con:
            receive.receive(con, target, contract, items)
            for feed in contract.feeds.values():
                stage.stage_feed(con, contract, catalogue, feed, quarters)
            return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall()))
                    for t in ("stg_events", "stg_attendance", "row_rejections", "sheet_results")}

    first = run(home, ["2024-Q1", "2024-Q2"])
    assert ("unknown_event" in repr(first["row_rejections"])) and len(first["stg_attendance"]) == 2
    # Q1's events are re-delivered with E4 added; Q1 and Q2 (whose attendance names E4) run again.
    write_csv(home.inbox / "05766_2024-Q1_events.csv", [*files["05766_2024-Q1_events.csv"], "E4,2024-03-01,other,3"],
              received=RECEIVED + dt.timedelta(days=2))
    after = run(home, ["2024-Q1", "2024-Q2"])
    for name, lines in files.items():
        write_csv(fresh.inbox / name, lines, received=RECEIVED)
    write_csv(fresh.inbox / "05766_2024-Q1_events.csv", [*files["05766_2024-Q1_events.csv"], "E4,2024-03-01,other,3"],
              received=RECEIVED + dt.timedelta(days=2))
    expected = run(fresh, ["2024-Q1", "2024-Q2"])
    assert len(after["stg_attendance"]) == 3                        # E4 is known now
    for table in ("stg_events", "stg_attendance", "row_rejections"):
        assert after[table] == expected[table], table
