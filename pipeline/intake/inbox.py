"""The inbox as files: what each one is (by its name), its bytes and SHA-256, and the archive.

A receipt is one received version of one file (name + SHA-256). Every received file is archived
byte for byte (except one with a forbidden column: nothing of it is kept but its name, hash and
reason).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.contract import Contract
from pipeline.home import Home
from pipeline.intake.reader import FileName, Problem, parse_file_name


@dataclass
class Delivered:
    """One inbox file as seen now."""
    folder: str
    name: str
    parsed: FileName | Problem
    sha256: str = ""
    received_at: dt.datetime | None = None
    size: int = 0

    @property
    def path(self) -> Path:
        return Path(self.folder, self.name)

    @property
    def location(self) -> str:  # what open and stat need; no Path object per file (48,800 per scan)
        return os.path.join(self.folder, self.name)

    @property
    def receipt_id(self) -> str:
        return hashlib.sha256(f"{self.name.lower()}|{self.sha256}".encode()).hexdigest()[:20]


def scan_inbox(inbox: Path, contract: Contract, catalogue: Catalogue, quarters: tuple[str, str]) -> list[Delivered]:
    """Every visible file in the inbox with its parsed name (or the reason it cannot be assigned)."""
    folder = str(inbox)
    with os.scandir(inbox) as entries:
        names = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_file())
    return [Delivered(folder=folder, name=name, parsed=assign(name, contract, catalogue, quarters)) for name in names]


def assign(name: str, contract: Contract, catalogue: Catalogue, quarters: tuple[str, str]) -> FileName | Problem:
    """The delivery a file name assigns the file to (district, quarter, feed), or why it cannot be:
    the same answer for the pipeline and `teilhabe check`."""
    parsed = parse_file_name(name, contract)
    if isinstance(parsed, FileName):
        if parsed.ags not in catalogue.districts.index:
            return Problem("unknown_district", value=parsed.ags)
        if not (quarters[0] <= parsed.quarter <= quarters[1]):
            return Problem("bad_filename", value=parsed.quarter,
                           detail_de=f"Quartal außerhalb des Berichtszeitraums {quarters[0]} … {quarters[1]}",
                           detail_en=f"quarter outside the reporting range {quarters[0]} … {quarters[1]}")
    return parsed


def fingerprint(item: Delivered) -> bytes:
    with open(item.location, "rb") as handle:
        data = handle.read()
        stat = os.fstat(handle.fileno())
    item.sha256 = hashlib.sha256(data).hexdigest()
    item.size = stat.st_size
    item.received_at = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None, microsecond=0)
    return data


class Archive:
    """Every received file byte for byte, as the stored (uncompressed) member `<sha256>/<name>`
    of one ZIP per received chunk, `archive/<batch>.zip`; its `archive_path` is
    `archive/<batch>.zip/<sha256>/<name>` (`read_archived` reads it back). One file per chunk
    rather than per received file: creating 48,800 files and folders was about 20 s of kernel
    time in a national backfill, one ZIP per 48 MB chunk is a fraction of a second. Without a
    home (`teilhabe check`) nothing is archived."""

    def __init__(self, home: Home | None, items: list[Delivered]):
        self.home, self.pending = home, []
        # Named after what it holds, so a chunk received again after a stopped run replaces its own ZIP.
        batch = hashlib.sha256("|".join(sorted(i.receipt_id for i in items)).encode()).hexdigest()[:20]
        self.relative = f"{home.archive.name}/{batch}.zip" if home else None

    def __call__(self, item: Delivered, data: bytes) -> str | None:
        if self.home is None:
            return None
        member = f"{item.sha256}/{item.name}"
        self.pending.append((member, item.received_at, data))
        return f"{self.relative}/{member}"

    def flush(self) -> None:
        if not self.pending:
            return
        target = self.home.root / self.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            for member, received_at, data in self.pending:
                stamp = max(received_at, ZIP_EPOCH) if received_at else ZIP_EPOCH
                archive.writestr(zipfile.ZipInfo(member, date_time=stamp.timetuple()[:6]), data)
        os.replace(partial, target)
        self.pending = []


# The earliest time a ZIP member can carry.
ZIP_EPOCH = dt.datetime(1980, 1, 1)


def read_archived(root: Path, archive_path: str) -> bytes:
    """The bytes of a received file from its `archive_path` (see `Archive`; a home started
    before the ZIPs keeps its earlier receipts as plain files, archive/<..>/<sha256>/<name>)."""
    if ".zip/" not in archive_path:
        return (root / archive_path).read_bytes()
    archive, member = archive_path.split(".zip/", 1)
    with zipfile.ZipFile(root / f"{archive}.zip") as opened:
        return opened.read(member)


def hash_files(items: list[Delivered]) -> None:
    """Set each item's SHA-256, size and received time (a file gone meanwhile gets none)."""
    for item in items:
        if not item.sha256:
            try:
                fingerprint(item)
            except OSError:
                item.sha256 = ""


def quarter_digests(items: list[Delivered], latest: str) -> dict[str, str]:
    """Per quarter: a digest of its files by (lower-case name, SHA-256), i.e. what its deliveries
    are. A file that cannot be assigned to a quarter counts in the `latest` one (the running
    quarter), whose run records it as set aside. Items must be hashed (`hash_files`)."""
    return _per_quarter(items, latest, lambda item: (item.name.lower(), item.sha256))


def quarter_stats(items: list[Delivered], latest: str) -> dict[str, str]:
    """Per quarter: a digest of its files' names, sizes and modification times, without reading
    them (as make and rsync tell a changed file): which quarters may have changed."""
    def stat(item: Delivered):
        try:
            found = os.stat(item.location)
        except OSError:
            return (item.name, -1, -1)
        return (item.name, found.st_size, found.st_mtime_ns)
    return _per_quarter(items, latest, stat)


def _per_quarter(items: list[Delivered], latest: str, key) -> dict[str, str]:
    files: dict[str, list] = {}
    for item in items:
        quarter = item.parsed.quarter if isinstance(item.parsed, FileName) else latest
        files.setdefault(quarter, []).append(key(item))
    return {q: hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()[:24] for q, entries in files.items()}
