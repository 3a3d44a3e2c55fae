"""National scale (issue 7): every rural district in Germany, synthetic, vectorised.

`write_national` writes a generated catalogue into `home/catalogue/` (programmes.yaml,
districts.csv, indicators.yaml) and, per programme district and quarter, UTF-8 CSVs with
English headers: ~40 events with ~25 attendance rows each, ~60 advice sessions, ~2 newsletters,
~3 micro-projects and ~50 survey responses; comparison districts send survey responses only.
Synthetic keys 9xxxx (programme districts) and 99xxx (comparison districts) collide with no
real AGS (real keys start 01…16). Rows are drawn with numpy per quarter for all districts at
once and rendered column-wise (national_rows.py); only the writing is per file. A sprinkle of
invalid rows of several reason codes (NATIONAL_FAULTS), a few late records and corrections,
header variants, BOMs, CRLF line ends, quoted titles, a blank line and one file with a forbidden
column make the set look like what real offices send.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import yaml

from pipeline.catalogue import SHIPPED_DIR
from pipeline.demo.common import RECEIPT_HOUR_UTC, stream
from pipeline.demo.files import set_received
from pipeline.demo.trajectories import national_trajectories
from pipeline.demo.national_rows import (NATIONAL_FIRST_QUARTER, NationalPlan, Rows, national_extras, national_plan,
                                         national_quarter_rows, strings)
from pipeline.home import Home
from pipeline.quarters import quarter_bounds

NATIONAL_STATES = ("Schleswig-Holstein", "Niedersachsen", "Nordrhein-Westfalen", "Hessen", "Rheinland-Pfalz",
                   "Baden-Württemberg", "Bayern", "Saarland", "Brandenburg", "Mecklenburg-Vorpommern",
                   "Sachsen", "Sachsen-Anhalt", "Thüringen")
NATIONAL_POPULATION_SOURCE = "synthetisch (Benchmark national), keine amtliche Zahl / synthetic, not official"

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
    "trajectories": (("observation_id", "person_key", "date", "arrival_month", "language_level", "course", "activity",
                      "advice_service"),
                     ("observation_id", "person_key", "date", "arrival_month", "language_level", "course", "activity")),
}


def write_national(home: Home, districts: int = 400, quarters: int = 20, seed: int = 2024,
                   first_quarter: str = NATIONAL_FIRST_QUARTER) -> list[Path]:
    """The national-scale demo: generated catalogue in `home/catalogue`, deliveries in the inbox."""
    plan = national_plan(districts, quarters, first_quarter)
    home.inbox.mkdir(parents=True, exist_ok=True)
    _write_national_catalogue(home.root / "catalogue", plan, seed)
    written: list[Path] = []
    paths = national_trajectories(plan.districts, plan.quarters, seed)
    for n, quarter in enumerate(plan.quarters):
        written += _write_national_quarter(home.inbox, plan, n, quarter, seed, paths[quarter])
    return sorted(written)


def _write_national_catalogue(folder: Path, plan: NationalPlan, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = stream(seed, 7, 0)
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


def _render(rows: Rows, header: tuple[str, ...], index: np.ndarray) -> list[str]:
    """CSV lines (no line end) of these rows in this header's column order; quotes where needed."""
    parts = []
    for name in header:
        values = rows.columns[name][index] if name in rows.columns else strings(np.full(len(index), ""))
        if name == "title" or name == "applicant":
            needs = np.array([("," in v) or ('"' in v) for v in values.tolist()], dtype=bool)
            if needs.any():
                values = values.copy()
                values[needs] = strings(['"' + v.replace('"', '""') + '"' for v in values[needs].tolist()])
        parts.append(values)
    line = parts[0]
    for p in parts[1:]:
        line = line + "," + p
    return line.tolist()


def _write_national_quarter(inbox: Path, plan: NationalPlan, n: int, quarter: str, seed: int,
                            paths: tuple[np.ndarray, dict[str, np.ndarray]]) -> list[Path]:
    feeds = national_quarter_rows(plan, n, quarter, seed)
    national_extras(feeds, n, quarter, plan)
    feeds["trajectories"] = Rows(*paths)
    rng = stream(seed, 7, 1000 + n)
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
            set_received(path, when)
            written.append(path)
    return written
