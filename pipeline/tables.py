"""Writing tables people open in Excel: deterministic bytes, no formula injection."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe.
    Numbers stay numbers: only object/string columns are touched."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            text = out[col]
            risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES))
            out[col] = text.mask(risky, "'" + text.astype("string"))
    return out


def write_if_changed(path: Path, data: bytes) -> bool:
    """Leave an unchanged file untouched, so a second run changes nothing (not even mtimes)."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def csv_bytes(frame: pd.DataFrame) -> bytes:
    # UTF-8 with BOM so Excel shows umlauts; "\n" line endings on every platform.
    return ("\ufeff" + neutralise(frame).to_csv(index=False, lineterminator="\n")).encode("utf-8")


def write_csv(frame: pd.DataFrame, path: Path) -> bool:
    return write_if_changed(path, csv_bytes(frame))
