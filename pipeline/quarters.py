"""Reporting quarters as people see them (YYYY-Qn) and as partition keys (their first day)."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

QUARTER_PATTERN = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
FIRST_QUARTER_START = "2017-01-01"  # the earliest shipped programme (bpb-lsa-2017) begins 2017-03


def quarter_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_bounds(quarter: str) -> tuple[dt.date, dt.date]:
    m = QUARTER_PATTERN.match(quarter)
    if not m:
        raise ValueError(f"not a quarter: {quarter!r}")
    year, n = int(m.group(1)), int(m.group(2))
    start = dt.date(year, 3 * n - 2, 1)
    end = dt.date(year + (n == 4), (3 * n) % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def shift_quarter(quarter: str, by: int) -> str:
    """The quarter `by` quarters after this one (before it when negative): 2024-Q4 + 1 -> 2025-Q1."""
    start = quarter_bounds(quarter)[0]
    index = start.year * 4 + (start.month - 1) // 3 + by
    return f"{index // 4}-Q{index % 4 + 1}"


def next_quarter(quarter: str) -> str:
    return shift_quarter(quarter, 1)


def previous_quarter(quarter: str) -> str:
    return shift_quarter(quarter, -1)


def quarters_between(first: str, last: str) -> list[str]:
    """first, ..., last (both included; empty when last comes before first)."""
    quarters = []
    while quarter_bounds(first)[0] <= quarter_bounds(last)[0]:
        quarters.append(first)
        first = next_quarter(first)
    return quarters


def quarter_sql(day: str) -> str:
    """The same YYYY-Qn text in DuckDB SQL, for a DATE (or TIMESTAMP) expression `day`."""
    return f"(strftime({day}, '%Y') || '-Q' || CAST(quarter({day}) AS VARCHAR))"


def key_to_quarter(partition_key: str) -> str:
    """Partition key 2024-04-01 -> 2024-Q2."""
    return quarter_of(dt.date.fromisoformat(partition_key))


def quarter_to_key(quarter: str) -> str:
    return quarter_bounds(quarter)[0].isoformat()


def reporting_range(today: dt.date | None = None) -> tuple[str, str]:
    """The quarters a delivery may be for: the first programme's quarter to the running one (in
    Berlin time, as the Dagster partitions count them: assets/partitions.py)."""
    today = today or dt.datetime.now(ZoneInfo("Europe/Berlin")).date()
    return key_to_quarter(FIRST_QUARTER_START), quarter_of(today)
