"""Dagster resources: the home folder (inbox, warehouse, exports) and the catalogue."""
from __future__ import annotations

import contextlib

import dagster as dg

from pipeline import warehouse
from pipeline.catalogue import Catalogue, cached_catalogue
from pipeline.home import Home


class TeilhabeHome(dg.ConfigurableResource):
    """Where a deployment keeps its inbox, DuckDB warehouse, archive and published outputs."""

    home: str

    @property
    def paths(self) -> Home:
        return Home.resolve(self.home).ensure()

    def catalogue(self) -> Catalogue:
        return cached_catalogue(self.paths.catalogue_dir)

    @contextlib.contextmanager
    def connect(self, read_only: bool = False):
        with warehouse.connect(self.paths.warehouse, read_only=read_only) as con:
            yield con
