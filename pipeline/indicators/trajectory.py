"""The `trajectory` aggregate's catalogue side (indicator contract section 8): its measures, their
parameters and breakdowns as `definition.trajectory` in indicators.yaml says them, validated.
trajectory_sql.py compiles them.
"""
from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("none", "A1", "A2", "B1", "B2", "C1", "C2")
ACTIVITIES = ("employed", "vocational_training", "school", "job_seeking", "other")
# measure -> (its parameters with defaults, whether it is a share with a Wilson interval)
MEASURES = {
    "persons": ({}, False),
    "persons_followed": ({"min_observations": 2, "min_gap_months": 6}, False),
    "improved_share": ({"min_observations": 2, "min_gap_months": 6, "steps": 1, "within_months": 12}, True),
    "months_to_course": ({}, False),
    "employed_share": ({"from_months": 18, "to_months": 30,
                        "activities": ["employed", "vocational_training"]}, True),
    "transitions": ({}, False),
}
# What a trajectory indicator may be broken down by: the person's arrival cohort (half-year of the
# month of arrival), the level and activity at the first observation that records one, and the
# transition first → latest level (the cells of the transition matrix).
BREAKDOWNS = ("arrival_cohort", "language_level", "activity", "transition")


@dataclass(frozen=True)
class Trajectory:
    measure: str
    min_observations: int = 2
    min_gap_months: int = 6
    steps: int = 1
    within_months: int = 12
    from_months: int = 18
    to_months: int = 30
    activities: tuple[str, ...] = ("employed", "vocational_training")

    @property
    def share(self) -> bool:
        return MEASURES[self.measure][1]


def parse_trajectory(spec, where: str, problems: list[str]) -> Trajectory | None:
    """`definition.trajectory` of the catalogue, validated; problems name the entry."""
    if not isinstance(spec, dict):
        problems.append(f"{where}: trajectory muss eine Zuordnung sein / must be a mapping (measure, parameters)")
        return None
    measure = spec.get("measure")
    if measure not in MEASURES:
        problems.append(f"{where}: trajectory.measure '{measure}' unbekannt / unknown ({', '.join(MEASURES)})")
        return None
    allowed = MEASURES[measure][0]
    before = len(problems)
    for key in sorted(set(spec) - {"measure"} - set(allowed)):
        problems.append(f"{where}: '{key}' passt nicht zu / is not used by trajectory {measure} "
                        f"({', '.join(allowed) or '—'})")
    values = {}
    for key, default in allowed.items():
        value = spec.get(key, default)
        if key == "activities":
            if not isinstance(value, list) or not value or any(v not in ACTIVITIES for v in value):
                problems.append(f"{where}: activities muss eine Liste aus {', '.join(ACTIVITIES)} sein / "
                                f"must be a list of activities")
                continue
            value = tuple(value)
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"{where}: {key} muss eine ganze Zahl ≥ 0 sein / must be a whole number ≥ 0: {value!r}")
            continue
        values[key] = value
    if measure in ("persons_followed", "improved_share") and values.get("min_observations", 2) < 1:
        problems.append(f"{where}: min_observations muss ≥ 1 sein / must be ≥ 1")
    if "from_months" in values and "to_months" in values and values["from_months"] > values["to_months"]:
        problems.append(f"{where}: from_months > to_months")
    if len(problems) > before:
        return None
    return Trajectory(measure=measure, **values)
