"""Realistic, deterministic sample deliveries for demos, tests and the conference dashboards.

`write_demo` fills a home's inbox with what the districts of the catalogue would send over their
programme periods: one delivery per district and quarter, in the three shapes real offices
produce (UTF-8 CSV with English headers, Windows-1252 `;` CSV with German headers and decimal
commas, Excel workbooks with German sheet names). A handful of planted faults, spread over a few
districts, give the quality report something to say; `PLANTED_FAULTS` documents them.

Everything derives from the seed: each district and each (district, quarter) draws from its own
random stream, so a change to one feed's generator does not reshuffle every other file, and two
runs with the same seed produce byte-identical files with identical modification times (the
pipeline reads the mtime as "received at").
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from pipeline.catalogue import Catalogue, load_catalogue
from pipeline.contract import Column, Feed, load_contract
from pipeline.home import Home
from pipeline.quarters import quarter_bounds, quarter_of

CSV_EN, CSV_DE, XLSX = "csv_en", "csv_de", "xlsx"

# How each office of the shipped catalogue sends its files. Districts of another catalogue get a
# format by their key, so every catalogue yields a mix.
OFFICE_FORMAT = {
    "15089": CSV_EN, "09473": CSV_EN, "12070": CSV_EN, "09174": CSV_EN, "08436": CSV_EN,
    "15081": CSV_EN, "12073": CSV_EN, "03255": CSV_EN,
    "13076": CSV_DE, "14523": CSV_DE, "15090": CSV_DE, "06635": CSV_DE, "05762": CSV_DE,
    "03256": CSV_DE,
    "15085": XLSX, "03153": XLSX, "05766": XLSX, "12069": XLSX, "03155": XLSX, "06636": XLSX,
}
# Dachau exports "CSV UTF-8" from Excel, which writes a byte-order mark.
UTF8_BOM_OFFICES = {"09174"}
# Goslar's clerk separates months with an empty row, which the pipeline must skip.
MONTH_GAP_OFFICES = {"03153"}

# Two-letter prefixes of the pseudonyms (person_key `LP-0042`), loosely after the number plates.
OFFICE_CODE = {
    "13076": "LP", "09473": "CO", "03153": "GS", "15085": "HZ", "12070": "PR", "14523": "VG",
    "05766": "LI", "09174": "DA", "12069": "PM", "08436": "RV", "15090": "SD", "06635": "WF",
    "03155": "NO", "15089": "SL", "15081": "SW", "05762": "HX", "12073": "UM", "06636": "WM",
    "03255": "HM", "03256": "NI",
}

MUNICIPALITIES = {
    "13076": ("Parchim", "Ludwigslust", "Hagenow", "Boizenburg/Elbe", "Lübz"),
    "09473": ("Rödental", "Neustadt b.Coburg", "Bad Rodach", "Ebersdorf b.Coburg"),
    "03153": ("Goslar", "Bad Harzburg", "Seesen", "Langelsheim"),
    "15085": ("Halberstadt", "Wernigerode", "Quedlinburg", "Blankenburg (Harz)", "Thale"),
    "12070": ("Perleberg", "Wittenberge", "Pritzwalk", "Putlitz"),
    "14523": ("Plauen", "Reichenbach im Vogtland", "Auerbach/Vogtl.", "Oelsnitz/Vogtl."),
    "05766": ("Detmold", "Lemgo", "Bad Salzuflen", "Lage", "Blomberg"),
    "09174": ("Dachau", "Karlsfeld", "Markt Indersdorf", "Altomünster"),
    "12069": ("Werder (Havel)", "Teltow", "Bad Belzig", "Kleinmachnow", "Beelitz"),
    "08436": ("Ravensburg", "Weingarten", "Wangen im Allgäu", "Leutkirch im Allgäu", "Bad Waldsee"),
    "15090": ("Stendal", "Tangermünde", "Osterburg (Altmark)", "Havelberg", "Tangerhütte"),
    "06635": ("Korbach", "Bad Arolsen", "Frankenberg (Eder)", "Bad Wildungen"),
    "03155": ("Northeim", "Einbeck", "Uslar", "Bad Gandersheim", "Moringen"),
    "15089": ("Bernburg (Saale)", "Schönebeck (Elbe)", "Aschersleben", "Staßfurt"),
}

# Offices that keep attendance lists (for unique reach), from this quarter on.
ATTENDANCE_FROM = {"13076": "2018-Q1", "15089": "2017-Q1", "05766": "2023-Q3", "09174": "2024-Q1"}
# Open-door formats where nobody keeps a list, so attendance districts still mix both methods.
OPEN_EVENT_TYPES = {"information", "culture", "conference"}

# Micro-project funds: (programme, district) -> the fund's shape (indicators.md, seed 001).
MICRO_PROJECT_FUNDS = {("lzz-1", "13076"): {"projects": 12, "volunteers": 50,
                                            "newcomers_low": 750, "newcomers_high": 800}}

EVENT_TYPES = ("training", "network_meeting", "information", "workshop", "round_table",
               "culture", "best_practice", "conference", "other")
EVENT_WEIGHTS = (0.25, 0.20, 0.19, 0.08, 0.06, 0.07, 0.08, 0.04, 0.03)
ROLES = ("volunteer", "staff", "newcomer", "other")
# Who comes to what: shares of volunteers, staff, newcomers and others among the participants.
ROLE_MIX = {
    "training": (0.50, 0.20, 0.20, 0.10),
    "network_meeting": (0.30, 0.45, 0.10, 0.15),
    "information": (0.10, 0.10, 0.60, 0.20),
    "best_practice": (0.40, 0.40, 0.10, 0.10),
    "round_table": (0.25, 0.50, 0.15, 0.10),
}
DEFAULT_ROLE_MIX = (0.25, 0.15, 0.35, 0.25)
# Pool sizes leave room for the largest event (45) even when one role dominates.
PERSON_POOL = {"volunteer": 90, "staff": 60, "newcomer": 170, "other": 60}

EVENT_TITLES = {
    "training": ("Schulung Interkulturelle Kompetenz", "Schulung für Ehrenamtliche: Asyl- und Aufenthaltsrecht",
                 "Bildungsveranstaltung Rassismuskritik im Verein", "Schulung Leichte Sprache",
                 "Qualifizierung Integrationslotsinnen und -lotsen"),
    "network_meeting": ("Vernetzungstreffen Ehrenamt", "Netzwerktreffen Integration im Landkreis",
                        "Austausch der Willkommensinitiativen", "Vernetzungstreffen Migrantenorganisationen"),
    "information": ("Infoabend Anerkennung ausländischer Berufsabschlüsse",
                    "Informationsveranstaltung Ausbildung und Arbeit",
                    "Infoabend Kita und Schule\n(mit Dolmetschung)", "Bürgerinformation Wohnen und Mobilität"),
    "workshop": ("Workshop Vereinsarbeit interkulturell", "Workshop Fördermittel beantragen; Praxisteil"),
    "round_table": ("Runder Tisch Integration", "Runder Tisch Wohnen"),
    "culture": ("Lesung „Ankommen auf dem Land“", "Interkulturelles Fest", "Kochen, Reden, Kennenlernen",
                "Filmabend mit Gespräch"),
    "best_practice": ("Best-Practice-Treffen Patenschaftsprojekte", "Gute Beispiele: Integration im Sportverein",
                      "Praxisaustausch Mobilität auf dem Land"),
    "conference": ("Fachtag Integration im ländlichen Raum", "Regionalkonferenz Teilhabe"),
    "other": ("Sprachcafé", "Ausflug mit Patenfamilien"),
}
EVENT_FIELDS = {
    "training": ("education",), "network_meeting": ("cross_cutting", "social_culture"),
    "information": ("education", "economy"), "workshop": ("economy", "education"),
    "round_table": ("politics",), "culture": ("social_culture",), "best_practice": ("cross_cutting",),
    "conference": ("cross_cutting", "politics"), "other": ("social_culture",),
}
ADVICE_TOPICS = {
    "person": ("Aufenthaltsrecht", "Anerkennung Berufsabschluss", "Sprachkurs", "Wohnungssuche",
               "Ausbildung und Arbeit", "Kita und Schule"),
    "group": ("Ehrenamtliche Begleitung", "Sprachpatenschaften", "Freizeitangebote"),
    "organisation": ("Fördermittel", "Vereinsgründung", "Interkulturelle Öffnung", "Öffentlichkeitsarbeit"),
}
MICRO_APPLICANTS = ("Heimatverein Lübz e.V.", "SV Hagenow 1921 e.V.", "Ev. Kirchengemeinde Parchim",
                    "Freiwillige Feuerwehr Boizenburg", "Landfrauenverein Ludwigslust e.V.",
                    "Tafel Hagenow e.V.", "Kulturverein Alte Synagoge e.V.", "Jugendclub Plate",
                    "Willkommensinitiative Crivitz", "Gartenfreunde Sternberg e.V.",
                    "Förderverein Grundschule Dömitz", "Musikschule Ludwigslust-Parchim",
                    "Chor Grabow e.V.", "Seniorenbeirat Lübtheen")

SURVEY_ITEMS = ("belonging", "participation", "information_access", "contacts")
SURVEY_GROUPS = ("newcomer", "resident", "volunteer")
SURVEY_GROUP_SHARES = (0.45, 0.40, 0.15)
# Latent means on the 1-5 scale; scores are the latent value rounded and clipped.
SURVEY_BASE = {"belonging": 3.0, "participation": 2.9, "information_access": 2.8, "contacts": 3.1}
SURVEY_GROUP_SHIFT = {
    "newcomer": {"belonging": -0.4, "participation": -0.3, "information_access": -0.5, "contacts": -0.2},
    "resident": {"belonging": 0.2, "participation": 0.0, "information_access": 0.3, "contacts": 0.0},
    "volunteer": {"belonging": 0.4, "participation": 0.5, "information_access": 0.4, "contacts": 0.5},
}
# Baseline -> follow-up change everywhere (a common trend) and on top in programme districts only.
# `belonging` carries the planted programme effect (+0.4 vs +0.1); `contacts` has none.
SURVEY_TREND = {"belonging": 0.1, "participation": 0.05, "information_access": 0.1, "contacts": 0.15}
SURVEY_EFFECT = {"belonging": 0.3, "participation": 0.15, "information_access": 0.1, "contacts": 0.0}
SURVEY_SD = 0.9
SURVEY_MISSING = 0.05

# German headers as an office would type them; each folds to the contract alias.
GERMAN_HEADERS = {
    "event_id": "Veranstaltung-ID", "date": "Datum", "event_type": "Art", "title": "Titel",
    "municipality": "Gemeinde", "field": "Handlungsfeld", "supra_regional": "Überregional",
    "participants_total": "Teilnehmende gesamt", "participants_volunteer": "davon ehrenamtlich",
    "participants_staff": "davon hauptamtlich", "participants_newcomer": "davon zugewandert",
    "person_key": "Personen-ID", "role": "Rolle",
    "case_id": "Beratung-ID", "client_type": "Beratene Art", "client_key": "Beratene-ID",
    "topic": "Thema", "duration_min": "Dauer Min",
    "issue_id": "Ausgabe-ID", "sent_date": "Versanddatum", "recipients": "Empfänger",
    "project_id": "Projekt-ID", "applicant": "Antragsteller", "approved_date": "Bewilligt am",
    "amount_eur": "Betrag EUR", "cost_category": "Kostenart", "volunteers": "Ehrenamtliche",
    "newcomers_reached": "Erreichte Zugewanderte", "status": "Status",
    "response_id": "Antwort-ID", "wave": "Welle", "group": "Gruppe", "belonging": "Zugehörigkeit",
    "participation": "Teilhabe", "information_access": "Informationszugang", "contacts": "Kontakte",
}
# Where the contract's first German alias is not what an office would write.
GERMAN_ENUM_PREFERRED = {"training": "Schulung", "conference": "Fachtag", "materials": "Sachkosten",
                         "organisation": "Verein"}

MISNAMED_FILE = "Lieferung_Q3_final.xlsx"
RECEIPT_HOUR_UTC = 9
# Fixed workbook metadata: xlsxwriter otherwise stamps the current time into docProps/core.xml.
WORKBOOK_CREATED = dt.datetime(2020, 1, 1)


class Raw(str):
    """A value written verbatim, bypassing formatting: how planted faults reach the file."""


@dataclass(frozen=True)
class Office:
    """One district office: its habits and the pseudonym pools it draws from all programme long."""
    ags: str
    code: str
    style: str
    municipalities: tuple[str, ...]
    persons: dict[str, tuple[list[str], np.ndarray]]  # role -> (keys, visit weights)
    clients: tuple[list[str], list[str], np.ndarray]  # keys, client types, visit weights
    newsletter_reach: int
    survey_shift: float


@dataclass
class Slot:
    """What one district owes for one quarter."""
    ags: str
    quarter: str
    window: tuple[dt.date, dt.date] | None = None  # days of programme activity in the quarter
    waves: list[tuple[str, bool]] = field(default_factory=list)  # (wave, is programme district)


@dataclass
class Delivery:
    ags: str
    quarter: str
    style: str
    received: dt.datetime
    feeds: dict[str, list[dict]]  # contract order; an XLSX gets a sheet even for an empty feed


# ---------------------------------------------------------------------------------------------
# Public entry point


def write_demo(home: Home, catalogue: Catalogue | None = None, seed: int = 2024) -> list[Path]:
    """Write the demo deliveries into `home.inbox`; return the written paths, sorted."""
    catalogue = catalogue or load_catalogue(home.catalogue_dir)
    home.inbox.mkdir(parents=True, exist_ok=True)
    offices = {ags: _office(ags, catalogue, seed) for ags in _all_districts(catalogue)}
    deliveries = _deliveries(catalogue, offices, seed)
    for ags, quarter, plant, _ in PLANTED_FAULTS:
        if (ags, quarter) in deliveries:
            plant(deliveries, (ags, quarter), offices[ags], _rng(seed, int(ags), 99))
    written = [path for d in deliveries.values() for path in _write_delivery(home.inbox, d)]
    written += _write_redelivery(home.inbox, deliveries, offices, seed)
    written += _write_misnamed_file(home.inbox, deliveries)
    return sorted(written)


# ---------------------------------------------------------------------------------------------
# Planning: who delivers what, when


def _rng(seed: int, *keys: int) -> np.random.Generator:
    # One stream per district / delivery, so adding a draw in one place shifts nothing elsewhere.
    return np.random.default_rng([seed, *keys])


def _all_districts(catalogue: Catalogue) -> list[str]:
    return sorted({a for p in catalogue.programmes for a in p.districts + p.comparison_districts})


def _quarters(start: dt.date, end: dt.date) -> list[str]:
    quarters, day = [], start
    while day <= end:
        quarters.append(quarter_of(day))
        day = quarter_bounds(quarter_of(day))[1] + dt.timedelta(days=1)
    return quarters


def _plan_slots(catalogue: Catalogue) -> dict[tuple[str, str], Slot]:
    slots: dict[tuple[str, str], Slot] = {}
    for p in catalogue.programmes:
        for ags in p.districts:
            for quarter in _quarters(p.start, p.end):
                q_start, q_end = quarter_bounds(quarter)
                slot = slots.setdefault((ags, quarter), Slot(ags, quarter))
                lo, hi = max(q_start, p.start), min(q_end, p.end)
                # A district in two programmes delivers once per quarter, covering both periods.
                slot.window = (min(lo, slot.window[0]), max(hi, slot.window[1])) if slot.window else (lo, hi)
        if not p.comparison_districts:
            continue
        baseline, follow_up = quarter_of(p.start), quarter_of(p.end)
        for ags in p.districts + p.comparison_districts:
            for quarter, wave in ((baseline, "baseline"), (follow_up, "follow_up")):
                slot = slots.setdefault((ags, quarter), Slot(ags, quarter))
                slot.waves.append((wave, ags in p.districts))
    return dict(sorted(slots.items()))


def _office(ags: str, catalogue: Catalogue, seed: int) -> Office:
    rng = _rng(seed, int(ags))
    code = OFFICE_CODE.get(ags) or _code_from_name(catalogue.district_name(ags))
    style = OFFICE_FORMAT.get(ags, (CSV_EN, CSV_DE, XLSX)[int(ags) % 3])
    municipalities = MUNICIPALITIES.get(ags, (catalogue.district_name(ags),))
    return Office(ags=ags, code=code, style=style, municipalities=municipalities,
                  persons=_person_pools(rng, code), clients=_client_pool(rng, code),
                  newsletter_reach=int(rng.integers(60, 250)),
                  survey_shift=float(rng.normal(0, 0.15)))


def _code_from_name(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w not in ("Landkreis", "Kreis")]
    letters = "".join(c for c in "".join(words) if c.isascii() and c.isalpha())
    return (letters[:2] or "XX").upper()


def _visit_weights(size: int) -> np.ndarray:
    # Heavy-tailed: a few regulars come to many events, most people once or twice.
    weights = 1.0 / (np.arange(size) + 8.0)
    return weights / weights.sum()


def _person_pools(rng: np.random.Generator, code: str) -> dict[str, tuple[list[str], np.ndarray]]:
    numbers = rng.permutation(sum(PERSON_POOL.values())) + 1  # roles interleave in the numbering
    pools, start = {}, 0
    for role, size in PERSON_POOL.items():
        keys = [f"{code}-{n:04d}" for n in numbers[start:start + size]]
        pools[role] = (keys, _visit_weights(size))
        start += size
    return pools


def _client_pool(rng: np.random.Generator, code: str, size: int = 80) -> tuple[list[str], list[str], np.ndarray]:
    keys = [f"{code}-K{n:03d}" for n in range(1, size + 1)]
    types = [str(t) for t in rng.choice(("person", "group", "organisation"), size=size, p=(0.7, 0.15, 0.15))]
    return keys, types, _visit_weights(size)


def _receipt(rng: np.random.Generator, quarter: str) -> dt.datetime:
    day = quarter_bounds(quarter)[1] + dt.timedelta(days=int(rng.integers(10, 26)))
    return dt.datetime.combine(day, dt.time(RECEIPT_HOUR_UTC), tzinfo=dt.timezone.utc)


def _deliveries(catalogue: Catalogue, offices: dict[str, Office], seed: int) -> dict[tuple[str, str], Delivery]:
    micro = _micro_projects_by_slot(catalogue, offices, seed)
    deliveries = {}
    for key, slot in _plan_slots(catalogue).items():
        office = offices[slot.ags]
        year, n = int(slot.quarter[:4]), int(slot.quarter[-1])
        rng = _rng(seed, int(slot.ags), year, n)
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
    for wave, in_programme in slot.waves:
        feeds.setdefault("survey", []).extend(_survey(rng, office, slot.quarter, wave, in_programme))
    order = list(load_contract().feeds)
    return dict(sorted(feeds.items(), key=lambda item: order.index(item[0])))


# ---------------------------------------------------------------------------------------------
# Feed generators: canonical values (dates, ints, English enums); rendering happens on writing


def _qtag(quarter: str) -> str:
    return quarter.replace("-", "")


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
    return [_event(rng, office, day, f"{office.code}-{_qtag(quarter)}-{i:02d}") for i, day in enumerate(days, 1)]


def _event(rng: np.random.Generator, office: Office, day: dt.date, event_id: str) -> dict:
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
        rows.append({"case_id": f"{office.code}-B{_qtag(quarter)}-{i:02d}", "date": day,
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
        rows.append({"issue_id": f"{office.code}-NL-{_qtag(quarter)}-{i}", "sent_date": day,
                     "recipients": recipients, "title": f"Newsletter Integration {quarter} Nr. {i}"})
    return rows


def _survey(rng: np.random.Generator, office: Office, quarter: str, wave: str, in_programme: bool) -> list[dict]:
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
        change = SURVEY_TREND[item] + (SURVEY_EFFECT[item] if in_programme else 0.0)
        mean = (SURVEY_BASE[item] + office.survey_shift + (change if wave == "follow_up" else 0.0)
                + np.array([SURVEY_GROUP_SHIFT[g][item] for g in groups]))
        # Centred noise: with ~75 answers one draw could hide or double the planted effect.
        noise = rng.normal(0, SURVEY_SD, size)
        score = np.clip(np.rint(mean + noise - noise.mean()), 1, 5).astype(int)
        unanswered = rng.random(size) < SURVEY_MISSING
        scores[item] = [None if skip else int(s) for s, skip in zip(score, unanswered)]
    prefix = f"{office.code}-S{_qtag(quarter)}-{'B' if wave == 'baseline' else 'F'}"
    return [{"response_id": f"{prefix}{i + 1:03d}", "date": days[i], "wave": wave, "group": str(groups[i]),
             **{item: scores[item][i] for item in SURVEY_ITEMS}} for i in range(size)]


def _micro_projects_by_slot(catalogue: Catalogue, offices: dict[str, Office],
                            seed: int) -> dict[tuple[str, str], list[dict]]:
    by_slot: dict[tuple[str, str], list[dict]] = {}
    for (programme_id, ags), fund in MICRO_PROJECT_FUNDS.items():
        if programme_id not in {p.id for p in catalogue.programmes} or ags not in offices:
            continue
        programme = catalogue.programme(programme_id)
        for project in _micro_projects(_rng(seed, int(ags), 0), offices[ags], programme.start, programme.end, **fund):
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


# ---------------------------------------------------------------------------------------------
# Planted faults: each edits one delivery so the quality report has something to say.
# A planter takes (deliveries, key, office, rng) and edits deliveries[key] in place; the rows it
# targets exist in every full quarter (at least two events a month, eight people an event).


def _bad_date(deliveries, key, office, rng):
    deliveries[key].feeds["events"][2]["date"] = Raw("31.02.2019")


def _number_in_words(deliveries, key, office, rng):
    deliveries[key].feeds["events"][3]["participants_total"] = Raw("zwölf")


def _unknown_event_type(deliveries, key, office, rng):
    deliveries[key].feeds["events"][1]["event_type"] = Raw("Stammtisch")


def _negative_count(deliveries, key, office, rng):
    deliveries[key].feeds["events"][4]["participants_volunteer"] = -4


def _volunteers_exceed_total(deliveries, key, office, rng):
    event = deliveries[key].feeds["events"][5]
    event["participants_volunteer"] = event["participants_total"] + 5


def _duplicate_event_id(deliveries, key, office, rng):
    # A copy-paste slip: the next event reuses the id of the one before.
    events = deliveries[key].feeds["events"]
    twin = _event(rng, office, events[3]["date"] + dt.timedelta(days=1), events[3]["event_id"])
    events.insert(4, twin)


def _future_date(deliveries, key, office, rng):
    deliveries[key].feeds["events"][-1]["date"] = quarter_bounds(key[1])[1] + dt.timedelta(days=12)


def _unknown_event_attendance(deliveries, key, office, rng):
    keys, _ = office.persons["newcomer"]
    ghost = f"{office.code}-{_qtag(key[1])}-99"
    deliveries[key].feeds["attendance"] += [{"event_id": ghost, "person_key": keys[i], "role": "newcomer"}
                                            for i in (0, 1, 2)]


def _email_as_pseudonym(deliveries, key, office, rng):
    deliveries[key].feeds["attendance"][7]["person_key"] = "anna.schmidt@example.org"


def _name_as_pseudonym(deliveries, key, office, rng):
    deliveries[key].feeds["attendance"][4]["person_key"] = "Anna_Schmidt"


def _survey_score_out_of_scale(deliveries, key, office, rng):
    deliveries[key].feeds["survey"][10]["belonging"] = 7


def _late_event(deliveries, key, office, rng):
    # Forgotten last quarter, reported now: counts in the quarter of its date, listed as late.
    previous = _previous_quarter(key[1])
    if (key[0], previous) not in deliveries:
        return
    number = len(deliveries[(key[0], previous)].feeds["events"]) + 1
    day = quarter_bounds(previous)[1] - dt.timedelta(days=2)
    deliveries[key].feeds["events"].insert(0, _event(rng, office, day, f"{office.code}-{_qtag(previous)}-{number:02d}"))


def _corrected_event(deliveries, key, office, rng):
    # The office recounted a sign-in sheet: same id, new total, sent with the next quarter.
    previous = deliveries.get((key[0], _previous_quarter(key[1])))
    if previous is None:
        return
    corrected = {**previous.feeds["events"][2]}
    corrected["participants_total"] += 6
    deliveries[key].feeds["events"].insert(0, corrected)


def _name_column(deliveries, key, office, rng):
    names = ("Max Mustermann", "Erika Mustermann", "Otto Normalverbraucher", "Lieschen Müller",
             "Hans Dampf", "Susi Sorglos")
    for i, row in enumerate(deliveries[key].feeds["attendance"]):
        row["Name"] = names[i % len(names)]


def _remark_column(deliveries, key, office, rng):
    remarks = ("", "", "Ersatztermin", "", "mit Dolmetscherin", "", "Kooperation mit der VHS")
    for i, row in enumerate(deliveries[key].feeds["events"]):
        row["Bemerkung"] = remarks[i % len(remarks)]


def _previous_quarter(quarter: str) -> str:
    return quarter_of(quarter_bounds(quarter)[0] - dt.timedelta(days=1))


# (district, delivery quarter, planter, what the quality report should show)
PLANTED_FAULTS = (
    ("14523", "2019-Q1", _bad_date, "bad_value: events row 4, date 31.02.2019"),
    ("03153", "2018-Q3", _number_in_words, "bad_value: sheet Veranstaltungen row 5, participants_total 'zwölf'"),
    ("06635", "2023-Q3", _unknown_event_type, "bad_enum: events row 3, event_type Stammtisch"),
    ("12070", "2018-Q2", _negative_count, "out_of_range: events row 6, participants_volunteer -4"),
    ("09473", "2019-Q3", _volunteers_exceed_total, "inconsistent_counts: events row 7, volunteers > total"),
    ("09174", "2023-Q2", _duplicate_event_id, "duplicate_id: events rows 5 and 6 share an event_id"),
    ("15090", "2023-Q4", _future_date, "future_date: events last row, 12 days after the quarter"),
    ("13076", "2019-Q2", _unknown_event_attendance, "unknown_event: attendance last 3 rows name event -99"),
    ("05766", "2023-Q4", _email_as_pseudonym, "bad_pseudonym: attendance row 9, an e-mail address"),
    ("15089", "2017-Q3", _name_as_pseudonym, "bad_pseudonym: attendance row 6, Anna_Schmidt"),
    ("05762", "2023-Q1", _survey_score_out_of_scale, "out_of_range: survey row 12, belonging 7"),
    ("12069", "2023-Q3", _late_event, "late: events row 2, dated in 2023-Q2"),
    ("03155", "2024-Q2", _corrected_event, "correction: events row 2 re-sends 2024-Q1's third event"),
    ("15089", "2017-Q4", _name_column, "forbidden_column: attendance carries a Name column"),
    ("14523", "2020-Q1", _remark_column, "ignored column: events carry Bemerkung"),
)

# The workbook's events sheet is replaced by a CSV sent a few days later.
REDELIVERY = ("15085", "2019-Q2", 4)  # district, quarter, days after the workbook


def _write_redelivery(inbox: Path, deliveries, offices: dict[str, Office], seed: int) -> list[Path]:
    ags, quarter, delay = REDELIVERY
    original = deliveries.get((ags, quarter))
    if original is None or "events" not in original.feeds:
        return []
    rng = _rng(seed, int(ags), 98)
    events = [{**e} for e in original.feeds["events"]]
    events[1]["participants_total"] += 3  # the fix that prompted the resend
    q_end = quarter_bounds(quarter)[1]
    events.append(_event(rng, offices[ags], q_end - dt.timedelta(days=3),
                         f"{offices[ags].code}-{_qtag(quarter)}-{len(events) + 1:02d}"))
    # Saved from Excel as "CSV (Trennzeichen-getrennt)": Windows-1252 with semicolons.
    path = inbox / f"{ags}_{quarter}_events.csv"
    _write_csv(path, load_contract().feeds["events"], events, CSV_DE)
    _set_received(path, original.received + dt.timedelta(days=delay))
    return [path]


def _write_misnamed_file(inbox: Path, deliveries) -> list[Path]:
    # Someone at Prignitz saved a draft under a name of their own; it must be set aside whole.
    source = deliveries.get(("12070", "2019-Q3"))
    if source is None:
        return []
    path = inbox / MISNAMED_FILE
    _write_workbook(path, {"events": source.feeds["events"][:3]}, month_gaps=False)
    _set_received(path, source.received + dt.timedelta(days=1))
    return [path]


# ---------------------------------------------------------------------------------------------
# Writing


def _write_delivery(inbox: Path, delivery: Delivery) -> list[Path]:
    contract = load_contract()
    stem = f"{delivery.ags}_{delivery.quarter}"
    if delivery.style == XLSX:
        paths = [inbox / f"{stem}.xlsx"]
        _write_workbook(paths[0], delivery.feeds, month_gaps=delivery.ags in MONTH_GAP_OFFICES)
    else:
        # An office with nothing to report for a feed simply sends no file for it.
        paths = []
        for feed, records in delivery.feeds.items():
            if records:
                paths.append(inbox / f"{stem}_{feed}.csv")
                _write_csv(paths[-1], contract.feeds[feed], records, delivery.style,
                           bom=delivery.ags in UTF8_BOM_OFFICES)
    for path in paths:
        _set_received(path, delivery.received)
    return paths


def _set_received(path: Path, when: dt.datetime) -> None:
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


def _header(feed: Feed, records: list[dict]) -> list[str]:
    """Contract columns first, then any extra column an office added (never the private `_` keys)."""
    names = [c.name for c in feed.columns]
    extras = [k for r in records for k in r if k not in names and not k.startswith("_")]
    return names + list(dict.fromkeys(extras))


def _german_enum(value: str, column: Column) -> str:
    return GERMAN_ENUM_PREFERRED.get(value) or (column.values.get(value) or [value])[0]


def _german_decimal(value: float) -> str:
    return f"{value:,.2f}".translate(str.maketrans(",.", ".,"))


def _text(value, column: Column | None, style: str) -> str:
    """One CSV cell as the office's software would write it."""
    if value is None:
        return ""
    if isinstance(value, Raw) or column is None:
        return str(value)
    german = style == CSV_DE
    if column.type == "date":
        return value.strftime("%d.%m.%Y") if german else value.isoformat()
    if column.type == "bool":
        return ("ja" if value else "nein") if german else ("true" if value else "false")
    if column.type == "enum":
        return _german_enum(value, column) if german else value
    if column.type == "decimal":
        return _german_decimal(value) if german else f"{value:.2f}"
    return str(value)


def _write_csv(path: Path, feed: Feed, records: list[dict], style: str, bom: bool = False) -> None:
    header = _header(feed, records)
    columns = {c.name: c for c in feed.columns}
    german = style == CSV_DE
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if german else ",", lineterminator="\r\n" if german else "\n")
    writer.writerow([GERMAN_HEADERS.get(h, h) if german else h for h in header])
    for record in records:
        writer.writerow([_text(record.get(h), columns.get(h), style) for h in header])
    encoding = "cp1252" if german else ("utf-8-sig" if bom else "utf-8")
    path.write_bytes(buffer.getvalue().encode(encoding))


def _write_workbook(path: Path, feeds: dict[str, list[dict]], month_gaps: bool) -> None:
    contract = load_contract()
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    workbook.set_properties({"created": WORKBOOK_CREATED})
    formats = {"date": workbook.add_format({"num_format": "DD.MM.YYYY"}),
               "decimal": workbook.add_format({"num_format": "#,##0.00"}),
               "header": workbook.add_format({"bold": True})}
    for feed_name, records in feeds.items():
        feed = contract.feeds[feed_name]
        sheet = workbook.add_worksheet(feed.label_de)
        _write_sheet(sheet, feed, records, formats, month_gaps and feed_name == "events")
    workbook.close()


def _write_sheet(sheet, feed: Feed, records: list[dict], formats: dict, month_gaps: bool) -> None:
    header = _header(feed, records)
    columns = {c.name: c for c in feed.columns}
    sheet.write_row(0, 0, [GERMAN_HEADERS.get(h, h) for h in header], formats["header"])
    sheet.set_column(0, len(header) - 1, 18)
    sheet.freeze_panes(1, 0)
    row, month = 1, None
    for record in records:
        day = record.get(feed.date_column) if feed.date_column else None
        if month_gaps and isinstance(day, dt.date):
            if month is not None and (day.year, day.month) != month:
                row += 1  # the empty row between months
            month = (day.year, day.month)
        for col, name in enumerate(header):
            _write_cell(sheet, row, col, record.get(name), columns.get(name), formats)
        if feed.name == "events":
            _write_total_formula(sheet, row, header, record)
        row += 1


def _write_cell(sheet, row: int, col: int, value, column: Column | None, formats: dict) -> None:
    if value is None:
        return
    if isinstance(value, Raw) or column is None or isinstance(value, str) and column.type != "enum":
        sheet.write_string(row, col, str(value))
    elif column.type == "date":
        sheet.write_datetime(row, col, dt.datetime.combine(value, dt.time()), formats["date"])
    elif column.type == "bool":
        if value:
            sheet.write_string(row, col, "x")  # Excel offices tick a box; empty means no
    elif column.type == "enum":
        sheet.write_string(row, col, _german_enum(value, column))
    elif column.type == "decimal":
        sheet.write_number(row, col, value, formats["decimal"])
    else:
        sheet.write_number(row, col, value)


def _write_total_formula(sheet, row: int, header: list[str], record: dict) -> None:
    """The office's template adds up the sub-counts plus the others; the cached value is the total."""
    parts = ("participants_volunteer", "participants_staff", "participants_newcomer")
    total = record.get("participants_total")
    if isinstance(total, Raw) or not all(type(record.get(p)) is int for p in parts):
        return
    others = total - sum(record[p] for p in parts)
    if others < 0:
        return
    cells = "+".join(xl_rowcol_to_cell(row, header.index(p)) for p in parts)
    sheet.write_formula(row, header.index("participants_total"), f"={cells}+{others}", None, total)


# ---------------------------------------------------------------------------------------------
# National scale (issue 7): every rural district in Germany, synthetic, vectorised
#
# `write_national` writes a generated catalogue into `home/catalogue/` (programmes.yaml,
# districts.csv, indicators.yaml) and, per programme district and quarter, UTF-8 CSVs with
# English headers: ~40 events with ~25 attendance rows each, ~60 advice sessions, ~2 newsletters,
# ~3 micro-projects and ~50 survey responses; comparison districts send survey responses only.
# Synthetic keys 9xxxx (programme districts) and 99xxx (comparison districts) collide with no
# real AGS (real keys start 01…16). Rows are drawn with numpy per quarter for all districts at
# once and rendered column-wise; only the writing is per file. A sprinkle of invalid rows of
# several reason codes (NATIONAL_FAULTS), a few late records and corrections, header variants,
# BOMs, CRLF line ends, quoted titles, a blank line and one file with a forbidden column make
# the set look like what real offices send.

NATIONAL_FIRST_QUARTER = "2021-Q1"
NATIONAL_PROGRAMMES = 4
NATIONAL_STATES = ("Schleswig-Holstein", "Niedersachsen", "Nordrhein-Westfalen", "Hessen", "Rheinland-Pfalz",
                   "Baden-Württemberg", "Bayern", "Saarland", "Brandenburg", "Mecklenburg-Vorpommern",
                   "Sachsen", "Sachsen-Anhalt", "Thüringen")
NATIONAL_POPULATION_SOURCE = "synthetisch (Benchmark national), keine amtliche Zahl / synthetic, not official"
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
# Header variants an office's template may have (English names; order and optional columns vary).
NATIONAL_HEADERS = {
    "events": (
        ("event_id", "date", "event_type", "title", "municipality", "field", "supra_regional",
         "participants_total", "participants_volunteer", "participants_staff", "participants_newcomer"),
        ("event_id", "date", "event_type", "title", "participants_total", "participants_volunteer",
         "participants_staff", "participants_newcomer", "supra_regional"),
        ("event_id", "date", "event_type", "title", "municipality", "field", "supra_regional",
         "participants_total", "participants_volunteer", "participants_staff", "participants_newcomer", "notes"),
    ),
    "attendance": (("event_id", "person_key", "role"),),
    "advice": (("case_id", "date", "client_type", "client_key", "topic", "duration_min"),
               ("case_id", "date", "client_type", "client_key")),
    "newsletters": (("issue_id", "sent_date", "recipients", "title"),),
    "micro_projects": (("project_id", "applicant", "approved_date", "amount_eur", "cost_category", "volunteers",
                        "newcomers_reached", "status"),),
    "survey": (("response_id", "date", "wave", "group", "belonging", "participation", "information_access",
                "contacts"),),
}
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
    qs, q = [], first_quarter
    for _ in range(quarters):
        qs.append(q)
        q = quarter_of(quarter_bounds(q)[1] + dt.timedelta(days=1))
    count = min(NATIONAL_PROGRAMMES, districts)
    programmes = tuple((f"national-{n + 1}", tuple(np.array_split(np.array(ags), count)[n].tolist()),
                        tuple(np.array_split(np.array(comparison), count)[n].tolist())) for n in range(count))
    return NationalPlan(ags, comparison, tuple(qs), programmes)


def write_national(home: Home, districts: int = 400, quarters: int = 20, seed: int = 2024,
                   first_quarter: str = NATIONAL_FIRST_QUARTER) -> list[Path]:
    """The national-scale demo: generated catalogue in `home/catalogue`, deliveries in the inbox."""
    plan = national_plan(districts, quarters, first_quarter)
    home.inbox.mkdir(parents=True, exist_ok=True)
    _write_national_catalogue(home.root / "catalogue", plan, seed)
    written: list[Path] = []
    for n, quarter in enumerate(plan.quarters):
        written += _write_national_quarter(home.inbox, plan, n, quarter, seed)
    return sorted(written)


def _write_national_catalogue(folder: Path, plan: NationalPlan, seed: int) -> None:
    import yaml

    from pipeline.catalogue import SHIPPED_DIR

    folder.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed, 7, 0)
    everyone = plan.districts + plan.comparison
    population = rng.integers(60_000, 400_000, size=len(everyone))
    lines = ["ags,name,state,population,population_date,population_source,foreign_population,"
             "foreign_population_year,foreign_population_source"]
    for i, (ags, people) in enumerate(zip(everyone, population)):
        kind = "Beispielkreis" if ags in plan.districts else "Vergleichskreis"
        name = f"{kind} {int(ags) % 10000:04d}"
        lines.append(f'{ags},{name},{NATIONAL_STATES[i % len(NATIONAL_STATES)]},{int(people)},2022-05-15,'
                     f'"{NATIONAL_POPULATION_SOURCE}",,,')
    (folder / "districts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = quarter_bounds(plan.quarters[0])[0]
    end = quarter_bounds(plan.quarters[-1])[1]
    programmes = [{"id": pid, "name_de": f"Teilhabe im ländlichen Raum – Region {n + 1} (synthetisch)",
                   "name_en": f"Participation in rural areas – region {n + 1} (synthetic)",
                   "funder": "synthetisch / synthetic", "carrier": "Landkreise", "start": start, "end": end,
                   "target_level": "district", "districts": list(members), "comparison_districts": list(comparison),
                   "source": "teilhabe demo --scale national"}
                  for n, (pid, members, comparison) in enumerate(plan.programmes)]
    settings = {"delivery_deadline": {"days_after_quarter_end": 30}, "programmes": programmes}
    (folder / "programmes.yaml").write_text(
        "# Generated by `teilhabe demo --scale national` (synthetic districts, benchmark only).\n"
        + yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")
    # The shipped indicators, each applied to every national programme (no district overrides).
    shipped = yaml.safe_load((SHIPPED_DIR / "indicators.yaml").read_text(encoding="utf-8"))
    for indicator in shipped["indicators"]:
        indicator.pop("applies_to", None)
        indicator.pop("overrides", None)
        for reference in indicator.get("references") or []:
            reference.pop("programmes", None)
    (folder / "indicators.yaml").write_text(
        "# Generated by `teilhabe demo --scale national`: the shipped indicators for every programme.\n"
        + yaml.safe_dump(shipped, allow_unicode=True, sort_keys=False), encoding="utf-8")


class _Rows:
    """One feed's rows of one quarter (all districts): text columns, and which district each row is."""

    def __init__(self, district: np.ndarray, columns: dict[str, np.ndarray]):
        self.district = district
        self.columns = columns
        self.n = len(district)

    def set(self, column: str, rows: np.ndarray, values) -> None:
        if len(rows):
            self.columns[column][rows] = values


def _strings(values) -> np.ndarray:
    return np.asarray(values, dtype=object)


def _fmt_int(values: np.ndarray) -> np.ndarray:
    return _strings([str(v) for v in values.tolist()])


def _days(rng: np.random.Generator, quarter: str, size: int, start_offset: int = 0, span: int | None = None) -> np.ndarray:
    start, end = quarter_bounds(quarter)
    days = (end - start).days + 1 - start_offset if span is None else span
    return np.datetime64(start) + start_offset + rng.integers(0, days, size=size)


def _iso(days: np.ndarray) -> np.ndarray:
    return _strings(np.datetime_as_string(days, unit="D").tolist())


def _sequence(counts: np.ndarray) -> np.ndarray:
    """1..count for each group, concatenated."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts, counts) + 1


def _sorted_days(rng, quarter: str, district: np.ndarray) -> np.ndarray:
    days = _days(rng, quarter, len(district))
    return days[np.lexsort((days, district))]


def _national_quarter_rows(plan: NationalPlan, n: int, quarter: str, seed: int) -> dict[str, _Rows]:
    rng = _rng(seed, 7, n + 1)
    tag = _qtag(quarter)
    ags = np.array(plan.districts, dtype=object)
    nd = len(ags)
    feeds: dict[str, _Rows] = {}

    # events
    per = rng.integers(36, 45, size=nd)
    district = np.repeat(np.arange(nd), per)
    seq = _sequence(per)
    ne = len(district)
    types = rng.choice(len(EVENT_TYPES), size=ne, p=EVENT_WEIGHTS)
    total = rng.integers(15, 36, size=ne)
    event_id = "E" + ags[district] + f"-{tag}-" + _strings([f"{s:03d}" for s in seq.tolist()])
    titles = _strings([NATIONAL_TITLES[EVENT_TYPES[t]][k % len(NATIONAL_TITLES[EVENT_TYPES[t]])]
                       for t, k in zip(types.tolist(), rng.integers(0, 6, size=ne).tolist())])
    titles[rng.random(ne) < 0.005] = NATIONAL_QUOTED_TITLE
    fields = _strings([EVENT_FIELDS[EVENT_TYPES[t]][0] for t in types.tolist()])

    # attendance: every event keeps a list; persons drawn with a stride coprime to the pool
    ea = np.repeat(np.arange(ne), total)
    j = _sequence(total) - 1
    strides = np.array([s for s in range(7, 400) if np.gcd(s, NATIONAL_PERSON_POOL) == 1])
    offset = rng.integers(0, NATIONAL_PERSON_POOL, size=ne)
    stride = rng.choice(strides, size=ne)
    person = (offset[ea] + j * stride[ea]) % NATIONAL_PERSON_POOL
    role = NATIONAL_ROLE_OF[person % 20]
    by_role = np.bincount(ea * 4 + role, minlength=ne * 4).reshape(ne, 4)
    person_key = ("P" + ags[district[ea]] + "-" + _strings([f"{p:04d}" for p in person.tolist()]))
    feeds["attendance"] = _Rows(district[ea], {
        "event_id": event_id[ea].copy(), "person_key": person_key, "role": _strings(np.array(ROLES)[role])})

    days = _sorted_days(rng, quarter, district)
    feeds["events"] = _Rows(district, {
        "event_id": event_id, "date": _iso(days), "event_type": _strings(np.array(EVENT_TYPES)[types]),
        "title": titles, "municipality": "Gemeinde " + _fmt_int(rng.integers(1, 25, size=ne)),
        "field": fields, "supra_regional": _strings(np.where(rng.random(ne) < 0.08, "true", "false")),
        "participants_total": _fmt_int(total), "participants_volunteer": _fmt_int(by_role[:, 0]),
        "participants_staff": _fmt_int(by_role[:, 1]), "participants_newcomer": _fmt_int(by_role[:, 2]),
        "notes": _strings(np.where(rng.random(ne) < 0.1, "mit Dolmetschung", ""))})

    # advice
    per = rng.integers(50, 71, size=nd)
    district = np.repeat(np.arange(nd), per)
    na = len(district)
    client = np.floor(NATIONAL_CLIENT_POOL * rng.random(na) ** 2).astype(int)  # regulars come back
    kind = np.array(["person"] * 7 + ["group"] * 2 + ["organisation"])[client % 10]
    topics = _strings([ADVICE_TOPICS[k][i % len(ADVICE_TOPICS[k])] for k, i in
                       zip(kind.tolist(), rng.integers(0, 6, size=na).tolist())])
    feeds["advice"] = _Rows(district, {
        "case_id": "B" + ags[district] + f"-{tag}-" + _strings([f"{s:03d}" for s in _sequence(per).tolist()]),
        "date": _iso(_sorted_days(rng, quarter, district)), "client_type": _strings(kind),
        "client_key": "C" + ags[district] + "-" + _strings([f"{c:03d}" for c in client.tolist()]),
        "topic": topics, "duration_min": _fmt_int(15 * rng.integers(2, 9, size=na))})

    # newsletters
    per = rng.integers(1, 4, size=nd)
    district = np.repeat(np.arange(nd), per)
    nn = len(district)
    seq = _sequence(per)
    feeds["newsletters"] = _Rows(district, {
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
    reached[ranged] = _strings([f"{a}-{a + 10}" if i % 2 else f"{a} – {a + 10}"
                                for i, a in enumerate(low[ranged].tolist())])
    feeds["micro_projects"] = _Rows(district, {
        "project_id": "M" + ags[district] + f"-{tag}-" + _fmt_int(_sequence(per)),
        "applicant": "Verein " + _fmt_int(rng.integers(1, 60, size=nm)) + " e.V.",
        "approved_date": _iso(_sorted_days(rng, quarter, district)),
        "amount_eur": _strings([f"{a:.2f}" for a in (np.round(rng.uniform(200, 1000, nm) * 2) / 2).tolist()]),
        "cost_category": _strings(np.array(("travel", "fees", "rooms", "materials", "other"))[
            rng.choice(5, size=nm, p=(0.15, 0.3, 0.15, 0.3, 0.1))]),
        "volunteers": _fmt_int(rng.integers(1, 13, size=nm)), "newcomers_reached": reached,
        "status": _strings(np.array(("approved", "completed", "cancelled"))[
            rng.choice(3, size=nm, p=(0.45, 0.5, 0.05))])})

    # survey: programme and comparison districts; baseline in the first half, follow-up after
    everyone = np.array(plan.districts + plan.comparison, dtype=object)
    per = rng.integers(40, 61, size=len(everyone))
    district = np.repeat(np.arange(len(everyone)), per)
    ns = len(district)
    follow_up = n >= len(plan.quarters) / 2
    in_programme = district < nd
    group = rng.choice(3, size=ns, p=SURVEY_GROUP_SHARES)
    columns = {"response_id": "S" + everyone[district] + f"-{tag}-" + _strings([f"{s:03d}" for s in _sequence(per).tolist()]),
               "date": _iso(_sorted_days(rng, quarter, district)),
               "wave": _strings(np.full(ns, "follow_up" if follow_up else "baseline")),
               "group": _strings(np.array(SURVEY_GROUPS)[group])}
    for item in SURVEY_ITEMS:
        shift = np.array([SURVEY_GROUP_SHIFT[g][item] for g in SURVEY_GROUPS])[group]
        change = (SURVEY_TREND[item] + SURVEY_EFFECT[item] * in_programme) if follow_up else 0.0
        score = np.clip(np.rint(SURVEY_BASE[item] + shift + change + rng.normal(0, SURVEY_SD, ns)), 1, 5).astype(int)
        text = _fmt_int(score)
        text[rng.random(ns) < SURVEY_MISSING] = ""
        columns[item] = text
    feeds["survey"] = _Rows(district, columns)

    _plant_national_faults(rng, feeds, quarter, n, plan)
    return feeds


def _plant_national_faults(rng, feeds: dict[str, _Rows], quarter: str, n: int, plan: NationalPlan) -> None:
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
                rows.set("event_id", hit, _strings([e.rsplit("-", 1)[0] + "-999" for e in c["event_id"][hit]]))
            case "duplicate_person":
                rows.set("person_key", hit, c["person_key"][hit - 1])


def _national_extras(feeds: dict[str, _Rows], n: int, quarter: str, plan: NationalPlan) -> None:
    """Late records and corrections: offices that report last quarter's event only now (no list
    kept), or resend last quarter's third event recounted. Both go at the end of the events file."""
    if n == 0:
        return
    previous = _qtag(_previous_quarter(quarter))
    q_start = np.datetime64(quarter_bounds(quarter)[0])
    events = feeds["events"]
    first = np.flatnonzero(np.r_[True, events.district[1:] != events.district[:-1]])
    late = first[(events.district[first] % 25) == 5]
    fixed = first[(events.district[first] % 30) == 9]
    source = np.r_[late, fixed]
    ags = np.array(plan.districts, dtype=object)[events.district[source]]
    extra = {name: values[source].copy() for name, values in events.columns.items()}
    extra["event_id"] = "E" + ags + f"-{previous}-" + _strings(["L01"] * len(late) + ["003"] * len(fixed))
    extra["date"] = _strings([str(q_start - 2)] * len(late) + [str(q_start - 20)] * len(fixed))
    total = np.array([int(t) if t else 0 for t in extra["participants_total"].tolist()], dtype=int)
    extra["participants_total"] = _fmt_int(total + 2)
    events.columns = {name: np.concatenate([values, extra[name]]) for name, values in events.columns.items()}
    events.district = np.concatenate([events.district, events.district[source]])
    events.n = len(events.district)


def _render(rows: _Rows, header: tuple[str, ...], index: np.ndarray) -> list[str]:
    """CSV lines (no line end) of these rows in this header's column order; quotes where needed."""
    parts = []
    for name in header:
        values = rows.columns[name][index] if name in rows.columns else _strings(np.full(len(index), ""))
        if name == "title" or name == "applicant":
            needs = np.array([("," in v) or ('"' in v) for v in values.tolist()], dtype=bool)
            if needs.any():
                values = values.copy()
                values[needs] = _strings(['"' + v.replace('"', '""') + '"' for v in values[needs].tolist()])
        parts.append(values)
    line = parts[0]
    for p in parts[1:]:
        line = line + "," + p
    return line.tolist()


def _write_national_quarter(inbox: Path, plan: NationalPlan, n: int, quarter: str, seed: int) -> list[Path]:
    feeds = _national_quarter_rows(plan, n, quarter, seed)
    _national_extras(feeds, n, quarter, plan)
    rng = _rng(seed, 7, 1000 + n)
    everyone = plan.districts + plan.comparison
    nd = len(plan.districts)
    received = rng.integers(5, 40, size=len(everyone))  # days after the quarter; some miss the 30-day deadline
    q_end = quarter_bounds(quarter)[1]
    written = []
    for feed, rows in feeds.items():
        order = np.argsort(rows.district, kind="stable")
        bounds = np.searchsorted(rows.district[order], np.arange(len(everyone) + 1))
        variants = NATIONAL_HEADERS[feed]
        for d in range(len(everyone)):
            index = order[bounds[d]:bounds[d + 1]]
            if not len(index):
                continue
            header = variants[(d * 7 + 3) % len(variants)] if len(variants) > 1 else variants[0]
            lines = _render(rows, header, index)
            if feed == "attendance" and d == 17 % nd and n == min(4, len(plan.quarters) - 1):
                # One office exports its sign-in sheet with e-mail addresses: the file is set aside.
                header = header + ("email",)
                lines = [f"{line},teilnehmer{i}@example.org" for i, line in enumerate(lines)]
            if feed == "events" and d == (3 * n) % nd and len(lines) > 10:
                lines.insert(len(lines) // 2, "")  # a clerk left an empty row between the months
            newline = "\r\n" if d % 40 == 11 else "\n"
            text = newline.join([",".join(header), *lines]) + newline
            data = text.encode("utf-8")
            if d % 50 == 7:
                data = b"\xef\xbb\xbf" + data  # "CSV UTF-8" from Excel carries a byte-order mark
            path = inbox / f"{everyone[d]}_{quarter}_{feed}.csv"
            path.write_bytes(data)
            when = dt.datetime.combine(q_end + dt.timedelta(days=int(received[d])), dt.time(RECEIPT_HOUR_UTC),
                                       tzinfo=dt.timezone.utc)
            _set_received(path, when)
            written.append(path)
    return written

