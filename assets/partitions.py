"""Reporting quarters as Dagster partitions: time windows with a quarterly cron.

Keys are the quarter's first day (2024-04-01); people see YYYY-Qn (pipeline.quarters).
"""
from __future__ import annotations

import dagster as dg

from pipeline.quarters import FIRST_QUARTER_START

QUARTER_CRON = "0 0 1 1,4,7,10 *"


def quarter_partitions(start: str = FIRST_QUARTER_START) -> dg.TimeWindowPartitionsDefinition:
    # end_offset=1: the running quarter exists too, so an early delivery has a partition. The keys
    # span pipeline.quarters.reporting_range(), which the intake and `teilhabe check` apply.
    return dg.TimeWindowPartitionsDefinition(cron_schedule=QUARTER_CRON, start=start, fmt="%Y-%m-%d",
                                             timezone="Europe/Berlin", end_offset=1)


QUARTERS = quarter_partitions()
