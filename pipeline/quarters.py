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
