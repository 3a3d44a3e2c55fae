"""The optional map: a choropleth of target attainment per district from a GeoJSON the user
configures (env TEILHABE_GEOJSON or the `geojson_path` argument). The project ships no boundaries.

Plotly draws a custom GeoJSON offline only when (1) outer rings are wound clockwise, as its
d3-geo projection expects (else a polygon covers the whole globe but itself), and (2) the page
stubs the world topojson that plotly.js would otherwise fetch from a CDN: `GEO_STUB` must be on
the page before plotly.min.js loads.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import plotly.graph_objects as go

from dashboards import i18n, style

ENV = "TEILHABE_GEOJSON"
GEO_STUB = ('window.PlotlyGeoAssets = {topojson: {world_110m: {type: "Topology", objects: {}, arcs: []}}};')
DIGITS = 4  # ~10 m: plenty for a district map, and it keeps the page small


def configured_path(geojson_path: str | os.PathLike | None = None) -> Path | None:
    """The argument wins over the environment; a path that does not exist counts as none."""
    raw = geojson_path or os.environ.get(ENV)
    if not raw:
        return None
    path = Path(raw).expanduser()
    return path if path.is_file() else None


def load_features(path: Path, wanted: set[str]) -> list[dict]:
    """Only the features of the wanted districts (property `ags`), rewound and rounded."""
    data = json.loads(path.read_text(encoding="utf-8"))
    features = []
    for feature in data.get("features", []):
        ags = str((feature.get("properties") or {}).get("ags", ""))
        if ags in wanted and feature.get("geometry"):
            features.append({"type": "Feature", "id": ags, "properties": {"ags": ags},
                             "geometry": rewind(feature["geometry"])})
    features.sort(key=lambda f: f["id"])
    return features


def _signed_area(ring: list) -> float:
    # Shoelace on lon/lat: > 0 counter-clockwise, < 0 clockwise (y pointing north).
    return sum(x1 * y2 - x2 * y1 for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:] + ring[:1])) / 2


def _ring(ring: list, clockwise: bool) -> list:
    ring = [[round(float(c[0]), DIGITS), round(float(c[1]), DIGITS)] for c in ring]
    if (_signed_area(ring) < 0) != clockwise:
        ring = ring[::-1]
    return ring


def _polygon(rings: list) -> list:
    # Outer ring clockwise, holes counter-clockwise: what d3-geo's spherical polygons need.
    return [_ring(r, clockwise=(n == 0)) for n, r in enumerate(rings)]


def rewind(geometry: dict) -> dict:
    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": _polygon(geometry["coordinates"])}
    if geometry["type"] == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [_polygon(p) for p in geometry["coordinates"]]}
    return geometry


def choropleth(features: list[dict], attainment: dict[str, float], names: dict[str, str], lang: str,
               title: str) -> go.Figure:
    """Districts coloured by mean attainment (0–100 %), a sequential Okabe–Ito-friendly blue scale;
    districts without a value are drawn grey for orientation."""
    ids = [f["id"] for f in features]
    valued = [a for a in ids if a in attainment]
    figure = go.Figure()
    others = [a for a in ids if a not in attainment]
    if others:
        figure.add_trace(go.Choropleth(
            geojson={"type": "FeatureCollection", "features": features}, locations=others, z=[0] * len(others),
            featureidkey="properties.ags", colorscale=[[0, style.LIGHT_GREY], [1, style.LIGHT_GREY]],
            showscale=False, hovertext=[names.get(a, a) for a in others], hoverinfo="text",
            marker=dict(line=dict(color="white", width=1))))
    figure.add_trace(go.Choropleth(
        geojson={"type": "FeatureCollection", "features": features}, locations=valued,
        z=[attainment[a] for a in valued], zmin=0, zmax=100, featureidkey="properties.ags",
        colorscale=[[0, "#FFFFFF"], [0.5, style.OKABE_ITO["sky_blue"]], [1, style.OKABE_ITO["blue"]]],
        marker=dict(line=dict(color="#333333", width=1)),
        colorbar=dict(title=dict(text="%"), ticksuffix="", len=0.8),
        hovertext=[f"{names.get(a, a)}: {i18n.percent(attainment[a], lang)}" for a in valued], hoverinfo="text"))
    figure.update_geos(fitbounds="locations", visible=False)
    figure.update_layout(**style.layout(lang, title=title, height=520, margin=dict(l=0, r=0, t=60, b=0)))
    return figure
