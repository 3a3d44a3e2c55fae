"""Demo trajectories (delivery contract feed `trajectories`): individual integration paths of
newcomers, drawn vectorised with numpy for all persons of a district at once, for the demo's lzz-1
and lzz-2 districts and for every national programme district.

A person arrives in the district (up to two years before the programme starts, until shortly
before it ends) and is first recorded a few months later, then every three to seven months until
the programme ends or they drop out (a quarter of them leave early). Language levels start low and
rise by a CEFR step with a person-specific pace; an integration course is attended while the level
is below B1 in the first year and a half, a job-related language course later; employment and
vocational training grow with time since arrival and with the level. A few rows come a quarter late.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from pipeline.demo.common import stream
from pipeline.indicators.trajectory import LEVELS

# Share of persons at each starting level (none, A1, A2, B1, B2).
START_LEVELS = np.array([0.36, 0.30, 0.20, 0.10, 0.04])
ADVICE_SERVICES = np.array(["migration_advice", "youth_migration_service", "jobcentre", "other", "none"])
ADVICE_WEIGHTS = np.array([0.35, 0.1, 0.3, 0.05, 0.2])
DROP_OUT = 0.25          # leave the monitoring early (move away, no consent any more)
LATE_SHARE = 0.05        # rows reported a quarter later than their date
EPOCH = dt.date(1970, 1, 1)


def _months_to_date(months: np.ndarray) -> np.ndarray:
    """Months since 1970-01 -> numpy datetime64[D] of the month's first day."""
    return months.astype("datetime64[M]").astype("datetime64[D]")


def draw_paths(rng: np.random.Generator, persons: int, start: dt.date, end: dt.date,
               code: str = "") -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Observations of `persons` newcomers within [start, end]: (person number, observation
    number, columns observation_id, person_key (`code`-V…, `code`-T…), date (datetime64[D]),
    arrival_month ('YYYY-MM'), language_level, course, activity, advice_service); one row per
    observation, ordered by person and date."""
    first_month = (start.year - 1970) * 12 + start.month - 1
    last_month = (end.year - 1970) * 12 + end.month - 1
    arrival = rng.integers(first_month - 24, last_month - 2, size=persons)
    # First record 1–5 months after arrival, not before the programme (earlier arrivals are
    # recorded when the monitoring starts).
    first = np.maximum(arrival + rng.integers(1, 6, size=persons), first_month)
    count = rng.integers(1, 9, size=persons)
    count = np.where(rng.random(persons) < DROP_OUT, np.minimum(count, rng.integers(1, 3, size=persons)), count)
    person = np.repeat(np.arange(persons), count)
    step = np.ones(len(person), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    gaps = rng.integers(3, 8, size=len(person))
    gaps[starts] = 0
    within = np.arange(len(person)) - np.repeat(starts, count)   # 0 for a person's first observation
    month = np.repeat(first, count) + _group_cumsum(gaps, starts, count)
    day = _months_to_date(month) + rng.integers(0, 28, size=len(person)).astype("timedelta64[D]")
    keep = day <= np.datetime64(end)
    # Language: a start level, then per observation a step up with the person's pace.
    level0 = rng.choice(len(START_LEVELS), size=persons, p=START_LEVELS)
    pace = rng.uniform(0.15, 0.6, size=persons)
    up = (rng.random(len(person)) < pace[person]) & (within > 0)
    level = np.minimum(level0[person] + _group_cumsum(up.astype(np.int64) * step, starts, count), len(LEVELS) - 1)
    since = month - arrival[person]
    course = np.full(len(person), "none", dtype=object)
    integration = (level < 3) & (since <= 18) & (rng.random(len(person)) < 0.7)
    job_language = ~integration & (level >= 2) & (since > 9) & (rng.random(len(person)) < 0.35)
    other = ~integration & ~job_language & (rng.random(len(person)) < 0.05)
    course[integration], course[job_language], course[other] = "integration_course", "job_language_course", "other_course"
    # Work: more likely with time and language; some in school or vocational training.
    p_work = 1 / (1 + np.exp(-(since - 20) / 6 - (level - 2) * 0.6))
    draw = rng.random(len(person))
    activity = np.where(draw < p_work * 0.75, "employed", np.where(draw < p_work, "vocational_training",
                        np.where(draw < p_work + 0.1, "school", np.where(draw < 0.95, "job_seeking", "other"))))
    advice = rng.choice(ADVICE_SERVICES, size=len(person), p=ADVICE_WEIGHTS)
    arrival_text = np.array([f"{1970 + m // 12}-{m % 12 + 1:02d}" for m in range(arrival.min(), arrival.max() + 1)],
                            dtype=object)[arrival - arrival.min()]
    number = np.arange(len(person))
    return person[keep], number[keep], {
        "observation_id": np.char.add(f"{code}-V", np.char.zfill(number.astype(str), 5))[keep].astype(object),
        "person_key": np.char.add(f"{code}-T", np.char.zfill(person.astype(str), 4))[keep].astype(object),
        "date": day[keep],
        "arrival_month": arrival_text[person][keep],
        "language_level": np.array(LEVELS, dtype=object)[level][keep],
        "course": course[keep],
        "activity": activity[keep].astype(object),
        "advice_service": advice[keep].astype(object),
    }


def _group_cumsum(values: np.ndarray, starts: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Running sum of `values` within each person's run of rows (runs given by start and length)."""
    total = np.cumsum(values)
    before = np.repeat(total[starts] - values[starts], count)
    return total - before


def delivery_quarters(rng: np.random.Generator, dates: np.ndarray) -> np.ndarray:
    """The quarter each row is delivered in: its own, or (LATE_SHARE of rows) the next one."""
    months = dates.astype("datetime64[M]").astype(np.int64)
    late = rng.random(len(dates)) < LATE_SHARE
    index = months // 3 + late   # quarters since 1970-Q1
    return np.char.add(np.char.add((1970 + index // 4).astype(str), "-Q"), (index % 4 + 1).astype(str)).astype(object)


def demo_paths(seed: int, ags: str, code: str, start: dt.date, end: dt.date, persons: int) -> dict[str, list[dict]]:
    """A district's observations as the demo's rows (canonical values), per delivery quarter."""
    rng = stream(seed, int(ags), 77)
    _, _, columns = draw_paths(rng, persons, start, end, code)
    quarters = delivery_quarters(rng, columns["date"])
    dates = columns["date"].astype(dt.date)
    by_quarter: dict[str, list[dict]] = {}
    for n, quarter in enumerate(quarters):
        row = {name: values[n] for name, values in columns.items()}
        row["date"] = dates[n]
        by_quarter.setdefault(quarter, []).append(row)
    return by_quarter


# The demo's districts with an individual monitoring: those of these programmes, a few hundred
# newcomers each (the six KiIM pilot districts of seed 002 are of this size).
DEMO_PROGRAMMES = ("lzz-1", "lzz-2")
DEMO_PERSONS = (220, 360)


def add_demo_trajectories(deliveries: dict, catalogue, offices: dict, seed: int) -> None:
    """Put each lzz-1 / lzz-2 district's observations into its deliveries (a late row whose next
    quarter has no delivery stays in its own), with four invalid rows in its first delivery."""
    for programme in (p for p in catalogue.programmes if p.id in DEMO_PROGRAMMES):
        for ags in programme.districts:
            rng = stream(seed, int(ags), 78)
            persons = int(rng.integers(*DEMO_PERSONS))
            code = offices[ags].code
            by_quarter = demo_paths(seed, ags, code, programme.start, programme.end, persons)
            for quarter, rows in sorted(by_quarter.items()):
                key = (ags, quarter) if (ags, quarter) in deliveries else (ags, _previous_quarter(quarter))
                if key in deliveries:
                    deliveries[key].feeds.setdefault("trajectories", []).extend(rows)
            first = min((k for k in deliveries if k[0] == ags and deliveries[k].feeds.get("trajectories")), default=None)
            if first is not None:
                deliveries[first].feeds["trajectories"] += invalid_rows(deliveries[first].feeds["trajectories"], code)


def _previous_quarter(quarter: str) -> str:
    year, n = int(quarter[:4]), int(quarter[-1])
    return f"{year - (n == 1)}-Q{(n - 2) % 4 + 1}"


def invalid_rows(rows: list[dict], code: str) -> list[dict]:
    """What offices get wrong (reason code in the comment): an unknown level (bad_enum), a status
    recorded before the month of arrival (out_of_range), another month of arrival for a person
    already recorded (inconsistent_counts, on this later row), a real name as key (bad_pseudonym)."""
    base = max(rows, key=lambda r: r["date"])
    year, month = (int(x) for x in base["arrival_month"].split("-"))
    other = f"{year - 1}-{month:02d}"
    after = f"{year + (month == 12)}-{month % 12 + 1:02d}"
    return [
        {**base, "observation_id": f"{code}-VX1", "language_level": "B3"},
        {**base, "observation_id": f"{code}-VX2", "person_key": f"{code}-TX99", "arrival_month": (base["date"] + dt.timedelta(days=40)).strftime("%Y-%m")},
        {**base, "observation_id": f"{code}-VX3", "arrival_month": other if other != base["arrival_month"] else after},
        {**base, "observation_id": f"{code}-VX4", "person_key": "Maria_Schulz"},
    ]


# National demo: newcomers per programme district (issue 20: about 500).
NATIONAL_PERSONS = 500


def national_trajectories(districts: tuple[str, ...], quarters: tuple[str, ...], seed: int,
                          persons: int = NATIONAL_PERSONS) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Every programme district's observations over the national period, drawn at once: per
    delivery quarter (district index into `districts`, text columns). A late row of the last
    quarter stays in it."""
    from pipeline.quarters import quarter_bounds

    start, end = quarter_bounds(quarters[0])[0], quarter_bounds(quarters[-1])[1]
    rng = stream(seed, 7, 77)
    person, number, columns = draw_paths(rng, persons * len(districts), start, end)
    district = person // persons
    ags = np.array(districts, dtype=object)[district]
    local = (person % persons).astype(str)
    columns["person_key"] = ("T" + ags + "-" + np.char.zfill(local, 4).astype(object))
    columns["observation_id"] = ("V" + ags + "-" + np.char.zfill((number - number.min()).astype(str), 7).astype(object))
    delivered = delivery_quarters(rng, columns["date"])
    delivered[delivered > quarters[-1]] = quarters[-1]
    columns["date"] = np.datetime_as_string(columns["date"], unit="D").astype(object)
    order = np.argsort(delivered, kind="stable")
    bounds = np.searchsorted(delivered[order], np.array(quarters, dtype=object), side="left")
    ends = np.searchsorted(delivered[order], np.array(quarters, dtype=object), side="right")
    out = {}
    for quarter, lo, hi in zip(quarters, bounds, ends):
        rows = order[lo:hi]
        out[quarter] = (district[rows], {name: values[rows] for name, values in columns.items()})
    return out
