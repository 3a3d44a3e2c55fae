"""The talk's impact slide per programme with survey estimates: the primary outcome's pooled
estimate (and the established exploratory findings) as a forest plot at slide size, under a
headline that states the verdict in the impact page's words (pages_impact.verdict), with the
event study's pre-trend warning where it flags one. Rows come from SiteData, after the survey's
disclosure rule (withhold.py): a withheld row shows the word, never a number. A programme whose
estimates have no inference (too few districts) says so instead of an estimate.
"""
from __future__ import annotations

from typing import Callable

import pandas as pd
import plotly.graph_objects as go

from dashboards import charts_impact, pages_event_study, pages_impact, style
from dashboards.data import SiteData
from dashboards.i18n import is_missing, t
from pipeline.catalogue import Programme
from pipeline.indicators.model import ALL

# At most this many rows on the slide (the primary outcomes first): at 28 px a row needs ~70 px.
MAX_ROWS = 5


def pooled_rows(data: SiteData, programme: Programme) -> tuple[pd.DataFrame, bool]:
    """The programme's pooled rows (all districts, all respondents), one per item: the DiD where
    the programme has comparison districts, else the before/after change; and whether DiD."""
    rows = data.programme_impact(programme)
    did = rows[rows["method"] == "did"]
    source = did if not did.empty else rows[(rows["method"] == "pre_post") & (rows["role"] == "programme")]
    return source[(source["district_ags"] == ALL) & (source["group"] == ALL)], not did.empty


def shown_rows(pooled: pd.DataFrame, programme: Programme, has_did: bool) -> pd.DataFrame:
    """The primary outcomes (declared in the catalogue; only a DiD has them, as on the impact
    page), then the exploratory items the site calls established; without a primary outcome, the
    established items, else all."""
    primary = pooled[pooled["item"].isin(programme.primary_outcomes)] if has_did else pooled.iloc[:0]
    rest = pooled[~pooled.index.isin(primary.index)]
    established = rest[[pages_impact.verdict(r)[0] == "impact_supported" for _, r in rest.iterrows()]]
    chosen = pd.concat([primary, established]) if len(primary) or len(established) else pooled
    return chosen.head(MAX_ROWS)


def headline(row, has_did: bool, flagged: list[str], lang: str, items_of: dict) -> str:
    """"Zugehörigkeit (Hauptergebnis): Unterschied belegt, +0,32 [0,26; 0,39]": the verdict in the
    chips' words; the figure only where the site shows one; the pre-trend warning where flagged."""
    item = items_of.get(row["item"], row["item"])
    key, _ = pages_impact.verdict(row)
    text = f"{item} ({t(lang, 'impact_primary')})" if has_did and row["family"] == "primary" else item
    text += f": {t(lang, key)}"
    if key not in ("impact_withheld", "impact_no_inference") and not is_missing(row["estimate"]):
        text += (f", {charts_impact.signed(row['estimate'], lang)} "
                 f"{charts_impact.interval_text(row['ci_low'], row['ci_high'], lang)}")
    if row["item"] in flagged:
        text += " ⚠ " + t(lang, "impact_pre_trend_warning_title", item=item).rstrip(" —")
    return text


def impact_slides(data: SiteData, lang: str, programmes: list[Programme],
                  frame: Callable[..., go.Figure]) -> list[tuple[Programme, str, go.Figure]]:
    """Per programme with estimates: (programme, headline, figure); `frame` puts a figure on a
    slide under a headline (slides._for_slide)."""
    items_of = pages_impact.impact_words(lang)[0]
    out = []
    for programme in programmes:
        if not data.has_impact(programme):
            continue
        pooled, has_did = pooled_rows(data, programme)
        if pooled.empty:
            continue
        rows = shown_rows(pooled, programme, has_did)
        flagged = pages_event_study.not_flat(data.programme_impact(programme))
        if all(pages_impact.verdict(r)[0] in ("impact_no_inference", "impact_withheld") for _, r in pooled.iterrows()) \
                and any(pages_impact.verdict(r)[0] == "impact_no_inference" for _, r in pooled.iterrows()):
            out.append((programme, *_no_inference(programme, lang, frame)))
            continue
        title = headline(rows.iloc[0], has_did, flagged, lang, items_of)
        labels = [("★ " if has_did and r["family"] == "primary" else "") + items_of.get(r["item"], r["item"])
                  for _, r in rows.iterrows()]
        figure = go.Figure(charts_impact.forest(rows, labels, labels, lang, t(lang, "impact_forest_title"), charts_impact.forest_range([rows]),
                                                data.threshold))
        # the headline starts above the plot, right of the item names: ~48 characters at 34 px
        out.append((programme, title, _fit(frame(figure, programme, lang, title, wrap=48), has_did, lang)))
    return out


def _no_inference(programme: Programme, lang: str, frame) -> tuple[str, go.Figure]:
    """No estimate to plot: the headline says inference needs more districts, the slide how many
    districts there are."""
    n_p, n_c = len(programme.districts), len(programme.comparison_districts)
    facts = (t(lang, "impact_programme_districts" + ("_one" if n_p == 1 else ""), n=n_p) + ", "
             + t(lang, "impact_comparison_districts" + ("_one" if n_c == 1 else ""), n=n_c))
    title = f"{t(lang, 'impact_title').split(':')[0]}: {t(lang, 'impact_no_inference')}"
    figure = frame(go.Figure(layout=style.layout(lang)), programme, lang, title)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.add_annotation(text=facts, xref="paper", yref="paper", x=0, y=0.8, xanchor="left", yanchor="top",
                          showarrow=False, font=dict(size=figure.layout.font.size))
    return title, figure


def _fit(figure: go.Figure, has_did: bool, lang: str) -> go.Figure:
    """The page's forest plot at slide size: labels, legend and markers for the back of the room."""
    size = figure.layout.font.size
    for trace in figure.data:
        if trace.mode == "markers":
            trace.marker.size = 24
            trace.marker.line.width = 4
        elif trace.mode == "lines":
            trace.line.width = 6
        elif trace.mode == "text":   # "not published": a word, no figure
            trace.textfont.size = size
    figure.update_yaxes(tickfont=dict(size=size), automargin=True)
    figure.update_xaxes(title=dict(text=t(lang, "impact_did" if has_did else "impact_change") + " · "
                                   + t(lang, "impact_points")), tickfont=dict(size=size))
    figure.update_layout(legend=dict(font=dict(size=size), y=-0.28), margin=dict(b=160))
    return figure

