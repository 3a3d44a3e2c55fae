"""The data quality page: which deliveries came on time, late or not at all, and which rows were
rejected for what reason, each linked to its delivery's quality report."""
from __future__ import annotations

import pandas as pd

from dashboards import charts, charts_overview, i18n, sitemap, style
from dashboards.data import SiteData
from dashboards.i18n import t
from dashboards.layout import Body, Place, Raw, chip, esc, table
from dashboards.pages_common import MANY_DISTRICTS, district_name, has_many_districts, programme_name, report_link
from pipeline.catalogue import Programme


def quality_page(data: SiteData, place: Place) -> Body:
    lang = place.lang
    body = Body(title=t(lang, "nav_quality"))
    body.add(f"<p class='lead'>{esc(t(lang, 'quality_lead'))}</p>")
    status = data.status
    if len(status):
        counts = status["status"].value_counts()
        body.add(f"<p><b>{esc(t(lang, 'reporting_rate_value', on_time=int(counts.get('on_time', 0)), late=int(counts.get('late', 0)), missing=int(counts.get('missing', 0)), n=len(status)))}</b></p>")
    legend = "".join(chip(f"{style.DELIVERY_STYLE[s][1]} {i18n.DELIVERY_STATUS[lang][s]}", style.DELIVERY_STYLE[s][0])
                     for s in ("on_time", "late", "missing", "open"))
    body.add(f"<h2>{esc(t(lang, 'reporting_rate'))}</h2><div class='legend'>{legend}</div>")
    for programme in data.catalogue.programmes:
        body.add(f"<h3>{esc(programme_name(programme, lang))}</h3>")
        if has_many_districts(programme):
            body.add(f"<p class='note'>{esc(t(lang, 'rate_summary_note', n=len(programme.districts)))}</p>")
            body.add(_rate_summary(data, programme, place))
        else:
            body.add(_rate_table(data, programme, place))
    body.add(f"<h2>{esc(t(lang, 'rejections_by_reason'))}</h2>")
    names = {a: district_name(data, a) for a in data.rejections["district_ags"].dropna().unique()}
    body.add(f"<p class='note'>{esc(t(lang, 'rejections_note'))}</p>")
    many = len(names) > MANY_DISTRICTS
    figure = (charts_overview.rejections_by_reason if many else charts_overview.rejections)(data.rejections, names, lang)
    if figure is None:
        body.add(f"<p>{esc(t(lang, 'no_rejections'))}</p>")
    else:
        body.figure(figure, "fig-rejections", t(lang, "rejections_by_reason"))
        body.add(f"<h3>{esc(t(lang, 'rejections_table'))}</h3>")
        if many:
            body.add(f"<p class='note'>{esc(t(lang, 'rejections_summary_note'))}</p>")
        body.add(_rejections_summary(data, place) if many else _rejections_table(data, place))
    _warnings(body, data, place)
    _approvals(body, data, place)
    if (None, None) in data.reports:
        body.add(f"<p>{report_link(place, data, None, None, t(lang, 'unassigned_report'))}</p>")
    return body


def _warnings(body: Body, data: SiteData, place: Place) -> None:
    """Warnings per delivery and code (per district where there are many), then the outliers'
    follow-up list with the references each value was compared with."""
    lang = place.lang
    body.add(f"<h2>{esc(t(lang, 'warnings_heading'))}</h2><p class='note'>{esc(t(lang, 'warnings_note'))}</p>")
    warnings = data.warnings
    if warnings.empty:
        body.add(f"<p>{esc(t(lang, 'no_warnings'))}</p>")
        return
    many = warnings["district_ags"].nunique() > MANY_DISTRICTS
    rows = []
    if many:
        totals = warnings.groupby(["district_ags", "reason_code"])["rows"].sum().unstack(fill_value=0)
        totals = totals.loc[totals.sum(axis=1).sort_values(ascending=False, kind="stable").index]
        for ags, counts in totals.iterrows():
            text = " · ".join(f"{i18n.REASON[lang].get(c, c)}: {i18n.number(int(n), lang)}" for c, n in counts.items() if n)
            rows.append([Raw(f"<a href='{esc(place.href(sitemap.district_path(ags)))}'>{esc(district_name(data, ags))}</a>"),
                         i18n.number(int(counts.sum()), lang), text])
        body.add(table([t(lang, "districts"), t(lang, "count"), t(lang, "reason")], rows, numeric={1}))
    else:
        for r in warnings.itertuples():
            rows.append([district_name(data, r.district_ags), r.quarter, r.feed,
                         f"{i18n.REASON[lang].get(r.reason_code, r.reason_code)} ({r.reason_code})",
                         i18n.number(int(r.rows), lang),
                         report_link(place, data, r.district_ags, r.quarter, t(lang, "open_report"))])
        body.add(table([t(lang, "districts"), t(lang, "quarter"), "Lieferart" if lang == "de" else "Feed",
                        t(lang, "reason"), t(lang, "count"), t(lang, "report")], rows, numeric={4}))
    outliers = data.outliers
    if outliers.empty:
        return
    body.add(f"<h3>{esc(t(lang, 'outliers_heading'))}</h3>"
             f"<p class='note'>{esc(t(lang, 'outliers_note', threshold=i18n.number(data.outlier_threshold, lang)))}</p>")
    if many:
        counts = outliers["status"].value_counts()
        body.add("<p>" + esc(" · ".join(f"{i18n.FOLLOWUP[lang][s]}: {i18n.number(int(counts.get(s, 0)), lang)}"
                                        for s in ("open", "confirmed", "corrected"))) + "</p>")
        return
    labels = data.measure_labels(lang)

    def figure(value) -> str:  # a participant count is a count of persons: below the threshold, "< 5"
        if i18n.is_missing(value):
            return "–"
        return f"< {data.threshold}" if value < data.threshold else i18n.number(value, lang)

    rows = [[district_name(data, r.district_ags), r.quarter, labels.get(r.measure_id, r.measure_id), r.record_id or "–",
             figure(r.value), figure(r.history_median), figure(r.peer_median), i18n.FOLLOWUP[lang][r.status]]
            for r in outliers.itertuples()]
    body.add(table([t(lang, "districts"), t(lang, "quarter"), t(lang, "measure"), "ID", t(lang, "value"),
                    t(lang, "own_median"), t(lang, "peer_median"), t(lang, "followup_status")], rows,
                   numeric={4, 5, 6}))


def _rate_table(data: SiteData, programme: Programme, place: Place) -> str:
    lang = place.lang
    quarters = charts.programme_quarters(programme)
    status = data.status[data.status["district_ags"].isin(programme.districts)]
    lookup = {(r.district_ags, r.quarter): r.status for r in status.itertuples()}
    head = "".join(f"<th scope='col'>{esc(q)}</th>" for q in quarters)
    body = []
    for ags in programme.districts:
        cells = []
        for q in quarters:
            state = lookup.get((ags, q))
            if state is None:
                cells.append("<td class='cell'>·</td>")
                continue
            colour, sign = style.DELIVERY_STYLE.get(state, (style.LIGHT_GREY, "?"))
            word = i18n.DELIVERY_STATUS[lang].get(state, state)
            link = report_link(place, data, ags, q, sign)
            cells.append(f"<td class='cell' style='background:{colour}' title='{esc(district_name(data, ags))} {esc(q)}: "
                         f"{esc(word)}' aria-label='{esc(word)}'>{link}</td>")
        name = f"<a href='{esc(place.href(sitemap.district_path(ags)))}'>{esc(district_name(data, ags))}</a>"
        body.append(f"<tr><th scope='row'>{name}</th>{''.join(cells)}</tr>")
    return (f"<div class='wide'><table class='rate'><thead><tr><th>{esc(t(lang, 'districts'))}</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _rate_summary(data: SiteData, programme: Programme, place: Place) -> str:
    """One row per district: its deliveries by state, the share on time of those due, and its
    newest report; every delivery with its report is on the district's page."""
    lang = place.lang
    states = ("on_time", "late", "missing", "open")
    status = data.status[data.status["district_ags"].isin(programme.districts)
                         & data.status["quarter"].isin(charts.programme_quarters(programme))]
    counts = (pd.crosstab(status["district_ags"], status["status"])
              .reindex(index=list(programme.districts), columns=list(states), fill_value=0))
    newest = {}
    for (ags, quarter) in sorted(k for k in data.reports if k[0] in counts.index and k[1]):
        newest[ags] = quarter
    rows = []
    for ags, n in counts.iterrows():
        due = int(n["on_time"] + n["late"] + n["missing"])
        share = i18n.percent(100 * n["on_time"] / due, lang) if due else "–"
        quarter = newest.get(ags)
        rows.append([Raw(f"<a href='{esc(place.href(sitemap.district_path(ags)))}'>{esc(district_name(data, ags))}</a>"),
                     *(i18n.number(int(n[s]), lang) for s in states), share,
                     report_link(place, data, ags, quarter, quarter) if quarter else "–"])
    headers = [t(lang, "districts"), *(i18n.DELIVERY_STATUS[lang][s] for s in states),
               t(lang, "rate_on_time_share"), t(lang, "latest_report")]
    return table(headers, rows, numeric={1, 2, 3, 4, 5})


def _rejections_summary(data: SiteData, place: Place) -> str:
    """One row per district (most rejections first): rejected rows in all, by reason, and the
    report of the delivery with the most of them."""
    lang = place.lang
    frame = data.rejections.assign(district_ags=data.rejections["district_ags"].fillna(""))
    by_reason = frame.groupby(["district_ags", "reason_code"])["rows"].sum().reset_index()
    by_reason = by_reason.sort_values(["district_ags", "rows", "reason_code"], ascending=[True, False, True])
    reasons = by_reason.groupby("district_ags", sort=False).apply(
        lambda g: " · ".join(f"{c}: {i18n.number(n, lang)}" for c, n in zip(g["reason_code"], g["rows"])),
        include_groups=False)
    per_delivery = frame.groupby(["district_ags", "quarter"], dropna=False)["rows"].sum().reset_index()
    top = per_delivery.sort_values(["rows", "quarter"], ascending=[False, True]).drop_duplicates("district_ags")
    top = top.set_index("district_ags")["quarter"]
    totals = frame.groupby("district_ags")["rows"].sum().sort_values(ascending=False, kind="stable")
    rows = []
    for ags, n in totals.items():
        name = (Raw(f"<a href='{esc(place.href(sitemap.district_path(ags)))}'>{esc(district_name(data, ags))}</a>")
                if ags else "–")
        quarter = top.get(ags)
        quarter = quarter if isinstance(quarter, str) else None
        rows.append([name, i18n.number(n, lang), reasons.get(ags, ""),
                     report_link(place, data, ags or None, quarter, quarter or "–")])
    headers = [t(lang, "districts"), t(lang, "rejected"), t(lang, "reason"), t(lang, "top_delivery")]
    return table(headers, rows, numeric={1})


def _rejections_table(data: SiteData, place: Place) -> str:
    lang = place.lang
    rows = []
    for r in data.rejections.itertuples():
        ags = r.district_ags if isinstance(r.district_ags, str) else None
        quarter = r.quarter if isinstance(r.quarter, str) else None
        rows.append([district_name(data, ags) if ags else "–", quarter or "–", r.feed if isinstance(r.feed, str) else "–",
                     f"{i18n.REASON[lang].get(r.reason_code, r.reason_code)} ({r.reason_code})",
                     i18n.number(r.rows, lang), report_link(place, data, ags, quarter, t(lang, "open_report"))])
    headers = [t(lang, "districts"), t(lang, "quarter"), "Lieferart" if lang == "de" else "Feed",
               t(lang, "reason"), t(lang, "count"), t(lang, "report")]
    return table(headers, rows, numeric={4})


def _approvals(body: Body, data: SiteData, place: Place) -> None:
    """Each approved programme-quarter, the ones changed since approval first: who approved is
    the evaluators' record (teilhabe approvals), not the public's; the day and the reason are."""
    lang = place.lang
    body.add(f"<h2 id='approvals'>{esc(t(lang, 'approvals_heading'))}</h2>"
             f"<p class='note'>{esc(t(lang, 'approvals_note'))}</p>")
    approvals = data.approvals
    if approvals.empty:
        body.add(f"<p>{esc(t(lang, 'no_approvals'))}</p>")
        return
    names = {p.id: programme_name(p, lang) for p in data.catalogue.programmes}
    ordered = approvals.assign(_first=approvals["state"] != "changed").sort_values("_first", kind="stable")
    rows = []
    for r in ordered.itertuples(index=False):
        if r.state == "changed":
            reasons = ", ".join(t(lang, f"changed_by_{w}") for w in str(r.changed_because).split(", "))
            state = chip(f"⚠ {t(lang, 'changed_since_approval')} ({reasons})", style.DELIVERY_STYLE["late"][0])
        else:
            state = t(lang, "approval_state_approved")
        rows.append([names.get(r.programme_id, r.programme_id), r.quarter, state,
                     i18n.date(pd.Timestamp(r.approved_at).date(), lang)])
    body.add(table([t(lang, "programme"), t(lang, "quarter"), "Stand" if lang == "de" else "State",
                    t(lang, "approved_on")], rows))
