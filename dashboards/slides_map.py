"""The talk's map slide per programme: the programme page's map (geo.choropleth of the share of
targets met, or geo.value_map of an activity per 10,000 where the targets are programme-level),
chosen exactly as the page chooses it (pages_programme.map_met_share / map_activity), under a
headline that names the districts behind (the heat-map slides' `finding`) or those highest and
lowest. No boundary file, no district of the programme in it, nothing per district: no slide, and
a note that says why."""
from __future__ import annotations

from typing import Callable

import plotly.graph_objects as go

from dashboards import geo, i18n, pages_programme, style
from dashboards.data import SiteData
from dashboards.i18n import t
from dashboards.pages_common import district_name, finding, target_rows
from pipeline.catalogue import Programme
from pipeline.indicators.model import ALL

NAME_PX = 22   # district names on the map: smaller than the 28 px text, they sit inside the shapes


def boundaries(data: SiteData) -> list[dict] | None:
    """The configured boundary file's features of the catalogue's districts (TEILHABE_GEOJSON, as
    the site reads it), and the states' outlines into data.memo as the site puts them; None without."""
    path = geo.configured_path()
    if path is None:
        return None
    if "state_outlines" not in data.memo:
        data.memo["state_outlines"] = geo.state_outlines(path, {a[:2] for a in data.districts()})
    return geo.load_features(path, set(data.districts()))


def map_slide(data: SiteData, programme: Programme, features: list[dict] | None, lang: str,
              frame: Callable[..., go.Figure]) -> tuple[str, go.Figure | None]:
    """(headline, figure), or (why there is no map, None)."""
    if features is None:
        return t(lang, "map_missing"), None
    attainment = pages_programme.map_met_share(data, programme)
    activity = None if attainment else pages_programme.map_activity(data, programme)
    if not attainment and not activity:
        return t(lang, "map_no_district_targets"), None
    shown = attainment or activity[1]
    mine = [f for f in features if f["id"] in set(programme.districts) | set(programme.comparison_districts)]
    if not any(f["id"] in shown for f in mine):
        return t(lang, "map_no_features"), None
    names = {f["id"]: district_name(data, f["id"]) for f in mine}
    states = {f["id"][:2] for f in mine}
    outlines = [edge for state, edges in data.memo.get("state_outlines", {}).items() if state in states for edge in edges]
    if attainment:
        rows = target_rows(data, programme)
        title = finding(rows[rows["district_ags"] != ALL], data, programme, lang)
        figure = geo.choropleth(mine, attainment, names, lang, "", outlines, set(programme.comparison_districts))
    else:
        row, values = activity
        ranked = sorted(values, key=lambda a: (-values[a], a))
        title = t(lang, "slide_map_range", label=i18n.label(row, lang),
                  high=style.short_district(names.get(ranked[0], ranked[0])),
                  low=style.short_district(names.get(ranked[-1], ranked[-1])))
        figure = geo.value_map(mine, values, names, lang, "", outlines)
    # The map fills the slide's left, the headline runs over its whole width.
    return title, _fit(frame(go.Figure(figure), programme, lang, title, wrap=64), set(programme.districts), names)


def _fit(figure: go.Figure, districts: set[str], names: dict[str, str]) -> go.Figure:
    """The page's map at slide size: the map left, its legend at the right in the slide's text
    size; only the programme's districts named (the comparison districts' names crowded small
    neighbours into an unreadable heap at slide size)."""
    size = figure.layout.font.size
    named = {style.short_district(names[a]) for a in districts if a in names}
    for trace in figure.data:
        if trace.type == "scattergeo" and trace.mode == "text":
            trace.textfont.size = NAME_PX
            trace.text = tuple(v if v in named else "" for v in trace.text)
            trace.textposition = _positions(trace.lon, trace.lat, trace.text)
        if trace.type == "choropleth" and trace.showscale:
            trace.colorbar.update(x=0.62, xanchor="left", len=0.8, thickness=24, tickfont=dict(size=size),
                                  title=dict(font=dict(size=size)))
    scale = any(trace.type == "choropleth" and trace.showscale for trace in figure.data)
    figure.update_geos(domain=dict(x=[0, 0.6], y=[0, 1]))
    # beside the colour scale where there is one, else where it would be
    figure.update_layout(legend=dict(orientation="v", x=0.74 if scale else 0.62, xanchor="left", y=0.5,
                                     yanchor="middle", font=dict(size=size)))
    return figure


# Two names closer than this (degrees; at slide size about a name's height and width) collide.
NEAR_LAT, NEAR_LON = 0.6, 1.6


def _positions(lon, lat, text) -> list[str]:
    """Where each name sits: of two named districts close together, the northern name above its
    point and the southern one below, so neighbours' names do not overprint each other."""
    out = ["middle center"] * len(text)
    for i in range(len(text)):
        for j in range(len(text)):
            if i != j and text[i] and text[j] and abs(lat[i] - lat[j]) < NEAR_LAT and abs(lon[i] - lon[j]) < NEAR_LON:
                out[i] = "top center" if (lat[i], i) > (lat[j], j) else "bottom center"
    return out
