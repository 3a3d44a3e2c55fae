"""`teilhabe check`: what a district office runs before sending (contract section 6).

Reads the given files exactly as the pipeline does (same reader, same validator, same suites)
and reports every finding. Writes nothing anywhere.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline import intake
from pipeline.catalogue import Catalogue
from pipeline.contract import Contract
from pipeline.reader import FileName, Problem, parse_file_name, read_file
from pipeline.validator import validate


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

    @property
    def clean(self) -> bool:
        return not self.findings


def _finding(problem: Problem, contract: Contract, lang: str) -> dict:
    detail = problem.detail_de if lang == "de" else problem.detail_en
    reason = contract.reason(problem.reason_code, lang)
    return {"row": None, "sheet": problem.sheet, "column": problem.column, "value": problem.value,
            "reason_code": problem.reason_code, "reason": f"{reason}: {detail}" if detail else reason}


def check_files(paths: list[Path], contract: Contract, catalogue: Catalogue, lang: str = "de",
                known_events: pd.DataFrame | None = None) -> list[FileReport]:
    """Check files together, so an attendance file can name events of an events file beside it."""
    reports, raw = {}, {name: [] for name in contract.feeds}
    headers: dict[str, dict[str, str]] = {}
    for path in paths:
        report = reports[str(path)] = FileReport(path=path)
        parsed = parse_file_name(path.name, contract)
        if isinstance(parsed, FileName) and parsed.ags not in catalogue.districts.index:
            parsed = Problem("unknown_district", value=parsed.ags)
        if isinstance(parsed, Problem):
            report.findings.append(_finding(parsed, contract, lang))
            continue
        read = read_file(path.name, path.read_bytes(), contract, parsed.feed)
        report.findings += [_finding(p, contract, lang) for p in read.problems]
        set_aside = {(p.feed, p.sheet) for p in read.problems}
        # A set-aside sheet counts all its rows as read and rejected (once, however many reasons).
        report.rows_read = report.rejected = sum({(p.feed, p.sheet): p.rows_read for p in read.problems}.values())
        report.ignored_sheets = read.ignored_sheets
        for sheet in read.sheets:
            if (sheet.feed, sheet.sheet) in set_aside:
                continue
            receipt_id = hashlib.sha256(str(path).encode()).hexdigest()[:20]
            headers[receipt_id] = sheet.headers
            report.ignored_columns += sheet.ignored_columns
            frame = intake.raw_frame(receipt_id, parsed, sheet).assign(_path=str(path), _sheet=sheet.sheet)
            raw[sheet.feed].append(frame)

    events = known_events if known_events is not None else pd.DataFrame(columns=["district_ags", "event_id"])
    for name, feed in contract.feeds.items():
        if not raw[name]:
            continue
        frame = pd.concat(raw[name], ignore_index=True)
        result = validate(frame, feed, contract, catalogue, headers=headers, known_events=events)
        if name == "events":
            events = pd.concat([events, result.accepted[["district_ags", "event_id"]]], ignore_index=True)
        paths_by_receipt = frame.drop_duplicates("receipt_id").set_index("receipt_id")["_path"]
        sheets_by_row = frame.set_index(["receipt_id", "source_row"])["_sheet"]
        for row in result.results.itertuples():
            report = reports[paths_by_receipt[row.receipt_id]]
            report.rows_read += row.rows_read
            report.accepted += row.accepted
            report.rejected += row.rejected
            report.late += row.late
        for rej in result.rejections.itertuples():
            reports[paths_by_receipt[rej.receipt_id]].findings.append({
                "row": int(rej.source_row), "sheet": sheets_by_row.get((rej.receipt_id, rej.source_row)),
                "column": rej.column, "value": rej.value, "reason_code": rej.reason_code,
                "reason": rej.reason_de if lang == "de" else rej.reason_en})
    return list(reports.values())
