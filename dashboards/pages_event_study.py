"""The event study on the impact page (issue 19): for a programme surveyed in two or more waves
before its start, the verdict of the joint pre-trend test per item — and where it is not flat, a
warning beside the DiD finding it weakens — the effect of every wave against the last wave
before the start (chart), and the placebo. Rows from `impact_estimates` (methods event_study,
placebo, pre_trend: pipeline/impact/event_rows.py), published rows only."""
from __future__ import annotations

import pandas as pd

from dashboards import charts_impact
from dashboards.i18n import is_missing, t
from dashboards.layout import Body, esc, table
from dashboards.pages_common import figure_part

EVENT_METHODS = ("event_study", "placebo", "pre_trend")
ALPHA = 0.05


def not_flat(rows: pd.DataFrame) -> list[str]:
    """The items whose published pre-trend test rejects flat pre-trends (p < 5 %), in row order."""
    trend = rows[(rows["method"] == "pre_trend") & ~rows["suppressed"] & rows["p_value"].notna()]
    return list(trend.loc[trend["p_value"] < ALPHA, "item"])


def pre_trend_warnings(body: Body, rows: pd.DataFrame, lang: str, items_of: dict) -> None:
    """Beside the DiD findings: one warning per item whose pre-trends are not flat."""
    for item in not_flat(rows):
        body.add(f"<p class='verdict'><b>⚠ {esc(t(lang, 'impact_pre_trend_warning_title', item=items_of.get(item, item)))}"
                 f"</b> {esc(t(lang, 'impact_pre_trend_warning'))}</p>")


def event_study_section(body: Body, rows: pd.DataFrame, items: list[str], lang: str, items_of: dict,
                        pid: str) -> None:
    """The verdicts per item, the chart of the per-wave effects and a table of the checks."""
    rows = rows[rows["method"].isin(EVENT_METHODS)]
    if rows.empty:
        return
    body.add(f"<h3>{esc(t(lang, 'impact_event_title'))}</h3>")
    body.add(f"<p class='note'>{esc(t(lang, 'impact_event_note'))}</p>")
    flagged = set(not_flat(rows))
    waves = rows[rows["method"] == "event_study"]
    shown = [i for i in items if (waves["item"] == i).any()]
    if not waves[~waves["suppressed"]].empty:
        figure = charts_impact.event_study(waves, [(i, items_of.get(i, i)) for i in shown], lang, flagged)
        body.add(figure_part(body, figure, f"fig-event-{pid}", t(lang, "impact_event_chart_title")))
    table_rows = []
    for item in shown:
        trend = rows[(rows["method"] == "pre_trend") & (rows["item"] == item)]
        placebo = rows[(rows["method"] == "placebo") & (rows["item"] == item)]
        pre = waves[(waves["item"] == item) & (waves["wave"] < waves["reference_wave"])]
        table_rows.append([items_of.get(item, item), _effects(pre, lang), _effects(placebo, lang),
                           _p(trend, lang), _verdict(trend, lang)])
    headers = [t(lang, "impact_item"), t(lang, "impact_event_pre_waves"), t(lang, "impact_event_placebo"),
               t(lang, "impact_event_joint_p"), t(lang, "impact_event_verdict")]
    body.add(table(headers, table_rows, numeric={1, 2, 3}, cls="impact"))


def _effects(part: pd.DataFrame, lang: str) -> str:
    """Each row's wave, estimate and interval ("Welle 1: −0,28 [−0,40; −0,14]"), or why not."""
    out = []
    for _, r in part.sort_values("wave").iterrows():
        label = t(lang, "impact_wave", wave=int(r["wave"]))
        if bool(r["suppressed"]):
            out.append(f"{label}: {t(lang, 'impact_withheld')}")
        elif is_missing(r["ci_low"]):
            out.append(f"{label}: {charts_impact.signed(r['estimate'], lang)} ({t(lang, 'impact_no_inference')})")
        else:
            out.append(f"{label}: {charts_impact.signed(r['estimate'], lang)} "
                       f"{charts_impact.interval_text(r['ci_low'], r['ci_high'], lang)}")
    return "; ".join(out) or "–"


def _p(trend: pd.DataFrame, lang: str) -> str:
    if trend.empty or bool(trend.iloc[0]["suppressed"]) or is_missing(trend.iloc[0]["p_value"]):
        return "–"
    return charts_impact.p_text(trend.iloc[0]["p_value"], lang)


def _verdict(trend: pd.DataFrame, lang: str) -> str:
    if trend.empty:
        return "–"
    r = trend.iloc[0]
    if bool(r["suppressed"]):
        return t(lang, "impact_withheld")
    if is_missing(r["p_value"]):
        return t(lang, "impact_no_inference")
    return t(lang, "impact_pre_trend_flat" if r["p_value"] >= ALPHA else "impact_pre_trend_not_flat")
