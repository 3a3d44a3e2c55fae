"""Writing files people open in Excel: deterministic bytes, no formula injection, no half files.

Safe: a text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
leading apostrophe (OWASP "CSV injection"); numbers, and text that is just a number, stay as they
are. Deterministic: fixed line endings and float format. Unchanged content is not rewritten, so
a second run on the same data changes nothing, not even a file's mtime.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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


def folder_entries(folder: Path) -> list[tuple[str, os.DirEntry]]:
    """What a folder and its subfolders hold, one level down (reports/<quarter>/<file>), as
    (path relative to `folder`, entry); nothing if the folder is missing. Listed a folder at a
    time: the entries carry what is needed (type, stat) without a lookup per file."""
    try:
        top = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    found = []
    for entry in top:
        found.append((entry.name, entry))
        if entry.is_dir():
            found += [(f"{entry.name}/{inner.name}", inner) for inner in os.scandir(entry.path)]
    return found


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
    write_if_changed(path, "\ufeff".encode("utf-8") + csv_bytes(frame, neutralise_text))
    return path


def csv_bytes(frame: pd.DataFrame, neutralise_text: bool = True) -> bytes:
    """The bytes `to_csv(index=False, lineterminator="\\n", float_format=FLOAT_FORMAT)` gives for
    the (neutralised) frame. Plain columns (text, whole numbers, floats, booleans) are formatted
    once per distinct value and the rows joined by Arrow: pandas formats and quotes every cell in
    Python, about 2 s for the 200,000 indicator rows. Anything else goes through pandas itself."""
    try:
        return _fast_csv_bytes(frame, neutralise_text)
    except _NotPlain:
        data = neutralise_frame(frame) if neutralise_text else frame
        return data.to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT).encode("utf-8")


class _NotPlain(Exception):
    """A frame or column the fast CSV path does not reproduce exactly: pandas writes it."""


NEEDS_QUOTING = re.compile(r'[,"\r\n]')  # a superset: the csv module decides on these


def _fast_csv_bytes(frame: pd.DataFrame, neutralise_text: bool) -> bytes:
    columns = list(frame.columns)
    # One column: the csv module quotes an empty row ('""'); a frame without rows is just a header.
    if len(columns) < 2 or len(frame) == 0 or not all(isinstance(c, str) for c in columns):
        raise _NotPlain()
    cells = [_csv_cells(frame.iloc[:, n], neutralise_text) for n in range(len(columns))]
    rows = pc.binary_join_element_wise(*cells, _large(","))
    body = pc.binary_join(pa.LargeListArray.from_arrays([0, len(rows)], rows), _large("\n"))[0].as_buffer()
    header = ",".join(_csv_field(c) for c in columns) + "\n"
    return header.encode("utf-8") + body.to_pybytes() + b"\n"


def _large(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _csv_cells(series: pd.Series, neutralise_text: bool) -> pa.Array:
    """Each cell's CSV text, formatted once per distinct value as pandas would format it."""
    dtype = series.dtype
    if dtype == np.bool_:
        return _from_uniques(series.to_numpy(), lambda uniques: [str(u) for u in uniques])
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return pa.array(series.to_numpy()).cast(pa.large_string())
    if dtype == np.float64:
        numbers = series.to_numpy()
        # Distinct by bit pattern, so that -0.0 stays "-0"; NaN is missing.
        return _from_uniques(numbers.view(np.int64), lambda uniques: [FLOAT_FORMAT % v for v in
                                                                      uniques.view(np.float64).tolist()],
                             np.isnan(numbers))
    if (dtype == object or isinstance(dtype, pd.StringDtype)) and \
            pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        field = (lambda v: _csv_field(neutralise(v))) if neutralise_text else _csv_field
        return _from_uniques(series, lambda uniques: [field(u) for u in uniques])
    raise _NotPlain(series.name)


def _from_uniques(values, texts, missing: np.ndarray | None = None) -> pa.Array:
    """`texts` of the distinct values, taken per row; missing values are empty, as pandas' na_rep."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = pa.array(texts(uniques) + [""], pa.large_string())
    codes[codes < 0] = len(uniques)
    if missing is not None:
        codes[missing] = len(uniques)
    return texts.take(pa.array(codes))


def _csv_field(text: str) -> str:
    """One field as the csv module writes it (QUOTE_MINIMAL, doubled quotes): quoted only if needed."""
    if not NEEDS_QUOTING.search(text):
        return text
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([text, ""])
    return buffer.getvalue()[:-2]  # the row is `field,` and the line end
