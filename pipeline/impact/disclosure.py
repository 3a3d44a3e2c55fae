"""Disclosure control: small cells never published, nor derivable.

A row with fewer than ``min_cell`` (5) persons in any cell is ``suppressed``: its numbers are NaN
from the start, never computed into the frame. Because the pools and the group ``ALL`` rows are
sums of the other rows, a small cell could be recovered by subtraction; secondary suppression
withholds further rows until no small cell (nor a small combination of cells) is derivable from
what is published (an exact linear-algebra audit of the table). Counts (n) stay published: they
say nothing about anybody's answers.
"""
from __future__ import annotations

import itertools

import numpy as np

from pipeline.impact.survey import ALL, ALL_COMPARISON, POOL, WAVES

MIN_CELL = 5
INDICATIVE_BELOW = 30
# Published means and estimates (1–5 scale) to two decimals, p-values to three: what a reader
# needs, and each published equation blurred by up to half a unit of its last decimal.
PUBLISHED_DECIMALS = 2
P_VALUE_DECIMALS = 3


def _null_space(matrix: np.ndarray, width: int) -> np.ndarray:
    """Columns spanning {x : matrix·x = 0}: a combination t·x of the unknowns is determined by
    the published figures exactly when t is orthogonal to all of them."""
    if not len(matrix):
        return np.eye(width)
    _, singular, vh = np.linalg.svd(matrix)
    rank = int((singular > 1e-9 * max(1.0, singular.max(initial=0.0))).sum())
    return vh[rank:].T


def protect(entries: dict, districts: list[str], pool: str, groups: list[str], min_cell: int) -> set:
    """Secondary suppression for one programme × item × role table (districts × groups, with the
    pool row and the ALL column as margins). entries: (district, group) -> {"n": {wave: n},
    "suppressed": bool}. Returns the entries to withhold in addition. Every margin equation
    (row total = sum of its groups; pool = sum of its districts) is known for published entries;
    an unpublished entry whose n is > 0 is an unknown. No unknown with 0 < n < min_cell — and no
    line's sum of unknown cells with 0 < n < min_cell — may be determined by the equations
    (an exact audit: one SVD of the equations per change)."""
    rows, cols = [*districts, pool], [*groups, ALL]
    lines = [([(r, g) for g in groups], (r, ALL)) for r in rows]
    lines += [([(d, c) for d in districts], (pool, c)) for c in cols]
    added: set = set()

    def n(key, wave):
        return entries[key]["n"][wave] if key in entries else 0

    def hidden(key):
        return key in entries and (entries[key]["suppressed"] or key in added)

    def first_derivable(wave):
        unknown = [key for key in entries if hidden(key) and n(key, wave) > 0]
        position = {key: i for i, key in enumerate(unknown)}
        matrix = []
        for cells, total in lines:
            row = np.zeros(len(unknown))
            for key in cells:
                if key in position:
                    row[position[key]] = 1.0
            if total in position:
                row[position[total]] = -1.0
            if row.any():
                matrix.append(row)
        null = _null_space(np.array(matrix), len(unknown))
        targets = [[key] for key in unknown if n(key, wave) < min_cell]
        for cells, _ in lines:
            group = [key for key in cells if key in position]
            if len(group) > 1 and 0 < sum(n(key, wave) for key in group) < min_cell:
                targets.append(group)
        for target in targets:
            vector = np.zeros(len(unknown))
            vector[[position[key] for key in target]] = 1.0
            if np.abs(vector @ null).max(initial=0.0) < 1e-9:
                return target
        return None

    for wave in itertools.cycle(WAVES):
        target = first_derivable(wave)
        if target is None:
            other = WAVES[1 - WAVES.index(wave)]
            if first_derivable(other) is None:
                return added
            continue
        extra = _complement(target, wave, lines, rows, cols, n, hidden, entries)
        if not extra:   # last resort, not reached in a two-way table: withhold the rest
            extra = {key for key in entries if not hidden(key) and n(key, wave) > 0}
        if not extra:
            raise RuntimeError(f"cannot protect {target}")   # a derivable cell with everything hidden: impossible
        added.update(extra)


def _complement(target, wave, lines, rows, cols, n, hidden, entries) -> set:
    """What to withhold next so that `target` is no longer derivable. For one cell (r, c): the
    cheapest rectangle (r, c'), (r', c), (r', c') — the classic pattern that leaves a cell
    underdetermined in a two-way table with margins — counting the persons newly hidden. Else (or
    for a combination of cells) the smallest published entry of a line through the target."""
    def usable(key):
        return key in entries and n(key, wave) > 0

    def cost(key):
        return 0 if hidden(key) else sum(n(key, w) for w in WAVES)

    if len(target) == 1:
        r, c = target[0]
        best = None
        for r2, c2 in itertools.product(rows, cols):
            corners = [(r, c2), (r2, c), (r2, c2)]
            if r2 == r or c2 == c or not all(usable(k) for k in corners):
                continue
            rank = (sum(cost(k) for k in corners), rows.index(r2), cols.index(c2))
            if not all(hidden(k) for k in corners) and (best is None or rank < best[0]):
                best = (rank, corners)
        if best is not None:
            return {k for k in best[1] if not hidden(k)}
    candidates = [key for cells, total in lines if set(target) & {*cells, total}
                  for key in [*cells, total] if usable(key) and not hidden(key)]
    if not candidates:
        return set()
    return {min(candidates, key=lambda key: (n(key, wave), cost(key), rows.index(key[0]), cols.index(key[1])))}



# -- publication: survey blocks across every table that shares a margin ---------------------------
#
# The survey's counts are published in several tables that share margins: the groups of a district
# add up to its survey file's accepted rows (the district page's delivery table, the delivery's
# quality report), the districts add up to the programme's "all districts" row, and the impact
# table repeats the same cells with their means. Withholding only the small cell, or only within
# one of these tables, lets a reader subtract (53 − 26 − 24 = 3). The rule for publication
# (docs/disclosure.md): a district with a survey group of 1 to 4 respondents in a wave is a
# *block*: every survey figure of that district in that programme (counts, means, case numbers,
# the survey file's row counts) is withheld. A block alone in its programme role would still be
# the pool minus the other districts, so the next-smallest district of the role is withheld with
# it; where that leaves no other district, the pool is withheld as well. An estimate built from a
# withheld cell is withheld (`withheld_estimates`).


def survey_blocks(counts, min_cell: int = MIN_CELL) -> set[tuple[str, str]]:
    """(programme, district or pool) whose survey figures are withheld from publication.
    counts: rows (programme_id, role, district_ags, group, wave, n) of respondents per district,
    role "programme" or "comparison" (whose pool is POOL[role])."""
    total: dict[tuple[str, str], dict[str, int]] = {}
    small: set[tuple[str, str, str]] = set()
    for programme, role, district, _group, _wave, n in counts:
        total.setdefault((programme, role), {}).setdefault(district, 0)
        total[(programme, role)][district] += int(n)
        if 0 < n < min_cell:
            small.add((programme, role, district))
    out: set[tuple[str, str]] = set()
    for (programme, role), districts in total.items():
        blocked = {d for d in districts if (programme, role, d) in small}
        if not blocked:
            continue
        rest = sorted((n, d) for d, n in districts.items() if d not in blocked)
        if len(blocked) == 1 and rest:
            blocked.add(rest[0][1])
            rest = rest[1:]
        if len(rest) < 2:   # the pool minus at most one published district would give the blocks' sum
            blocked.add(POOL[role])
            blocked.update(d for _, d in rest)
        out.update((programme, d) for d in blocked)
    return out


def withheld_estimates(rows, blocks: set[tuple[str, str]], comparison_of) -> list[bool]:
    """Per impact row (dicts with programme_id, method, district_ags, role), whether publication
    withholds it because a cell it is built from is in a block: a pre/post row of a blocked
    district or pool; a DiD row whose programme side (the district, or every programme district
    for the pool) or comparison pool holds a blocked district; a robustness or event-study row
    (pooled over every programme district) like the pooled DiD. `comparison_of(programme)` gives
    (programme districts, comparison districts)."""
    out = []
    for row in rows:
        programme, district = row["programme_id"], row["district_ags"]
        if row["method"] == "pre_post":
            out.append((programme, district) in blocks)
            continue
        districts, comparison = comparison_of(programme)
        # every other method compares the programme side with the comparison pool: the per-district
        # DiD one programme district; the pooled DiD, its robustness rows (top box; leave-one-out,
        # whose district_ags is the district left out) and the event-study rows all of them
        treated = [district] if row["method"] == "did" and district != ALL else districts
        district = district if row["method"] == "did" else ALL
        used = {*treated, *comparison, ALL_COMPARISON, *([ALL] if district == ALL else [])}
        out.append(any((programme, d) in blocks for d in used))
    return out
