"""What the pages share: names, links, status chips, the "< 5" notes, a programme's verdict and
when a programme counts as having many districts."""
from __future__ import annotations

import pandas as pd

from dashboards import charts, i18n, privacy, sitemap, style
from dashboards.data import SiteData
from dashboards.i18n import is_missing, t
from dashboards.layout import Body, Place, Raw, chip, esc, figure_html
from pipeline.catalogue import Programme
from pipeline.indicators.model import ALL

MET, ON_TRACK, MISSED = ("achieved", "within"), ("on_track",), ("behind", "exceeded")

# A programme with more programme districts than this gets overviews where a small one shows each
# district on its own: one fund chart instead of one per district, bars across and sorted, a
# summary row per district on the quality page, and its districts' impact readings on their own
# pages. At national scale (100 districts) the per-district parts made pages of 2–9 MB; the demo's
# programmes (at most 12 districts) keep their pages as they were.
MANY_DISTRICTS = 20


def has_many_districts(programme: Programme) -> bool:
    return len(programme.districts) > MANY_DISTRICTS


def programme_name(programme: Programme, lang: str) -> str:
    return programme.name_de if lang == "de" else programme.name_en


def district_name(data: SiteData, ags: str) -> str:
    return data.catalogue.district_name(ags)


def target_rows(data: SiteData, programme: Programme) -> pd.DataFrame:
    totals = data.totals(programme)
    rows = totals[totals["target"].notna() & ~totals["comparison"]]
    level_all = programme.target_level == "programme"
    return rows[(rows["district_ags"] == ALL) == level_all]


def is_finished(data: SiteData, programme: Programme) -> bool:
    return data.as_of is not None and data.as_of >= programme.end


def status_counts(rows: pd.DataFrame) -> tuple[int, int, int, int]:
    """(met, on track, missed, all) of a frame of target rows."""
    status = rows["status"]
    return (int(status.isin(MET).sum()), int(status.isin(ON_TRACK).sum()), int(status.isin(MISSED).sum()),
            len(rows))


def counted_text(counts: tuple[int, int, int, int], finished: bool, lang: str) -> str:
    """"5 von 6 Zielwerten erreicht, …": a finished programme's missed targets are "nicht erreicht"
    (they can no longer catch up, so "im Rückstand" would be wrong), and nothing is "im Plan"."""
    met, on_track, missed, n = counts
    if not n:
        return t(lang, "verdict_no_targets")
    if met == n:
        return t(lang, "verdict_all_met", n=n)
    if finished:
        return t(lang, "verdict_text_finished", met=met, n=n, missed=missed + on_track)
    return t(lang, "verdict_text", met=met, n=n, on_track=on_track, missed=missed)


def state_text(data: SiteData, programme: Programme, lang: str) -> str:
    """"abgeschlossen" or "läuft (40 % der Laufzeit gemeldet)"."""
    if is_finished(data, programme):
        return t(lang, "verdict_finished")
    share = data.totals(programme)["elapsed_share"].dropna()
    return t(lang, "verdict_running", share=i18n.percent(float(share.iloc[0]) * 100 if len(share) else 0, lang))


def verdict(data: SiteData, programme: Programme, lang: str) -> str:
    """One line: targets met / on track / behind, and whether the programme is finished."""
    counts = status_counts(target_rows(data, programme))
    return f"{state_text(data, programme, lang)}: {counted_text(counts, is_finished(data, programme), lang)}"


def compact_name(programme: Programme, lang: str) -> str:
    """A programme's name short enough for a column head or the navigation: the name before its
    dash, with the phase in brackets where the full name ends with one ("Land.Zuhause.Zukunft
    (1. Phase)"); the full name stays in page titles and headings."""
    name = programme_name(programme, lang)
    if " – " not in name:
        return name
    head = name.split(" – ")[0]
    tail = name.rsplit("(", 1)[1].rstrip(")") if name.endswith(")") and "(" in name else ""
    return f"{head} ({tail})" if tail else head


def district_links(place: Place, data: SiteData, districts) -> Raw:
    return Raw(", ".join(f"<a href='{esc(place.href(sitemap.district_path(a)))}'>{esc(district_name(data, a))}</a>"
                         for a in districts))


def value_text(row, lang: str, threshold: int) -> str:
    if row["masked"]:
        return privacy.hidden_text(bool(row.get("withheld", False)), lang, threshold)
    text = charts.fmt(row["value"], lang, row["unit"])
    if not is_missing(row["value_high"]) and row["value_high"] != row["value"]:
        text += " – " + charts.fmt(row["value_high"], lang, row["unit"])
    return text


def status_chip(status, lang: str) -> Raw:
    status = status if isinstance(status, str) else None
    colour, sign = style.STATUS_STYLE[status]
    return chip(f"{sign} {i18n.STATUS[lang][status]}", colour) if status else Raw(esc(i18n.STATUS[lang][None]))


def status_legend(lang: str) -> str:
    chips = [chip(f"{style.STATUS_STYLE[s][1]} {i18n.STATUS[lang][s]}", style.STATUS_STYLE[s][0])
             for s in style.STATUS_ORDER]
    return f"<div class='legend' aria-label='{esc(t(lang, 'legend'))}'>{''.join(chips)}</div>"


def report_link(place: Place, data: SiteData, ags, quarter, text: str) -> Raw:
    path = data.reports.get((ags, quarter))
    if not path:
        return Raw(esc(text))
    return Raw(f"<a href='{esc(place.asset(path))}'>{esc(text)}</a>")


def masked_note(frame: pd.DataFrame, lang: str, threshold: int) -> str:
    return masked_line(bool(frame["masked"].any() or frame["n_masked"].any()), lang, threshold)


def masked_line(masked: bool, lang: str, threshold: int) -> str:
    return f"<p class='note masked'>{esc(t(lang, 'masked_note', threshold=threshold))}</p>" if masked else ""


def withheld_line(withheld: bool, lang: str, threshold: int) -> str:
    return f"<p class='note masked'>{esc(t(lang, 'withheld_note', threshold=threshold))}</p>" if withheld else ""


def short_name(programme: Programme, lang: str) -> str:
    name = programme_name(programme, lang)
    return name if len(name) <= 60 else name.split(" – ")[0] + f" ({programme.id})"


def figure_part(body: Body, figure, div_id: str, label: str) -> str:
    """A figure's HTML to place in a grid of charts (body.figure() adds one on its own line)."""
    body.figures += 1
    # In a grid, the chart and the source line and buttons drawn under it (layout.TOOLS_JS) share one cell.
    return f"<div>{figure_html(figure, div_id, label)}</div>"


def place_names(data: SiteData, districts, lang: str) -> list[str]:
    return [t(lang, "all_districts") if a == ALL else district_name(data, a) for a in districts]


def finding(rows: pd.DataFrame, data: SiteData, programme: Programme, lang: str) -> str:
    """The finding a chart or slide states in its headline, from its own target rows: targets met
    of all, and where they are not ("12 von 14 Zielwerten erreicht, …; nicht erreicht in Prignitz")."""
    rows = rows[rows["target"].notna()]
    finished = is_finished(data, programme)
    missed = rows["status"].isin(MISSED) | (rows["status"].isin(ON_TRACK) if finished else False)
    if programme.target_level == "programme":   # one row per indicator: name the indicators
        where = [i18n.label(r, lang) for r in rows[missed].to_dict("records")]
    else:
        where = [style.short_district(n) for n in dict.fromkeys(place_names(data, rows[missed]["district_ags"], lang))]
    text = counted_text(status_counts(rows), finished, lang)
    if where:
        text += "; " + t(lang, "slide_not_met" if finished else "slide_behind", districts=", ".join(where))
    return text[0].upper() + text[1:]
