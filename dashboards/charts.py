"""The Plotly figures of the site and the slides: what every chart shares. The charts themselves
are by page: charts_programme.py (heat map, bars, cumulative progress, micro-project funds),
charts_district.py (indicators over time), charts_overview.py (start and data quality pages) and
charts_impact.py (forest plots, means per wave). Each chart takes published (privacy-checked) rows
and returns a figure; none reads the warehouse or knows about pages.

Hover texts are formatted in Python with the page's locale, so a German reader sees `1.234,5`
everywhere, not only on the axes (which follow `layout.separators`).
"""
from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from dashboards import i18n
from dashboards.i18n import is_missing
from pipeline.catalogue import Programme
from pipeline.indicators.model import ALL, ALL_COMPARISON
from pipeline.quarters import quarter_of, quarters_between

SURVEY_UNITS = ("score", "responses")


def fmt(value, lang: str, unit: str | None = None) -> str:
    if unit == "eur":
        return i18n.number(value, lang, 2 if value != int(value) else 0) + " EUR" if not is_missing(value) else "–"
    return i18n.number(value, lang, 2 if unit == "score" else None)


def label(row_or_indicator, lang: str) -> str:
    return i18n.label(row_or_indicator, lang)


def district_names(frame: pd.DataFrame, lang: str) -> list[str]:
    """Every row's district name: the pooled rows (all programme / comparison districts) in words."""
    special = {ALL: i18n.t(lang, "all_districts"), ALL_COMPARISON: i18n.t(lang, "comparison_districts")}
    return [special.get(a, str(n)) for a, n in zip(frame["district_ags"], frame["district_name"])]


# What a go.Figure with style.EMPTY_TEMPLATE writes as its template. The site's figures are plain
# dicts (plotly's validating setters took most of the site's build time at national scale) and
# keep it, so a page is byte for byte what the go.Figure version wrote.
GO_TEMPLATE = {"data": {"scatter": [{"type": "scatter"}]}}


def figure(data: list[dict], layout: dict) -> dict:
    layout["template"] = GO_TEMPLATE
    return {"data": data, "layout": layout}


def trace(kind: str, **props) -> dict:
    """A trace as plotly writes it: properties left at None are not written."""
    return {"type": kind, **{k: v for k, v in props.items() if v is not None}}


# plotly.js's typed array format: {"dtype": code, "bdata": base64 of the array's bytes}. Written
# here because plotly's converter is private (_plotly_utils); the same output as go.Figure's JSON.
TYPED_ARRAY_CODES = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
                     "float32": "f4", "float64": "f8"}


def typed_array(values):
    """A numeric column as plotly writes a numpy array: a base64 typed array, 64-bit whole numbers
    in the narrowest type that holds them; an array of another kind stays an array (the JSON
    encoder writes it as a list)."""
    array = np.ascontiguousarray(values)
    if array.size and array.dtype in (np.int64, np.uint64):
        narrower = (np.int8, np.int16, np.int32) if array.dtype == np.int64 else (np.uint8, np.uint16, np.uint32)
        fits = [t for t in narrower if np.iinfo(t).min <= array.min() and array.max() <= np.iinfo(t).max]
        if not fits:
            return array
        array = array.astype(fits[0])
    code = TYPED_ARRAY_CODES.get(str(array.dtype))
    if not array.size or code is None:
        return array
    spec = {"dtype": code, "bdata": base64.b64encode(array.tobytes()).decode("ascii")}
    if array.ndim > 1:
        spec["shape"] = str(array.shape)[1:-1]
    return spec


def programme_quarters(programme: Programme) -> list[str]:
    """The quarters of a programme's period, `2021-Q1` ...: the x axis of its charts over time."""
    return quarters_between(quarter_of(programme.start), quarter_of(programme.end))

