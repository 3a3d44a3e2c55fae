"""How a target reads on the pages: baseline → milestone in force → target (contract section 6),
and the milestone steps a cumulative chart draws instead of the pro-rata line."""
from __future__ import annotations

import datetime as dt

from dashboards import charts, i18n
from dashboards.i18n import is_missing, t
from pipeline.catalogue import Programme
from pipeline.indicators.model import INHERIT, Indicator
from pipeline.quarters import quarter_bounds


def target_text(row, lang: str) -> str:
    """"Ausgangswert 0 (31.12.2022) → Meilenstein 4 bis 31.12.2023 → mind. 14" for a total row
    (a row without baseline or milestone: just "mind. 14")."""
    unit = row["unit"]
    parts = []
    if not is_missing(row.get("baseline")):
        parts.append(t(lang, "baseline_at", value=charts.fmt(row["baseline"], lang, unit),
                       date=i18n.date(row["baseline_date"], lang)))
    # A finished programme's milestone in force is its target, due at the end: said once.
    if not is_missing(row.get("milestone")) and row["milestone"] != row["target"]:
        parts.append(t(lang, "milestone_by", value=charts.fmt(row["milestone"], lang, unit),
                       date=i18n.date(row["milestone_due"], lang)))
    parts.append(f"{i18n.t(lang, row['direction'])} {charts.fmt(row['target'], lang, unit)}")
    return " → ".join(parts)


def override_text(override, indicator: Indicator, where: str, lang: str) -> str:
    """One override on the methods page: its target, baseline (with source) and milestones."""
    unit = indicator.unit
    parts = []
    if override.target != INHERIT:
        parts.append("–" if override.target is None else charts.fmt(override.target, lang, unit))
    if override.baseline:
        b = override.baseline
        parts.append(t(lang, "baseline_at", value=charts.fmt(b.value, lang, unit), date=i18n.date(b.date, lang))
                     + f" ({b.source})")
    if override.milestones:
        parts.append(t(lang, "milestones") + ": " + ", ".join(
            t(lang, "milestone_by", value=charts.fmt(m.value, lang, unit), date=i18n.date(m.due, lang))
            + (f" ({getattr(m, f'label_{lang}')})" if getattr(m, f"label_{lang}") else "")
            for m in override.milestones))
    return f"{where}: {'; '.join(parts)}"


def due_by_quarter(indicator: Indicator, programme: Programme, ags: str, quarters: list[str]) -> list[float] | None:
    """Per quarter, the cumulative value due by its end (the latest milestone due by then, the
    target at the programme's end; 0 before the first): None where the district has no milestones."""
    milestones = indicator.milestones_for(programme.id, ags)
    target = indicator.target_for(programme.id, ags)
    if not milestones or target is None:
        return None
    steps = [(m.due, m.value) for m in milestones] + [(programme.end, target)]
    return [_due(steps, min(quarter_bounds(q)[1], programme.end)) for q in quarters]


def _due(steps: list[tuple[dt.date, float]], day: dt.date) -> float:
    return max((value for due, value in steps if due <= day), default=0.0)
