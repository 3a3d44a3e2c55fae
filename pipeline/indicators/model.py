"""The indicator catalogue as typed data: what an indicator measures, for whom, against which target.

These classes hold what `indicators.yaml` says after validation; `loader.py` builds them,
`sql.py` turns their definitions into DuckDB SQL. Nothing here knows about the warehouse.
"""
from __future__ import annotations

import functools
import datetime as dt
from dataclasses import dataclass, field

from pipeline.indicators.trajectory import BREAKDOWNS as TRAJECTORY_BREAKDOWNS
from pipeline.indicators.trajectory import Trajectory

AGGREGATES = ("count", "sum", "count_distinct", "mean", "reach", "coverage", "trajectory")
# What an indicator may be broken down by (contract section 6): columns of its feed; a reach
# only by its events' columns, which place its head counts as well as its listed persons.
# `region` is no column: the region of the event's matched municipality (pipeline/places).
BREAKDOWNS = ("role", "field", "event_type", "supra_regional", "region", "client_type", *TRAJECTORY_BREAKDOWNS)
EVENT_BREAKDOWNS = ("field", "event_type", "supra_regional", "region")
PLACE_BREAKDOWNS = ("region",)
# coverage: which places of the district (places.yaml) count as reached by an event in the period.
COVERAGE_PLACES = {"regions": "region", "municipalities": "municipality_key"}
DIRECTIONS = ("at_least", "at_most")
WHEN_NO_DATA = ("zero", "omit")

# The ALL row adds up a programme's districts; comparison districts get their own sum row so the
# key (programme, indicator, district, period) stays unique and ALL never mixes the two.
ALL = "ALL"
ALL_COMPARISON = "ALL_COMPARISON"
TOTAL = "total"


@dataclass(frozen=True)
class KeySource:
    """Further distinct keys for a reach, e.g. advised persons next to event attendees."""
    feed: str
    column: str
    filter: str | None = None


@dataclass(frozen=True)
class Definition:
    feed: str
    aggregate: str
    filter: str | None = None
    column: str | None = None            # sum / count_distinct / mean
    high: str | None = None              # sum: upper end of a range (value_high)
    attendance_filter: str | None = None  # reach: which attendance rows name a reached person
    fallback: tuple[str, ...] = ()       # reach: head counts summed for events without attendance
    plus: tuple[KeySource, ...] = ()     # reach: more distinct keys (same district pseudonyms)
    places: str | None = None            # coverage: regions or municipalities (COVERAGE_PLACES)
    trajectory: Trajectory | None = None  # trajectory: the measure and its parameters


@dataclass(frozen=True)
class Baseline:
    """Where a district or programme stood before the programme (contract section 6): context
    for the target, never added to the programme's own counts."""
    value: float
    date: dt.date
    source: str


@dataclass(frozen=True)
class Milestone:
    """A cumulative value due by a date (contract section 6)."""
    due: dt.date
    value: float
    label_de: str = ""
    label_en: str = ""


INHERIT = "inherit"  # an override that sets no target of its own keeps the less specific one


@dataclass(frozen=True)
class Override:
    """A target, baseline and milestones for one programme, or one district of it; for each of the
    three, the most specific entry that gives it wins."""
    programme: str
    district: str | None
    target: float | None | str = INHERIT
    baseline: Baseline | None = None
    milestones: tuple[Milestone, ...] = ()


@dataclass(frozen=True)
class Reference:
    framework: str
    item: str
    programmes: tuple[str, ...] = ()  # empty: the reference holds wherever the indicator applies


@dataclass(frozen=True)
class Indicator:
    id: str
    label_de: str
    label_en: str
    description_de: str
    description_en: str
    unit: str
    direction: str | None
    target: float | None
    definition: Definition
    programmes: tuple[str, ...] = ()   # empty: every programme
    districts: tuple[str, ...] = ()    # empty: every district of those programmes
    overrides: tuple[Override, ...] = ()
    references: tuple[Reference, ...] = ()
    when_no_data: str = "zero"
    comparison: bool = False           # also reported for comparison districts (flagged)
    breakdowns: tuple[str, ...] = ()   # further rows per value of these columns (indicator_breakdowns)

    @property
    def additive(self) -> bool:
        """A total can never be below a quarter, nor ALL below a district (all but means)."""
        return self.definition.aggregate not in ("mean", "trajectory")

    @property
    def interval(self) -> str | None:
        """How its 95 % interval is computed: `t` for a mean, `wilson` for a share of persons."""
        d = self.definition
        if d.aggregate == "mean":
            return "t"
        return "wilson" if d.trajectory is not None and d.trajectory.share else None

    @property
    def placed(self) -> bool:
        """Reads the places of the catalogue: a coverage, or broken down by region. A coverage is
        reported only for districts that hold places (a district without has nothing to cover)."""
        return self.definition.aggregate == "coverage" or any(b in PLACE_BREAKDOWNS for b in self.breakdowns)

    def applies_to(self, programme_id: str, district_ags: str | None = None) -> bool:
        if self.programmes and programme_id not in self.programmes:
            return False
        return district_ags is None or not self.districts or district_ags in self.districts

    @functools.cached_property
    def _overrides_by_key(self) -> dict:
        return {(o.programme, o.district): o for o in self.overrides}

    def _specific(self, programme_id: str, district_ags: str | None, given) -> Override | None:
        """The district's override, else the programme's, that gives what `given` asks for."""
        by_key = self._overrides_by_key
        for key in ([(programme_id, district_ags)] if district_ags is not None else []) + [(programme_id, None)]:
            if key in by_key and given(by_key[key]):
                return by_key[key]
        return None

    def target_for(self, programme_id: str, district_ags: str | None) -> float | None:
        """District override > programme override > default; district None means the ALL row."""
        found = self._specific(programme_id, district_ags, lambda o: o.target != INHERIT)
        return found.target if found else self.target

    def baseline_for(self, programme_id: str, district_ags: str | None) -> Baseline | None:
        found = self._specific(programme_id, district_ags, lambda o: o.baseline is not None)
        return found.baseline if found else None

    def milestones_for(self, programme_id: str, district_ags: str | None) -> tuple[Milestone, ...]:
        """The milestones pacing this row (empty: linear pacing); they belong to the target of the
        same override, so a more specific target without milestones paces linearly."""
        owner = self._specific(programme_id, district_ags, lambda o: o.target != INHERIT or o.milestones)
        return owner.milestones if owner else ()


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    label_de: str = ""
    label_en: str = ""
    source: str = ""


@dataclass(frozen=True)
class IndicatorCatalogue:
    path: str
    indicators: tuple[Indicator, ...]
    parameters: dict[str, Parameter] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.indicators)

    def __len__(self) -> int:
        return len(self.indicators)

    def get(self, indicator_id: str) -> Indicator:
        return next(i for i in self.indicators if i.id == indicator_id)

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.indicators]

    def parameter(self, name: str) -> float:
        """E.g. `micro_project_cap_eur`, for the compliance finding in the quality report."""
        return self.parameters[name].value
