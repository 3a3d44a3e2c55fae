"""A district's page: its programmes' totals and timelines, its own impact readings where the
impact page leaves them out, and every delivery with its quality report."""
from __future__ import annotations

from dashboards import charts, charts_district, i18n, privacy, sitemap
from dashboards.data import SiteData
from dashboards.i18n import is_missing, t
from dashboards.layout import Body, Place, esc, table
from dashboards.pages_common import (district_name, has_many_districts, masked_line, programme_name, report_link,
                                     compact_name, status_chip, value_text, withheld_line)
from pipeline.indicators.model import ALL
from dashboards.pages_breakdowns import district_breakdowns
from dashboards.pages_trajectories import trajectory_ids, trajectory_section
from dashboards.pages_impact import district_impact
from dashboards.pages_places import places_section
from dashboards.targets import target_text
from pipeline.catalogue import Programme


def district_page(data: SiteData, ags: str, place: Place) -> Body:
    lang, threshold = place.lang, data.threshold
    name = district_name(data, ags)
    body = Body(title=name)
    info = data.catalogue.districts.loc[ags] if ags in data.catalogue.districts.index else None
    if info is not None:
        body.add(f"<p class='lead'>{esc(t(lang, 'district_lead', state=info['state'], population=i18n.number(info['population'], lang)))}"
                 f" · AGS {esc(ags)}</p>")
    memberships = data.programmes_of(ags)
    links = ", ".join(f"<a href='{esc(place.href(sitemap.programme_path(p.id)))}'>{esc(programme_name(p, lang))}</a>"
                      + (f" ({esc(t(lang, 'comparison_mark'))})" if cmp else "") for p, cmp in memberships)
    body.add(f"<p>{esc(t(lang, 'member_of'))}: {links}</p>")
    if memberships and all(cmp for _, cmp in memberships):
        body.add(f"<p class='note'>{esc(t(lang, 'comparison_only'))}</p>")
    for programme, _ in memberships:
        mine = _district_rows(data, programme, ags)
        if mine is None:
            continue
        masked, totals, timelines = mine
        short = compact_name(programme, lang)
        body.add(f"<h2>{esc(t(lang, 'totals_table', programme=short))}</h2>")
        body.add(masked_line(masked, lang, threshold))
        body.add(withheld_line(any(r.get("withheld", False) for r in totals), lang, threshold))
        paths = set(trajectory_ids(data))  # with their intervals in trajectory_section
        outputs = [r for r in totals if r["unit"] not in charts.SURVEY_UNITS and r["indicator_id"] not in paths]
        survey = [r for r in totals if r["unit"] in charts.SURVEY_UNITS]
        if outputs:
            body.add(_totals_table(outputs, lang, threshold, _programme_targets(data, programme)))
        elif survey and ags in programme.comparison_districts:
            body.add(f"<p class='note'>{esc(t(lang, 'comparison_no_targets'))}</p>")
        if survey:
            body.add(f"<h3>{esc(t(lang, 'survey_title'))}</h3>")
            body.add(_survey_table(survey, lang, threshold))
        # Output indicators over time; the survey (one wave a quarter, a point per panel) is in its
        # table above, as counts and means.
        figure = charts_district.timeline_figure(timelines[0], lang, threshold)
        if figure is not None:
            title = t(lang, "over_time", programme=short)
            body.add(f"<h3>{esc(title)}</h3>")
            body.figure(figure, f"fig-timeline-{programme.id}", title)
    for programme, _ in memberships:
        places_section(body, data, programme, ags, lang)
    for programme, _ in memberships:
        body.add(district_breakdowns(data, programme, ags, lang))
    for programme, _ in memberships:
        trajectory_section(body, data, programme, lang, ags)
    for programme, _ in memberships:
        if has_many_districts(programme):
            district_impact(body, data, programme, ags, place)
    body.add(f"<h2>{esc(t(lang, 'deliveries'))}</h2>")
    body.add(withheld_line(any(r[-1] for r in data.district_delivery_rows(ags)), lang, threshold))
    body.add(_deliveries_table(data, ags, place))
    return body


def _district_rows(data: SiteData, programme: Programme, ags: str) -> tuple | None:
    """A district's rows of one programme, split once for both languages: whether any figure is
    hidden, its totals as plain dicts, and its timelines' panels (other indicators, survey)."""
    timelines = _timelines(data)
    panels = [timelines.get((programme.id, ags, survey)) for survey in (False, True)]
    totals = data.district_total_records(programme, ags)
    if not totals and panels == [None, None]:
        return None
    return data.district_masked(programme, ags), totals, panels


def _timelines(data: SiteData) -> dict[tuple, tuple]:
    """(programme, district, survey or not) -> its timeline's panels, for every district: split
    once for all district pages in both languages."""
    if "timelines" not in data.memo:
        programmes = {p.id: p for p in data.catalogue.programmes}
        quarters = data.district_quarters()
        quarters = quarters[quarters["programme_id"].isin(programmes).to_numpy()]
        quarters = quarters.assign(_survey=quarters["unit"].isin(charts.SURVEY_UNITS).to_numpy())
        data.memo["timelines"] = charts_district.timeline_panels_by(quarters, ["programme_id", "district_ags", "_survey"],
                                                           lambda key: programmes[key[0]])
    return data.memo["timelines"]


def _programme_targets(data: SiteData, programme: Programme) -> dict[str, dict]:
    """indicator -> the programme row's record, where the programme's targets are programme-level:
    a district page then names the programme's target instead of leaving the column blank."""
    if programme.target_level != "programme":
        return {}
    return {r["indicator_id"]: r for r in data.district_total_records(programme, ALL) if not is_missing(r["target"])}


def _totals_table(rows: list[dict], lang: str, threshold: int, programme_targets: dict[str, dict]) -> str:
    """Output indicators with target, attainment, status and per 10,000; a column no row fills is
    left out. Survey figures are not here (`_survey_table`)."""
    out = []
    for r in rows:
        hidden = privacy.hidden_text(bool(r.get("withheld", False)), lang, threshold)
        mine = not is_missing(r["target"])
        whole = programme_targets.get(r["indicator_id"]) if not mine else None
        if mine:
            target = target_text(r, lang)
        elif whole is not None:
            target = (f"{t(lang, 'scorecard_programme_level')}: {i18n.t(lang, whole['direction'])} "
                      f"{charts.fmt(whole['target'], lang, whole['unit'])}")
        else:
            target = ""
        attainment = ("" if not mine else hidden if r["masked"] else i18n.percent(r["attainment_pct"], lang))
        status = (status_chip(r["status"], lang) if mine else
                  status_chip(whole["status"], lang) if whole is not None else "")
        per_10k = hidden if r["masked"] else ("" if is_missing(r["per_10k"]) else i18n.number(r["per_10k"], lang, 2))
        method = i18n.METHOD[lang].get(r["method"], "") if isinstance(r["method"], str) else ""
        out.append([i18n.label(r, lang), value_text(r, lang, threshold), target, attainment, status, per_10k, method])
    headers = [t(lang, "indicator"), t(lang, "value"), t(lang, "target"), t(lang, "attainment"),
               t(lang, "status"), t(lang, "per_10k"), t(lang, "method")]
    used = [i for i in range(len(headers)) if i < 2 or any(row[i] != "" for row in out)]
    return table([headers[i] for i in used], [[row[i] for i in used] for row in out],
                 numeric={n for n, i in enumerate(used) if i in (1, 3, 5)})


def _survey_table(rows: list[dict], lang: str, threshold: int) -> str:
    """Survey figures as they are meant: respondents as counts, means with their 95 % interval and
    number of answers (never per 10,000 inhabitants)."""
    out = []
    for r in rows:
        hidden = privacy.hidden_text(bool(r.get("withheld", False)), lang, threshold)
        if r["unit"] == "score" and not r["masked"] and not is_missing(r["value"]):
            interval = (f"{charts.fmt(r['ci_low'], lang, 'score')} – {charts.fmt(r['ci_high'], lang, 'score')}"
                        if not is_missing(r["ci_low"]) else "")
        else:
            interval = ""
        n = (hidden if r["n_masked"] or r["masked"] else
             i18n.number(r["n"], lang) if r["unit"] == "score" and not is_missing(r["n"]) else "")
        out.append([i18n.label(r, lang), value_text(r, lang, threshold), interval, n])
    headers = [t(lang, "indicator"), t(lang, "value"), t(lang, "interval_95"), t(lang, "answers")]
    return table(headers, out, numeric={1, 3})


def _deliveries_table(data: SiteData, ags: str, place: Place) -> str:
    lang = place.lang
    rows = data.district_delivery_rows(ags)
    if not rows:
        return f"<p>{esc(t(lang, 'no_deliveries'))}</p>"
    out = []
    for r in rows:
        quarter, file_name, received_at, *counts, state, superseded_by, withheld = r
        status = ("zurückgestellt" if lang == "de" else "set aside") if state == "set_aside" else (
            ("ersetzt" if lang == "de" else "replaced") if isinstance(superseded_by, str) and superseded_by else "")
        # A survey file's row counts add up its groups: withheld with a small group (withhold.py).
        shown = [privacy.withheld_text(lang) if withheld else i18n.number(v, lang) for v in counts]
        report = (privacy.withheld_text(lang) if withheld else
                  report_link(place, data, ags, quarter, t(lang, "open_report")))
        out.append([quarter, file_name, i18n.date(received_at, lang), *shown, status, report])
    headers = [t(lang, k) for k in ("quarter", "file", "received", "rows_read", "accepted", "rejected", "late",
                                     "corrected", "status", "report")]
    return table(headers, out, numeric={3, 4, 5, 6, 7})
