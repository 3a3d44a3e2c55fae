"""The impact table: one row per programme × method × item × district (or pool) × group, built
from the survey's cells, the estimators and the disclosure rules; written to the warehouse
(`impact_estimates`) and to `exports/impact.csv`."""
from __future__ import annotations

import functools
import itertools
import math
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.impact.disclosure import INDICATIVE_BELOW, MIN_CELL, protect
from pipeline.impact.design import (MIN_DISTRICTS, combined_sd, did_mde, pooled_change, side_change,
                                    welch_mde)
from pipeline.impact.estimator import Cells, DidResult, solve
from pipeline.impact.event_rows import EVENT_METHODS, event_rows
from pipeline.impact.multiplicity import judge
from pipeline.impact.readings import note
from pipeline.impact.robustness import LEAVE_ONE_OUT, TOP_BOX, robustness_rows
from pipeline.impact.survey import (ALL, ALL_COMPARISON, POOL, POOL_NAME, DistrictCells, cell_stats, check_items,
                                    load_responses, survey_groups, survey_items, two_waves)
from pipeline.impact.welch import t_intervals, welch_changes, welch_df
from pipeline.tables import write_csv

TABLE = "impact_estimates"
METHODS = ("did", TOP_BOX, LEAVE_ONE_OUT, *EVENT_METHODS, "pre_post")   # the kinds of rows, in the table's order
EXPORT_NAME = "impact.csv"

COLUMNS = (
    "programme_id", "method", "item", "district_ags", "district_name", "role", "group", "wave", "reference_wave",
    "estimate", "ci_low", "ci_high", "p_value", "se",
    "n_baseline", "n_follow_up", "n_comparison_baseline", "n_comparison_follow_up",
    "mean_baseline", "mean_baseline_ci_low", "mean_baseline_ci_high",
    "mean_follow_up", "mean_follow_up_ci_low", "mean_follow_up_ci_high",
    "mean_comparison_baseline", "mean_comparison_follow_up",
    "mean_follow_up_adjusted", "mean_comparison_follow_up_adjusted", "baseline_sd", "effect_size", "mde",
    "clusters_programme", "clusters_comparison", "bootstrap_reps", "inference",
    "family", "family_size", "p_adjusted", "established",
    "indicative", "suppressed", "note_de", "note_en",
)
NUMBERS = ("estimate", "ci_low", "ci_high", "p_value", "se", "mean_baseline", "mean_baseline_ci_low",
           "mean_baseline_ci_high", "mean_follow_up", "mean_follow_up_ci_low", "mean_follow_up_ci_high",
           "mean_comparison_baseline", "mean_comparison_follow_up", "mean_follow_up_adjusted",
           "mean_comparison_follow_up_adjusted", "baseline_sd", "effect_size", "mde", "p_adjusted")
WAVE_COLUMNS = ("wave", "reference_wave")   # event-study rows: which wave, against which (labels, not counts)
COUNTS = ("n_baseline", "n_follow_up", "n_comparison_baseline", "n_comparison_follow_up",
          "clusters_programme", "clusters_comparison", "bootstrap_reps", "family_size")


def _row_seed(seed: int, *key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32("|".join(key).encode("utf-8"))])


def _pre_post_rows(cells: pd.DataFrame, district_cells: DistrictCells, catalogue, groups, min_cell,
                   indicative_below) -> list[dict]:
    name = functools.cache(catalogue.district_name)   # a pandas lookup each: thousands of rows
    stats_by = {}
    for rec in cells.itertuples(index=False):
        stats_by.setdefault((rec.programme_id, rec.role, rec.district_ags, rec.group, rec.item), {})[rec.wave] = rec
    rows = []
    for (programme_id, role, district, group, item), waves in stats_by.items():
        b, f = waves.get("baseline"), waves.get("follow_up")
        n_b, n_f = (int(b.n) if b else 0), (int(f.n) if f else 0)
        row = {"programme_id": programme_id, "method": "pre_post", "item": item, "district_ags": district,
               "district_name": POOL_NAME.get(district) or name(district), "role": role,
               "group": group, "n_baseline": n_b, "n_follow_up": n_f, "inference": "welch",
               "_reasons": [], "_stats": (b, f)}
        if min(n_b, n_f) < min_cell:
            row["_reasons"].append("suppressed")
        rows.append(row)
    # secondary suppression, per programme × item × role table
    by_table: dict = {}
    for row in rows:
        by_table.setdefault((row["programme_id"], row["item"], row["role"]), []).append(row)
    for (programme_id, _, role), table in by_table.items():
        programme = catalogue.programme(programme_id)
        districts = list(programme.districts if role == "programme" else programme.comparison_districts)
        entries = {(r["district_ags"], r["group"]): {"n": {"baseline": r["n_baseline"], "follow_up": r["n_follow_up"]},
                                                     "suppressed": bool(r["_reasons"])} for r in table}
        extra = protect(entries, districts, POOL[role], list(groups), min_cell)
        for r in table:
            if (r["district_ags"], r["group"]) in extra:
                r["_reasons"].append("secondary")
    published = [row for row in rows if not row["_reasons"]]
    stats_ = [row.pop("_stats") for row in rows]
    if published:
        b = [row_stats[0] for row, row_stats in zip(rows, stats_) if not row["_reasons"]]
        f = [row_stats[1] for row, row_stats in zip(rows, stats_) if not row["_reasons"]]
        n_b, n_f = [r["n_baseline"] for r in published], [r["n_follow_up"] for r in published]
        m_b, v_b = [c.mean for c in b], [c.var for c in b]
        m_f, v_f = [c.mean for c in f], [c.var for c in f]
        change = zip(*welch_changes(n_b, m_b, v_b, n_f, m_f, v_f))
        mde = welch_mde(np.sqrt(np.asarray(v_b) / np.asarray(n_b, dtype=float)
                                + np.asarray(v_f) / np.asarray(n_f, dtype=float)), welch_df(n_b, v_b, n_f, v_f))
        before, after = zip(*t_intervals(n_b, m_b, v_b)), zip(*t_intervals(n_f, m_f, v_f))
        for row, (est, se, lo, hi, p), (b_lo, b_hi), (f_lo, f_hi), mb, mf, vb, row_mde in zip(
                published, change, before, after, m_b, m_f, v_b, mde):
            row.update(estimate=float(est), se=float(se), ci_low=float(lo), ci_high=float(hi), p_value=float(p),
                       mean_baseline=float(mb), mean_baseline_ci_low=float(b_lo), mean_baseline_ci_high=float(b_hi),
                       mean_follow_up=float(mf), mean_follow_up_ci_low=float(f_lo),
                       mean_follow_up_ci_high=float(f_hi), mean_follow_up_adjusted=float(mf),
                       baseline_sd=math.sqrt(vb), mde=float(row_mde))
            if row["district_ags"] in POOL.values():
                _pooled(row, district_cells, catalogue.programme(row["programme_id"]))
            row["effect_size"] = (row["estimate"] / row["baseline_sd"] if row["baseline_sd"] > 0 else math.nan)
            if min(row["n_baseline"], row["n_follow_up"]) < indicative_below:
                row["_reasons"].append("indicative")
    return rows


def _pooled(row: dict, districts: DistrictCells, programme) -> None:
    """A pool's change: within districts, cluster-robust (pipeline/impact/design.py), not the
    difference of the pooled means with a Welch interval, which ignores district × wave shocks."""
    members = set(programme.districts if row["role"] == "programme" else programme.comparison_districts)
    at = (districts.programmes[programme.id], districts.items[row["item"]], districts.groups[row["group"]])
    n, total = districts.n[at], districts.total[at]
    keep = np.array([d in members for d in districts.districts], dtype=bool) & (n[:, 0] > 0) & (n[:, 1] > 0)
    cells = Cells(n[keep, 0].astype(float), n[keep, 1].astype(float), total[keep, 0], total[keep, 1],
                  np.ones(int(keep.sum()), dtype=bool), math.nan, math.nan)
    pooled = pooled_change(cells)
    side = "clusters_programme" if row["role"] == "programme" else "clusters_comparison"
    row.update({side: pooled["districts"], "estimate": pooled["estimate"], "inference": "cluster_robust_cr1_t",
                "mean_follow_up_adjusted": row["mean_baseline"] + pooled["estimate"]})
    for key in ("se", "ci_low", "ci_high", "p_value", "mde"):
        row[key] = pooled.get(key, math.nan)
    if pooled["districts"] < MIN_DISTRICTS:
        row["inference"] = "none"
        row["_reasons"].append("few_districts")


def _did_rows(cells: DistrictCells, pre_post: list[dict], catalogue, groups, *, bootstrap_reps, seed,
              min_cell, indicative_below) -> list[dict]:
    published = {(r["programme_id"], r["item"], r["district_ags"], r["group"]): r for r in pre_post}
    name = functools.cache(catalogue.district_name)
    rows, pending = [], []
    for programme in catalogue.programmes:
        if not programme.comparison_districts or programme.id not in cells.programmes:
            continue
        items = [item for item in cells.items if cells.n[cells.programmes[programme.id], cells.items[item]].any()]
        treated = cells.treated(programme)
        scopes = [ALL] + (list(programme.districts) if len(programme.districts) > 1 else [])
        for item, group, scope in itertools.product(items, (ALL, *groups), scopes):
            found = cells.clusters(programme, treated, item, group, scope)
            if found is None:
                continue
            counts, clusters = found
            row = {"programme_id": programme.id, "method": "did", "item": item, "district_ags": scope,
                   "district_name": POOL_NAME.get(scope) or name(scope), "role": "programme",
                   "group": group, **counts, "_reasons": [],
                   "inference": "wild_cluster_bootstrap_wcr_webb"}
            rows.append(row)
            if min(counts.values()) < min_cell:
                row["_reasons"].append("suppressed")
                continue
            sides = [published.get((programme.id, item, scope, group)),
                     published.get((programme.id, item, ALL_COMPARISON, group))]
            if any(side is None or {"suppressed", "secondary"} & set(side["_reasons"]) for side in sides):
                row["_reasons"].append("inherited")
                continue
            rng = functools.partial(_row_seed, seed, programme.id, scope, item, group)
            pending.append((row, sides, (clusters, rng)))
    results = solve([problem for _, _, problem in pending], bootstrap_reps)
    for (row, (mine, theirs), (clusters, _)), result in zip(pending, results):
        _did_result(row, result, mine, theirs, indicative_below)
        if not math.isnan(result.estimate):
            _did_design(row, clusters, mine, theirs)
    return rows


def _did_design(row: dict, cells: Cells, mine: dict, theirs: dict) -> None:
    """What a reader needs beside the estimate: the follow-up means adjusted as the model does
    (baseline + each side's change within its districts; their difference of differences is the
    estimate exactly), the effect in baseline standard deviations, and the MDE. With fewer than
    MIN_DISTRICTS districts: no p-value and no interval (the bootstrap has nothing to resample)."""
    row.update(mean_follow_up_adjusted=row["mean_baseline"] + side_change(cells, True),
               mean_comparison_follow_up_adjusted=row["mean_comparison_baseline"] + side_change(cells, False),
               baseline_sd=combined_sd(mine["n_baseline"], mine["mean_baseline"], mine["baseline_sd"],
                                       theirs["n_baseline"], theirs["mean_baseline"], theirs["baseline_sd"]))
    row["effect_size"] = row["estimate"] / row["baseline_sd"] if row["baseline_sd"] > 0 else math.nan
    if row["clusters_programme"] + row["clusters_comparison"] < MIN_DISTRICTS:
        row.update(p_value=math.nan, ci_low=math.nan, ci_high=math.nan, mde=math.nan, bootstrap_reps=None,
                   inference="none")
        # the notes about the interval (one district on a side, unbounded) say nothing without one
        row["_reasons"] = [r for r in row["_reasons"] if r not in ("unbounded", "one_programme", "one_comparison")
                           ] + ["few_districts"]
    else:
        row["mde"] = did_mde(cells)


def _did_result(row: dict, result: DidResult, mine: dict, theirs: dict, indicative_below) -> None:
    row.update(clusters_programme=result.clusters_treated, clusters_comparison=result.clusters_control)
    if math.isnan(result.estimate):
        row["_reasons"].append("not_estimable")
        return
    # No `se` here: the cluster-robust standard error is only the bootstrap's studentising
    # device; with one treated district it is far too small and would mislead on its own.
    row.update(estimate=result.estimate, p_value=result.p_value,
               ci_low=result.ci_low, ci_high=result.ci_high, bootstrap_reps=result.reps,
               mean_baseline=mine["mean_baseline"], mean_follow_up=mine["mean_follow_up"],
               mean_comparison_baseline=theirs["mean_baseline"],
               mean_comparison_follow_up=theirs["mean_follow_up"])
    if result.enumerated:
        row["inference"] += "_enumerated"
    if min(row[k] for k in ("n_baseline", "n_follow_up", "n_comparison_baseline", "n_comparison_follow_up")) \
            < indicative_below:
        row["_reasons"].append("indicative")
    if result.clusters_treated < 2:
        row["_reasons"].append("one_programme")
    if result.clusters_control < 2:
        row["_reasons"].append("one_comparison")
    if math.isinf(result.ci_low) or math.isinf(result.ci_high):
        row["_reasons"].append("unbounded")


def _finish(rows: list[dict], items, groups, min_cell, indicative_below, catalogue) -> pd.DataFrame:
    withheld = {"suppressed", "secondary", "inherited", "not_estimable"}
    flags = {"indicative", "one_programme", "one_comparison", "unbounded", "few_districts", "pre_trend"}
    for row in rows:
        reasons = row.pop("_reasons")
        row["suppressed"] = bool(withheld & set(reasons))
        row["indicative"] = bool(flags & set(reasons))
        row["note_de"] = note(reasons, 0, min_cell=min_cell, indicative_below=indicative_below,
                              min_districts=MIN_DISTRICTS, districts=_districts(row))
        row["note_en"] = note(reasons, 1, min_cell=min_cell, indicative_below=indicative_below,
                              min_districts=MIN_DISTRICTS, districts=_districts(row))
        if row["suppressed"]:   # never computed, never published
            for column in NUMBERS:
                row[column] = math.nan
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("family", "family_size", "p_adjusted",
                                                                        "established")])
    frame = judge(frame, catalogue).reindex(columns=list(COLUMNS))
    for column in NUMBERS:
        frame[column] = frame[column].astype(float)
    for column in (*COUNTS, *WAVE_COLUMNS):
        frame[column] = frame[column].astype("Int64")
    for column in ("indicative", "suppressed", "established"):
        frame[column] = frame[column].astype(bool)
    for column in ("programme_id", "method", "item", "district_ags", "district_name", "role", "group",
                   "inference", "family", "note_de", "note_en"):
        frame[column] = frame[column].fillna("").astype(str)
    return sort_impact(frame, items, groups)


def _districts(row: dict) -> int:
    return int((row.get("clusters_programme") or 0) + (row.get("clusters_comparison") or 0))


def sort_impact(frame: pd.DataFrame, items=None, groups=None) -> pd.DataFrame:
    """Deterministic order: programme, method (did, its robustness rows, the event study, pre_post), item (survey
    order), role, district (pool first), group (ALL first), wave."""
    items = list(items or survey_items())
    groups = [ALL, *(groups or survey_groups())]
    key = pd.DataFrame({
        "p": frame["programme_id"],
        "m": frame["method"].map({method: i for i, method in enumerate(METHODS)}),
        "i": frame["item"].map(lambda v: items.index(v) if v in items else len(items)),
        "r": frame["role"].map({"programme": 0, "comparison": 1}),
        "d0": ~frame["district_ags"].isin([ALL, ALL_COMPARISON]),
        "d": frame["district_ags"],
        "g": frame["group"].map(lambda v: groups.index(v) if v in groups else len(groups)),
        "w": frame["wave"].astype("Float64").fillna(0) if "wave" in frame else 0,
    })
    order = key.sort_values(list(key.columns), kind="mergesort").index
    return frame.loc[order].reset_index(drop=True)


def estimate_impact(con, catalogue, *, bootstrap_reps: int = 999, seed: int = 20240601, min_cell: int = MIN_CELL,
                    indicative_below: int = INDICATIVE_BELOW, items=None) -> pd.DataFrame:
    """Pre/post and difference-in-differences estimates for every programme with survey
    responses; one row per programme × method × item × district (or pool) × group. Reads
    `cur_survey`. Deterministic for a given seed. Raises ValueError for anything that is not a
    survey score item (output counts never get an impact)."""
    items = check_items(items)
    groups = survey_groups()
    every_wave = load_responses(con, catalogue, items)
    long = two_waves(every_wave)
    if long.empty:
        return _finish([], items, groups, min_cell, indicative_below, catalogue)
    districts = DistrictCells.of(long, groups)
    pre_post = _pre_post_rows(cell_stats(long), districts, catalogue, groups, min_cell, indicative_below)
    did = _did_rows(districts, pre_post, catalogue, groups, bootstrap_reps=bootstrap_reps, seed=seed,
                    min_cell=min_cell, indicative_below=indicative_below)
    robust = robustness_rows(long, did, districts, catalogue, groups, bootstrap_reps=bootstrap_reps,
                             rng_for=functools.partial(functools.partial, _row_seed, seed),
                             indicative_below=indicative_below)
    events = event_rows(every_wave, did + robust, catalogue, bootstrap_reps=bootstrap_reps,
                        rng_for=functools.partial(functools.partial, _row_seed, seed), min_cell=min_cell,
                        indicative_below=indicative_below)
    frame = _finish(pre_post + did + robust + events, items, groups, min_cell, indicative_below, catalogue)
    if not set(frame["item"]) <= set(survey_items()):   # belt and braces: only survey items, ever
        raise ValueError("impact rows for a non-survey item")
    return frame


def write_impact_table(con, frame: pd.DataFrame) -> None:
    """CREATE OR REPLACE the warehouse table (NaN become NULL)."""
    con.register("_impact_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM _impact_frame")
    finally:
        con.unregister("_impact_frame")


def write_impact_export(frame: pd.DataFrame, exports_dir: Path | str) -> Path:
    """exports/impact.csv: sorted, numbers rounded to 4 decimals, byte-identical for the same data."""
    path = Path(exports_dir) / EXPORT_NAME
    out = sort_impact(frame.reindex(columns=list(COLUMNS)))
    for column in NUMBERS:
        out[column] = out[column].astype(float).round(4)
    write_csv(out, path)
    return path

