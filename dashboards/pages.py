"""Page assembly: what each page of the site says and shows, in one language.

Each function returns a `Body` (title, HTML parts, figures); layout.page() wraps it in the shell.
Figures come from charts.py / geo.py, words from i18n.py, labels from the catalogue.
"""
from __future__ import annotations

import functools

import pandas as pd

from dashboards import charts, geo, i18n, privacy, style
from dashboards.data import SiteData
from dashboards.i18n import is_missing
from dashboards.layout import Body, Place, Raw, chip, esc, table
from pipeline.catalogue import Catalogue, Programme
from pipeline.indicators.model import ALL, ALL_COMPARISON

MET, ON_TRACK, MISSED = ("achieved", "within"), ("on_track",), ("behind", "exceeded")

# A programme with more programme districts than this gets overviews where a small one shows each
# district on its own: one fund chart instead of one per district, bars across and sorted, a
# summary row per district on the quality page, and its districts' impact readings on their own
# pages. At national scale (100 districts) the per-district parts made pages of 2–9 MB; the demo's
# programmes (at most 12 districts) keep their pages as they were.
MANY_DISTRICTS = 20


def has_many_districts(programme: Programme) -> bool:
    return len(programme.districts) > MANY_DISTRICTS


# -- paths: the same in both languages, so the language switch only swaps the prefix --------------

def programme_path(programme_id: str) -> str:
    return f"programm/{programme_id}.html"


def district_path(ags: str) -> str:
    return f"kreis/{ags}.html"


QUALITY_PATH = "datenqualitaet.html"
IMPACT_PATH = "wirkung.html"
METHODS_PATH = "methoden.html"
START_PATH = "index.html"


def all_paths(catalogue: Catalogue) -> list[str]:
    """Every page of one language: start, programmes, districts, impact, quality, methods."""
    return ([START_PATH] + [programme_path(p.id) for p in catalogue.programmes]
            + [district_path(a) for a in catalogue_districts(catalogue)] + [IMPACT_PATH, QUALITY_PATH, METHODS_PATH])


def impact_anchor(programme_id: str) -> str:
    return f"{IMPACT_PATH}#wirkung-{programme_id}"


def catalogue_districts(catalogue: Catalogue) -> list[str]:
    """Every district of any programme, in catalogue order of first appearance."""
    seen: dict[str, None] = {}
    for p in catalogue.programmes:
        for ags in (*p.districts, *p.comparison_districts):
            seen.setdefault(ags)
    return list(seen)


# -- shared pieces ------------------------------------------------------------------------------

def _t(lang: str, key: str, **kw) -> str:
    return i18n.t(lang, key, **kw)


def _name(programme: Programme, lang: str) -> str:
    return programme.name_de if lang == "de" else programme.name_en


def _district(data: SiteData, ags: str) -> str:
    return data.catalogue.district_name(ags)


def _target_rows(data: SiteData, programme: Programme) -> pd.DataFrame:
    totals = data.totals(programme)
    rows = totals[totals["target"].notna() & ~totals["comparison"]]
    level_all = programme.target_level == "programme"
    return rows[(rows["district_ags"] == ALL) == level_all]


def verdict(data: SiteData, programme: Programme, lang: str) -> str:
    """One line: targets met / on track / behind, and whether the programme is finished."""
    rows = _target_rows(data, programme)
    if rows.empty:
        counted = _t(lang, "verdict_no_targets")
    else:
        status = rows["status"]
        counted = _t(lang, "verdict_text", met=int(status.isin(MET).sum()), n=len(rows),
                     on_track=int(status.isin(ON_TRACK).sum()), missed=int(status.isin(MISSED).sum()))
    finished = data.as_of is not None and data.as_of >= programme.end
    share = data.totals(programme)["elapsed_share"].dropna()
    state = _t(lang, "verdict_finished") if finished else _t(
        lang, "verdict_running", share=i18n.percent(float(share.iloc[0]) * 100 if len(share) else 0, lang))
    return f"{state}: {counted}"


def _district_links(place: Place, data: SiteData, districts) -> Raw:
    return Raw(", ".join(f"<a href='{esc(place.href(district_path(a)))}'>{esc(_district(data, a))}</a>"
                         for a in districts))


def _value_text(row, lang: str, threshold: int) -> str:
    if row["masked"]:
        return privacy.masked_text(threshold)
    text = charts._fmt(row["value"], lang, row["unit"])
    if not is_missing(row["value_high"]) and row["value_high"] != row["value"]:
        text += " – " + charts._fmt(row["value_high"], lang, row["unit"])
    return text


def _status_chip(status, lang: str) -> Raw:
    status = status if isinstance(status, str) else None
    colour, sign = style.STATUS_STYLE[status]
    return chip(f"{sign} {i18n.STATUS[lang][status]}", colour) if status else Raw(esc(i18n.STATUS[lang][None]))


def _status_legend(lang: str) -> str:
    chips = [chip(f"{style.STATUS_STYLE[s][1]} {i18n.STATUS[lang][s]}", style.STATUS_STYLE[s][0])
             for s in style.STATUS_ORDER]
    return f"<div class='legend' aria-label='{esc(_t(lang, 'legend'))}'>{''.join(chips)}</div>"


def _report_link(place: Place, data: SiteData, ags, quarter, text: str) -> Raw:
    path = data.reports.get((ags, quarter))
    if not path:
        return Raw(esc(text))
    return Raw(f"<a href='{esc(place.asset(path))}'>{esc(text)}</a>")


def _masked_note(frame: pd.DataFrame, lang: str, threshold: int) -> str:
    return _masked_line(bool(frame["masked"].any() or frame["n_masked"].any()), lang, threshold)


def _masked_line(masked: bool, lang: str, threshold: int) -> str:
    return f"<p class='note masked'>{esc(_t(lang, 'masked_note', threshold=threshold))}</p>" if masked else ""


# -- start page -----------------------------------------------------------------------------------

def start_page(data: SiteData, place: Place) -> Body:
    lang = place.lang
    body = Body(title=_t(lang, "site_title"))
    body.add(f"<p class='lead'>{esc(_t(lang, 'start_lead'))}</p>")
    cards = []
    for p in data.catalogue.programmes:
        latest = data.latest_quarter(p) or _t(lang, "none_reported")
        items = [(_t(lang, "funder"), esc(p.funder)), (_t(lang, "period"), esc(i18n.period(p.start, p.end, lang))),
                 (_t(lang, "districts"), _district_links(place, data, p.districts))]
        if p.comparison_districts:
            items.append((_t(lang, "comparison_districts"), _district_links(place, data, p.comparison_districts)))
        items += [(_t(lang, "latest_quarter"), esc(latest)),
                  (_t(lang, "verdict"), f"<span class='verdict'>{esc(verdict(data, p, lang))}</span>")]
        dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items)
        cards.append(f"<section class='card'><h2><a href='{esc(place.href(programme_path(p.id)))}'>"
                     f"{esc(_name(p, lang))}</a></h2><dl>{dl}</dl></section>")
    body.add(f"<div class='cards'>{''.join(cards)}</div>")
    counts = []
    for p in data.catalogue.programmes:
        rows = _target_rows(data, p)
        for group, members in (("met", MET), ("on_track", ON_TRACK), ("missed", MISSED)):
            n = int(rows["status"].isin(members).sum())
            if n:
                counts.append((style.wrap(_short_name(p, lang), 28), group, n))
    if counts:
        frame = pd.DataFrame(counts, columns=["programme", "status", "n"])
        body.figure(charts.status_overview(frame, lang), "fig-overview", _t(lang, "overview_chart"))
    body.add(f"<h2>{esc(_t(lang, 'districts'))}</h2>")
    rows = [[Raw(f"<a href='{esc(place.href(district_path(a)))}'>{esc(_district(data, a))}</a>"), a,
             str(data.catalogue.districts.loc[a, "state"]) if a in data.catalogue.districts.index else "",
             Raw(", ".join(f"<a href='{esc(place.href(programme_path(p.id)))}'>{esc(p.id)}</a>"
                           + (f" ({esc(_t(lang, 'comparison_mark'))})" if cmp else "")
                           for p, cmp in data.programmes_of(a)))]
            for a in data.districts()]
    body.add(table([_t(lang, "districts"), "AGS", _t(lang, "state"), _t(lang, "nav_programmes")], rows))
    return body


def _short_name(programme: Programme, lang: str) -> str:
    name = _name(programme, lang)
    return name if len(name) <= 60 else name.split(" – ")[0] + f" ({programme.id})"


# -- programme page -------------------------------------------------------------------------------

def programme_page(data: SiteData, programme: Programme, place: Place, features: list[dict] | None,
                   geo_configured: bool) -> Body:
    lang, threshold = place.lang, data.threshold
    body = Body(title=_name(programme, lang))
    totals, quarters = data.totals(programme), data.quarters(programme)
    facts = [f"{esc(_t(lang, 'funder'))}: {esc(programme.funder)}",
             f"{esc(_t(lang, 'period'))}: {esc(i18n.period(programme.start, programme.end, lang))}",
             f"{esc(_t(lang, 'latest_quarter'))}: {esc(data.latest_quarter(programme) or _t(lang, 'none_reported'))}"]
    body.add(f"<p class='lead'>{' · '.join(facts)}</p>")
    body.add(f"<p><span class='verdict'>{esc(verdict(data, programme, lang))}</span></p>")
    body.add(f"<p>{esc(_t(lang, 'districts'))}: {_district_links(place, data, programme.districts)}"
             + (f"<br>{esc(_t(lang, 'comparison_districts'))}: "
                f"{_district_links(place, data, programme.comparison_districts)}" if programme.comparison_districts else "")
             + "</p>")
    if data.has_impact(programme):
        body.add(f"<p class='impact-link'>{esc(_t(lang, 'impact_programme_link'))}: "
                 f"<a href='{esc(place.href(impact_anchor(programme.id)))}'>{esc(_t(lang, 'impact_programme_link_text'))}</a></p>")

    body.add(f"<h2>{esc(_t(lang, 'heatmap_title'))}</h2>")
    if programme.target_level == "programme":
        body.add(f"<p class='note'>{esc(_t(lang, 'target_level_programme'))}</p>")
    heats = charts.heatmaps(_heat_rows(totals, programme), lang, threshold)
    if not heats:
        body.add(f"<p>{esc(_t(lang, 'no_targets_here'))}</p>")
    else:
        body.add(_status_legend(lang))
        for n, heat in enumerate(heats):
            title = _t(lang, "heatmap_title") + (f" ({n + 1}/{len(heats)})" if len(heats) > 1 else "")
            body.figure(heat, "fig-heatmap" + (f"-{n + 1}" if n else ""), title)
        body.add(f"<p class='note'>{esc(_t(lang, 'heatmap_note'))}</p>")

    _map_section(body, data, programme, lang, features, geo_configured)

    body.add(f"<h2>{esc(_t(lang, 'by_indicator'))}</h2>")
    body.add(f"<p class='note'>{esc(_t(lang, 'switch_hint'))}</p>")
    many = has_many_districts(programme)
    if many:
        body.add(f"<p class='note'>{esc(_t(lang, 'bars_sorted_note'))}</p>")
    body.add(_masked_note(totals, lang, threshold))
    survey, bars, progress = [], [], []
    # Each chart reads one indicator's rows: split once (a national programme has 100,000 rows).
    heat = _heat_rows(totals, programme)
    totals_of, quarters_of, heat_of = (_by_indicator(f) for f in (totals, quarters, heat))
    for indicator in data.indicators:
        mine = totals_of.get(indicator.id)
        if mine is None:
            continue
        if indicator.unit in charts.SURVEY_UNITS:
            survey.append(indicator)
            continue
        label = i18n.label(indicator, lang)
        figure = charts.indicator_bars(mine, indicator, programme, data.catalogue.districts, lang, threshold,
                                       across=many)
        if figure is not None:
            bars.append(_figure_html(body, figure, f"fig-bars-{indicator.id}", label))
        figure = charts.cumulative(quarters_of.get(indicator.id, quarters.iloc[:0]), heat_of.get(indicator.id, heat.iloc[:0]),
                                   indicator, programme, lang)
        if figure is not None:
            progress.append(_figure_html(body, figure, f"fig-cum-{indicator.id}",
                                         _t(lang, "cumulative_title", label=label)))
    body.add(f"<div class='grid'>{''.join(bars)}</div>")
    if progress:
        body.add(f"<h2>{esc(_t(lang, 'progress_title'))}</h2>")
        body.add(f"<p class='note'>{esc(_t(lang, 'progress_note'))}</p>")
        body.add(f"<div class='grid'>{''.join(progress)}</div>")
    _micro_section(body, data, programme, totals, lang)
    if survey:
        body.add(f"<h2>{esc(_t(lang, 'survey_title'))}</h2>")
        body.add(f"<p class='note'>{esc(_t(lang, 'survey_note', threshold=threshold))}</p>")
        parts = []
        for indicator in survey:
            figure = charts.indicator_bars(totals_of[indicator.id], indicator, programme, data.catalogue.districts,
                                           lang, threshold, across=many)
            if figure is not None:
                parts.append(_figure_html(body, figure, f"fig-bars-{indicator.id}", i18n.label(indicator, lang)))
        body.add(f"<div class='grid'>{''.join(parts)}</div>")
    return body


def _by_indicator(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each indicator's rows, in the frame's order."""
    return dict(iter(frame.groupby("indicator_id", sort=False)))


def _heat_rows(totals: pd.DataFrame, programme: Programme) -> pd.DataFrame:
    """District rows for district targets; the ALL row alone where targets are programme-wide."""
    if programme.target_level == "programme":
        return totals[totals["district_ags"] == ALL]
    return totals[totals["district_ags"] != ALL]


def _figure_html(body: Body, figure, div_id: str, label: str) -> str:
    from dashboards.layout import figure_html
    body.figures += 1
    return figure_html(figure, div_id, label)


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
        body.add(f"<h2>{esc(_t(lang, 'micro_title'))} – {esc(_district(data, ags))}</h2>")
        cap_label = (cap.label_de if lang == "de" else cap.label_en) if cap else None
        figure = charts.micro_funding(projects, budget, cap.value if cap else None, lang, cap_label=cap_label)
        body.figure(figure, f"fig-micro-{ags}", _t(lang, "micro_title"))


def _micro_overview(body: Body, data: SiteData, funds: list, lang: str) -> None:
    """Many districts: one chart of every district's fund instead of one chart each."""
    frame = pd.DataFrame(
        [(_district(data, ags), float(projects["amount_eur"].astype(float).sum()),
          float("nan") if budget is None else budget, len(projects),
          int((projects["amount_eur"].astype(float) > cap.value).sum()) if cap else 0)
         for ags, projects, budget, cap in funds],
        columns=["name", "granted", "budget", "projects", "over_cap"])
    body.add(f"<h2>{esc(_t(lang, 'micro_overview_title'))}</h2>")
    body.add(f"<p class='note'>{esc(_t(lang, 'micro_overview_note', n=len(frame)))}</p>")
    body.figure(charts.micro_overview(frame, lang), "fig-micro", _t(lang, "micro_overview_title"))


def map_attainment(data: SiteData, programme: Programme) -> dict[str, float]:
    """Mean attainment per district over its at-least targets, each capped at 100 %. A hidden
    small count enters with its ceiling (threshold / target), never its exact value."""
    rows = _target_rows(data, programme)
    rows = rows[(rows["direction"] == "at_least") & (rows["district_ags"] != ALL)]
    out = {}
    for ags, part in rows.groupby("district_ags"):
        ceiling = data.threshold / part["target"].astype(float) * 100
        pct = part["attainment_pct"].astype(float).where(~part["masked"], ceiling).clip(upper=100)
        if pct.notna().any():
            out[ags] = round(float(pct.mean()), 1)
    return out


def _map_section(body: Body, data: SiteData, programme: Programme, lang: str, features, configured: bool) -> None:
    body.add(f"<h2>{esc(_t(lang, 'map_title'))}</h2>")
    if not configured:
        body.add(f"<p class='note'>{esc(_t(lang, 'map_missing'))}</p>")
        return
    attainment = map_attainment(data, programme)
    if not attainment:
        body.add(f"<p class='note'>{esc(_t(lang, 'map_no_district_targets'))}</p>")
        return
    mine = [f for f in features or [] if f["id"] in set(programme.districts) | set(programme.comparison_districts)]
    if not any(f["id"] in attainment for f in mine):
        body.add(f"<p class='note'>{esc(_t(lang, 'map_no_features'))}</p>")
        return
    names = {f["id"]: _district(data, f["id"]) for f in mine}
    figure = geo.choropleth(mine, attainment, names, lang, _t(lang, "map_metric"))
    body.figure(figure, "fig-map", _t(lang, "map_title"))
    body.has_map = True


# -- district page --------------------------------------------------------------------------------

def district_page(data: SiteData, ags: str, place: Place) -> Body:
    lang, threshold = place.lang, data.threshold
    name = _district(data, ags)
    body = Body(title=name)
    info = data.catalogue.districts.loc[ags] if ags in data.catalogue.districts.index else None
    if info is not None:
        body.add(f"<p class='lead'>{esc(_t(lang, 'district_lead', state=info['state'], population=i18n.number(info['population'], lang)))}"
                 f" · AGS {esc(ags)}</p>")
    memberships = data.programmes_of(ags)
    links = ", ".join(f"<a href='{esc(place.href(programme_path(p.id)))}'>{esc(_name(p, lang))}</a>"
                      + (f" ({esc(_t(lang, 'comparison_mark'))})" if cmp else "") for p, cmp in memberships)
    body.add(f"<p>{esc(_t(lang, 'member_of'))}: {links}</p>")
    if memberships and all(cmp for _, cmp in memberships):
        body.add(f"<p class='note'>{esc(_t(lang, 'comparison_only'))}</p>")
    for programme, _ in memberships:
        mine = _district_rows(data, programme, ags)
        if mine is None:
            continue
        masked, totals, timelines = mine
        short = _short_name(programme, lang)
        body.add(f"<h2>{esc(_t(lang, 'totals_table', programme=short))}</h2>")
        body.add(_masked_line(masked, lang, threshold))
        body.add(_totals_table(totals, lang, threshold))
        for panels, suffix in zip(timelines, ("", "-survey")):
            figure = charts.timeline_figure(panels, lang, threshold)
            if figure is not None:
                title = _t(lang, "over_time", programme=short) + (f" – {_t(lang, 'survey_title')}" if suffix else "")
                body.add(f"<h3>{esc(title)}</h3>")
                body.figure(figure, f"fig-timeline-{programme.id}{suffix}", title)
    for programme, _ in memberships:
        if has_many_districts(programme):
            district_impact(body, data, programme, ags, place)
    body.add(f"<h2>{esc(_t(lang, 'deliveries'))}</h2>")
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
    """(programme, district, survey or not) -> its timeline's panels, for every district being built."""
    if "timelines" not in data.memo:
        programmes = {p.id: p for p in data.catalogue.programmes}
        quarters = data.building_quarters()
        quarters = quarters[quarters["programme_id"].isin(programmes).to_numpy()]
        quarters = quarters.assign(_survey=quarters["unit"].isin(charts.SURVEY_UNITS).to_numpy())
        data.memo["timelines"] = charts.timeline_panels_by(quarters, ["programme_id", "district_ags", "_survey"],
                                                           lambda key: programmes[key[0]])
    return data.memo["timelines"]


def prepare(data: SiteData) -> None:
    """Split the district pages' rows now (before a pool of workers inherits them)."""
    data.prepare()
    _timelines(data)


def _totals_table(rows: list[dict], lang: str, threshold: int) -> str:
    out = []
    for r in rows:
        target = "" if is_missing(r["target"]) else f"{i18n.t(lang, r['direction'])} {charts._fmt(r['target'], lang, r['unit'])}"
        attainment = ("" if is_missing(r["target"]) else
                      privacy.masked_text(threshold) if r["masked"] else i18n.percent(r["attainment_pct"], lang))
        per_10k = privacy.masked_text(threshold) if r["masked"] else (
            "" if is_missing(r["per_10k"]) else i18n.number(r["per_10k"], lang, 2))
        method = i18n.METHOD[lang].get(r["method"], "") if isinstance(r["method"], str) else ""
        out.append([i18n.label(r, lang), _value_text(r, lang, threshold), target, attainment,
                    _status_chip(r["status"], lang) if not is_missing(r["target"]) else "", per_10k, method])
    headers = [_t(lang, "indicator"), _t(lang, "value"), _t(lang, "target"), _t(lang, "attainment"),
               _t(lang, "status"), _t(lang, "per_10k"), "Methode" if lang == "de" else "Method"]
    return table(headers, out, numeric={1, 3, 5})


def _deliveries_table(data: SiteData, ags: str, place: Place) -> str:
    lang = place.lang
    rows = data.district_delivery_rows(ags)
    if not rows:
        return f"<p>{esc(_t(lang, 'no_deliveries'))}</p>"
    out = []
    for r in rows:
        quarter, file_name, received_at, rows_read, accepted, rejected, late, corrected, state, superseded_by = r
        status = ("zurückgestellt" if lang == "de" else "set aside") if state == "set_aside" else (
            ("ersetzt" if lang == "de" else "replaced") if isinstance(superseded_by, str) and superseded_by else "")
        out.append([quarter, file_name, i18n.date(received_at, lang), i18n.number(rows_read, lang),
                    i18n.number(accepted, lang), i18n.number(rejected, lang), i18n.number(late, lang),
                    i18n.number(corrected, lang), status,
                    _report_link(place, data, ags, quarter, _t(lang, "open_report"))])
    headers = [_t(lang, k) for k in ("quarter", "file", "received", "rows_read", "accepted", "rejected", "late",
                                     "corrected", "status", "report")]
    return table(headers, out, numeric={3, 4, 5, 6, 7})


# -- data quality ---------------------------------------------------------------------------------

def quality_page(data: SiteData, place: Place) -> Body:
    lang = place.lang
    body = Body(title=_t(lang, "nav_quality"))
    body.add(f"<p class='lead'>{esc(_t(lang, 'quality_lead'))}</p>")
    status = data.status
    if len(status):
        counts = status["status"].value_counts()
        body.add(f"<p><b>{esc(_t(lang, 'reporting_rate_value', on_time=int(counts.get('on_time', 0)), late=int(counts.get('late', 0)), missing=int(counts.get('missing', 0)), n=len(status)))}</b></p>")
    legend = "".join(chip(f"{style.DELIVERY_STYLE[s][1]} {i18n.DELIVERY_STATUS[lang][s]}", style.DELIVERY_STYLE[s][0])
                     for s in ("on_time", "late", "missing", "open"))
    body.add(f"<h2>{esc(_t(lang, 'reporting_rate'))}</h2><div class='legend'>{legend}</div>")
    for programme in data.catalogue.programmes:
        body.add(f"<h3>{esc(_name(programme, lang))}</h3>")
        if has_many_districts(programme):
            body.add(f"<p class='note'>{esc(_t(lang, 'rate_summary_note', n=len(programme.districts)))}</p>")
            body.add(_rate_summary(data, programme, place))
        else:
            body.add(_rate_table(data, programme, place))
    body.add(f"<h2>{esc(_t(lang, 'rejections_by_reason'))}</h2>")
    names = {a: _district(data, a) for a in data.rejections["district_ags"].dropna().unique()}
    body.add(f"<p class='note'>{esc(_t(lang, 'rejections_note'))}</p>")
    many = len(names) > MANY_DISTRICTS
    figure = (charts.rejections_by_reason if many else charts.rejections)(data.rejections, names, lang)
    if figure is None:
        body.add(f"<p>{esc(_t(lang, 'no_rejections'))}</p>")
    else:
        body.figure(figure, "fig-rejections", _t(lang, "rejections_by_reason"))
        body.add(f"<h3>{esc(_t(lang, 'rejections_table'))}</h3>")
        if many:
            body.add(f"<p class='note'>{esc(_t(lang, 'rejections_summary_note'))}</p>")
        body.add(_rejections_summary(data, place) if many else _rejections_table(data, place))
    if (None, None) in data.reports:
        body.add(f"<p>{_report_link(place, data, None, None, _t(lang, 'unassigned_report'))}</p>")
    return body


def _programme_quarters(programme: Programme) -> list[str]:
    return charts._programme_quarters(programme)


def _rate_table(data: SiteData, programme: Programme, place: Place) -> str:
    lang = place.lang
    quarters = _programme_quarters(programme)
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
            link = _report_link(place, data, ags, q, sign)
            cells.append(f"<td class='cell' style='background:{colour}' title='{esc(_district(data, ags))} {esc(q)}: "
                         f"{esc(word)}' aria-label='{esc(word)}'>{link}</td>")
        name = f"<a href='{esc(place.href(district_path(ags)))}'>{esc(_district(data, ags))}</a>"
        body.append(f"<tr><th scope='row'>{name}</th>{''.join(cells)}</tr>")
    return (f"<div class='wide'><table class='rate'><thead><tr><th>{esc(_t(lang, 'districts'))}</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _rate_summary(data: SiteData, programme: Programme, place: Place) -> str:
    """One row per district: its deliveries by state, the share on time of those due, and its
    newest report; every delivery with its report is on the district's page."""
    lang = place.lang
    states = ("on_time", "late", "missing", "open")
    status = data.status[data.status["district_ags"].isin(programme.districts)
                         & data.status["quarter"].isin(_programme_quarters(programme))]
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
        rows.append([Raw(f"<a href='{esc(place.href(district_path(ags)))}'>{esc(_district(data, ags))}</a>"),
                     *(i18n.number(int(n[s]), lang) for s in states), share,
                     _report_link(place, data, ags, quarter, quarter) if quarter else "–"])
    headers = [_t(lang, "districts"), *(i18n.DELIVERY_STATUS[lang][s] for s in states),
               _t(lang, "rate_on_time_share"), _t(lang, "latest_report")]
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
        name = (Raw(f"<a href='{esc(place.href(district_path(ags)))}'>{esc(_district(data, ags))}</a>")
                if ags else "–")
        quarter = top.get(ags)
        quarter = quarter if isinstance(quarter, str) else None
        rows.append([name, i18n.number(n, lang), reasons.get(ags, ""),
                     _report_link(place, data, ags or None, quarter, quarter or "–")])
    headers = [_t(lang, "districts"), _t(lang, "rejected"), _t(lang, "reason"), _t(lang, "top_delivery")]
    return table(headers, rows, numeric={1})


def _rejections_table(data: SiteData, place: Place) -> str:
    lang = place.lang
    rows = []
    for r in data.rejections.itertuples():
        ags = r.district_ags if isinstance(r.district_ags, str) else None
        quarter = r.quarter if isinstance(r.quarter, str) else None
        rows.append([_district(data, ags) if ags else "–", quarter or "–", r.feed if isinstance(r.feed, str) else "–",
                     f"{i18n.REASON[lang].get(r.reason_code, r.reason_code)} ({r.reason_code})",
                     i18n.number(r.rows, lang), _report_link(place, data, ags, quarter, _t(lang, "open_report"))])
    headers = [_t(lang, "districts"), _t(lang, "quarter"), "Lieferart" if lang == "de" else "Feed",
               _t(lang, "reason"), _t(lang, "count"), _t(lang, "report")]
    return table(headers, rows, numeric={4})


# -- methods --------------------------------------------------------------------------------------

def methods_page(data: SiteData, place: Place, geo_name: str | None) -> Body:
    lang = place.lang
    body = Body(title=_t(lang, "nav_methods"))
    body.add(f"<p class='lead'>{esc(_t(lang, 'methods_lead'))}</p>")
    body.add(f"<h2>{esc(_t(lang, 'nav_methods'))}: {esc(_t(lang, 'indicator'))}</h2>")
    programmes = {p.id: _name(p, lang) for p in data.catalogue.programmes}
    for indicator in data.indicators:
        facts = [(_t(lang, "definition"), getattr(indicator, f"description_{lang}")),
                 (_t(lang, "unit"), i18n.UNIT[lang].get(indicator.unit, indicator.unit))]
        if indicator.direction:
            target = "–" if indicator.target is None else charts._fmt(indicator.target, lang, indicator.unit)
            facts.append((_t(lang, "default_target"), f"{_t(lang, indicator.direction)} {target}"))
        else:
            facts.append((_t(lang, "default_target"), _t(lang, "no_target")))
        if indicator.overrides:
            facts.append((_t(lang, "overrides"), "; ".join(
                f"{o.programme}{' / ' + _district(data, o.district) if o.district else ''}: "
                f"{'–' if o.target is None else charts._fmt(o.target, lang, indicator.unit)}" for o in indicator.overrides)))
        where = ", ".join(programmes.get(p, p) for p in indicator.programmes) or _t(lang, "all_programmes")
        if indicator.districts:
            where += " – " + ", ".join(_district(data, a) for a in indicator.districts)
        facts.append((_t(lang, "applies_to"), where))
        for ref in indicator.references:
            facts.append((_t(lang, "references"), f"{ref.framework}: „{ref.item}“" if lang == "de"
                          else f"{ref.framework}: “{ref.item}”"))
        dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
        body.add(f"<section class='card' style='margin:.6rem 0'><h3 id='{esc(indicator.id)}'>"
                 f"{esc(i18n.label(indicator, lang))} <code>{esc(indicator.id)}</code></h3><dl>{dl}</dl></section>")
    body.add(f"<h2>{esc(_t(lang, 'reach_method'))}</h2><p>{esc(_t(lang, 'reach_method_text'))}</p>")
    body.add(f"<h2>{esc(_t(lang, 'status_rules'))}</h2><p>{esc(_t(lang, 'status_rules_text'))}</p>")
    body.add(f"<h2>{esc(_t(lang, 'privacy_rules'))}</h2><p>{esc(_t(lang, 'privacy_rules_text', threshold=data.threshold))}</p>")
    if data.indicators.parameters:
        body.add(f"<h2>{esc(_t(lang, 'parameters'))}</h2>")
        body.add(table([_t(lang, "parameters"), _t(lang, "value"), _t(lang, "references")],
                       [[p.label_de if lang == "de" else p.label_en, i18n.number(p.value, lang), p.source]
                        for p in data.indicators.parameters.values()], numeric={1}))
    body.add(f"<h2>{esc(_t(lang, 'sources'))}</h2><ul>")
    districts = data.catalogue.districts
    for source, group in districts.groupby("population_source", sort=False):
        dates = sorted(set(str(d) for d in group.get("population_date", pd.Series(dtype=str)) if d))
        when = ", ".join(i18n.date(d, lang) for d in dates) or "–"
        body.add(f"<li>{esc(_t(lang, 'source_population', source=source, date=when))}</li>")
    body.add(f"<li>{esc(_t(lang, 'source_deliveries'))}</li>")
    body.add(f"<li>{esc(_t(lang, 'source_geo', name=geo_name) if geo_name else _t(lang, 'source_geo_none'))}</li>")
    sources = "; ".join(f"{p.id}: {p.source}" for p in data.catalogue.programmes if p.source)
    body.add(f"<li>{esc(_t(lang, 'programme_sources', sources=sources))}</li></ul>")
    return body


# -- impact ---------------------------------------------------------------------------------------

def _impact_words(lang: str):
    """Item, group and pool labels: the same words as the readings of pipeline/impact.py."""
    from pipeline.impact import GROUP_LABEL, ITEM_LABEL, SCOPE_LABEL
    i = 0 if lang == "de" else 1
    return ({k: _capital(v[i]) for k, v in ITEM_LABEL.items()}, {k: v[i] for k, v in GROUP_LABEL.items()},
            {k: v[i] for k, v in SCOPE_LABEL.items()})


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _excludes_zero(row) -> bool:
    low, high = row["ci_low"], row["ci_high"]
    return not (is_missing(low) or is_missing(high)) and (low > 0 or high < 0)


def impact_chips(row, lang: str) -> str:
    """How to take one estimate: withheld, supported or not, and whether it is indicative only.
    Sign and word, not colour alone; CSS classes, since a page holds hundreds of them."""
    if bool(row["suppressed"]):
        return f"<span class='chip ic-withheld'>{esc(_t(lang, 'impact_withheld'))}</span>"
    out = [f"<span class='chip ic-yes'>✓ {esc(_t(lang, 'impact_supported'))}</span>" if _excludes_zero(row)
           else f"<span class='chip ic-no'>○ {esc(_t(lang, 'impact_not_supported'))}</span>"]
    if bool(row["indicative"]):
        out.append(f"<span class='chip ic-indicative'>△ {esc(_t(lang, 'impact_indicative'))}</span>")
    return " ".join(out)


def _n_text(row, lang: str, threshold: int, comparison: bool = False) -> str:
    keys = ("n_comparison_baseline", "n_comparison_follow_up") if comparison else ("n_baseline", "n_follow_up")
    return " / ".join(privacy.count_text(row[k], "responses", threshold, lambda v: i18n.number(v, lang))
                      if not is_missing(row[k]) else "–" for k in keys)


def _impact_hover(row, label: str, lang: str, threshold: int) -> str:
    if bool(row["suppressed"]):
        return f"<b>{label}</b><br>{_t(lang, 'impact_withheld_short', threshold=threshold)}"
    did = row["method"] == "did"
    lines = [f"<b>{label}</b>",
             f"{_t(lang, 'impact_did' if did else 'impact_change')}: {charts.signed(row['estimate'], lang)}",
             f"{_t(lang, 'impact_interval')}: {charts.interval_text(row['ci_low'], row['ci_high'], lang)}",
             charts.p_text(row["p_value"], lang),
             f"n ({_t(lang, 'impact_baseline')} / {_t(lang, 'impact_follow_up')}): {_n_text(row, lang, threshold)}"]
    if did:
        lines[-1] = (f"n {_t(lang, 'impact_programme_pool')}: {_n_text(row, lang, threshold)}"
                     f"<br>n {_t(lang, 'impact_comparison_pool')}: {_n_text(row, lang, threshold, comparison=True)}")
    if bool(row["indicative"]):
        lines.append(f"△ {_t(lang, 'impact_indicative')}")
    return "<br>".join(lines)


class _Rows:
    """A frame split once per set of columns looked up by: the impact section looks up hundreds
    of (item, district, group) rows, and a filter over the frame for each took seconds. A group
    keeps the rows and their order, as the filter did."""

    def __init__(self, frame: pd.DataFrame):
        self.frame, self._split = frame, {}

    def pick(self, **where) -> pd.DataFrame:
        keys = tuple(where)
        if keys not in self._split:
            groups = self.frame.groupby(list(keys), sort=False, dropna=False).indices
            self._split[keys] = {k if isinstance(k, tuple) else (k,): v for k, v in groups.items()}
        found = self._split[keys].get(tuple(where.values()))
        return self.frame.iloc[found] if found is not None else self.frame.iloc[:0]


@functools.cache
def common_limit(method: str, lang: str) -> str:
    """The closing sentence every reading of a method shares (what a DiD assumes, why a before/after
    change is no impact), taken from the reading of a plain made-up row. In the long lists it is
    said once above the list instead of in every line."""
    from pipeline.impact import impact_reading
    row = dict(programme_id="", method=method, item="belonging", district_ags=ALL, district_name="",
               role="programme", group=ALL, estimate=0.1, ci_low=-0.1, ci_high=0.3, p_value=0.5,
               mean_baseline=3.0, mean_follow_up=3.1, mean_comparison_baseline=3.0, mean_comparison_follow_up=3.0,
               clusters_programme=20, clusters_comparison=20, n_baseline=100, n_follow_up=100,
               indicative=False, suppressed=False, note_de="", note_en="")
    return impact_reading(row, lang).rsplit(". ", 1)[-1].strip()


def _reading_item(row, lang: str, drop: str = "") -> str:
    from pipeline.impact import impact_reading
    key = " ".join(str(row[k]) for k in ("programme_id", "method", "item", "district_ags", "group"))
    text = impact_reading(row if isinstance(row, dict) else row.to_dict(), lang)
    if drop and drop in text:
        text = " ".join(text.replace(drop, " ").split())
    return f"<li data-row='{esc(key)}'>{impact_chips(row, lang)} {esc(text)}</li>"


def impact_page(data: SiteData, place: Place) -> Body:
    """Wirkung / Impact: per programme with survey data, the headline estimates, forest plots,
    the means per wave and every result in words; then how it is estimated and its limits."""
    lang, threshold = place.lang, data.threshold
    body = Body(title=_t(lang, "impact_title"))
    body.add(f"<p class='lead'>{esc(_t(lang, 'impact_lead'))}</p>")
    body.add(f"<h2>{esc(_t(lang, 'impact_how_to_read'))}</h2><p>{esc(_t(lang, 'impact_how_to_read_text'))}</p>")
    programmes = data.catalogue.programmes
    with_data = [p for p in programmes if data.has_impact(p)]
    if not with_data:
        body.add(f"<p class='note impact-none'><b>{esc(_t(lang, 'impact_none'))}</b></p>")
    else:
        body.add("<p>" + " · ".join(f"<a href='#wirkung-{esc(p.id)}'>{esc(_short_name(p, lang))}</a>"
                                     for p in with_data) + "</p>")
        for programme in with_data:
            _impact_section(body, data, programme, place)
        without = [p for p in programmes if not data.has_impact(p)]
        if without:
            names = ", ".join(f"<a href='{esc(place.href(programme_path(p.id)))}'>{esc(_short_name(p, lang))}</a>"
                              for p in without)
            text = esc(_t(lang, "impact_programmes_without", names="\0")).replace("\0", names)
            body.add(f"<p class='note'>{text}</p>")
    for key, items in (("impact_method", "impact_method_text"), ("impact_limits", "impact_limits_text")):
        entries = "".join(f"<li>{esc(text.format(threshold=threshold))}</li>" for text in i18n.TEXT[lang][items])
        body.add(f"<h2>{esc(_t(lang, key))}</h2><ul class='impact-list'>{entries}</ul>")
    return body


def _impact_section(body: Body, data: SiteData, programme: Programme, place: Place) -> None:
    from pipeline.impact import survey_groups, survey_items
    lang, threshold = place.lang, data.threshold
    items_of, groups_of, scopes_of = _impact_words(lang)
    rows = data.programme_impact(programme)
    items = [i for i in survey_items() if (rows["item"] == i).any()]
    groups = [ALL] + [g for g in survey_groups() if (rows["group"] == g).any()]
    did, pre_post = rows[rows["method"] == "did"], rows[rows["method"] == "pre_post"]
    has_did = not did.empty
    did_rows, pre_post_rows = _Rows(did), _Rows(pre_post)
    pid = programme.id
    body.add(f"<h2 id='wirkung-{esc(pid)}'>{esc(_name(programme, lang))}</h2>")
    n_p, n_c = len(programme.districts), len(programme.comparison_districts)
    facts = (_t(lang, "impact_programme_districts" + ("_one" if n_p == 1 else ""), n=n_p) + ", "
             + _t(lang, "impact_comparison_districts" + ("_one" if n_c == 1 else ""), n=n_c))
    body.add(f"<p class='lead'>{esc(facts)} · <a href='{esc(place.href(programme_path(pid)))}'>"
             f"{esc(_t(lang, 'impact_to_programme'))}</a></p>")
    many = has_many_districts(programme)
    if many:
        body.add(f"<p class='note'>{esc(_t(lang, 'impact_districts_elsewhere', n=n_p))}</p>")
    if not has_did:
        body.add(f"<p class='note'>{esc(_t(lang, 'impact_no_comparison'))}</p>")

    # at a glance: the pooled rows, all respondents, one line per item
    body.add(f"<h3>{esc(_t(lang, 'impact_glance' if has_did else 'impact_glance_pre_post'))}</h3>")
    table_rows, headline = [], []
    for item in items:
        mine = pre_post_rows.pick(item=item, district_ags=ALL, group=ALL)
        theirs = pre_post_rows.pick(item=item, district_ags=ALL_COMPARISON, group=ALL)
        key = did_rows.pick(item=item, district_ags=ALL, group=ALL) if has_did else mine
        if key.empty:
            continue
        key_row = key.iloc[0]
        headline.append(key_row)
        cells = [items_of.get(item, item)]
        for part in ([mine, theirs] if has_did else [mine]):
            if part.empty or bool(part.iloc[0]["suppressed"]):
                cells.append(_t(lang, "impact_withheld") if not part.empty else "–")
                continue
            r = part.iloc[0]
            cells.append(Raw(f"<span class='nw'>{esc(charts.signed(r['estimate'], lang))} "
                             f"{esc(charts.interval_text(r['ci_low'], r['ci_high'], lang))}</span>"
                             f"<br><span class='note'>n = {esc(_n_text(r, lang, threshold))}</span>"))
        if has_did:
            if bool(key_row["suppressed"]):
                cells += [_t(lang, "impact_withheld"), "", ""]
            else:
                cells += [Raw(f"<b>{esc(charts.signed(key_row['estimate'], lang))}</b>"),
                          charts.interval_text(key_row["ci_low"], key_row["ci_high"], lang),
                          charts.p_text(key_row["p_value"], lang)]
        cells.append(Raw(impact_chips(key_row, lang)))
        table_rows.append(cells)
    if has_did:
        headers = [_t(lang, "impact_item"), _t(lang, "impact_change_programme"), _t(lang, "impact_change_comparison"),
                   _t(lang, "impact_did"), _t(lang, "impact_interval"), _t(lang, "impact_p"),
                   _t(lang, "impact_assessment")]
        body.add(table(headers, table_rows, numeric={3, 4, 5}, cls="impact"))
    else:
        headers = [_t(lang, "impact_item"), _t(lang, "impact_change_programme"), _t(lang, "impact_assessment")]
        body.add(table(headers, table_rows, cls="impact"))
    body.add(f"<h4>{esc(_t(lang, 'impact_readings'))}</h4>")
    body.add("<ul class='readings'>" + "".join(_reading_item(r, lang) for r in headline) + "</ul>")

    # forest plots: one per item, pooled and by group, then each programme district
    body.add(f"<h3>{esc(_t(lang, 'impact_forest_title'))}</h3>")
    body.add(f"<p class='note'>{esc(_t(lang, 'impact_forest_note'))}</p>")
    source = _Rows(did if has_did else pre_post[pre_post["role"] == "programme"])
    per_item = {}
    for item in items:
        part = _Rows(source.pick(item=item))
        pooled = _Rows(part.frame[part.frame["district_ags"] == ALL])
        ordered = [pooled.pick(group=g) for g in groups]
        if not many:
            ordered += [part.pick(district_ags=a, group=ALL) for a in programme.districts]
        frame = pd.concat([f for f in ordered if not f.empty])
        if not frame.empty:
            per_item[item] = frame
    x_range = charts.forest_range(list(per_item.values()))
    all_label = scopes_of[ALL]
    parts = []
    for item, frame in per_item.items():
        labels = []
        for _, r in frame.iterrows():
            if r["district_ags"] == ALL:
                labels.append(f"{all_label}: {groups_of.get(r['group'], r['group'])}")
            else:
                labels.append(style.short_district(_district(data, r["district_ags"])))
        hovers = [_impact_hover(r, label, lang, threshold) for (_, r), label in zip(frame.iterrows(), labels)]
        title = f"{items_of.get(item, item)} – {_t(lang, 'impact_forest_did' if has_did else 'impact_forest_pre_post')}"
        pooled = int((frame["district_ags"] == ALL).sum())
        figure = charts.forest(frame, labels, hovers, lang, title, x_range, threshold, pooled)
        parts.append(_figure_html(body, figure, f"fig-forest-{pid}-{item}", title))
    body.add(f"<div class='grid'>{''.join(parts)}</div>")
    shown = pd.concat(per_item.values()) if per_item else source
    unbounded = shown[~shown["suppressed"]][["ci_low", "ci_high"]].astype(float)
    if len(unbounded) and unbounded.abs().eq(float("inf")).any().any():
        body.add(f"<p class='note'><b>{esc(_t(lang, 'impact_unbounded'))}:</b> {esc(_t(lang, 'impact_unbounded_note'))}</p>")

    # means per wave: the pools, per group
    body.add(f"<h3>{esc(_t(lang, 'impact_trends_title'))}</h3>")
    body.add(f"<p class='note'>{esc(_t(lang, 'impact_trends_note'))}</p>")
    cells = {}
    pools = (("programme", ALL, "impact_programme_pool"), ("comparison", ALL_COMPARISON, "impact_comparison_pool"))
    for item in items:
        for group in groups:
            for role, pool, name_key in pools:
                hit = pre_post_rows.pick(item=item, group=group, district_ags=pool)
                if hit.empty:
                    continue
                r = hit.iloc[0]
                head = f"<b>{_t(lang, name_key)}</b> · {items_of.get(item, item)} · {groups_of.get(group, group)}<br>"
                if bool(r["suppressed"]):
                    text = head + _t(lang, "impact_withheld_short", threshold=threshold)
                    cells[(item, group, role)] = (None, None, None, None, None, None, text, text)
                    continue
                hover = [head + f"{_t(lang, wave)}: {charts.plain(r[f'mean_{col}'], lang)} "
                         f"{charts.interval_text(r[f'mean_{col}_ci_low'], r[f'mean_{col}_ci_high'], lang)}"
                         f" (n = {privacy.count_text(r[f'n_{col}'], 'responses', threshold, lambda v: i18n.number(v, lang))})"
                         for wave, col in (("impact_baseline", "baseline"), ("impact_follow_up", "follow_up"))]
                cells[(item, group, role)] = (r["mean_baseline"], r["mean_baseline_ci_low"], r["mean_baseline_ci_high"],
                                              r["mean_follow_up"], r["mean_follow_up_ci_low"],
                                              r["mean_follow_up_ci_high"], *hover)
    if cells:
        figure = charts.wave_means(cells, [(i, items_of.get(i, i)) for i in items],
                                   [(g, _capital(groups_of.get(g, g))) for g in groups], lang,
                                   has_comparison=bool(programme.comparison_districts))
        body.figure(figure, f"fig-waves-{pid}", _t(lang, "impact_trends_title"))

    # every result in words
    body.add(f"<h3>{esc(_t(lang, 'impact_all_readings'))}</h3>")
    body.add(f"<p class='note'>{esc(_t(lang, 'impact_all_readings_note'))}</p>")
    if many:  # each district's readings are on its own page (district_page)
        pooled = [ALL, ALL_COMPARISON]
        did, pre_post = did[did["district_ags"].isin(pooled)], pre_post[pre_post["district_ags"].isin(pooled)]
    _readings_lists(body, did.to_dict("records"), pre_post.to_dict("records"), items, lang)


def _readings_lists(body: Body, did: list[dict], pre_post: list[dict], items: list[str], lang: str) -> None:
    """Every row in words, per method in a folded list, by item. Rows are plain dicts: a district
    page of a national programme lists dozens, and a pandas row each took most of its time."""
    items_of = _impact_words(lang)[0]
    for method, part in (("did", did), ("pre_post", pre_post)):
        if not part:
            continue
        drop = common_limit(method, lang)
        inner = [f"<p class='common'>{esc(_t(lang, 'impact_common_limit', text=drop))}</p>"]
        by_item: dict[str, list[dict]] = {}
        for row in part:
            by_item.setdefault(row["item"], []).append(row)
        for item in items:
            mine = by_item.get(item)
            if not mine:
                continue
            inner.append(f"<h4>{esc(items_of.get(item, item))}</h4><ul class='readings'>"
                         + "".join(_reading_item(r, lang, drop) for r in mine) + "</ul>")
        body.add(f"<details class='readings'><summary>{esc(_t(lang, f'impact_readings_{method}', n=len(part)))}</summary>"
                 f"{''.join(inner)}</details>")


def district_impact(body: Body, data: SiteData, programme: Programme, ags: str, place: Place) -> None:
    """A district of a programme with many districts: its own impact readings, which the impact page
    leaves out there (it keeps the pooled results)."""
    from pipeline.impact import survey_items
    lang = place.lang
    rows = data.district_impact_records(programme, ags)
    if not rows:
        return
    present = {r["item"] for r in rows}
    items = [i for i in survey_items() if i in present]
    body.add(f"<h2>{esc(_t(lang, 'impact_district_title', programme=_short_name(programme, lang)))}</h2>")
    body.add(f"<p class='note'>{esc(_t(lang, 'impact_district_note'))} "
             f"<a href='{esc(place.href(impact_anchor(programme.id)))}'>{esc(_t(lang, 'impact_title'))}</a></p>")
    _readings_lists(body, [r for r in rows if r["method"] == "did"], [r for r in rows if r["method"] == "pre_post"],
                    items, lang)
