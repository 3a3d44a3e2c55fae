"""A district's page: its programmes' totals and timelines, its own impact readings where the
impact page leaves them out, and every delivery with its quality report."""
from __future__ import annotations

from dashboards import charts, charts_district, i18n, privacy, sitemap
from dashboards.data import SiteData
from dashboards.i18n import is_missing, t
from dashboards.layout import Body, Place, esc, table
from dashboards.pages_common import (district_name, has_many_districts, masked_line, programme_name, report_link,
                                     short_name, status_chip, value_text)
from dashboards.pages_breakdowns import district_breakdowns
from dashboards.pages_impact import district_impact
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
        short = short_name(programme, lang)
        body.add(f"<h2>{esc(t(lang, 'totals_table', programme=short))}</h2>")
        body.add(masked_line(masked, lang, threshold))
        body.add(_totals_table(totals, lang, threshold))
        for panels, suffix in zip(timelines, ("", "-survey")):
            figure = charts_district.timeline_figure(panels, lang, threshold)
            if figure is not None:
                title = t(lang, "over_time", programme=short) + (f" – {t(lang, 'survey_title')}" if suffix else "")
                body.add(f"<h3>{esc(title)}</h3>")
                body.figure(figure, f"fig-timeline-{programme.id}{suffix}", title)
    for programme, _ in memberships:
        body.add(district_breakdowns(data, programme, ags, lang))
    for programme, _ in memberships:
        if has_many_districts(programme):
            district_impact(body, data, programme, ags, place)
    body.add(f"<h2>{esc(t(lang, 'deliveries'))}</h2>")
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


def _totals_table(rows: list[dict], lang: str, threshold: int) -> str:
    out = []
    for r in rows:
        target = "" if is_missing(r["target"]) else f"{i18n.t(lang, r['direction'])} {charts.fmt(r['target'], lang, r['unit'])}"
        attainment = ("" if is_missing(r["target"]) else
                      privacy.masked_text(threshold) if r["masked"] else i18n.percent(r["attainment_pct"], lang))
        per_10k = privacy.masked_text(threshold) if r["masked"] else (
            "" if is_missing(r["per_10k"]) else i18n.number(r["per_10k"], lang, 2))
        method = i18n.METHOD[lang].get(r["method"], "") if isinstance(r["method"], str) else ""
        out.append([i18n.label(r, lang), value_text(r, lang, threshold), target, attainment,
                    status_chip(r["status"], lang) if not is_missing(r["target"]) else "", per_10k, method])
    headers = [t(lang, "indicator"), t(lang, "value"), t(lang, "target"), t(lang, "attainment"),
               t(lang, "status"), t(lang, "per_10k"), "Methode" if lang == "de" else "Method"]
    return table(headers, out, numeric={1, 3, 5})


def _deliveries_table(data: SiteData, ags: str, place: Place) -> str:
    lang = place.lang
    rows = data.district_delivery_rows(ags)
    if not rows:
        return f"<p>{esc(t(lang, 'no_deliveries'))}</p>"
    out = []
    for r in rows:
        quarter, file_name, received_at, rows_read, accepted, rejected, late, corrected, state, superseded_by = r
        status = ("zurückgestellt" if lang == "de" else "set aside") if state == "set_aside" else (
            ("ersetzt" if lang == "de" else "replaced") if isinstance(superseded_by, str) and superseded_by else "")
        out.append([quarter, file_name, i18n.date(received_at, lang), i18n.number(rows_read, lang),
                    i18n.number(accepted, lang), i18n.number(rejected, lang), i18n.number(late, lang),
                    i18n.number(corrected, lang), status,
                    report_link(place, data, ags, quarter, t(lang, "open_report"))])
    headers = [t(lang, k) for k in ("quarter", "file", "received", "rows_read", "accepted", "rejected", "late",
                                     "corrected", "status", "report")]
    return table(headers, out, numeric={3, 4, 5, 6, 7})
