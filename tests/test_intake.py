"""Delivery semantics through the Dagster assets: replace, late, correction, privacy, idempotence.

District 05766 (Kreis Lippe, lzz-2 from 2023-01-01). Partition keys: 2024-01-01 = 2024-Q1,
2024-04-01 = 2024-Q2.
"""
import dataclasses
import datetime as dt
import hashlib
import zipfile

import dagster as dg

from assets.ingest import ASSETS
from pipeline.intake import inbox
from assets.resources import TeilhabeHome
from tests.conftest import ingest, query, write_csv, write_xlsx

HEADER = "event_id,date,event_type,participants_total,participants_volunteer,participants_staff"
Q1_RECEIVED = dt.datetime(2024, 4, 10, 9)
Q2_RECEIVED = dt.datetime(2024, 7, 10, 9)


def events_q1(home, *extra, received=Q1_RECEIVED):
    return write_csv(home.inbox / "05766_2024-Q1_events.csv",
                     [HEADER, "E1,2024-01-10,training,12,5,4", "E2,2024-02-10,workshop,8,,", *extra], received=received)


def test_one_partition_materializes_on_an_ephemeral_instance(home):
    events_q1(home)
    result = dg.materialize(ASSETS, partition_key="2024-01-01", resources={"home": TeilhabeHome(home=str(home.root))},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    check = next(e for e in result.get_asset_check_evaluations() if e.asset_key == dg.AssetKey("stg_events"))
    assert check.passed and check.metadata["rows_read"].value == 2 and check.metadata["rows_accepted"].value == 2
    assert query(home, "SELECT event_id, quarter, is_late FROM stg_events ORDER BY 1") == [
        ("E1", "2024-Q1", False), ("E2", "2024-Q1", False)]


def test_redelivery_replaces_and_never_double_counts(home):
    events_q1(home)
    ingest(home, "2024-01-01")
    # Same name, new bytes, received later: E2 corrected to 9 participants, E3 added.
    events_q1(home, "E3,2024-03-01,training,20,10,2", received=Q1_RECEIVED + dt.timedelta(days=3))
    home.inbox.joinpath("05766_2024-Q1_events.csv").write_text(
        HEADER + "\nE1,2024-01-10,training,12,5,4\nE2,2024-02-10,workshop,9,,\nE3,2024-03-01,training,20,10,2\n")
    ingest(home, "2024-01-01")
    assert query(home, "SELECT event_id, participants_total FROM cur_events ORDER BY 1") == [
        ("E1", 12), ("E2", 9), ("E3", 20)]
    assert query(home, "SELECT sum(participants_total) FROM stg_events") == [(41,)]
    log = query(home, "SELECT count(*), count(superseded_by) FROM delivery_log")
    assert log == [(2, 1)]


def test_csv_after_workbook_replaces_only_its_feed(home):
    write_xlsx(home.inbox / "05766_2024-Q1.xlsx", {
        "Veranstaltungen": [["Veranstaltung_ID", "Datum", "Art", "Teilnehmende gesamt"], ["E1", dt.date(2024, 1, 10), "Schulung", 10]],
        "Newsletter": [["Ausgabe_ID", "Versanddatum", "Empfänger"], ["N1", dt.date(2024, 2, 1), 120]],
    }, received=Q1_RECEIVED)
    write_csv(home.inbox / "05766_2024-Q1_events.csv", [HEADER, "E1,2024-01-10,training,11,,"],
              received=Q1_RECEIVED + dt.timedelta(days=2))
    ingest(home, "2024-01-01")
    assert query(home, "SELECT event_id, participants_total FROM cur_events") == [("E1", 11)]
    assert query(home, "SELECT issue_id, recipients FROM cur_newsletters") == [("N1", 120)]
    assert query(home, "SELECT file_name, superseded_by FROM delivery_log ORDER BY 1") == [
        ("05766_2024-Q1.xlsx", "events: 05766_2024-Q1_events.csv"), ("05766_2024-Q1_events.csv", None)]


def test_late_record_counts_in_its_own_quarter(home):
    events_q1(home)
    write_csv(home.inbox / "05766_2024-Q2_events.csv", [HEADER, "E10,2024-03-28,workshop,6,,", "E11,2024-05-02,workshop,7,,"],
              received=Q2_RECEIVED)
    ingest(home, "2024-01-01", "2024-04-01")
    assert query(home, "SELECT event_id, delivery_quarter, quarter, is_late FROM cur_events WHERE event_id LIKE 'E1_' ORDER BY 1") == [
        ("E10", "2024-Q2", "2024-Q1", True), ("E11", "2024-Q2", "2024-Q2", False)]
    assert query(home, "SELECT file_name, late FROM delivery_log ORDER BY 1") == [
        ("05766_2024-Q1_events.csv", 0), ("05766_2024-Q2_events.csv", 1)]
    report = (home.reports / "2024-Q2" / "05766_2024-Q2.html").read_text(encoding="utf-8")
    assert "E10" in report and "Verspätete Meldungen" in report


def test_correction_in_a_later_delivery_wins(home):
    events_q1(home)
    write_csv(home.inbox / "05766_2024-Q2_events.csv", [HEADER, "E2,2024-02-10,workshop,15,,"], received=Q2_RECEIVED)
    ingest(home, "2024-01-01", "2024-04-01")
    assert query(home, "SELECT event_id, participants_total, delivery_quarter FROM cur_events ORDER BY 1") == [
        ("E1", 12, "2024-Q1"), ("E2", 15, "2024-Q2")]
    assert query(home, "SELECT file_name, corrected FROM delivery_log ORDER BY 1") == [
        ("05766_2024-Q1_events.csv", 0), ("05766_2024-Q2_events.csv", 1)]


def test_forbidden_file_never_reaches_warehouse_archive_or_exports(home):
    events_q1(home)
    write_csv(home.inbox / "05766_2024-Q1_attendance.csv",
              ["event_id;person_key;role;Vorname;E-Mail", "E1;KL-0001;ehrenamtlich;Zoraida;zoraida@example.org"], sep=";",
              received=Q1_RECEIVED)
    ingest(home, "2024-01-01")
    import duckdb

    con = duckdb.connect(str(home.warehouse), read_only=True)
    tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()]
    for table in tables:
        dump = str(con.execute(f'SELECT * FROM "{table}"').fetchall())
        assert "Zoraida" not in dump and "zoraida@" not in dump and "KL-0001" not in dump, table
    assert con.execute("SELECT status, rows_read, rejected, archive_path FROM delivery_log WHERE file_name LIKE '%attendance%'").fetchall() == [
        ("set_aside", 1, 1, None)]
    con.close()
    stored = [p.read_bytes() for p in home.root.rglob("*") if p.is_file() and p.suffix in (".csv", ".html", ".duckdb")
              and home.inbox not in p.parents]
    assert all(b"Zoraida" not in data for data in stored)
    rejections = (home.exports / "rejections.csv").read_text(encoding="utf-8-sig")
    assert "forbidden_column,Spalte enthält direkte Personendaten" in rejections.replace('"', "")


def test_set_aside_redelivery_keeps_the_earlier_good_file(home):
    events_q1(home)
    ingest(home, "2024-01-01")
    write_csv(home.inbox / "05766_2024-Q1_events.csv", [HEADER + ",Name", "E1,2024-01-10,training,12,5,4,Erika"],
              received=Q1_RECEIVED + dt.timedelta(days=5))
    ingest(home, "2024-01-01")
    assert query(home, "SELECT count(*) FROM cur_events") == [(2,)]


def test_archive_is_byte_for_byte_with_sha256(home):
    path = events_q1(home)
    ingest(home, "2024-01-01")
    [(sha, archived)] = query(home, "SELECT sha256, archive_path FROM receipts")
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert archived == f"archive/{archived.split('/')[1]}/{sha}/05766_2024-Q1_events.csv"
    assert inbox.read_archived(home.root, archived) == path.read_bytes()
    # a standard ZIP with the file stored as received: any unzip tool gives it back
    with zipfile.ZipFile(home.root / (archived.split(".zip/")[0] + ".zip")) as opened:
        [info] = opened.infolist()
    assert (info.filename, info.compress_type, info.file_size) == (f"{sha}/05766_2024-Q1_events.csv",
                                                                   zipfile.ZIP_STORED, path.stat().st_size)
    # a receipt archived as a plain file by an earlier version still reads back
    earlier = home.archive / sha[:2] / sha / path.name
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"as archived before")
    assert inbox.read_archived(home.root, f"archive/{sha[:2]}/{sha}/{path.name}") == b"as archived before"


def test_running_twice_on_an_unchanged_inbox_changes_nothing(home):
    events_q1(home, "E2,2024-02-11,workshop,3,,")  # a duplicate, so there are rejections too
    write_csv(home.inbox / "05766_2024-Q2_events.csv", [HEADER, "E2,2024-02-10,workshop,15,,"], received=Q2_RECEIVED)
    write_csv(home.inbox / "nonsense.txt", ["x"], received=Q2_RECEIVED)
    ingest(home, "2024-01-01", "2024-04-01")

    def snapshot():
        import duckdb

        con = duckdb.connect(str(home.warehouse), read_only=True)
        names = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        data = {t: sorted(map(str, con.execute(f'SELECT * FROM "{t}"').fetchall())) for t in names}
        con.close()
        files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(home.root.rglob("*"))
                 if p.is_file() and p.suffix != ".duckdb" and ".wal" not in p.name}
        return data, files

    before = snapshot()
    ingest(home, "2024-01-01", "2024-04-01")
    assert snapshot() == before


def test_every_file_reads_as_accepted_plus_rejected(home):
    events_q1(home, "E2,2024-02-11,workshop,3,,", "E4,2024-02-12,Stammtisch,3,,")
    write_csv(home.inbox / "05766_2024-Q1_attendance.csv", ["event_id,person_key,role", "E1,KL-0001,staff", "E9,KL-0002,staff"],
              received=Q1_RECEIVED)
    ingest(home, "2024-01-01")
    rows = query(home, "SELECT file_name, rows_read, accepted, rejected FROM delivery_log ORDER BY 1")
    assert rows == [("05766_2024-Q1_attendance.csv", 2, 1, 1), ("05766_2024-Q1_events.csv", 4, 1, 3)]
    assert all(read == ok + rej for _, read, ok, rej in rows)


def _to_process(home, instance):
    from assets.changes import due_quarters

    return set(due_quarters(instance, TeilhabeHome(home=str(home.root))))


def test_a_run_processes_only_quarters_with_new_or_changed_files(home, catalogue, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()  # what Dagster recorded of the runs decides
    events_q1(home)
    write_csv(home.inbox / "05766_2024-Q2_events.csv", [HEADER, "E7,2024-05-10,training,12,5,4"], received=Q2_RECEIVED)
    assert _to_process(home, instance) == {"2024-Q1", "2024-Q2"}
    ingest(home, "2024-01-01", "2024-04-01", instance=instance)
    assert _to_process(home, instance) == set()
    # Opened and saved again unchanged (new modification time): the same bytes, nothing to do.
    events_q1(home, received=Q1_RECEIVED + dt.timedelta(days=1))
    assert _to_process(home, instance) == set()
    # The Q2 file is re-delivered with a correction; a new file arrives for Q3.
    write_csv(home.inbox / "05766_2024-Q2_events.csv", [HEADER, "E7,2024-05-10,training,13,5,4"],
              received=Q2_RECEIVED + dt.timedelta(days=2))
    write_csv(home.inbox / "05766_2024-Q3_advice.csv", ["case_id,date,client_type,client_key",
                                                        "C1,2024-07-02,newcomer,K-1001"], received=Q2_RECEIVED)
    assert _to_process(home, instance) == {"2024-Q2", "2024-Q3"}
    ingest(home, "2024-04-01", "2024-07-01", instance=instance)
    assert _to_process(home, instance) == set()
    # The only file of Q3 is taken out of the inbox: Q3 is due, and its run withdraws the file.
    (home.inbox / "05766_2024-Q3_advice.csv").unlink()
    assert _to_process(home, instance) == {"2024-Q3"}
    ingest(home, "2024-07-01", instance=instance)
    assert _to_process(home, instance) == set()
    assert query(home, "SELECT count(*) FROM stg_advice") == [(0,)]
    # The programme period changes in the catalogue: every quarter with files is judged again.
    later = tuple(dataclasses.replace(p, end=p.end + dt.timedelta(days=365)) for p in catalogue.programmes)
    changed = dataclasses.replace(catalogue, programmes=later)
    monkeypatch.setattr(TeilhabeHome, "catalogue", lambda self: changed)
    assert _to_process(home, instance) == {"2024-Q1", "2024-Q2"}
