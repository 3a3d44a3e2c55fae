"""`teilhabe check` as a district office uses it: exit codes 0 / 1 / 2, German or English, writes nothing."""
import os
import subprocess
import sys
from pathlib import Path

from assets.cli import main
from pipeline.home import Home
from tests.conftest import query, write_csv

TEILHABE = str(Path(sys.executable).with_name("teilhabe"))
HEADER = "event_id,date,event_type,participants_total"


def _tree(root: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")}


def test_clean_file_exits_0_and_writes_nothing(tmp_path, capsys):
    path = write_csv(tmp_path / "05766_2024-Q1_events.csv", [HEADER, "E1,2024-01-10,Schulung,12"])
    before = _tree(tmp_path)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 Zeilen gelesen, 1 angenommen, 0 abgelehnt" in out and "Alles in Ordnung" in out
    assert _tree(tmp_path) == before


def test_rejected_row_exits_1_with_row_column_value_and_reason(tmp_path, capsys):
    path = write_csv(tmp_path / "05766_2024-Q1_events.csv", [HEADER, "E1,2024-01-10,Stammtisch,12"])
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "[bad_enum] Zeile 2, Spalte event_type, Wert 'Stammtisch': kein erlaubter Wert" in out


def test_english_messages(tmp_path, capsys):
    path = write_csv(tmp_path / "05766_2024-Q1_events.csv", [HEADER, "E1,2024-01-10,training,-2"])
    assert main(["--lang", "en", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "[out_of_range] row 2, column participants_total, value '-2': negative number" in out
    assert "Please correct the rows above" in out


def test_set_aside_file_exits_1(tmp_path, capsys):
    path = write_csv(tmp_path / "Lieferung_final.csv", [HEADER])
    assert main(["check", str(path)]) == 1
    assert "[bad_filename]" in capsys.readouterr().out


def test_usage_errors_exit_2_without_traceback(tmp_path):
    env = {**os.environ, "TEILHABE_HOME": str(tmp_path / "nowhere")}
    for args in (["check"], ["check", str(tmp_path / "missing.csv")], ["frobnicate"]):
        done = subprocess.run([TEILHABE, *args], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "nowhere").exists()


def test_help_speaks_to_a_district_office():
    done = subprocess.run([TEILHABE, "check", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "Dateien vor dem Senden prüfen (schreibt nichts)" in done.stdout


def test_a_killed_run_releases_its_warehouse_slot_for_the_next_run():
    """`teilhabe run` killed hard (SIGKILL, power cut) leaves its run STARTED and the `duckdb` slot
    claimed: without clean-up the next run would wait for the slot forever."""
    import socket

    import dagster as dg
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster._core.utils import make_new_run_id

    from assets.cli import RUN_HOST_TAG, RUN_PID_TAG, release_dead_runs

    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    with dg.instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots("duckdb", 1)
        runs = {}
        for name, pid, tags_host in (("killed", gone.pid, host), ("running", os.getpid(), host),
                                     ("other_host", gone.pid, "elsewhere"), ("served", None, None)):
            tags = {RUN_PID_TAG: str(pid), RUN_HOST_TAG: tags_host} if pid else {}
            run = instance.add_run(DagsterRun(job_name="quartal_verarbeiten", run_id=make_new_run_id(),
                                              status=dg.DagsterRunStatus.STARTED, tags=tags))
            runs[name] = run.run_id
        assert instance.event_log_storage.claim_concurrency_slot("duckdb", runs["killed"], "raw_deliveries").is_claimed
        nxt = make_new_run_id()
        assert not instance.event_log_storage.claim_concurrency_slot("duckdb", nxt, "raw_deliveries").is_claimed

        assert release_dead_runs(instance) == [runs["killed"]]
        status = {name: instance.get_run_by_id(run_id).status for name, run_id in runs.items()}
        assert status == {"killed": dg.DagsterRunStatus.FAILURE, "running": dg.DagsterRunStatus.STARTED,
                          "other_host": dg.DagsterRunStatus.STARTED, "served": dg.DagsterRunStatus.STARTED}
        assert instance.event_log_storage.claim_concurrency_slot("duckdb", nxt, "raw_deliveries").is_claimed


def test_run_as_the_command_judges_rows_and_ends_with_everything_written(tmp_path):
    """`teilhabe run` as a scheduled job calls it: the rows are judged, the output is all there, the
    warehouse closed, and nothing is left for Python to warn about at exit."""
    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    write_csv(home / "inbox" / "05766_2024-Q1_events.csv",
              [HEADER, "E1,2024-01-10,training,12", "E2,2024-01-11,Stammtisch,9"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout a buffered pipe, as under cron
    env.update(TEILHABE_HOME=str(home), TEILHABE_AS_OF="2024-05-15")
    done = subprocess.run([TEILHABE, "run", "--home", str(home)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "leaked" not in done.stderr
    assert done.stdout.rstrip().endswith(str(home / "site" / "en" / "index.html"))  # flushed to the last line
    rejections = (home / "exports" / "rejections.csv").read_text(encoding="utf-8-sig")
    assert "bad_enum" in rejections and "Stammtisch" in rejections
    assert not (home / "warehouse.duckdb.wal").exists()  # closed and checkpointed before the process ended
    assert query(Home(home), "SELECT event_id FROM stg_events") == [("E1",)]


def test_check_speaks_to_a_clerk(tmp_path, capsys):
    """Repeated findings are grouped, a negative total is one mistake, a workbook's findings name the
    district's own headers on every sheet, an attendance file alone gets a hint, a bad file name
    lists the feeds, a quarter outside the reporting range is named as such."""
    from tests.conftest import write_xlsx

    rows = [HEADER] + [f"E{n},2024-01-1{n},Stammtisch,5," for n in range(1, 5)] + [
        "E8,2024-01-20,training,-2,0", "E9,2024-01-21,training,4,"]
    events = write_csv(tmp_path / "05766_2024-Q1_events.csv", [rows[0] + ",participants_volunteer", *rows[1:]])
    assert main(["check", str(events)]) == 1
    out = capsys.readouterr().out
    assert "[bad_enum] Zeilen 2–5, Spalte event_type, Werte 'Stammtisch': kein erlaubter Wert" not in out
    assert "[bad_enum] Zeilen 2–5, Spalte event_type, Wert 'Stammtisch': kein erlaubter Wert" in out
    assert "[out_of_range] Zeile 6, Spalte participants_total, Wert '-2': negative Zahl" in out
    assert "inconsistent_counts" not in out  # -2 participants with 0 volunteers is one mistake
    book = write_xlsx(tmp_path / "05766_2024-Q2.xlsx", {
        "Veranstaltungen": [["Veranstaltung ID", "Datum", "Art", "Teilnehmende gesamt"],
                            ["E1", "2024-04-10", "Stammtisch", 3]],
        "Beratungen": [["Beratung-ID", "Datum", "Beratene Art", "Beratene ID"], ["C1", "2024-04-11", "Nachbar", "K-1001"]]})
    assert main(["check", str(book)]) == 1
    out = capsys.readouterr().out
    assert "Blatt Veranstaltungen, Zeile 2, Spalte Art, Wert 'Stammtisch'" in out
    assert "Blatt Beratungen, Zeile 2, Spalte Beratene Art, Wert 'Nachbar'" in out
    attendance = write_csv(tmp_path / "05766_2024-Q1_attendance.csv", ["event_id,person_key,role", "E1,KL-0001,staff"])
    assert main(["check", str(attendance)]) == 1
    assert "zusammen mit der Veranstaltungsdatei" in capsys.readouterr().out
    assert main(["check", str(attendance), str(events)]) == 1
    assert "zusammen mit der Veranstaltungsdatei" not in capsys.readouterr().out
    wrong = write_csv(tmp_path / "05766_2024-Q1_teilnehmer.csv", ["x"])
    future = write_csv(tmp_path / "05766_2099-Q1_events.csv", [HEADER, "E1,2099-01-10,training,3"])
    assert main(["--lang", "en", "check", str(wrong), str(future)]) == 1
    out = capsys.readouterr().out
    assert "[unknown_feed] The whole file was not taken over, value 'teilnehmer'" in out
    assert "allowed: events / veranstaltungen, attendance / teilnahmen" in out
    assert "[bad_filename] The whole file was not taken over, value '2099-Q1'" in out
    assert "quarter outside the reporting range 2017-Q1" in out
