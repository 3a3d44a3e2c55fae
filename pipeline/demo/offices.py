"""The demo's district offices and their plan: how each office sends its files, the pseudonym pools
it draws from, and which (district, quarter) slots it owes a delivery for."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from pipeline.catalogue import Catalogue
from pipeline.demo.common import stream
from pipeline.quarters import quarter_bounds, quarter_of, quarters_between

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
    # Ludwigslust-Parchim: municipalities of its five illustrative regions (places.yaml) as offices
    # write them - with and without "Stadt", umlauts spelled out, a municipality key - and a few
    # that name no municipality of the district (an Amt, a village part, the neighbouring city),
    # which the pipeline keeps and reports as the warning unknown_municipality.
    "13076": ("Parchim", "Stadt Parchim", "Ludwigslust", "Ludwigslust, Stadt", "Hagenow", "Boizenburg",
              "Boizenburg/Elbe", "Luebz", "Lübz", "Plau am See", "Goldberg", "Crivitz", "Stadt Sternberg",
              "Brüel", "Banzkow", "Grabow", "Doemitz", "Neustadt Glewe", "Wittenburg", "Zarrentin",
              "Lübtheen", "Pampow", "Stralendorf", "13076050", "13076025", "Amt Ludwigslust-Land", "Schwerin"),
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

# Pool sizes leave room for the largest event (45) even when one role dominates.
PERSON_POOL = {"volunteer": 90, "staff": 60, "newcomer": 170, "other": 60}


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
    waves: list["SurveySlot"] = field(default_factory=list)


@dataclass(frozen=True)
class SurveySlot:
    """One survey wave a district fields in a quarter: the value written in `wave`, whether the
    district is a programme district, whether the wave lies after the programme's start, and for
    a wave before it how many waves it lies before the last one (the planted pre-trend's steps)."""
    wave: str
    in_programme: bool
    after_start: bool
    steps_before: int = 0


@dataclass
class Delivery:
    ags: str
    quarter: str
    style: str
    received: dt.datetime
    feeds: dict[str, list[dict]]  # contract order; an XLSX gets a sheet even for an empty feed


def all_districts(catalogue: Catalogue) -> list[str]:
    return sorted({a for p in catalogue.programmes for a in p.districts + p.comparison_districts})


def plan_slots(catalogue: Catalogue) -> dict[tuple[str, str], Slot]:
    slots: dict[tuple[str, str], Slot] = {}
    for p in catalogue.programmes:
        for ags in p.districts:
            for quarter in quarters_between(quarter_of(p.start), quarter_of(p.end)):
                q_start, q_end = quarter_bounds(quarter)
                slot = slots.setdefault((ags, quarter), Slot(ags, quarter))
                lo, hi = max(q_start, p.start), min(q_end, p.end)
                # A district in two programmes delivers once per quarter, covering both periods.
                slot.window = (min(lo, slot.window[0]), max(hi, slot.window[1])) if slot.window else (lo, hi)
        if not p.comparison_districts:
            continue
        # Numbered waves where the catalogue lists them (at their dates), else baseline at the
        # start and follow-up at the end.
        if p.survey_waves:
            pre = sum(w.before_start for w in p.survey_waves)
            # The districts write the numbers of the extra waves and the two-wave words for the
            # last wave before the start and the last wave (deliveries.md allows both; the survey
            # indicators per wave count `baseline` / `follow_up`).
            label = {p.wave_phase(word)[0]: word for word in ("baseline", "follow_up")}
            waves = [(quarter_of(w.date), label.get(w.number, str(w.number)), not w.before_start,
                      max(pre - 1 - i, 0)) for i, w in enumerate(p.survey_waves)]
        else:
            waves = [(quarter_of(p.start), "baseline", False, 0), (quarter_of(p.end), "follow_up", True, 0)]
        for ags in p.districts + p.comparison_districts:
            for quarter, wave, after, steps in waves:
                slot = slots.setdefault((ags, quarter), Slot(ags, quarter))
                slot.waves.append(SurveySlot(wave, ags in p.districts, after, steps))
    return dict(sorted(slots.items()))


def office_of(ags: str, catalogue: Catalogue, seed: int) -> Office:
    rng = stream(seed, int(ags))
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
