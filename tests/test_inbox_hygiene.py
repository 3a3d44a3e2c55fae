"""The inbox is a folder of regular files and no file stops a run.

Names that are not UTF-8 or hold control characters, names equal up to case, symbolic links
(looping, dangling, to a system file), a FIFO, sub-folders and dot-files, a file that cannot be
read, a file removed from the inbox: each ends as a line in the delivery log with its reason,
never as a failed run. District 05766 (Kreis Lippe), partition 2024-01-01 = 2024-Q1.
"""
import datetime as dt
import json
import os
import zipfile

import pytest

from pipeline.catalogue import load_catalogue
from pipeline.contract import load_contract
from pipeline.intake import inbox, receive
from tests.conftest import ingest, query, write_csv

HEADER = "event_id,date,event_type,participants_total"
RECEIVED = dt.datetime(2024, 4, 10, 9)
EVENTS = "05766_2024-Q1_events.csv"


def events(home, *rows, name=EVENTS, received=RECEIVED):
    return write_csv(home.inbox / name, [HEADER, *(rows or ["E1,2024-01-10,training,12"])], received=received)


def receipts(home):
    return query(home, "SELECT file_name, status, archive_path IS NOT NULL FROM receipts ORDER BY file_name")


def reasons(home):
    return dict(query(home, """SELECT r.file_name, fr.reason_code || ': ' || fr.reason_en
                               FROM file_rejections fr JOIN receipts r USING (receipt_id)"""))


def test_a_name_that_is_not_utf8_is_set_aside_under_a_readable_name(home):
    events(home)
    with open(os.path.join(os.fsencode(home.inbox), b"\xe4rger.csv"), "wb") as handle:  # Latin-1 "ärger.csv"
        handle.write(HEADER.encode() + b"\n")
    ingest(home, "2024-01-01")  # was: UnicodeEncodeError, no file processed
    assert receipts(home) == [(EVENTS, "loaded", True), ("\\xe4rger.csv", "set_aside", True)]
    assert reasons(home)["\\xe4rger.csv"].startswith("bad_filename") and "not valid UTF-8" in reasons(home)["\\xe4rger.csv"]
    assert query(home, "SELECT event_id FROM stg_events") == [("E1",)]
    log = (home.exports / "delivery_log.csv").read_text(encoding="utf-8-sig")
    assert "\\xe4rger.csv" in log
    with zipfile.ZipFile(next(home.archive.glob("*.zip"))) as archive:  # kept, as every set-aside file
        assert any(name.endswith("/\\xe4rger.csv") for name in archive.namelist())
    assert "\\xe4rger.csv" in (home.reports / "nicht_zugeordnet.html").read_text(encoding="utf-8")


def test_names_equal_up_to_case_are_one_slot_and_the_later_file_stands(home):
    events(home)
    events(home, name="05766_2024-Q1_EVENTS.csv", received=RECEIVED + dt.timedelta(hours=1))
    ingest(home, "2024-01-01")  # was: ConstraintException, duplicate key on the receipt
    # The other spelling is listed (nothing is dropped silently), not read.
    assert receipts(home) == [("05766_2024-Q1_EVENTS.csv", "loaded", True), (EVENTS, "set_aside", False)]
    assert reasons(home) == {EVENTS: "bad_filename: file name does not follow <AGS>_<YYYY>-Q<n>_<feed>.csv or "
                                     "<AGS>_<YYYY>-Q<n>.xlsx: the same name as 05766_2024-Q1_EVENTS.csv up to case "
                                     "– 05766_2024-Q1_EVENTS.csv stands"}
    # A later file under the other spelling, with other bytes, replaces it.
    events(home, "E1,2024-01-10,training,15", received=RECEIVED + dt.timedelta(hours=2))
    ingest(home, "2024-01-01")
    assert query(home, "SELECT event_id, participants_total FROM cur_events") == [("E1", 15)]
    assert query(home, "SELECT file_name FROM current_sheets") == [(EVENTS,)]
    assert query(home, "SELECT file_name, status FROM delivery_log WHERE archive_path IS NULL ORDER BY 1") == [
        ("05766_2024-Q1_EVENTS.csv", "set_aside"), (EVENTS, "set_aside")]


def test_check_takes_names_equal_up_to_case_with_the_same_bytes_as_one_file(tmp_path):
    from pipeline.intake.check import check_files

    lower = write_csv(tmp_path / EVENTS, [HEADER, "E1,2024-01-10,training,12"])
    upper = tmp_path / "upper" / "05766_2024-Q1_EVENTS.csv"
    upper.parent.mkdir()
    upper.write_bytes(lower.read_bytes())  # was: ConstraintException, duplicate key on the receipt
    found = check_files([lower, upper], load_contract(), load_catalogue())
    assert [(r.rows_read, r.accepted) for r in found] == [(1, 1), (1, 1)]


def test_links_pipes_folders_and_dot_files_are_listed_never_opened(home):
    events(home)
    os.symlink("loop", home.inbox / "loop")                                  # ELOOP while scanning
    os.symlink("/etc/passwd", home.inbox / "05766_2024-Q1_advice.csv")       # was read and archived
    os.symlink(home.root / "nowhere.csv", home.inbox / "dangling.csv")
    os.mkfifo(home.inbox / "05766_2024-Q1_newsletters.csv")                  # opening it would block
    (home.inbox / "unterordner").mkdir()
    (home.inbox / ".~lock.05766_2024-Q1_events.csv#").write_text("lock")
    events(home, "E9,2024-01-10,training,99", name=EVENTS + "\n")           # matched the pattern before
    ingest(home, "2024-01-01")
    assert receipts(home) == [
        (".~lock.05766_2024-Q1_events.csv#", "set_aside", False), ("05766_2024-Q1_advice.csv", "set_aside", False),
        (EVENTS, "loaded", True), ("05766_2024-Q1_events.csv\\n", "set_aside", True),
        ("05766_2024-Q1_newsletters.csv", "set_aside", False), ("dangling.csv", "set_aside", False),
        ("loop", "set_aside", False), ("unterordner", "set_aside", False)]
    found = reasons(home)
    assert found["loop"] == found["dangling.csv"] == found["05766_2024-Q1_advice.csv"] == \
        "unreadable: file is not readable: symbolic link – not followed"
    assert found["05766_2024-Q1_newsletters.csv"].endswith("pipe (FIFO) – not a file")
    assert found["unterordner"].endswith("folder – sub-folders are not read")
    assert found[".~lock.05766_2024-Q1_events.csv#"].startswith("bad_filename") and "hidden file" in \
        found[".~lock.05766_2024-Q1_events.csv#"]
    assert "control characters" in found["05766_2024-Q1_events.csv\\n"]
    assert query(home, "SELECT event_id FROM stg_events") == [("E1",)]  # the right file stands
    assert query(home, "SELECT DISTINCT sha256 FROM receipts WHERE archive_path IS NULL") == [(inbox.NOTHING,)]
    passwd = open("/etc/passwd", "rb").read()
    for path in home.archive.glob("*.zip"):
        with zipfile.ZipFile(path) as archive:
            assert not any(passwd in archive.read(member) for member in archive.namelist())
    page = (home.reports / "nicht_zugeordnet.html").read_text(encoding="utf-8")
    for name in ("loop", "dangling.csv", "05766_2024-Q1_advice.csv", "05766_2024-Q1_newsletters.csv", "unterordner",
                 ".~lock.05766_2024-Q1_events.csv#", "05766_2024-Q1_events.csv\\n"):
        assert name in page
    assert "symbolic link – not followed" in page and "pipe (FIFO)" in page
    # A second run over the same inbox receives nothing again.
    before = query(home, "SELECT receipt_id, status FROM receipts ORDER BY 1")
    ingest(home, "2024-01-01")
    assert query(home, "SELECT receipt_id, status FROM receipts ORDER BY 1") == before


def test_the_sensor_digests_never_follow_a_link(home):
    os.symlink("loop", home.inbox / "loop")
    os.mkfifo(home.inbox / "pipe.csv")
    events(home)
    contract, catalogue = load_contract(), load_catalogue()
    items = inbox.scan_inbox(home.inbox, contract, catalogue, ("2017-Q1", "2026-Q4"))
    assert {i.name: i.special for i in items} == {EVENTS: None, "loop": "symlink", "pipe.csv": "fifo"}
    stats = inbox.quarter_stats(items, "2026-Q4")
    inbox.hash_files(items)  # never opens the FIFO (it would block) nor follows the loop (ELOOP)
    digests = inbox.quarter_digests(items, "2026-Q4")
    assert set(stats) == set(digests) == {"2024-Q1", "2026-Q4"}


def test_an_error_reading_one_file_sets_that_file_aside(home, monkeypatch):
    events(home)
    write_csv(home.inbox / "05766_2024-Q1_advice.csv", ["case_id,date,client_type,client_key", "B1,2024-01-11,person,KL-0001"])
    real = receive.read_file

    def failing(name, data, *args, **kwargs):
        if "advice" in name:
            raise ValueError("a parser bug quoting the file: KL-0001")
        return real(name, data, *args, **kwargs)

    monkeypatch.setattr(receive, "read_file", failing)
    monkeypatch.setattr(receive, "csv_text", lambda *args: None)  # every file the single way
    ingest(home, "2024-01-01")
    found = reasons(home)
    assert found == {"05766_2024-Q1_advice.csv": "unreadable: file is not readable: the file could not be read (ValueError)"}
    assert "KL-0001" not in json.dumps(found)
    assert query(home, "SELECT event_id FROM stg_events") == [("E1",)]


def test_a_file_that_cannot_be_opened_is_set_aside(home, monkeypatch):
    events(home)
    write_csv(home.inbox / "05766_2024-Q1_advice.csv", ["case_id,date,client_type,client_key"], received=RECEIVED)
    real = receive.fingerprint

    def refused(item, **kwargs):  # as root, chmod 000 would not stop the read
        if "advice" in item.name:
            raise PermissionError(13, "Permission denied", item.location)
        return real(item, **kwargs)

    monkeypatch.setattr(receive, "fingerprint", refused)
    ingest(home, "2024-01-01")
    assert reasons(home) == {"05766_2024-Q1_advice.csv": "unreadable: file is not readable: no access to the file "
                                                         "(permission denied)"}
    assert receipts(home) == [("05766_2024-Q1_advice.csv", "set_aside", False), (EVENTS, "loaded", True)]
    assert query(home, "SELECT received_at FROM receipts WHERE file_name = '05766_2024-Q1_advice.csv'") == [(RECEIVED,)]


def test_a_file_over_the_size_limit_is_never_read_whole(home):
    """Hashed block by block and set aside as too_large, not archived: a video dropped in the inbox
    by mistake costs no memory (it was read whole before the limit was checked)."""
    import dataclasses
    import hashlib

    import duckdb
    from pipeline import warehouse

    contract = dataclasses.replace(load_contract(), size_limit_bytes=3 * inbox.BLOCK)
    big = home.inbox / "05766_2024-Q1_advice.csv"
    big.write_bytes(b"case_id,date,client_type,client_key\n" + b"x" * (5 * inbox.BLOCK))
    events(home)
    items = inbox.scan_inbox(home.inbox, contract, load_catalogue(), ("2017-Q1", "2026-Q4"))
    assert inbox.fingerprint(next(i for i in items if i.name == big.name), keep=contract.size_limit_bytes) is None
    con = duckdb.connect()
    warehouse.ensure_schema(con)
    receive.receive(con, home, contract, items, ["2024-Q1"])
    assert con.execute("""SELECT r.sha256, r.size_bytes, r.archive_path, fr.reason_code, fr.value FROM receipts r
                          JOIN file_rejections fr USING (receipt_id)""").fetchall() == [
        (hashlib.sha256(big.read_bytes()).hexdigest(), big.stat().st_size, None, "too_large", "5.0 MB")]
    assert con.execute("SELECT count(*) FROM raw_events").fetchall() == [(1,)]


def test_a_file_gone_between_scan_and_read_is_left_out(home):
    events(home)
    write_csv(home.inbox / "05766_2024-Q1_advice.csv", ["case_id,date,client_type,client_key"])
    contract, catalogue = load_contract(), load_catalogue()
    items = inbox.scan_inbox(home.inbox, contract, catalogue, ("2017-Q1", "2026-Q4"))
    (home.inbox / "05766_2024-Q1_advice.csv").unlink()
    import duckdb
    from pipeline import warehouse

    con = duckdb.connect()
    warehouse.ensure_schema(con)
    summary = receive.receive(con, None, contract, items, ["2024-Q1"])
    assert summary.new_receipts == [EVENTS]
    inbox.hash_files(items)
    assert [i.name for i in items if i.gone] == ["05766_2024-Q1_advice.csv"]
    assert inbox.quarter_digests(items, "2026-Q4") == inbox.quarter_digests([i for i in items if not i.gone], "2026-Q4")


def test_a_removed_file_stops_counting_and_the_log_says_so(home):
    events(home, "E1,2024-01-10,training,12", "E2,2024-02-10,training,8")
    write_csv(home.inbox / "05766_2024-Q1_advice.csv", ["case_id,date,client_type,client_key",
                                                        "B1,2024-01-11,person,KL-0001"], received=RECEIVED)
    write_csv(home.inbox / "Lieferung final.csv", [HEADER], received=RECEIVED)
    ingest(home, "2024-01-01")
    assert query(home, "SELECT count(*) FROM stg_events") == [(2,)]
    (home.inbox / EVENTS).unlink()
    (home.inbox / "Lieferung final.csv").unlink()
    ingest(home, "2024-01-01")
    assert query(home, "SELECT file_name, status FROM delivery_log ORDER BY file_name") == [
        ("05766_2024-Q1_advice.csv", "loaded"), (EVENTS, "withdrawn"), ("Lieferung final.csv", "withdrawn")]
    assert query(home, "SELECT count(*) FROM stg_events") == [(0,)]
    assert query(home, "SELECT count(*) FROM stg_advice") == [(1,)]
    assert query(home, "SELECT count(*) FROM rejections WHERE file = 'Lieferung final.csv'") == [(0,)]
    page = (home.reports / "2024-Q1" / "05766_2024-Q1.html").read_text(encoding="utf-8")
    assert "withdrawn from the inbox" in page
    # Put back, the same file counts again as it was received.
    events(home, "E1,2024-01-10,training,12", "E2,2024-02-10,training,8")
    ingest(home, "2024-01-01")
    assert query(home, "SELECT status FROM receipts WHERE file_name = ?".replace("?", f"'{EVENTS}'")) == [("loaded",)]
    assert query(home, "SELECT count(*) FROM stg_events") == [(2,)]


@pytest.mark.parametrize("name, code", [("05766_2024-Q1_events.csv\n", "bad_filename"),
                                        ("05766_2024-Q1_events.csv\u2028", "bad_filename"),
                                        ("05766\x1b_2024-Q1_events.csv", "bad_filename")])
def test_names_are_matched_exactly(name, code):
    found = inbox.assign(name, load_contract(), load_catalogue(), ("2017-Q1", "2026-Q4"))
    assert found.reason_code == code and found.value.isprintable()
