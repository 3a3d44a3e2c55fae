"""A programme's page: attainment heat map, map, a chart per indicator, progress over time, the
micro-project funds and the survey means."""
from __future__ import annotations

import pandas as pd

from dashboards import charts, charts_programme, geo, i18n, sitemap
from dashboards.data import SiteData
from dashboards.i18n import is_missing, t
from dashboards.layout import Body, Place, esc
from dashboards.pages_breakdowns import breakdown_section
from dashboards.pages_trajectories import trajectory_section
from dashboards.pages_common import (MET, district_links, finding, district_name, figure_part, has_many_districts, masked_note,
                                     programme_name, status_legend, target_rows, verdict)
from pipeline.catalogue import Programme
from pipeline.indicators.model import ALL


def programme_page(data: SiteData, programme: Programme, place: Place, features: list[dict] | None,
                   geo_configured: bool) -> Body:
    lang, threshold = place.lang, data.threshold
    body = Body(title=programme_name(programme, lang))
    totals, quarters = data.totals(programme), data.quarters(programme)
    facts = [f"{esc(t(lang, 'funder'))}: {esc(i18n.funder(programme.funder, lang))}",
             f"{esc(t(lang, 'period'))}: {esc(i18n.period(programme.start, programme.end, lang))}",
             f"{esc(t(lang, 'latest_quarter'))}: {esc(data.latest_quarter(programme) or t(lang, 'none_reported'))}"]
    body.add(f"<p class='lead'>{' · '.join(facts)}</p>")
    body.add(f"<p><span class='verdict'>{esc(verdict(data, programme, lang))}</span></p>")
    body.add(f"<p>{esc(t(lang, 'districts'))}: {district_links(place, data, programme.districts)}"
             + (f"<br>{esc(t(lang, 'comparison_districts'))}: "
                f"{district_links(place, data, programme.comparison_districts)}" if programme.comparison_districts else "")
             + "</p>")
    if data.has_impact(programme):
        body.add(f"<p class='impact-link'>{esc(t(lang, 'impact_programme_link'))}: "
                 f"<a href='{esc(place.href(sitemap.impact_anchor(programme.id)))}'>{esc(t(lang, 'impact_programme_link_text'))}</a></p>")

    body.add(f"<h2>{esc(t(lang, 'heatmap_title'))}</h2>")
    if programme.target_level == "programme":
        body.add(f"<p class='note'>{esc(t(lang, 'target_level_programme'))}</p>")
    heats = charts_programme.heatmaps(heat_rows(totals, programme), lang, threshold)
    if not heats:
        body.add(f"<p>{esc(t(lang, 'no_targets_here'))}</p>")
    else:
        body.add(status_legend(lang))
        for n, heat in enumerate(heats):
            title = t(lang, "heatmap_title") + (f" ({n + 1}/{len(heats)})" if len(heats) > 1 else "")
            # Readable cells need ~80 px each: narrower, the heat map scrolls inside its own box.
            columns = len(heat["data"][0].get("x") or []) if isinstance(heat, dict) else 0
            body.figure(heat, "fig-heatmap" + (f"-{n + 1}" if n else ""), title, min_width=240 + 80 * columns)
        body.add(f"<p class='note'>{esc(t(lang, 'heatmap_note'))}</p>")

    _map_section(body, data, programme, lang, features, geo_configured)

    body.add(f"<h2>{esc(t(lang, 'by_indicator'))}</h2>")
    body.add(f"<p class='note'>{esc(t(lang, 'switch_hint'))}</p>")
    many = has_many_districts(programme)
    if many:
        body.add(f"<p class='note'>{esc(t(lang, 'bars_sorted_note'))}</p>")
    body.add(masked_note(totals, lang, threshold))
    survey, bars, progress = [], [], []
    # Each chart reads one indicator's rows: split once (a national programme has 100,000 rows).
    heat = heat_rows(totals, programme)
    totals_of, quarters_of, heat_of = (_by_indicator(f) for f in (totals, quarters, heat))
    for indicator in data.indicators:
        mine = totals_of.get(indicator.id)
        if mine is None:
            continue
        if indicator.unit in charts.SURVEY_UNITS:
            survey.append(indicator)
            continue
        if indicator.definition.aggregate == "trajectory":  # with their intervals in trajectory_section
            continue
        label = i18n.label(indicator, lang)
        figure = charts_programme.indicator_bars(mine, indicator, programme, data.catalogue.districts, lang, threshold,
                                       across=many)
        if figure is not None:
            # The headline states the finding (targets met, where not); the chart shows the values.
            headline = finding(mine[~mine["comparison"]], data, programme, lang) if mine["target"].notna().any() else ""
            part = figure_part(body, figure, f"fig-bars-{indicator.id}", label)
            bars.append(f"<div><p class='finding'>{esc(headline)}</p>{part}</div>" if headline else part)
        figure = charts_programme.cumulative(quarters_of.get(indicator.id, quarters.iloc[:0]), heat_of.get(indicator.id, heat.iloc[:0]),
                                   indicator, programme, lang)
        if figure is not None:
            progress.append(figure_part(body, figure, f"fig-cum-{indicator.id}",
                                         t(lang, "cumulative_title", label=label)))
    body.add(f"<div class='grid'>{''.join(bars)}</div>")
    if progress:
        body.add(f"<h2>{esc(t(lang, 'progress_title'))}</h2>")
        body.add(f"<p class='note'>{esc(t(lang, 'progress_note'))}</p>")
        body.add(f"<div class='grid'>{''.join(progress)}</div>")
    _micro_section(body, data, programme, totals, lang)
    breakdown_section(body, data, programme, place)
    trajectory_section(body, data, programme, lang)
    if survey:
        body.add(f"<h2>{esc(t(lang, 'survey_title'))}</h2>")
        body.add(f"<p class='note'>{esc(t(lang, 'survey_note', threshold=threshold))}</p>")
        parts = []
        for indicator in survey:
            figure = charts_programme.indicator_bars(totals_of[indicator.id], indicator, programme, data.catalogue.districts,
                                           lang, threshold, across=many)
            if figure is not None:
                parts.append(figure_part(body, figure, f"fig-bars-{indicator.id}", i18n.label(indicator, lang)))
        body.add(f"<div class='grid'>{''.join(parts)}</div>")
    return body


def _by_indicator(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each indicator's rows, in the frame's order."""
    return dict(iter(frame.groupby("indicator_id", sort=False)))


def heat_rows(totals: pd.DataFrame, programme: Programme) -> pd.DataFrame:
    """District rows for district targets; the ALL row alone where targets are programme-wide."""
    if programme.target_level == "programme":
        return totals[totals["district_ags"] == ALL]
    return totals[totals["district_ags"] != ALL]



def micro_inputs(data: SiteData, programme: Programme, totals: pd.DataFrame):
    """Per district with a micro-project fund: (ags, projects, budget, cap, cap label). The fund is
    the at-most target of a EUR sum over micro-projects, the cap a parameter named *_cap_eur."""
    funds = [i for i in data.indicators if i.definition.feed == "micro_projects" and i.unit == "eur"
             and i.applies_to(programme.id)]
    caps = [p for n, p in data.indicators.parameters.items() if n.endswith("_cap_eur")]
    out = []
    for indicator in funds:
        rows = totals[(totals["indicator_id"] == indicator.id) & (totals["district_ags"] != ALL)]
        for row in rows.itertuples():
            projects = data.district_micro_projects(row.district_ags, programme.start, programme.end)
            if projects.empty:
                continue
            budget = None if is_missing(row.target) else float(row.target)
            cap = caps[0] if caps else None
            out.append((row.district_ags, projects, budget, cap))
    return out


def _micro_section(body: Body, data: SiteData, programme: Programme, totals: pd.DataFrame, lang: str) -> None:
    funds = micro_inputs(data, programme, totals)
    if has_many_districts(programme) and funds:
        _micro_overview(body, data, funds, lang)
        return
    for ags, projects, budget, cap in funds:
        body.add(f"<h2>{esc(t(lang, 'micro_title'))} – {esc(district_name(data, ags))}</h2>")
        cap_label = (cap.label_de if lang == "de" else cap.label_en) if cap else None
        figure = charts_programme.micro_funding(projects, budget, cap.value if cap else None, lang, cap_label=cap_label)
        body.figure(figure, f"fig-micro-{ags}", t(lang, "micro_title"))


def _micro_overview(body: Body, data: SiteData, funds: list, lang: str) -> None:
    """Many districts: one chart of every district's fund instead of one chart each."""
    frame = pd.DataFrame(
        [(district_name(data, ags), float(projects["amount_eur"].astype(float).sum()),
          float("nan") if budget is None else budget, len(projects),
          int((projects["amount_eur"].astype(float) > cap.value).sum()) if cap else 0)
         for ags, projects, budget, cap in funds],
        columns=["name", "granted", "budget", "projects", "over_cap"])
    body.add(f"<h2>{esc(t(lang, 'micro_overview_title'))}</h2>")
    body.add(f"<p class='note'>{esc(t(lang, 'micro_overview_note', n=len(frame)))}</p>")
    body.figure(charts_programme.micro_overview(frame, lang), "fig-micro", t(lang, "micro_overview_title"))


def map_met_share(data: SiteData, programme: Programme) -> dict[str, float]:
    """Per programme district: the share of its targets met (achieved or within), in %. A status
    is published for hidden small counts too (the heat map shows it), so none is left out."""
    rows = target_rows(data, programme)
    rows = rows[rows["district_ags"] != ALL]
    return {ags: round(100 * float(part["status"].isin(MET).mean()), 1) for ags, part in rows.groupby("district_ags")}


def _map_section(body: Body, data: SiteData, programme: Programme, lang: str, features, configured: bool) -> None:
    body.add(f"<h2>{esc(t(lang, 'map_title'))}</h2>")
    if not configured:
        body.add(f"<p class='note'>{esc(t(lang, 'map_missing'))}</p>")
        return
    attainment = map_met_share(data, programme)
    activity = None if attainment else map_activity(data, programme)
    if not attainment and not activity:
        body.add(f"<p class='note'>{esc(t(lang, 'map_no_district_targets'))}</p>")
        return
    shown = attainment or activity[1]
    mine = [f for f in features or [] if f["id"] in set(programme.districts) | set(programme.comparison_districts)]
    if not any(f["id"] in shown for f in mine):
        body.add(f"<p class='note'>{esc(t(lang, 'map_no_features'))}</p>")
        return
    names = {f["id"]: district_name(data, f["id"]) for f in mine}
    states = {f["id"][:2] for f in mine}
    outlines = [edge for state, edges in data.memo.get("state_outlines", {}).items() if state in states for edge in edges]
    if attainment:
        figure = geo.choropleth(mine, attainment, names, lang, t(lang, "map_metric"), outlines,
                                set(programme.comparison_districts))
        body.figure(figure, "fig-map", t(lang, "map_title"))
    else:
        # Targets for the whole programme say nothing per district: the map shows what varies by
        # district instead, the activity per 10,000 inhabitants, and says why.
        row, values = activity
        title = t(lang, "map_activity_title", label=i18n.label(row, lang))
        body.add(f"<p class='note'>{esc(t(lang, 'map_activity_note'))}</p>")
        body.figure(geo.value_map(mine, values, names, lang, title, outlines), "fig-map", title)
    body.has_map = True


def map_activity(data: SiteData, programme: Programme) -> tuple[dict, dict[str, float]] | None:
    """For a programme whose targets are programme-level: its first count of events (catalogue
    order) per 10,000 inhabitants per district, with the row that names it; None without one.
    Events, not persons: a rate of a small person count would undo the "< 5" rule."""
    totals = data.totals(programme)
    rows = totals[(totals["district_ags"] != ALL) & ~totals["comparison"] & (totals["unit"] == "events")
                  & totals["per_10k"].notna()]
    if rows.empty:
        return None
    first = rows[rows["indicator_id"] == rows["indicator_id"].iloc[0]]
    return first.iloc[0].to_dict(), {r.district_ags: float(r.per_10k) for r in first.itertuples(index=False)}
