"""What each page is built from, as a digest, so a build skips the pages whose inputs are unchanged.

A page's digest covers the exact rows of the published frames (after the "< 5" rule) that its
page function reads, plus everything all pages share: the site's code, the catalogue, the
indicator catalogue, the threshold, the default language and the map file. Rows are hashed by
pandas (`warehouse.row_hashes`, a fixed key, so the same rows give the same digest in every run),
once per frame; a page takes its rows' hashes by position, in the order it shows them.

The digests of the last build are kept in `site/.fingerprints.json` (page -> digest and size);
a page is built again when its digest differs, its file is missing or its size is not the one
written. Beside them, the digest of the whole build's inputs (`warehouse_print`, one query over
the tables, plus `shared` and the report links): when it is the last build's and every page is
there, nothing is loaded at all.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from dashboards.data import SiteData
from pipeline.catalogue import Catalogue, Programme
from pipeline.indicators.model import IndicatorCatalogue
from pipeline.warehouse import frame_print, row_hashes

MANIFEST = ".fingerprints.json"
# The manifest's entries beside the pages' (no page path starts with a dot): the whole build's
# inputs, and the report copies in the site as the build left them.
BUILD, COPIES = ".build", ".reports"
ROOT = Path(__file__).resolve().parents[1]
# Modules whose code decides what a page says: the site's own, and the pipeline's words and
# quarter arithmetic it calls into (impact readings, quarter bounds, the ALL constants). The
# report links are data (their paths are part of the digests), not code.
CODE = [*sorted((ROOT / "dashboards").glob("*.py")), *sorted((ROOT / "pipeline" / "impact").glob("*.py")),
        *(ROOT / "pipeline" / name for name in ("quarters.py", "indicators/model.py"))]


def digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def shared(catalogue: Catalogue, indicators: IndicatorCatalogue, threshold: int, lang_default: str,
           geo_file: Path | None) -> str:
    """What every page depends on."""
    import plotly

    code = [(p.relative_to(ROOT).as_posix(), p.read_bytes()) for p in CODE if p.is_file()]
    return digest(plotly.__version__, code, catalogue.programmes, catalogue.deadlines,
                   frame_print(catalogue.districts.reset_index(drop=True)), indicators, threshold,
                   lang_default, geo_file.name if geo_file else None, geo_file.read_bytes() if geo_file else None)


# Everything the site reads from the warehouse (data.py), down to the tables under its views:
# delivery_log and rejections (`warehouse.delivery_log_relations`), indicator_values, and
# stg_micro_projects under cur_micro_projects; the views' own SQL counts too. Hashed where
# stored: no view is evaluated.
TABLES = ("indicator_values", "stg_micro_projects")
VIEWS = ("delivery_log", "rejections", "current_sheets", "latest_receipts", "cur_micro_projects")


def warehouse_print(con) -> str:
    """One query's digest of the site's warehouse inputs: equal digests, equal site."""
    from pipeline.contract import load_contract
    from pipeline import warehouse
    from pipeline.impact import TABLE as IMPACT

    relations = {**warehouse.delivery_log_relations(load_contract().feeds.values()), **{t: t for t in TABLES}}
    if warehouse.table_exists(con, IMPACT):
        relations["impact"] = IMPACT
    found = warehouse.relation_prints(con, relations)
    return digest(sorted(relations.items()), sorted(found.items()), warehouse.view_definitions(con, VIEWS))


class PageInputs:
    """The digests of the frames pages are built from, each computed once."""

    def __init__(self, data: SiteData):
        self.data = data
        self.values = row_hashes(data.values)
        values = data.values.reset_index(drop=True)
        self.by_programme = values.groupby("programme_id", sort=False).indices
        self.by_district = values.groupby("district_ags", sort=False).indices
        self.totals = np.flatnonzero((values["period"] == "total").to_numpy())
        deliveries = data.deliveries.reset_index(drop=True)
        self.deliveries = row_hashes(deliveries)
        self.deliveries_by_district = deliveries.groupby("district_ags", sort=False).indices
        loaded = data.deliveries[["district_ags", "quarter", "status"]].reset_index(drop=True)
        self.loaded = row_hashes(loaded)
        micro = data.micro_projects.reset_index(drop=True)
        self.micro = row_hashes(micro)
        self.micro_by_district = micro.groupby("district_ags", sort=False).indices
        self.impact_programmes = set(data.impact["programme_id"])
        impact = data.impact.reset_index(drop=True)
        self.impact_rows = row_hashes(impact)
        self.impact_by_district = impact.groupby("district_ags", sort=False).indices
        self.reports: dict[str, list] = {}
        for (ags, quarter), path in data.reports.items():
            self.reports.setdefault(ags, []).append((str(quarter), path))

    def _rows(self, hashes: np.ndarray, groups: dict, keys) -> bytes:
        empty = np.empty(0, dtype=np.int64)
        return b"".join(hashes[groups.get(k, empty)].tobytes() for k in keys)

    def start(self) -> str:
        data = self.data
        return digest("start", self.values[self.totals].tobytes(), self.loaded.tobytes(), data.as_of)

    def programme(self, programme: Programme) -> str:
        members = (*programme.districts, *programme.comparison_districts)
        return digest("programme", programme.id, self._rows(self.values, self.by_programme, [programme.id]),
                       self._rows(self.loaded, self.deliveries_by_district, programme.districts),
                       self._rows(self.micro, self.micro_by_district, members),
                       programme.id in self.impact_programmes, self.data.as_of)

    def district(self, ags: str) -> str:
        reports = sorted(self.reports.get(ags, []))
        return digest("district", ags, self._rows(self.values, self.by_district, [ags]),
                       self._rows(self.deliveries, self.deliveries_by_district, [ags]), reports,
                       self._rows(self.impact_rows, self.impact_by_district, [ags]))

    def impact(self) -> str:
        return digest("impact", frame_print(self.data.impact))

    def quality(self) -> str:
        data = self.data
        reports = sorted((str(a), str(q), path) for (a, q), path in data.reports.items())
        return digest("quality", frame_print(data.status), frame_print(data.rejections), reports)

    def methods(self) -> str:
        return digest("methods")


def read_manifest(path: Path) -> dict[str, list]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def all_current(entries: dict, build: str, targets: dict[str, Path]) -> bool:
    """The last build had these inputs, and every page it wrote is still there at its size."""
    return entries.get(BUILD) == build and all(_written(entries.get(key), target) for key, target in targets.items())


def is_current(entry, digest: str, target: Path) -> bool:
    """The page on disk was written from these inputs and is still the size it was written with."""
    return isinstance(entry, list) and len(entry) == 2 and entry[0] == digest and _written(entry, target)


def _written(entry, target: Path) -> bool:
    if not isinstance(entry, list) or len(entry) != 2:
        return False
    try:
        return target.stat().st_size == entry[1]
    except OSError:
        return False


def manifest_bytes(entries: dict[str, list]) -> bytes:
    return (json.dumps(entries, sort_keys=True, indent=0) + "\n").encode("utf-8")
