"""The Plotly figures of the site and the slides. Each function takes published (privacy-checked)
rows and returns a figure; none reads the warehouse or knows about pages.

Hover texts are formatted in Python with the page's locale, so a German reader sees `1.234,5`
everywhere, not only on the axes (which follow `layout.separators`).
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import math

import numpy as np
import pandas as pd
from plotly.subplots import make_subplots

from dashboards import i18n, privacy, style
from dashboards.i18n import is_missing
from pipeline.catalogue import Programme
from pipeline.indicators.model import ALL, ALL_COMPARISON, Indicator
from pipeline.quarters import quarter_bounds

SURVEY_UNITS = ("score", "responses")


def _fmt(value, lang: str, unit: str | None = None) -> str:
    if unit == "eur":
        return i18n.number(value, lang, 2 if value != int(value) else 0) + " EUR" if not is_missing(value) else "–"
    return i18n.number(value, lang, 2 if unit == "score" else None)


def _name(row, lang: str) -> str:
    if row["district_ags"] == ALL:
        return i18n.t(lang, "all_districts")
    if row["district_ags"] == ALL_COMPARISON:
        return i18n.t(lang, "comparison_districts")
    return str(row["district_name"])


def _label(row_or_indicator, lang: str) -> str:
    return i18n.label(row_or_indicator, lang)


def _names(frame: pd.DataFrame, lang: str) -> list[str]:
    """`_name` for every row at once."""
    special = {ALL: i18n.t(lang, "all_districts"), ALL_COMPARISON: i18n.t(lang, "comparison_districts")}
    return [special.get(a, str(n)) for a, n in zip(frame["district_ags"], frame["district_name"])]


# What a go.Figure with style.EMPTY_TEMPLATE writes as its template. The figures below are plain
# dicts (plotly's validating setters took most of the site's build time at national scale) and
# keep it, so a page is byte for byte what the go.Figure version wrote.
GO_TEMPLATE = {"data": {"scatter": [{"type": "scatter"}]}}


def _figure(data: list[dict], layout: dict) -> dict:
    layout["template"] = GO_TEMPLATE
    return {"data": data, "layout": layout}


def _trace(kind: str, **props) -> dict:
    """A trace as plotly writes it: properties left at None are not written."""
    return {"type": kind, **{k: v for k, v in props.items() if v is not None}}


# plotly.js's typed array format: {"dtype": code, "bdata": base64 of the array's bytes}. Written
# here because plotly's converter is private (_plotly_utils); the same output as go.Figure's JSON.
TYPED_ARRAY_CODES = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
                     "float32": "f4", "float64": "f8"}


def _typed(values):
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


# -- programme page: the cross-district comparison ------------------------------------------------

def heatmap(totals: pd.DataFrame, lang: str, threshold: int) -> dict | None:
    """Indicators (rows) × districts (columns); colour = status, text = % of target and its sign."""
    rows = totals[totals["target"].notna() & ~totals["comparison"]]
    if rows.empty:
        return None
    indicators = list(dict.fromkeys(rows["indicator_id"]))
    places = list(dict.fromkeys(rows["district_ags"]))
    names = dict(zip(rows["district_ags"], _names(rows, lang)))
    cells = rows.drop_duplicates(["indicator_id", "district_ags"])
    found = dict(zip(zip(cells["indicator_id"], cells["district_ags"]),
                     _heat_cells(cells, [names[a] for a in cells["district_ags"]], lang, threshold)))
    empty = (None, "", "")
    grid = [[found.get((iid, ags), empty) for ags in places] for iid in indicators]
    z = [[c[0] for c in row] for row in grid]
    text = [[c[1] for c in row] for row in grid]
    hover = [[c[2] for c in row] for row in grid]
    n = len(style.STATUS_ORDER)
    scale = []
    for code, status in enumerate(style.STATUS_ORDER):
        colour = style.STATUS_STYLE[status][0]
        scale += [[code / n, colour], [(code + 1) / n, colour]]
    first = rows.drop_duplicates("indicator_id").set_index("indicator_id")
    y = [style.wrap(_label(first.loc[i], lang), 34) for i in indicators]
    x = [style.wrap(style.short_district(names[a]), 14) for a in places]
    trace = _trace("heatmap", z=z, x=x, y=y, text=text, texttemplate="%{text}", textfont=dict(size=13, color="#000000"),
                   hovertext=hover, hoverinfo="text", colorscale=scale, zmin=0, zmax=n, showscale=False, xgap=3, ygap=3)
    layout = style.layout(lang, height=max(260, 60 + 52 * len(indicators)), margin=dict(l=10, r=10, t=70, b=10))
    layout["xaxis"] = dict(side="top", automargin=True, fixedrange=True)
    layout["yaxis"] = dict(autorange="reversed", automargin=True, fixedrange=True)
    return _figure([trace], layout)


# Districts per heat map: at about 55 px a column, "✓ 293 %" still fits in its cell on a
# conference laptop. A programme with more districts gets several heat maps, one under another.
HEAT_COLUMNS = 20


def heatmaps(totals: pd.DataFrame, lang: str, threshold: int) -> list[dict]:
    """`heatmap` in parts of at most HEAT_COLUMNS districts, in the districts' order."""
    rows = totals[totals["target"].notna() & ~totals["comparison"]]
    places = list(dict.fromkeys(rows["district_ags"]))
    if len(places) <= HEAT_COLUMNS:
        figure = heatmap(totals, lang, threshold)
        return [figure] if figure else []
    return [heatmap(rows[rows["district_ags"].isin(places[i:i + HEAT_COLUMNS])], lang, threshold)
            for i in range(0, len(places), HEAT_COLUMNS)]


def _heat_cells(cells: pd.DataFrame, names: list[str], lang: str, threshold: int) -> list[tuple]:
    """(status code, cell text, hover text) per row of `cells`."""
    codes = {s: n for n, s in enumerate(style.STATUS_ORDER)}
    hidden = privacy.masked_text(threshold)
    out = []
    for r, name in zip(cells.to_dict("records"), names):
        status = r["status"] if isinstance(r["status"], str) else None
        if r["masked"]:
            shown = hidden
        elif is_missing(r["attainment_pct"]):  # a target of 0 has no percentage: show the count
            shown = f"{_fmt(r['value'], lang, r['unit'])} / {_fmt(r['target'], lang, r['unit'])}"
        else:
            shown = i18n.percent(r["attainment_pct"], lang)
        value = hidden if r["masked"] else _fmt(r["value"], lang, r["unit"])
        hover = (f"<b>{_label(r, lang)}</b><br>{name}<br>{i18n.t(lang, 'value')}: {value}"
                 f"<br>{i18n.t(lang, 'target')}: {i18n.t(lang, r['direction'])} {_fmt(r['target'], lang, r['unit'])}"
                 f"<br>{i18n.t(lang, 'status')}: {i18n.STATUS[lang][status]}")
        out.append((codes[status], f"{style.STATUS_STYLE[status][1]} {shown}", hover))
    return out


def _population(catalogue_districts: pd.DataFrame, programme: Programme, ags: str) -> float:
    pop = catalogue_districts["population"]
    if ags == ALL:
        return float(pop.reindex(list(programme.districts)).sum())
    if ags == ALL_COMPARISON:
        return float(pop.reindex(list(programme.comparison_districts)).sum())
    return float(pop.get(ags, float("nan")))


def indicator_bars(totals: pd.DataFrame, indicator: Indicator, programme: Programme, districts: pd.DataFrame,
                   lang: str, threshold: int, across: bool = False) -> dict | None:
    """One bar per district with its target, switchable between absolute and per 10,000 inhabitants.
    `across`: bars lie across, sorted by value (largest on top), for a programme with many
    districts, whose names would not fit under upright bars."""
    rows = totals[totals["indicator_id"] == indicator.id]
    keep_all = programme.target_level == "programme" or indicator.unit == "score"
    if not keep_all:
        rows = rows[~rows["district_ags"].isin([ALL, ALL_COMPARISON])]
    if rows.empty:
        return None
    rows = rows.assign(name=_names(rows, lang))
    unit = indicator.unit
    if across and unit != "score":
        return _bars_across(rows, indicator, programme, districts, lang, threshold)
    x = [style.wrap(style.short_district(n), 14) for n in rows["name"]]
    if unit == "score":
        return _mean_bars(rows, x, indicator, lang, threshold)
    population = [_population(districts, programme, a) for a in rows["district_ags"]]
    views = {"abs": ("value", "target", i18n.UNIT[lang].get(unit, unit)),
             "p10k": ("per_10k", None, i18n.t(lang, "per_10k"))}
    if unit in SURVEY_UNITS:  # answers per inhabitant say nothing: no switch
        del views["p10k"]
    traces, visible = [], {v: [] for v in views}
    for view, (column, _, axis_title) in views.items():
        factor = [1.0 if view == "abs" else 10000 / p for p in population]
        masked = rows["masked"].to_numpy()
        colours = [style.COMPARISON_COLOUR if c else style.DISTRICT_COLOUR for c in rows["comparison"]]
        values = rows[column].tolist()
        hover = [f"<b>{n}</b><br>{_fmt(v, lang, unit if view == 'abs' else None)}"
                 + (f" – {_fmt(h, lang, unit)} ({i18n.t(lang, 'value_high')})" if view == "abs" and not is_missing(h) and h != v else "")
                 for n, v, h in zip(rows["name"], values, rows["value_high"])]
        ranged = view == "abs" and rows["value_high"].notna().any()
        texts = [_fmt(v, lang, unit if view == "abs" else None) if not m else "" for v, m in zip(values, masked)]
        if ranged:  # "750–800": the whisker above the bar shows the upper end
            texts = [f"{t}–{_fmt(h, lang, unit)}" if t and not is_missing(h) and h != v else t
                     for t, v, h in zip(texts, values, rows["value_high"])]
        traces.append((view, _trace(
            "bar", x=x, y=[None if m else v for v, m in zip(values, masked)], marker=dict(color=colours),
            name=i18n.t(lang, "value"), hovertext=hover, hoverinfo="text", showlegend=False,
            text=texts, textposition="inside" if ranged else "outside", insidetextanchor="start",
            textfont=dict(color="white") if ranged else None, cliponaxis=False,
            error_y=_range_error(rows, factor) if ranged else None)))
        if masked.any():
            # Hidden counts: a hatched bar up to the threshold, labelled "< 5", never the value.
            ceiling = [threshold * f if m else None for f, m in zip(factor, masked)]
            label = [("< " + (str(threshold) if view == "abs" else i18n.number(threshold * f, lang, 2))) if m else ""
                     for f, m in zip(factor, masked)]
            traces.append((view, _trace(
                "bar", x=x, y=ceiling, text=label, textposition="outside", cliponaxis=False, hovertext=label,
                hoverinfo="text", name=privacy.masked_text(threshold), showlegend=False,
                marker=dict(color="white", line=dict(color=style.MASKED_COLOUR, width=1),
                            pattern=dict(shape="/", fgcolor=style.MASKED_COLOUR)))))
        targets = rows["target"].astype(float)
        if targets.notna().any():
            ty = [t * f if not is_missing(t) else None for t, f in zip(targets, factor)]
            traces.append((view, _trace(
                "scatter", x=x, y=ty, mode="markers", name=i18n.t(lang, "target" if view == "abs" else "target_per_10k"),
                marker=dict(symbol="line-ew", size=44, line=dict(width=3, color=style.TARGET_COLOUR)),
                hovertext=[f"{i18n.t(lang, 'target')}: {i18n.t(lang, indicator.direction)} {_fmt(v, lang, unit if view == 'abs' else None)}"
                           for v in ty], hoverinfo="text", showlegend=True)))
    for view, trace in traces:
        trace["visible"] = view == "abs"
        for key in visible:
            visible[key].append(view == key)
    title = _label(rows.iloc[0], lang)
    layout = style.layout(lang, title=style.wrap(title, 70), height=400, barmode="overlay", bargap=0.35)
    if len(views) > 1:
        layout.update(updatemenus=[dict(
                             type="buttons", direction="right", x=0, xanchor="left", y=1.0, yanchor="bottom",
                             pad=dict(t=4, b=4), showactive=True, active=0,
                             buttons=[dict(label=i18n.t(lang, "bar_absolute"), method="update",
                                           args=[{"visible": visible["abs"]}, {"yaxis.title.text": views["abs"][2]}]),
                                      dict(label=i18n.t(lang, "bar_per_10k"), method="update",
                                           args=[{"visible": visible["p10k"]}, {"yaxis.title.text": views["p10k"][2]}])])])
    layout["margin"] = dict(l=60, r=20, t=100 if len(views) > 1 else 70, b=60)
    layout["yaxis"] = style.axis(title=dict(text=views["abs"][2]), rangemode="tozero")
    layout["xaxis"] = style.axis()
    return _figure([trace for _, trace in traces], layout)


BAR_ROW = 16  # pixels per district of a chart with bars across


def _bars_across(rows: pd.DataFrame, indicator: Indicator, programme: Programme, districts: pd.DataFrame,
                 lang: str, threshold: int) -> dict:
    """`indicator_bars` turned on its side: the same traces and switch, bars sorted by value in each
    view (hidden counts last). Bars stand at rows 0, 1, … named by the axis' tick labels, which the
    switch swaps with the order: each name is written once per view, not once per trace."""
    rows = rows.sort_values("value", ascending=False, na_position="last", kind="stable")
    figure = indicator_bars(rows, indicator, programme, districts, lang, threshold)
    labels = _unique_short_names(rows["name"].tolist())
    order = np.argsort(-rows["per_10k"].astype(float).fillna(-np.inf).to_numpy(), kind="stable")
    rank = np.empty(len(rows), dtype=np.int16)
    rank[order] = np.arange(len(rows))
    ticks = {"abs": labels, "p10k": [labels[i] for i in order]}
    for trace in figure["data"]:  # one point per row, in the rows' order; the abs view is the one shown
        _lay_across(trace, np.arange(len(rows), dtype=np.int16) if trace["visible"] else rank)
    layout = figure["layout"]
    layout["height"] = 140 + BAR_ROW * len(rows)
    layout["xaxis"] = style.axis(title=layout["yaxis"]["title"], rangemode="tozero")
    layout["yaxis"] = style.axis(tickmode="array", tickvals=list(range(len(rows))), ticktext=ticks["abs"],
                                 range=[len(rows) - 0.5, -0.5], showgrid=False, zeroline=False, tickfont=dict(size=11))
    layout["margin"] = dict(l=10, r=40, t=layout["margin"]["t"], b=60)
    layout["bargap"] = 0.25
    for menu in layout.get("updatemenus", []):
        for button, view in zip(menu["buttons"], ("abs", "p10k")):
            title = button["args"][1].pop("yaxis.title.text")
            button["args"][1].update({"xaxis.title.text": title, "yaxis.ticktext": ticks[view]})
    return figure


def _unique_short_names(names: list[str]) -> list[str]:
    """Short names as categories; two districts with the same short name keep their full names."""
    short = [style.short_district(n) for n in names]
    seen = pd.Series(short).duplicated(keep=False).tolist()
    return [n if twice else s for n, s, twice in zip(names, short, seen)]


def _lay_across(trace: dict, positions: np.ndarray) -> None:
    """Also writes once what would repeat a hundred times: one colour where all bars share it, the
    target's hover as a template of its value (formatted with the page's separators)."""
    trace["x"], trace["y"] = trace.get("y"), _typed(positions)
    if trace["type"] == "bar":
        trace["orientation"] = "h"
        colours = trace.get("marker", {}).get("color")
        if isinstance(colours, list) and len(set(colours)) == 1:
            trace["marker"]["color"] = colours[0]
    if "error_y" in trace:
        trace["error_x"] = trace.pop("error_y")
    marker = trace.get("marker", {})
    if marker.get("symbol") == "line-ew":
        marker.update(symbol="line-ns", size=14)
        text = trace.pop("hovertext")[0]
        trace.pop("hoverinfo")
        trace["hovertemplate"] = text.rsplit(" ", 1)[0] + " %{x:,.2~f}<extra></extra>"


def _range_error(rows: pd.DataFrame, factor: list[float]) -> dict:
    up = [(h - v) if not (is_missing(h) or is_missing(v)) else 0 for v, h in zip(rows["value"], rows["value_high"])]
    return dict(type="data", symmetric=False, array=up, arrayminus=[0] * len(up), color=style.OKABE_ITO["black"])


def _mean_bars(rows: pd.DataFrame, x: list[str], indicator: Indicator, lang: str, threshold: int) -> dict:
    """Survey means: a dot per district with its 95 % interval; comparison districts as ◇."""
    data = []
    for comparison, symbol, colour in ((False, "circle", style.DISTRICT_COLOUR),
                                       (True, "diamond-open", style.COMPARISON_COLOUR)):
        part = rows[rows["comparison"] == comparison]
        if part.empty:
            continue
        xs = [style.wrap(style.short_district(n), 14) for n in part["name"]]
        hover = [f"<b>{n}</b><br>{_fmt(v, lang, 'score')} [{_fmt(lo, lang, 'score')}; {_fmt(hi, lang, 'score')}]"
                 f"<br>n = {privacy.masked_text(threshold) if m else i18n.number(k, lang)}"
                 for n, v, lo, hi, k, m in zip(part["name"], part["value"], part["ci_low"], part["ci_high"],
                                                part["n"], part["n_masked"])]
        data.append(_trace(
            "scatter", x=xs, y=_typed(part["value"]), mode="markers", hovertext=hover, hoverinfo="text",
            name=i18n.t(lang, "comparison_mark") if comparison else i18n.t(lang, "districts"),
            marker=dict(symbol=symbol, size=12, color=colour, line=dict(width=2, color=colour)),
            error_y=dict(type="data", symmetric=False, array=(part["ci_high"] - part["value"]).tolist(),
                         arrayminus=(part["value"] - part["ci_low"]).tolist(), color=colour)))
    layout = style.layout(lang, title=style.wrap(_label(rows.iloc[0], lang), 70), height=360)
    layout["yaxis"] = style.axis(range=[1, 5], title=dict(text=i18n.UNIT[lang]["score"]))
    layout["xaxis"] = style.axis(categoryorder="array", categoryarray=x)
    return _figure(data, layout)


# More districts than this, and a line per district (own colour, dash and legend entry) is a
# tangle no one can follow: the districts then share one thin line trace, named on hover.
MAX_LINES = 12


def cumulative(quarters: pd.DataFrame, totals: pd.DataFrame, indicator: Indicator, programme: Programme,
               lang: str) -> dict | None:
    """Cumulative value per quarter against the pro-rata target (target × share of the period
    elapsed at each quarter's end). Only for counts and sums of things, not persons: differences
    of cumulative figures would reveal the hidden small counts."""
    if indicator.definition.aggregate not in ("count", "sum") or indicator.unit in privacy.PERSON_UNITS:
        return None
    targets = totals[(totals["indicator_id"] == indicator.id) & totals["target"].notna()]
    if targets.empty or indicator.direction != "at_least":
        return None
    series = quarters[(quarters["indicator_id"] == indicator.id) & quarters["district_ags"].isin(targets["district_ags"])]
    axis_quarters = _programme_quarters(programme)
    order = list(dict.fromkeys(series["district_ags"]))
    firsts = series.drop_duplicates("district_ags")
    names = dict(zip(firsts["district_ags"], _names(firsts, lang)))
    running = (series.pivot(index="period", columns="district_ags", values="value")
               .reindex(index=axis_quarters, columns=order).fillna(0).cumsum())
    unit = indicator.unit
    if len(order) > MAX_LINES:
        data = [_district_lines(running, names, axis_quarters, lang, unit)]
    else:
        data = [_trace("scatter", x=axis_quarters, y=running[ags].tolist(), mode="lines+markers",
                       name=style.short_district(names[ags]),
                       line=dict(color=style.SEQUENCE[n % len(style.SEQUENCE)], width=2,
                                 dash=["solid", "dot", "dash", "longdash", "dashdot"][n // len(style.SEQUENCE) % 5]),
                       hovertext=[f"{names[ags]}<br>{q}: {_fmt(v, lang, unit)}" for q, v in running[ags].items()],
                       hoverinfo="text")
                for n, ags in enumerate(order)]
    shares = [_elapsed(programme, q) for q in axis_quarters]
    for target in sorted(set(targets["target"].astype(float))):
        line = [target * s for s in shares]
        data.append(_trace(
            "scatter", x=axis_quarters, y=line, mode="lines", name=f"{i18n.t(lang, 'pro_rata')} ({_fmt(target, lang, unit)})",
            line=dict(color=style.TARGET_COLOUR, width=3, dash="dash"),
            hovertext=[f"{i18n.t(lang, 'pro_rata')} {q}: {_fmt(v, lang, unit)}" for q, v in zip(axis_quarters, line)],
            hoverinfo="text"))
    title = i18n.t(lang, "cumulative_title", label=_label(targets.iloc[0], lang))
    layout = style.layout(lang, title=style.wrap(title, 70), height=400,
                          legend=dict(orientation="h", y=-0.18, x=0, xanchor="left", yanchor="top"))
    layout["margin"] = dict(l=60, r=20, t=80, b=110)
    layout["yaxis"] = style.axis(rangemode="tozero", title=dict(text=i18n.UNIT[lang].get(unit, unit)))
    layout["xaxis"] = style.axis(type="category")
    return _figure(data, layout)


def _district_lines(running: pd.DataFrame, names: dict[str, str], axis_quarters: list[str], lang: str,
                    unit: str) -> dict:
    """Every district's cumulative line in one trace, the lines apart by a gap (None)."""
    x, y, hover = [], [], []
    for ags in running.columns:
        values = running[ags].tolist()
        x += axis_quarters + [None]
        y += values + [None]
        hover += [names[ags]] * len(axis_quarters) + [""]
    # The name alone per point, the quarter and value from the template (the page's separators):
    # 2,000 points' full texts made a chart of 100 kB.
    template = "%{hovertext}<br>%{x}: %{y:,.2~f}" + (" EUR" if unit == "eur" else "") + "<extra></extra>"
    return _trace("scatter", x=x, y=y, mode="lines", name=i18n.t(lang, "cumulative_districts", n=len(running.columns)),
                  line=dict(color=style.DISTRICT_COLOUR, width=1), opacity=0.6, hovertext=hover,
                  hovertemplate=template)


def _programme_quarters(programme: Programme) -> list[str]:
    quarters, day = [], programme.start
    while day <= programme.end:
        q = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        quarters.append(q)
        day = quarter_bounds(q)[1] + dt.timedelta(days=1)
    return quarters


def _elapsed(programme: Programme, quarter: str) -> float:
    reached = min(quarter_bounds(quarter)[1], programme.end)
    return max(0.0, min(1.0, (reached - programme.start).days / max((programme.end - programme.start).days, 1)))


@functools.lru_cache(maxsize=16)
def _micro_grid(left: str, right: str) -> str:
    """The two-panel layout make_subplots builds (domains, subplot titles), as JSON; the same for
    every district, so it is built once and not for each of hundreds of funds."""
    layout = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.1,
                           subplot_titles=(left, right)).to_plotly_json()["layout"]
    layout.pop("template", None)
    return json.dumps(layout)


def micro_funding(projects: pd.DataFrame, budget: float | None, cap: float | None, lang: str,
                  cap_label: str | None = None, budget_label: str | None = None) -> dict:
    """Left: each project's grant against the cap per project. Right: the sum granted so far
    against the fund."""
    ids = projects["project_id"].tolist()
    amounts = projects["amount_eur"].astype(float).tolist()
    over = [cap is not None and a > cap for a in amounts]
    left, right = dict(xaxis="x", yaxis="y"), dict(xaxis="x2", yaxis="y2")
    data = [_trace(
        "bar", x=ids, y=amounts, name=i18n.t(lang, "micro_projects"), showlegend=False,
        marker=dict(color=[style.OKABE_ITO["vermillion"] if o else style.DISTRICT_COLOUR for o in over],
                    pattern=dict(shape=["x" if o else "" for o in over], fgcolor="white")),
        hovertext=[f"{p}: {_fmt(a, lang, 'eur')}" + (" ✗" if o else "") for p, a, o in zip(ids, amounts, over)],
        hoverinfo="text", **left)]
    if cap is not None:
        data.append(_trace("scatter", x=ids, y=[cap] * len(ids), mode="lines", name=i18n.t(lang, "micro_cap"),
                           line=dict(color=style.TARGET_COLOUR, dash="dash", width=3),
                           hovertext=f"{i18n.t(lang, 'micro_cap')}: {_fmt(cap, lang, 'eur')}", hoverinfo="text", **left))
    dates = [i18n.date(d, lang) for d in projects["approved_date"]]
    running = pd.Series(amounts).cumsum().tolist()
    data.append(_trace("scatter", x=dates, y=running, mode="lines+markers", name=i18n.t(lang, "micro_granted"),
                       line=dict(color=style.DISTRICT_COLOUR, width=3, shape="hv"),
                       hovertext=[f"{d}: {_fmt(v, lang, 'eur')}" for d, v in zip(dates, running)],
                       hoverinfo="text", **right))
    if budget is not None:
        data.append(_trace("scatter", x=dates, y=[budget] * len(dates), mode="lines", name=i18n.t(lang, "micro_budget"),
                           line=dict(color=style.OKABE_ITO["vermillion"], dash="dash", width=3),
                           hovertext=f"{i18n.t(lang, 'micro_budget')}: {_fmt(budget, lang, 'eur')}",
                           hoverinfo="text", **right))
    layout = json.loads(_micro_grid(cap_label or i18n.t(lang, "micro_cap"), budget_label or i18n.t(lang, "micro_budget")))
    layout.update(style.layout(lang, title=i18n.t(lang, "micro_title"), height=420,
                               legend=dict(orientation="h", y=-0.25, x=0, xanchor="left", yanchor="top")))
    layout["margin"] = dict(l=60, r=20, t=90, b=110)
    for axis in ("yaxis", "yaxis2"):
        layout[axis].update(style.axis(title=dict(text="EUR"), rangemode="tozero"))
    for axis in ("xaxis", "xaxis2"):
        layout[axis].update(style.axis(type="category"))
    return _figure(data, layout)


def micro_overview(funds: pd.DataFrame, lang: str) -> dict:
    """One bar per district: the sum granted against its fund (a tick), sorted by the sum; for a
    programme with many districts, in place of one `micro_funding` chart each. `funds`: name,
    granted, budget (or NaN), projects, over_cap."""
    funds = funds.sort_values("granted", ascending=False, kind="stable")
    names = _unique_short_names(funds["name"].tolist())
    over = (funds["granted"] > funds["budget"]).tolist()
    hover = [f"<b>{n}</b><br>{i18n.t(lang, 'micro_granted')}: {_fmt(g, lang, 'eur')}"
             f"<br>{i18n.t(lang, 'micro_budget')}: {_fmt(b, lang, 'eur')}"
             f"<br>{i18n.t(lang, 'micro_projects_n', n=i18n.number(k, lang), over=i18n.number(o, lang))}"
             for n, g, b, k, o in zip(funds["name"], funds["granted"], funds["budget"], funds["projects"],
                                      funds["over_cap"])]
    data = [_trace("bar", x=_typed(funds["granted"].astype(float)), y=names, orientation="h",
                   name=i18n.t(lang, "micro_granted"), hovertext=hover, hoverinfo="text",
                   marker=dict(color=[style.OKABE_ITO["vermillion"] if o else style.DISTRICT_COLOUR for o in over],
                               pattern=dict(shape=["x" if o else "" for o in over], fgcolor="white")))]
    if funds["budget"].notna().any():
        data.append(_trace("scatter", x=_typed(funds["budget"].astype(float)), y=names, mode="markers",
                           name=i18n.t(lang, "micro_budget"), hoverinfo="skip",
                           marker=dict(symbol="line-ns", size=14, line=dict(width=3, color=style.TARGET_COLOUR))))
    layout = style.layout(lang, title=i18n.t(lang, "micro_overview_title"), height=140 + BAR_ROW * len(funds),
                          barmode="overlay", bargap=0.25)
    layout["margin"] = dict(l=10, r=40, t=70, b=60)
    layout["xaxis"] = style.axis(title=dict(text="EUR"), rangemode="tozero")
    layout["yaxis"] = style.axis(categoryorder="array", categoryarray=names, autorange="reversed",
                                 tickfont=dict(size=11))
    return _figure(data, layout)


# -- district page: indicators over time ----------------------------------------------------------

def timeline(quarters: pd.DataFrame, programme: Programme, lang: str, threshold: int) -> dict | None:
    """Small multiples: one panel per indicator, one bar (or mean with interval) per quarter.

    Built as a plain figure dict: with 20 panels, plotly's validating setters took most of the
    site's build time, and the result is the same JSON."""
    return timeline_figure(timeline_panels(quarters, programme), lang, threshold)


def timeline_panels(quarters: pd.DataFrame, programme: Programme) -> tuple | None:
    """What `timeline` draws, in no language yet: a district page is built in two, from one split."""
    return timeline_panels_by(quarters.assign(_one=0), ["_one"], lambda key: programme).get((0,))


def timeline_panels_by(quarters: pd.DataFrame, keys: list[str], programme_of) -> dict[tuple, tuple]:
    """`timeline_panels` of every group of rows with the same `keys` (`programme_of(key)` gives its
    programme), from one pass over the columns: 880 district timelines at national scale, each
    split from its own frame, took more than the rest of their pages."""
    frame = quarters.reset_index(drop=True)
    codes, ids = pd.factorize(frame["indicator_id"])
    columns = {c: frame[c].to_numpy(dtype="float64", na_value=np.nan) for c in ("value", "ci_low", "ci_high", "masked")}
    labels = {c: frame[c].to_numpy(dtype=object) for c in ("label_de", "label_en", "unit")}
    period_codes, periods = pd.factorize(frame["period"])
    out = {}
    for key, rows in frame.groupby(keys, sort=False).indices.items():
        key = key if isinstance(key, tuple) else (key,)
        axis_quarters = _programme_quarters(programme_of(key))
        mine, first = np.unique(codes[rows], return_index=True)
        order = np.argsort(first)
        mine, first = mine[order], rows[first[order]]
        rank = np.empty(len(ids), dtype=np.int64)
        rank[mine] = np.arange(len(mine))
        spot = {q: n for n, q in enumerate(axis_quarters)}
        j = np.array([spot.get(p, -1) for p in periods] + [-1], dtype=np.int64)[period_codes[rows]]
        on_axis = j >= 0
        where = rank[codes[rows]][on_axis] * len(axis_quarters) + j[on_axis]
        out[key] = ([ids[c] for c in mine], {ids[c]: {"indicator_id": ids[c], **{n: v[r] for n, v in labels.items()}}
                                              for c, r in zip(mine, first)},
                    axis_quarters, _grid(columns, rows[on_axis], where, len(mine), len(axis_quarters)))
    return out


def _grid(columns: dict[str, np.ndarray], rows: np.ndarray, where: np.ndarray, n: int, size: int) -> list[dict]:
    """Per indicator, its quarters on the programme's axis (missing ones NaN): value, ci_low,
    ci_high as float arrays and masked as a list. Rows are placed by position, all at once."""
    grids = {}
    for column, values in columns.items():
        grid = np.full(n * size, np.nan)
        grid[where] = values[rows]
        grids[column] = grid
    masked = (grids.pop("masked") == 1).tolist()
    return [{**{c: v[k * size:(k + 1) * size] for c, v in grids.items()}, "masked": masked[k * size:(k + 1) * size]}
            for k in range(n)]


def timeline_figure(panels: tuple | None, lang: str, threshold: int) -> dict | None:
    if panels is None:
        return None
    ids, first, axis_quarters, panels = panels
    cols = 3 if len(ids) > 4 else max(1, len(ids))
    nrows = -(-len(ids) // cols)
    height = 90 + 230 * nrows
    hgap, vgap = 0.08, min(0.5 / nrows, 0.12)
    width, tall = (1 - hgap * (cols - 1)) / cols, (1 - vgap * (nrows - 1)) / nrows
    data, layout = [], style.layout(lang, height=height, barmode="overlay", showlegend=False,
                                    margin=dict(l=50, r=20, t=60, b=40))
    layout["template"] = {}
    layout["annotations"] = []
    for n, iid in enumerate(ids):
        row, col = n // cols, n % cols
        suffix = "" if n == 0 else str(n + 1)
        x0, y1 = col * (width + hgap), 1 - row * (tall + vgap)
        layout[f"xaxis{suffix}"] = style.axis(type="category", tickangle=-45, tickfont=dict(size=10),
                                              domain=[x0, x0 + width], anchor=f"y{suffix}")
        layout[f"yaxis{suffix}"] = style.axis(rangemode="tozero", domain=[y1 - tall, y1], anchor=f"x{suffix}")
        layout["annotations"].append(dict(
            text=style.wrap(_label(first[iid], lang), 40), x=x0 + width / 2, y=y1, xref="paper", yref="paper",
            xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=12)))
        axes = dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}", showlegend=False, hoverinfo="text")
        part = panels[n]
        unit = first[iid]["unit"]
        masked = part["masked"]
        if unit == "score":
            values = _plain(part["value"])
            data.append(dict(type="scatter", x=axis_quarters, y=values, mode="markers",
                             marker=dict(color=style.DISTRICT_COLOUR, size=9),
                             error_y=dict(type="data", symmetric=False, array=_plain(part["ci_high"] - part["value"]),
                                          arrayminus=_plain(part["value"] - part["ci_low"])),
                             hovertext=[f"{q}: {_fmt(v, lang, 'score')}" for q, v in zip(axis_quarters, part["value"])],
                             **axes))
            continue
        values = [None if m else v for v, m in zip(_plain(part["value"]), masked)]
        data.append(dict(type="bar", x=axis_quarters, y=values, marker=dict(color=style.DISTRICT_COLOUR),
                         hovertext=[f"{q}: {_fmt(v, lang, unit)}" if v is not None else q
                                    for q, v in zip(axis_quarters, values)], **axes))
        if any(masked):
            hidden = privacy.masked_text(threshold)
            data.append(dict(type="bar", x=axis_quarters, y=[threshold if m else None for m in masked],
                             text=[hidden if m else "" for m in masked], textposition="outside", cliponaxis=False,
                             hovertext=[f"{q}: {hidden}" if m else "" for q, m in zip(axis_quarters, masked)],
                             marker=dict(color="white", line=dict(color=style.MASKED_COLOUR, width=1),
                                         pattern=dict(shape="/", fgcolor=style.MASKED_COLOUR)), **axes))
    return {"data": data, "layout": layout}


def _plain(series: pd.Series) -> list:
    """Floats for JSON, None where missing (json has no NaN)."""
    return [None if is_missing(v) else float(v) for v in series.tolist()]


# -- start page and quality page ------------------------------------------------------------------

OVERVIEW_GROUPS = (("met", "achieved", ""), ("on_track", "on_track", "/"), ("missed", "behind", "x"))


def status_overview(counts: pd.DataFrame, lang: str) -> dict:
    """Per programme (rows: programme, status group, n): targets met, on track, missed."""
    data = []
    for group, colour_of, pattern in OVERVIEW_GROUPS:
        part = counts[counts["status"] == group]
        if part.empty:
            continue
        colour, sign = style.STATUS_STYLE[colour_of]
        name = i18n.STATUS_GROUP[lang][group]
        data.append(_trace(
            "bar", y=part["programme"].tolist(), x=_typed(part["n"]), orientation="h", name=f"{sign} {name}",
            marker=dict(color=colour, pattern=dict(shape=pattern, bgcolor=colour, fgcolor="white", solidity=0.15)),
            text=[f"{sign} {i18n.number(v, lang)}" for v in part["n"]], textposition="auto", textangle=0,
            constraintext="none", textfont=dict(color="#000000"),
            hovertext=[f"{p}: {i18n.number(v, lang)} {name}" for p, v in zip(part["programme"], part["n"])],
            hoverinfo="text"))
    layout = style.layout(lang, title=i18n.t(lang, "overview_chart"), barmode="stack",
                          height=160 + 60 * counts["programme"].nunique(),
                          legend=dict(orientation="h", y=1.0, x=0, xanchor="left", yanchor="bottom",
                                      traceorder="normal"))
    layout["margin"] = dict(l=10, r=20, t=90, b=50)
    layout["xaxis"] = style.axis(title=dict(text=i18n.t(lang, "targets")))
    layout["yaxis"] = style.axis(autorange="reversed")
    return _figure(data, layout)


def rejections(frame: pd.DataFrame, names: dict[str, str], lang: str) -> dict | None:
    """Rejected rows per district, stacked by reason code (colour and pattern per reason)."""
    if frame.empty:
        return None
    by = frame.assign(district=[names.get(a, a) if isinstance(a, str) else i18n.t(lang, "unassigned")
                                for a in frame["district_ags"]])
    by = by.groupby(["district", "reason_code"], as_index=False)["rows"].sum()
    data = []
    for n, code in enumerate(sorted(by["reason_code"].unique())):
        part = by[by["reason_code"] == code]
        label = i18n.REASON[lang].get(code, code)
        data.append(_trace(
            "bar", x=[style.wrap(style.short_district(d), 14) for d in part["district"]], y=_typed(part["rows"]), name=label,
            marker=dict(color=style.SEQUENCE[n % len(style.SEQUENCE)],
                        pattern=dict(shape=style.PATTERNS[(n // len(style.SEQUENCE)) % len(style.PATTERNS)])),
            hovertext=[f"{d}<br>{label} ({code}): {i18n.number(v, lang)}" for d, v in zip(part["district"], part["rows"])],
            hoverinfo="text"))
    layout = style.layout(lang, title=i18n.t(lang, "rejections_by_reason"), barmode="stack", height=460,
                          legend=dict(orientation="h", y=-0.3, x=0, xanchor="left", yanchor="top"))
    layout["margin"] = dict(l=60, r=20, t=60, b=150)
    layout["yaxis"] = style.axis(title=dict(text=i18n.t(lang, "rejected")))
    layout["xaxis"] = style.axis()
    return _figure(data, layout)


def rejections_by_reason(frame: pd.DataFrame, names: dict[str, str], lang: str) -> dict | None:
    """Rejected rows per reason, all districts together (most first): with hundreds of districts a
    bar per district says nothing; the page's table has them per district."""
    if frame.empty:
        return None
    by = frame.groupby("reason_code")["rows"].sum().sort_values(ascending=False, kind="stable")
    labels = [f"{i18n.REASON[lang].get(c, c)} ({c})" for c in by.index]
    data = [_trace("bar", x=_typed(by.to_numpy()), y=[style.wrap(t, 40) for t in labels], orientation="h",
                   marker=dict(color=style.DISTRICT_COLOUR), text=[i18n.number(v, lang) for v in by],
                   textposition="outside", cliponaxis=False, hoverinfo="text",
                   hovertext=[f"{t}: {i18n.number(v, lang)}" for t, v in zip(labels, by)])]
    layout = style.layout(lang, title=i18n.t(lang, "rejections_by_reason"), height=120 + 40 * len(by))
    layout["margin"] = dict(l=10, r=60, t=60, b=40)
    layout["xaxis"] = style.axis(title=dict(text=i18n.t(lang, "rejected")), rangemode="tozero")
    layout["yaxis"] = style.axis(autorange="reversed")
    return _figure(data, layout)


# -- impact page: forest plot and means per wave --------------------------------------------------

FOREST_CAP = 2.5   # points on the 1–5 scale: an interval reaching beyond ends in an arrow at the edge
FOREST_ROW = 30    # pixels per row of a forest plot


def signed(value, lang: str) -> str:
    """`+0,32` / `−0,02`: two decimals, always a sign, a real minus."""
    if is_missing(value):
        return "–"
    text = i18n.number(abs(float(value)), lang, 2)
    if round(float(value), 2) == 0:
        return text
    return ("+" if value > 0 else "−") + text


def plain(value, lang: str) -> str:
    """`0,26` / `−0,02` (no plus sign): interval bounds and means."""
    if is_missing(value):
        return "–"
    text = i18n.number(abs(float(value)), lang, 2)
    return ("−" + text) if float(value) < 0 and round(float(value), 2) != 0 else text


def interval_text(low, high, lang: str) -> str:
    """`[0,26; 0,39]` / `[0.26, 0.39]`; an infinite side is written out as unbounded, never a number."""
    if is_missing(low) or is_missing(high):
        return "–"
    low_inf, high_inf = math.isinf(low), math.isinf(high)
    if low_inf and high_inf:
        return i18n.t(lang, "impact_unbounded")
    if low_inf:
        return i18n.t(lang, "impact_unbounded_below", hi=plain(high, lang))
    if high_inf:
        return i18n.t(lang, "impact_unbounded_above", lo=plain(low, lang))
    sep = "; " if lang == "de" else ", "
    return f"[{plain(low, lang)}{sep}{plain(high, lang)}]"


def p_text(value, lang: str) -> str:
    if is_missing(value):
        return "–"
    if value < 0.001:
        return "p < " + i18n.number(0.001, lang, 3)
    return "p = " + i18n.number(value, lang, 3)


def forest_range(frames: list[pd.DataFrame]) -> list[float]:
    """One x range for the forest plots of a programme, so they compare at a glance: every finite
    estimate and bound within ±FOREST_CAP, and zero; at least ±0.5 wide."""
    values = [0.0]
    for frame in frames:
        shown = frame[~frame["suppressed"]]
        for column in ("estimate", "ci_low", "ci_high"):
            values += [float(v) for v in shown[column] if not is_missing(v) and not math.isinf(v)
                       and abs(v) <= FOREST_CAP]
    low, high = min(values), max(values)
    pad = max(0.08, 0.08 * (high - low))
    low, high = max(low - pad, -FOREST_CAP), min(high + pad, FOREST_CAP)
    if high - low < 1.0:
        middle = (high + low) / 2
        low, high = middle - 0.5, middle + 0.5
    return [round(low, 3), round(high, 3)]


def forest(rows: pd.DataFrame, labels: list[str], hovers: list[str], lang: str, title: str, x_range: list[float],
           threshold: int, pooled: int = 0) -> dict:
    """A forest plot: one row per estimate (top to bottom in the given order), the point and its
    95 % interval as a line. Indicative rows: open circle and dotted line. An interval beyond the
    plotted range, or unbounded (±inf), ends in an arrow at the edge, never in a bar that looks
    finite. Withheld rows show the words, no figure. `pooled`: how many rows at the top are pools
    (a rule separates them from the single districts). Built as a plain dict (no inf, no NaN in it)."""
    low_edge, high_edge = x_range
    colour = style.DISTRICT_COLOUR
    y = [style.wrap(label, 38) for label in labels]
    kinds = {False: dict(lines=([], []), points=([], [], []), name=i18n.t(lang, "impact_reliable")),
             True: dict(lines=([], []), points=([], [], []), name=i18n.t(lang, "impact_indicative"))}
    arrows = {"left": ([], [], []), "right": ([], [], [])}
    withheld = ([], [])
    for (_, row), label, hover in zip(rows.iterrows(), y, hovers):
        if bool(row["suppressed"]) or is_missing(row["estimate"]):
            withheld[0].append(label)
            withheld[1].append(i18n.t(lang, "impact_withheld_short", threshold=threshold))
            continue
        kind = kinds[bool(row["indicative"])]
        est, low, high = float(row["estimate"]), float(row["ci_low"]), float(row["ci_high"])
        if not (is_missing(low) or is_missing(high)):
            kind["lines"][0].extend([max(low, low_edge), min(high, high_edge), None])
            kind["lines"][1].extend([label, label, None])
            for side, bound, edge, beyond in (("left", low, low_edge, low < low_edge),
                                              ("right", high, high_edge, high > high_edge)):
                if beyond:
                    arrows[side][0].append(edge)
                    arrows[side][1].append(label)
                    arrows[side][2].append(i18n.t(lang, "impact_unbounded") if math.isinf(bound)
                                           else i18n.t(lang, "impact_beyond", value=plain(bound, lang)))
        kind["points"][0].append(min(max(est, low_edge), high_edge))
        kind["points"][1].append(label)
        kind["points"][2].append(hover)
    data = []
    for indicative, kind in kinds.items():
        if not kind["points"][0]:
            continue
        group = f"g{int(indicative)}"
        data.append(dict(type="scatter", x=kind["lines"][0], y=kind["lines"][1], mode="lines",
                         line=dict(color=colour, width=2.5, dash="dot" if indicative else "solid"),
                         hoverinfo="skip", showlegend=False, legendgroup=group))
        data.append(dict(type="scatter", x=kind["points"][0], y=kind["points"][1], mode="markers",
                         name=kind["name"], legendgroup=group, hovertext=kind["points"][2], hoverinfo="text",
                         marker=dict(symbol="circle-open" if indicative else "circle", size=11, color=colour,
                                     line=dict(width=2, color=colour))))
    first_arrow = True
    for side, (xs, ys, texts) in arrows.items():
        if xs:
            data.append(dict(type="scatter", x=xs, y=ys, mode="markers", hovertext=texts, hoverinfo="text",
                             name=i18n.t(lang, "impact_arrow") + " ◀ ▶", showlegend=first_arrow, legendgroup="arrow",
                             cliponaxis=False,
                             marker=dict(symbol="triangle-left" if side == "left" else "triangle-right", size=13,
                                         color=style.OKABE_ITO["vermillion"])))
            first_arrow = False
    if withheld[0]:
        data.append(dict(type="scatter", x=[(low_edge + high_edge) / 2] * len(withheld[0]), y=withheld[0],
                         mode="text", text=withheld[1], hovertext=withheld[1], hoverinfo="text", showlegend=False,
                         textfont=dict(color=style.OKABE_ITO["black"], size=12)))
    top, bottom = 62, 100
    height = top + bottom + FOREST_ROW * len(y)
    layout = style.layout(lang, title=style.wrap(title, 60), height=height,
                          legend=dict(orientation="h", x=0, xanchor="left", yanchor="top", font=dict(size=12),
                                      y=-66 / (height - top - bottom)),
                          margin=dict(l=10, r=24, t=top, b=bottom), showlegend=True)
    layout["template"] = {}
    layout["title"]["x"] = 0.015   # not flush against the frame
    layout["xaxis"] = style.axis(range=x_range, zeroline=False, fixedrange=True,
                                 title=dict(text=i18n.t(lang, "impact_points"), standoff=6))
    layout["yaxis"] = style.axis(type="category", categoryorder="array", categoryarray=y, autorange="reversed",
                                 fixedrange=True, tickfont=dict(size=12), ticklabelstandoff=10)
    layout["shapes"] = [dict(type="line", xref="x", yref="paper", x0=0, x1=0, y0=0, y1=1,
                             line=dict(color=style.OKABE_ITO["black"], width=1.5, dash="dash"))]
    if 0 < pooled < len(y):   # pooled rows above, single districts below a thin rule
        layout["shapes"].append(dict(type="line", xref="paper", yref="y", x0=0, x1=1, y0=pooled - 0.5,
                                     y1=pooled - 0.5, line=dict(color=style.GREY, width=1)))
    return {"data": data, "layout": layout}


def wave_means(cells: dict, items: list[tuple[str, str]], groups: list[tuple[str, str]], lang: str,
               has_comparison: bool) -> dict:
    """Means per wave with their 95 % intervals, small multiples: items (rows) × groups (columns);
    programme districts pooled (●, solid) and comparison districts pooled (◇, dashed).
    cells[(item, group, role)] = (mean_b, lo_b, hi_b, mean_f, lo_f, hi_f, hover_b, hover_f) or None."""
    nrows, ncols = len(items), len(groups)
    hgap, vgap = 0.05, min(0.35 / max(nrows, 1), 0.1)
    width, tall = (1 - hgap * (ncols - 1)) / ncols, (1 - vgap * (nrows - 1)) / nrows
    bounds = []
    for cell in cells.values():
        if cell:
            bounds += [v for v in cell[:6] if not is_missing(v) and not math.isinf(v)]
    low = max(1.0, math.floor((min(bounds) if bounds else 1.0) * 2) / 2)
    high = min(5.0, math.ceil((max(bounds) if bounds else 5.0) * 2) / 2)
    top, bottom = 90, 40
    height = top + bottom + 190 * nrows
    layout = style.layout(lang, height=height, showlegend=True, margin=dict(l=70, r=20, t=top, b=bottom),
                          legend=dict(orientation="h", y=1 + 34 / (height - top - bottom), x=0, xanchor="left",
                                      yanchor="bottom", traceorder="normal"))
    layout["template"] = {}
    layout["annotations"] = []
    data = []
    roles = [("programme", "impact_programme_pool", style.DISTRICT_COLOUR, "circle", "solid", -0.05)]
    if has_comparison:
        roles.append(("comparison", "impact_comparison_pool", style.COMPARISON_COLOUR, "diamond-open", "dash", 0.05))
    ticks = [i18n.t(lang, "impact_baseline"), i18n.t(lang, "impact_follow_up")]
    for r, (item, item_label) in enumerate(items):
        for c, (group, group_label) in enumerate(groups):
            n = r * ncols + c
            suffix = "" if n == 0 else str(n + 1)
            x0, y1 = c * (width + hgap), 1 - r * (tall + vgap)
            layout[f"xaxis{suffix}"] = style.axis(domain=[x0, x0 + width], anchor=f"y{suffix}", range=[-0.35, 1.35],
                                                  tickvals=[0, 1], ticktext=ticks, fixedrange=True,
                                                  showgrid=False, zeroline=False)
            layout[f"yaxis{suffix}"] = style.axis(domain=[y1 - tall, y1], anchor=f"x{suffix}", range=[low, high],
                                                  fixedrange=True, zeroline=False,
                                                  title=dict(text=style.wrap(item_label, 16)) if c == 0 else None,
                                                  showticklabels=True)
            if r == 0:
                layout["annotations"].append(dict(text=f"<b>{group_label}</b>", x=x0 + width / 2, y=1.0, xref="paper",
                                                  yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                                                  yshift=4, font=dict(size=13)))
            for role, name_key, colour, symbol, dash, offset in roles:
                cell = cells.get((item, group, role))
                values = [None, None] if cell is None else [None if is_missing(v) else float(v) for v in (cell[0], cell[3])]
                up = [None if cell is None or values[k] is None else float(cell[2 + 3 * k]) - values[k] for k in (0, 1)]
                down = [None if cell is None or values[k] is None else values[k] - float(cell[1 + 3 * k]) for k in (0, 1)]
                hover = ["", ""] if cell is None else [cell[6], cell[7]]
                data.append(dict(type="scatter", x=[0 + offset, 1 + offset], y=values, mode="lines+markers",
                                 xaxis=f"x{suffix}", yaxis=f"y{suffix}", name=i18n.t(lang, name_key),
                                 legendgroup=role, showlegend=n == 0, hovertext=hover, hoverinfo="text",
                                 line=dict(color=colour, width=2.5, dash=dash),
                                 marker=dict(symbol=symbol, size=10, color=colour, line=dict(width=2, color=colour)),
                                 error_y=dict(type="data", symmetric=False, array=[v or 0 for v in up],
                                              arrayminus=[v or 0 for v in down], color=colour, thickness=1.5,
                                              width=4)))
    return {"data": data, "layout": layout}
