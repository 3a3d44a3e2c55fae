"""The programme page's charts (also the slides'): the attainment heat map, a bar chart per
indicator, cumulative progress against the pro-rata target and the micro-project funds."""
from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
from plotly.subplots import make_subplots

from dashboards import charts, i18n, privacy, style
from dashboards import targets as targets_view
from dashboards.i18n import is_missing
from pipeline.catalogue import Programme
from pipeline.indicators.model import ALL, ALL_COMPARISON, Indicator
from pipeline.quarters import quarter_bounds


# -- programme page: the cross-district comparison ------------------------------------------------

def heatmap(totals: pd.DataFrame, lang: str, threshold: int) -> dict | None:
    """Indicators (rows) × districts (columns); colour = status, text = % of target and its sign."""
    rows = totals[totals["target"].notna() & ~totals["comparison"]]
    if rows.empty:
        return None
    indicators = list(dict.fromkeys(rows["indicator_id"]))
    places = list(dict.fromkeys(rows["district_ags"]))
    names = dict(zip(rows["district_ags"], charts.district_names(rows, lang)))
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
    y = [style.wrap(charts.label(first.loc[i], lang), 34) for i in indicators]
    x = [style.wrap(style.short_district(names[a]), 14) for a in places]
    trace = charts.trace("heatmap", z=z, x=x, y=y, text=text, texttemplate="%{text}", textfont=dict(size=14, color="#000000"),
                   hovertext=hover, hoverinfo="text", colorscale=scale, zmin=0, zmax=n, showscale=False, xgap=3, ygap=3)
    layout = style.layout(lang, height=max(260, 60 + 52 * len(indicators)), margin=dict(l=10, r=10, t=70, b=10))
    layout["xaxis"] = dict(side="top", automargin=True, fixedrange=True)
    layout["yaxis"] = dict(autorange="reversed", automargin=True, fixedrange=True)
    return charts.figure([trace], layout)


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
    out = []
    for r, name in zip(cells.to_dict("records"), names):
        status = r["status"] if isinstance(r["status"], str) else None
        hidden = privacy.hidden_text(bool(r.get("withheld", False)), lang, threshold)
        if r["masked"]:
            shown = hidden
        elif is_missing(r["attainment_pct"]):  # a target of 0 has no percentage: show the count
            shown = f"{charts.fmt(r['value'], lang, r['unit'])} / {charts.fmt(r['target'], lang, r['unit'])}"
        else:
            shown = i18n.percent(r["attainment_pct"], lang)
        value = hidden if r["masked"] else charts.fmt(r["value"], lang, r["unit"])
        hover = (f"<b>{charts.label(r, lang)}</b><br>{name}<br>{i18n.t(lang, 'value')}: {value}"
                 f"<br>{i18n.t(lang, 'target')}: {i18n.t(lang, r['direction'])} {charts.fmt(r['target'], lang, r['unit'])}"
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
    rows = rows.assign(name=charts.district_names(rows, lang))
    unit = indicator.unit
    if across and unit != "score":
        return _bars_across(rows, indicator, programme, districts, lang, threshold)
    x = [style.wrap(style.short_district(n), 14) for n in rows["name"]]
    if unit == "score":
        return _mean_bars(rows, x, indicator, lang, threshold)
    population = [_population(districts, programme, a) for a in rows["district_ags"]]
    views = {"abs": ("value", "target", i18n.UNIT[lang].get(unit, unit)),
             "p10k": ("per_10k", None, i18n.t(lang, "per_10k"))}
    if unit in charts.SURVEY_UNITS:  # answers per inhabitant say nothing: no switch
        del views["p10k"]
    traces, visible = [], {v: [] for v in views}
    for view, (column, _, axis_title) in views.items():
        factor = [1.0 if view == "abs" else 10000 / p for p in population]
        masked = rows["masked"].to_numpy()
        colours = [style.COMPARISON_COLOUR if c else style.DISTRICT_COLOUR for c in rows["comparison"]]
        values = rows[column].tolist()
        hover = [f"<b>{n}</b><br>{charts.fmt(v, lang, unit if view == 'abs' else None)}"
                 + (f" – {charts.fmt(h, lang, unit)} ({i18n.t(lang, 'value_high')})" if view == "abs" and not is_missing(h) and h != v else "")
                 for n, v, h in zip(rows["name"], values, rows["value_high"])]
        ranged = view == "abs" and rows["value_high"].notna().any()
        texts = [charts.fmt(v, lang, unit if view == "abs" else None) if not m else "" for v, m in zip(values, masked)]
        if ranged:  # "750–800": the whisker above the bar shows the upper end
            texts = [f"{t}–{charts.fmt(h, lang, unit)}" if t and not is_missing(h) and h != v else t
                     for t, v, h in zip(texts, values, rows["value_high"])]
        traces.append((view, charts.trace(
            "bar", x=x, y=[None if m else v for v, m in zip(values, masked)], marker=dict(color=colours),
            name=i18n.t(lang, "value"), hovertext=hover, hoverinfo="text", showlegend=False,
            text=texts, textposition="inside" if ranged else "outside", insidetextanchor="start",
            textfont=dict(color="white") if ranged else None, cliponaxis=False,
            error_y=_range_error(rows, factor) if ranged else None)))
        if masked.any():
            # Hidden counts: a hatched bar up to the threshold, labelled "< 5", never the value.
            # A withheld count is not small: no bar that suggests so, only its word at the axis.
            withheld = rows["withheld"].to_numpy() if "withheld" in rows else np.zeros(len(rows), dtype=bool)
            ceiling = [(0 if w else threshold * f) if m else None for f, m, w in zip(factor, masked, withheld)]
            label = [(privacy.withheld_text(lang) if w else
                      "< " + (str(threshold) if view == "abs" else i18n.number(threshold * f, lang, 2))) if m else ""
                     for f, m, w in zip(factor, masked, withheld)]
            traces.append((view, charts.trace(
                "bar", x=x, y=ceiling, text=label, textposition="outside", cliponaxis=False, hovertext=label,
                hoverinfo="text", name=privacy.masked_text(threshold), showlegend=False, meta="hidden",
                marker=dict(color="white", line=dict(color=style.MASKED_COLOUR, width=1),
                            pattern=dict(shape="/", fgcolor=style.MASKED_COLOUR)))))
        targets = rows["target"].astype(float)
        if targets.notna().any():
            ty = [t * f if not is_missing(t) else None for t, f in zip(targets, factor)]
            traces.append((view, charts.trace(
                "scatter", x=x, y=ty, mode="markers", name=i18n.t(lang, "target" if view == "abs" else "target_per_10k"),
                marker=dict(symbol="line-ew", size=44, line=dict(width=3, color=style.TARGET_COLOUR)),
                hovertext=[f"{i18n.t(lang, 'target')}: {i18n.t(lang, indicator.direction)} {charts.fmt(v, lang, unit if view == 'abs' else None)}"
                           for v in ty], hoverinfo="text", showlegend=True)))
    for view, trace in traces:
        trace["visible"] = view == "abs"
        for key in visible:
            visible[key].append(view == key)
    title = charts.label(rows.iloc[0], lang)
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
    return charts.figure([trace for _, trace in traces], layout)


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
                                 range=[len(rows) - 0.5, -0.5], showgrid=False, zeroline=False, tickfont=dict(size=14))
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
    trace["x"], trace["y"] = trace.get("y"), charts.typed_array(positions)
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
        hover = [f"<b>{n}</b><br>{charts.fmt(v, lang, 'score')} [{charts.fmt(lo, lang, 'score')}; {charts.fmt(hi, lang, 'score')}]"
                 f"<br>n = {privacy.hidden_text(w, lang, threshold) if m else i18n.number(k, lang)}"
                 for n, v, lo, hi, k, m, w in zip(part["name"], part["value"], part["ci_low"], part["ci_high"],
                                                   part["n"], part["n_masked"], part["withheld"])]
        data.append(charts.trace(
            "scatter", x=xs, y=charts.typed_array(part["value"]), mode="markers", hovertext=hover, hoverinfo="text",
            name=i18n.t(lang, "comparison_mark") if comparison else i18n.t(lang, "districts"),
            marker=dict(symbol=symbol, size=12, color=colour, line=dict(width=2, color=colour)),
            error_y=dict(type="data", symmetric=False, array=(part["ci_high"] - part["value"]).tolist(),
                         arrayminus=(part["value"] - part["ci_low"]).tolist(), color=colour)))
    layout = style.layout(lang, title=style.wrap(charts.label(rows.iloc[0], lang), 70), height=360)
    layout["yaxis"] = style.axis(range=[1, 5], title=dict(text=i18n.UNIT[lang]["score"]))
    layout["xaxis"] = style.axis(categoryorder="array", categoryarray=x)
    return charts.figure(data, layout)


# More districts than this, and a line per district (own colour, dash and legend entry) is a
# tangle no one can follow: the districts then share one thin line trace, named on hover.
MAX_LINES = 12


def cumulative(quarters: pd.DataFrame, totals: pd.DataFrame, indicator: Indicator, programme: Programme,
               lang: str) -> dict | None:
    """Cumulative value per quarter against the pro-rata target (target × share of the period
    elapsed at each quarter's end), or a district's milestone steps where the catalogue gives them. Only for counts and sums of things, not persons: differences
    of cumulative figures would reveal the hidden small counts."""
    if indicator.definition.aggregate not in ("count", "sum") or indicator.unit in privacy.PERSON_UNITS:
        return None
    targets = totals[(totals["indicator_id"] == indicator.id) & totals["target"].notna()]
    if targets.empty or indicator.direction != "at_least":
        return None
    series = quarters[(quarters["indicator_id"] == indicator.id) & quarters["district_ags"].isin(targets["district_ags"])]
    axis_quarters = charts.programme_quarters(programme)
    order = list(dict.fromkeys(series["district_ags"]))
    firsts = series.drop_duplicates("district_ags")
    names = dict(zip(firsts["district_ags"], charts.district_names(firsts, lang)))
    running = (series.pivot(index="period", columns="district_ags", values="value")
               .reindex(index=axis_quarters, columns=order).fillna(0).cumsum())
    unit = indicator.unit
    if len(order) > MAX_LINES:
        data = [_district_lines(running, names, axis_quarters, lang, unit)]
    else:
        data = [charts.trace("scatter", x=axis_quarters, y=running[ags].tolist(), mode="lines+markers",
                       name=style.short_district(names[ags]),
                       line=dict(color=style.SEQUENCE[n % len(style.SEQUENCE)], width=2,
                                 dash=["solid", "dot", "dash", "longdash", "dashdot"][n // len(style.SEQUENCE) % 5]),
                       hovertext=[f"{names[ags]}<br>{q}: {charts.fmt(v, lang, unit)}" for q, v in running[ags].items()],
                       hoverinfo="text")
                for n, ags in enumerate(order)]
    shares = [_elapsed(programme, q) for q in axis_quarters]
    paced = {ags: steps for ags in order
             if (steps := targets_view.due_by_quarter(indicator, programme, ags, axis_quarters)) is not None}
    for ags, steps in paced.items():
        data.append(charts.trace(
            "scatter", x=axis_quarters, y=steps, mode="lines",
            name=f"{i18n.t(lang, 'milestone_steps')} ({style.short_district(names[ags])})",
            line=dict(color=style.TARGET_COLOUR, width=3, dash="dot", shape="hv"),
            hovertext=[f"{names[ags]}<br>{i18n.t(lang, 'milestone_steps')} {q}: {charts.fmt(v, lang, unit)}"
                       for q, v in zip(axis_quarters, steps)],
            hoverinfo="text"))
    # The pro-rata line for each target that some district without milestones paces against.
    linear = targets[~targets["district_ags"].isin(list(paced))]
    for target in sorted(set(linear["target"].astype(float))):
        line = [target * s for s in shares]
        data.append(charts.trace(
            "scatter", x=axis_quarters, y=line, mode="lines", name=f"{i18n.t(lang, 'pro_rata')} ({charts.fmt(target, lang, unit)})",
            line=dict(color=style.TARGET_COLOUR, width=3, dash="dash"),
            hovertext=[f"{i18n.t(lang, 'pro_rata')} {q}: {charts.fmt(v, lang, unit)}" for q, v in zip(axis_quarters, line)],
            hoverinfo="text"))
    title = i18n.t(lang, "cumulative_title", label=charts.label(targets.iloc[0], lang))
    # The legend inside the plot's upper left, which cumulative lines leave empty: below the axis it
    # hid the quarter labels on a phone, where they turn upright and need the room.
    layout = style.layout(lang, title=style.wrap(title, 45), height=420,
                          legend=dict(orientation="v", y=0.99, x=0.01, xanchor="left", yanchor="top",
                                      bgcolor="rgba(255,255,255,0.85)"))
    layout["margin"] = dict(l=60, r=20, t=100, b=40)
    layout["yaxis"] = style.axis(rangemode="tozero", title=dict(text=i18n.UNIT[lang].get(unit, unit)))
    layout["xaxis"] = style.axis(type="category")
    # On a phone the legend inside the plot covers the lines: there it goes below the upright
    # quarter labels, the chart growing by the legend's rows.
    rows = len(data) if len(order) <= MAX_LINES else 1 + len(data) - len(order)
    layout["meta"] = dict(narrow=dict(
        legend=dict(orientation="h", x=0, xanchor="left", y=-0.22, yanchor="top", bgcolor="rgba(0,0,0,0)"),
        height=420 + 24 * rows, margin=dict(l=60, r=20, t=100, b=40 + 24 * rows)))
    return charts.figure(data, layout)


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
    return charts.trace("scatter", x=x, y=y, mode="lines", name=i18n.t(lang, "cumulative_districts", n=len(running.columns)),
                  line=dict(color=style.DISTRICT_COLOUR, width=1), opacity=0.6, hovertext=hover,
                  hovertemplate=template)

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
    data = [charts.trace(
        "bar", x=ids, y=amounts, name=i18n.t(lang, "micro_projects"), showlegend=False,
        marker=dict(color=[style.OKABE_ITO["vermillion"] if o else style.DISTRICT_COLOUR for o in over],
                    pattern=dict(shape=["x" if o else "" for o in over], fgcolor="white")),
        hovertext=[f"{p}: {charts.fmt(a, lang, 'eur')}" + (" ✗" if o else "") for p, a, o in zip(ids, amounts, over)],
        hoverinfo="text", **left)]
    if cap is not None:
        data.append(charts.trace("scatter", x=ids, y=[cap] * len(ids), mode="lines", name=i18n.t(lang, "micro_cap"),
                           line=dict(color=style.TARGET_COLOUR, dash="dash", width=3),
                           hovertext=f"{i18n.t(lang, 'micro_cap')}: {charts.fmt(cap, lang, 'eur')}", hoverinfo="text", **left))
    dates = [i18n.date(d, lang) for d in projects["approved_date"]]
    running = pd.Series(amounts).cumsum().tolist()
    data.append(charts.trace("scatter", x=dates, y=running, mode="lines+markers", name=i18n.t(lang, "micro_granted"),
                       line=dict(color=style.DISTRICT_COLOUR, width=3, shape="hv"),
                       hovertext=[f"{d}: {charts.fmt(v, lang, 'eur')}" for d, v in zip(dates, running)],
                       hoverinfo="text", **right))
    if budget is not None:
        data.append(charts.trace("scatter", x=dates, y=[budget] * len(dates), mode="lines", name=i18n.t(lang, "micro_budget"),
                           line=dict(color=style.OKABE_ITO["vermillion"], dash="dash", width=3),
                           hovertext=f"{i18n.t(lang, 'micro_budget')}: {charts.fmt(budget, lang, 'eur')}",
                           hoverinfo="text", **right))
    layout = json.loads(_micro_grid(cap_label or i18n.t(lang, "micro_cap"), budget_label or i18n.t(lang, "micro_budget")))
    layout.update(style.layout(lang, title=i18n.t(lang, "micro_title"), height=420,
                               legend=dict(orientation="h", y=-0.25, x=0, xanchor="left", yanchor="top")))
    layout["margin"] = dict(l=60, r=20, t=90, b=110)
    for axis in ("yaxis", "yaxis2"):
        layout[axis].update(style.axis(title=dict(text="EUR"), rangemode="tozero"))
    for axis in ("xaxis", "xaxis2"):
        layout[axis].update(style.axis(type="category"))
    return charts.figure(data, layout)


def micro_overview(funds: pd.DataFrame, lang: str) -> dict:
    """One bar per district: the sum granted against its fund (a tick), sorted by the sum; for a
    programme with many districts, in place of one `micro_funding` chart each. `funds`: name,
    granted, budget (or NaN), projects, over_cap."""
    funds = funds.sort_values("granted", ascending=False, kind="stable")
    names = _unique_short_names(funds["name"].tolist())
    over = (funds["granted"] > funds["budget"]).tolist()
    hover = [f"<b>{n}</b><br>{i18n.t(lang, 'micro_granted')}: {charts.fmt(g, lang, 'eur')}"
             f"<br>{i18n.t(lang, 'micro_budget')}: {charts.fmt(b, lang, 'eur')}"
             f"<br>{i18n.t(lang, 'micro_projects_n', n=i18n.number(k, lang), over=i18n.number(o, lang))}"
             for n, g, b, k, o in zip(funds["name"], funds["granted"], funds["budget"], funds["projects"],
                                      funds["over_cap"])]
    data = [charts.trace("bar", x=charts.typed_array(funds["granted"].astype(float)), y=names, orientation="h",
                   name=i18n.t(lang, "micro_granted"), hovertext=hover, hoverinfo="text",
                   marker=dict(color=[style.OKABE_ITO["vermillion"] if o else style.DISTRICT_COLOUR for o in over],
                               pattern=dict(shape=["x" if o else "" for o in over], fgcolor="white")))]
    if funds["budget"].notna().any():
        data.append(charts.trace("scatter", x=charts.typed_array(funds["budget"].astype(float)), y=names, mode="markers",
                           name=i18n.t(lang, "micro_budget"), hoverinfo="skip",
                           marker=dict(symbol="line-ns", size=14, line=dict(width=3, color=style.TARGET_COLOUR))))
    layout = style.layout(lang, title=i18n.t(lang, "micro_overview_title"), height=140 + BAR_ROW * len(funds),
                          barmode="overlay", bargap=0.25)
    layout["margin"] = dict(l=10, r=40, t=70, b=60)
    layout["xaxis"] = style.axis(title=dict(text="EUR"), rangemode="tozero")
    layout["yaxis"] = style.axis(categoryorder="array", categoryarray=names, autorange="reversed",
                                 tickfont=dict(size=14))
    return charts.figure(data, layout)
