"""`teilhabe check`: what a district office runs before sending (contract section 6).

The files go the pipeline's own way, into a warehouse in memory: assigned by name with the same
rules (district in the catalogue, quarter in the reporting range), received by the same reader,
staged by the same screen and suite. Nothing is written anywhere. Great Expectations is
imported only when the screen flags a row, so a clean file is checked in about a second.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pipeline import warehouse
from pipeline.catalogue import Catalogue
from pipeline.contract import Contract
from pipeline.intake.inbox import Delivered, assign
from pipeline.intake.reader import FileName
from pipeline.intake.receive import receive
from pipeline.intake.stage import stage_feed
from pipeline.quality import compute_warnings
from pipeline.quarters import reporting_range


@dataclass
class FileReport:
    path: Path
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    late: int = 0
    findings: list[dict] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    ignored_sheets: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)   # the feeds the file delivered rows of

    @property
    def clean(self) -> bool:
        """No row or file rejected (warnings leave rows accepted)."""
        return not any(f["severity"] == "rejected" for f in self.findings)

    @property
    def warned(self) -> bool:
        return any(f["severity"] == "warning" for f in self.findings)


FINDINGS = """
SELECT fr.receipt_id, fr.sheet, CAST(NULL AS BIGINT) AS "row", fr."column", fr.value, fr.reason_code,
       fr.reason_de, fr.reason_en, 'rejected' AS severity, 0 AS ord
FROM file_rejections fr
UNION ALL
SELECT rr.receipt_id, s.sheet, rr.source_row, rr."column", rr.value, rr.reason_code, rr.reason_de, rr.reason_en,
       'rejected', 1
FROM row_rejections rr JOIN sheets s ON s.receipt_id = rr.receipt_id AND s.feed = rr.feed
UNION ALL
SELECT w.receipt_id, s.sheet, w.source_row, w."column", w.value, w.reason_code, w.reason_de, w.reason_en, 'warning', 2
FROM row_warnings w JOIN sheets s ON s.receipt_id = w.receipt_id AND s.feed = w.feed
ORDER BY receipt_id, ord, sheet NULLS FIRST, "row", reason_code, "column"
"""


def check_files(paths: list[Path], contract: Contract, catalogue: Catalogue, lang: str = "de",
                known_events: pd.DataFrame | None = None) -> list[FileReport]:
    """Check files together, so an attendance file can name events of an events file beside it.
    `known_events` (district_ags, event_id): events the pipeline already accepted."""
    con = duckdb.connect()
    try:
        items = stage_files(con, paths, contract, catalogue, known_events)
        return [_report(con, item, path, lang) for item, path in zip(items, paths)]
    finally:
        con.close()


def stage_files(con, paths: list[Path], contract: Contract, catalogue: Catalogue,
                known_events: pd.DataFrame | None = None) -> list[Delivered]:
    """Receive and stage these files into an empty warehouse `con` (in memory), as a run would."""
    quarters = reporting_range()
    items = [Delivered(folder=str(p.parent), name=p.name, parsed=assign(p.name, contract, catalogue, quarters))
             for p in paths]
    warehouse.ensure_schema(con)
    if known_events is not None and len(known_events):
        con.register("_known", known_events[["district_ags", "event_id"]])
        con.execute("""INSERT INTO stg_events (receipt_id, district_ags, delivery_quarter, event_id)
                       SELECT 'warehouse', CAST(district_ags AS VARCHAR), '', CAST(event_id AS VARCHAR) FROM _known""")
        con.unregister("_known")
    receive(con, None, contract, items)
    delivered = sorted({i.parsed.quarter for i in items if isinstance(i.parsed, FileName)})
    for feed in contract.feeds.values():  # events before attendance, as in the pipeline
        stage_feed(con, contract, catalogue, feed, delivered)
    # The rules judge what these files say together; outliers need the district's history,
    # which only the pipeline's warehouse has.
    compute_warnings(con, catalogue, outliers=False)
    return items


def _report(con, item: Delivered, path: Path, lang: str) -> FileReport:
    report = FileReport(path=path)
    log = con.execute("SELECT rows_read, accepted, rejected, late FROM delivery_log WHERE receipt_id = ?",
                      [item.receipt_id]).fetchall()
    if log:
        report.rows_read, report.accepted, report.rejected, report.late = map(int, log[0])
    found = con.execute(f"SELECT * FROM ({FINDINGS}) WHERE receipt_id = ?", [item.receipt_id]).df()
    for row in found.itertuples(index=False):
        report.findings.append({
            "row": None if pd.isna(row.row) else int(row.row), "sheet": row.sheet, "column": row.column,
            "value": row.value, "reason_code": row.reason_code, "severity": row.severity,
            "reason": row.reason_de if lang == "de" else row.reason_en})
    for (ignored, feed) in con.execute("SELECT ignored_columns, feed FROM sheets WHERE receipt_id = ? ORDER BY feed",
                                       [item.receipt_id]).fetchall():
        report.ignored_columns += json.loads(ignored or "[]")
        report.feeds.append(feed)
    ignored_sheets = con.execute("SELECT ignored_sheets FROM receipts WHERE receipt_id = ?",
                                 [item.receipt_id]).fetchall()
    report.ignored_sheets = json.loads(ignored_sheets[0][0] or "[]") if ignored_sheets else []
    return report


TEXT = {
    "de": {"file_line": "{name}: {read} Zeilen gelesen, {ok} angenommen, {rej} abgelehnt, {late} verspätet",
           "file_problem": "  Die ganze Datei wurde nicht übernommen", "sheet_problem": "  Blatt {sheet} wurde nicht übernommen",
           "row": "Zeile", "rows": "Zeilen", "sheet": "Blatt", "column": "Spalte", "value": "Wert", "values": "Werte",
           "ignored_cols": "  ignorierte Spalten: {}", "ignored_sheets": "  ignorierte Blätter (leer, ausgeblendet, Auswahllisten): {}",
           "attendance_alone": "  Hinweis: Teilnahmen nennen Veranstaltungen. Bitte zusammen mit der "
                               "Veranstaltungsdatei desselben Quartals prüfen (oder mit --home, wenn sie schon "
                               "verarbeitet wurde).",
           "all_ok": "Alles in Ordnung – die Dateien können gesendet werden.",
           "warnings_only": "Nichts abgelehnt, aber Hinweise (oben mit „Hinweis“): bitte prüfen. Die Dateien können "
                            "gesendet werden.",
           "warning": "Hinweis",
           "not_ok": "Bitte die genannten Zeilen korrigieren und erneut prüfen."},
    "en": {"file_line": "{name}: {read} rows read, {ok} accepted, {rej} rejected, {late} late",
           "file_problem": "  The whole file was not taken over", "sheet_problem": "  Sheet {sheet} was not taken over",
           "row": "row", "rows": "rows", "sheet": "sheet", "column": "column", "value": "value", "values": "values",
           "ignored_cols": "  ignored columns: {}", "ignored_sheets": "  ignored sheets (empty, hidden, lists): {}",
           "attendance_alone": "  Note: attendance names events. Check it together with the events file of the "
                               "same quarter (or with --home once that was processed).",
           "all_ok": "All good – the files can be sent.",
           "warnings_only": "Nothing rejected, but there are warnings (marked “warning” above): please check them. "
                            "The files can be sent.",
           "warning": "warning",
           "not_ok": "Please correct the rows above and check again."},
}


def _spans(rows: list[int]) -> str:
    """2, 3, 4, 7 -> '2–4, 7'."""
    spans, start = [], None
    for n, row in enumerate(rows):
        if start is None:
            start = row
        if n + 1 == len(rows) or rows[n + 1] != row + 1:
            spans.append(f"{start}–{row}" if row != start else str(row))
            start = None
    return ", ".join(spans)


def lines(report: FileReport, lang: str, with_events: bool) -> list[str]:
    """What `teilhabe check` prints for one file: its counts, then its findings, row findings of
    one kind (sheet, column, reason) grouped into one line with their rows as ranges."""
    t = TEXT[lang]
    out = [t["file_line"].format(name=report.path.name, read=report.rows_read, ok=report.accepted,
                                 rej=report.rejected, late=report.late)]
    groups: dict[tuple, list[dict]] = {}
    for f in report.findings:
        groups.setdefault((f["row"] is None, f.get("sheet"), f.get("column"), f["reason_code"], f["reason"],
                           f.get("severity", "rejected")), []).append(f)
    for (whole, sheet, column, code, reason, severity), found in groups.items():
        where = []
        if whole:
            where.append(t["sheet_problem"].format(sheet=sheet).strip() if sheet else t["file_problem"].strip())
        else:
            if sheet:
                where.append(f"{t['sheet']} {sheet}")
            rows = sorted({f["row"] for f in found})
            where.append(f"{t['rows'] if len(rows) > 1 else t['row']} {_spans(rows)}")
        if column:
            where.append(f"{t['column']} {column}")
        values = list(dict.fromkeys(str(f["value"]) for f in found if f.get("value") not in (None, "")))
        if len(values) == 1:
            where.append(f"{t['value']} '{values[0]}'")
        elif values:
            shown = ", ".join(f"'{v}'" for v in values[:3])
            where.append(f"{t['values']} {shown}" + (f" … (+{len(values) - 3})" if len(values) > 3 else ""))
        label = f"{t['warning']} {code}" if severity == "warning" else code
        out.append(f"  [{label}] " + ", ".join(where) + f": {reason}")
    if report.ignored_columns:
        out.append(t["ignored_cols"].format(", ".join(report.ignored_columns)))
    if report.ignored_sheets:
        out.append(t["ignored_sheets"].format(", ".join(report.ignored_sheets)))
    if "attendance" in report.feeds and not with_events:
        out.append(t["attendance_alone"])
    return out


def verdict(reports: list[FileReport], lang: str) -> str:
    if not all(r.clean for r in reports):
        return TEXT[lang]["not_ok"]
    return TEXT[lang]["warnings_only" if any(r.warned for r in reports) else "all_ok"]
