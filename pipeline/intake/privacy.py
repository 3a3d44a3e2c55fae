"""Person keys that are no pseudonyms are never stored, nor shown where they could stay.

The one definition of a valid pseudonym is the feed's GX suite (expectations/<feed>.json): its
regex expectations marked `mask_value` (the `bad_pseudonym` rules). Before raw rows are written,
every value failing one of them is replaced by a mask that fails the same rules, so staging
rejects the row for the same reason and the district's report still says why, while the value
itself reaches neither the warehouse file nor any report, log or Dagster event.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.contract import Contract, Feed
from pipeline.intake.suite import MASK

__all__ = ["MASK", "REGEX_RULES", "failing_rules", "hide_pseudonyms", "masks", "pseudonym_rules"]

REGEX_RULES = {"expect_column_values_to_match_regex": True, "expect_column_values_to_not_match_regex": False}


def pseudonym_rules(feed: Feed) -> dict[str, list[tuple[str, bool]]]:
    """Per column: the suite's regex rules whose failing values are never repeated (`mask_value`
    in the expectation's meta, the `bad_pseudonym` rules), as (regex, must_match): the one
    definition of a valid pseudonym, read from expectations/<feed>.json."""
    rules: dict[str, list[tuple[str, bool]]] = {}
    for e in feed.suite["expectations"]:
        if e.get("meta", {}).get("mask_value") and e["type"] in REGEX_RULES:
            rules.setdefault(e["kwargs"]["column"], []).append((e["kwargs"]["regex"], REGEX_RULES[e["type"]]))
    return rules


def failing_rules(values: pd.Series, rules: list[tuple[str, bool]]) -> np.ndarray:
    """values x rules: True where a (non-missing) value fails a rule, evaluated as GX's pandas
    engine and the screen do (`str.contains`, Python's re)."""
    text = pd.Series(values, dtype=object).astype(str)
    out = np.zeros((len(text), len(rules)), dtype=bool)
    with warnings.catch_warnings():  # pandas warns about match groups
        warnings.simplefilter("ignore", UserWarning)
        for k, (regex, must_match) in enumerate(rules):
            hits = text.str.contains(regex).to_numpy(dtype=bool)
            out[:, k] = ~hits if must_match else hits
    return out


def _shape(value: str, n: int) -> str:
    """A stand-in of the same shape (capital, small letter, digit, anything else kept), its tail
    varied by `n` so distinct values stay distinct (a duplicate key is a finding of its own)."""
    out, tag = [], n
    for c in reversed(value):
        if c.isalpha():
            out.append(chr((ord("A") if c.isupper() else ord("a")) + tag % 26))
            tag //= 26
        elif c.isdigit():
            out.append(str(tag % 10))
            tag //= 10
        else:
            out.append(c)
    return "".join(reversed(out))


def masks(values, rules: list[tuple[str, bool]]) -> dict[str, str]:
    """Each of these distinct values that fails a rule -> its mask: the value's shape if that fails
    exactly the same rules (the district still learns why: "looks like a name"), else MASK;
    distinct values get distinct masks. Values that pass are not in the answer."""
    values = pd.Series(values, dtype=object).dropna().reset_index(drop=True)
    fails = failing_rules(values, rules)
    bad = fails.any(axis=1)
    if not bad.any():
        return {}
    failing, why = values[bad].tolist(), fails[bad]
    shaped = [_shape(v, n) for n, v in enumerate(failing)]
    same = (failing_rules(pd.Series(shaped, dtype=object), rules) == why).all(axis=1)
    unique = ~pd.Series(shaped, dtype=object).duplicated(keep=False).to_numpy()
    return {v: s if ok and one else f"{MASK} {n}"
            for n, (v, s, ok, one) in enumerate(zip(failing, shaped, same, unique))}


def hide_pseudonyms(contract: Contract, raw: dict[str, list]) -> set[str]:
    """Replace, in the chunk's raw rows, every person key that breaks the pseudonym rules by its
    mask (`masks`), before anything is stored; returns the receipts that had one."""
    hidden: set[str] = set()
    for feed, frames in raw.items():
        rules = pseudonym_rules(contract.feeds[feed])
        if not rules:
            continue
        for k, frame in enumerate(frames):
            table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
            for column, column_rules in rules.items():
                if column not in table.column_names or table.num_rows == 0:
                    continue
                values = table[column].cast(pa.string())
                found = masks(pc.unique(values).drop_null().to_numpy(zero_copy_only=False), column_rules)
                if not found:
                    continue
                position = pc.index_in(values, value_set=pa.array(list(found), pa.string()))
                replaced = pc.take(pa.array(list(found.values()), pa.string()), position)
                hidden.update(pc.unique(pc.filter(table["receipt_id"], pc.is_valid(position))).to_pylist())
                table = table.set_column(table.column_names.index(column), column, pc.coalesce(replaced, values))
            frames[k] = table
    return hidden
