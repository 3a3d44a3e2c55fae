"""The site's data to download: the figures its pages show, as they show them.

The evaluators' exports (exports/, exports/published/) carry every figure, small counts of persons
included: they are for the evaluation team, not for the public site. The site therefore offers its
own files, written from the same published, disclosure-controlled frames its pages are drawn from
(SiteData.values and .breakdowns after the "< 5" rule and the withholding of figures that would
let a hidden one be computed back): a hidden figure is empty, and the columns `masked` / `withheld`
say why. One file of the programme-to-date and quarterly figures, one of the breakdowns, each
linked from every page's footer, written by the project's one CSV writer (pipeline/tables.py).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboards.data import SiteData
from pipeline.tables import write_csv

FOLDER = "daten"
VALUES_FILE, BREAKDOWNS_FILE = "kennzahlen.csv", "kennzahlen_aufschluesselungen.csv"
KEYS = ["programme_id", "indicator_id", "district_ags", "district_name", "comparison", "period"]
VALUE_COLUMNS = [*KEYS, "value", "value_high", "ci_low", "ci_high", "n", "target", "direction", "status",
                 "attainment_pct", "unit", "label_de", "label_en", "masked", "withheld"]
BREAKDOWN_COLUMNS = [*KEYS, "breakdown", "breakdown_value", "value", "unit", "label_de", "label_en",
                     "masked", "withheld"]


def paths(root: Path) -> list[Path]:
    return [root / FOLDER / VALUES_FILE, root / FOLDER / BREAKDOWNS_FILE]


def write_downloads(data: SiteData, root: Path) -> list[Path]:
    """Write the site's two data files under `root`/daten; returns their paths."""
    values_path, breakdowns_path = paths(root)
    values_path.parent.mkdir(parents=True, exist_ok=True)
    stand = data.datenstand.isoformat() if data.datenstand else ""
    for frame, columns, path in ((data.values, VALUE_COLUMNS, values_path),
                                 (data.breakdowns, BREAKDOWN_COLUMNS, breakdowns_path)):
        table = pd.DataFrame({c: frame[c] if c in frame else pd.Series(dtype="object") for c in columns})
        for flag in ("masked", "withheld"):
            table[flag] = table[flag].fillna(False).astype(bool)
        hidden = table["masked"] | table["withheld"]   # the pages show no number of these rows
        for column in ("value", "value_high", "ci_low", "ci_high", "n", "attainment_pct"):
            if column in columns:
                table[column] = table[column].astype("float64").mask(hidden)
        table["datenstand"] = stand
        write_csv(table.reset_index(drop=True), path)
    return [values_path, breakdowns_path]
