"""Dagster resources: the home folder (inbox, warehouse, exports) and the catalogue."""
from __future__ import annotations

import contextlib
from pathlib import Path

import dagster as dg

from pipeline import warehouse
from pipeline.catalogue import SHIPPED_DIR, Catalogue, load_catalogue
from pipeline.home import Home


def _stamps(directory: Path | None) -> tuple:
    folder = directory or SHIPPED_DIR
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*")) if p.is_file())


_LOADED: dict[tuple, Catalogue] = {}


def _catalogue(directory: Path | None) -> Catalogue:
    """Every step of a run asks for the catalogue: it is read and validated once per process, and
    again as soon as one of its files changes (modification time or size)."""
    key = (str(directory), _stamps(directory))
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_catalogue(directory)
    return _LOADED[key]


class TeilhabeHome(dg.ConfigurableResource):
    """Where a deployment keeps its inbox, DuckDB warehouse, archive and published outputs."""

    home: str

    @property
    def paths(self) -> Home:
        return Home.resolve(self.home).ensure()

    def catalogue(self) -> Catalogue:
        return _catalogue(self.paths.catalogue_dir)

    @contextlib.contextmanager
    def connect(self, read_only: bool = False):
        with warehouse.connect(self.paths.warehouse, read_only=read_only) as con:
            yield con
