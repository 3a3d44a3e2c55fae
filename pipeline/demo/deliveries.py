"""The demo's planned deliveries: per slot, the rows of each feed as canonical values (dates, ints,
English enums); rendering into an office's format happens on writing (files.py)."""
from __future__ import annotations

import datetime as dt

import numpy as np

from pipeline.catalogue import Catalogue
from pipeline.contract import load_contract
from pipeline.demo.common import (ADVICE_TOPICS, DEFAULT_ROLE_MIX, EVENT_FIELDS, EVENT_TITLES, EVENT_TYPES,
                                  EVENT_WEIGHTS, MICRO_APPLICANTS, RECEIPT_HOUR_UTC, ROLE_MIX, ROLES, SURVEY_BASE,
                                  SURVEY_EFFECT, SURVEY_GROUP_SHARES, SURVEY_GROUP_SHIFT, SURVEY_GROUPS, SURVEY_ITEMS,
                                  SURVEY_MISSING, SURVEY_PRE_TREND, SURVEY_SD, SURVEY_TREND, qtag,
                                  stream)
from pipeline.demo.offices import (ATTENDANCE_FROM, MICRO_PROJECT_FUNDS, OPEN_EVENT_TYPES, Delivery, Office, Slot,
                                   SurveySlot, plan_slots)
from pipeline.quarters import quarter_bounds, quarter_of


def _receipt(rng: np.random.Generator, quarter: str) -> dt.datetime:
    day = quarter_bounds(quarter)[1] + dt.timedelta(days=int(rng.integers(10, 26)))
    return dt.datetime.combine(day, dt.time(RECEIPT_HOUR_UTC), tzinfo=dt.timezone.utc)


def plan_deliveries(catalogue: Catalogue, offices: dict[str, Office],
                    seed: int) -> dict[tuple[str, str], Delivery]:
    micro = _micro_projects_by_slot(catalogue, offices, seed)
    deliveries = {}
    for key, slot in plan_slots(catalogue).items():
        office = offices[slot.ags]
        year, n = int(slot.quarter[:4]), int(slot.quarter[-1])
        rng = stream(seed, int(slot.ags), year, n)
        received = _receipt(rng, slot.quarter)
        deliveries[key] = Delivery(slot.ags, slot.quarter, office.style, received,
                                   _feeds(rng, office, slot, micro.get(key, [])))
    return deliveries


def _feeds(rng: np.random.Generator, office: Office, slot: Slot, micro_projects: list[dict]) -> dict[str, list[dict]]:
    feeds: dict[str, list[dict]] = {}
    if slot.window:
        feeds["events"] = _events(rng, office, slot.quarter, slot.window)
        if slot.quarter >= ATTENDANCE_FROM.get(office.ags, "9999"):
            feeds["attendance"] = _attendance(rng, office, feeds["events"])
        feeds["advice"] = _advice(rng, office, slot.quarter, slot.window)
        feeds["newsletters"] = _newsletters(rng, office, slot.quarter, slot.window)
    if micro_projects:
        feeds["micro_projects"] = micro_projects
    for wave in slot.waves:
        feeds.setdefault("survey", []).extend(_survey(rng, office, slot.quarter, wave))
    order = list(load_contract().feeds)
    return dict(sorted(feeds.items(), key=lambda item: order.index(item[0])))


def _months(window: tuple[dt.date, dt.date]) -> list[tuple[dt.date, dt.date]]:
    months, day = [], window[0]
    while day <= window[1]:
        next_month = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        months.append((day, min(window[1], next_month - dt.timedelta(days=1))))
        day = next_month
    return months


def _random_days(rng: np.random.Generator, start: dt.date, end: dt.date, size: int) -> list[dt.date]:
    offsets = rng.integers(0, (end - start).days + 1, size=size)
    return sorted(start + dt.timedelta(days=int(o)) for o in offsets)


def _events(rng: np.random.Generator, office: Office, quarter: str, window: tuple[dt.date, dt.date]) -> list[dict]:
    days = [d for start, end in _months(window) for d in _random_days(rng, start, end, int(rng.integers(2, 6)))]
    return [draw_event(rng, office, day, f"{office.code}-{qtag(quarter)}-{i:02d}") for i, day in enumerate(days, 1)]


def draw_event(rng: np.random.Generator, office: Office, day: dt.date, event_id: str) -> dict:
    event_type = str(rng.choice(EVENT_TYPES, p=EVENT_WEIGHTS))
    total = int(rng.integers(8, 46))
    counts = [int(c) for c in rng.multinomial(total, ROLE_MIX.get(event_type, DEFAULT_ROLE_MIX))]
    open_door = event_type == "culture"  # nobody counts volunteers at a festival
    return {
        "event_id": event_id, "date": day, "event_type": event_type,
        "title": str(rng.choice(EVENT_TITLES[event_type])),
        "municipality": str(rng.choice(office.municipalities)),
        "field": str(rng.choice(EVENT_FIELDS[event_type])),
        "supra_regional": event_type == "conference" or bool(rng.random() < 0.08),
        "participants_total": total,
        "participants_volunteer": None if open_door else counts[0],
        "participants_staff": None if open_door else counts[1],
        "participants_newcomer": None if open_door else counts[2],
        "_counts": dict(zip(ROLES, counts)),  # by role, disjoint: feeds attendance and formulas
    }


def _attendance(rng: np.random.Generator, office: Office, events: list[dict]) -> list[dict]:
    rows = []
    for event in events:
        if event["event_type"] in OPEN_EVENT_TYPES:
            continue
        visitors = []
        for role, count in event["_counts"].items():
            keys, weights = office.persons[role]
            chosen = rng.choice(len(keys), size=count, replace=False, p=weights)
            visitors += [(keys[i], role) for i in chosen]
        rows += [{"event_id": event["event_id"], "person_key": key, "role": role} for key, role in sorted(visitors)]
    return rows


def _advice(rng: np.random.Generator, office: Office, quarter: str, window: tuple[dt.date, dt.date]) -> list[dict]:
    q_start, q_end = quarter_bounds(quarter)
    share = ((window[1] - window[0]).days + 1) / ((q_end - q_start).days + 1)
    count = max(2, round(int(rng.integers(5, 16)) * share))
    keys, types, weights = office.clients
    # Drawn with replacement from a weighted pool: some clients come back and keep their key.
    chosen = rng.choice(len(keys), size=count, p=weights)
    rows = []
    for i, (day, client) in enumerate(zip(_random_days(rng, *window, count), chosen), 1):
        client_type = types[client]
        duration = {"person": (30, 90), "group": (60, 120), "organisation": (45, 120)}[client_type]
        rows.append({"case_id": f"{office.code}-B{qtag(quarter)}-{i:02d}", "date": day,
                     "client_type": client_type, "client_key": keys[client],
                     "topic": str(rng.choice(ADVICE_TOPICS[client_type])),
                     "duration_min": 15 * int(rng.integers(duration[0] // 15, duration[1] // 15 + 1))})
    return rows


def _newsletters(rng: np.random.Generator, office: Office, quarter: str, window: tuple[dt.date, dt.date]) -> list[dict]:
    count = int(rng.integers(0, 3))
    # The mailing list grows over the years.
    growth = 1 + 0.04 * (int(quarter[:4]) - 2017)
    rows = []
    for i, day in enumerate(_random_days(rng, *window, count), 1):
        recipients = int(np.clip(office.newsletter_reach * growth + rng.normal(0, 15), 40, 400))
        rows.append({"issue_id": f"{office.code}-NL-{qtag(quarter)}-{i}", "sent_date": day,
                     "recipients": recipients, "title": f"Newsletter Integration {quarter} Nr. {i}"})
    return rows


def _survey(rng: np.random.Generator, office: Office, quarter: str, wave: SurveySlot) -> list[dict]:
    size = int(rng.integers(60, 91))
    # Quota sample: fixed group shares, so a wave's mean moves with the design, not the group mix.
    quota = np.floor(np.array(SURVEY_GROUP_SHARES) * size).astype(int)
    quota[0] += size - quota.sum()
    groups = rng.permutation(np.repeat(SURVEY_GROUPS, quota))
    q_start = quarter_bounds(quarter)[0]
    fieldwork = (q_start.replace(month=q_start.month + 1, day=5), q_start.replace(month=q_start.month + 1, day=25))
    days = _random_days(rng, *fieldwork, size)
    scores = {}
    for item in SURVEY_ITEMS:
        change = SURVEY_TREND[item] + (SURVEY_EFFECT[item] if wave.in_programme else 0.0)
        # before the start: the planted pre-trend, lower the more waves before the last pre-wave
        early = -SURVEY_PRE_TREND.get(item, 0.0) * wave.steps_before if wave.in_programme else 0.0
        mean = (SURVEY_BASE[item] + office.survey_shift + (change if wave.after_start else early)
                + np.array([SURVEY_GROUP_SHIFT[g][item] for g in groups]))
        # Centred noise: with ~75 answers one draw could hide or double the planted effect.
        noise = rng.normal(0, SURVEY_SD, size)
        score = np.clip(np.rint(mean + noise - noise.mean()), 1, 5).astype(int)
        unanswered = rng.random(size) < SURVEY_MISSING
        scores[item] = [None if skip else int(s) for s, skip in zip(score, unanswered)]
    tag = {"baseline": "B", "follow_up": "F"}.get(wave.wave, f"W{wave.wave}")
    prefix = f"{office.code}-S{qtag(quarter)}-{tag}"
    return [{"response_id": f"{prefix}{i + 1:03d}", "date": days[i], "wave": wave.wave, "group": str(groups[i]),
             **{item: scores[item][i] for item in SURVEY_ITEMS}} for i in range(size)]


def _micro_projects_by_slot(catalogue: Catalogue, offices: dict[str, Office],
                            seed: int) -> dict[tuple[str, str], list[dict]]:
    by_slot: dict[tuple[str, str], list[dict]] = {}
    for (programme_id, ags), fund in MICRO_PROJECT_FUNDS.items():
        if programme_id not in {p.id for p in catalogue.programmes} or ags not in offices:
            continue
        programme = catalogue.programme(programme_id)
        for project in _micro_projects(stream(seed, int(ags), 0), offices[ags], programme.start, programme.end, **fund):
            by_slot.setdefault((ags, quarter_of(project["approved_date"])), []).append(project)
    return by_slot


def _micro_projects(rng: np.random.Generator, office: Office, start: dt.date, end: dt.date,
                    projects: int, volunteers: int, newcomers_low: int, newcomers_high: int) -> list[dict]:
    """The fund's projects: `projects` funded ones matching the seed's totals (one of them over the
    cap, a compliance finding) and one withdrawn."""
    lows = rng.multinomial(newcomers_low - 30 * projects, np.full(projects, 1 / projects)) + 30
    # A few projects could only estimate their reach and report a range; the spans add up.
    spans = np.zeros(projects, dtype=int)
    spans[rng.choice(projects, size=5, replace=False)] = (newcomers_high - newcomers_low) // 5
    helpers = rng.multinomial(volunteers - 2 * projects, np.full(projects, 1 / projects)) + 2
    # Modest grants plus one above the 1,000 EUR cap; the fund stays within 10,000 EUR whatever
    # the draw (11 x 690 + 1,350 = 8,940).
    amounts = [float(a) for a in np.round(rng.uniform(380, 690, projects - 1) * 2) / 2] + [1350.0]
    days = _random_days(rng, start + dt.timedelta(days=60), end - dt.timedelta(days=60), projects + 1)
    applicants = rng.permutation(MICRO_APPLICANTS)
    categories = rng.choice(("travel", "fees", "rooms", "materials", "other"), size=projects + 1,
                            p=(0.15, 0.3, 0.15, 0.3, 0.1))
    order = rng.permutation(projects + 1)  # which date goes to which project
    rows, ranges = [], 0
    for i in range(projects):
        reached: int | str = int(lows[i])
        if spans[i]:
            reached, ranges = _range_text(int(lows[i]), int(lows[i] + spans[i]), ranges), ranges + 1
        rows.append({"amount_eur": amounts[i], "volunteers": int(helpers[i]), "newcomers_reached": reached})
    rows.append({"amount_eur": 640.0, "volunteers": 4, "newcomers_reached": 40, "status": "cancelled"})
    for row, slot in zip(rows, order):
        day = days[slot]
        row.update(approved_date=day, applicant=str(applicants[slot]), cost_category=str(categories[slot]))
        row.setdefault("status", "completed" if day.year < end.year else "approved")
    rows.sort(key=lambda r: r["approved_date"])
    for i, row in enumerate(rows, 1):
        row["project_id"] = f"{office.code}-MP-{i:02d}"
    return rows


def _range_text(low: int, high: int, nth: int) -> str:
    # Offices write ranges both ways; the contract accepts both.
    return f"{low}-{high}" if nth % 2 else f"{low} – {high}"
