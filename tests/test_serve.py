"""`teilhabe serve` with real processes: webserver and daemon on a free loopback port.

Files for two quarters land in the inbox at once while a backfill over two more quarters is
launched from the CLI: the sensor's runs and the backfill's runs execute concurrently with the
multiprocess executor, and the DuckDB pool keeps them from ever colliding on the warehouse lock.
"""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium, write_csv

BIN = Path(sys.executable).parent
HEADER = "event_id,date,event_type,participants_total,participants_volunteer,participants_staff"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("serve")
    home, port = tmp_path / "home", _free_port()
    env = {**os.environ, "TEILHABE_SENSOR_INTERVAL": "3", "DAGSTER_HOME": str(home / "dagster")}
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([str(BIN / "teilhabe"), "serve", "--home", str(home), "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _up(f"http://127.0.0.1:{port}/server_info"), 120, "the webserver")
        yield home, port, env
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def _runs(home: Path):
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        return [(r.run_id, r.status, r.tags) for r in instance.get_runs()]
    finally:
        instance.dispose()


def _lock_errors(home: Path) -> list[str]:
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        return [e.message for r in instance.get_runs() for e in instance.all_logs(r.run_id)
                if e.message and "Could not set lock" in e.message]
    finally:
        instance.dispose()


def test_ui_shows_the_pipeline_assets(served):
    from playwright.sync_api import sync_playwright

    require_chromium()
    _, port, _ = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
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
    home, port, env = served
    inbox = home / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    for quarter, day in (("2023-Q4", "2023-11-10"), ("2024-Q1", "2024-02-10")):
        write_csv(inbox / f"05766_{quarter}_events.csv", [HEADER, f"E-{quarter},{day},training,12,5,4",
                                                          f"X-{quarter},{day},Stammtisch,3,,"])
    backfill = subprocess.run([str(BIN / "dagster"), "job", "backfill", "-m", "assets.definitions", "-j",
                               "quartal_verarbeiten", "--partitions", "2023-01-01,2023-04-01", "--noprompt"],
                              env=env, capture_output=True, text=True, timeout=300)
    assert backfill.returncode == 0, backfill.stderr[-2000:]

    finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}

    def all_done():
        runs = _runs(home)
        sensor_runs = [r for r in runs if "datei" in r[2]]
        return runs if len(sensor_runs) >= 2 and all(r[1] in finished for r in runs) else None

    runs = _wait(all_done, 600, "the sensor's and the backfill's runs")
    assert [status for _, status, _ in runs] == [dg.DagsterRunStatus.SUCCESS] * len(runs)
    assert len(runs) >= 4
    assert _lock_errors(home) == []
    rejections = (home / "exports" / "rejections.csv").read_text(encoding="utf-8-sig")
    assert rejections.count("bad_enum") == 2   # one planted bad event type per quarter file
    assert (home / "exports" / "indicators.csv").exists()


