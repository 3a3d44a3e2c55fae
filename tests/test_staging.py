"""Staging a due quarter redoes only the districts whose files changed, and leaves exactly what
staging the quarter whole (or a fresh home with the same inbox) leaves.

Each step below changes the inbox of one home that is staged incrementally (`whole=set()`, as
`staged_deliveries` does for a quarter already staged under the same code and suite) and compares
it with a fresh home staged whole from the same inbox: every stg row, every rejection, every
sheet's counts.
"""
from __future__ import annotations

import datetime as dt

import pytest

from pipeline import warehouse
from pipeline.catalogue import load_catalogue
from pipeline.contract import load_contract
from pipeline.home import Home
from pipeline.intake import inbox, receive, stage
from tests.conftest import write_csv

RECEIVED = dt.datetime(2024, 7, 10, 9)
QUARTERS = ["2024-Q1", "2024-Q2"]
EVENTS = "event_id,date,event_type,participants_total"
ATTENDANCE = "event_id,person_key,role"
D1, D2 = "05766", "09174"  # both in the programme of 2023-01 to 2024-06
START = {
    f"{D1}_2024-Q1_events.csv": [EVENTS, "E1,2024-01-10,training,12", "E2,2024-02-10,workshop,8"],
    f"{D1}_2024-Q2_events.csv": [EVENTS, "E3,2024-04-10,training,9"],
    # E4 is not known yet (unknown_event); E1 is an event of the quarter before.
    f"{D1}_2024-Q2_attendance.csv": [ATTENDANCE, "E1,KL-0001,volunteer", "E3,KL-0002,staff", "E4,KL-0003,staff"],
    f"{D2}_2024-Q1_events.csv": [EVENTS, "E1,2024-01-11,training,5", "E2,2024-13-01,training,5"],  # a bad date
    f"{D2}_2024-Q1_attendance.csv": [ATTENDANCE, "E1,AB-0001,staff", "E2,AB-0002,staff"],
}


def _stage(home: Home, whole: set[str] | None, feeds: list[str] | None = None) -> dict[str, set[str]]:
    """Receive the inbox and stage both quarters; which districts each feed found changed."""
    contract, catalogue = load_contract(), load_catalogue()
    items = inbox.scan_inbox(home.inbox, contract, catalogue, ("2017-Q1", "2026-Q4"))
    changed = {}
    with warehouse.connect(home.warehouse) as con:
        receive.receive(con, home, contract, items, QUARTERS)
        for name in feeds or list(contract.feeds):
            changed[name] = stage.changed_districts(con, contract.feeds[name], QUARTERS)
            stage.stage_feed(con, contract, catalogue, contract.feeds[name], QUARTERS, whole)
    return changed


def _tables(home: Home, receipts: set[str] | None = None) -> dict[str, list[str]]:
    """Every staged row, rejection and sheet count (of these receipts), as sorted text."""
    with warehouse.connect(home.warehouse, read_only=True) as con:
        current = {r for (r,) in con.execute("SELECT receipt_id FROM current_sheets").fetchall()}
        tables = {}
        for table in ["row_rejections", "sheet_results", *(f"stg_{f}" for f in load_contract().feeds)]:
            rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").df()
            keep = current if receipts is None else receipts
            tables[table] = sorted(map(repr, rows[rows["receipt_id"].isin(keep)].itertuples(index=False)))
    return tables, current


def _files(home: Home, files: dict[str, list[str]], days: int = 0) -> None:
    for name, lines in files.items():
        write_csv(home.inbox / name, lines, received=RECEIVED + dt.timedelta(days=days))


def _equals_fresh(home: Home, tmp_path, step: str, inbox_now: dict[str, tuple[list[str], int]]) -> None:
    fresh = Home(tmp_path / f"fresh-{step}").ensure()
    for name, (lines, days) in inbox_now.items():
        _files(fresh, {name: lines}, days)
    _stage(fresh, None)
    expected, current = _tables(fresh)
    got, got_current = _tables(home, current)
    assert got_current == current, step
    for table in expected:
        assert got[table] == expected[table], (step, table)


def test_staging_only_changed_districts_equals_staging_whole_quarters(tmp_path):
    home = Home(tmp_path / "home").ensure()
    inbox_now = {name: (lines, 0) for name, lines in START.items()}
    _files(home, START)
    _stage(home, None)
    _equals_fresh(home, tmp_path, "start", inbox_now)
    with warehouse.connect(home.warehouse, read_only=True) as con:
        assert "unknown_event" in {r for (r,) in con.execute("SELECT reason_code FROM row_rejections").fetchall()}

    # 1. D1's Q1 events re-delivered with E4: only D1 is staged again, and its Q2 attendance
    #    (judged against other events) with it; E4 is known now.
    redelivered = [*START[f"{D1}_2024-Q1_events.csv"], "E4,2024-03-01,other,3"]
    _files(home, {f"{D1}_2024-Q1_events.csv": redelivered}, days=2)
    inbox_now[f"{D1}_2024-Q1_events.csv"] = (redelivered, 2)
    changed = _stage(home, set())
    assert changed["events"] == {D1} and changed["attendance"] == {D1} and changed["advice"] == set()
    _equals_fresh(home, tmp_path, "redelivered", inbox_now)
    with warehouse.connect(home.warehouse, read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM stg_attendance WHERE district_ags = '{D1}'").fetchall()[0][0] == 3

    # 2. D2's Q1 events replaced (the bad date fixed), then that file taken out of the inbox
    #    again: the first file is current again, with its rows and its rejection.
    fixed = [EVENTS, "E1,2024-01-11,training,5", "E2,2024-03-01,training,5"]
    _files(home, {f"{D2}_2024-Q1_events.csv": fixed}, days=3)
    assert _stage(home, set())["events"] == {D2}
    _equals_fresh(home, tmp_path, "replaced", {**inbox_now, f"{D2}_2024-Q1_events.csv": (fixed, 3)})
    (home.inbox / f"{D2}_2024-Q1_events.csv").unlink()
    _stage(home, set())
    _files(home, {f"{D2}_2024-Q1_events.csv": START[f"{D2}_2024-Q1_events.csv"]})  # put back as it was
    assert _stage(home, set())["events"] == {D2}
    _equals_fresh(home, tmp_path, "put-back", inbox_now)

    # 3. A run that stopped after staging events, before attendance: the next run still stages
    #    D1's attendance, since the events it was judged against are not D1's events any more.
    without_e3 = [EVENTS, "E9,2024-04-12,training,9"]
    _files(home, {f"{D1}_2024-Q2_events.csv": without_e3}, days=5)
    inbox_now[f"{D1}_2024-Q2_events.csv"] = (without_e3, 5)
    _stage(home, set(), feeds=["events"])
    assert _stage(home, set())["attendance"] == {D1}
    _equals_fresh(home, tmp_path, "stopped", inbox_now)

    # 4. Nothing changed: nothing is staged again.
    assert not any(_stage(home, set()).values())


@pytest.mark.parametrize("whole", [None, set()])
def test_a_quarter_never_staged_is_staged_whatever_the_scope(tmp_path, whole):
    home = Home(tmp_path / "home").ensure()
    _files(home, START)
    _stage(home, whole)
    _equals_fresh(home, tmp_path, "first", {name: (lines, 0) for name, lines in START.items()})
