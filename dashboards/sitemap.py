"""Where each page of the site lives. The paths are the same in both languages, so the language
switch only swaps the prefix (`en/`); the page modules link to each other through these."""
from __future__ import annotations

from dashboards.data import catalogue_districts
from pipeline.catalogue import Catalogue

QUALITY_PATH = "datenqualitaet.html"
IMPACT_PATH = "wirkung.html"
METHODS_PATH = "methoden.html"
START_PATH = "index.html"
PAGE_DIRS = ("programm", "kreis")  # folders of one page per programme / district


def programme_path(programme_id: str) -> str:
    return f"programm/{programme_id}.html"


def district_path(ags: str) -> str:
    return f"kreis/{ags}.html"


def impact_anchor(programme_id: str) -> str:
    return f"{IMPACT_PATH}#wirkung-{programme_id}"


def all_paths(catalogue: Catalogue) -> list[str]:
    """Every page of one language: start, programmes, districts, impact, quality, methods."""
    return ([START_PATH] + [programme_path(p.id) for p in catalogue.programmes]
            + [district_path(a) for a in catalogue_districts(catalogue)] + [IMPACT_PATH, QUALITY_PATH, METHODS_PATH])
