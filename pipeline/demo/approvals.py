"""The demo's approvals: some quarters approved, one changed since approval (docs/approval.md).

After the demo's first run, `teilhabe demo --approvals` approves every programme-quarter with
figures except each programme's latest (left open, as an evaluator would before checking it),
then writes a corrected re-delivery of one approved quarter into the inbox: Stendal's events of
lzz-2's second quarter, one event's participants corrected. The next run receives it, and that
quarter is `changed since approval`: its published figures stay as approved, the working
export marks the rows that differ.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.approval import approve, states
from pipeline.catalogue import Catalogue
from pipeline.contract import load_contract
from pipeline.demo.common import stream
from pipeline.demo.deliveries import plan_deliveries
from pipeline.demo.faults import PLANTED_FAULTS
from pipeline.demo.files import set_received, write_csv
from pipeline.demo.offices import CSV_DE, all_districts, office_of
from pipeline.home import Home
from pipeline.quarters import quarter_of, quarters_between

DEMO_BY = "Evaluationsteam (Demo)"
CORRECTED = ("lzz-2", "15090", 1)  # programme, district, which of its quarters (0: the first)


def approve_demo(con, catalogue: Catalogue, by: str = DEMO_BY, keep=None) -> list[int]:
    """Approve every programme-quarter with figures but each programme's latest; returns the ids.
    `keep`: as for `approve` (the archive's copy of each entry)."""
    listed = states(con, catalogue)
    ids = []
    for programme_id, part in listed.groupby("programme_id", sort=False):
        for quarter in sorted(part["quarter"])[:-1]:
            ids.append(approve(con, catalogue, programme_id, quarter, by,
                               "Demo: geprüft, Lieferungen vollständig / checked, deliveries complete", keep=keep))
    return ids


def corrected_quarter(catalogue: Catalogue) -> tuple[str, str, str]:
    """(programme, district, quarter) of the demo's correction."""
    programme_id, ags, n = CORRECTED
    programme = catalogue.programme(programme_id)
    return programme_id, ags, quarters_between(quarter_of(programme.start), quarter_of(programme.end))[n]


def write_correction(home: Home, catalogue: Catalogue, seed: int = 2024) -> Path | None:
    """The corrected events of the demo's corrected quarter as a CSV, received 120 days after the
    quarter's first delivery (the latest of its feed); None when the demo has no such delivery."""
    _, ags, quarter = corrected_quarter(catalogue)
    offices = {a: office_of(a, catalogue, seed) for a in all_districts(catalogue)}
    deliveries = plan_deliveries(catalogue, offices, seed)
    for fault_ags, fault_quarter, plant, _ in PLANTED_FAULTS:  # as write_demo planned them
        if (fault_ags, fault_quarter) in deliveries:
            plant(deliveries, (fault_ags, fault_quarter), offices[fault_ags], stream(seed, int(fault_ags), 99))
    original = deliveries.get((ags, quarter))
    if original is None or not original.feeds.get("events"):
        return None
    events = [{**e} for e in original.feeds["events"]]
    events[0]["participants_total"] = int(events[0]["participants_total"] or 0) + 7  # counted again
    path = home.inbox / f"{ags}_{quarter}_events.csv"
    write_csv(path, load_contract().feeds["events"], events, CSV_DE)
    set_received(path, original.received + dt.timedelta(days=120))
    return path
