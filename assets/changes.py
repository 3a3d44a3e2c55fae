"""Which quarters need a run: the one rule for `teilhabe run`, the inbox sensor and the schedule.

A quarter is due when its inbox files (by name and SHA-256) differ from those its raw_<feed>
partition was last materialized from, or when one of its stg_<feed> partitions was staged under
another code, suite or catalogue (`basis`), both as recorded in Dagster's event log
(assets/versions.py). A home processed by `teilhabe run` and then served has no due quarter, so
the sensor starts no run; one re-delivered file makes its quarter due, and so do a thousand.
"""
from __future__ import annotations

import dagster as dg

from assets.ingest import CONTRACT, RAW_KEYS, STG_KEYS, staging_basis
from assets.resources import TeilhabeHome
from assets.versions import recorded
from pipeline.intake import inbox
from pipeline.quarters import key_to_quarter, quarter_to_key, reporting_range


def inbox_digests(home: TeilhabeHome, quarters: set[str] | None = None) -> dict[str, str]:
    """Per quarter (of `quarters`, or all): the digest of its inbox files (hashing them)."""
    latest = reporting_range()[1]
    items = inbox.scan_inbox(home.paths.inbox, CONTRACT, home.catalogue(), reporting_range())
    if quarters is not None:
        items = [i for i in items if (i.parsed.quarter if isinstance(i.parsed, inbox.FileName) else latest) in quarters]
    inbox.hash_files(items)
    return inbox.quarter_digests(items, latest)


def due_quarters(instance: dg.DagsterInstance, home: TeilhabeHome,
                 digests: dict[str, str] | None = None, quarters: set[str] | None = None) -> dict[str, str]:
    """Quarter -> why it is due: `new` (files, never ingested), `files` (its files changed),
    `emptied` (ingested with files, now without any: its receipts are withdrawn by a run),
    `basis` (staged under other code, suite or catalogue, or not staged).

    Without `quarters`: every quarter with inbox files or recorded files. With `quarters` (the
    sensor's quarters whose names, sizes or times changed), just those; `digests`: their inbox
    digests where the caller has them already (a quarter without files has none)."""
    if quarters is None:
        digests = inbox_digests(home) if digests is None else digests
        considered = set(digests) | {key_to_quarter(k) for k, v in recorded(instance, RAW_KEYS[0], "inbox").items() if v}
    else:
        digests = inbox_digests(home, quarters) if digests is None else digests
        considered = set(quarters)
    if not considered:
        return {}
    keys = [quarter_to_key(q) for q in considered]
    ingested = recorded(instance, RAW_KEYS[0], "inbox", keys)
    staged = {name: recorded(instance, key, "basis", keys) for name, key in zip(CONTRACT.feeds, STG_KEYS)}
    bases = {name: staging_basis(home, name) for name in CONTRACT.feeds}
    due = {}
    for quarter in sorted(considered):
        key, current = quarter_to_key(quarter), digests.get(quarter, "")
        if key not in ingested:
            if current:
                due[quarter] = "new"
        elif ingested[key] != current:
            due[quarter] = "files" if current else "emptied"
        elif current and any(staged[name].get(key) != bases[name] for name in CONTRACT.feeds):
            due[quarter] = "basis"
    return due
