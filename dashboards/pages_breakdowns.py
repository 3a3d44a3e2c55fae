"""Breakdowns on a programme's page (indicator contract section 6): per indicator that declares
them, its programme-to-date value per district split by field of action, event type, client type,
role … as stacked bars, with the "< 5" rule and its complementary cells (privacy.breakdown_rows)."""
from __future__ import annotations

import pandas as pd

from dashboards import charts, i18n, style
from dashboards.data import SiteData
from dashboards.i18n import t
from dashboards.layout import Body, Place, esc, table
from dashboards.pages_common import figure_part, has_many_districts, programme_name
from dashboards.pages_trajectories import trajectory_ids
from pipeline.catalogue import Programme
from pipeline.contract import load_contract
from pipeline.indicators.model import ALL
from pipeline.places import Places, cached_places

# The feed whose column names each breakdown's values (German: the contract's first alias).
BREAKDOWN_FEEDS = {"field": "events", "event_type": "events", "supra_regional": "events", "client_type": "advice",
                   "role": "attendance", "language_level": "trajectories", "activity": "trajectories"}


def value_label(breakdown: str, value: str, lang: str, places: Places | None = None, ags: str | None = None) -> str:
    if value in ("", None):
        return t(lang, "breakdown_not_given")
    if breakdown == "region":  # a region's id names it in its district's places (places.yaml)
        return places.region_name(ags, value, lang) if places is not None and ags else value
    if breakdown == "supra_regional":
        return t(lang, "supra_regional_yes" if value == "true" else "supra_regional_no")
    if lang == "de" and breakdown in BREAKDOWN_FEEDS:
        aliases = load_contract().feeds[BREAKDOWN_FEEDS[breakdown]].column(breakdown).values.get(value)
        if aliases:
            return aliases[0]
    return value.replace("_", " ")


def breakdown_section(body: Body, data: SiteData, programme: Programme, place: Place) -> None:
    lang, threshold = place.lang, data.threshold
    rows = data.breakdowns
    if rows.empty:
        return
    many = has_many_districts(programme)
    wanted = [ALL] if many else list(programme.districts)
    mine = rows[(rows["programme_id"] == programme.id) & ~rows["comparison"].astype(bool)
                & rows["district_ags"].isin(wanted) & ~rows["indicator_id"].isin(trajectory_ids(data))]
    if mine.empty:
        return
    body.add(f"<h2>{esc(t(lang, 'breakdowns_title'))}</h2>"
             f"<p class='note'>{esc(t(lang, 'breakdowns_note', threshold=threshold))}</p>")
    parts = []
    order = {i.id: n for n, i in enumerate(data.indicators)}
    groups = sorted(mine.groupby(["indicator_id", "breakdown"], sort=False), key=lambda g: (order.get(g[0][0], 99), g[0][1]))
    for (indicator_id, breakdown), part in groups:
        title = t(lang, "breakdown_chart", label=i18n.label(part.iloc[0], lang), by=t(lang, f"breakdown_{breakdown}"))
        # Regions are a district's own: only the districts that hold places have bars.
        shown = [a for a in wanted if a in set(part["district_ags"])] if breakdown == "region" else wanted
        if not shown:
            continue
        figure = _stacked(part, breakdown, shown, lang, threshold, title, cached_places(data.catalogue))
        parts.append(figure_part(body, figure, f"fig-breakdown-{indicator_id}-{breakdown}", title))
    body.add(f"<div class='grid'>{''.join(parts)}</div>")


def _stacked(part: pd.DataFrame, breakdown: str, districts: list[str], lang: str, threshold: int, title: str,
             places: Places | None = None) -> dict:
    names = {a: n for a, n in zip(part["district_ags"], part["district_name"])}
    x = [t(lang, "all_districts") if a == ALL else style.wrap(style.short_district(names.get(a, a)), 14)
         for a in districts]
    traces = []
    values = sorted(part["breakdown_value"].unique(), key=lambda v: (v == "", v))
    for n, value in enumerate(values):
        rows = part[part["breakdown_value"] == value].set_index("district_ags")
        y, text = [], []
        for ags in districts:
            if ags not in rows.index:
                y.append(None)
                text.append("")
                continue
            row = rows.loc[ags]
            hidden = bool(row["masked"] or row["withheld"])
            y.append(None if hidden else float(row["value"]))
            text.append((f"< {threshold}" if row["masked"] else t(lang, "withheld")) if hidden
                        else charts.fmt(row["value"], lang, row["unit"]))
        label = value_label(breakdown, value, lang, places, rows.index[0] if len(rows) else None)
        traces.append(charts.trace("bar", x=x, y=y, name=label, text=text, textposition="inside",
                                   hovertemplate=f"{label}: %{{text}}<extra>%{{x}}</extra>",
                                   marker=dict(color=style.SEQUENCE[n % len(style.SEQUENCE)])))
    layout = style.layout(lang, title=style.wrap(title, 60), height=420, barmode="stack", bargap=0.35)
    layout["margin"] = dict(l=50, r=10, t=70, b=60)
    layout["legend"] = dict(orientation="h", y=-0.2)
    layout["yaxis"] = style.axis(rangemode="tozero")
    return charts.figure(traces, layout)


def district_breakdowns(data: SiteData, programme: Programme, ags: str, lang: str) -> str:
    """A district's breakdowns in one programme as a table: indicator, breakdown, part, value."""
    if "district_breakdowns" not in data.memo:   # split once, sorted, as records: per page it cost ~20 s nationally
        rows = data.breakdowns
        grouped: dict[tuple[str, str], list] = {}
        if not rows.empty:
            rows = rows[~rows["indicator_id"].isin(trajectory_ids(data))]   # in pages_trajectories
            order = {i.id: n for n, i in enumerate(data.indicators)}
            rows = rows.assign(_o=rows["indicator_id"].map(order)).sort_values(
                ["_o", "breakdown", "breakdown_value"], kind="stable")
            for r in rows.itertuples(index=False):
                grouped.setdefault((r.programme_id, r.district_ags), []).append(r)
        data.memo["district_breakdowns"] = grouped
    mine = data.memo["district_breakdowns"].get((programme.id, ags))
    if not mine:
        return ""
    places = cached_places(data.catalogue)
    cells = []
    for r in mine:
        if r.masked or r.withheld:
            value = f"< {data.threshold}" if r.masked else t(lang, "withheld")
        else:
            value = charts.fmt(r.value, lang, r.unit)
        cells.append([i18n.label(r, lang), t(lang, f"breakdown_{r.breakdown}"),
                      value_label(r.breakdown, r.breakdown_value, lang, places, ags), value])
    return (f"<h3>{esc(t(lang, 'breakdowns_title'))} – {esc(programme_name(programme, lang))}</h3>"
            + table([t(lang, "indicator"), t(lang, "breakdown"), t(lang, "part"), t(lang, "value")], cells, numeric={3}))
