"""The code location: what an evaluator sees in the Dagster UI, and what fires by itself."""
import datetime as dt
import hashlib
import zoneinfo

import dagster as dg

from pipeline.publish import deadlines
from assets.definitions import defs
from assets.resources import TeilhabeHome
from assets.schedules import quartalslauf
from assets.sensors import posteingang
from tests.conftest import ingest, write_csv

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
FEEDS = ["advice", "attendance", "events", "micro_projects", "newsletters", "survey", "trajectories"]


def test_definitions_load_with_groups_jobs_schedule_and_sensor():
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {f"raw_{f}" for f in FEEDS} | {f"stg_{f}" for f in FEEDS} | {
        "quality_reports", "indicator_values", "indicator_exports", "impact_estimates", "conference_site"} <= keys
    groups = {repo.asset_graph.get(dg.AssetKey(k)).group_name for k in keys}
    assert groups == {"ingest", "quality", "indicators", "publish"}
    assert {j.name for j in repo.get_all_jobs()} >= {"quartal_verarbeiten", "alles_neu_berechnen"}
    assert [(s.name, s.cron_schedule, s.execution_timezone) for s in repo.schedule_defs] == [
        ("quartalslauf", "0 6 15 1,4,7,10 *", "Europe/Berlin")]
    assert [s.name for s in repo.sensor_defs] == ["posteingang"]
    checks = {(c.asset_key.to_user_string(), c.name) for c in repo.asset_graph.asset_check_keys}
    assert {(f"stg_{f}", "contract") for f in FEEDS} | {("quality_reports", "lieferfristen")} <= checks
    # One check per family of warnings; a warning never blocks a run.
    warning_checks = {("quality_warnings", name) for name in ("regelverstoesse", "hoechstbetrag", "ausreisser")}
    assert warning_checks <= checks
    specs = [repo.asset_graph.get_check_spec(k) for k in repo.asset_graph.asset_check_keys
             if (k.asset_key.to_user_string(), k.name) in warning_checks]
    assert len(specs) == 3 and not any(spec.blocking for spec in specs)
    # Approval (docs/approval.md): the states in the UI, a warning while a quarter changed since approval.
    assert ("approvals", "freigaben_aktuell") in checks
    assert not repo.asset_graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey("approvals"), "freigaben_aktuell")).blocking


def test_every_asset_touching_the_warehouse_is_in_the_duckdb_pool():
    # Readers too: DuckDB refuses a read-only open while another process holds the write lock.
    repo = defs.get_repository_def()
    for key in repo.asset_graph.get_all_asset_keys():
        assert repo.asset_graph.get(key).pools == {"duckdb"}, key


def test_every_asset_has_a_code_version_and_the_keys_are_as_published():
    # What an evaluator sees in the UI: the keys (a rename breaks saved views and runs' history),
    # and on each asset the code version Dagster judges staleness by.
    repo = defs.get_repository_def()
    keys = sorted(key.to_user_string() for key in repo.asset_graph.get_all_asset_keys())
    assert keys == sorted(["approvals", "conference_site", "impact_estimates", "indicator_exports", "indicator_values",
                           "quality_reports", "quality_warnings", *(f"{layer}_{feed}" for layer in ("raw", "stg") for feed in FEEDS)])
    for key in repo.asset_graph.get_all_asset_keys():
        version = repo.asset_graph.get(key).code_version
        assert version and len(version) == 16, key
    schedule = defs.resolve_schedule_def("quartalslauf")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 15 1,4,7,10 *", "Europe/Berlin")


def test_launched_runs_execute_in_one_process():
    # Steps are serial anyway (one `duckdb` slot); a process per step cost a start-up each.
    for name in ("quartal_verarbeiten", "alles_neu_berechnen"):
        assert defs.resolve_job_def(name).executor_def is dg.in_process_executor


def test_quarters_are_partitions_with_the_quarterly_cron():
    partitions = defs.resolve_job_def("quartal_verarbeiten").partitions_def
    assert partitions.cron_schedule == "0 0 1 1,4,7,10 *"
    assert partitions.get_partition_keys()[:2] == ["2017-01-01", "2017-04-01"]


def test_schedule_requests_the_quarter_that_just_ended():
    tick = dt.datetime(2024, 7, 15, 6, 0, tzinfo=BERLIN)
    request = quartalslauf(dg.build_schedule_context(scheduled_execution_time=tick))
    assert (request.partition_key, request.run_key, request.tags["quartal"]) == ("2024-04-01", "quartal-2024-Q2", "2024-Q2")
    january = quartalslauf(dg.build_schedule_context(scheduled_execution_time=dt.datetime(2025, 1, 15, 6, tzinfo=BERLIN)))
    assert january.partition_key == "2024-10-01"


def test_sensor_requests_one_run_per_quarter_with_new_files(home):
    from pipeline.quarters import quarter_to_key, reporting_range
    from tests.conftest import ingest

    instance = dg.DagsterInstance.ephemeral()
    events = write_csv(home.inbox / "05766_2024-Q1_events.csv",
                       ["event_id,date,event_type,participants_total", "E1,2024-01-10,training,3"])
    advice = write_csv(home.inbox / "05766_2024-Q1_advice.csv",
                       ["case_id,date,client_type,client_key", "C1,2024-01-11,newcomer,K-1001"])
    write_csv(home.inbox / "Lieferung.csv", ["x"])
    resources = {"home": TeilhabeHome(home=str(home.root))}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        requests = posteingang(context)
        cursor = context.cursor
    by_quarter = {r.tags["quartal"]: r for r in requests}
    running = reporting_range()[1]
    # Two files of 2024-Q1 are one run; the file no quarter can be assigned goes with the running quarter's.
    assert sorted(by_quarter) == sorted({"2024-Q1", running})
    files = sorted((p.name.lower(), hashlib.sha256(p.read_bytes()).hexdigest()) for p in (events, advice))
    assert by_quarter["2024-Q1"].run_key == "2024-Q1:" + hashlib.sha256(repr(files).encode()).hexdigest()[:24]
    assert by_quarter["2024-Q1"].partition_key == "2024-01-01"
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        assert isinstance(posteingang(context), dg.SkipReason)  # nothing changed since the last tick
    # After 2024-Q1 was processed, a sensor starting afresh asks only for the running quarter.
    ingest(home, "2024-01-01", instance=instance)
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        assert [r.partition_key for r in posteingang(context)] == [quarter_to_key(running)]


def test_delivery_status_on_time_late_missing_open(home, catalogue):
    # 03155 Northeim (amif-nom, 2023-2025). Deadline: 30 days after quarter end; 2024-Q4 has its own.
    write_csv(home.inbox / "03155_2024-Q2_events.csv", ["event_id,date,event_type,participants_total", "E1,2024-05-10,training,3"],
              received=dt.datetime(2024, 7, 30, 9))    # deadline 2024-07-30: on time
    write_csv(home.inbox / "03155_2024-Q3_events.csv", ["event_id,date,event_type,participants_total", "E2,2024-08-10,training,3"],
              received=dt.datetime(2024, 11, 2, 9))    # deadline 2024-10-30: late
    ingest(home, "2024-04-01", "2024-07-01")
    import duckdb

    con = duckdb.connect(str(home.warehouse), read_only=True)
    status = deadlines.delivery_status(con, catalogue, as_of=dt.date(2025, 1, 20))
    con.close()
    northeim = status[status["district_ags"] == "03155"].set_index("quarter")["status"]
    assert northeim["2024-Q1"] == "missing"
    assert (northeim["2024-Q2"], northeim["2024-Q3"]) == ("on_time", "late")
    assert northeim["2024-Q4"] == "open"     # due 2025-02-14
    assert "2025-Q1" not in northeim.index   # not ended yet
