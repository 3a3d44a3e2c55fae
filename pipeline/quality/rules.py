"""Validation rules and outlier settings as catalogue data (rules.yaml), validated on load.

Like the indicator catalogue, every problem is collected and raised as one CatalogueError naming
the file, the rule and what is wrong; filters are bound by DuckDB against the empty schema. The
rules become SQL in `compile.py`; nothing here knows the warehouse's contents.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from pathlib import Path

import duckdb

from pipeline.catalogue import Catalogue, CatalogueError, loaded_once, own_or_shipped, read_yaml
from pipeline.contract import load_contract
from pipeline.indicators.loader import ID_PATTERN, cached_indicators, column_problem, filter_problem
from pipeline.warehouse import ensure_schema

FILE_NAME = "rules.yaml"
LEVELS = ("record", "event", "delivery", "district_quarter")
OPERATORS = ("<=", "<", "==", ">=", ">", "!=")
SEVERITIES = ("warning", "reject")
CODES = ("rule_violation", "over_cap")
AGGREGATES = ("count", "sum", "count_distinct", "value", "previous")
# Per level: which aggregates a side may use (record: the row itself; the others: over records).
LEVEL_AGGREGATES = {"record": ("value", "previous"), "event": ("count", "sum", "count_distinct"),
                    "delivery": ("count", "sum", "count_distinct"), "district_quarter": ("count", "sum", "count_distinct")}
EVENT_FEEDS = ("events", "attendance")  # the feeds that know an event_id
RULE_KEYS = {"id", "level", "report_on", "column", "left", "operator", "right", "severity", "code", "programmes",
             "filter", "message_de", "message_en"}
SIDE_KEYS = {"feed", "aggregate", "column", "filter", "order_by", "parameter", "constant", "factor"}
MEASURE_KEYS = {"id", "feed", "per", "column", "filter", "label_de", "label_en"}


@dataclass(frozen=True)
class Side:
    aggregate: str | None = None       # None: a parameter or constant
    feed: str | None = None
    column: str | None = None
    filter: str | None = None
    order_by: tuple[str, ...] = ()
    number: float | None = None        # the constant, or the parameter's value
    parameter: str | None = None
    factor: float = 1.0

    @property
    def counts(self) -> bool:
        """A count of no records is 0; a sum of no given value is empty (no finding)."""
        return self.aggregate in ("count", "count_distinct")


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    report_on: str
    left: Side
    operator: str
    right: Side
    message_de: str
    message_en: str
    column: str | None = None
    severity: str = "warning"
    code: str = "rule_violation"
    programmes: tuple[str, ...] = ()
    filter: str | None = None


@dataclass(frozen=True)
class Measure:
    id: str
    feed: str
    per: str                           # quarter: count of records; record: the column's value
    label_de: str
    label_en: str
    column: str | None = None
    filter: str | None = None


@dataclass(frozen=True)
class RuleCatalogue:
    path: str
    rules: tuple[Rule, ...]
    measures: tuple[Measure, ...]
    threshold: float = 3.5
    min_references: int = 4

    def rejecting(self, feed: str) -> list[Rule]:
        """The rules whose violations reject rows of `feed` while it is staged."""
        return [r for r in self.rules if r.severity == "reject" and r.report_on == feed]


def rules_path(catalogue: Catalogue) -> Path:
    return own_or_shipped(catalogue, FILE_NAME)


_LOADED: dict = {}


def cached_rules(catalogue: Catalogue) -> RuleCatalogue:
    """`load_rules`, once per process while rules.yaml (and the catalogue object) are unchanged."""
    return loaded_once(_LOADED, catalogue, rules_path(catalogue), load_rules)


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def load_rules(catalogue: Catalogue, path: Path | str | None = None) -> RuleCatalogue:
    path = Path(path) if path else rules_path(catalogue)
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise CatalogueError([f"{path.name}: erwartet eine Zuordnung mit 'rules' / expected a mapping"])
    if not isinstance(data.get("rules") or [], list) or not isinstance(data.get("outliers") or {}, dict):
        raise CatalogueError([f"{path.name}: 'rules' muss eine Liste, 'outliers' eine Zuordnung sein / "
                              "'rules' must be a list, 'outliers' a mapping"])
    checker = _Checker(catalogue, path.name)
    try:
        rules, seen = [], set()
        for i, entry in enumerate(data.get("rules") or []):
            rid = str(entry.get("id") or "") if isinstance(entry, dict) else ""
            where = f"{path.name} rule '{rid or i + 1}'"
            if rid in seen:
                checker.problems.append(f"{where}: id doppelt / duplicate id")
            seen.add(rid)
            rule = checker.rule(entry, where)
            if rule:
                rules.append(rule)
        outliers = data.get("outliers") or {}
        threshold, minimum, measures = checker.outliers(outliers, f"{path.name} outliers")
    finally:
        checker.con.close()
    if checker.problems:
        raise CatalogueError(checker.problems)
    return RuleCatalogue(path=str(path), rules=tuple(rules), measures=measures, threshold=threshold,
                         min_references=minimum)


class _Checker:
    def __init__(self, catalogue: Catalogue, file: str):
        self.catalogue = catalogue
        self.file = file
        self.problems: list[str] = []
        self.parameters = {n: p.value for n, p in cached_indicators(catalogue).parameters.items()}
        self.feeds = list(load_contract().feeds)
        self.con = duckdb.connect(":memory:")
        ensure_schema(self.con)

    def _problem(self, where: str, text: str | None) -> None:
        if text:
            self.problems.append(f"{where}: {text}")

    def _unknown_keys(self, entry: dict, allowed: set[str], where: str) -> None:
        unknown = sorted(set(entry) - allowed)
        if unknown:
            self.problems.append(f"{where}: unbekannte Angabe / unknown key: {', '.join(unknown)}")

    def _choice(self, value, allowed, what: str, where: str) -> bool:
        if value not in allowed:
            self.problems.append(f"{where}: {what} '{value}' unbekannt / unknown (erlaubt / allowed: "
                                 f"{', '.join(allowed)})")
            return False
        return True

    def rule(self, entry, where: str) -> Rule | None:
        if not isinstance(entry, dict):
            self.problems.append(f"{where}: keine Zuordnung / not a mapping")
            return None
        self._unknown_keys(entry, RULE_KEYS, where)
        missing = [k for k in ("id", "level", "report_on", "left", "operator", "right", "message_de", "message_en")
                   if entry.get(k) in (None, "")]
        if missing:
            self.problems.append(f"{where}: Angaben fehlen / missing: {', '.join(missing)}")
            return None
        if not ID_PATTERN.match(str(entry["id"])):
            self.problems.append(f"{where}: id nur a-z, 0-9, _ / id must be lower-case a-z, 0-9, _")
        ok = self._choice(entry["level"], LEVELS, "level", where)
        ok &= self._choice(entry["report_on"], self.feeds, "report_on", where)
        ok &= self._choice(entry["operator"], OPERATORS, "operator", where)
        severity, code = entry.get("severity", "warning"), entry.get("code", "rule_violation")
        ok &= self._choice(severity, SEVERITIES, "severity", where)
        ok &= self._choice(code, CODES, "code", where)
        if not ok:
            return None
        level, report_on = entry["level"], entry["report_on"]
        if level == "event" and report_on not in EVENT_FEEDS:
            self.problems.append(f"{where}: level event braucht report_on events oder attendance / "
                                 "level event needs report_on events or attendance")
        if level == "district_quarter" and report_on == "attendance":
            self.problems.append(f"{where}: Teilnahmen haben kein eigenes Datum / attendance has no date of its own")
        if entry.get("column"):
            self._problem(where, column_problem(report_on, entry["column"]))
        programmes = tuple(str(p) for p in entry.get("programmes") or [])
        known = {p.id for p in self.catalogue.programmes}
        for pid in programmes:
            if pid not in known:
                self.problems.append(f"{where}: Programm '{pid}' unbekannt / unknown programme")
        if programmes and level not in ("record", "event"):
            self.problems.append(f"{where}: programmes nur bei level record oder event / only for level record or event")
        self._problem(where, filter_problem(self.con, report_on, entry.get("filter"), self.parameters))
        left = self.side(entry["left"], level, report_on, f"{where} left")
        right = self.side(entry["right"], level, report_on, f"{where} right")
        if severity == "reject":
            # Rejecting happens while one sheet is staged, from that row alone: a side over other
            # records (an aggregate, a previous record) would make a row's fate depend on files
            # staged at another time.
            if level != "record" or any(s and s.aggregate == "previous" for s in (left, right)):
                self.problems.append(f"{where}: severity reject nur für level record mit value, parameter oder "
                                     "constant / reject only for level record with value, parameter or constant sides")
        for lang in ("de", "en"):
            text = str(entry[f"message_{lang}"])
            try:
                text.format(left="1", right="2")
            except (KeyError, IndexError, ValueError):
                self.problems.append(f"{where}: message_{lang} darf nur {{left}} und {{right}} einsetzen / "
                                     "may only insert {left} and {right}")
        if left is None or right is None:
            return None
        return Rule(id=str(entry["id"]), level=level, report_on=report_on, left=left, operator=entry["operator"],
                    right=right, message_de=str(entry["message_de"]), message_en=str(entry["message_en"]),
                    column=entry.get("column"), severity=severity, code=code, programmes=programmes,
                    filter=entry.get("filter"))

    def side(self, entry, level: str, report_on: str, where: str) -> Side | None:
        if not isinstance(entry, dict):
            self.problems.append(f"{where}: keine Zuordnung / not a mapping")
            return None
        self._unknown_keys(entry, SIDE_KEYS, where)
        factor = entry.get("factor", 1)
        if not _number(factor):
            self.problems.append(f"{where}: factor muss eine Zahl sein / factor must be a number")
            factor = 1
        if "parameter" in entry:
            if entry["parameter"] not in self.parameters:
                self.problems.append(f"{where}: Parameter '{entry['parameter']}' fehlt in indicators.yaml / "
                                     "unknown parameter")
                return None
            return Side(parameter=entry["parameter"], number=self.parameters[entry["parameter"]], factor=float(factor))
        if "constant" in entry:
            if not _number(entry["constant"]):
                self.problems.append(f"{where}: constant muss eine Zahl sein / constant must be a number")
                return None
            return Side(number=float(entry["constant"]), factor=float(factor))
        aggregate = entry.get("aggregate")
        if not self._choice(aggregate, LEVEL_AGGREGATES[level], f"aggregate (level {level})", where):
            return None
        feed = entry.get("feed", report_on)
        if not self._choice(feed, self.feeds, "feed", where):
            return None
        if level == "record" and feed != report_on:
            self.problems.append(f"{where}: level record vergleicht nur Spalten von {report_on} / compares only "
                                 f"columns of {report_on}")
        if level == "event" and feed not in EVENT_FEEDS:
            self.problems.append(f"{where}: level event zählt nur events oder attendance / counts only events or "
                                 "attendance")
        if level == "district_quarter" and feed == "attendance":
            self.problems.append(f"{where}: Teilnahmen haben kein eigenes Datum / attendance has no date of its own")
        column = entry.get("column")
        if aggregate != "count":
            if not column:
                self.problems.append(f"{where}: column fehlt / column missing")
                return None
            self._problem(where, column_problem(feed, column, numeric=aggregate in ("sum", "value", "previous")))
        order_by = entry.get("order_by") or []
        order_by = [order_by] if isinstance(order_by, str) else list(order_by)
        if aggregate == "previous":
            if not order_by:
                self.problems.append(f"{where}: order_by fehlt / order_by missing (which record is the previous one)")
            for name in order_by:
                self._problem(where, column_problem(feed, name))
        self._problem(where, filter_problem(self.con, feed, entry.get("filter"), self.parameters))
        return Side(aggregate=aggregate, feed=feed, column=column, filter=entry.get("filter"),
                    order_by=tuple(order_by), factor=float(factor))

    def outliers(self, data, where: str) -> tuple[float, int, tuple[Measure, ...]]:
        if not isinstance(data, dict):
            self.problems.append(f"{where}: keine Zuordnung / not a mapping")
            return 3.5, 4, ()
        threshold, minimum = data.get("threshold", 3.5), data.get("min_references", 4)
        if not _number(threshold) or threshold <= 0:
            self.problems.append(f"{where}: threshold muss eine Zahl > 0 sein / must be a number > 0")
            threshold = 3.5
        if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 2:
            self.problems.append(f"{where}: min_references muss eine ganze Zahl ≥ 2 sein / must be a whole number ≥ 2")
            minimum = 4
        measures, seen = [], set()
        for i, entry in enumerate(data.get("measures") or []):
            mid = str(entry.get("id") or "") if isinstance(entry, dict) else ""
            at = f"{where} measure '{mid or i + 1}'"
            if not isinstance(entry, dict) or not mid:
                self.problems.append(f"{at}: keine Zuordnung mit id / not a mapping with an id")
                continue
            if mid in seen:
                self.problems.append(f"{at}: id doppelt / duplicate id")
            seen.add(mid)
            self._unknown_keys(entry, MEASURE_KEYS, at)
            feed, per = entry.get("feed"), entry.get("per")
            if not self._choice(feed, [f for f in self.feeds if f != "attendance"], "feed", at):
                continue
            if not self._choice(per, ("quarter", "record"), "per", at):
                continue
            if per == "record":
                if not entry.get("column"):
                    self.problems.append(f"{at}: column fehlt / column missing")
                    continue
                self._problem(at, column_problem(feed, entry["column"], numeric=True))
            self._problem(at, filter_problem(self.con, feed, entry.get("filter"), self.parameters))
            measures.append(Measure(id=mid, feed=feed, per=per, column=entry.get("column"), filter=entry.get("filter"),
                                    label_de=str(entry.get("label_de", mid)), label_en=str(entry.get("label_en", mid))))
        return float(threshold), int(minimum), tuple(measures)
