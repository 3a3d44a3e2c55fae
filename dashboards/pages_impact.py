"""Wirkung / Impact: per programme with survey data, the headline estimates, forest plots, the
means per wave and every result in words; and a district's own readings for its page."""
from __future__ import annotations

import functools

import pandas as pd

from dashboards import charts_impact, i18n, pages_event_study, privacy, sitemap, style
from dashboards.data import SiteData
from dashboards.i18n import is_missing, t
from dashboards.layout import Body, Place, Raw, esc, table
from dashboards.pages_common import district_name, figure_part, has_many_districts, programme_name, short_name
from pipeline.catalogue import Programme
from pipeline.indicators.model import ALL, ALL_COMPARISON


def impact_words(lang: str):
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


def verdict(row) -> tuple[str, str]:
    """How to take one estimate, as the i18n key of its words and its sign: the chips here and
    the slides' impact headlines (slides_impact.py) say the same."""
    if bool(row["suppressed"]):
        return "impact_withheld", ""
    if is_missing(row["p_value"]):
        return "impact_no_inference", "∅"
    if row["family"] == "robustness":   # a check of a result, never a finding of its own
        return "impact_robustness_chip", "↻"
    if bool(row["established"]):
        return "impact_supported", "✓"
    if _excludes_zero(row):
        return "impact_not_after_correction", "○"
    return "impact_not_supported", "○"


def impact_chips(row, lang: str) -> str:
    """How to take one estimate: withheld; no inference (too few districts); established (primary
    alone, exploratory after correction), excluding zero only before correction, or not
    established; primary outcome; indicative only. Sign and word, not colour alone; CSS classes,
    since a page holds hundreds of them."""
    key, sign = verdict(row)
    if key == "impact_withheld":
        return f"<span class='chip ic-withheld'>{esc(t(lang, key))}</span>"
    out = [f"<span class='chip {'ic-yes' if key == 'impact_supported' else 'ic-no'}'>{sign} {esc(t(lang, key))}</span>"]
    if row["family"] == "primary":
        out.append(f"<span class='chip ic-primary'>★ {esc(t(lang, 'impact_primary'))}</span>")
    if bool(row["indicative"]):
        out.append(f"<span class='chip ic-indicative'>△ {esc(t(lang, 'impact_indicative'))}</span>")
    return " ".join(out)


def _n_text(row, lang: str, threshold: int, comparison: bool = False) -> str:
    keys = ("n_comparison_baseline", "n_comparison_follow_up") if comparison else ("n_baseline", "n_follow_up")
    return " / ".join(privacy.count_text(row[k], "responses", threshold, lambda v: i18n.number(v, lang))
                      if not is_missing(row[k]) else "–" for k in keys)


def _impact_hover(row, label: str, lang: str, threshold: int) -> str:
    if bool(row["suppressed"]):
        return f"<b>{label}</b><br>{t(lang, 'impact_withheld_short', threshold=threshold)}"
    did = row["method"] == "did"
    lines = [f"<b>{label}</b>",
             f"{t(lang, 'impact_did' if did else 'impact_change')}: {charts_impact.signed(row['estimate'], lang)}",
             f"{t(lang, 'impact_interval')}: {charts_impact.interval_text(row['ci_low'], row['ci_high'], lang)}",
             charts_impact.p_text(row["p_value"], lang, row["bootstrap_reps"])
             if not is_missing(row["p_value"]) else t(lang, "impact_no_inference"),
             f"n ({t(lang, 'impact_baseline')} / {t(lang, 'impact_follow_up')}): {_n_text(row, lang, threshold)}"]
    if did:
        lines[-1] = (f"n {t(lang, 'impact_programme_pool')}: {_n_text(row, lang, threshold)}"
                     f"<br>n {t(lang, 'impact_comparison_pool')}: {_n_text(row, lang, threshold, comparison=True)}")
    if bool(row["indicative"]):
        lines.append(f"△ {t(lang, 'impact_indicative')}")
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
               mean_follow_up_adjusted=3.1, mean_comparison_follow_up_adjusted=3.0, family="exploratory",
               family_size=10, p_adjusted=1.0, established=False, bootstrap_reps=999,
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
    body = Body(title=t(lang, "impact_title"))
    body.add(f"<p class='lead'>{esc(t(lang, 'impact_lead'))}</p>")
    body.add(f"<h2>{esc(t(lang, 'impact_how_to_read'))}</h2><p>{esc(t(lang, 'impact_how_to_read_text'))}</p>")
    programmes = data.catalogue.programmes
    with_data = [p for p in programmes if data.has_impact(p)]
    if not with_data:
        body.add(f"<p class='note impact-none'><b>{esc(t(lang, 'impact_none'))}</b></p>")
    else:
        body.add("<p>" + " · ".join(f"<a href='#wirkung-{esc(p.id)}'>{esc(short_name(p, lang))}</a>"
                                     for p in with_data) + "</p>")
        for programme in with_data:
            _impact_section(body, data, programme, place)
        without = [p for p in programmes if not data.has_impact(p)]
        if without:
            names = ", ".join(f"<a href='{esc(place.href(sitemap.programme_path(p.id)))}'>{esc(short_name(p, lang))}</a>"
                              for p in without)
            text = esc(t(lang, "impact_programmes_without", names="\0")).replace("\0", names)
            body.add(f"<p class='note'>{text}</p>")
    for key, items in (("impact_method", "impact_method_text"), ("impact_limits", "impact_limits_text")):
        entries = "".join(f"<li>{esc(text.format(threshold=threshold))}</li>" for text in i18n.TEXT[lang][items])
        body.add(f"<h2>{esc(t(lang, key))}</h2><ul class='impact-list'>{entries}</ul>")
    return body


def _impact_section(body: Body, data: SiteData, programme: Programme, place: Place) -> None:
    from pipeline.impact import survey_groups, survey_items
    lang, threshold = place.lang, data.threshold
    items_of, groups_of, scopes_of = impact_words(lang)
    rows = data.programme_impact(programme)
    items = [i for i in survey_items() if (rows["item"] == i).any()]
    groups = [ALL] + [g for g in survey_groups() if (rows["group"] == g).any()]
    did, pre_post = rows[rows["method"] == "did"], rows[rows["method"] == "pre_post"]
    has_did = not did.empty
    did_rows, pre_post_rows = _Rows(did), _Rows(pre_post)
    pid = programme.id
    body.add(f"<h2 id='wirkung-{esc(pid)}'>{esc(programme_name(programme, lang))}</h2>")
    n_p, n_c = len(programme.districts), len(programme.comparison_districts)
    facts = (t(lang, "impact_programme_districts" + ("_one" if n_p == 1 else ""), n=n_p) + ", "
             + t(lang, "impact_comparison_districts" + ("_one" if n_c == 1 else ""), n=n_c))
    body.add(f"<p class='lead'>{esc(facts)} · <a href='{esc(place.href(sitemap.programme_path(pid)))}'>"
             f"{esc(t(lang, 'impact_to_programme'))}</a></p>")
    many = has_many_districts(programme)
    if many:
        body.add(f"<p class='note'>{esc(t(lang, 'impact_districts_elsewhere', n=n_p))}</p>")
    if not has_did:
        body.add(f"<p class='note'>{esc(t(lang, 'impact_no_comparison'))}</p>")

    # at a glance: the pooled rows, all respondents, one line per item; the primary outcomes
    # declared in the catalogue first and apart, the other items as exploratory findings
    body.add(f"<h3>{esc(t(lang, 'impact_glance' if has_did else 'impact_glance_pre_post'))}</h3>")
    primary = [i for i in items if has_did and i in programme.primary_outcomes]
    if has_did and not primary:
        body.add(f"<p class='note'>{esc(t(lang, 'impact_primary_none'))}</p>")
    for title, part in (("impact_primary_title", primary), ("impact_exploratory_title",
                                                           [i for i in items if i not in primary])):
        if not part:
            continue
        if has_did:
            body.add(f"<h4>{esc(t(lang, title))}</h4>")
            if title == "impact_exploratory_title":
                body.add(f"<p class='note'>{esc(t(lang, 'impact_exploratory_note'))}</p>")
        _glance(body, part, pre_post_rows, did_rows if has_did else None, lang, threshold, items_of)
    pages_event_study.pre_trend_warnings(body, rows, lang, items_of)
    _robustness(body, rows[rows["method"].isin(ROBUSTNESS_METHODS)], items, lang, items_of)
    pages_event_study.event_study_section(body, rows, items, lang, items_of, pid)
    _impact_details(body, data, programme, place, rows)


ROBUSTNESS_METHODS = ("did_top_box", "did_leave_one_out")


def _robustness(body: Body, rows: pd.DataFrame, items: list[str], lang: str, items_of: dict) -> None:
    """The robustness rows in one table: per item the DiD of the share answering 4–5, and for the
    primary outcome the range of the pooled DiD leaving out one district at a time."""
    shown = rows[~rows["suppressed"]]
    if shown.empty:
        return
    body.add(f"<h4>{esc(t(lang, 'impact_robustness_title'))}</h4>")
    body.add(f"<p class='note'>{esc(t(lang, 'impact_robustness_note'))}</p>")
    table_rows = []
    for item in items:
        top = shown[(shown["method"] == "did_top_box") & (shown["item"] == item)]
        for _, r in top.iterrows():
            pp = [None if is_missing(r[k]) else 100 * float(r[k]) for k in ("estimate", "ci_low", "ci_high")]
            table_rows.append([items_of.get(item, item), t(lang, "impact_top_box"),
                               charts_impact.signed(pp[0], lang),
                               charts_impact.interval_text(pp[1], pp[2], lang) if pp[1] is not None else "–",
                               charts_impact.p_text(r["p_value"], lang, r["bootstrap_reps"])
                               if not is_missing(r["p_value"]) else t(lang, "impact_no_inference")])
        out = shown[(shown["method"] == "did_leave_one_out") & (shown["item"] == item)]
        if not out.empty:
            excluding = int(((out["ci_low"] > 0) | (out["ci_high"] < 0)).sum())
            table_rows.append([items_of.get(item, item), t(lang, "impact_leave_one_out", n=len(out)),
                               f"{charts_impact.signed(out['estimate'].min(), lang)} … "
                               f"{charts_impact.signed(out['estimate'].max(), lang)}",
                               t(lang, "impact_loo_excluding", k=excluding, n=len(out)), "–"])
    headers = [t(lang, "impact_item"), t(lang, "impact_check"), t(lang, "impact_estimate"),
               t(lang, "impact_interval"), t(lang, "impact_p")]
    body.add(table(headers, table_rows, numeric={2, 3, 4}, cls="impact"))


def _glance(body: Body, items: list[str], pre_post_rows: "_Rows", did_rows: "_Rows | None", lang: str,
            threshold: int, items_of: dict) -> None:
    """One table of pooled rows (all respondents), one line per item, and their readings."""
    has_did = did_rows is not None
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
                cells.append(t(lang, "impact_withheld") if not part.empty else "–")
                continue
            r = part.iloc[0]
            cells.append(Raw(f"<span class='nw'>{esc(charts_impact.signed(r['estimate'], lang))} "
                             f"{esc(charts_impact.interval_text(r['ci_low'], r['ci_high'], lang))}</span>"
                             f"<br><span class='note'>n = {esc(_n_text(r, lang, threshold))}</span>"))
        if has_did:
            if bool(key_row["suppressed"]):
                cells += [t(lang, "impact_withheld"), "", "", "", ""]
            else:
                cells += [Raw(f"<b>{esc(charts_impact.signed(key_row['estimate'], lang))}</b>"),
                          charts_impact.interval_text(key_row["ci_low"], key_row["ci_high"], lang),
                          Raw(_p_cell(key_row, lang)),
                          charts_impact.plain(key_row["effect_size"], lang),
                          charts_impact.plain(key_row["mde"], lang)]
        cells.append(Raw(impact_chips(key_row, lang)))
        table_rows.append(cells)
    if has_did:
        headers = [t(lang, "impact_item"), t(lang, "impact_change_programme"), t(lang, "impact_change_comparison"),
                   t(lang, "impact_did"), t(lang, "impact_interval"), t(lang, "impact_p"),
                   t(lang, "impact_effect_size"), t(lang, "impact_mde"), t(lang, "impact_assessment")]
        body.add(table(headers, table_rows, numeric={3, 4, 5, 6, 7}, cls="impact"))
    else:
        headers = [t(lang, "impact_item"), t(lang, "impact_change_programme"), t(lang, "impact_assessment")]
        body.add(table(headers, table_rows, cls="impact"))
    body.add(f"<h4>{esc(t(lang, 'impact_readings'))}</h4>")
    body.add("<ul class='readings'>" + "".join(_reading_item(r, lang) for r in headline) + "</ul>")


def _p_cell(row, lang: str) -> str:
    """The p-value; for an exploratory row also the one corrected for its family (Holm)."""
    text = esc(charts_impact.p_text(row["p_value"], lang, row["bootstrap_reps"]))
    if row["family"] != "primary" and not is_missing(row["p_adjusted"]):
        text += (f"<br><span class='note'>{esc(t(lang, 'impact_p_adjusted'))}: "
                 f"{esc(charts_impact.p_text(row['p_adjusted'], lang))}</span>")
    return text


def _impact_details(body: Body, data: SiteData, programme: Programme, place: Place, rows: pd.DataFrame) -> None:
    from pipeline.impact import survey_groups, survey_items
    lang, threshold = place.lang, data.threshold
    items_of, groups_of, scopes_of = impact_words(lang)
    items = [i for i in survey_items() if (rows["item"] == i).any()]
    groups = [ALL] + [g for g in survey_groups() if (rows["group"] == g).any()]
    did, pre_post = rows[rows["method"] == "did"], rows[rows["method"] == "pre_post"]
    has_did = not did.empty
    pre_post_rows = _Rows(pre_post)
    pid = programme.id
    many = has_many_districts(programme)

    # forest plots: one per item, pooled and by group, then each programme district
    body.add(f"<h3>{esc(t(lang, 'impact_forest_title'))}</h3>")
    body.add(f"<p class='note'>{esc(t(lang, 'impact_forest_note'))}</p>")
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
    x_range = charts_impact.forest_range(list(per_item.values()))
    all_label = scopes_of[ALL]
    parts = []
    for item, frame in per_item.items():
        labels = []
        for _, r in frame.iterrows():
            if r["district_ags"] == ALL:
                labels.append(f"{all_label}: {groups_of.get(r['group'], r['group'])}")
            else:
                labels.append(style.short_district(district_name(data, r["district_ags"])))
        hovers = [_impact_hover(r, label, lang, threshold) for (_, r), label in zip(frame.iterrows(), labels)]
        title = f"{items_of.get(item, item)} – {t(lang, 'impact_forest_did' if has_did else 'impact_forest_pre_post')}"
        pooled = int((frame["district_ags"] == ALL).sum())
        figure = charts_impact.forest(frame, labels, hovers, lang, title, x_range, threshold, pooled)
        parts.append(figure_part(body, figure, f"fig-forest-{pid}-{item}", title))
    body.add(f"<div class='grid'>{''.join(parts)}</div>")
    shown = pd.concat(per_item.values()) if per_item else source
    unbounded = shown[~shown["suppressed"]][["ci_low", "ci_high"]].astype(float)
    if len(unbounded) and unbounded.abs().eq(float("inf")).any().any():
        body.add(f"<p class='note'><b>{esc(t(lang, 'impact_unbounded'))}:</b> {esc(t(lang, 'impact_unbounded_note'))}</p>")

    # means per wave: the pools, per group
    body.add(f"<h3>{esc(t(lang, 'impact_trends_title'))}</h3>")
    body.add(f"<p class='note'>{esc(t(lang, 'impact_trends_note'))}</p>")
    cells = {}
    pools = (("programme", ALL, "impact_programme_pool"), ("comparison", ALL_COMPARISON, "impact_comparison_pool"))
    for item in items:
        for group in groups:
            for role, pool, name_key in pools:
                hit = pre_post_rows.pick(item=item, group=group, district_ags=pool)
                if hit.empty:
                    continue
                r = hit.iloc[0]
                head = f"<b>{t(lang, name_key)}</b> · {items_of.get(item, item)} · {groups_of.get(group, group)}<br>"
                if bool(r["suppressed"]):
                    text = head + t(lang, "impact_withheld_short", threshold=threshold)
                    cells[(item, group, role)] = (None, None, None, None, None, None, text, text)
                    continue
                hover = [head + f"{t(lang, wave)}: {charts_impact.plain(r[f'mean_{col}'], lang)} "
                         f"{charts_impact.interval_text(r[f'mean_{col}_ci_low'], r[f'mean_{col}_ci_high'], lang)}"
                         f" (n = {privacy.count_text(r[f'n_{col}'], 'responses', threshold, lambda v: i18n.number(v, lang))})"
                         for wave, col in (("impact_baseline", "baseline"), ("impact_follow_up", "follow_up"))]
                cells[(item, group, role)] = (r["mean_baseline"], r["mean_baseline_ci_low"], r["mean_baseline_ci_high"],
                                              r["mean_follow_up"], r["mean_follow_up_ci_low"],
                                              r["mean_follow_up_ci_high"], *hover)
    if cells:
        figure = charts_impact.wave_means(cells, [(i, items_of.get(i, i)) for i in items],
                                   [(g, _capital(groups_of.get(g, g))) for g in groups], lang,
                                   has_comparison=bool(programme.comparison_districts))
        body.figure(figure, f"fig-waves-{pid}", t(lang, "impact_trends_title"))

    # every result in words
    body.add(f"<h3>{esc(t(lang, 'impact_all_readings'))}</h3>")
    body.add(f"<p class='note'>{esc(t(lang, 'impact_all_readings_note'))}</p>")
    if many:  # each district's readings are on its own page (district_page)
        pooled = [ALL, ALL_COMPARISON]
        did, pre_post = did[did["district_ags"].isin(pooled)], pre_post[pre_post["district_ags"].isin(pooled)]
    robustness = rows[rows["method"].isin(ROBUSTNESS_METHODS)]
    _readings_lists(body, did.to_dict("records"), pre_post.to_dict("records"), items, lang,
                    robustness.to_dict("records"))


def _readings_lists(body: Body, did: list[dict], pre_post: list[dict], items: list[str], lang: str,
                    robustness: list[dict] = ()) -> None:
    """Every row in words, per method in a folded list, by item. Rows are plain dicts: a district
    page of a national programme lists dozens, and a pandas row each took most of its time."""
    items_of = impact_words(lang)[0]
    for method, part in (("did", did), ("pre_post", pre_post), ("robustness", list(robustness))):
        if not part:
            continue
        drop = common_limit(method, lang) if method != "robustness" else ""
        inner = [f"<p class='common'>{esc(t(lang, 'impact_common_limit', text=drop))}</p>"] if drop else []
        by_item: dict[str, list[dict]] = {}
        for row in part:
            by_item.setdefault(row["item"], []).append(row)
        for item in items:
            mine = by_item.get(item)
            if not mine:
                continue
            inner.append(f"<h4>{esc(items_of.get(item, item))}</h4><ul class='readings'>"
                         + "".join(_reading_item(r, lang, drop) for r in mine) + "</ul>")
        body.add(f"<details class='readings'><summary>{esc(t(lang, f'impact_readings_{method}', n=len(part)))}</summary>"
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
    body.add(f"<h2>{esc(t(lang, 'impact_district_title', programme=short_name(programme, lang)))}</h2>")
    body.add(f"<p class='note'>{esc(t(lang, 'impact_district_note'))} "
             f"<a href='{esc(place.href(sitemap.impact_anchor(programme.id)))}'>{esc(t(lang, 'impact_title'))}</a></p>")
    _readings_lists(body, [r for r in rows if r["method"] == "did"], [r for r in rows if r["method"] == "pre_post"],
                    items, lang)
