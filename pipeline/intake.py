"""Intake: inbox -> archive + receipts + raw_<feed> (per quarter), raw -> stg_<feed> (per feed).

A receipt is one received version of one file (name + SHA-256). Re-delivery replaces by feed:
for each (district, quarter, feed) the latest received loaded sheet is current. Running again on
an unchanged inbox finds every (name, hash) already received and changes nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline import warehouse
from pipeline.catalogue import Catalogue
from pipeline.contract import Contract, Feed
from pipeline.home import Home
from pipeline.reader import FileName, FileRead, Problem, parse_file_name, read_file
from pipeline.validator import MASK, Validated, validate


@dataclass
class Delivered:
    """One inbox file as seen now."""
    path: Path
    name: str
    parsed: FileName | Problem
    sha256: str = ""
    received_at: dt.datetime | None = None
    size: int = 0

    @property
    def receipt_id(self) -> str:
        return hashlib.sha256(f"{self.name.lower()}|{self.sha256}".encode()).hexdigest()[:20]


@dataclass
class IntakeSummary:
    new_receipts: list[str] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)
    rows_by_feed: dict[str, int] = field(default_factory=dict)


def scan_inbox(inbox: Path, contract: Contract, catalogue: Catalogue, quarters: tuple[str, str]) -> list[Delivered]:
    """Every visible file in the inbox with its parsed name (or the reason it cannot be assigned)."""
    delivered = []
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        parsed = parse_file_name(path.name, contract)
        if isinstance(parsed, FileName):
            if parsed.ags not in catalogue.districts.index:
                parsed = Problem("unknown_district", value=parsed.ags)
            elif not (quarters[0] <= parsed.quarter <= quarters[1]):
                parsed = Problem("bad_filename", value=parsed.quarter,
                                 detail_de=f"Quartal außerhalb des Berichtszeitraums {quarters[0]} … {quarters[1]}",
                                 detail_en=f"quarter outside the reporting range {quarters[0]} … {quarters[1]}")
        delivered.append(Delivered(path=path, name=path.name, parsed=parsed))
    return delivered


def _fingerprint(item: Delivered) -> bytes:
    data = item.path.read_bytes()
    stat = item.path.stat()
    item.sha256 = hashlib.sha256(data).hexdigest()
    item.size = stat.st_size
    item.received_at = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None, microsecond=0)
    return data


def _already_received(con, items: list[Delivered]) -> set[str]:
    """Receipts whose (name, hash) is the latest version of that name; a revert to an older
    version gets a new received_at so it becomes current again."""
    if not items:
        return set()
    known = warehouse.fetch_df(con, """
        SELECT receipt_id, lower(file_name) AS name FROM receipts
        QUALIFY row_number() OVER (PARTITION BY lower(file_name) ORDER BY received_at DESC) = 1""")
    latest = set(known["receipt_id"])
    existing = set(warehouse.fetch_df(con, "SELECT receipt_id FROM receipts")["receipt_id"])
    for item in items:
        if item.receipt_id in existing and item.receipt_id not in latest:
            con.execute("UPDATE receipts SET received_at = ? WHERE receipt_id = ?", [item.received_at, item.receipt_id])
            latest.add(item.receipt_id)
    return latest


def _archive(home: Home, item: Delivered, data: bytes) -> str:
    target = home.archive / item.sha256[:2] / item.sha256 / item.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return str(target.relative_to(home.root))


def _problem_rows(receipt_id: str, problems: list[Problem], contract: Contract) -> list[dict]:
    rows = []
    for p in problems:
        base_de, base_en = contract.reason(p.reason_code, "de"), contract.reason(p.reason_code, "en")
        rows.append({"receipt_id": receipt_id, "feed": p.feed, "sheet": p.sheet, "column": p.column, "value": p.value,
                     "reason_code": p.reason_code,
                     "reason_de": f"{base_de}: {p.detail_de}" if p.detail_de else base_de,
                     "reason_en": f"{base_en}: {p.detail_en}" if p.detail_en else base_en,
                     "rows_read": p.rows_read})
    return rows


def _receipt_row(item: Delivered, status: str, archive_path: str | None) -> dict:
    parsed = item.parsed if isinstance(item.parsed, FileName) else None
    return {"receipt_id": item.receipt_id, "file_name": item.name, "sha256": item.sha256, "size_bytes": item.size,
            "received_at": item.received_at, "district_ags": parsed.ags if parsed else None,
            "quarter": parsed.quarter if parsed else None,
            "kind": parsed.kind if parsed else item.path.suffix.lstrip(".").lower() or None,
            "archive_path": archive_path, "status": status}


def receive(con, home: Home, contract: Contract, items: list[Delivered]) -> IntakeSummary:
    """Archive, register and read every new (name, hash) among `items`; write raw rows."""
    summary = IntakeSummary()
    datas = {id(item): _fingerprint(item) for item in items}
    current = _already_received(con, items)
    receipts, problems, sheets = [], [], []
    raw: dict[str, list[pd.DataFrame]] = {name: [] for name in contract.feeds}
    for item in items:
        if item.receipt_id in current:
            continue
        data = datas[id(item)]
        summary.new_receipts.append(item.name)
        if isinstance(item.parsed, Problem):
            problems += _problem_rows(item.receipt_id, [item.parsed], contract)
            receipts.append(_receipt_row(item, "set_aside", _archive(home, item, data)))
            summary.set_aside.append(item.name)
            continue
        read = read_file(item.name, data, contract, item.parsed.feed)
        problems += _problem_rows(item.receipt_id, read.problems, contract)
        # A file with personal identifiers is not kept anywhere: only its name, hash and reason.
        archive_path = None if read.forbidden else _archive(home, item, data)
        status = "loaded" if read.sheets else "set_aside"
        if not read.sheets:
            summary.set_aside.append(item.name)
        receipts.append(_receipt_row(item, status, archive_path))
        for sheet in read.sheets:
            sheets.append({"receipt_id": item.receipt_id, "feed": sheet.feed, "sheet": sheet.sheet,
                           "rows_read": len(sheet.rows), "headers": json.dumps(sheet.headers, ensure_ascii=False),
                           "ignored_columns": json.dumps(sheet.ignored_columns + read.ignored_sheets, ensure_ascii=False),
                           "encoding": sheet.encoding, "separator": sheet.separator})
            raw[sheet.feed].append(raw_frame(item.receipt_id, item.parsed, sheet))
    ids = [r["receipt_id"] for r in receipts]
    _write(con, "receipts", pd.DataFrame(receipts), ids)
    _write(con, "file_rejections", pd.DataFrame(problems), ids)
    _write(con, "sheets", pd.DataFrame(sheets), ids)
    for feed, frames in raw.items():
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        _write(con, f"raw_{feed}", frame, ids)
        summary.rows_by_feed[feed] = len(frame)
    return summary


def raw_frame(receipt_id: str, parsed: FileName, sheet) -> pd.DataFrame:
    """A sheet's rows with the delivery they belong to: the shape of raw_<feed>."""
    return sheet.rows.assign(receipt_id=receipt_id, district_ags=parsed.ags, delivery_quarter=parsed.quarter,
                             sheet=sheet.sheet, decimal_comma=sheet.decimal_comma)


def _write(con, table: str, frame: pd.DataFrame, receipt_ids: list[str]) -> None:
    if receipt_ids:
        warehouse.replace_rows(con, table, frame, "receipt_id IN (SELECT unnest(?))", [receipt_ids])


# --- staging -----------------------------------------------------------------------------------

def staged_rows(con, feed: Feed, quarters: list[str]) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """Raw rows of every loaded sheet of these delivery quarters, with the headers as written."""
    cols = ", ".join(f"r.{warehouse.q(c)}" for c in ["receipt_id", "district_ags", "delivery_quarter", "source_row",
                                                     "decimal_comma", *warehouse.raw_columns(feed)])
    raw = warehouse.fetch_df(con, f"""
        SELECT {cols} FROM raw_{feed.name} r
        WHERE r.delivery_quarter IN (SELECT unnest(?)) ORDER BY r.receipt_id, r.source_row""", [quarters])
    sheets = warehouse.fetch_df(con, """
        SELECT s.receipt_id, s.headers FROM sheets s JOIN receipts r USING (receipt_id)
        WHERE s.feed = ? AND r.quarter IN (SELECT unnest(?))""", [feed.name, quarters])
    headers = {rid: json.loads(h) for rid, h in zip(sheets["receipt_id"], sheets["headers"])}
    return raw, headers


def stage_feed(con, contract: Contract, catalogue: Catalogue, feed: Feed, quarters: list[str]) -> Validated:
    """Validate every sheet of the feed in these quarters; current sheets become stg rows."""
    raw, headers = staged_rows(con, feed, quarters)
    known_events = (warehouse.fetch_df(con, "SELECT DISTINCT district_ags, event_id FROM stg_events")
                    if feed.name == "attendance" else None)
    result = validate(raw, feed, contract, catalogue, headers=headers, known_events=known_events)
    current = set(warehouse.fetch_df(con, "SELECT receipt_id FROM current_sheets WHERE feed = ? AND delivery_quarter IN (SELECT unnest(?))",
                                     [feed.name, quarters])["receipt_id"])
    accepted = result.accepted[result.accepted["receipt_id"].isin(current)]
    where_quarters = "delivery_quarter IN (SELECT unnest(?))"
    warehouse.replace_rows(con, f"stg_{feed.name}", accepted, where_quarters, [quarters])
    warehouse.replace_rows(con, "row_rejections", result.rejections, f"feed = '{feed.name}' AND {where_quarters}", [quarters])
    receipt_ids = sorted(headers)
    _redact_pseudonyms(con, feed, result.rejections)
    warehouse.replace_rows(con, "sheet_results", result.results, "feed = ? AND receipt_id IN (SELECT unnest(?))",
                           [feed.name, receipt_ids or [""]])
    return result


def _redact_pseudonyms(con, feed: Feed, rejections: pd.DataFrame) -> None:
    """A key that looks like an e-mail, name or phone number must not stay in the warehouse."""
    bad = rejections[rejections["reason_code"] == "bad_pseudonym"][["receipt_id", "source_row"]].drop_duplicates()
    columns = [c.name for c in feed.columns if c.type == "pseudonym"]
    if bad.empty or not columns:
        return
    con.register("_bad_rows", bad)
    sets = ", ".join(f"{warehouse.q(c)} = '{MASK}'" for c in columns)
    con.execute(f"""UPDATE raw_{feed.name} AS r SET {sets} FROM _bad_rows b
                    WHERE r.receipt_id = b.receipt_id AND r.source_row = b.source_row""")
    con.unregister("_bad_rows")


def quarter_results(con, feed: Feed, quarters: list[str]) -> pd.DataFrame:
    """Per current delivery of these quarters: rows read / accepted / rejected and top reasons."""
    return warehouse.fetch_df(con, """
        SELECT c.district_ags, c.delivery_quarter, c.file_name, sr.rows_read, sr.accepted, sr.rejected, sr.late
        FROM current_sheets c JOIN sheet_results sr ON sr.receipt_id = c.receipt_id AND sr.feed = c.feed
        WHERE c.feed = ? AND c.delivery_quarter IN (SELECT unnest(?))
        ORDER BY c.delivery_quarter, c.district_ags""", [feed.name, quarters])
