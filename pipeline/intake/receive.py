"""Receiving: the files of a run's quarters -> receipts, sheets, file-level rejections, raw_<feed>.

Re-delivery replaces by feed: for each (district, quarter, feed) the latest received loaded sheet
is current (the warehouse's views decide). A file whose (name, SHA-256) is already the latest
receipt of its name is not received again, so a run over an unchanged inbox changes nothing.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline import warehouse
from pipeline.contract import Contract
from pipeline.home import Home
from pipeline.intake.inbox import Archive, Delivered, fingerprint
from pipeline.intake.reader import (SEPARATORS, FileName, Problem, csv_text, group_csv_texts, read_csv_group,
                                    read_file)


@dataclass
class IntakeSummary:
    new_receipts: list[str] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)
    rows_by_feed: dict[str, int] = field(default_factory=dict)


def _already_received(items: list[Delivered], index: tuple[set, set]) -> tuple[set[str], list[Delivered]]:
    """Receipts whose (name, hash) is the latest version of that name, and the reverts among
    `items`: an older version sent again, which gets a new received_at so it becomes current
    again (`_store_chunk`). `index`: `_receipt_index`."""
    latest, existing = index
    reverts = [item for item in items if item.receipt_id in existing and item.receipt_id not in latest]
    latest.update(item.receipt_id for item in reverts)
    return latest, reverts


def _receipt_index(con) -> tuple[set[str], set[str]]:
    """(receipts that are the latest version of their name, all receipts)."""
    known = warehouse.fetch_df(con, """
        SELECT receipt_id, lower(file_name) AS name FROM receipts
        QUALIFY row_number() OVER (PARTITION BY lower(file_name) ORDER BY received_at DESC) = 1""")
    existing = set(warehouse.fetch_df(con, "SELECT receipt_id FROM receipts")["receipt_id"])
    return set(known["receipt_id"]), existing


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


def _receipt_row(item: Delivered, status: str, archive_path: str | None, ignored_sheets: list[str] = ()) -> dict:
    parsed = item.parsed if isinstance(item.parsed, FileName) else None
    return {"receipt_id": item.receipt_id, "file_name": item.name, "sha256": item.sha256, "size_bytes": item.size,
            "received_at": item.received_at, "district_ags": parsed.ags if parsed else None,
            "quarter": parsed.quarter if parsed else None,
            "kind": parsed.kind if parsed else os.path.splitext(item.name)[1].lstrip(".").lower() or None,
            "archive_path": archive_path, "status": status,
            "ignored_sheets": json.dumps(list(ignored_sheets), ensure_ascii=False) if ignored_sheets else None}


# Files are received in chunks of about this many bytes (in quarter order), so memory stays bounded
# however large the inbox: a national backfill is ~500 MB of CSV.
CHUNK_BYTES = 48 * 1024 * 1024


def _sizes(items: list[Delivered]) -> None:
    """Each item's size, for `_chunks` (a file gone since the scan counts 0 and is read as usual)."""
    for item in items:
        try:
            item.size = os.stat(item.location).st_size
        except OSError:
            item.size = 0


def _chunks(items: list[Delivered]) -> list[list[Delivered]]:
    def order(item: Delivered):
        parsed = item.parsed if isinstance(item.parsed, FileName) else None
        return (parsed.quarter if parsed else "", item.name)

    chunks, current, size = [], [], 0
    for item in sorted(items, key=order):
        current.append(item)
        size += item.size
        if size >= CHUNK_BYTES:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


def receive(con, home: Home | None, contract: Contract, items: list[Delivered]) -> IntakeSummary:
    """Archive (into `home`'s archive; None: nowhere), register and read every new (name, hash)
    among `items`; write raw rows."""
    summary = IntakeSummary(rows_by_feed={name: 0 for name in contract.feeds})
    _sizes(items)
    _drop_unregistered(con, contract, items)
    index = _receipt_index(con)  # each name occurs once in `items`: chunks cannot affect each other's answer
    # The next chunk is read and parsed (Python, holding the GIL) by a second thread while DuckDB
    # stores this one (DuckDB leaves the GIL): on two cores the intake takes about the longer of
    # the two instead of their sum. The connection is only ever used by this thread.
    chunks = _chunks(items)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as reader:
        upcoming = reader.submit(_read_chunk, home, contract, chunks[0], index) if chunks else None
        for n in range(len(chunks)):
            chunk = upcoming.result()
            if n + 1 < len(chunks):
                upcoming = reader.submit(_read_chunk, home, contract, chunks[n + 1], index)
            _store_chunk(con, contract, chunk, summary)
    summary.new_receipts.sort()
    summary.set_aside.sort()
    return summary


def _drop_unregistered(con, contract: Contract, items: list[Delivered]) -> None:
    """Rows without a receipt, in the quarters about to be received: left by a run of an older
    version that stopped between writing a file's rows and its receipt (a chunk is one
    transaction now). Such a file has no receipt, so it is read again in this run."""
    quarters = sorted({i.parsed.quarter for i in items if isinstance(i.parsed, FileName)})
    if not quarters:
        return
    unregistered = "NOT EXISTS (SELECT 1 FROM receipts r WHERE r.receipt_id = t.receipt_id)"
    for feed in contract.feeds:
        con.execute(f"DELETE FROM raw_{feed} t WHERE delivery_quarter IN (SELECT unnest(?)) AND {unregistered}",
                    [quarters])
    for table in ("file_rejections", "sheets"):
        con.execute(f"DELETE FROM {table} t WHERE {unregistered}")


@dataclass
class _Chunk:
    """A chunk of files read, parsed and ready to store (`_read_chunk`, then `_store_chunk`)."""
    summary: IntakeSummary
    reverts: list[Delivered]
    archive: Archive
    receipts: list[dict]
    problems: list[dict]
    sheets: list[dict]
    raw: dict[str, list]


def _read_chunk(home: Home | None, contract: Contract, items: list[Delivered], index: tuple[set, set]) -> _Chunk:
    """Read, identify and parse the files of a chunk; no warehouse access (runs beside `_store_chunk`)."""
    # File by file on purpose: for files of a few kB, more threads only add GIL contention (measured).
    datas = {id(item): fingerprint(item) for item in items}
    current, reverts = _already_received(items, index)
    new = [item for item in items if item.receipt_id not in current]
    archive = Archive(home, new)
    summary = IntakeSummary()
    receipts, problems, sheets = [], [], []
    raw: dict[str, list[pd.DataFrame]] = {name: [] for name in contract.feeds}
    # CSVs that can be read together (plain UTF-8 text) go in groups of one header; the rest one by one.
    grouped, texts = [], []
    for n, item in enumerate(new):
        if isinstance(item.parsed, FileName) and item.parsed.kind == "csv" and item.parsed.feed:
            text = csv_text(n, datas[id(item)], contract)
            if text is not None:
                grouped.append(item.parsed.feed)
                texts.append(text)
    single = set(range(len(new))) - {t.index for t in texts}
    group_reads = []
    for (feed, _, _), files in group_csv_texts(texts, grouped).items():
        reads, rest = read_csv_group(files, contract.feeds[feed], contract)
        group_reads += reads
        single |= {t.index for t in rest}
    for n in sorted(single):
        item = new[n]
        data = datas[id(item)]
        summary.new_receipts.append(item.name)
        if isinstance(item.parsed, Problem):
            problems += _problem_rows(item.receipt_id, [item.parsed], contract)
            receipts.append(_receipt_row(item, "set_aside", archive(item, data)))
            summary.set_aside.append(item.name)
            continue
        read = read_file(item.name, data, contract, item.parsed.feed)
        problems += _problem_rows(item.receipt_id, read.problems, contract)
        # A file with personal identifiers is not kept anywhere: only its name, hash and reason.
        archive_path = None if read.forbidden else archive(item, data)
        status = "loaded" if read.sheets else "set_aside"
        if not read.sheets:
            summary.set_aside.append(item.name)
        receipts.append(_receipt_row(item, status, archive_path, read.ignored_sheets))
        for sheet in read.sheets:
            sheets.append(_sheet_row(item.receipt_id, sheet.feed, sheet.sheet, len(sheet.rows), sheet.headers,
                                     sheet.ignored_columns, sheet.encoding, sheet.separator))
            raw[sheet.feed].append(raw_frame(item.receipt_id, item.parsed, sheet))
    for group in group_reads:
        _receive_group(home, contract, group, new, datas, summary, receipts, problems, sheets, raw, archive)
    return _Chunk(summary, reverts, archive, receipts, problems, sheets, raw)


def _store_chunk(con, contract: Contract, chunk: _Chunk, summary: IntakeSummary) -> None:
    """Archive a read chunk and store its rows and receipts."""
    summary.new_receipts += chunk.summary.new_receipts
    summary.set_aside += chunk.summary.set_aside
    for item in chunk.reverts:
        con.execute("UPDATE receipts SET received_at = ? WHERE receipt_id = ?", [item.received_at, item.receipt_id])
    receipts, problems, sheets, raw = chunk.receipts, chunk.problems, chunk.sheets, chunk.raw
    # The archive is written while DuckDB stores the rows (both leave the GIL: two cores). Every
    # receipt in the chunk is new (none of them is in `receipts`), so nothing is deleted first;
    # one transaction, the receipts last and after the archive: a run that stops midway leaves
    # nothing of the chunk, and the next run reads its files again.
    writer = _Background(chunk.archive.flush)
    con.execute("BEGIN")
    try:
        for feed, frames in raw.items():
            schema = warehouse.raw_arrow_schema(contract.feeds[feed])
            tables = [f if isinstance(f, pa.Table) else pa.Table.from_pandas(f, preserve_index=False)
                      for f in frames if len(f)]
            if tables:
                warehouse.insert_rows(con, f"raw_{feed}", pa.concat_tables([t.select(schema.names).cast(schema)
                                                                            for t in tables]))
            summary.rows_by_feed[feed] += sum(t.num_rows for t in tables)
        warehouse.insert_rows(con, "file_rejections", pd.DataFrame(problems))
        warehouse.insert_rows(con, "sheets", pd.DataFrame(sheets))
        writer.join()
        warehouse.insert_rows(con, "receipts", pd.DataFrame(receipts))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


class _Background(threading.Thread):
    """Run one function beside the caller; `join` re-raises what it raised."""

    def __init__(self, function):
        super().__init__(daemon=True)
        self.function, self.error = function, None
        self.start()

    def run(self) -> None:
        try:
            self.function()
        except BaseException as error:  # handed to the caller in join()
            self.error = error

    def join(self, timeout=None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error


def _sheet_row(receipt_id: str, feed: str, sheet: str | None, rows_read: int, headers: dict, ignored: list,
               encoding: str | None, separator: str | None) -> dict:
    return {"receipt_id": receipt_id, "feed": feed, "sheet": sheet, "rows_read": rows_read,
            "headers": json.dumps(headers, ensure_ascii=False), "ignored_columns": json.dumps(ignored, ensure_ascii=False),
            "encoding": encoding, "separator": separator}


def _receive_group(home: Home | None, contract: Contract, group, new: list[Delivered], datas: dict, summary: IntakeSummary,
                   receipts: list, problems: list, sheets: list, raw: dict, archive: Archive) -> None:
    """The files of one group read: the same as `read_file` gives each of them, without a frame per file."""
    items = [new[t.index] for t in group.files]
    forbidden = any(p.reason_code == "forbidden_column" for p in group.problems)
    if not group.problems:  # one header for the whole group: its JSON once
        row = _sheet_row("", group.feed, None, 0, group.plan.written, group.plan.ignored, None,
                         SEPARATORS[group.separator])
    for n, (item, text) in enumerate(zip(items, group.files)):
        summary.new_receipts.append(item.name)
        if group.problems:
            for p in group.problems:
                p.rows_read = int(group.rows_read[n])
            problems += _problem_rows(item.receipt_id, group.problems, contract)
            summary.set_aside.append(item.name)
            archive_path = None if forbidden else archive(item, datas[id(item)])
            receipts.append(_receipt_row(item, "set_aside", archive_path))
            continue
        receipts.append(_receipt_row(item, "loaded", archive(item, datas[id(item)])))
        sheets.append({**row, "receipt_id": item.receipt_id, "rows_read": int(group.rows_read[n]),
                       "encoding": text.encoding})
    if group.problems:
        return
    pick = pa.array(group.file_of_row)
    table = group.rows
    n = table.num_rows
    table = (table.append_column("receipt_id", pa.array([i.receipt_id for i in items], pa.string()).take(pick))
             .append_column("district_ags", pa.array([i.parsed.ags for i in items], pa.string()).take(pick))
             .append_column("delivery_quarter", pa.array([i.parsed.quarter for i in items], pa.string()).take(pick))
             .append_column("sheet", pa.nulls(n, pa.string()))
             .append_column("decimal_comma", pa.array(np.full(n, group.separator in (";", "\t")))))
    raw[group.feed].append(table)


def raw_frame(receipt_id: str, parsed: FileName, sheet) -> pd.DataFrame:
    """A sheet's rows with the delivery they belong to: the shape of raw_<feed>."""
    return sheet.rows.assign(receipt_id=receipt_id, district_ags=parsed.ags, delivery_quarter=parsed.quarter,
                             sheet=sheet.sheet, decimal_comma=sheet.decimal_comma)
