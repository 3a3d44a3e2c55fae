"""No identifier is stored: names, e-mails and phone numbers planted wherever a district could put
them, then every byte under the home searched for them after a full `teilhabe run`.

- Person keys that look like an e-mail, a name or a phone number are rejected (bad_pseudonym) and
  stored nowhere: not in the warehouse file, not in the archive (their file is not archived), not
  in reports, exports, the site or Dagster's storage.
- A forbidden column (`E-Mail`) in a CSV, and a `Telefon` column on one sheet of a workbook: the
  file is set aside and kept nowhere.
- Titles and ids are free text the contract accepts: the warehouse, the reports and the site may
  hold them, Dagster's event log (previews, logs) must not.
"""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb

from tests.conftest import write_csv, write_xlsx

TEILHABE = str(Path(sys.executable).with_name("teilhabe"))

# Rejected person keys: stored nowhere under the home.
KEYS = ["erika.mustermann@example.org", "Erika_Mustermann", "01769988776", "hans.wurstmann@beispiel.de",
        "Hans_Wurstmann", "4917012398765"]
# Values of forbidden columns: stored nowhere (their files are set aside and not archived).
FORBIDDEN = ["kunigunde.zwiebelfisch@example.org", "Kunigunde Zwiebelfisch", "030 55511122", "Ottokar Quarkbein",
             "0151 44433322"]
# Free text and person keys of accepted rows: never in Dagster's storage.
FREE_TEXT = ["Gustav Gans", "gustav.gans@example.org", "0171 5556667", "Dagobert_Duck", "Tante Frieda Fuchs",
             "PSN-7731-XQ"]

EVENTS = ["event_id", "date", "event_type", "title", "municipality", "participants_total"]


def _plant(inbox: Path) -> None:
    write_csv(inbox / "05766_2024-Q1_events.csv", [
        EVENTS,
        ["E1", "2024-01-10", "training", "Sprechstunde", "", "12"],
        'E2,2024-01-11,training,"Treffen mit Gustav Gans (Tel. 0171 5556667, gustav.gans@example.org)",,8',
        ["Dagobert_Duck", "2024-01-12", "workshop", "Nähcafé", "Tante Frieda Fuchs", "5"]])
    write_csv(inbox / "05766_2024-Q1_attendance.csv", [
        "event_id,person_key,role",
        "E1,KL-0001,volunteer",
        "E1,erika.mustermann@example.org,staff",
        "E1,Erika_Mustermann,staff",
        "E1,01769988776,staff",
        "E2,PSN-7731-XQ,volunteer"])
    write_csv(inbox / "05766_2024-Q1_advice.csv", [
        "case_id,date,client_type,client_key,topic",
        "B1,2024-01-15,person,KL-0003,Wohnung",
        "B2,2024-01-16,person,hans.wurstmann@beispiel.de,Arbeit",
        "B3,2024-01-17,person,Hans_Wurstmann,Arbeit",
        "B4,2024-01-18,person,4917012398765,Sprache"])
    # A forbidden column: the whole file is set aside and not kept.
    write_csv(inbox / "05766_2024-Q2_events.csv", [
        "event_id,date,event_type,participants_total,Ansprechpartner,E-Mail",
        "E7,2024-04-10,training,4,Kunigunde Zwiebelfisch,kunigunde.zwiebelfisch@example.org",
        "E8,2024-04-11,training,3,,030 55511122"])
    # A forbidden column on one sheet of a workbook.
    write_xlsx(inbox / "05766_2023-Q4.xlsx", {
        "Veranstaltungen": [["Veranstaltung ID", "Datum", "Art", "Teilnehmende gesamt"], ["E5", "2023-11-10", "Schulung", 6]],
        "Beratungen": [["Beratung-ID", "Datum", "Beratene Art", "Beratene ID", "Telefon", "Name"],
                       ["C5", "2023-11-11", "Einzelperson", "KL-0005", "0151 44433322", "Ottokar Quarkbein"]]})


def _files(root: Path):
    """(where, bytes) of every regular file under root but the inbox (what the districts sent),
    and of every member of every ZIP."""
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.relative_to(root).parts[0] == "inbox":
            continue
        data = path.read_bytes()
        yield str(path.relative_to(root)), data
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{path.relative_to(root)}/{member}", archive.read(member)


def _spellings(text: str) -> list[bytes]:
    return [text.encode("utf-8"), text.encode("utf-16-le"), text.lower().encode("utf-8")]


def _found_in_bytes(root: Path, plants: list[str]) -> list[tuple[str, str]]:
    found = []
    for where, data in _files(root):
        lowered = data.lower()
        for plant in plants:
            if any(s in data or s in lowered for s in _spellings(plant)):
                found.append((where, plant))
    return found


def _found_in_tables(database: Path, plants: list[str]) -> list[tuple[str, str]]:
    """Searched as values too: DuckDB compresses strings, so a byte search alone could miss one."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        found = []
        for table in tables:
            for plant in plants:
                hits = con.execute(f'SELECT count(*) FROM "{table}" t WHERE lower(CAST(t AS VARCHAR)) LIKE ?',
                                   [f"%{plant.lower()}%"]).fetchall()[0][0]
                if hits:
                    found.append((table, plant))
        return found
    finally:
        con.close()


def _found_in_parquet(root: Path, plants: list[str]) -> list[tuple[str, str]]:
    found = []
    for path in root.rglob("*.parquet"):
        for plant in plants:
            hits = duckdb.execute("SELECT count(*) FROM read_parquet(?) t WHERE lower(CAST(t AS VARCHAR)) LIKE ?",
                                  [str(path), f"%{plant.lower()}%"]).fetchall()[0][0]
            if hits:
                found.append((str(path.relative_to(root)), plant))
    return found


def test_no_planted_identifier_is_stored_anywhere_under_the_home(tmp_path):
    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    _plant(home / "inbox")
    env = {**os.environ, "TEILHABE_HOME": str(home), "TEILHABE_AS_OF": "2024-05-15"}
    done = subprocess.run([TEILHABE, "run", "--home", str(home)], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (home / "warehouse.duckdb.wal").exists()
    for plant in KEYS + FORBIDDEN:  # nor on the console (a scheduler's log)
        assert plant not in done.stdout + done.stderr, plant

    # The pipeline did judge them: every planted key is a bad_pseudonym, the two files are set aside.
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM row_rejections WHERE reason_code = 'bad_pseudonym'").fetchall() == [(6,)]
        assert sorted(con.execute("SELECT file_name, status, archive_path IS NULL FROM receipts "
                                  "WHERE file_name IN ('05766_2024-Q2_events.csv', '05766_2023-Q4.xlsx')").fetchall()) \
            == [("05766_2023-Q4.xlsx", "set_aside", True), ("05766_2024-Q2_events.csv", "set_aside", True)]
        assert con.execute("SELECT count(*) FROM stg_attendance").fetchall() == [(2,)]
        assert con.execute("SELECT count(*) FROM stg_advice").fetchall() == [(1,)]
        # Accepted free text is the warehouse's to keep (the test of Dagster's storage below means something).
        assert con.execute("SELECT count(*) FROM stg_events WHERE title LIKE '%Gustav Gans%'").fetchall() == [(1,)]
        archived = con.execute("SELECT file_name FROM receipts WHERE archive_path IS NOT NULL ORDER BY 1").fetchall()
    finally:
        con.close()
    # The files with rejected keys are not archived; the clean events file is.
    assert archived == [("05766_2024-Q1_events.csv",)]

    secret = KEYS + FORBIDDEN
    assert _found_in_bytes(home, secret) == []
    assert _found_in_tables(home / "warehouse.duckdb", secret) == []
    assert _found_in_parquet(home, secret) == []
    dagster = home / "dagster"
    assert dagster.is_dir() and any(dagster.rglob("*.db"))
    assert _found_in_bytes(dagster, FREE_TEXT) == []


def test_previews_show_typed_columns_and_clean_ids_only():
    import pandas as pd

    from assets.ingest import CONTRACT, preview_rows
    from pipeline import warehouse

    def staged(feed, *values):
        columns = ["receipt_id", "district_ags", "delivery_quarter", "source_row", "quarter", "is_late",
                   *(name for name, _ in warehouse.stg_columns(feed))]
        return pd.DataFrame([["r", "05766", "2024-Q1", 2, "2024-Q1", False, *row] for row in values], columns=columns)

    attendance = CONTRACT.feeds["attendance"]
    shown = preview_rows(attendance, staged(attendance, ["E-0001", "PSN-7731-XQ", "staff"]))
    assert list(shown.columns) == ["district_ags", "delivery_quarter", "quarter", "is_late", "event_id", "role"]
    events = CONTRACT.feeds["events"]
    frame = staged(events, ["Dagobert_Duck", "2024-01-12", "workshop", "Gustav Gans", "Tante Frieda Fuchs", "culture",
                            True, 5, 1, 1, 2],
                   ["VA-2024-007", "2024-01-13", "training", "Sprechstunde", "Lemgo", None, None, 4, None, None, None])
    shown = preview_rows(events, frame)
    assert "title" not in shown and "municipality" not in shown
    assert shown["event_id"].tolist() == ["*** (verborgen / hidden)", "VA-2024-007"]
    assert shown["participants_total"].tolist() == [5, 4]
