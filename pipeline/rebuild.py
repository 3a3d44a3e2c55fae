"""Rebuilding a corrupted warehouse from the archive (`teilhabe rebuild`).

The archive holds every received version of every file byte for byte (`archive/<batch>.zip`,
members `<sha256>/<name>`, each member dated with the file's received time), so the warehouse
can be made again from it by the one intake path:

1. The broken `warehouse.duckdb` is moved aside (`warehouse.duckdb.broken-<UTC time>`, its WAL
   beside it), never deleted.
2. Every archived version is received again, oldest first, by `receive.receive` — the function
   the `raw_<feed>` asset calls — from a scratch folder in the home. A folder holds one version
   of a name, so versions go in *generations*: the first received version of every name, then
   the second, and so on; each restored file carries its received time as its modification time,
   which is what the intake records as `received_at`. A name's version that is in the inbox now
   takes the inbox file's own time where that is when it was received (`received_time`: exact
   to the second, and right when a district re-sent an older version). Receipt ids are sha256(lower(name)|sha256), so
   they come out as before; each receipt's `archive_path` is set back to where its bytes already
   are (the scratch folder's archive is discarded, the archive does not grow).
3. The evaluators' decisions are put back from the archive's journal (`archive/decisions.jsonl`,
   pipeline/decisions.py): confirmed outliers enter the follow-up list as confirmed, with who,
   when and why, and the run keeps them so while their values are delivered as they were; every
   approval log entry comes back with the figures it published and its catalogue version
   (pipeline/approval/journal.py), so the published state and `publish --as-of` are as before.
4. A normal run over every quarter that has a receipt or an inbox file, not only the due ones
   (Dagster's record says they were ingested already): it stages every delivery and recomputes
   everything downstream; a file in the inbox that was never received is received as in any run.

Limits: a ZIP member's date has a two-second resolution, so a version that is no longer in the
inbox may come back received up to one second earlier than it was; a file set aside for a
forbidden column is never archived (by design), so it comes back only if it is still in the inbox.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd

from pipeline import approval, decisions, warehouse
from pipeline.catalogue import Catalogue
from pipeline.contract import Contract
from pipeline.home import Home
from pipeline.intake import inbox, receive
from pipeline.quality.outliers import restore_confirmations
from pipeline.quarters import reporting_range

SHA256 = re.compile(r"[0-9a-f]{64}")
ZIP_RESOLUTION_NS = 2 * 10**9  # a ZIP member's time is kept to two seconds (MS-DOS date and time)


@dataclasses.dataclass(frozen=True)
class Version:
    """One received version of a file as the archive holds it."""
    name: str
    sha256: str
    received_ns: int  # received time (UTC) as a modification time in nanoseconds
    archive_path: str  # relative to the home, as receipts.archive_path writes it
    written_ns: int = 0  # when its archive file was written: breaks ties of equal received times


def archived_versions(home: Home) -> list[Version]:
    """Every version in the home's archive: the ZIP members, and the plain files
    `archive/<..>/<sha256>/<name>` of a home started before the ZIPs (dated by their mtime). A
    version found twice (a batch written again after a stopped run) counts once, the latest written."""
    found: dict[tuple[str, str], Version] = {}
    if not home.archive.is_dir():
        return []
    for path in sorted(home.archive.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(home.root).as_posix()
        written = path.stat().st_mtime_ns
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as opened:
                for info in opened.infolist():
                    sha, _, name = info.filename.partition("/")
                    if info.is_dir() or not SHA256.fullmatch(sha) or not name:
                        continue
                    when = dt.datetime(*info.date_time, tzinfo=dt.UTC).timestamp()
                    _keep(found, Version(name, sha, int(when) * 10**9, f"{relative}/{info.filename}", written))
        elif SHA256.fullmatch(path.parent.name):
            _keep(found, Version(path.name, path.parent.name, written, relative, written))
    return list(found.values())


def _keep(found: dict, version: Version) -> None:
    key = (version.name.lower(), version.sha256)
    if key not in found or found[key].written_ns < version.written_ns:
        found[key] = version


def generations(versions: list[Version], inbox_times: dict[tuple[str, str], int]) -> list[list[Version]]:
    """The versions in the order they were received: generation k holds the k-th version of every
    name (names equal up to case are one name, as receipts count them). `inbox_times`: (lower-case
    name, SHA-256) -> mtime in ns of the inbox file that is that version now (`received_time`)."""
    by_name: dict[str, list[Version]] = {}
    for v in versions:
        by_name.setdefault(v.name.lower(), []).append(v)
    result: list[list[Version]] = []
    for name, history in by_name.items():
        history = [dataclasses.replace(v, received_ns=received_time(v, history, inbox_times.get((name, v.sha256))))
                   for v in history]
        for k, v in enumerate(sorted(history, key=lambda v: (v.received_ns, v.written_ns))):
            if k == len(result):
                result.append([])
            result[k].append(v)
    return result


def received_time(version: Version, history: list[Version], in_inbox: int | None) -> int:
    """When `version` was received, as the intake recorded it. The archive dates it to two
    seconds; a version still in the inbox can say more. Its file's own time, if it falls within
    those two seconds (the same file, exact), or if another version of the name came in between
    (the district re-sent this older version: the intake then records the new time). Otherwise
    the file was saved again unchanged later, which is no new receipt: the archive's time stands."""
    archived = version.received_ns
    if in_inbox is None:
        return archived
    if 0 <= in_inbox - archived < ZIP_RESOLUTION_NS:
        return in_inbox
    if any(archived < other.received_ns <= in_inbox for other in history if other.sha256 != version.sha256):
        return in_inbox
    return archived


def inbox_times(home: Home) -> dict[tuple[str, str], int]:
    """(lower-case name, SHA-256) -> modification time in ns of each regular file in the inbox."""
    times = {}
    if not home.inbox.is_dir():
        return times
    for entry in os.scandir(home.inbox):
        if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
            sha = hashlib.sha256(Path(entry.path).read_bytes()).hexdigest()
            times[(entry.name.lower(), sha)] = entry.stat(follow_symlinks=False).st_mtime_ns
    return times


def move_aside(home: Home, now: dt.datetime | None = None) -> Path | None:
    """Move the warehouse (and its WAL) to `warehouse.duckdb.broken-<UTC time>`; None if there is none."""
    if not home.warehouse.exists():
        return None
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = home.warehouse.with_name(f"{home.warehouse.name}.broken-{stamp}")
    os.rename(home.warehouse, target)
    wal = home.warehouse.with_name(home.warehouse.name + ".wal")
    if wal.exists():  # DuckDB looks for <database>.wal: kept next to the file it belongs to
        os.rename(wal, target.with_name(target.name + ".wal"))
    return target


def _restore(home: Home, batch: list[Version], folder: Path) -> None:
    """Write each version's bytes into `folder` under its name, dated with its received time. Each
    ZIP is opened once (`inbox.read_archived` would open it per member)."""
    with contextlib.ExitStack() as stack:
        opened: dict[str, zipfile.ZipFile] = {}
        for v in batch:
            target = folder / v.name
            if ".zip/" in v.archive_path:
                archive, member = v.archive_path.split(".zip/", 1)
                if archive not in opened:
                    opened[archive] = stack.enter_context(zipfile.ZipFile(home.root / f"{archive}.zip"))
                target.write_bytes(opened[archive].read(member))
            else:
                target.write_bytes(inbox.read_archived(home.root, v.archive_path))
            os.utime(target, ns=(v.received_ns, v.received_ns))


def replay(home: Home, contract: Contract, catalogue: Catalogue, con) -> tuple[int, set[str]]:
    """Receive every archived version into the (new, empty) warehouse `con`, generation by
    generation, and put back the evaluators' decisions the archive's journal keeps (confirmed
    outliers). Returns the number of versions and the quarters their receipts belong to."""
    batches = generations(archived_versions(home), inbox_times(home))
    scratch = home.root / f".rebuild-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    where = {}
    try:
        for k, batch in enumerate(batches):
            folder = Home(scratch / f"generation-{k + 1}")
            folder.inbox.mkdir(parents=True)
            _restore(home, batch, folder.inbox)
            items = inbox.scan_inbox(folder.inbox, contract, catalogue, reporting_range())
            receive.receive(con, folder, contract, items)
            by_name = {v.name: v.archive_path for v in batch}
            where.update({item.receipt_id: by_name[item.name] for item in items if item.name in by_name})
            shutil.rmtree(folder.root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if where:
        paths = pd.DataFrame({"receipt_id": list(where), "archive_path": list(where.values())})
        con.register("archived_at", paths)
        con.execute("UPDATE receipts SET archive_path = a.archive_path FROM archived_at a "
                    "WHERE receipts.receipt_id = a.receipt_id AND receipts.archive_path IS NOT NULL")
        con.unregister("archived_at")
    restore_confirmations(con, decisions.entries(home, "outlier_confirmed"))
    approval.restore(con, home)
    quarters = warehouse.fetch_df(con, "SELECT DISTINCT quarter FROM receipts WHERE quarter IS NOT NULL")
    return sum(len(b) for b in batches), set(quarters["quarter"])
