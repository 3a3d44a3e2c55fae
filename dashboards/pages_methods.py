"""The methods page: how every number comes about (indicator definitions and targets from the
catalogue, status and privacy rules, parameters, sources)."""
from __future__ import annotations

import re

import pandas as pd

from dashboards import charts, i18n
from dashboards.data import SiteData
from dashboards.i18n import t
from dashboards.targets import override_text
from dashboards.layout import Body, Place, esc, table
from dashboards.pages_common import district_name, programme_name


# The catalogue cites its documents with the evaluators' internal numbers ("Mikroprojektfonds
# Ludwigslust-Parchim (Seed 001)", "Seed 001: …"): a reader of the site gets the document's title.
SEED = re.compile(r"\s*\((?:Seed|seed) (\d+)\)")
SEED_PREFIX = re.compile(r"\b(?:Seed|seed) (\d+)\b")


def document_titles(data: SiteData) -> dict[str, str]:
    """Internal number -> the title the catalogue's references give that document."""
    titles = {}
    for indicator in data.indicators:
        for ref in indicator.references:
            found = SEED.search(ref.framework)
            if found:
                titles.setdefault(found.group(1), SEED.sub("", ref.framework).strip())
    return titles


def public(text: str, titles: dict[str, str]) -> str:
    """A catalogue text without internal numbers: "(Seed 003)" dropped, a bare "Seed 001" named."""
    text = SEED.sub("", str(text))
    return SEED_PREFIX.sub(lambda m: titles.get(m.group(1), ""), text).strip(" :")


def methods_page(data: SiteData, place: Place, geo_name: str | None) -> Body:
    lang = place.lang
    titles = document_titles(data)
    body = Body(title=t(lang, "nav_methods"))
    body.add(f"<p class='lead'>{esc(t(lang, 'methods_lead'))}</p>")
    body.add(f"<h2>{esc(t(lang, 'nav_methods'))}: {esc(t(lang, 'indicator'))}</h2>")
    programmes = {p.id: programme_name(p, lang) for p in data.catalogue.programmes}
    for indicator in data.indicators:
        facts = [(t(lang, "definition"), getattr(indicator, f"description_{lang}")),
                 (t(lang, "unit"), i18n.UNIT[lang].get(indicator.unit, indicator.unit))]
        if indicator.direction:
            target = "–" if indicator.target is None else charts.fmt(indicator.target, lang, indicator.unit)
            facts.append((t(lang, "default_target"), f"{t(lang, indicator.direction)} {target}"))
        else:
            facts.append((t(lang, "default_target"), t(lang, "no_target")))
        if indicator.overrides:
            facts.append((t(lang, "overrides"), "; ".join(
                override_text(o, indicator, f"{o.programme}{' / ' + district_name(data, o.district) if o.district else ''}",
                              lang) for o in indicator.overrides)))
        where = ", ".join(programmes.get(p, p) for p in indicator.programmes) or t(lang, "all_programmes")
        if indicator.districts:
            where += " – " + ", ".join(district_name(data, a) for a in indicator.districts)
        facts.append((t(lang, "applies_to"), where))
        for ref in indicator.references:
            framework = public(ref.framework, titles)
            facts.append((t(lang, "references"), f"{framework}: „{ref.item}“" if lang == "de"
                          else f"{framework}: “{ref.item}”"))
        dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
        body.add(f"<section class='card' style='margin:.6rem 0'><h3 id='{esc(indicator.id)}'>"
                 f"{esc(i18n.label(indicator, lang))} <code>{esc(indicator.id)}</code></h3><dl>{dl}</dl></section>")
    body.add(f"<h2>{esc(t(lang, 'reach_method'))}</h2><p>{esc(t(lang, 'reach_method_text'))}</p>")
    body.add(f"<h2>{esc(t(lang, 'status_rules'))}</h2><p>{esc(t(lang, 'status_rules_text'))}</p>")
    body.add(f"<h2>{esc(t(lang, 'privacy_rules'))}</h2><p>{esc(t(lang, 'privacy_rules_text', threshold=data.threshold))}</p>")
    if data.indicators.parameters:
        body.add(f"<h2>{esc(t(lang, 'parameters'))}</h2>")
        body.add(table([t(lang, "parameters"), t(lang, "value"), t(lang, "references")],
                       [[p.label_de if lang == "de" else p.label_en, i18n.number(p.value, lang), public(p.source, titles)]
                        for p in data.indicators.parameters.values()], numeric={1}))
    body.add(f"<h2>{esc(t(lang, 'sources'))}</h2><ul>")
    districts = data.catalogue.districts
    for source, group in districts.groupby("population_source", sort=False):
        dates = sorted(set(str(d) for d in group.get("population_date", pd.Series(dtype=str)) if d))
        when = ", ".join(i18n.date(d, lang) for d in dates) or "–"
        body.add(f"<li>{esc(t(lang, 'source_population', source=source, date=when))}</li>")
    body.add(f"<li>{esc(t(lang, 'source_deliveries'))}</li>")
    body.add(f"<li>{esc(t(lang, 'source_geo', name=geo_name) if geo_name else t(lang, 'source_geo_none'))}</li>")
    sources = "; ".join(f"{programme_name(p, lang)}: {public(p.source, titles)}"
                        for p in data.catalogue.programmes if p.source)
    body.add(f"<li>{esc(t(lang, 'programme_sources', sources=sources))}</li></ul>")
    return body
