"""Reporting quarters as Dagster partitions: time windows with a quarterly cron.

Keys are the quarter's first day (2024-04-01); people see YYYY-Qn (pipeline.quarters).
"""
from __future__ import annotations

import dagster as dg

from pipeline.quarters import FIRST_QUARTER_START, key_to_quarter

QUARTER_CRON = "0 0 1 1,4,7,10 *"


def quarter_partitions(start: str = FIRST_QUARTER_START) -> dg.TimeWindowPartitionsDefinition:
    # end_offset=1: the running quarter exists too, so an early delivery has a partition.
    return dg.TimeWindowPartitionsDefinition(cron_schedule=QUARTER_CRON, start=start, fmt="%Y-%m-%d",
                                             timezone="Europe/Berlin", end_offset=1)


QUARTERS = quarter_partitions()


def quarter_range() -> tuple[str, str]:
    """The reporting range as quarters: the first partition to the running quarter."""
    keys = QUARTERS.get_partition_keys()
    return key_to_quarter(keys[0]), key_to_quarter(keys[-1])
