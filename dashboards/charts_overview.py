"""The start page's and the data quality page's charts: targets by status per programme, and
rejected rows by reason."""
from __future__ import annotations

import pandas as pd

from dashboards import charts, i18n, style


OVERVIEW_GROUPS = (("met", "achieved", ""), ("on_track", "on_track", "/"), ("missed", "behind", "x"))


def status_overview(counts: pd.DataFrame, lang: str) -> dict:
    """Per programme (rows: programme, status group, n): targets met, on track, missed."""
    data = []
    for group, colour_of, pattern in OVERVIEW_GROUPS:
        part = counts[counts["status"] == group]
        if part.empty:
            continue
        colour, sign = style.STATUS_STYLE[colour_of]
        name = i18n.STATUS_GROUP[lang][group]
        data.append(charts.trace(
            "bar", y=part["programme"].tolist(), x=charts.typed_array(part["n"]), orientation="h", name=f"{sign} {name}",
            marker=dict(color=colour, pattern=dict(shape=pattern, bgcolor=colour, fgcolor="white", solidity=0.15)),
            text=[f"{sign} {i18n.number(v, lang)}" for v in part["n"]], textposition="auto", textangle=0,
            constraintext="none", textfont=dict(color="#000000"),
            hovertext=[f"{p}: {i18n.number(v, lang)} {name}" for p, v in zip(part["programme"], part["n"])],
            hoverinfo="text"))
    layout = style.layout(lang, title=i18n.t(lang, "overview_chart"), barmode="stack",
                          height=160 + 60 * counts["programme"].nunique(),
                          legend=dict(orientation="h", y=1.0, x=0, xanchor="left", yanchor="bottom",
                                      traceorder="normal"))
    layout["margin"] = dict(l=10, r=20, t=90, b=50)
    layout["xaxis"] = style.axis(title=dict(text=i18n.t(lang, "targets")))
    layout["yaxis"] = style.axis(autorange="reversed")
    return charts.figure(data, layout)


def rejections(frame: pd.DataFrame, names: dict[str, str], lang: str) -> dict | None:
    """Rejected rows per district, stacked by reason code (colour and pattern per reason)."""
    if frame.empty:
        return None
    by = frame.assign(district=[names.get(a, a) if isinstance(a, str) else i18n.t(lang, "unassigned")
                                for a in frame["district_ags"]])
    by = by.groupby(["district", "reason_code"], as_index=False)["rows"].sum()
    data = []
    for n, code in enumerate(sorted(by["reason_code"].unique())):
        part = by[by["reason_code"] == code]
        label = i18n.REASON[lang].get(code, code)
        data.append(charts.trace(
            "bar", x=[style.wrap(style.short_district(d), 14) for d in part["district"]], y=charts.typed_array(part["rows"]), name=label,
            marker=dict(color=style.SEQUENCE[n % len(style.SEQUENCE)],
                        pattern=dict(shape=style.PATTERNS[(n // len(style.SEQUENCE)) % len(style.PATTERNS)])),
            hovertext=[f"{d}<br>{label} ({code}): {i18n.number(v, lang)}" for d, v in zip(part["district"], part["rows"])],
            hoverinfo="text"))
    layout = style.layout(lang, title=i18n.t(lang, "rejections_by_reason"), barmode="stack", height=460,
                          legend=dict(orientation="h", y=-0.3, x=0, xanchor="left", yanchor="top"))
    layout["margin"] = dict(l=60, r=20, t=60, b=150)
    layout["yaxis"] = style.axis(title=dict(text=i18n.t(lang, "rejected")))
    layout["xaxis"] = style.axis()
    return charts.figure(data, layout)


def rejections_by_reason(frame: pd.DataFrame, names: dict[str, str], lang: str) -> dict | None:
    """Rejected rows per reason, all districts together (most first): with hundreds of districts a
    bar per district says nothing; the page's table has them per district."""
    if frame.empty:
        return None
    by = frame.groupby("reason_code")["rows"].sum().sort_values(ascending=False, kind="stable")
    labels = [f"{i18n.REASON[lang].get(c, c)} ({c})" for c in by.index]
    data = [charts.trace("bar", x=charts.typed_array(by.to_numpy()), y=[style.wrap(t, 40) for t in labels], orientation="h",
                   marker=dict(color=style.DISTRICT_COLOUR), text=[i18n.number(v, lang) for v in by],
                   textposition="outside", cliponaxis=False, hoverinfo="text",
                   hovertext=[f"{t}: {i18n.number(v, lang)}" for t, v in zip(labels, by)])]
    layout = style.layout(lang, title=i18n.t(lang, "rejections_by_reason"), height=120 + 40 * len(by))
    layout["margin"] = dict(l=10, r=60, t=60, b=40)
    layout["xaxis"] = style.axis(title=dict(text=i18n.t(lang, "rejected")), rangemode="tozero")
    layout["yaxis"] = style.axis(autorange="reversed")
    return charts.figure(data, layout)
