"""`teilhabe serve` with real processes: webserver and daemon on a free loopback port.

The served home is the demo, processed by `teilhabe run` first. Then, as the change mechanism
promises (assets/changes.py): serving it launches no run; one re-delivered file launches one
run, for its quarter, and the exports change; a thousand files dropped into one quarter launch
one run. Last, files for two quarters land while a backfill over two more is launched from the
CLI: the sensor's runs and the backfill's runs queue on the warehouse and never collide on its
lock.
"""
import csv
import ctypes
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from pipeline.quarters import quarter_to_key, reporting_range
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium, write_csv

BIN = Path(sys.executable).parent
HEADER = "event_id,date,event_type,participants_total,participants_volunteer,participants_staff"
INTERVAL = 3   # TEILHABE_SENSOR_INTERVAL, seconds
AS_OF = "2026-02-15"   # after the demo's last quarter: deadlines judged on a fixed day
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
SENSOR_TAG, PID_TAG = "teilhabe/grund", "teilhabe/pid"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, step: float = 1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _teilhabe(*args: str, env: dict) -> None:
    done = subprocess.run([str(BIN / "teilhabe"), *args], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The demo home, processed by `teilhabe run`, then served."""
    tmp_path = tmp_path_factory.mktemp("serve")
    home, port = tmp_path / "home", _free_port()
    env = {**os.environ, "TEILHABE_SENSOR_INTERVAL": str(INTERVAL), "TEILHABE_AS_OF": AS_OF,
           "TEILHABE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    _teilhabe("demo", "--home", str(home), env=env)
    _teilhabe("run", "--home", str(home), env=env)
    started = time.time()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([str(BIN / "teilhabe"), "serve", "--home", str(home), "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _up(f"http://127.0.0.1:{port}/server_info"), 120, "the webserver")
        yield home, port, env, started
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


class Instance:
    """The served home's instance, opened for one look."""

    def __init__(self, home: Path):
        self.home = home

    def __enter__(self) -> dg.DagsterInstance:
        self.instance = dg.DagsterInstance.from_config(str(self.home / "dagster"))
        return self.instance

    def __exit__(self, *_):
        self.instance.dispose()


def _runs(home: Path) -> list[dg.DagsterRun]:
    with Instance(home) as instance:
        return list(instance.get_runs())


def _ticks(home: Path, after: float) -> list:
    """The inbox sensor's finished ticks since `after` (epoch seconds), oldest first."""
    with Instance(home) as instance:
        states = [s for s in instance.all_instigator_state() if s.instigator_name == "posteingang"]
        ticks = [t for s in states for t in instance.get_ticks(s.instigator_origin_id, s.selector_id, after=after)]
    return sorted((t for t in ticks if t.status.value != "STARTED"), key=lambda t: t.timestamp)


def _sensor_runs(home: Path, quarter: str | None = None) -> list[dg.DagsterRun]:
    return [r for r in _runs(home) if SENSOR_TAG in r.tags and (quarter is None or r.tags.get("quartal") == quarter)]


def _lock_errors(home: Path) -> list[str]:
    with Instance(home) as instance:
        return [e.message for r in instance.get_runs() for e in instance.all_logs(r.run_id)
                if e.message and "Could not set lock" in e.message]


def _one_run_done(home: Path, quarter: str, before: set[str], timeout: float) -> dg.DagsterRun:
    def done():
        new = [r for r in _sensor_runs(home, quarter) if r.run_id not in before]
        return new if new and all(r.status in FINISHED for r in new) else None

    new = _wait(done, timeout, f"the sensor's run for {quarter}")
    assert len(new) == 1, [(r.run_id, r.tags) for r in new]
    assert new[0].status == dg.DagsterRunStatus.SUCCESS
    return new[0]


def _indicator(home: Path, programme: str, indicator: str, district: str, period: str) -> str:
    with (home / "exports" / "indicators.csv").open(encoding="utf-8-sig", newline="") as f:
        values = [row["value"] for row in csv.DictReader(f) if (row["programme_id"], row["indicator_id"],
                                                                 row["district_ags"], row["period"])
                  == (programme, indicator, district, period)]
    assert len(values) == 1, values
    return values[0]


def _swap(a: Path, b: Path) -> None:
    """Exchange two folders in one step (renameat2 RENAME_EXCHANGE), so that the sensor sees
    either none or all of the dropped files, never a part of them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) != 0:   # AT_FDCWD, RENAME_EXCHANGE
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def test_a_processed_home_served_launches_no_run(served):
    home, _, _, started = served
    ticks = _wait(lambda: (t := _ticks(home, started)) and len(t) >= 2 and t, 120, "two sensor ticks")
    time.sleep(INTERVAL)   # a run a tick requested is in the run storage by now
    assert [t.run_ids for t in _ticks(home, started)] == [[]] * len(_ticks(home, started))
    assert {t.status.value for t in ticks} == {"SKIPPED"}
    runs = _runs(home)
    assert len(runs) == 1 and PID_TAG in runs[0].tags   # `teilhabe run`'s, no other
    assert runs[0].status == dg.DagsterRunStatus.SUCCESS


def test_one_redelivered_file_launches_one_run_and_changes_the_exports(served):
    """One training added to Waldeck-Frankenberg's 2023-Q1 events (programme lzz-2): its
    trainings_held for 2023-Q1 goes up by one."""
    home, _, _, _ = served
    key = ("lzz-2", "trainings_held", "06635", "2023-Q1")
    before_value = int(_indicator(home, *key))
    before = {r.run_id for r in _runs(home)}
    path = home / "inbox" / "06635_2023-Q1_events.csv"
    data = path.read_bytes()
    data += (b"" if data.endswith(b"\n") else b"\r\n") + (
        "WF-2023Q1-99;20.03.2023;Schulung;Schulung Nachtrag;Korbach;Bildung;nein;10;3;2;1\r\n".encode("latin-1"))
    redelivered = path.with_name(".redelivery.tmp")
    redelivered.write_bytes(data)
    start = time.monotonic()
    os.replace(redelivered, path)   # a new file under the same name, as an upload's rename leaves it

    _wait(lambda: int(_indicator(home, *key)) == before_value + 1, 120, "the changed indicators.csv")
    changed = time.monotonic() - start
    run = _one_run_done(home, "2023-Q1", before, 120)
    print(f"re-delivery: indicators.csv changed after {changed:.0f} s, run done after "
          f"{time.monotonic() - start:.0f} s")
    assert run.tags[SENSOR_TAG] == "files"
    assert run.tags["dagster/partition"] == quarter_to_key("2023-Q1")
    assert [r for r in _runs(home) if r.run_id not in before] == [run]   # no other quarter ran
    time.sleep(2 * INTERVAL + 2)   # the same files never run twice
    assert [r.run_id for r in _runs(home) if r.run_id not in before] == [run.run_id]


def test_a_thousand_files_into_one_quarter_launch_one_run(served):
    """Twenty districts' event files for the running quarter and 980 files of districts the
    catalogue does not know (set aside as unknown_district, counted in the running quarter too)."""
    from pipeline.catalogue import load_catalogue

    home, _, _, _ = served
    quarter = reporting_range()[1]
    day = quarter_to_key(quarter)
    before = {r.run_id for r in _runs(home)}
    inbox, staging = home / "inbox", home / "inbox.next"
    staging.mkdir()
    for entry in inbox.iterdir():   # the same files (same inode, size, time), plus the thousand
        os.link(entry, staging / entry.name, follow_symlinks=False)
    districts = sorted(load_catalogue().districts.index)
    names = [f"{ags}_{quarter}_events.csv" for ags in districts]
    names += [f"{90000 + n}_{quarter}_events.csv" for n in range(1000 - len(names))]
    for n, name in enumerate(names):
        write_csv(staging / name, [HEADER, f"T-{n},{day},training,{10 + n % 7},3,2"])
    assert len(set(names)) == 1000
    _swap(inbox, staging)
    start = time.monotonic()
    shutil.rmtree(staging)   # the old folder's links

    run = _one_run_done(home, quarter, before, 600)
    print(f"1,000 files: the run was done after {time.monotonic() - start:.0f} s")
    assert run.tags[SENSOR_TAG] == "files"
    time.sleep(2 * INTERVAL + 2)
    assert [r.run_id for r in _runs(home) if r.run_id not in before] == [run.run_id]
    log = (home / "exports" / "delivery_log.csv").read_text(encoding="utf-8-sig")
    assert all(name in log for name in names[:3] + names[-3:])


def test_ui_shows_the_pipeline_assets(served):
    from playwright.sync_api import sync_playwright

    require_chromium()
    _, port, _, _ = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # Tall enough for every asset row: the UI's list is virtualised, and with the asset
        # `approvals` stg_events was the first row below a 720 px screen.
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        outside = []
        local = f"http://127.0.0.1:{port}"

        def only_local(route):
            url = route.request.url
            if url.startswith(("http://", "https://")) and not url.startswith(local):
                outside.append(url)
                return route.abort()
            return route.continue_()

        page.route("**/*", only_local)
        page.goto(f"http://127.0.0.1:{port}/assets", wait_until="networkidle", timeout=90_000)
        skip = page.get_by_role("button", name="Skip")   # Dagster's first-visit newsletter dialog
        if skip.count():
            skip.click()
        page.get_by_text("stg_events").first.wait_for(timeout=90_000)
        text = page.inner_text("body")
        browser.close()
    for name in ("raw_events", "stg_events", "quality_reports", "indicator_values"):
        assert name in text, name
    assert "Veranstaltungen / Events" in text   # descriptions from the contract, German first
    assert outside == []


def test_sensor_runs_and_concurrent_backfill_succeed_without_lock_errors(served):
    """District 03255 delivers events for 2023-Q4 and 2024-Q1 (one planted bad event type each;
    outside any programme then, so its rows are rejected as outside_programme too) while the CLI
    backfills 2023-Q1 and 2023-Q2."""
    home, _, env, _ = served
    before = {r.run_id for r in _runs(home)}
    quarters = {"2023-Q4": "2023-11-10", "2024-Q1": "2024-02-10"}
    for quarter, day in quarters.items():
        write_csv(home / "inbox" / f"03255_{quarter}_events.csv",
                  [HEADER, f"E-{quarter},{day},training,12,5,4", f"X-{quarter},{day},Stammtisch,3,,"])
    backfill = subprocess.run([str(BIN / "dagster"), "job", "backfill", "-m", "assets.definitions", "-j",
                               "quartal_verarbeiten", "--partitions", "2023-01-01,2023-04-01", "--noprompt"],
                              env=env, capture_output=True, text=True, timeout=300)
    assert backfill.returncode == 0, backfill.stderr[-2000:]

    def all_done():
        runs = [r for r in _runs(home) if r.run_id not in before]
        sensor = {r.tags.get("quartal") for r in runs if SENSOR_TAG in r.tags}
        return runs if sensor >= set(quarters) and all(r.status in FINISHED for r in runs) else None

    runs = _wait(all_done, 900, "the sensor's and the backfill's runs")
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * len(runs)
    assert len([r for r in runs if SENSOR_TAG in r.tags]) == 2   # one per quarter
    assert len(runs) >= 4
    assert _lock_errors(home) == []
    with (home / "exports" / "rejections.csv").open(encoding="utf-8-sig", newline="") as f:
        planted = [(row["quarter"], row["reason_code"], row["value"]) for row in csv.DictReader(f)
                   if row["file"].startswith("03255_") and row["reason_code"] == "bad_enum"]
    assert sorted(planted) == [(q, "bad_enum", "Stammtisch") for q in sorted(quarters)]
