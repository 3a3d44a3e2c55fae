"""Load and validate indicators.yaml against the programme catalogue and the delivery contract.

Every problem is collected (not just the first) and raised as one CatalogueError, each naming the
file, the indicator and what is wrong, in German and English, as the programme loader does.
Filters are checked by letting DuckDB bind them against the empty warehouse schema, so an unknown
column or a typo in SQL is found when the catalogue loads, not in the middle of a run.
"""
from __future__ import annotations

import datetime as dt
import re
from numbers import Real
from pathlib import Path

import duckdb

from pipeline.catalogue import Catalogue, CatalogueError, loaded_once, own_or_shipped, read_yaml
from pipeline.contract import load_contract
from pipeline.indicators import sql
from pipeline.indicators.model import (AGGREGATES, BREAKDOWNS, COVERAGE_PLACES, DIRECTIONS, EVENT_BREAKDOWNS, INHERIT,
                                       PLACE_BREAKDOWNS, WHEN_NO_DATA, Baseline, Definition, Indicator,
                                       IndicatorCatalogue, KeySource, Milestone, Override, Parameter, Reference)
from pipeline.indicators.trajectory import BREAKDOWNS as TRAJECTORY_BREAKDOWNS
from pipeline.indicators.trajectory import parse_trajectory
from pipeline.warehouse import ensure_schema, stg_columns

FILE_NAME = "indicators.yaml"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
OVERRIDE_KEYS = {"programme", "district", "target", "baseline", "milestones"}
INDICATOR_KEYS = {"id", "label_de", "label_en", "description_de", "description_en", "unit", "direction",
                  "target", "applies_to", "overrides", "references", "when_no_data", "comparison",
                  "definition", "breakdowns"}
DEFINITION_KEYS = {"feed", "aggregate", "filter", "column", "high", "attendance_filter", "fallback", "plus", "places",
                   "trajectory"}
NUMERIC_TYPES = {"BIGINT", "DOUBLE"}
# What each aggregation needs and allows besides feed / aggregate / filter.
NEEDS = {"count": set(), "sum": {"column"}, "count_distinct": {"column"}, "mean": {"column"}, "reach": set(),
         "coverage": {"places"}, "trajectory": {"trajectory"}}
ALLOWS = {"count": set(), "sum": {"column", "high"}, "count_distinct": {"column"}, "mean": {"column"},
          "reach": {"attendance_filter", "fallback", "plus"}, "coverage": {"places"}, "trajectory": {"trajectory"}}


def indicators_path(catalogue: Catalogue) -> Path:
    """A catalogue folder may carry its own indicators.yaml; otherwise the shipped one holds."""
    return own_or_shipped(catalogue, FILE_NAME)


_LOADED: dict = {}


def cached_indicators(catalogue: Catalogue) -> IndicatorCatalogue:
    """`load_indicators`, read and validated once per process for this catalogue (as
    `cached_catalogue` hands out one object while its files are unchanged) and again as soon as
    indicators.yaml changes: the value, export and check steps of a run each ask for it."""
    return loaded_once(_LOADED, catalogue, indicators_path(catalogue), load_indicators)


def load_indicators(catalogue: Catalogue, path: Path | str | None = None) -> IndicatorCatalogue:
    path = Path(path) if path else indicators_path(catalogue)
    problems: list[str] = []
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise CatalogueError([f"{path.name}: erwartet eine Zuordnung mit 'indicators' / expected a mapping"])
    parameters = _parameters(data.get("parameters") or {}, path.name, problems)
    checker = _Checker(catalogue, {n: p.value for n, p in parameters.items()}, path.name, problems)
    indicators, seen = [], set()
    for i, entry in enumerate(data.get("indicators") or []):
        if not isinstance(entry, dict):
            problems.append(f"{path.name} Eintrag/entry {i + 1}: keine Zuordnung / not a mapping")
            continue
        iid = str(entry.get("id") or "")
        where = f"{path.name} indicator '{iid or i + 1}'"
        if iid in seen:
            problems.append(f"{where}: id doppelt / duplicate id")
        seen.add(iid)
        indicator = checker.indicator(entry, where)
        if indicator:
            indicators.append(indicator)
    if not indicators and not problems:
        problems.append(f"{path.name}: keine Indikatoren / no indicators")
    checker.close()
    if problems:
        raise CatalogueError(problems)
    return IndicatorCatalogue(path=str(path), indicators=tuple(indicators), parameters=parameters)


def _date(value) -> dt.date | None:
    """A date as YAML reads it (unquoted 2023-06-30) or as ISO text; None if it is neither."""
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _parameters(data: dict, file: str, problems: list[str]) -> dict[str, Parameter]:
    parameters = {}
    for name, entry in data.items():
        entry = entry if isinstance(entry, dict) else {"value": entry}
        if not _is_number(entry.get("value")):
            problems.append(f"{file} parameter '{name}': Wert muss eine Zahl sein / value must be a number")
            continue
        parameters[str(name)] = Parameter(name=str(name), value=float(entry["value"]),
                                          label_de=entry.get("label_de", ""), label_en=entry.get("label_en", ""),
                                          source=entry.get("source", ""))
    return parameters


class _Checker:
    """Validates one indicator entry at a time; holds the empty schema filters are bound against."""

    def __init__(self, catalogue: Catalogue, parameters: dict[str, float], file: str, problems: list[str]):
        self.catalogue = catalogue
        self.parameters = parameters
        self.file = file
        self.problems = problems
        self.programmes = {p.id: p for p in catalogue.programmes}
        self.con = duckdb.connect(":memory:")
        ensure_schema(self.con)

    def close(self) -> None:
        self.con.close()

    def indicator(self, entry: dict, where: str) -> Indicator | None:
        p = self.problems
        before = len(p)
        unknown = sorted(set(entry) - INDICATOR_KEYS)
        if unknown:
            p.append(f"{where}: unbekannte Angabe / unknown key: {', '.join(unknown)}")
        if not ID_PATTERN.match(str(entry.get("id") or "")):
            p.append(f"{where}: id fehlt oder ist nicht a-z0-9_ / id missing or not snake_case")
        missing = [k for k in ("label_de", "label_en", "unit", "definition") if not entry.get(k)]
        if missing:
            p.append(f"{where}: Angaben fehlen / missing: {', '.join(missing)}")
        direction = entry.get("direction")
        if direction is not None and direction not in DIRECTIONS:
            p.append(f"{where}: Richtung '{direction}' unbekannt / unknown direction (at_least, at_most)")
        when = entry.get("when_no_data", "zero")
        if when not in WHEN_NO_DATA:
            p.append(f"{where}: when_no_data '{when}' muss zero oder omit sein / must be zero or omit")
        target = self._target(entry.get("target"), direction, where)
        programmes, districts = self._scope(entry.get("applies_to") or {}, where)
        overrides = self._overrides(entry.get("overrides") or [], direction, programmes, where)
        self._milestones_fit(target, overrides, where)
        references = self._references(entry.get("references") or [], where)
        definition = self._definition(entry.get("definition"), where) if entry.get("definition") else None
        breakdowns = self._breakdowns(entry.get("breakdowns") or [], definition, where) if definition else ()
        if len(p) > before or definition is None:
            return None
        if definition.aggregate in ("mean", "trajectory"):
            # a mean of nothing is no figure, not zero; nor is a path nobody delivered (the feed is optional)
            when = "omit"
        return Indicator(
            id=entry["id"], label_de=entry["label_de"], label_en=entry["label_en"],
            description_de=entry.get("description_de", ""), description_en=entry.get("description_en", ""),
            unit=entry["unit"], direction=direction, target=target, definition=definition,
            programmes=programmes, districts=districts, overrides=overrides, references=references,
            when_no_data=when, comparison=bool(entry.get("comparison", False)), breakdowns=breakdowns)

    def _breakdowns(self, names, definition: Definition, where: str) -> tuple[str, ...]:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.problems.append(f"{where}: breakdowns muss eine Liste von Namen sein / must be a list of names")
            return ()
        for name in names:
            if definition.aggregate == "coverage":
                self.problems.append(f"{where}: eine Abdeckung zählt schon Orte und wird nicht aufgeschlüsselt / "
                                     "a coverage counts places already and has no breakdowns")
            elif name not in BREAKDOWNS:
                self.problems.append(f"{where}: Aufschlüsselung '{name}' unbekannt / unknown breakdown "
                                     f"(erlaubt / allowed: {', '.join(BREAKDOWNS)})")
            elif (definition.aggregate == "trajectory") != (name in TRAJECTORY_BREAKDOWNS) and (
                    definition.aggregate == "trajectory" or name not in sql.feed_columns(definition.feed)):
                self.problems.append(f"{where}: Aufschlüsselung '{name}' passt nicht zu / does not fit "
                                     f"{definition.aggregate} (Verläufe / trajectories: {', '.join(TRAJECTORY_BREAKDOWNS)})")
            elif definition.aggregate == "reach" and name not in EVENT_BREAKDOWNS:
                self.problems.append(f"{where}: eine Reichweite lässt sich nur nach Merkmalen der Veranstaltung "
                                     f"aufschlüsseln ({', '.join(EVENT_BREAKDOWNS)}), nicht nach '{name}': Kopfzahlen "
                                     f"haben keine / a reach breaks down only by event columns; head counts have no {name}")
            elif name in PLACE_BREAKDOWNS and definition.feed != "events":
                self.problems.append(f"{where}: nach '{name}' lassen sich nur Veranstaltungen aufschlüsseln (ihre "
                                     f"Gemeinde), nicht {definition.feed} / only events know a place (their municipality)")
            elif (definition.aggregate not in ("reach", "trajectory") and name not in PLACE_BREAKDOWNS
                  and name not in sql.feed_columns(definition.feed)):
                self.problems.append(f"{where}: Aufschlüsselung '{name}' gibt es in {definition.feed} nicht / "
                                     f"{definition.feed} has no {name}")
        if len(set(names)) != len(names):
            self.problems.append(f"{where}: Aufschlüsselung doppelt / duplicate breakdown")
        return tuple(names)

    # -- targets and where they apply ------------------------------------------------------------

    def _target(self, value, direction, where: str) -> float | None:
        if value is None:
            return None
        if not _is_number(value) or value < 0:
            self.problems.append(f"{where}: Zielwert '{value}' muss eine Zahl ≥ 0 sein / target must be a number ≥ 0")
            return None
        if direction is None:
            self.problems.append(f"{where}: Zielwert {value} ohne Richtung / target without direction "
                                 "(direction: at_least | at_most)")
        return float(value)

    def _scope(self, applies_to: dict, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        programmes = tuple(str(x) for x in applies_to.get("programmes") or [])
        districts = tuple(self._ags(x, where) for x in applies_to.get("districts") or [])
        for pid in programmes:
            if pid not in self.programmes:
                self.problems.append(f"{where}: applies_to nennt unbekanntes Programm / unknown programme '{pid}'")
        scoped = [self.programmes[x] for x in programmes if x in self.programmes] or list(self.programmes.values())
        for ags in districts:
            if ags not in self.catalogue.districts.index:
                self.problems.append(f"{where}: applies_to nennt unbekannten Landkreis / unknown district '{ags}'")
            elif not any(ags in prog.districts for prog in scoped):
                self.problems.append(f"{where}: Landkreis {ags} gehört zu keinem der Programme / "
                                     "district belongs to none of the programmes")
        return programmes, districts

    def _ags(self, value, where: str) -> str:
        # YAML reads 05766 unquoted as the octal number 3062: the key is lost, so say so plainly.
        if not isinstance(value, str):
            self.problems.append(f"{where}: AGS {value!r} in Anführungszeichen schreiben, z. B. \"05766\" / "
                                 "write the AGS in quotes")
        return str(value)

    def _overrides(self, entries: list, direction, scoped: tuple[str, ...], where: str) -> tuple[Override, ...]:
        overrides, seen = [], set()
        for entry in entries:
            if not isinstance(entry, dict):
                self.problems.append(f"{where} override: keine Zuordnung / not a mapping")
                continue
            pid, ags = str(entry.get("programme") or ""), entry.get("district")
            ags = self._ags(ags, where) if ags is not None else None
            here = f"{where} override {pid or '?'}{'/' + ags if ags else ''}"
            unknown = sorted(set(entry) - OVERRIDE_KEYS)
            if unknown:
                self.problems.append(f"{here}: unbekannte Angabe / unknown key: {', '.join(unknown)}")
            if pid not in self.programmes:
                self.problems.append(f"{here}: unbekanntes Programm / unknown programme '{pid}'")
                continue
            if scoped and pid not in scoped:
                self.problems.append(f"{here}: Indikator gilt nicht für dieses Programm / indicator does not apply")
            programme = self.programmes[pid]
            if ags is not None:
                if ags not in self.catalogue.districts.index:
                    self.problems.append(f"{here}: unbekannter Landkreis / unknown district '{ags}'")
                elif ags not in programme.districts:
                    self.problems.append(f"{here}: Landkreis {ags} gehört nicht zum Programm / not a district of it")
                elif programme.target_level == "programme":
                    self.problems.append(f"{here}: Programm setzt Ziele auf Programmebene (target_level: programme), "
                                         "kein Kreisziel möglich / targets are set for the whole programme")
            if not {"target", "baseline", "milestones"} & set(entry):
                self.problems.append(f"{here}: target, baseline oder milestones nötig / give a target (null for "
                                     "none), a baseline or milestones")
            target = self._target(entry["target"], direction, here) if "target" in entry else INHERIT
            baseline = self._baseline(entry["baseline"], here) if "baseline" in entry else None
            milestones = self._milestones(entry.get("milestones"), direction, programme, here) \
                if "milestones" in entry else ()
            if (pid, ags) in seen:
                self.problems.append(f"{here}: doppelt / duplicate override")
            seen.add((pid, ags))
            overrides.append(Override(programme=pid, district=ags, target=target, baseline=baseline,
                                      milestones=milestones))
        return tuple(overrides)

    def _milestones_fit(self, default: float | None, overrides: tuple[Override, ...], where: str) -> None:
        """Milestones lead up to the target that is due at the programme's end: one must exist, and
        no milestone may ask for more than it."""
        own = {(o.programme, o.district): o.target for o in overrides if o.target != INHERIT}
        for o in overrides:
            if not o.milestones:
                continue
            target = own.get((o.programme, o.district), own.get((o.programme, None), default))
            here = f"{where} override {o.programme}{'/' + o.district if o.district else ''} milestones"
            if target is None:
                self.problems.append(f"{here}: Meilensteine ohne Zielwert / milestones without a target")
            elif o.milestones[-1].value > target:
                self.problems.append(f"{here}: Meilenstein {o.milestones[-1].value:g} über dem Zielwert {target:g} / "
                                     "a milestone above the target")

    def _baseline(self, entry, where: str) -> Baseline | None:
        where = f"{where} baseline"
        if not isinstance(entry, dict):
            self.problems.append(f"{where}: erwartet {{value, date, source}} / expected {{value, date, source}}")
            return None
        before = len(self.problems)
        unknown = sorted(set(entry) - {"value", "date", "source"})
        if unknown:
            self.problems.append(f"{where}: unbekannte Angabe / unknown key: {', '.join(unknown)}")
        value = entry.get("value")
        if not _is_number(value) or value < 0:
            self.problems.append(f"{where}: Wert '{value}' muss eine Zahl ≥ 0 sein / value must be a number ≥ 0")
        date = _date(entry.get("date"))
        if date is None:
            self.problems.append(f"{where}: Datum '{entry.get('date')}' ist kein Datum JJJJ-MM-TT / "
                                 "date must be YYYY-MM-DD")
        if not isinstance(entry.get("source"), str) or not entry["source"].strip():
            self.problems.append(f"{where}: Quelle fehlt / source missing")
        if len(self.problems) > before:
            return None
        return Baseline(value=float(value), date=date, source=entry["source"].strip())

    def _milestones(self, entries, direction, programme, where: str) -> tuple[Milestone, ...]:
        """Cumulative values due by dates inside the programme period, rising in date and value;
        the target (given here or inherited) is due at the programme's end after the last."""
        where = f"{where} milestones"
        if not isinstance(entries, list) or not entries:
            self.problems.append(f"{where}: erwartet eine Liste von {{due, value}} / expected a list of {{due, value}}")
            return ()
        if direction != "at_least":
            self.problems.append(f"{where}: Meilensteine takten nur Ziele 'at_least' (kumulierte Werte) / milestones "
                                 "pace only at_least targets (cumulative values)")
        before = len(self.problems)
        milestones = []
        for n, entry in enumerate(entries, start=1):
            here = f"{where} #{n}"
            if not isinstance(entry, dict):
                self.problems.append(f"{here}: keine Zuordnung / not a mapping")
                continue
            unknown = sorted(set(entry) - {"due", "value", "label_de", "label_en"})
            if unknown:
                self.problems.append(f"{here}: unbekannte Angabe / unknown key: {', '.join(unknown)}")
            due, value = _date(entry.get("due")), entry.get("value")
            if due is None:
                self.problems.append(f"{here}: Fälligkeit '{entry.get('due')}' ist kein Datum JJJJ-MM-TT / "
                                     "due must be YYYY-MM-DD")
            elif not programme.start < due <= programme.end:
                self.problems.append(f"{here}: fällig {due} liegt nicht in der Laufzeit {programme.start} – "
                                     f"{programme.end} / due date outside the programme period")
            if not _is_number(value) or value < 0:
                self.problems.append(f"{here}: Wert '{value}' muss eine Zahl ≥ 0 sein / value must be a number ≥ 0")
                continue
            if due is not None:
                milestones.append(Milestone(due=due, value=float(value), label_de=str(entry.get("label_de", "")),
                                            label_en=str(entry.get("label_en", ""))))
        for earlier, later in zip(milestones, milestones[1:]):
            if later.due <= earlier.due:
                self.problems.append(f"{where}: Fälligkeiten müssen aufsteigen ({earlier.due}, {later.due}) / "
                                     "due dates must rise")
            if later.value < earlier.value:
                self.problems.append(f"{where}: kumulierte Werte dürfen nicht fallen ({earlier.value:g} → "
                                     f"{later.value:g}) / cumulative values must not fall")
        return tuple(milestones) if len(self.problems) == before else ()

    def _references(self, entries: list, where: str) -> tuple[Reference, ...]:
        references = []
        for entry in entries:
            programmes = tuple(str(x) for x in entry.get("programmes") or [])
            for pid in programmes:
                if pid not in self.programmes:
                    self.problems.append(f"{where} reference: unbekanntes Programm / unknown programme '{pid}'")
            if not entry.get("framework") or not entry.get("item"):
                self.problems.append(f"{where} reference: framework und item nötig / framework and item required")
            references.append(Reference(framework=str(entry.get("framework", "")), item=str(entry.get("item", "")),
                                        programmes=programmes))
        return tuple(references)

    # -- the declarative definition -----------------------------------------------------------

    def _definition(self, d: dict, where: str) -> Definition | None:
        p = self.problems
        where = f"{where} definition"
        if not isinstance(d, dict):
            p.append(f"{where}: keine Zuordnung / not a mapping")
            return None
        before = len(p)
        unknown = sorted(set(d) - DEFINITION_KEYS)
        if unknown:
            p.append(f"{where}: unbekannte Angabe / unknown key: {', '.join(unknown)}")
        feed, aggregate = d.get("feed"), d.get("aggregate")
        if feed not in load_contract().feeds:
            p.append(f"{where}: unbekannte Lieferung / unknown feed '{feed}' ({', '.join(sql.feeds())})")
            return None
        if aggregate not in AGGREGATES:
            p.append(f"{where}: unbekannte Aggregation / unknown aggregation '{aggregate}' ({', '.join(AGGREGATES)})")
            return None
        given = {k for k in DEFINITION_KEYS - {"feed", "aggregate", "filter"} if d.get(k) not in (None, [], "")}
        for key in sorted(NEEDS[aggregate] - given):
            p.append(f"{where}: {aggregate} braucht / needs '{key}'")
        for key in sorted(given - ALLOWS[aggregate]):
            p.append(f"{where}: '{key}' passt nicht zu / is not used by {aggregate}")
        if aggregate == "reach" and feed != "events":
            p.append(f"{where}: reach zählt über Veranstaltungen / reach needs feed events")
        if aggregate == "coverage":
            if feed != "events":
                p.append(f"{where}: coverage zählt Orte mit Veranstaltungen / coverage needs feed events")
            if d.get("places") is not None and d.get("places") not in COVERAGE_PLACES:
                p.append(f"{where}: places '{d.get('places')}' unbekannt / unknown (erlaubt / allowed: "
                         f"{', '.join(COVERAGE_PLACES)})")
        if aggregate == "trajectory" and feed != "trajectories":
            p.append(f"{where}: trajectory zählt über Verläufe / trajectory needs feed trajectories")
        trajectory = parse_trajectory(d["trajectory"], where, p) if aggregate == "trajectory" and "trajectory" in given else None
        numeric = aggregate in ("sum", "mean")
        for key in ("column", "high"):
            if d.get(key):
                self._column(feed, d[key], where, numeric=numeric)
        fallback = tuple(str(c) for c in d.get("fallback") or [])
        for column in fallback:
            self._column(feed, column, where, numeric=True)
        self._filter(feed, d.get("filter"), where)
        self._filter("attendance", d.get("attendance_filter"), f"{where} attendance_filter")
        plus = tuple(self._key_source(x, f"{where} plus") for x in d.get("plus") or [])
        if len(p) > before:
            return None
        return Definition(feed=feed, aggregate=aggregate, filter=d.get("filter"), column=d.get("column"),
                          high=d.get("high"), attendance_filter=d.get("attendance_filter"),
                          fallback=fallback, plus=plus, places=d.get("places"), trajectory=trajectory)

    def _key_source(self, entry: dict, where: str) -> KeySource | None:
        feed = entry.get("feed") if isinstance(entry, dict) else None
        if feed not in load_contract().feeds:
            self.problems.append(f"{where}: unbekannte Lieferung / unknown feed '{feed}'")
            return None
        if not entry.get("column"):
            self.problems.append(f"{where}: column fehlt / column missing")
        else:
            self._column(feed, entry["column"], where)
        self._filter(feed, entry.get("filter"), where)
        return KeySource(feed=feed, column=entry.get("column", ""), filter=entry.get("filter"))

    def _column(self, feed: str, column: str, where: str, numeric: bool = False) -> None:
        problem = column_problem(feed, column, numeric)
        if problem:
            self.problems.append(f"{where}: {problem}")

    def _filter(self, feed: str, text, where: str) -> None:
        problem = filter_problem(self.con, feed, text, self.parameters)
        if problem:
            self.problems.append(f"{where}: {problem}")


# Shared with the validation rules (pipeline/quality/rules.py), whose sides are these aggregates too.

def column_problem(feed: str, column: str, numeric: bool = False) -> str | None:
    """What is wrong with naming `column` of `feed` in a definition, or None."""
    if column not in sql.feed_columns(feed):
        return f"Spalte '{column}' gibt es in {feed} nicht / unknown column"
    types = dict(stg_columns(load_contract().feeds[feed]))
    if numeric and types.get(column) not in NUMERIC_TYPES:
        return f"Spalte '{column}' ist keine Zahl / column is not numeric"
    return None


def filter_problem(con, feed: str, text, parameters: dict[str, float]) -> str | None:
    """What is wrong with a filter over `feed`, or None: DuckDB binds it against the empty schema
    on `con` (see ensure_schema), so an unknown column or a typo is found when the file loads."""
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        return "Filter leer / empty filter"
    if sql.FORBIDDEN_SQL.search(text):
        return (f"Filter darf nur ein Ausdruck über Spalten sein (kein ;, Kommentar, "
                f"Unterabfrage) / filter must be a plain expression: {text}")
    unknown = sorted(set(sql.PLACEHOLDER.findall(text)) - set(parameters))
    if unknown:
        return f"unbekannter Parameter / unknown parameter: {', '.join(unknown)}"
    try:
        described = con.execute(sql.filter_type_sql(feed, sql.render_filter(text, parameters))).fetchall()
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0]
        return f"Filter ungültig / invalid filter `{text}`: {first}"
    if described[0][1] != "BOOLEAN":
        return f"Filter ist kein Wahrheitswert / filter is not a boolean: {text}"
    return None
