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
from pipeline.quarters import quarter_to_key, reporting_range


def inbox_digests(home: TeilhabeHome, quarters: set[str] | None = None) -> dict[str, str]:
    """Per quarter (of `quarters`, or all): the digest of its inbox files (hashing them)."""
    latest = reporting_range()[1]
    items = inbox.scan_inbox(home.paths.inbox, CONTRACT, home.catalogue(), reporting_range())
    if quarters is not None:
        items = [i for i in items if (i.parsed.quarter if isinstance(i.parsed, inbox.FileName) else latest) in quarters]
    inbox.hash_files(items)
    return inbox.quarter_digests(items, latest)


def due_quarters(instance: dg.DagsterInstance, home: TeilhabeHome,
                 digests: dict[str, str] | None = None) -> dict[str, str]:
    """Quarter -> why it is due (`new`: never ingested; `files`: its files changed; `basis`: staged
    under other code, suite or catalogue, or not staged), for every quarter that has inbox files
    (or `digests`: quarter -> inbox digest, for just those quarters)."""
    digests = inbox_digests(home) if digests is None else digests
    if not digests:
        return {}
    keys = [quarter_to_key(q) for q in digests]
    ingested = recorded(instance, RAW_KEYS[0], "inbox", keys)
    staged = {name: recorded(instance, key, "basis", keys) for name, key in zip(CONTRACT.feeds, STG_KEYS)}
    bases = {name: staging_basis(home, name) for name in CONTRACT.feeds}
    due = {}
    for quarter, current in sorted(digests.items()):
        key = quarter_to_key(quarter)
        if key not in ingested:
            due[quarter] = "new"
        elif ingested[key] != current:
            due[quarter] = "files"
        elif any(staged[name].get(key) != bases[name] for name in CONTRACT.feeds):
            due[quarter] = "basis"
    return due
