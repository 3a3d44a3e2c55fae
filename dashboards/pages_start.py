"""The start page: a card per programme with its verdict, targets by status, every district."""
from __future__ import annotations

import pandas as pd

from dashboards import charts_overview, i18n, sitemap, style
from dashboards.data import SiteData
from dashboards.i18n import t
from dashboards.layout import Body, Place, Raw, esc, table
from dashboards.pages_common import (MET, MISSED, ON_TRACK, district_links, district_name, programme_name, short_name,
                                     target_rows, verdict)


def start_page(data: SiteData, place: Place) -> Body:
    lang = place.lang
    body = Body(title=t(lang, "site_title"))
    body.add(f"<p class='lead'>{esc(t(lang, 'start_lead'))}</p>")
    cards = []
    for p in data.catalogue.programmes:
        latest = data.latest_quarter(p) or t(lang, "none_reported")
        items = [(t(lang, "funder"), esc(p.funder)), (t(lang, "period"), esc(i18n.period(p.start, p.end, lang))),
                 (t(lang, "districts"), district_links(place, data, p.districts))]
        if p.comparison_districts:
            items.append((t(lang, "comparison_districts"), district_links(place, data, p.comparison_districts)))
        items += [(t(lang, "latest_quarter"), esc(latest)),
                  (t(lang, "verdict"), f"<span class='verdict'>{esc(verdict(data, p, lang))}</span>")]
        dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items)
        cards.append(f"<section class='card'><h2><a href='{esc(place.href(sitemap.programme_path(p.id)))}'>"
                     f"{esc(programme_name(p, lang))}</a></h2><dl>{dl}</dl></section>")
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
             Raw(", ".join(f"<a href='{esc(place.href(sitemap.programme_path(p.id)))}'>{esc(p.id)}</a>"
                           + (f" ({esc(t(lang, 'comparison_mark'))})" if cmp else "")
                           for p, cmp in data.programmes_of(a)))]
            for a in data.districts()]
    body.add(table([t(lang, "districts"), "AGS", t(lang, "state"), t(lang, "nav_programmes")], rows))
    return body
