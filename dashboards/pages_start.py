"""The start page: what a reviewer needs in five seconds above the fold (the data status, one
sentence per programme that states its finding, a scorecard of districts × programmes with the
districts behind first), then a card per programme, targets by status and every district."""
from __future__ import annotations

import pandas as pd

from dashboards import charts_overview, i18n, sitemap, style
from dashboards.data import SiteData
from dashboards.i18n import t
from dashboards.layout import Body, Place, Raw, chip, esc, table
from dashboards.pages_common import (MET, MISSED, ON_TRACK, compact_name, counted_text, district_links, district_name,
                                     is_finished, programme_name, short_name, state_text, status_counts, target_rows,
                                     verdict)
from pipeline.indicators.model import ALL


def start_page(data: SiteData, place: Place) -> Body:
    lang = place.lang
    body = Body(title=t(lang, "site_title"))
    if data.status_line(lang):
        body.add(f"<p class='status-date'><strong>{esc(data.status_line(lang))}</strong></p>")
    # The scorecard first: on a phone it must be in the first screen; the sentences follow it.
    body.add(scorecard(data, place))
    body.add(f"<ul class='headlines'>{''.join(f'<li>{esc(h)}</li>' for h in headlines(data, lang))}</ul>")
    body.add(f"<p class='lead'>{esc(t(lang, 'start_lead'))}</p>")
    body.add(f"<h2>{esc(t(lang, 'programme_details'))}</h2>")
    cards = []
    for p in data.catalogue.programmes:
        latest = data.latest_quarter(p) or t(lang, "none_reported")
        items = [(t(lang, "funder"), esc(i18n.funder(p.funder, lang))),
                 (t(lang, "period"), esc(i18n.period(p.start, p.end, lang))),
                 (t(lang, "districts"), district_links(place, data, p.districts))]
        if p.comparison_districts:
            items.append((t(lang, "comparison_districts"), district_links(place, data, p.comparison_districts)))
        items += [(t(lang, "latest_quarter"), esc(latest)),
                  (t(lang, "verdict"), f"<span class='verdict'>{esc(verdict(data, p, lang))}</span>")]
        dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items)
        cards.append(f"<section class='card'><h3><a href='{esc(place.href(sitemap.programme_path(p.id)))}'>"
                     f"{esc(programme_name(p, lang))}</a></h3><dl>{dl}</dl></section>")
    body.add(f"<div class='cards'>{''.join(cards)}</div>")
    counts = []
    for p in data.catalogue.programmes:
        rows = target_rows(data, p)
        for group, members in (("met", MET), ("on_track", ON_TRACK), ("missed", MISSED)):
            n = int(rows["status"].isin(members).sum())
            if n:
                counts.append((style.wrap(short_name(p, lang), 28), group, n))
    if counts:
        frame = pd.DataFrame(counts, columns=["programme", "status", "n"])
        body.figure(charts_overview.status_overview(frame, lang), "fig-overview", t(lang, "overview_chart"))
    body.add(f"<h2>{esc(t(lang, 'districts'))}</h2>")
    rows = [[Raw(f"<a href='{esc(place.href(sitemap.district_path(a)))}'>{esc(district_name(data, a))}</a>"), a,
             str(data.catalogue.districts.loc[a, "state"]) if a in data.catalogue.districts.index else "",
             Raw(", ".join(f"<a href='{esc(place.href(sitemap.programme_path(p.id)))}'>{esc(compact_name(p, lang))}</a>"
                           + (f" ({esc(t(lang, 'comparison_mark'))})" if cmp else "")
                           for p, cmp in data.programmes_of(a)))]
            for a in data.districts()]
    body.add(table([t(lang, "districts"), "AGS", t(lang, "state"), t(lang, "nav_programmes")], rows))
    return body


def district_counts(data: SiteData, programme) -> dict[str, tuple[int, int, int, int]]:
    """(met, on track, missed, all) per district (or ALL for a programme with programme-level
    targets) of the programme's target rows."""
    rows = target_rows(data, programme)
    return {ags: status_counts(part) for ags, part in rows.groupby("district_ags", sort=False)}


def missed_count(counts: tuple[int, int, int, int], finished: bool) -> int:
    """Targets not met: missed, and for a finished programme also those only "on track"."""
    return counts[2] + (counts[1] if finished else 0)


def headlines(data: SiteData, lang: str) -> list[str]:
    """One sentence per programme that states its finding and names the districts behind."""
    out = []
    for p in data.catalogue.programmes:
        finished = is_finished(data, p)
        counted = counted_text(status_counts(target_rows(data, p)), finished, lang)
        behind = [district_name(data, a) for a, c in district_counts(data, p).items()
                  if a != ALL and missed_count(c, finished)]
        key = "headline_plain" if not behind else ("headline_missed" if finished else "headline_behind")
        out.append(t(lang, key, programme=compact_name(p, lang), state=state_text(data, p, lang), counted=counted,
                     districts=", ".join(behind)))
    return out


def _cell(counts: tuple[int, int, int, int], finished: bool) -> tuple[str, str]:
    """(colour, text) of one scorecard field: "✗ 4/6"."""
    met, on_track, _, n = counts
    if missed_count(counts, finished):
        colour, sign = style.STATUS_STYLE["behind"]
    elif on_track:
        colour, sign = style.STATUS_STYLE["on_track"]
    else:
        colour, sign = style.STATUS_STYLE["achieved"]
    return colour, f"{sign} {met}/{n}"


def scorecard(data: SiteData, place: Place) -> str:
    """Districts × programmes: per field the targets met of all, a chip whose colour and sign say
    whether any target is behind (not reached, for a finished programme); the programme row first,
    then the districts with the most targets not met."""
    lang = place.lang
    programmes = list(data.catalogue.programmes)
    per = {p.id: district_counts(data, p) for p in programmes}
    finished = {p.id: is_finished(data, p) for p in programmes}

    def field(p, ags: str) -> Raw:
        counts = per[p.id].get(ags)
        if counts is None or not counts[3]:
            if ags != ALL and p.target_level == "programme" and ags in p.districts:
                return Raw(f"<span class='note'>{esc(t(lang, 'scorecard_programme_level'))}</span>")
            if ags in p.comparison_districts:
                return Raw(f"<span class='note'>{esc(t(lang, 'scorecard_comparison'))}</span>")
            return Raw("")
        colour, text = _cell(counts, finished[p.id])
        where = t(lang, "scorecard_all") if ags == ALL else district_name(data, ags)
        title = t(lang, "scorecard_cell", district=where, programme=compact_name(p, lang),
                  counted=counted_text(counts, finished[p.id], lang))
        href = place.href(sitemap.programme_path(p.id) if ags == ALL else sitemap.district_path(ags))
        return Raw(f"<a href='{esc(href)}' title='{esc(title)}' aria-label='{esc(title)}'>"
                   f"{chip(text, colour)}</a>")

    # The first row: a programme's own targets where they are programme-level, else all its
    # districts' targets together.
    totals = {p.id: status_counts(target_rows(data, p)) for p in programmes}

    def total_field(p) -> Raw:
        counts = totals[p.id]
        if not counts[3]:
            return Raw("")
        colour, text = _cell(counts, finished[p.id])
        title = t(lang, "scorecard_cell", district=t(lang, "scorecard_all"), programme=compact_name(p, lang),
                  counted=counted_text(counts, finished[p.id], lang))
        return Raw(f"<a href='{esc(place.href(sitemap.programme_path(p.id)))}' title='{esc(title)}' "
                   f"aria-label='{esc(title)}'>{chip(text, colour)}</a>")

    districts = data.districts()
    not_met = {a: sum(missed_count(per[p.id][a], finished[p.id]) for p in programmes if a in per[p.id])
               for a in districts}
    order = sorted(districts, key=lambda a: (-not_met[a], districts.index(a)))
    rows = [[Raw(f"<strong>{esc(t(lang, 'scorecard_all'))}</strong>"), *[total_field(p) for p in programmes]]]
    for a in order:
        rows.append([Raw(f"<a href='{esc(place.href(sitemap.district_path(a)))}'>{esc(district_name(data, a))}</a>"),
                     *[field(p, a) for p in programmes]])
    head = [t(lang, "districts"), *[compact_name(p, lang) for p in programmes]]
    return (f"<section class='scorecard' aria-labelledby='scorecard-title'>"
            f"<h2 id='scorecard-title'>{esc(t(lang, 'scorecard_title'))}</h2>"
            f"{table(head, rows, cls='scorecard')}</section>"
            f"<p class='note'>{esc(t(lang, 'scorecard_note'))}</p>")
