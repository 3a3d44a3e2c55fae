"""The inbox as files: what each one is (by its name), its bytes and SHA-256, and the archive.

A receipt is one received version of one file (name + SHA-256). Every received file is archived
byte for byte (except one with a forbidden column or a person key that breaks the pseudonym
rules: nothing of it is kept but its name, hash and reason).

The inbox is a folder of regular files. Anything else in it (a symbolic link, a sub-folder, a
pipe, a hidden dot-file) is never opened or followed: it is listed with its reason, as is a file
whose name is not UTF-8 or holds a control character. Two names that differ only in case are
one delivery slot: the later file (by modification time) stands for it, the other is listed as
set aside and not read.
"""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.contract import Contract
from pipeline.home import Home
from pipeline.intake.reader import FileName, Problem, parse_file_name

# What an inbox entry that is not a regular file is, in the words of the delivery log:
# (reason code, German, English). None of them is opened, followed or archived.
ENTRY_KINDS = {
    "symlink": ("unreadable", "Verknüpfung (Symlink) – nicht gefolgt", "symbolic link – not followed"),
    "folder": ("unreadable", "Ordner – Unterordner werden nicht gelesen", "folder – sub-folders are not read"),
    "fifo": ("unreadable", "Pipe (FIFO) – keine Datei", "pipe (FIFO) – not a file"),
    "other": ("unreadable", "keine gewöhnliche Datei (Gerät oder Socket)", "not a regular file (device or socket)"),
    "hidden": ("bad_filename", "versteckte Datei (Name beginnt mit einem Punkt) – nicht gelesen",
               "hidden file (name starts with a dot) – not read"),
    "twin": ("bad_filename", "gleicher Name wie eine andere Datei bis auf Groß-/Kleinschreibung",
             "the same name as another file up to case"),  # scan_inbox words it with the standing file's name
}
# The SHA-256 recorded for an entry that is not read: that of no bytes.
NOTHING = hashlib.sha256(b"").hexdigest()


# Characters a name must not hold: lone surrogates (bytes that are not UTF-8, as `os.fsdecode`
# gives them), control characters (Unicode category Cc) and the Unicode line separators.
_ODD = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ud800-\\udfff]")
_CONTROL = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]")
_SURROGATE = re.compile("[\\ud800-\\udfff]")


def readable_name(entry: str) -> str:
    """A file name as text that every store and page can hold: bytes that are not UTF-8 (which
    `os.fsdecode` turns into lone surrogates) as `\\xNN`, control and line-separator characters
    as `\\n`, `\\x1b`, `\\u2028`. A well-formed name is returned as it is."""
    if not _ODD.search(entry):
        return entry
    if _SURROGATE.search(entry):
        try:
            raw = os.fsencode(entry)
        except UnicodeEncodeError:  # a surrogate that is no escaped byte
            raw = entry.encode("utf-8", "surrogatepass")
        entry = raw.decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), entry)


@dataclass
class Delivered:
    """One inbox file as seen now. `name` is its readable name (what receipts, the archive and the
    reports hold); `entry` is the name on disk where that differs (not UTF-8, control characters);
    `special` says what a non-regular entry is (a key of ENTRY_KINDS), or a `twin` (a name equal
    to another's up to case that does not stand for the slot): such an entry is never opened."""
    folder: str
    name: str
    parsed: FileName | Problem
    sha256: str = ""
    received_at: dt.datetime | None = None
    size: int = 0
    entry: str | None = None
    special: str | None = None
    gone: bool = False            # vanished from the inbox between the scan and the read

    def __post_init__(self):
        if self.entry is None and _ODD.search(self.name):  # given the name on disk (e.g. by `teilhabe check`)
            self.entry, self.name = self.name, readable_name(self.name)

    @property
    def path(self) -> Path:
        return Path(self.folder, self.entry or self.name)

    @property
    def location(self) -> str:  # what open and stat need; no Path object per file (48,800 per scan)
        return os.path.join(self.folder, self.entry or self.name)

    @property
    def receipt_id(self) -> str:
        key = f"{self.name.lower()}|{self.sha256}" + (f"|{self.special}" if self.special else "")
        if self.special == "twin":  # each spelling its own receipt: which one stands may change
            key += f"|{self.name}"
        return hashlib.sha256(key.encode()).hexdigest()[:20]


def scan_inbox(inbox: Path, contract: Contract, catalogue: Catalogue, quarters: tuple[str, str]) -> list[Delivered]:
    """Every entry of the inbox with its parsed name, or the reason it cannot be assigned; entries
    that are not regular files come with their kind (`special`) and are never opened. Of names
    equal up to case one stands for the slot (`latest_twin`); the others are `twin`s, listed as
    set aside and never read."""
    folder = str(inbox)
    found: dict[str, list[tuple[str, str | None]]] = {}
    with os.scandir(inbox) as entries:
        for e in entries:
            found.setdefault(readable_name(e.name).lower(), []).append((e.name, _entry_kind(e)))
    items = []
    for group in found.values():
        entry, special = group[0] if len(group) == 1 else latest_twin(folder, group)
        readable = readable_name(entry)
        parsed = _kind_problem(special, readable) if special else assign(entry, contract, catalogue, quarters)
        items.append(Delivered(folder=folder, name=readable, parsed=parsed, special=special,
                               entry=entry if readable != entry else None))
        for twin, _ in group if len(group) > 1 else ():
            if twin != entry:
                items.append(_twin(folder, twin, readable))
    items.sort(key=lambda item: item.name)
    return items


def _entry_kind(entry: os.DirEntry) -> str | None:
    """None for a regular file (not followed if a link), else what the entry is (ENTRY_KINDS)."""
    try:
        if entry.is_symlink():
            return "symlink"
        if entry.is_dir(follow_symlinks=False):
            return "folder"
        if not entry.is_file(follow_symlinks=False):
            mode = entry.stat(follow_symlinks=False).st_mode
            return "fifo" if stat.S_ISFIFO(mode) else "other"
    except OSError:  # gone meanwhile: the read will tell
        return None
    return "hidden" if entry.name.startswith(".") else None


def latest_twin(folder: str, group: list[tuple[str, str | None]]) -> tuple[str, str | None]:
    """Of entries whose names differ only in case: the latest modified, to the second (a receipt's
    received_at), then the greatest name; the order in which the warehouse's views pick the latest
    receipt of a name (latest_receipts: received_at DESC, file_name DESC)."""
    def when(member):
        try:
            return os.lstat(os.path.join(folder, member[0])).st_mtime_ns // 1_000_000_000, readable_name(member[0])
        except OSError:
            return -1, readable_name(member[0])
    return max(group, key=when)


def _twin(folder: str, entry: str, standing: str) -> Delivered:
    item = Delivered(folder=folder, name=entry, parsed=Problem("bad_filename"), special="twin")
    item.parsed = Problem("bad_filename", value=item.name,
                          detail_de=f"gleicher Name wie {standing} bis auf Groß-/Kleinschreibung – {standing} gilt",
                          detail_en=f"the same name as {standing} up to case – {standing} stands")
    return item


def special_problem(item: Delivered) -> Problem:
    return _kind_problem(item.special, item.name)


def _kind_problem(special: str, name: str) -> Problem:
    code, de, en = ENTRY_KINDS[special]
    return Problem(code, value=name, detail_de=de, detail_en=en)


def assign(name: str, contract: Contract, catalogue: Catalogue, quarters: tuple[str, str]) -> FileName | Problem:
    """The delivery a file name assigns the file to (district, quarter, feed), or why it cannot be:
    the same answer for the pipeline and `teilhabe check`. The name must match exactly: one that
    is not UTF-8 or holds a control character (a trailing line break too) is `bad_filename`."""
    if _ODD.search(name):
        broken = bool(_SURROGATE.search(name))
        return Problem("bad_filename", value=readable_name(name),
                       detail_de="Dateiname ist kein gültiges UTF-8" if broken else "Dateiname enthält Steuerzeichen",
                       detail_en="file name is not valid UTF-8" if broken else "file name holds control characters")
    parsed = parse_file_name(name, contract)
    if isinstance(parsed, FileName):
        if parsed.ags not in catalogue.districts.index:
            return Problem("unknown_district", value=parsed.ags)
        if not (quarters[0] <= parsed.quarter <= quarters[1]):
            return Problem("bad_filename", value=parsed.quarter,
                           detail_de=f"Quartal außerhalb des Berichtszeitraums {quarters[0]} … {quarters[1]}",
                           detail_en=f"quarter outside the reporting range {quarters[0]} … {quarters[1]}")
    return parsed


# Files are hashed in blocks of this size: one over the size limit is never held in memory.
BLOCK = 1024 * 1024


def fingerprint(item: Delivered, keep: int | None = None) -> bytes | None:
    """The file's bytes, or None for a file of more than `keep` bytes (hashed block by block, never
    held whole: a 5 GB file dropped in the inbox costs a megabyte); sets its SHA-256, size and
    received time. A link is never followed and a pipe never waited on (O_NOFOLLOW, O_NONBLOCK):
    an entry that turns out not to be a regular file becomes `special` (no bytes, the SHA-256 of
    nothing). Raises OSError if it cannot be read; FileNotFoundError (and `gone`) if it left the
    inbox."""
    if item.special:
        return _nothing(item, os.lstat(item.location))
    try:
        handle = os.open(item.location, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        item.gone = True
        raise
    except OSError as error:
        if error.errno != errno.ELOOP:  # ELOOP: a link in the final component, O_NOFOLLOW refused it
            raise
        item.special = "symlink"
        item.parsed = special_problem(item)
        return _nothing(item, os.lstat(item.location))
    try:
        found = os.fstat(handle)
        if not stat.S_ISREG(found.st_mode):
            item.special = ("folder" if stat.S_ISDIR(found.st_mode) else "fifo" if stat.S_ISFIFO(found.st_mode)
                            else "other")
            item.parsed = special_problem(item)
            return _nothing(item, found)
        digest, blocks, size = hashlib.sha256(), [], 0
        with open(handle, "rb", closefd=False) as opened:
            if keep is None or 0 < found.st_size <= keep:  # the usual file: one read
                blocks.append(opened.read())
                digest.update(blocks[0])
                size = len(blocks[0])
            else:
                while block := opened.read(BLOCK):
                    digest.update(block)
                    size += len(block)
                    if size <= keep:
                        blocks.append(block)
    finally:
        os.close(handle)
    item.sha256 = digest.hexdigest()
    item.size = size
    item.received_at = _received(found)
    return None if keep is not None and size > keep else b"".join(blocks)


def _nothing(item: Delivered, found: os.stat_result) -> bytes:
    item.sha256, item.size, item.received_at = NOTHING, 0, _received(found)
    return b""


def _received(found: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(found.st_mtime, dt.UTC).replace(tzinfo=None, microsecond=0)


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

    def discard(self, archive_paths: set[str]) -> None:
        """Keep nothing of the files `__call__` took at these paths (they turned out to hold what
        must not be stored). All at once: a chunk may hold thousands."""
        self.pending = [p for p in self.pending if f"{self.relative}/{p[0]}" not in archive_paths]

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
    """Set each item's SHA-256, size and received time (a file that cannot be read gets none; one
    gone meanwhile is marked `gone`)."""
    for item in items:
        if not item.sha256 and not item.gone:
            try:
                fingerprint(item, keep=0)  # the hash only: no file is held in memory
            except OSError:
                item.sha256 = ""


def quarter_digests(items: list[Delivered], latest: str) -> dict[str, str]:
    """Per quarter: a digest of its files by (lower-case name, SHA-256), i.e. what its deliveries
    are. A file that cannot be assigned to a quarter counts in the `latest` one (the running
    quarter), whose run records it as set aside; one gone from the inbox counts nowhere. Items
    must be hashed (`hash_files`)."""
    return _per_quarter([i for i in items if not i.gone], latest,
                        lambda item: (item.name.lower(), item.sha256, *([item.special] if item.special else [])))


def quarter_stats(items: list[Delivered], latest: str) -> dict[str, str]:
    """Per quarter: a digest of its entries' names, sizes and modification times, without reading
    them (as make and rsync tell a changed file), of the entry itself, never a link's target:
    which quarters may have changed."""
    def stat_of(item: Delivered):
        try:
            found = os.lstat(item.location)
        except OSError:
            return (item.name, -1, -1)
        return (item.name, found.st_size, found.st_mtime_ns)
    return _per_quarter(items, latest, stat_of)


def _per_quarter(items: list[Delivered], latest: str, key) -> dict[str, str]:
    files: dict[str, list] = {}
    for item in items:
        quarter = item.parsed.quarter if isinstance(item.parsed, FileName) else latest
        files.setdefault(quarter, []).append(key(item))
    return {q: hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()[:24] for q, entries in files.items()}
