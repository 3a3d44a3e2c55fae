"""The instance on a real PostgreSQL server (README, "Several evaluators"), through dagster-postgres.

A fixture starts Debian's PostgreSQL (`initdb` and `pg_ctl` of the package `postgresql`, which
.ci/run installs) on a free loopback port, as the user `postgres` (the server refuses to run as
root), with a role and a database for Dagster behind a password. The home's dagster.yaml is the
repository's plus the README's `storage: postgres:` block; `teilhabe run` then keeps its runs,
events, data versions and per-quarter `inbox` records there, and a second run on the same inbox
finds nothing due and leaves indicator_values as it was.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from pipeline.contract import PROJECT_ROOT
from tests.conftest import write_csv

TEILHABE = str(Path(sys.executable).with_name("teilhabe"))
HEADER = "event_id,date,event_type,participants_total,participants_volunteer,participants_staff"
USER, PASSWORD, DATABASE = "teilhabe", "ein-Passwort", "dagster"
# The README's block, word for word: the credentials come from the environment; `scheme` names
# the driver dagster-postgres depends on (psycopg2), as SQLAlchemy 2.1 defaults to psycopg 3.
STORAGE = """
storage:
  postgres:
    postgres_db:
      hostname: 127.0.0.1
      username: {env: DAGSTER_PG_USER}
      password: {env: DAGSTER_PG_PASSWORD}
      db_name: dagster
      port: %d
      scheme: postgresql+psycopg2
"""


def _server_binaries() -> Path:
    """The bin folder of Debian's newest installed PostgreSQL; in CI its absence fails the test."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        found = []
    if found:
        return Path(found[-1]).parent
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL fehlt / is missing: .ci/run installs the Debian package postgresql")
    pytest.skip("PostgreSQL missing (install the Debian package postgresql); CI does not skip this")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*command: str, timeout: float = 120) -> None:
    done = subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{command[0]}: {done.stdout[-2000:]}{done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on 127.0.0.1:<free port>, sockets in its own folder; stopped at the end."""
    bin_dir = _server_binaries()
    # Not under pytest's tmp folder: that is root's alone (0700) and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="teilhabe-pg-"))
    shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()
    _as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                 "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
    _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
                 "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off", "start")
    try:
        import psycopg2

        admin = psycopg2.connect(host=str(root), port=port, user="postgres", dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"CREATE ROLE {USER} LOGIN PASSWORD %s", (PASSWORD,))
            cur.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        admin.close()
        yield port
    finally:
        _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_home(postgres, tmp_path_factory):
    """A small home whose instance is on the server: dagster.yaml placed before the first run
    (prepare_instance copies the repository's only where none is)."""
    home = tmp_path_factory.mktemp("pg") / "home"
    (home / "dagster").mkdir(parents=True)
    config = (PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8") + STORAGE % postgres
    (home / "dagster" / "dagster.yaml").write_text(config, encoding="utf-8")
    (home / "inbox").mkdir()
    write_csv(home / "inbox" / "05766_2024-Q1_events.csv",
              [HEADER, "E1,2024-01-10,training,12,5,4", "E2,2024-01-11,Stammtisch,9,,", "E3,2024-02-02,training,8,2,1"])
    write_csv(home / "inbox" / "05766_2024-Q2_events.csv", [HEADER, "E4,2024-04-10,training,20,6,3"])
    env = {**os.environ, "TEILHABE_HOME": str(home), "TEILHABE_AS_OF": "2024-08-15",
           "DAGSTER_HOME": str(home / "dagster"), "DAGSTER_PG_USER": USER, "DAGSTER_PG_PASSWORD": PASSWORD}
    return home, env


def _run(home: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([TEILHABE, "run", "--home", str(home)], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def _instance(home: Path, env: dict, monkeypatch) -> dg.DagsterInstance:
    for name in ("DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(name, env[name])
    return dg.DagsterInstance.from_config(str(home / "dagster"))


def _latest(instance: dg.DagsterInstance, key: str):
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None and event.asset_materialization is not None, key
    return event.asset_materialization


def test_the_pipeline_keeps_its_change_records_on_postgres(pg_home, monkeypatch):
    from assets.versions import DATA_VERSION_TAG

    home, env = pg_home
    _run(home, env)
    instance = _instance(home, env, monkeypatch)
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        runs = instance.get_runs()
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS]
        assert "teilhabe/pid" in runs[0].tags
        # Per quarter, the files each raw partition was made from; a data version on every asset.
        records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_events")),
                                                  limit=100).records
        inbox = {r.asset_materialization.partition: r.asset_materialization.metadata["inbox"].value
                 for r in records if "inbox" in r.asset_materialization.metadata}
        assert {"2024-01-01", "2024-04-01"} <= inbox.keys()
        assert inbox["2024-01-01"] and inbox["2024-04-01"] and inbox["2024-01-01"] != inbox["2024-04-01"]
        for key in ("raw_events", "stg_events", "indicator_values"):
            assert _latest(instance, key).tags.get(DATA_VERSION_TAG), key
        first = _latest(instance, "indicator_values")
        assert first.metadata["unchanged"].value is False
    finally:
        instance.dispose()

    second = _run(home, env)
    assert "0 Quartale mit neuen oder geänderten Dateien" in second.stdout
    instance = _instance(home, env, monkeypatch)
    try:
        runs = instance.get_runs()
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
        again = _latest(instance, "indicator_values")
        assert again.metadata["unchanged"].value is True
        assert again.tags[DATA_VERSION_TAG] == first.tags[DATA_VERSION_TAG]
    finally:
        instance.dispose()
    rejections = (home / "exports" / "rejections.csv").read_text(encoding="utf-8-sig")
    assert "Stammtisch" in rejections
