"""Disclosure control on the trajectory pages (issue 20; the attacker of tests/test_disclosure.py).

On the demo (a few hundred newcomers in each lzz-1 and lzz-2 district), the attacker takes every
trajectory figure the programme and district pages publish — the overall values per district and
for all districts (value, and for shares and medians the n of persons they are of), the results
per arrival cohort and the transition matrix, per district and for all districts — writes each
count of persons as a linear equation over the true cells (district × part), and asks linear
algebra whether any hidden cell of fewer than 5 persons is determined. For a share the counted
persons (value × n / 100) and its n are equations over the districts' counted persons and n.
It must find none. The same attacker against the plain "< 5" rule (without the protection
against subtraction) recovers small cells: the test can fail.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboards import data as site_data
from pipeline import warehouse
from pipeline.catalogue import load_catalogue
from pipeline.demo import write_demo
from pipeline.home import Home
from pipeline.indicators import compute_indicators, load_indicators
from pipeline.indicators.model import ALL
from tests.conftest import ingest

COUNTS = ("traj_persons", "traj_followed", "traj_transitions")
SHARES = ("traj_language_improved", "traj_employed_18_30")
THRESHOLD = 5


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("trajectory-disclosure") / "home").ensure()
    write_demo(home)
    ingest(home, "2017-01-01", "2025-10-01")
    catalogue = load_catalogue()
    indicators = load_indicators(catalogue)
    with warehouse.connect(home.warehouse) as con:
        compute_indicators(con, catalogue, indicators)
    with warehouse.connect(home.warehouse, read_only=True) as con:
        published = site_data.load(con, catalogue, indicators)
        values = con.execute("SELECT * FROM indicator_values WHERE period = 'total'").df()
        breakdowns = con.execute("SELECT * FROM indicator_breakdowns WHERE period = 'total'").df()
    return catalogue, published, values, breakdowns


def plain_rule(values: pd.DataFrame, breakdowns: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the pages would show with "< 5" alone: a count of persons below 5 hidden, nothing else."""
    out = []
    for frame in (values, breakdowns):
        frame = frame.copy()
        frame["masked"] = (frame["unit"] == "persons") & (frame["value"] < THRESHOLD)
        frame["withheld"] = False
        frame["value"] = frame["value"].mask(frame["masked"])
        out.append(frame)
    return out[0], out[1]


class Equations:
    def __init__(self, cells):
        self.cells = list(cells)
        self.index = {c: n for n, c in enumerate(self.cells)}
        self.rows, self.values = [], []

    def add(self, cells, value) -> None:
        if pd.isna(value) or not cells:
            return
        row = np.zeros(len(self.cells))
        for cell in cells:
            row[self.index[cell]] = 1.0
        self.rows.append(row)
        self.values.append(float(value))

    def determined(self, cells) -> bool:
        if not self.rows:
            return False
        a = np.array(self.rows)
        target = np.zeros(len(self.cells))
        for cell in cells:
            target[self.index[cell]] = 1.0
        return np.linalg.matrix_rank(np.vstack([a, target])) == np.linalg.matrix_rank(a)


def _hidden(row) -> bool:
    return bool(row.get("masked")) or bool(row.get("withheld")) or pd.isna(row["value"])


def attack_counts(values, breakdowns, truth_values, truth_breakdowns, programme) -> list[tuple]:
    """Small cells of a count indicator determined by the published figures (each with a breakdown)."""
    found = []
    districts = list(programme.districts)
    for indicator in COUNTS:
        for breakdown in sorted(set(truth_breakdowns.loc[truth_breakdowns["indicator_id"] == indicator, "breakdown"])):
            mine = lambda f: f[(f["programme_id"] == programme.id) & (f["indicator_id"] == indicator)  # noqa: E731
                               & ~f["comparison"].astype(bool)]
            truth = mine(truth_breakdowns)
            truth = truth[truth["breakdown"] == breakdown]
            parts = sorted(set(truth["breakdown_value"]))
            cells = [(d, p) for d in districts for p in parts]
            eq = Equations(cells)
            for r in mine(breakdowns)[lambda f: f["breakdown"] == breakdown].to_dict("records"):
                shown = np.nan if _hidden(r) else r["value"]
                if r["district_ags"] == ALL:
                    eq.add([(d, r["breakdown_value"]) for d in districts], shown)
                elif r["district_ags"] in districts:
                    eq.add([(r["district_ags"], r["breakdown_value"])], shown)
            for r in mine(values).to_dict("records"):
                shown = np.nan if _hidden(r) else r["value"]
                if r["district_ags"] == ALL:
                    eq.add(cells, shown)
                elif r["district_ags"] in districts:
                    eq.add([c for c in cells if c[0] == r["district_ags"]], shown)
            shown_rows = mine(breakdowns)[lambda f: f["breakdown"] == breakdown]
            hidden = {(r["district_ags"], r["breakdown_value"]) for r in shown_rows.to_dict("records") if _hidden(r)}
            for r in truth.to_dict("records"):
                cell = (r["district_ags"], r["breakdown_value"])
                if cell[0] in districts and r["value"] < THRESHOLD and cell in hidden and eq.determined([cell]):
                    found.append((indicator, breakdown, *cell, r["value"]))
    return found


def attack_shares(values, truth_values, programme) -> list[tuple]:
    """Hidden shares whose counted persons or n follow from the published districts and ALL."""
    found = []
    districts = list(programme.districts)
    for indicator in SHARES:
        rows = values[(values["programme_id"] == programme.id) & (values["indicator_id"] == indicator)
                      & ~values["comparison"].astype(bool)].to_dict("records")
        counted, persons = Equations(districts), Equations(districts)
        for r in rows:
            cells = districts if r["district_ags"] == ALL else [r["district_ags"]]
            if r["district_ags"] != ALL and r["district_ags"] not in districts:
                continue
            persons.add(cells, r["n"])
            if not _hidden(r) and not pd.isna(r["n"]):
                counted.add(cells, round(r["value"] * r["n"] / 100))
        truth = truth_values[(truth_values["programme_id"] == programme.id) & (truth_values["indicator_id"] == indicator)]
        for r in truth.to_dict("records"):
            shown = next((s for s in rows if s["district_ags"] == r["district_ags"]), None)
            if r["district_ags"] not in districts or shown is None or not _hidden(shown):
                continue
            k = round(r["value"] * r["n"] / 100)
            small = min(k, r["n"] - k, r["n"]) < THRESHOLD
            if small and (counted.determined([r["district_ags"]]) or
                          (r["n"] < THRESHOLD and persons.determined([r["district_ags"]]))):
                found.append((indicator, r["district_ags"], k, r["n"]))
    return found


def _programmes(catalogue):
    return [catalogue.programme(p) for p in ("lzz-1", "lzz-2")]


def test_the_demo_has_small_trajectory_cells(demo):
    """What the attack is about: transitions and cohort parts of fewer than 5 persons exist."""
    _, _, _, breakdowns = demo
    small = breakdowns[breakdowns["indicator_id"].isin(COUNTS) & (breakdowns["value"] < THRESHOLD)
                       & (breakdowns["district_ags"] != ALL)]
    assert len(small) > 20


def test_the_attacker_recovers_small_cells_under_the_plain_rule(demo):
    """The negative control: "< 5" alone gives small transition cells away (ALL minus the others)."""
    catalogue, _, values, breakdowns = demo
    plain_values, plain_breakdowns = plain_rule(values, breakdowns)
    found = [f for p in _programmes(catalogue)
             for f in attack_counts(plain_values, plain_breakdowns, values, breakdowns, p)]
    assert found, "the plain rule should give small cells away"


def test_the_attacker_finds_nothing_on_the_trajectory_pages(demo):
    catalogue, published, values, breakdowns = demo
    for programme in _programmes(catalogue):
        assert attack_counts(published.values, published.breakdowns, values, breakdowns, programme) == []
        assert attack_shares(published.values, values, programme) == []


def test_published_trajectory_figures_show_no_small_count(demo):
    """No count of persons below 5 is shown; no share whose counted or uncounted persons are below 5."""
    _, published, _, _ = demo
    for frame in (published.values, published.breakdowns):
        traj = frame[frame["indicator_id"].str.startswith("traj_")]
        shown = traj[~(traj["masked"].astype(bool) | traj["withheld"].astype(bool)) & traj["value"].notna()]
        counts = shown[shown["unit"] == "persons"]
        assert (counts["value"] >= THRESHOLD).all()
        shares = shown[(shown["unit"] == "percent") & shown["n"].notna()]
        k = (shares["value"] * shares["n"] / 100).round()
        assert ((k >= THRESHOLD) & (shares["n"] - k >= THRESHOLD)).all()
    # The progress chart never shows its persons, only cells of at least 5 (read_progress).
    assert "persons" not in published.progress.columns and len(published.progress)
