"""Places on a district's page (indicator contract section 7): where the catalogue holds the
district's regions (places.yaml), how many regions and municipalities the programme reached
(the coverage indicators, "x of N") and, per region, its events and whether it was reached - as a
map of its municipalities when the user configures their boundaries (env MUNICIPALITIES_ENV, the
same offline rules as the district map in geo.py), and always as a table.

Every figure comes from the published tables (indicator_values, indicator_breakdowns): events and
places are no counts of persons, so nothing here falls under the "< 5" rule.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from dashboards import charts, geo, i18n, style
from dashboards.data import SiteData
from dashboards.i18n import is_missing, t
from dashboards.layout import Body, esc, table
from dashboards.pages_common import compact_name
from pipeline.catalogue import Programme
from pipeline.indicators.model import TOTAL
from pipeline.places import DistrictPlaces, cached_places

MUNICIPALITIES_ENV = "TEILHABE_MUNICIPALITIES_GEOJSON"
KEY_PROPERTIES = ("ags", "AGS", "key")  # where a boundary file keeps the 8-digit municipality key


def configured_path() -> Path | None:
    """The municipalities' boundary file, when the user configured one that exists."""
    raw = os.environ.get(MUNICIPALITIES_ENV)
    path = Path(raw).expanduser() if raw else None
    return path if path and path.is_file() else None


def load_municipal_features(path: Path, keys: set[str]) -> list[dict]:
    """The features of the wanted municipalities (8-digit key in property ags / AGS / key),
    rewound for Plotly and rounded as the district map's are."""
    data = json.loads(path.read_text(encoding="utf-8"))
    features = []
    for feature in data.get("features", []):
        properties = feature.get("properties") or {}
        key = next((str(properties[p]) for p in KEY_PROPERTIES if properties.get(p) not in (None, "")), "")
        if key in keys and feature.get("geometry"):
            features.append({"type": "Feature", "id": key, "properties": {"ags": key},
                             "geometry": geo.rewind(feature["geometry"])})
    features.sort(key=lambda f: f["id"])
    return features


def _features(data: SiteData, district: DistrictPlaces) -> list[dict]:
    """Read once per build and district (both languages, every programme of the district)."""
    memo = data.memo.setdefault("municipal_features", {})
    if district.ags not in memo:
        path = configured_path()
        memo[district.ags] = load_municipal_features(path, {m.key for m in district.municipalities}) if path else []
    return memo[district.ags]


def region_rows(data: SiteData, programme: Programme, district: DistrictPlaces) -> pd.DataFrame | None:
    """Per region of the district: its municipalities and the events held there in the programme
    to date (the first events indicator broken down by region), reached when at least one. None
    when no indicator of the catalogue breaks events down by region."""
    indicator = next((i for i in data.indicators if "region" in i.breakdowns and i.unit == "events"
                      and i.definition.aggregate == "count" and i.applies_to(programme.id, district.ags)), None)
    if indicator is None:
        return None
    rows = data.breakdowns
    mine = rows[(rows["programme_id"] == programme.id) & (rows["district_ags"] == district.ags)
                & (rows["indicator_id"] == indicator.id) & (rows["breakdown"] == "region")] if not rows.empty else rows
    events = dict(zip(mine["breakdown_value"], mine["value"])) if not mine.empty else {}
    return pd.DataFrame([(r.id, r.name_de, r.name_en, len(r.municipalities), float(events.get(r.id, 0.0)))
                         for r in district.regions],
                        columns=["region_id", "name_de", "name_en", "municipalities", "events"]).assign(
        reached=lambda f: f["events"] > 0)


def coverage_line(data: SiteData, programme: Programme, ags: str, lang: str) -> str:
    """"Reached: 4 of 5 regions · 37 of 142 municipalities" from the published coverage rows."""
    values = data.values
    coverage = [i for i in data.indicators if i.definition.aggregate == "coverage"]
    parts = []
    for indicator in coverage:
        found = values[(values["programme_id"] == programme.id) & (values["indicator_id"] == indicator.id)
                       & (values["district_ags"] == ags) & (values["period"] == TOTAL)]
        if found.empty or is_missing(found.iloc[0]["value"]) or is_missing(found.iloc[0]["n"]):
            continue
        row = found.iloc[0]
        parts.append(t(lang, "places_of", value=i18n.number(row["value"], lang), n=i18n.number(row["n"], lang),
                       unit=i18n.UNIT[lang].get(indicator.unit, indicator.unit)))
    return f"<p><strong>{esc(t(lang, 'places_reached'))}:</strong> {esc(' · '.join(parts))}</p>" if parts else ""


def places_section(body: Body, data: SiteData, programme: Programme, ags: str, lang: str) -> None:
    district = cached_places(data.catalogue).districts.get(ags)
    if district is None or ags not in programme.districts:
        return
    body.add(f"<h3>{esc(t(lang, 'places_title', programme=compact_name(programme, lang)))}</h3>")
    if district.illustrative:
        body.add(f"<p class='note'>{esc(t(lang, 'places_illustrative'))}</p>")
    body.add(coverage_line(data, programme, ags, lang))
    regions = region_rows(data, programme, district)
    features = _features(data, district)
    if regions is not None and features:
        title = t(lang, "places_map_title", programme=compact_name(programme, lang))
        body.figure(region_map(features, district, regions, lang, title), f"fig-places-{programme.id}", title)
        body.has_map = True
    elif configured_path() is None:
        body.add(f"<p class='note'>{esc(t(lang, 'places_map_missing', env=MUNICIPALITIES_ENV))}</p>")
    body.add(_table(district, regions, lang))


def _table(district: DistrictPlaces, regions: pd.DataFrame | None, lang: str) -> str:
    headers = [t(lang, "region"), t(lang, "municipalities")]
    if regions is None:
        return table(headers, [[r.name(lang), i18n.number(len(r.municipalities), lang)] for r in district.regions],
                     numeric={1})
    rows = [[r.name_de if lang == "de" else r.name_en, i18n.number(r.municipalities, lang),
             charts.fmt(r.events, lang, "events"), t(lang, "reached_yes" if r.reached else "reached_no")]
            for r in regions.itertuples(index=False)]
    return table(headers + [t(lang, "events_in_region"), t(lang, "reached")], rows, numeric={1, 2})


def region_map(features: list[dict], district: DistrictPlaces, regions: pd.DataFrame, lang: str, title: str) -> dict:
    """The district's municipalities coloured by region, a region not reached in grey; one legend
    entry per region saying whether it was reached and with how many events."""
    collection = {"type": "FeatureCollection", "features": features}
    shown = {f["id"] for f in features}
    by_region = regions.set_index("region_id")
    data = []
    for n, region in enumerate(district.regions):
        keys = [m.key for m in region.municipalities if m.key in shown]
        if not keys:
            continue
        row = by_region.loc[region.id]
        colour = style.SEQUENCE[n % len(style.SEQUENCE)] if row["reached"] else style.LIGHT_GREY
        state = t(lang, "places_map_reached", events=charts.fmt(row["events"], lang, "events")) if row["reached"] \
            else t(lang, "places_map_not_reached")
        name = f"{region.name(lang)} – {state}"
        names = {m.key: m.name for m in region.municipalities}
        data.append(dict(type="choropleth", geojson=collection, locations=keys, z=[1] * len(keys),
                         featureidkey="properties.ags", colorscale=[[0, colour], [1, colour]], showscale=False,
                         showlegend=True, name=style.wrap(name, 60), legendgroup=region.id,
                         hovertext=[f"{names[k]} ({region.name(lang)})" for k in keys], hoverinfo="text",
                         marker=dict(line=dict(color="#FFFFFF", width=0.5))))
    layout = style.layout(lang, title=style.wrap(title, 60), height=560, margin=dict(l=0, r=0, t=60, b=0),
                          legend=dict(orientation="h", y=-0.02, x=0, xanchor="left", yanchor="top"))
    layout["geo"] = dict(fitbounds="locations", visible=False)
    return charts.figure(data, layout)
