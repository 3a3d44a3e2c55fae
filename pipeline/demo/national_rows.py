"""The national-scale plan and its rows: per quarter, every feed's rows for all districts at once,
drawn with numpy and held as text columns, with a sprinkle of invalid rows (NATIONAL_FAULTS) and a
few late records and corrections."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.demo.common import (ADVICE_TOPICS, EVENT_FIELDS, EVENT_TYPES, EVENT_WEIGHTS, ROLES, SURVEY_BASE,
                                  SURVEY_EFFECT, SURVEY_GROUP_SHARES, SURVEY_GROUP_SHIFT, SURVEY_GROUPS, SURVEY_ITEMS,
                                  SURVEY_MISSING, SURVEY_SD, SURVEY_TREND, qtag, stream)
from pipeline.quarters import previous_quarter, quarter_bounds, quarters_between, shift_quarter

NATIONAL_FIRST_QUARTER = "2021-Q1"
NATIONAL_PROGRAMMES = 4

NATIONAL_PERSON_POOL = 800       # pseudonyms per district; strides coprime to it keep an event's list distinct
NATIONAL_CLIENT_POOL = 200
NATIONAL_ROLE_OF = np.array([0] * 5 + [1] * 3 + [2] * 8 + [3] * 4)  # person % 20 -> role index (25/15/40/20 %)
NATIONAL_TITLES = {
    "training": ("Schulung Interkulturelle Kompetenz", "Schulung Asyl- und Aufenthaltsrecht", "Schulung Leichte Sprache"),
    "network_meeting": ("Vernetzungstreffen Ehrenamt", "Netzwerktreffen Integration"),
    "information": ("Infoabend Anerkennung von Berufsabschlüssen", "Informationsveranstaltung Ausbildung"),
    "workshop": ("Workshop Vereinsarbeit interkulturell", "Workshop Fördermittel"),
    "round_table": ("Runder Tisch Integration", "Runder Tisch Wohnen"),
    "culture": ("Lesung Ankommen auf dem Land", "Interkulturelles Fest", "Filmabend mit Gespräch"),
    "best_practice": ("Best-Practice-Treffen Patenschaften", "Praxisaustausch Mobilität"),
    "conference": ("Fachtag Integration im ländlichen Raum", "Regionalkonferenz Teilhabe"),
    "other": ("Sprachcafé", "Ausflug mit Patenfamilien"),
}
# A title an office typed with a comma: the CSV quotes it (0.5 % of events).
NATIONAL_QUOTED_TITLE = "Workshop Fördermittel, Praxisteil"

# (feed, fault, share of that feed's rows): what the quality reports will show at national scale.
NATIONAL_FAULTS = (
    ("events", "bad_date", 0.0008),            # bad_value: 31.02.YYYY
    ("events", "unknown_type", 0.0008),        # bad_enum: Stammtisch
    ("events", "negative_count", 0.0006),      # out_of_range: participants_volunteer -3
    ("events", "volunteers_exceed", 0.0006),   # inconsistent_counts
    ("events", "future_date", 0.0005),         # future_date: 10 days after the quarter
    ("events", "missing_total", 0.0005),       # bad_value: required value missing
    ("events", "duplicate_id", 0.0005),        # duplicate_id: the previous row's id again
    ("attendance", "name_pseudonym", 0.0002),  # bad_pseudonym: Anna_Schmidt
    ("attendance", "phone_pseudonym", 0.0001), # bad_pseudonym: a phone number
    ("attendance", "unknown_role", 0.0002),    # bad_enum: Gast
    ("attendance", "unknown_event", 0.0002),   # unknown_event
    ("attendance", "duplicate_person", 0.0002),  # duplicate_id: same person twice at one event
    ("attendance", "missing_role", 0.0001),    # bad_value
    ("advice", "unknown_client_type", 0.001),  # bad_enum: Privatperson
    ("advice", "bad_date", 0.0008),            # bad_value: 2023-13-01
    ("advice", "duration_in_words", 0.0008),   # bad_value: eine Stunde
    ("newsletters", "recipients_in_words", 0.01),  # bad_value: ca. 200
    ("micro_projects", "negative_amount", 0.005),  # out_of_range
    ("micro_projects", "unknown_category", 0.005),  # bad_enum: Catering
    ("survey", "score_out_of_scale", 0.001),   # out_of_range: belonging 7
    ("survey", "unknown_wave", 0.0005),        # bad_enum: Zwischenbefragung
)

# Faults that put one fixed text into one column: fault -> (column, text).
NATIONAL_CONSTANT_FAULTS = {
    "unknown_type": ("event_type", "Stammtisch"), "negative_count": ("participants_volunteer", "-3"),
    "missing_total": ("participants_total", ""), "name_pseudonym": ("person_key", "Anna_Schmidt"),
    "phone_pseudonym": ("person_key", "01701234567"), "unknown_role": ("role", "Gast"), "missing_role": ("role", ""),
    "unknown_client_type": ("client_type", "Privatperson"), "duration_in_words": ("duration_min", "eine Stunde"),
    "recipients_in_words": ("recipients", "ca. 200"), "negative_amount": ("amount_eur", "-50.00"),
    "unknown_category": ("cost_category", "Catering"), "score_out_of_scale": ("belonging", "7"),
    "unknown_wave": ("wave", "Zwischenbefragung"),
}


@dataclass(frozen=True)
class NationalPlan:
    districts: tuple[str, ...]      # programme districts
    comparison: tuple[str, ...]     # comparison districts (survey only)
    quarters: tuple[str, ...]
    programmes: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # (id, districts, comparison)


def national_plan(districts: int = 400, quarters: int = 20, first_quarter: str = NATIONAL_FIRST_QUARTER) -> NationalPlan:
    if not 1 <= districts <= 8999 or quarters < 1:
        raise ValueError("districts must be 1…8999 and quarters ≥ 1")
    ags = tuple(f"{90001 + i}" for i in range(districts))
    comparison = tuple(f"{99001 + i}" for i in range(max(NATIONAL_PROGRAMMES, districts // 10)))
    qs = quarters_between(first_quarter, shift_quarter(first_quarter, quarters - 1))
    count = min(NATIONAL_PROGRAMMES, districts)
    programmes = tuple((f"national-{n + 1}", tuple(np.array_split(np.array(ags), count)[n].tolist()),
                        tuple(np.array_split(np.array(comparison), count)[n].tolist())) for n in range(count))
    return NationalPlan(ags, comparison, tuple(qs), programmes)


class Rows:
    """One feed's rows of one quarter (all districts): text columns, and which district each row is."""

    def __init__(self, district: np.ndarray, columns: dict[str, np.ndarray]):
        self.district = district
        self.columns = columns
        self.n = len(district)

    def set(self, column: str, rows: np.ndarray, values) -> None:
        if len(rows):
            self.columns[column][rows] = values


def strings(values) -> np.ndarray:
    return np.asarray(values, dtype=object)


def _fmt_int(values: np.ndarray) -> np.ndarray:
    return strings([str(v) for v in values.tolist()])


def _days(rng: np.random.Generator, quarter: str, size: int, start_offset: int = 0, span: int | None = None) -> np.ndarray:
    start, end = quarter_bounds(quarter)
    days = (end - start).days + 1 - start_offset if span is None else span
    return np.datetime64(start) + start_offset + rng.integers(0, days, size=size)


def _iso(days: np.ndarray) -> np.ndarray:
    return strings(np.datetime_as_string(days, unit="D").tolist())


def _sequence(counts: np.ndarray) -> np.ndarray:
    """1..count for each group, concatenated."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts, counts) + 1


def _sorted_days(rng, quarter: str, district: np.ndarray) -> np.ndarray:
    days = _days(rng, quarter, len(district))
    return days[np.lexsort((days, district))]


def national_quarter_rows(plan: NationalPlan, n: int, quarter: str, seed: int) -> dict[str, Rows]:
    rng = stream(seed, 7, n + 1)
    tag = qtag(quarter)
    ags = np.array(plan.districts, dtype=object)
    nd = len(ags)
    feeds: dict[str, Rows] = {}

    # events
    per = rng.integers(36, 45, size=nd)
    district = np.repeat(np.arange(nd), per)
    seq = _sequence(per)
    ne = len(district)
    types = rng.choice(len(EVENT_TYPES), size=ne, p=EVENT_WEIGHTS)
    total = rng.integers(15, 36, size=ne)
    event_id = "E" + ags[district] + f"-{tag}-" + strings([f"{s:03d}" for s in seq.tolist()])
    titles = strings([NATIONAL_TITLES[EVENT_TYPES[t]][k % len(NATIONAL_TITLES[EVENT_TYPES[t]])]
                       for t, k in zip(types.tolist(), rng.integers(0, 6, size=ne).tolist())])
    titles[rng.random(ne) < 0.005] = NATIONAL_QUOTED_TITLE
    fields = strings([EVENT_FIELDS[EVENT_TYPES[t]][0] for t in types.tolist()])

    # attendance: every event keeps a list; persons drawn with a stride coprime to the pool
    ea = np.repeat(np.arange(ne), total)
    j = _sequence(total) - 1
    strides = np.array([s for s in range(7, 400) if np.gcd(s, NATIONAL_PERSON_POOL) == 1])
    offset = rng.integers(0, NATIONAL_PERSON_POOL, size=ne)
    stride = rng.choice(strides, size=ne)
    person = (offset[ea] + j * stride[ea]) % NATIONAL_PERSON_POOL
    role = NATIONAL_ROLE_OF[person % 20]
    by_role = np.bincount(ea * 4 + role, minlength=ne * 4).reshape(ne, 4)
    person_key = ("P" + ags[district[ea]] + "-" + strings([f"{p:04d}" for p in person.tolist()]))
    feeds["attendance"] = Rows(district[ea], {
        "event_id": event_id[ea].copy(), "person_key": person_key, "role": strings(np.array(ROLES)[role])})

    days = _sorted_days(rng, quarter, district)
    feeds["events"] = Rows(district, {
        "event_id": event_id, "date": _iso(days), "event_type": strings(np.array(EVENT_TYPES)[types]),
        "title": titles, "municipality": "Gemeinde " + _fmt_int(rng.integers(1, 25, size=ne)),
        "field": fields, "supra_regional": strings(np.where(rng.random(ne) < 0.08, "true", "false")),
        "participants_total": _fmt_int(total), "participants_volunteer": _fmt_int(by_role[:, 0]),
        "participants_staff": _fmt_int(by_role[:, 1]), "participants_newcomer": _fmt_int(by_role[:, 2]),
        "notes": strings(np.where(rng.random(ne) < 0.1, "mit Dolmetschung", ""))})

    # advice
    per = rng.integers(50, 71, size=nd)
    district = np.repeat(np.arange(nd), per)
    na = len(district)
    client = np.floor(NATIONAL_CLIENT_POOL * rng.random(na) ** 2).astype(int)  # regulars come back
    kind = np.array(["person"] * 7 + ["group"] * 2 + ["organisation"])[client % 10]
    topics = strings([ADVICE_TOPICS[k][i % len(ADVICE_TOPICS[k])] for k, i in
                       zip(kind.tolist(), rng.integers(0, 6, size=na).tolist())])
    feeds["advice"] = Rows(district, {
        "case_id": "B" + ags[district] + f"-{tag}-" + strings([f"{s:03d}" for s in _sequence(per).tolist()]),
        "date": _iso(_sorted_days(rng, quarter, district)), "client_type": strings(kind),
        "client_key": "C" + ags[district] + "-" + strings([f"{c:03d}" for c in client.tolist()]),
        "topic": topics, "duration_min": _fmt_int(15 * rng.integers(2, 9, size=na))})

    # newsletters
    per = rng.integers(1, 4, size=nd)
    district = np.repeat(np.arange(nd), per)
    nn = len(district)
    seq = _sequence(per)
    feeds["newsletters"] = Rows(district, {
        "issue_id": "N" + ags[district] + f"-{tag}-" + _fmt_int(seq),
        "sent_date": _iso(_sorted_days(rng, quarter, district)),
        "recipients": _fmt_int(rng.integers(60, 400, size=nn)),
        "title": f"Newsletter Integration {quarter} Nr. " + _fmt_int(seq)})

    # micro-projects
    per = rng.integers(2, 5, size=nd)
    district = np.repeat(np.arange(nd), per)
    nm = len(district)
    low = rng.integers(5, 60, size=nm)
    reached = _fmt_int(low)
    ranged = rng.random(nm) < 0.1
    reached[ranged] = strings([f"{a}-{a + 10}" if i % 2 else f"{a} – {a + 10}"
                                for i, a in enumerate(low[ranged].tolist())])
    feeds["micro_projects"] = Rows(district, {
        "project_id": "M" + ags[district] + f"-{tag}-" + _fmt_int(_sequence(per)),
        "applicant": "Verein " + _fmt_int(rng.integers(1, 60, size=nm)) + " e.V.",
        "approved_date": _iso(_sorted_days(rng, quarter, district)),
        "amount_eur": strings([f"{a:.2f}" for a in (np.round(rng.uniform(200, 1000, nm) * 2) / 2).tolist()]),
        "cost_category": strings(np.array(("travel", "fees", "rooms", "materials", "other"))[
            rng.choice(5, size=nm, p=(0.15, 0.3, 0.15, 0.3, 0.1))]),
        "volunteers": _fmt_int(rng.integers(1, 13, size=nm)), "newcomers_reached": reached,
        "status": strings(np.array(("approved", "completed", "cancelled"))[
            rng.choice(3, size=nm, p=(0.45, 0.5, 0.05))])})

    # survey: programme and comparison districts; baseline in the first half, follow-up after
    everyone = np.array(plan.districts + plan.comparison, dtype=object)
    per = rng.integers(40, 61, size=len(everyone))
    district = np.repeat(np.arange(len(everyone)), per)
    ns = len(district)
    follow_up = n >= len(plan.quarters) / 2
    in_programme = district < nd
    group = rng.choice(3, size=ns, p=SURVEY_GROUP_SHARES)
    columns = {"response_id": "S" + everyone[district] + f"-{tag}-" + strings([f"{s:03d}" for s in _sequence(per).tolist()]),
               "date": _iso(_sorted_days(rng, quarter, district)),
               "wave": strings(np.full(ns, "follow_up" if follow_up else "baseline")),
               "group": strings(np.array(SURVEY_GROUPS)[group])}
    for item in SURVEY_ITEMS:
        shift = np.array([SURVEY_GROUP_SHIFT[g][item] for g in SURVEY_GROUPS])[group]
        change = (SURVEY_TREND[item] + SURVEY_EFFECT[item] * in_programme) if follow_up else 0.0
        score = np.clip(np.rint(SURVEY_BASE[item] + shift + change + rng.normal(0, SURVEY_SD, ns)), 1, 5).astype(int)
        text = _fmt_int(score)
        text[rng.random(ns) < SURVEY_MISSING] = ""
        columns[item] = text
    feeds["survey"] = Rows(district, columns)

    _plant_national_faults(rng, feeds, quarter, n, plan)
    return feeds


def _plant_national_faults(rng, feeds: dict[str, Rows], quarter: str, n: int, plan: NationalPlan) -> None:
    year = quarter[:4]
    after = np.datetime64(quarter_bounds(quarter)[1]) + 10
    for feed, fault, share in NATIONAL_FAULTS:
        rows = feeds[feed]
        hit = np.flatnonzero(rng.random(rows.n) < share)
        hit = hit[hit > 0]
        if fault in ("duplicate_id", "duplicate_person"):
            same = rows.district[hit] == rows.district[hit - 1]
            if fault == "duplicate_person":
                same &= rows.columns["event_id"][hit] == rows.columns["event_id"][hit - 1]
            hit = hit[same]
        c = rows.columns
        if fault in NATIONAL_CONSTANT_FAULTS:
            column, text = NATIONAL_CONSTANT_FAULTS[fault]
            rows.set(column, hit, text)
            continue
        match fault:
            case "bad_date":
                rows.set("date", hit, f"31.02.{year}" if feed == "events" else f"{year}-13-01")
            case "volunteers_exceed":
                rows.set("participants_volunteer", hit, _fmt_int(np.array([int(t) + 4 for t in c["participants_total"][hit]], dtype=int)))
            case "future_date":
                rows.set("date", hit, str(after))
            case "duplicate_id":
                rows.set("event_id", hit, c["event_id"][hit - 1])
            case "unknown_event":
                rows.set("event_id", hit, strings([e.rsplit("-", 1)[0] + "-999" for e in c["event_id"][hit]]))
            case "duplicate_person":
                rows.set("person_key", hit, c["person_key"][hit - 1])


def national_extras(feeds: dict[str, Rows], n: int, quarter: str, plan: NationalPlan) -> None:
    """Late records and corrections: offices that report last quarter's event only now (no list
    kept), or resend last quarter's third event recounted. Both go at the end of the events file."""
    if n == 0:
        return
    previous = qtag(previous_quarter(quarter))
    q_start = np.datetime64(quarter_bounds(quarter)[0])
    events = feeds["events"]
    first = np.flatnonzero(np.r_[True, events.district[1:] != events.district[:-1]])
    late = first[(events.district[first] % 25) == 5]
    fixed = first[(events.district[first] % 30) == 9]
    source = np.r_[late, fixed]
    ags = np.array(plan.districts, dtype=object)[events.district[source]]
    extra = {name: values[source].copy() for name, values in events.columns.items()}
    extra["event_id"] = "E" + ags + f"-{previous}-" + strings(["L01"] * len(late) + ["003"] * len(fixed))
    extra["date"] = strings([str(q_start - 2)] * len(late) + [str(q_start - 20)] * len(fixed))
    total = np.array([int(t) if t else 0 for t in extra["participants_total"].tolist()], dtype=int)
    extra["participants_total"] = _fmt_int(total + 2)
    events.columns = {name: np.concatenate([values, extra[name]]) for name, values in events.columns.items()}
    events.district = np.concatenate([events.district, events.district[source]])
    events.n = len(events.district)
