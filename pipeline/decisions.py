"""The evaluators' decisions as the archive keeps them: `archive/decisions.jsonl`.

The warehouse is derived from the archive (`teilhabe rebuild` makes it again from the archived
deliveries), except for what people decide: that an outlier is right as delivered (`teilhabe
confirm`). Each decision is therefore appended here, one JSON object a line, before it is
written to the warehouse, and `teilhabe rebuild` puts them back before it recomputes anything.
Append-only: a decision taken back is a new line, never an edited one.
"""
from __future__ import annotations

import datetime as dt
import json
import os

from pipeline.home import Home

FILE_NAME = "decisions.jsonl"


def journal_path(home: Home):
    return home.archive / FILE_NAME


def append(home: Home, kind: str, **fields) -> dict:
    """One decision, written and flushed to disk (a crash after it loses nothing the warehouse has)."""
    entry = {"kind": kind, **{k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
                              for k, v in fields.items()}}
    home.archive.mkdir(parents=True, exist_ok=True)
    with open(journal_path(home), "a", encoding="utf-8") as out:
        out.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return entry


def entries(home: Home, kind: str) -> list[dict]:
    """The decisions of one kind, oldest first. A line that is not JSON (a write cut short by a
    crash, always the last) is skipped: what it said never reached the warehouse either."""
    path = journal_path(home)
    if not path.is_file():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("kind") == kind:
            found.append(entry)
    return found
