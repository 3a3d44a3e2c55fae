"""The survey as the estimates see it: which items may be estimated, the respondent groups, the
responses read from the warehouse (`cur_survey`) and their per-cell aggregates."""
from __future__ import annotations

import functools
import itertools
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.contract import EXPECTATIONS_DIR
from pipeline.impact.estimator import Cells

ALL = "ALL"                      # pool of a programme's districts / all respondent groups
ALL_COMPARISON = "ALL_COMPARISON"  # pool of a programme's comparison districts
POOL = {"programme": ALL, "comparison": ALL_COMPARISON}
POOL_NAME = {ALL: "Alle Kreise des Programms", ALL_COMPARISON: "Alle Vergleichskreise"}
WAVES = ("baseline", "follow_up")


@functools.cache
def _survey_meta() -> dict:
    return json.loads((EXPECTATIONS_DIR / "survey.json").read_text(encoding="utf-8"))["meta"]


def survey_items() -> tuple[str, ...]:
    """The survey's score items (expectations/survey.json, columns with `score: true`): the only
    things that can have an impact estimate. Output counts (events, newsletters) never do."""
    return tuple(c["name"] for c in _survey_meta()["columns"] if c.get("score"))


def survey_groups() -> tuple[str, ...]:
    column = next(c for c in _survey_meta()["columns"] if c["name"] == "group")
    return tuple(column["values"])


def check_items(items) -> tuple[str, ...]:
    allowed = survey_items()
    items = allowed if items is None else tuple(items)
    foreign = [i for i in items if i not in allowed]
    if foreign:
        raise ValueError(
            f"Keine Wirkungsschätzung für {', '.join(foreign)}: nur Befragungs-Items ({', '.join(allowed)}) / "
            f"no impact estimate for {', '.join(foreign)}: survey score items only; output counts never get an impact")
    return items


# -- data -----------------------------------------------------------------------------------------

def load_responses(con, catalogue, items=None) -> pd.DataFrame:
    """One row per answered item per response and programme: programme_id, role, district_ags,
    wave, group, item (categorical labels), score, and wave_number. A response belongs to a
    programme when its district is a programme or comparison district of it and its date lies
    within the programme's survey period (from its first listed wave, which may precede the start,
    to its end: Catalogue.survey_waves).

    `wave` is the wave's part in the two-wave comparison of the pre/post and DiD rows: `baseline`
    for the last wave before the start, `follow_up` for the last wave after it, `pre` / `post` for
    the other listed waves (only the event study uses those); `wave_number` its number in the
    programme's listing (a two-wave programme: 1 and 2)."""
    items = check_items(items)
    waves = catalogue.survey_waves
    long_columns = ["programme_id", "role", "district_ags", "wave", "group", "item", "score", "wave_number"]
    if waves.empty:
        return pd.DataFrame(columns=long_columns)
    roles = catalogue.membership[["district_ags", "programme_id", "role"]]
    members = waves.merge(roles, on=["district_ags", "programme_id"])
    reference = members[members["before_start"]].groupby("programme_id")["wave_number"].max()
    last = members.groupby("programme_id")["wave_number"].max()
    members["phase"] = np.where(members["wave_number"] == members["programme_id"].map(reference), "baseline",
                                np.where(members["wave_number"] == members["programme_id"].map(last), "follow_up",
                                         np.where(members["before_start"], "pre", "post")))
    members = members.assign(start=members["start"].dt.date.astype(str), end=members["end"].dt.date.astype(str))
    con.register("_impact_members", members[["programme_id", "role", "district_ags", "start", "end", "wave", "phase",
                                             "wave_number"]])
    try:
        frame = con.execute(f"""
            SELECT m.programme_id, m.role, s.district_ags, m.phase AS wave, s."group",
                   {", ".join(f's."{i}"' for i in items)}, m.wave_number
            FROM cur_survey s JOIN _impact_members m
              ON s.district_ags = m.district_ags AND s.wave = m.wave
             AND s.date BETWEEN CAST(m.start AS DATE) AND CAST(m."end" AS DATE)
            WHERE s."group" IS NOT NULL
            ORDER BY ALL""").df()   # a fixed order: sums, and so the last digits, do not vary between runs
    finally:
        con.unregister("_impact_members")
    for column in long_columns[:5]:   # categories: the long format repeats every label once per item
        frame[column] = frame[column].astype(str).astype("category")
    id_columns = [*long_columns[:5], "wave_number"]
    long = frame.melt(id_vars=id_columns, value_vars=list(items), var_name="item", value_name="score")
    long = long[long["score"].notna()]   # unanswered items are excluded per item
    long = long.assign(score=long["score"].astype(float), item=long["item"].astype("category"),
                       wave_number=long["wave_number"].astype(int))
    return long[long_columns].reset_index(drop=True)


def two_waves(long: pd.DataFrame) -> pd.DataFrame:
    """The responses of the baseline and follow-up waves: what the pre/post and DiD rows compare."""
    return long[long["wave"].isin(WAVES)].reset_index(drop=True)


def _codes(values: pd.Series, extra=()) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a column numbered in label order (sorting codes sorts labels), and the
    labels; `extra` labels get codes too."""
    codes, labels = pd.factorize(values, sort=True)
    labels = np.asarray(labels, dtype=object)
    if not extra:
        return codes, labels
    merged = np.array(sorted({*labels, *extra}), dtype=object)
    return np.searchsorted(merged, labels)[codes], merged


def cell_stats(long: pd.DataFrame) -> pd.DataFrame:
    """n, mean, variance per programme × role × district (and pool) × group (and ALL) × item × wave,
    in label order. Each cell's responses are aggregated in their order in `long` by pandas'
    compensated mean and variance, grouped on one integer key per cell."""
    keys = ["programme_id", "role", "district_ags", "group", "item", "wave"]
    extra = {"district_ags": tuple(POOL.values()), "group": (ALL,)}
    coded = {key: _codes(long[key], extra.get(key, ())) for key in keys}
    codes = {key: code for key, (code, _) in coded.items()}
    labels = {key: label for key, (_, label) in coded.items()}
    shape = tuple(len(labels[key]) for key in keys)
    pool = np.searchsorted(labels["district_ags"], [POOL[role] for role in labels["role"]])
    score = long["score"].to_numpy(dtype=float)
    parts = []
    for pooled, all_groups in itertools.product((False, True), repeat=2):
        variant = dict(codes)
        if pooled:
            variant["district_ags"] = pool[codes["role"]]
        if all_groups:
            variant["group"] = np.full(len(long), int(np.searchsorted(labels["group"], ALL)))
        cell = np.ravel_multi_index([variant[key] for key in keys], shape)
        parts.append(pd.Series(score).groupby(cell).agg(n="count", mean="mean", var="var"))
    stats_ = pd.concat(parts).sort_index()
    cells = pd.DataFrame({key: labels[key][code].astype(str)
                          for key, code in zip(keys, np.unravel_index(stats_.index.to_numpy(), shape))})
    for column in ("n", "mean", "var"):
        cells[column] = stats_[column].to_numpy()
    return cells


@dataclass(frozen=True)
class DistrictCells:
    """Per programme × item × group (and ALL) × district × wave: n, sum, min and max of the scores,
    dense arrays indexed by label codes (districts in label order): all a DiD row needs."""
    programmes: dict
    items: dict
    groups: dict
    districts: dict
    n: np.ndarray
    total: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, long: pd.DataFrame, groups) -> "DistrictCells":
        (programme, programmes), (item, items), (district, districts) = (
            _codes(long[key]) for key in ("programme_id", "item", "district_ags"))
        group = pd.Categorical(long["group"], categories=list(groups)).codes.astype(np.intp) + 1   # 0: ALL only
        shape = (len(programmes), len(items), len(groups) + 1, len(districts), len(WAVES))
        base = np.ravel_multi_index((programme, item, np.zeros_like(group), district,
                                     (long["wave"] == WAVES[1]).to_numpy(dtype=np.intp)), shape)
        own = group > 0
        stride = shape[3] * shape[4]
        index = np.concatenate([base, (base + group * stride)[own]])     # every response in ALL and in its group
        score = long["score"].to_numpy(dtype=float)
        score = np.concatenate([score, score[own]])
        size = math.prod(shape)
        low, high = np.full(size, np.inf), np.full(size, -np.inf)
        np.minimum.at(low, index, score)
        np.maximum.at(high, index, score)
        return cls({p: i for i, p in enumerate(programmes)}, {it: i for i, it in enumerate(items)},
                   {g: i for i, g in enumerate((ALL, *groups))}, {d: i for i, d in enumerate(districts)},
                   np.bincount(index, minlength=size).reshape(shape),
                   np.bincount(index, weights=score, minlength=size).reshape(shape),
                   low.reshape(shape), high.reshape(shape))

    def treated(self, programme) -> np.ndarray:
        mask = np.zeros(len(self.districts), dtype=bool)
        mask[[self.districts[d] for d in programme.districts if d in self.districts]] = True
        return mask

    def clusters(self, programme, treated: np.ndarray, item: str, group: str, scope: str):
        """The responses of one DiD row by district: (counts per side and wave, Cells of the
        districts with both waves), or None when the row has no programme-district response.
        treated: self.treated(programme)."""
        at = (self.programmes[programme.id], self.items[item], self.groups[group])
        n = self.n[at]
        chosen = n.sum(axis=1) > 0
        if scope != ALL:
            chosen &= ~treated
            if scope in self.districts:
                chosen[self.districts[scope]] = n[self.districts[scope]].sum() > 0
        mine, theirs = chosen & treated, chosen & ~treated
        if not mine.any():
            return None
        counts = {"n_baseline": int(n[mine, 0].sum()), "n_follow_up": int(n[mine, 1].sum()),
                  "n_comparison_baseline": int(n[theirs, 0].sum()), "n_comparison_follow_up": int(n[theirs, 1].sum())}
        keep = chosen & (n[:, 0] > 0) & (n[:, 1] > 0)
        total = self.total[at][keep]
        cells = Cells(n[keep, 0].astype(float), n[keep, 1].astype(float), total[:, 0], total[:, 1], treated[keep],
                       float(self.low[at][keep].min(initial=np.inf)), float(self.high[at][keep].max(initial=-np.inf)))
        return counts, cells

