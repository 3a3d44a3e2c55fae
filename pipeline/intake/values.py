"""Vectorised reading of text values as their contract types (contract section 2).

Each parser takes a column of text and returns (typed values, unparsed text): the second holds
the original text where it could not be read, so the suite can reject exactly those cells as
`bad_value`. Empty cells are neither parsed nor unparsed: required-ness is the suite's rule.
"""
from __future__ import annotations

import pandas as pd

from pipeline.contract import Column, Contract, fold

ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[ T]00:00(?::00)?)?$"
GERMAN_DATE = r"^\d{1,2}\.\d{1,2}\.\d{4}(?: 0?0:00(?::00)?)?$"  # a midnight time part is still a date
GERMAN_NUMBER = r"^-?\d{1,3}(?:\.\d{3})+(?:,\d+)?$|^-?\d+,\d+$"
PLAIN_NUMBER = r"^-?\d+(?:\.\d+)?$"
ENGLISH_THOUSANDS = r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
RANGE = r"^(\d+)\s*(?:-|–|—|bis)\s*(\d+)$"
# Numbers beyond this are not counts or amounts, and beyond 2**53 they would not even be exact
# (beyond 2**63 a BIGINT wraps to a negative number). They are typed as TOO_LARGE (signed), which
# the suites reject as out_of_range "Zahl zu groß / number too large".
MAX_NUMBER = 999_999_999_999_999
TOO_LARGE = MAX_NUMBER + 1


def _unparsed(text: pd.Series, typed: pd.Series) -> pd.Series:
    return text.where(text.notna() & typed.isna())


def parse_date(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    iso = text.str.match(ISO_DATE, na=False)
    german = text.str.match(GERMAN_DATE, na=False)
    typed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    if iso.any():
        typed[iso] = pd.to_datetime(text[iso].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    if german.any():
        typed[german] = pd.to_datetime(text[german].str.split(" ").str[0], format="%d.%m.%Y", errors="coerce")
    return typed, _unparsed(text, typed)


ISO_MONTH = r"^\d{4}-\d{2}$"


def parse_month(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A month `YYYY-MM`, or a date of which the month counts (contract: trajectories'
    `arrival_month`), as the month's first day."""
    typed, _ = parse_date(text)
    month = text.str.match(ISO_MONTH, na=False)
    if month.any():
        typed[month] = pd.to_datetime(text[month], format="%Y-%m", errors="coerce")
    typed = typed.dt.to_period("M").dt.to_timestamp().astype("datetime64[s]")
    return typed, _unparsed(text, typed)


def parse_number(text: pd.Series, decimal_comma: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`1.000,50` where a decimal comma is allowed (`;`/tab CSV, workbooks), else `1000.50`."""
    cleaned = text.str.replace(r"\s*(?:€|EUR)\s*$|^\s*(?:€|EUR)\s*", "", regex=True).str.replace(r"(?<=\d)\s+(?=\d{3})", "", regex=True)
    german = decimal_comma & cleaned.str.match(GERMAN_NUMBER, na=False)
    english = ~decimal_comma & cleaned.str.match(ENGLISH_THOUSANDS, na=False)
    plain = cleaned.str.match(PLAIN_NUMBER, na=False)
    normal = cleaned.where(plain)
    normal = normal.mask(german, cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    normal = normal.mask(english, cleaned.str.replace(",", "", regex=False))
    typed = pd.to_numeric(normal, errors="coerce").astype("float64").clip(-TOO_LARGE, TOO_LARGE)
    return typed, _unparsed(text, typed)


def parse_int(text: pd.Series, decimal_comma: pd.Series) -> tuple[pd.Series, pd.Series]:
    number, _ = parse_number(text, decimal_comma)
    whole = number.where(number.notna() & (number % 1 == 0))
    typed = whole.astype("Int64")
    return typed, _unparsed(text, typed)


def parse_range(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """`750-800`, `750 – 800` or a single number -> (low, high, unparsed)."""
    parts = text.str.extract(RANGE)
    single = text.str.match(r"^\d+$", na=False)
    low = pd.to_numeric(parts[0].where(~single, text), errors="coerce").astype("float64").clip(upper=TOO_LARGE).astype("Int64")
    high = pd.to_numeric(parts[1].where(~single, text), errors="coerce").astype("float64").clip(upper=TOO_LARGE).astype("Int64")
    inverted = (low > high).fillna(False)
    low, high = low.mask(inverted), high.mask(inverted)
    return low, high, _unparsed(text, low)


def parse_bool(text: pd.Series, column: Column, contract: Contract) -> tuple[pd.Series, pd.Series]:
    folded = text.fillna("").map(fold)
    typed = pd.Series(pd.NA, index=text.index, dtype="boolean")
    typed[folded.isin(contract.true_values)] = True
    typed[folded.isin(contract.false_values)] = False
    if column.default is not None:
        typed[text.isna()] = bool(column.default)
    return typed, _unparsed(text, typed)


def parse_enum(text: pd.Series, column: Column) -> pd.Series:
    """Aliases map to the canonical value; anything else stays as written for the suite to reject."""
    folded = text.map(fold, na_action="ignore")
    typed = folded.map(column.enum_lookup).fillna(text)
    if column.default is not None:
        typed = typed.fillna(column.default)
    return typed


def type_columns(raw: pd.DataFrame, columns: tuple[Column, ...], contract: Contract) -> pd.DataFrame:
    """Raw text frame -> frame with <col> typed, <col>__raw text and <col>__unparsed markers."""
    out = pd.DataFrame(index=raw.index)
    comma = raw["decimal_comma"].fillna(False).astype(bool)
    for col in columns:
        text = raw[col.name].astype("string") if col.name in raw else pd.Series(pd.NA, index=raw.index, dtype="string")
        text = text.astype(object).where(text.notna(), None)
        out[f"{col.name}__raw"] = text
        if col.type == "date":
            out[col.name], out[f"{col.name}__unparsed"] = parse_date(text.astype("string"))
        elif col.type == "month":
            out[col.name], out[f"{col.name}__unparsed"] = parse_month(text.astype("string"))
        elif col.type == "int":
            out[col.name], out[f"{col.name}__unparsed"] = parse_int(text.astype("string"), comma)
        elif col.type == "decimal":
            out[col.name], out[f"{col.name}__unparsed"] = parse_number(text.astype("string"), comma)
        elif col.type == "bool":
            out[col.name], out[f"{col.name}__unparsed"] = parse_bool(text.astype("string"), col, contract)
        elif col.type == "range":
            low, high, unparsed = parse_range(text.astype("string"))
            out[col.name], out[f"{col.name}_low"], out[f"{col.name}_high"] = low, low, high
            out[f"{col.name}__unparsed"] = unparsed
        elif col.type == "enum":
            out[col.name] = parse_enum(text, col)
        else:
            out[col.name] = text
    return out
