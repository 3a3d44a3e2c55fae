"""Published and working state (contract section 5), and the audit trail per indicator value.

Published: per programme, the quarter rows of its standing approvals, each as it was approved
(approved_values), and the programme-to-date `total` rows of its latest standing approval. A
quarter never approved, or reopened, is not published; a quarter `changed since approval` keeps
its approved rows until approved again. A home without any approval has no approval workflow
yet: its published state is its working state (what every run computed), as before approvals
existed. `up_to`: the state as it stood after that log entry (`teilhabe publish --as-of`).

Working: indicator_values as computed now, each row marked `same`, `differs` or
`not_published` against the published row of the same key (vs_published).

Audit: per district value of a quarter, the deliveries (feed, file, SHA-256, received at) whose
current records of that district and quarter the indicator reads; an ALL row's deliveries are
those of its districts, a `total`'s those of its quarters (not repeated, to keep the file linear
in the number of values). For published values, the deliveries the approval was given on.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from pipeline.approval.log import APPROVED, contributions_sql, has_approvals
from pipeline.indicators import ALL, ALL_COMPARISON, COLUMNS, TABLE, TOTAL, IndicatorCatalogue
from pipeline.indicators.engine import BREAKDOWN_COLUMNS, BREAKDOWN_TABLE
from pipeline.warehouse import q, table_exists

MARK = "vs_published"
SAME, DIFFERS, NOT_PUBLISHED = "same", "differs", "not_published"
APPROVAL_COLUMNS = ("approval_id", "approved_on")
KEYS = ("programme_id", "indicator_id", "district_ags", "comparison", "period")
AUDIT_COLUMNS = (*KEYS, "feed", "file_name", "sha256", "received_at")


@dataclass(frozen=True)
class Publication:
    values: str              # a relation (table name or parenthesised SELECT) shaped like indicator_values
    breakdowns: str | None   # likewise for indicator_breakdowns; None: none
    datenstand: dt.date | None  # the date of the latest approval in it; None: the working state
    approval_id: int | None  # the latest log entry it includes
    approved: bool           # False: no approval yet, the working state is published

    @property
    def extra(self) -> tuple[str, ...]:
        return APPROVAL_COLUMNS if self.approved else ()


def _standing(up_to: int) -> str:
    """The standing approvals after log entry `up_to` (a reopened quarter has none)."""
    return f"""(SELECT * FROM approvals WHERE approval_id <= {int(up_to)}
               QUALIFY row_number() OVER (PARTITION BY programme_id, quarter ORDER BY approval_id DESC) = 1
                   AND action = '{APPROVED}')"""


def _approved_rows(table: str, up_to: int) -> str:
    return f"""(WITH standing AS {_standing(up_to)},
                latest AS (SELECT programme_id, max(approval_id) AS approval_id FROM standing GROUP BY 1)
                SELECT v.*, CAST(s.approved_at AS DATE) AS approved_on FROM {table} v
                JOIN standing s ON s.approval_id = v.approval_id AND v.period = s.quarter
                UNION ALL
                SELECT v.*, CAST(s.approved_at AS DATE) AS approved_on FROM {table} v
                JOIN latest l ON l.approval_id = v.approval_id AND v.period = '{TOTAL}'
                JOIN standing s ON s.approval_id = l.approval_id)"""


def latest_entry(con) -> int | None:
    if not has_approvals(con):
        return None
    return con.execute("SELECT max(approval_id) FROM approvals").fetchall()[0][0]


def publication(con, up_to: int | None = None) -> Publication:
    """What is published after log entry `up_to` (None: now)."""
    if not has_approvals(con):
        return Publication(TABLE, BREAKDOWN_TABLE if table_exists(con, BREAKDOWN_TABLE) else None, None, None, False)
    up_to = latest_entry(con) if up_to is None else up_to
    day = con.execute(f"SELECT CAST(max(approved_at) AS DATE) FROM approvals WHERE approval_id <= ? "
                      f"AND action = '{APPROVED}'", [up_to]).fetchall()[0][0]
    breakdowns = _approved_rows("approved_breakdowns", up_to) if table_exists(con, "approved_breakdowns") else None
    return Publication(_approved_rows("approved_values", up_to), breakdowns, day, up_to, True)


def entry_for(con, as_of: str) -> int:
    """The log entry a `--as-of` names: an approval id, or a date (YYYY-MM-DD: the last entry of
    that day or before). LookupError when there is none."""
    if not has_approvals(con):
        raise LookupError("no approval yet")
    if as_of.isdigit():
        found = con.execute("SELECT approval_id FROM approvals WHERE approval_id = ?", [int(as_of)]).fetchall()
    else:
        day = dt.date.fromisoformat(as_of)
        found = con.execute("SELECT max(approval_id) FROM approvals WHERE CAST(approved_at AS DATE) <= ? "
                            "HAVING count(*) > 0", [day]).fetchall()
    if not found:
        raise LookupError(as_of)
    return found[0][0]


def export_rows(con, pub: Publication) -> str:
    """SELECT of the published complete table: overall rows, then breakdown rows, with the
    approval each row comes from."""
    extra = ", ".join(q(c) for c in pub.extra)
    tail = f", {extra}" if extra else ""
    overall = f"SELECT {', '.join(q(c) for c in COLUMNS)}, NULL AS breakdown, NULL AS breakdown_value{tail} FROM {pub.values}"
    if pub.breakdowns is None:
        return overall
    cells = ", ".join(q(c) if c in BREAKDOWN_COLUMNS else f"NULL AS {q(c)}" for c in COLUMNS)
    return f"{overall} UNION ALL SELECT {cells}, breakdown, breakdown_value{tail} FROM {pub.breakdowns}"


# Compared rounded: the same records summed again may differ in the last bits of a double.
_COMPARED = [c for c in COLUMNS if c not in KEYS]


def _same(column: str) -> str:
    if column in ("value", "value_high", "ci_low", "ci_high", "target", "attainment_pct", "elapsed_share", "per_10k"):
        return f"round(w.{q(column)}, 9) IS NOT DISTINCT FROM round(p.{q(column)}, 9)"
    return f"w.{q(column)} IS NOT DISTINCT FROM p.{q(column)}"


def working_rows(con, working: str) -> str:
    """SELECT of the working complete table (`working`: its rows, e.g. exports.with_breakdowns)
    with the column vs_published."""
    pub = publication(con)
    if not pub.approved:
        return f"SELECT *, '{SAME}' AS {MARK} FROM ({working})"
    same = " AND ".join(_same(c) for c in _COMPARED)
    joined = " AND ".join(f"w.{q(k)} IS NOT DISTINCT FROM p.{q(k)}" for k in (*KEYS, "breakdown", "breakdown_value"))
    return f"""SELECT w.*, CASE WHEN p.programme_id IS NULL THEN '{NOT_PUBLISHED}' WHEN {same} THEN '{SAME}'
                               ELSE '{DIFFERS}' END AS {MARK}
               FROM ({working}) w LEFT JOIN ({export_rows(con, pub)}) p ON {joined}"""


# -- the audit trail -------------------------------------------------------------------------------------

def indicator_feeds(indicators: IndicatorCatalogue) -> pd.DataFrame:
    """(indicator_id, feed) for every feed an indicator's value is computed from: its feed, the
    feeds of further keys, and for a reach the events and their attendance lists."""
    rows = set()
    for i in indicators:
        d = i.definition
        feeds = {d.feed, *(k.feed for k in d.plus)}
        if d.aggregate == "reach":
            feeds |= {"events", "attendance"}
        rows |= {(i.id, f) for f in feeds}
    return pd.DataFrame(sorted(rows), columns=["indicator_id", "feed"], dtype=object)


def audit_rows(con, indicators: IndicatorCatalogue, pub: Publication | None = None) -> str:
    """SELECT of the audit trail of the working values (pub None) or of a publication's. Registers
    _indicator_feeds on `con` (the caller unregisters it after use)."""
    con.register("_indicator_feeds", indicator_feeds(indicators))
    districts = f"v.period <> '{TOTAL}' AND v.district_ags NOT IN ('{ALL}', '{ALL_COMPARISON}')"
    if pub is None or not pub.approved:
        values = pub.values if pub else TABLE
        source = f"""(SELECT c.*, r.file_name, r.sha256, r.received_at FROM ({contributions_sql()}) c
                      JOIN receipts r USING (receipt_id))"""
        matched = ""
    else:
        values, source, matched = pub.values, "approval_deliveries", " AND c.approval_id = v.approval_id"
    return f"""SELECT DISTINCT v.programme_id, v.indicator_id, v.district_ags, v.comparison, v.period, c.feed,
                      c.file_name, c.sha256, c.received_at
               FROM {values} v JOIN _indicator_feeds f ON f.indicator_id = v.indicator_id
               JOIN {source} c ON c.district_ags = v.district_ags AND c.quarter = v.period AND c.feed = f.feed{matched}
               WHERE {districts}"""
