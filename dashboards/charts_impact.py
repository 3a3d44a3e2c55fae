"""The impact page's charts and the words for its numbers: forest plots of the estimates with
their intervals, means per wave, and signed numbers, intervals and p-values as text."""
from __future__ import annotations

import math

import pandas as pd

from dashboards import i18n, style
from dashboards.i18n import is_missing


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


def p_text(value, lang: str, reps=None) -> str:
    """`p = 0,012`, `p < 0,001`; a bootstrap p-value of 0 as `p < 1/(B + 1)`, never 0 (the
    pipeline's wording: pipeline.impact.p_label)."""
    from pipeline.impact import p_label
    if is_missing(value):
        return "–"
    return p_label(float(value), lang, None if is_missing(reps) else reps)


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


def event_study(rows: pd.DataFrame, items: list[tuple[str, str]], lang: str, flagged: set[str]) -> dict:
    """The event study: per item the effect of each wave against the last wave before the start
    (0 by definition, an open marker without interval) with its 95 % interval; a dashed line marks
    the start. Items whose pre-trend is not flat (`flagged`) are drawn solid and named so in the
    legend ("⚠"), the others dotted: the verdict is in the words, not in colour alone."""
    waves = sorted({int(w) for w in rows["wave"].dropna()} | {int(w) for w in rows["reference_wave"].dropna()})
    reference = int(rows["reference_wave"].dropna().iloc[0]) if rows["reference_wave"].notna().any() else None
    data, offsets = [], {item: (k - (len(items) - 1) / 2) * 0.08 for k, (item, _) in enumerate(items)}
    for k, (item, label) in enumerate(items):
        part = rows[(rows["item"] == item) & ~rows["suppressed"] & rows["estimate"].notna()]
        if part.empty:
            continue
        xs, ys, up, down, hover = [], [], [], [], []
        for wave in waves:
            if wave == reference:
                xs.append(wave + offsets[item]), ys.append(0.0), up.append(0.0), down.append(0.0)
                hover.append(f"{label}: {i18n.t(lang, 'impact_event_reference', wave=wave)}")
                continue
            found = part[part["wave"] == wave]
            if found.empty:
                continue
            r = found.iloc[0]
            est = float(r["estimate"])
            low, high = r["ci_low"], r["ci_high"]
            bounded = not (is_missing(low) or is_missing(high) or math.isinf(low) or math.isinf(high))
            xs.append(wave + offsets[item])
            ys.append(est)
            up.append(float(high) - est if bounded else 0.0)
            down.append(est - float(low) if bounded else 0.0)
            hover.append(f"{label}, {i18n.t(lang, 'impact_wave', wave=wave)}: {signed(est, lang)} "
                         f"{interval_text(low, high, lang) if bounded else ''}")
        colour = style.SEQUENCE[k % len(style.SEQUENCE)]
        name = f"⚠ {label}" if item in flagged else label
        data.append(dict(type="scatter", x=xs, y=ys, mode="lines+markers", name=name, hovertext=hover,
                         hoverinfo="text", line=dict(color=colour, width=2.5 if item in flagged else 1.5,
                                                      dash="solid" if item in flagged else "dot"),
                         marker=dict(size=9, color=colour),
                         error_y=dict(type="data", symmetric=False, array=up, arrayminus=down, color=colour,
                                      thickness=1.5, width=4)))
    layout = style.layout(lang, title=style.wrap(i18n.t(lang, "impact_event_chart_title"), 60), height=380,
                          showlegend=True, margin=dict(l=60, r=20, t=62, b=90),
                          legend=dict(orientation="h", x=0, xanchor="left", y=-0.25, yanchor="top"))
    layout["template"] = {}
    layout["xaxis"] = style.axis(tickvals=waves, ticktext=[i18n.t(lang, "impact_wave", wave=w) for w in waves],
                                 fixedrange=True, zeroline=False, range=[min(waves) - 0.5, max(waves) + 0.5]
                                 if waves else None)
    layout["yaxis"] = style.axis(fixedrange=True, zeroline=False,
                                 title=dict(text=i18n.t(lang, "impact_event_axis"), standoff=6))
    layout["shapes"] = [dict(type="line", xref="paper", yref="y", x0=0, x1=1, y0=0, y1=0,
                             line=dict(color=style.OKABE_ITO["black"], width=1, dash="dash"))]
    if reference is not None and reference + 1 in waves:
        layout["shapes"].append(dict(type="line", xref="x", yref="paper", x0=reference + 0.5, x1=reference + 0.5,
                                     y0=0, y1=1, line=dict(color=style.GREY, width=2, dash="dash")))
        # named in the axis title rather than an annotation: the page's other charts use annotations
        layout["xaxis"]["title"] = dict(text=i18n.t(lang, "impact_event_start"), standoff=6)
    return {"data": data, "layout": layout}
