"""The one quarter module: stepping, spans and the SQL twin of quarter_of."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipeline.quarters import (next_quarter, previous_quarter, quarter_bounds, quarter_of, quarter_sql,
                               quarters_between, shift_quarter)


def test_shift_crosses_years_both_ways():
    assert next_quarter("2024-Q4") == "2025-Q1"
    assert previous_quarter("2025-Q1") == "2024-Q4"
    assert shift_quarter("2021-Q1", -5) == "2019-Q4"
    assert shift_quarter("2021-Q3", 0) == "2021-Q3"
    with pytest.raises(ValueError):
        next_quarter("2021-Q5")


def test_quarters_between_includes_both_ends_and_is_empty_when_reversed():
    assert quarters_between("2023-Q3", "2024-Q2") == ["2023-Q3", "2023-Q4", "2024-Q1", "2024-Q2"]
    assert quarters_between("2024-Q2", "2024-Q2") == ["2024-Q2"]
    assert quarters_between("2024-Q2", "2024-Q1") == []


def test_quarters_between_matches_walking_the_days():
    # The loop the demo and the dashboards wrote by hand: the quarter of each day from start to end.
    start, end = dt.date(2017, 3, 1), dt.date(2020, 11, 30)
    walked, day = [], start
    while day <= end:
        walked.append(quarter_of(day))
        day = quarter_bounds(quarter_of(day))[1] + dt.timedelta(days=1)
    assert quarters_between(quarter_of(start), quarter_of(end)) == walked


def test_quarter_sql_agrees_with_quarter_of():
    days = [dt.date(2019, 1, 1), dt.date(2019, 3, 31), dt.date(2019, 4, 1), dt.date(2020, 12, 31)]
    con = duckdb.connect()
    con.execute("CREATE TABLE d (day DATE)")
    con.executemany("INSERT INTO d VALUES (?)", [(d,) for d in days])
    got = [row[0] for row in con.execute(f"SELECT {quarter_sql('day')} FROM d ORDER BY day").fetchall()]
    assert got == [quarter_of(d) for d in days]
