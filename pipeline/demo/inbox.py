"""`write_demo`: plan the offices' deliveries, plant the faults, write the files, then the two
extra files (a re-delivery and a misnamed draft)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.catalogue import Catalogue, load_catalogue
from pipeline.contract import load_contract
from pipeline.demo.common import qtag, stream
from pipeline.demo.deliveries import draw_event, plan_deliveries
from pipeline.demo.faults import PLANTED_FAULTS
from pipeline.demo.files import set_received, write_csv, write_delivery, write_workbook
from pipeline.demo.trajectories import add_demo_trajectories
from pipeline.demo.offices import CSV_DE, Office, all_districts, office_of
from pipeline.home import Home
from pipeline.quarters import quarter_bounds

MISNAMED_FILE = "Lieferung_Q3_final.xlsx"
# The workbook's events sheet is replaced by a CSV sent a few days later.
REDELIVERY = ("15085", "2019-Q2", 4)  # district, quarter, days after the workbook


def write_demo(home: Home, catalogue: Catalogue | None = None, seed: int = 2024) -> list[Path]:
    """Write the demo deliveries into `home.inbox`; return the written paths, sorted."""
    catalogue = catalogue or load_catalogue(home.catalogue_dir)
    home.inbox.mkdir(parents=True, exist_ok=True)
    offices = {ags: office_of(ags, catalogue, seed) for ags in all_districts(catalogue)}
    deliveries = plan_deliveries(catalogue, offices, seed)
    for ags, quarter, plant, _ in PLANTED_FAULTS:
        if (ags, quarter) in deliveries:
            plant(deliveries, (ags, quarter), offices[ags], stream(seed, int(ags), 99))
    add_demo_trajectories(deliveries, catalogue, offices, seed)
    written = [path for d in deliveries.values() for path in write_delivery(home.inbox, d)]
    written += _write_redelivery(home.inbox, deliveries, offices, seed)
    written += _write_misnamed_file(home.inbox, deliveries)
    return sorted(written)


def _write_redelivery(inbox: Path, deliveries, offices: dict[str, Office], seed: int) -> list[Path]:
    ags, quarter, delay = REDELIVERY
    original = deliveries.get((ags, quarter))
    if original is None or "events" not in original.feeds:
        return []
    rng = stream(seed, int(ags), 98)
    events = [{**e} for e in original.feeds["events"]]
    events[1]["participants_total"] += 3  # the fix that prompted the resend
    q_end = quarter_bounds(quarter)[1]
    events.append(draw_event(rng, offices[ags], q_end - dt.timedelta(days=3),
                              f"{offices[ags].code}-{qtag(quarter)}-{len(events) + 1:02d}"))
    # Saved from Excel as "CSV (Trennzeichen-getrennt)": Windows-1252 with semicolons.
    path = inbox / f"{ags}_{quarter}_events.csv"
    write_csv(path, load_contract().feeds["events"], events, CSV_DE)
    set_received(path, original.received + dt.timedelta(days=delay))
    return [path]


def _write_misnamed_file(inbox: Path, deliveries) -> list[Path]:
    # Someone at Prignitz saved a draft under a name of their own; it must be set aside whole.
    source = deliveries.get(("12070", "2019-Q3"))
    if source is None:
        return []
    path = inbox / MISNAMED_FILE
    write_workbook(path, {"events": source.feeds["events"][:3]}, month_gaps=False)
    set_received(path, source.received + dt.timedelta(days=1))
    return [path]
