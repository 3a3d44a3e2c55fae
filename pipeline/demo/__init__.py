"""Realistic, deterministic sample deliveries for demos, tests, benchmarks and the conference dashboards.

`write_demo` (inbox.py) fills a home's inbox with what the districts of the catalogue would send
over their programme periods: one delivery per district and quarter, in the three shapes real
offices produce (UTF-8 CSV with English headers, Windows-1252 `;` CSV with German headers and
decimal commas, Excel workbooks with German sheet names). A handful of planted faults, spread over
a few districts, give the quality report something to say; `PLANTED_FAULTS` (faults.py) documents
them.

Everything derives from the seed: each district and each (district, quarter) draws from its own
random stream, so a change to one feed's generator does not reshuffle every other file, and two
runs with the same seed produce byte-identical files with identical modification times (the
pipeline reads the mtime as "received at").

`write_national` (national.py) writes a synthetic national-scale home for `make bench`: 400
districts' deliveries and the catalogue they belong to.

Only the `teilhabe demo` command, the benchmark and tests import this package; the pipeline's
runtime modules never do.

    offices.py      the offices' habits, pseudonym pools and delivery slots
    deliveries.py   the rows each slot delivers, feed by feed
    faults.py       the planted faults
    files.py        writing CSV and XLSX as offices do
    inbox.py        write_demo: all of the above, plus a re-delivery and a misnamed draft
    approvals.py    approve_demo and write_correction: approved quarters and one changed since approval
    common.py       vocabulary and random streams shared with the national generator
    national_rows.py, national.py   the national plan, its vectorised rows, its files
"""
from pipeline.demo.approvals import approve_demo, write_correction
from pipeline.demo.faults import PLANTED_FAULTS
from pipeline.demo.files import GERMAN_ENUM_PREFERRED, GERMAN_HEADERS
from pipeline.demo.inbox import MISNAMED_FILE, REDELIVERY, write_demo
from pipeline.demo.national import write_national
from pipeline.demo.national_rows import NationalPlan, national_plan

__all__ = ["approve_demo", "write_correction", "GERMAN_ENUM_PREFERRED", "GERMAN_HEADERS", "MISNAMED_FILE", "PLANTED_FAULTS", "REDELIVERY", "NationalPlan",
           "national_plan", "write_demo", "write_national"]
