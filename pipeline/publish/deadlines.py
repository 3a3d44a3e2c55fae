"""Which district × quarter deliveries are due, on time, late or missing (a reporting-rate table).

Expected: every programme district for every quarter that overlaps its programme period and has
ended. Comparison districts deliver survey waves only, so no quarterly delivery is expected of them.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipeline import warehouse
from pipeline.catalogue import Catalogue
from pipeline.quarters import quarter_bounds, quarter_of

STATUSES = ("on_time", "late", "missing", "open")


def deadline(catalogue: Catalogue, quarter: str) -> dt.date:
    own = dict(catalogue.deadlines.quarters)
    return own.get(quarter) or quarter_bounds(quarter)[1] + dt.timedelta(days=catalogue.deadlines.days_after_quarter_end)


def expected_deliveries(catalogue: Catalogue, as_of: dt.date) -> pd.DataFrame:
    rows = set()
    for programme in catalogue.programmes:
        quarter = quarter_of(programme.start)
        while quarter_bounds(quarter)[0] <= programme.end and quarter_bounds(quarter)[1] < as_of:
            rows.update((ags, quarter) for ags in programme.districts)
            quarter = quarter_of(quarter_bounds(quarter)[1] + dt.timedelta(days=1))
    frame = pd.DataFrame(sorted(rows), columns=["district_ags", "quarter"])
    frame["deadline"] = frame["quarter"].map({q: deadline(catalogue, q) for q in frame["quarter"].unique()})
    return frame


def delivery_status(con, catalogue: Catalogue, as_of: dt.date) -> pd.DataFrame:
    """One row per expected delivery: first receipt of a readable file, deadline and status."""
    expected = expected_deliveries(catalogue, as_of)
    received = warehouse.fetch_df(con, """
        SELECT district_ags, quarter, CAST(min(received_at) AS DATE) AS first_received, count(*) AS files
        FROM receipts WHERE status = 'loaded' GROUP BY ALL""")
    frame = expected.merge(received, how="left", on=["district_ags", "quarter"])
    frame["files"] = frame["files"].fillna(0).astype("int64")
    first, due = pd.to_datetime(frame["first_received"]), pd.to_datetime(frame["deadline"])
    frame["status"] = np.select([first.notna() & (first <= due), first.notna(), due < pd.Timestamp(as_of)],
                                ["on_time", "late", "missing"], "open")
    frame["first_received"] = first.dt.date  # a day, as the deadline is (the CSV shows no time)
    frame["district_name"] = frame["district_ags"].map(
        {a: catalogue.district_name(a) for a in frame["district_ags"].unique()})
    return frame.sort_values(["quarter", "district_ags"]).reset_index(drop=True)
