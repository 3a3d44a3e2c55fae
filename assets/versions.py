"""Dagster's change mechanism, the project's only one: code versions and data versions.

- **Code version**: each asset's `code_version` is a digest of the source of the pipeline
  packages it runs (`code_version("pipeline.intake", ...)`), so an edit to that code makes the
  asset stale in the UI and `teilhabe run` redoes it; no version to bump by hand.
- **Data version**: each asset returns `MaterializeResult(data_version=...)`, a digest of what
  it was computed from (its inputs' rows, the catalogue, its code version). An asset whose inputs
  print as at its last materialization skips its work and reports the same version, so nothing
  downstream is marked stale by it.
- **Per quarter** (partitions), the materialization metadata records what each quarter was made
  from: `inbox` (the quarter's files by name and SHA-256) on raw_<feed>, `basis` (code, suite and
  catalogue) on stg_<feed>. `due_quarters` (assets/changes.py) compares them with the inbox now.

Everything lives in Dagster's event log, visible in the UI; the warehouse holds data only.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
from pathlib import Path

import dagster as dg

DATA_VERSION_TAG = "dagster/data_version"  # the tag Dagster stores an event's data version under


@functools.cache
def code_version(*packages: str) -> str:
    """Digest of the source files of these modules or packages (sub-packages included)."""
    digest = hashlib.sha256()
    for name in sorted(packages):
        module = importlib.import_module(name)
        path = Path(module.__file__)
        files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
        for file in files:
            digest.update(file.relative_to(path.parent.parent).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def last_data_version(context: dg.AssetExecutionContext, key: dg.AssetKey | None = None) -> str | None:
    """The data version of the asset's latest materialization, as Dagster recorded it."""
    event = context.instance.get_latest_materialization_event(key or context.asset_key)
    if event is None or event.asset_materialization is None:
        return None
    return event.asset_materialization.tags.get(DATA_VERSION_TAG)


def last_metadata(context: dg.AssetExecutionContext, field: str):
    """The metadata value `field` of the asset's latest materialization, as Dagster recorded it."""
    event = context.instance.get_latest_materialization_event(context.asset_key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(field)
    return value.value if value is not None else None


def recorded(instance: dg.DagsterInstance, key: dg.AssetKey, field: str,
             partitions: list[str] | None = None) -> dict[str, str]:
    """Per partition: the metadata value `field` of its latest materialization of `key`."""
    found: dict[str, str] = {}
    wanted = set(partitions) if partitions is not None else None
    cursor = None
    while True:
        page = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions),
                                               limit=1000, cursor=cursor)
        for record in page.records:
            event = record.asset_materialization
            if event is None or event.partition is None or event.partition in found:
                continue
            value = event.metadata.get(field)
            found[event.partition] = value.value if value is not None else None
        cursor = page.cursor
        if not page.has_more or (wanted is not None and wanted <= found.keys()):
            return found


def digest(*parts) -> str:
    """One data version from several parts (strings, or (key, value) pairs)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
