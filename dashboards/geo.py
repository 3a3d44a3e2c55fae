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

from dashboards import charts, i18n, style

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


def state_outlines(path: Path, states: set[str]) -> dict[str, list]:
    """The outlines of the given states (AGS prefix, "13" = Mecklenburg-Vorpommern), dissolved
    from every district of the boundary file in them: an edge two districts of a state share
    cancels, what is left is the state's border. Needs the file's neighbours to share vertices, as
    official boundary files do (after rounding to DIGITS). Returns per state its border's edges
    ([lon, lat], [lon, lat])."""
    data = json.loads(path.read_text(encoding="utf-8"))
    edges: dict[str, dict[tuple, int]] = {}
    for feature in data.get("features", []):
        ags = str((feature.get("properties") or {}).get("ags", ""))
        geometry = feature.get("geometry") or {}
        if ags[:2] not in states or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        mine = edges.setdefault(ags[:2], {})
        for polygon in polygons:
            for ring in polygon:
                points = [(round(float(c[0]), DIGITS), round(float(c[1]), DIGITS)) for c in ring]
                for a, b in zip(points, points[1:]):
                    if a != b:
                        key = (a, b) if a < b else (b, a)
                        mine[key] = mine.get(key, 0) + 1
    return {state: [(a, b) for (a, b), n in sorted(found.items()) if n == 1] for state, found in sorted(edges.items())}


def centroid(feature: dict) -> tuple[float, float]:
    """A label point: the mean of the largest outer ring's vertices (good enough for a name)."""
    geometry = feature["geometry"]
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    ring = max((p[0] for p in polygons), key=lambda r: abs(_signed_area(r)))
    return (sum(c[0] for c in ring[:-1]) / max(1, len(ring) - 1), sum(c[1] for c in ring[:-1]) / max(1, len(ring) - 1))


# Share of a district's targets met, in classes that separate districts (a mean capped at 100 %
# made nearly every district the same blue): (lower bound in %, legend key, colour).
CLASSES = ((100, "map_class_all", style.OKABE_ITO["blue"]), (75, "map_class_most", style.OKABE_ITO["sky_blue"]),
           (50, "map_class_half", "#B8DDF2"), (0, "map_class_few", style.OKABE_ITO["orange"]))


def choropleth(features: list[dict], met_share: dict[str, float], names: dict[str, str], lang: str,
               title: str, outlines: list | None = None, comparison: set[str] = frozenset()) -> dict:
    """Districts coloured by the share of their targets met, in classes with a legend entry each;
    comparison districts (no targets) grey, and said so in the legend; the states' borders drawn
    over them and each district named at its middle."""
    collection = {"type": "FeatureCollection", "features": features}
    ids = [f["id"] for f in features]
    data = []

    def area(locations, colour, name, hover):
        data.append(dict(type="choropleth", geojson=collection, locations=locations, z=[1] * len(locations),
                         featureidkey="properties.ags", colorscale=[[0, colour], [1, colour]], showscale=False,
                         showlegend=True, name=name, legendgroup=name, hovertext=hover, hoverinfo="text",
                         marker=dict(line=dict(color="#333333", width=1))))

    for n, (low, key, colour) in enumerate(CLASSES):
        high = CLASSES[n - 1][0] if n else None
        mine = [a for a in ids if a in met_share and met_share[a] >= low and (high is None or met_share[a] < high)]
        if mine:
            area(mine, colour, i18n.t(lang, key), [f"{names.get(a, a)}: {i18n.t(lang, 'map_share', share=i18n.percent(met_share[a], lang))}"
                                                   for a in mine])
    others = [a for a in ids if a not in met_share]
    if others:
        area(others, style.LIGHT_GREY, i18n.t(lang, "map_grey" if set(others) <= set(comparison) else "map_no_value"),
             [names.get(a, a) for a in others])
    return _finished(data, features, names, lang, title, outlines)


def value_map(features: list[dict], values: dict[str, float], names: dict[str, str], lang: str, title: str,
              outlines: list | None = None) -> dict:
    """Districts shaded by a value (darker: more, from 0, light enough that the names stay legible)
    with its scale, each named at its middle and with the value on hover; districts without one grey."""
    collection = {"type": "FeatureCollection", "features": features}
    ids = [f["id"] for f in features]
    valued = [a for a in ids if a in values]
    data = [dict(type="choropleth", geojson=collection, locations=valued, z=[values[a] for a in valued],
                 featureidkey="properties.ags", colorscale=[[0, "#F2F7FC"], [1, "#3A7DC4"]],
                 zauto=False, zmin=0, zmax=max([values[a] for a in valued], default=0) or 1, showscale=True,
                 colorbar=dict(title=dict(text=i18n.t(lang, "per_10k")), thickness=14, len=0.6),
                 hovertext=[f"{names.get(a, a)}: {i18n.number(values[a], lang, 2)}" for a in valued],
                 hoverinfo="text", showlegend=False, marker=dict(line=dict(color="#333333", width=1)))]
    others = [a for a in ids if a not in values]
    if others:
        data.append(dict(type="choropleth", geojson=collection, locations=others, z=[1] * len(others),
                         featureidkey="properties.ags", colorscale=[[0, style.LIGHT_GREY], [1, style.LIGHT_GREY]],
                         showscale=False, showlegend=True, name=i18n.t(lang, "map_no_value"),
                         hovertext=[names.get(a, a) for a in others], hoverinfo="text"))
    return _finished(data, features, names, lang, title, outlines)


def _finished(data: list[dict], features: list[dict], names: dict[str, str], lang: str, title: str,
              outlines: list | None) -> dict:
    """Every map's furniture over its shaded districts: the states' borders, each district named
    at its middle, the legend below, the view fitted to the districts."""
    if outlines:
        lon, lat = [], []
        for (x1, y1), (x2, y2) in outlines:
            lon += [x1, x2, None]
            lat += [y1, y2, None]
        data.append(dict(type="scattergeo", lon=lon, lat=lat, mode="lines", line=dict(color="#000000", width=2),
                         name=i18n.t(lang, "map_states"), hoverinfo="skip"))
    points = [centroid(f) for f in features]
    data.append(dict(type="scattergeo", lon=[p[0] for p in points], lat=[p[1] for p in points], mode="text",
                     text=[style.short_district(names.get(f["id"], f["id"])) for f in features],
                     textfont=dict(size=14, color="#000000"), hoverinfo="skip", showlegend=False))
    layout = style.layout(lang, title=title, height=560, margin=dict(l=0, r=0, t=60, b=0),
                          legend=dict(orientation="h", y=-0.02, x=0, xanchor="left", yanchor="top"))
    layout["geo"] = dict(fitbounds="locations", visible=False)
    return charts.figure(data, layout)
