"""The grouped rules' sides computed together (compile.family_sql, issue 17): each figure of a
family must come out as if computed alone over the records passing its own filter."""
from __future__ import annotations

import duckdb

from pipeline.quality.compile import family_sql

ATTENDANCE = [  # district, event, person, role
    ("01001", "A", "p1", "staff"), ("01001", "A", "p1", "volunteer"),  # p1 in two roles
    ("01001", "A", "p2", "volunteer"), ("01001", "A", "p2", "volunteer"),  # p2 listed twice
    ("01001", "B", "p3", "newcomer"),
    ("01001", "B", None, "staff"),  # a row without a person: counts no person
]


def _frame(sql: str, rows, columns: str) -> dict:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({columns})")
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return {row[1]: row[2:] for row in con.execute(sql + " ORDER BY ALL").fetchall()}


def test_distinct_counts_of_one_scan_match_each_alone():
    figures = [("attendance", "event", "count_distinct", "person_key", None),
               ("attendance", "event", "count_distinct", "person_key", "role = 'volunteer'"),
               ("attendance", "event", "count_distinct", "person_key", "role = 'staff'"),
               ("attendance", "event", "count_distinct", "person_key", "role = 'volunteer' AND false")]
    sql = family_sql(("attendance", "event", "person_key"), figures, {}, "t")
    got = _frame(sql, ATTENDANCE, "district_ags VARCHAR, event_id VARCHAR, person_key VARCHAR, role VARCHAR")
    # A: persons p1, p2 -> 2; volunteers p1, p2 -> 2; staff p1 -> 1; no row passes the last -> empty.
    # B: p3 only (the row without a person counts none) -> 1; no volunteer row -> empty; the staff
    #    row has no person -> 0 (a row passes, no person in it).
    assert got == {"A": (2, 2, 1, None), "B": (1, None, 0, None)}


def test_counts_and_sums_of_one_scan_match_each_alone():
    rows = [("01001", "Q1", "person", 3), ("01001", "Q1", "person", None), ("01001", "Q1", "group", 4),
            ("01001", "Q2", "group", 5)]
    figures = [("advice", "delivery", "count", None, "client_type = 'person'"),
               ("advice", "delivery", "sum", "n", "client_type = 'person'"),
               ("advice", "delivery", "sum", "n", None)]
    sql = family_sql(("advice", "delivery", None), figures, {}, "t")
    got = _frame(sql, rows, "district_ags VARCHAR, delivery_quarter VARCHAR, client_type VARCHAR, n INTEGER")
    # Q1: 2 person rows; their n 3 + (none) = 3; all n 3 + 4 = 7.
    # Q2: no person row -> the count is empty here (the rule's side makes it 0), the sum empty; all: 5.
    assert got == {"Q1": (2, 3, 7), "Q2": (None, None, 5)}
