"""Individual integration paths (indicator contract section 8) on a programme's and a district's
page: the result indicators with their 95 % intervals, the transition matrix of language levels as
a heat map, and the cohort progress chart (language level over months since arrival).

Every figure comes from SiteData, after the "< 5" rule (privacy.apply, privacy.breakdown_rows,
data.suppress_secondary_shares, data.read_progress): a hidden cell says "< 5" or "gesperrt /
withheld", and no chart or table shows a count it does not also show as hidden elsewhere.
"""
from __future__ import annotations

from dashboards import charts, i18n, style
from dashboards.data import SiteData
from dashboards.i18n import is_missing, t
from dashboards.layout import Body, Raw, esc, table
from dashboards.pages_common import district_name, figure_part
from dashboards.privacy import hidden_text
from pipeline.catalogue import Programme
from pipeline.indicators.model import ALL
from pipeline.indicators.trajectory import LEVELS

TRANSITIONS = "traj_transitions"


def trajectory_ids(data: SiteData) -> list[str]:
    return [i.id for i in data.indicators if i.definition.aggregate == "trajectory"]


def _figure(value, unit: str, lang: str) -> str:
    if unit == "percent":
        return i18n.number(value, lang, 1) + " %"
    if unit == "months":
        return i18n.number(value, lang, 1)
    return charts.fmt(value, lang, unit)


def _cell(row: dict, lang: str, threshold: int) -> str:
    if row.get("masked") or row.get("withheld") or is_missing(row["value"]):
        return hidden_text(bool(row.get("withheld")), lang, threshold)
    return _figure(row["value"], row["unit"], lang)


def _interval(row: dict, lang: str) -> str:
    if row.get("masked") or row.get("withheld") or is_missing(row.get("ci_low")):
        return ""
    return f"{_figure(row['ci_low'], row['unit'], lang)} – {_figure(row['ci_high'], row['unit'], lang)}"


def _n(row: dict, lang: str, threshold: int) -> str:
    if row["unit"] not in ("percent", "months"):
        return ""
    if row.get("withheld") and is_missing(row["n"]):
        return t(lang, "withheld")
    return f"< {threshold}" if is_missing(row["n"]) else i18n.number(row["n"], lang)


def results_table(data: SiteData, programme: Programme, places: list[str], lang: str) -> str:
    """One place (a district's page): indicator × value, 95 % interval (Wilson, shares), persons it
    is of. Several (a programme's page): indicator × place, each cell the value with its interval
    and n under it, so the districts read side by side."""
    ids = trajectory_ids(data)
    rows = data.values[(data.values["programme_id"] == programme.id) & data.values["indicator_id"].isin(ids)
                       & (data.values["period"] == "total") & data.values["district_ags"].isin(places)
                       & ~data.values["comparison"].astype(bool)]
    if rows.empty:
        return ""
    order = {i: n for n, i in enumerate(ids)}
    where = {a: n for n, a in enumerate(places)}
    records = sorted(rows.to_dict("records"), key=lambda r: (order[r["indicator_id"]], where[r["district_ags"]]))
    if len(places) == 1:
        cells = [[i18n.label(r, lang), _cell(r, lang, data.threshold), _interval(r, lang), _n(r, lang, data.threshold)]
                 for r in records]
        return table([t(lang, "indicator"), t(lang, "value"), t(lang, "traj_interval"), t(lang, "traj_n")], cells,
                     numeric={1, 3})
    shown = [a for a in places if a in set(rows["district_ags"])]
    by_key = {(r["indicator_id"], r["district_ags"]): r for r in records}
    cells = []
    for indicator_id in [i for i in ids if i in set(rows["indicator_id"])]:
        first = next(r for r in records if r["indicator_id"] == indicator_id)
        line = [_unprefixed(i18n.label(first, lang))]
        for ags in shown:
            r = by_key.get((indicator_id, ags))
            line.append(_stacked(r, lang, data.threshold) if r else "")
        cells.append(line)
    names = [t(lang, "all_districts") if a == ALL else _short(data, a) for a in shown]
    return table([t(lang, "indicator"), *names], cells, numeric=set(range(1, len(shown) + 1)), cls="paths")


def _stacked(row: dict, lang: str, threshold: int):
    """The value, and under it in small type its interval and n (shares and medians)."""
    value = _cell(row, lang, threshold)
    n = _n(row, lang, threshold)
    extra = [x for x in (_interval(row, lang), f"n = {n}" if n else "") if x]
    if not extra:
        return value
    return Raw(esc(value) + "".join(f"<br><small>{esc(x)}</small>" for x in extra))


def _unprefixed(label: str) -> str:
    """"Verläufe: mindestens zweimal …" -> "mindestens zweimal …": the section names the paths."""
    head, sep, rest = label.partition(": ")
    return rest[:1].upper() + rest[1:] if sep and len(head) < 20 else label


def _short(data: SiteData, ags: str) -> str:
    """A district's name without "Landkreis" / "Kreis", to keep the columns narrow."""
    name = district_name(data, ags)
    for prefix in ("Landkreis ", "Kreis ", "Altmarkkreis "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def findings(data: SiteData, programme: Programme, ags: str, lang: str) -> dict[str, str]:
    """The headlines of the two charts, from published figures only: the oldest cohort's latest
    mean level (progress), the share whose level rose within 12 months (transitions)."""
    out = {}
    p = data.progress
    rows = p[(p["programme_id"] == programme.id) & (p["district_ags"] == ags)] if not p.empty else p
    if not rows.empty:
        cohort = sorted(set(rows["arrival_cohort"]))[0]
        last = rows[rows["arrival_cohort"] == cohort].sort_values("band").iloc[-1]
        level = float(last["mean_level"])
        low = min(int(level), len(LEVELS) - 1)
        between = _level(LEVELS[low], lang) if level == low or low == len(LEVELS) - 1 else \
            t(lang, "traj_between", low=_level(LEVELS[low], lang), high=_level(LEVELS[low + 1], lang))
        out["progress"] = t(lang, "traj_progress_finding", cohort=t(lang, "traj_cohort", cohort=cohort),
                            months=int(last["band"]), level=between, mean=i18n.number(level, lang, 1))
    v = data.values
    share = v[(v["programme_id"] == programme.id) & (v["indicator_id"] == "traj_language_improved")
              & (v["district_ags"] == ags) & (v["period"] == "total") & ~v["comparison"].astype(bool)]
    if len(share) == 1 and not (share["masked"].iloc[0] or share["withheld"].iloc[0]) \
            and not is_missing(share["value"].iloc[0]):
        out["matrix"] = t(lang, "traj_matrix_finding", share=_figure(share["value"].iloc[0], "percent", lang))
    return out


def transition_heatmap(data: SiteData, programme: Programme, ags: str, lang: str, title: str) -> dict | None:
    """First level (rows) × latest level (columns): persons, hidden cells labelled and left blank."""
    b = data.breakdowns
    if b.empty:
        return None
    rows = b[(b["programme_id"] == programme.id) & (b["indicator_id"] == TRANSITIONS) & (b["breakdown"] == "transition")
             & (b["district_ags"] == ags) & ~b["comparison"].astype(bool)]
    if rows.empty:
        return None
    found = {v: r for v, r in zip(rows["breakdown_value"], rows.to_dict("records"))}
    shown = [lvl for lvl in LEVELS if any(v.split(">")[0] == lvl or v.split(">")[-1] == lvl for v in found)]
    names = [_level(lvl, lang) for lvl in shown]
    z, text = [], []
    for first in shown:
        z.append([])
        text.append([])
        for latest in shown:
            r = found.get(f"{first}>{latest}")
            if r is None:
                z[-1].append(None)
                text[-1].append("")
            elif r["masked"] or r["withheld"]:
                z[-1].append(None)
                text[-1].append(hidden_text(bool(r["withheld"]), lang, data.threshold))
            else:
                z[-1].append(float(r["value"]))
                text[-1].append(i18n.number(r["value"], lang))
    trace = charts.trace("heatmap", z=z, x=names, y=names, text=text, texttemplate="%{text}",
                         textfont=dict(size=14), hoverinfo="text",
                         hovertext=[[f"{a} → {c}: {s}" for c, s in zip(names, row)] for a, row in zip(names, text)],
                         colorscale=[[0, "#f0f4fa"], [1, style.SEQUENCE[0]]], showscale=False, xgap=2, ygap=2)
    layout = style.layout(lang, title=style.wrap(title, 60), height=140 + 44 * len(shown))
    layout["xaxis"] = dict(title=dict(text=t(lang, "traj_latest_level")), side="bottom", fixedrange=True)
    layout["yaxis"] = dict(title=dict(text=t(lang, "traj_first_level")), autorange="reversed", fixedrange=True)
    layout["meta"] = dict(narrow=dict(title=dict(layout["title"], text=style.wrap(title, 32)),
                                      margin=dict(layout["margin"], t=100), height=layout["height"] + 30))
    return charts.figure([trace], layout)


def _level(level: str, lang: str) -> str:
    return t(lang, "traj_level_none") if level == "none" else level


def progress_chart(data: SiteData, programme: Programme, ags: str, lang: str, title: str) -> dict | None:
    """Per arrival cohort a line: mean language level (CEFR steps) by months since arrival."""
    p = data.progress
    if p.empty:
        return None
    rows = p[(p["programme_id"] == programme.id) & (p["district_ags"] == ags)]
    if rows.empty:
        return None
    traces = []
    for n, (cohort, part) in enumerate(rows.groupby("arrival_cohort", sort=True)):
        part = part.sort_values("band")
        name = t(lang, "traj_cohort", cohort=cohort)
        traces.append(charts.trace(
            "scatter", mode="lines+markers", x=[int(b) for b in part["band"]], y=[float(v) for v in part["mean_level"]],
            name=name, line=dict(color=style.SEQUENCE[n % len(style.SEQUENCE)]),
            hovertemplate=f"{name}: %{{y:.1f}}<extra>%{{x}}+ {t(lang, 'traj_months')}</extra>"))
    layout = style.layout(lang, title=style.wrap(title, 60), height=420)
    layout["xaxis"] = style.axis(title=dict(text=t(lang, "traj_months_since_arrival")), dtick=6, rangemode="tozero")
    layout["yaxis"] = style.axis(title=dict(text=t(lang, "traj_mean_level")), range=[0, len(LEVELS) - 1],
                                 tickvals=list(range(len(LEVELS))), ticktext=[_level(lvl, lang) for lvl in LEVELS])
    layout["legend"] = dict(orientation="h", y=-0.38)
    layout["margin"] = dict(l=60, r=20, t=70, b=110)
    # On a phone the title wraps shorter and the legend stands in one column under the axis
    # title (side by side, its entries ran into the axis title); the chart grows by its rows.
    rows = len(traces)
    layout["meta"] = dict(narrow=dict(
        title=dict(layout["title"], text=style.wrap(title, 32)), legend=dict(orientation="v", x=0, y=-0.3, yanchor="top"),
        height=440 + 22 * rows, margin=dict(l=60, r=20, t=90, b=100 + 22 * rows)))
    return charts.figure(traces, layout)


def _with_finding(headline: str | None, part: str) -> str:
    return f"<div><p class='finding'>{esc(headline)}</p>{part}</div>" if headline else part


def cohort_table(data: SiteData, programme: Programme, ags: str, lang: str) -> str:
    """Each trajectory indicator per arrival cohort (breakdown arrival_cohort) at one place."""
    b = data.breakdowns
    if b.empty:
        return ""
    rows = b[(b["programme_id"] == programme.id) & b["indicator_id"].isin(trajectory_ids(data))
             & (b["breakdown"] == "arrival_cohort") & (b["district_ags"] == ags) & ~b["comparison"].astype(bool)]
    if rows.empty:
        return ""
    cohorts = sorted(set(rows["breakdown_value"]), key=lambda c: (c == "", c))
    cells = []
    for indicator_id in trajectory_ids(data):
        mine = {r["breakdown_value"]: r for r in rows[rows["indicator_id"] == indicator_id].to_dict("records")}
        if mine:
            first = next(iter(mine.values()))
            cells.append([i18n.label(first, lang)] + [_cell(mine[c], lang, data.threshold) if c in mine else ""
                                                       for c in cohorts])
    headers = [t(lang, "indicator")] + [t(lang, "traj_cohort", cohort=c) if c else t(lang, "breakdown_not_given")
                                        for c in cohorts]
    return table(headers, cells, numeric=set(range(1, len(headers))))


def trajectory_section(body: Body, data: SiteData, programme: Programme, lang: str, ags: str | None = None) -> None:
    """The section on a programme's page (ags None: the programme's districts and ALL) or a
    district's page; nothing where no trajectories were delivered."""
    places = [ags] if ags else [ALL, *programme.districts]
    where = ags or ALL
    results = results_table(data, programme, places, lang)
    if not results:
        return
    tag = f"{programme.id}-{where}"
    body.add(f"<h2>{esc(t(lang, 'traj_title'))}</h2>")
    body.add(f"<p class='note'>{esc(t(lang, 'traj_note', threshold=data.threshold))}</p>")
    body.add(results)
    parts = []
    headlines = findings(data, programme, where, lang)
    title = t(lang, "traj_progress_title")
    figure = progress_chart(data, programme, where, lang, title)
    if figure is not None:
        parts.append(_with_finding(headlines.get("progress"),
                                   figure_part(body, figure, f"fig-traj-progress-{tag}", title)))
    title = t(lang, "traj_matrix_title")
    figure = transition_heatmap(data, programme, where, lang, title)
    if figure is not None:
        parts.append(_with_finding(headlines.get("matrix"), figure_part(body, figure, f"fig-traj-matrix-{tag}", title)))
    if parts:
        body.add(f"<div class='grid'>{''.join(parts)}</div>")
    cohorts = cohort_table(data, programme, where, lang)
    if cohorts:
        body.add(f"<h3>{esc(t(lang, 'traj_cohorts_title'))}</h3>{cohorts}")
