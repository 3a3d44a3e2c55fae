"""The judge process `teilhabe run` starts so that Great Expectations is imported on the second
core: a district gets the same findings from it as from GX in the calling process, a suite the
code cannot evaluate still stops the run, and a judge that died costs time, never a finding."""
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from pipeline import judge
from tests.conftest import write_csv
from tests.test_contract_rules import EVENTS_HEADER, check

ROOT = Path(__file__).resolve().parent.parent

ROWS = [EVENTS_HEADER,
        ["E1", "2024-01-10", "training", "12", "5", "4"],     # 2 ok
        ["E2", "2024-01-11", "Stammtisch", "10", "", ""],     # 3 bad_enum
        ["E3", "2024-01-12", "workshop", "10", "6", "5"],     # 4 inconsistent (6 + 5 > 10)
        ["E3", "2024-01-13", "workshop", "9", "", ""],        # 5 duplicate_id (and row 4)
        ["E4", "2024-04-02", "workshop", "10", "", ""]]       # 6 future_date (after 2024-Q1)
EXPECTED = [(3, "bad_enum", "event_type"),
            (4, "duplicate_id", "event_id"), (4, "inconsistent_counts", "participants_volunteer + participants_staff"),
            (5, "duplicate_id", "event_id"), (6, "future_date", "date")]


def _findings(tmp_path, contract, catalogue):
    [report] = check([write_csv(tmp_path / "05766_2024-Q1_events.csv", ROWS)], contract, catalogue)
    return sorted((f["row"], f["reason_code"], f["column"]) for f in report.findings), report


@pytest.fixture
def started():
    judge.start_judge()
    yield judge._JUDGE
    judge.stop_judge()


def test_the_judge_process_finds_what_gx_finds_here(tmp_path, contract, catalogue, started, monkeypatch):
    # GX in this process would fail: every finding below comes from the judge process.
    monkeypatch.setattr(judge, "_judge", lambda *args: pytest.fail("judged in the calling process"))
    got, report = _findings(tmp_path, contract, catalogue)
    assert got == EXPECTED
    assert (report.rows_read, report.accepted, report.rejected) == (5, 1, 4)
    assert judge._JUDGE is started


def test_a_suite_the_code_cannot_evaluate_still_stops_the_run(started):
    feed = SimpleNamespace(name="events", suite={"meta": {}, "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"}, "meta": {}}]})
    with pytest.raises(judge.SuiteError, match="no_such_column"):
        judge.run_suite(pd.DataFrame({"_rid": [0, 1], "event_id": ["E1", None]}), feed)
    assert judge._JUDGE is started  # it answered, and judges on


def test_a_dead_judge_costs_time_not_findings(tmp_path, contract, catalogue, started):
    started._process.kill()
    started._process.wait()
    got, _ = _findings(tmp_path, contract, catalogue)
    assert got == EXPECTED
    assert judge._JUDGE is None  # judged here, and no second try with the dead process


def test_a_judge_that_cannot_start_costs_time_not_findings(tmp_path, contract, catalogue, monkeypatch):
    def no_process(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(judge.subprocess, "Popen", no_process)
    judge.start_judge()
    assert judge._JUDGE is None
    got, _ = _findings(tmp_path, contract, catalogue)
    assert got == EXPECTED


def test_a_script_without_a_main_guard_runs_its_own_code_once(tmp_path):
    # An evaluator's quick script that runs the pipeline (here: judges one frame) with no
    # `if __name__ == "__main__"`: the judge process must not run the script a second time.
    script = tmp_path / "quick.py"
    script.write_text(
        "import pandas as pd\n"
        "from types import SimpleNamespace\n"
        "from pipeline import judge\n"
        "print('script ran', flush=True)\n"
        "judge.start_judge()\n"
        "feed = SimpleNamespace(name='events', suite={'meta': {}, 'expectations': [{'type': "
        "'expect_column_values_to_not_be_null', 'kwargs': {'column': 'event_id'}, 'meta': {'reason_code': 'missing'}}]})\n"
        "[(meta, rids)] = judge.run_suite(pd.DataFrame({'_rid': [0, 1, 2], 'event_id': ['E1', None, 'E3']}), feed)\n"
        "print('judged by the judge process' if judge._JUDGE else 'judged here', meta['reason_code'], rids.tolist())\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["script ran", "judged by the judge process missing [1]"]
    assert "Traceback" not in done.stderr
