"""The district page's chart: its indicators over time, one small panel per indicator."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards import charts, privacy, style
from dashboards.i18n import is_missing
from pipeline.catalogue import Programme


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
    if "withheld" not in frame:
        frame = frame.assign(withheld=False)
    columns = {c: frame[c].to_numpy(dtype="float64", na_value=np.nan)
               for c in ("value", "ci_low", "ci_high", "masked", "withheld")}
    labels = {c: frame[c].to_numpy(dtype=object) for c in ("label_de", "label_en", "unit")}
    period_codes, periods = pd.factorize(frame["period"])
    out = {}
    for key, rows in frame.groupby(keys, sort=False).indices.items():
        key = key if isinstance(key, tuple) else (key,)
        axis_quarters = charts.programme_quarters(programme_of(key))
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
    withheld = (grids.pop("withheld") == 1).tolist()
    return [{**{c: v[k * size:(k + 1) * size] for c, v in grids.items()}, "masked": masked[k * size:(k + 1) * size],
             "withheld": withheld[k * size:(k + 1) * size]} for k in range(n)]


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
            text=style.wrap(charts.label(first[iid], lang), 40), x=x0 + width / 2, y=y1, xref="paper", yref="paper",
            xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=14)))
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
                             hovertext=[f"{q}: {charts.fmt(v, lang, 'score')}" for q, v in zip(axis_quarters, part["value"])],
                             **axes))
            continue
        values = [None if m else v for v, m in zip(_plain(part["value"]), masked)]
        shown = [v for v in values if v is not None]
        if unit != "eur" and shown and max(shown) <= 6:   # counts: whole-number ticks, never 0,5
            layout[f"yaxis{suffix}"]["dtick"] = 1
        data.append(dict(type="bar", x=axis_quarters, y=values, marker=dict(color=style.DISTRICT_COLOUR),
                         hovertext=[f"{q}: {charts.fmt(v, lang, unit)}" if v is not None else q
                                    for q, v in zip(axis_quarters, values)], **axes))
        if any(masked):
            # "< 5" on a hatched bar up to the threshold; "gesperrt" (not small, hidden to protect
            # a small one) at the axis, without a bar that would suggest a size.
            hidden = [privacy.hidden_text(w, lang, threshold) if m else "" for m, w in zip(masked, part["withheld"])]
            data.append(dict(type="bar", x=axis_quarters,
                             y=[(0 if w else threshold) if m else None for m, w in zip(masked, part["withheld"])],
                             text=hidden, textposition="outside", cliponaxis=False, meta="hidden",
                             hovertext=[f"{q}: {h}" if h else "" for q, h in zip(axis_quarters, hidden)],
                             marker=dict(color="white", line=dict(color=style.MASKED_COLOUR, width=1),
                                         pattern=dict(shape="/", fgcolor=style.MASKED_COLOUR)), **axes))
    return {"data": data, "layout": layout}


def _plain(series: pd.Series) -> list:
    """Floats for JSON, None where missing (json has no NaN)."""
    return [None if is_missing(v) else float(v) for v in series.tolist()]
