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
COLUMNS = {"programme_id", "district_ags", "district_name", "indicator_id", "period", "breakdown", "breakdown_value",
           "value", "ci_low", "ci_high", "n", "unit", "label_de", "label_en", "masked", "withheld",
           "arrival_cohort", "band", "mean_level"}


def trajectory_ids(data: SiteData) -> list[str]:
    return [i.id for i in data.indicators if i.definition.aggregate == "trajectory"]


def _parts(data: SiteData) -> tuple[dict, dict, dict]:
    """The trajectory rows of values, breakdowns and progress cells by (programme, place), as
    records, split once for all pages and both languages: picked per page from the whole frames
    (filters, to_dict), they cost minutes at national scale (440 district pages × 2 languages)."""
    if "trajectory_parts" not in data.memo:
        ids = trajectory_ids(data)
        split = []
        for frame, own in ((data.values, True), (data.breakdowns, True), (data.progress, False)):
            if frame.empty:
                split.append({})
                continue
            if own:
                frame = frame[frame["indicator_id"].isin(ids) & ~frame["comparison"].astype(bool)]
                if "breakdown" not in frame:
                    frame = frame[frame["period"] == "total"]
            split.append(_by_place(frame[[c for c in frame.columns if c in COLUMNS]].to_dict("records")))
        data.memo["trajectory_parts"] = tuple(split)
    return data.memo["trajectory_parts"]


def _by_place(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        out.setdefault((r["programme_id"], r["district_ags"]), []).append(r)
    return out


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
    values = _parts(data)[0]
    found = [r for a in places for r in values.get((programme.id, a), [])]
    if not found:
        return ""
    order = {i: n for n, i in enumerate(ids)}
    where = {a: n for n, a in enumerate(places)}
    records = sorted(found, key=lambda r: (order[r["indicator_id"]], where[r["district_ags"]]))
    if len(places) == 1:
        cells = [[i18n.label(r, lang), _cell(r, lang, data.threshold), _interval(r, lang), _n(r, lang, data.threshold)]
                 for r in records]
        return table([t(lang, "indicator"), t(lang, "value"), t(lang, "traj_interval"), t(lang, "traj_n")], cells,
                     numeric={1, 3})
    shown = [a for a in places if a in {r["district_ags"] for r in records}]
    by_key = {(r["indicator_id"], r["district_ags"]): r for r in records}
    cells = []
    for indicator_id in [i for i in ids if i in {r["indicator_id"] for r in records}]:
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
    values, _, progress = _parts(data)
    rows = progress.get((programme.id, ags))
    if rows:
        cohort = min(r["arrival_cohort"] for r in rows)
        last = max((r for r in rows if r["arrival_cohort"] == cohort), key=lambda r: r["band"])
        level = float(last["mean_level"])
        low = min(int(level), len(LEVELS) - 1)
        between = _level(LEVELS[low], lang) if level == low or low == len(LEVELS) - 1 else \
            t(lang, "traj_between", low=_level(LEVELS[low], lang), high=_level(LEVELS[low + 1], lang))
        out["progress"] = t(lang, "traj_progress_finding", cohort=t(lang, "traj_cohort", cohort=cohort),
                            months=int(last["band"]), level=between, mean=i18n.number(level, lang, 1))
    share = [r for r in values.get((programme.id, ags), []) if r["indicator_id"] == "traj_language_improved"]
    if len(share) == 1 and not (share[0]["masked"] or share[0]["withheld"]) and not is_missing(share[0]["value"]):
        out["matrix"] = t(lang, "traj_matrix_finding", share=_figure(share[0]["value"], "percent", lang))
    return out


def transition_heatmap(data: SiteData, programme: Programme, ags: str, lang: str, title: str) -> dict | None:
    """First level (rows) × latest level (columns): persons, hidden cells labelled and left blank."""
    found = {r["breakdown_value"]: r for r in _parts(data)[1].get((programme.id, ags), [])
             if r["indicator_id"] == TRANSITIONS and r["breakdown"] == "transition"}
    if not found:
        return None
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
    rows = _parts(data)[2].get((programme.id, ags))
    if not rows:
        return None
    traces = []
    lines: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        lines.setdefault(r["arrival_cohort"], []).append((int(r["band"]), float(r["mean_level"])))
    for n, cohort in enumerate(sorted(lines)):
        points = sorted(lines[cohort])
        name = t(lang, "traj_cohort", cohort=cohort)
        traces.append(charts.trace(
            "scatter", mode="lines+markers", x=[b for b, _ in points], y=[v for _, v in points],
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
    rows = [r for r in _parts(data)[1].get((programme.id, ags), []) if r["breakdown"] == "arrival_cohort"]
    if not rows:
        return ""
    cohorts = sorted({r["breakdown_value"] for r in rows}, key=lambda c: (c == "", c))
    by_indicator: dict[str, dict] = {}
    for r in rows:
        by_indicator.setdefault(r["indicator_id"], {})[r["breakdown_value"]] = r
    cells = []
    for indicator_id in trajectory_ids(data):
        mine = by_indicator.get(indicator_id)
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
