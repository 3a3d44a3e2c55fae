"""Writing files people open in Excel: deterministic bytes, no formula injection, no half files.

Safe: a text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
leading apostrophe (OWASP "CSV injection"); numbers, and text that is just a number, stay as they
are. Deterministic: fixed line endings and float format. Unchanged content is not rewritten, so
a second run on the same data changes nothing, not even a file's mtime.
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)*$")  # "-12" or "+3,5" cannot run as a formula
FLOAT_FORMAT = "%.12g"  # 14.0 -> 14, 0.1 + 0.2 -> 0.3: stable text for the same figures


def neutralise(value):
    """Prefix `'` to text a spreadsheet would treat as a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def map_unique(series: pd.Series, func, missing: bool = False) -> pd.Series:
    """`series.map(func)` for a pure `func`, called once per distinct value instead of once per row
    (a column of 200,000 rows has a few hundred distinct texts). Missing values (None, NaN) stay as
    they are, unless `missing`: then `func` sees them too, as `map` would."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    values = mapped[codes]  # code -1 picks the trailing None, replaced below
    gaps = codes < 0
    if gaps.any():
        original = series.to_numpy(dtype=object)[gaps]
        values[gaps] = [func(v) for v in original] if missing else original
    return pd.Series(values, index=series.index, name=series.name)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Neutralise the text columns; numeric and boolean columns are left as they are."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = map_unique(out[column], neutralise)
    return out


@contextlib.contextmanager
def atomic_path(path: Path):
    """Write to a temporary name, then move it in place only if the bytes changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        if path.exists() and path.read_bytes() == tmp.read_bytes():
            return
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_if_changed(path: Path, data: bytes) -> bool:
    path = Path(path)
    if path.exists() and path.read_bytes() == data:
        return False
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return True


def write_csv(frame: pd.DataFrame, path: Path | str, neutralise_text: bool = True) -> Path:
    """Comma-separated UTF-8 with BOM (Excel then reads umlauts right), `\\n` line endings."""
    path = Path(path)
    data = neutralise_frame(frame) if neutralise_text else frame
    text = data.to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT)
    write_if_changed(path, ("\ufeff" + text).encode("utf-8"))
    return path
