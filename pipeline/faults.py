"""Faults of the machine, not of the data: what happened and what to do, in one sentence.

A full disk, a read-only home, missing permissions, a corrupted or locked warehouse end a run
with one sentence in the user's language and an exit code, never with a traceback. The same
classification serves an exception raised in the command line (`classify`) and the error a
Dagster step failed with (`classify_text`, from its class name and message), since a step
failure reaches the command line only as text.

What DuckDB 2.0 and the OS say (reproduced; tests/test_faults.py):
- disk full: OSError ENOSPC/EDQUOT; DuckDB `Could not write file "...": No space left on device`
  (inside `TransactionContext Error: Failed to commit: ...`, or for a COPY inside `Async write
  failed for range [...]: {"exception_message":"Could not write file \\"...\\": No space left
  on device","errno":"28"}`); SQLite (the Dagster instance) `database or disk is full`.
- read-only: OSError EROFS; DuckDB `Cannot open file "...": Read-only file system`; SQLite
  `attempt to write a readonly database`.
- permissions: OSError EACCES/EPERM; DuckDB `Cannot open file "...": Permission denied`.
- corrupted warehouse: garbage or an empty file: `The file "..." exists, but it is not a valid
  DuckDB database file!`; truncated: `Could not read enough bytes from file "..."`; a damaged
  block: `Corrupt database file: computed checksum ... does not match stored checksum ...`.
- locked: `Could not set lock on file "...": Conflicting lock is held in <program> (PID n)`.
"""
from __future__ import annotations

import errno
import os
import re
import tempfile
from dataclasses import dataclass

DISK_FULL, READ_ONLY, PERMISSION, CORRUPT, LOCKED = "disk_full", "read_only", "permission", "corrupt", "locked"

SENTENCES = {
    "de": {
        DISK_FULL: "Der Speicherplatz ist voll ({path}): Es wurde nichts Halbfertiges veröffentlicht; bitte Platz "
                   "schaffen (z. B. alte Dateien in {home} löschen oder verschieben) und `teilhabe run` erneut "
                   "starten.",
        READ_ONLY: "Der Arbeitsordner ist schreibgeschützt ({path}): teilhabe kann dort nichts speichern; bitte den "
                   "Ordner beschreibbar einbinden oder mit --home einen beschreibbaren Arbeitsordner angeben.",
        PERMISSION: "Keine Schreibrechte für {path}: Bitte dem Benutzer, unter dem teilhabe läuft, Schreibrechte "
                    "auf den Arbeitsordner {home} geben oder teilhabe als dessen Eigentümer starten.",
        CORRUPT: "Die Datenbank {path} ist beschädigt und kann nicht gelesen werden: Bitte mit `teilhabe rebuild "
                 "--home {home}` aus dem Archiv neu aufbauen (die beschädigte Datei wird beiseitegelegt, nicht "
                 "gelöscht).",
        LOCKED: "Die Datenbank {path} ist von einem anderen Prozess geöffnet{holder}: Ein anderer `teilhabe run` "
                "oder die laufende Dagster-Instanz schreibt gerade; bitte warten, bis er fertig ist, oder ihn "
                "beenden, dann erneut starten.",
    },
    "en": {
        DISK_FULL: "The disk is full ({path}): nothing half-written was published; free some space (e.g. delete "
                   "or move old files in {home}) and start `teilhabe run` again.",
        READ_ONLY: "The home folder is read-only ({path}): teilhabe cannot save anything there; mount it writable "
                   "or name a writable home with --home.",
        PERMISSION: "No permission to write {path}: give the user teilhabe runs as write permission on the home "
                    "folder {home}, or run teilhabe as its owner.",
        CORRUPT: "The warehouse {path} is corrupted and cannot be read: rebuild it from the archive with "
                 "`teilhabe rebuild --home {home}` (the broken file is moved aside, not deleted).",
        LOCKED: "The warehouse {path} is open in another process{holder}: another `teilhabe run` or the served "
                "Dagster instance is writing it; wait until it has finished or stop it, then try again.",
    },
}

# Message patterns, most specific first: a DuckDB "Could not write file" says why after a colon,
# and a read-only file system is not a full disk.
PATTERNS = [
    (LOCKED, re.compile(r"Could not set lock on file", re.I)),
    (CORRUPT, re.compile(r"not a valid DuckDB database file|Corrupt database file|does not match stored checksum"
                         r"|Could not read enough bytes from file|SerializationException", re.I)),
    (READ_ONLY, re.compile(r"Read-only file system|readonly database|read-only database|\bEROFS\b", re.I)),
    (PERMISSION, re.compile(r"Permission denied|Operation not permitted|\bEACCES\b|\bEPERM\b", re.I)),
    (DISK_FULL, re.compile(r"No space left on device|disk is full|Disk quota exceeded|\bENOSPC\b|\bEDQUOT\b"
                           r"|Could not write file", re.I)),
]
ERRNOS = {errno.ENOSPC: DISK_FULL, errno.EDQUOT: DISK_FULL, errno.EROFS: READ_ONLY, errno.EACCES: PERMISSION,
          errno.EPERM: PERMISSION}
QUOTED_PATH = re.compile(r'file \\?"([^"\\]+)\\?"')  # also quoted inside DuckDB's JSON (`\\"`)
HOLDER = re.compile(r"\(PID (\d+)\)")


@dataclass(frozen=True)
class Fault:
    kind: str
    path: str | None = None  # the file or folder concerned, when the error names it
    holder: str | None = None  # LOCKED: the process id holding the lock

    def sentence(self, lang: str, home) -> str:
        lang = lang if lang in SENTENCES else "de"
        holder = (f" (PID {self.holder})" if self.holder else "")
        return SENTENCES[lang][self.kind].format(path=self.path or home, home=home, holder=holder)


def classify_text(cls_name: str, message: str) -> Fault | None:
    """The fault an error's class name and message describe, if any."""
    text = f"{cls_name}: {message}"
    for kind, pattern in PATTERNS:
        if pattern.search(text):
            quoted = QUOTED_PATH.search(message)
            holder = HOLDER.search(message) if kind == LOCKED else None
            return Fault(kind, quoted.group(1) if quoted else None, holder.group(1) if holder else None)
    return None


def classify(error: BaseException) -> Fault | None:
    """The fault behind an exception or the exceptions it was raised from (`__cause__`, `__context__`)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in ERRNOS:
            return Fault(ERRNOS[error.errno], None if error.filename is None else os.fsdecode(error.filename))
        found = classify_text(type(error).__name__, str(error))
        if found is not None:
            return found
        error = error.__cause__ or error.__context__
    return None


def probe(*folders) -> Fault | None:
    """The fault writing into these folders meets, if any: for an error that does not say why
    (SQLite's `unable to open database file` in a read-only or full home). Writes and removes a
    small temporary file in each existing folder."""
    for folder in folders:
        if not os.path.isdir(folder):
            continue
        try:
            with tempfile.TemporaryFile(dir=folder) as handle:
                handle.write(b"\0" * 65536)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            fault = classify(error)
            if fault is not None:
                return Fault(fault.kind, os.fspath(folder))
    return None
