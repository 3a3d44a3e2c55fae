"""Receiving: the files of a run's quarters -> receipts, sheets, file-level rejections, raw_<feed>.

Re-delivery replaces by feed: for each (district, quarter, feed) the latest received loaded sheet
is current (the warehouse's views decide). A file whose (name, SHA-256) is already the latest
receipt of its name is not received again, so a run over an unchanged inbox changes nothing.

No file is a run's problem: whatever goes wrong while one file is read becomes that file's
set-aside reason (`unreadable`). A file that left the inbox stops counting: when its quarter is
processed, every receipt of its name is `withdrawn` (its sheets are no longer current), and the
same file put back is as it was. A person key that breaks the pseudonym rules is never stored:
its raw cell holds a mask that fails the same rules (staging rejects it as before), and the
file is not archived (as a file with a forbidden column is not).
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
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
from pipeline.intake.inbox import NOTHING, Archive, Delivered, fingerprint
from pipeline.intake.reader import (SEPARATORS, FileName, FileRead, Problem, csv_text, group_csv_texts,
                                    read_csv_group, read_file)
from pipeline.intake.privacy import hide_pseudonyms


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
        QUALIFY row_number() OVER (PARTITION BY lower(file_name) ORDER BY received_at DESC, file_name DESC) = 1""")
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
            item.size = os.lstat(item.location).st_size  # the entry itself: a link is never followed
        except OSError:
            item.size = 0


def _chunks(items: list[Delivered]) -> list[list[Delivered]]:
    """Names equal up to case stay in one chunk: files given by `teilhabe check` are not one slot
    per name as the inbox's are, and the same bytes under both names are one receipt."""
    def order(item: Delivered):
        parsed = item.parsed if isinstance(item.parsed, FileName) else None
        return (parsed.quarter if parsed else "", item.name.lower(), item.name)

    chunks, current, size = [], [], 0
    for item in sorted(items, key=order):
        if size >= CHUNK_BYTES and item.name.lower() != current[-1].name.lower():
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        chunks.append(current)
    return chunks


def receive(con, home: Home | None, contract: Contract, items: list[Delivered],
            quarters: list[str] | None = None) -> IntakeSummary:
    """Archive (into `home`'s archive; None: nowhere), register and read every new (name, hash)
    among `items`; write raw rows. `quarters`: the quarters `items` are the whole inbox of (with
    every unassigned file): a file of theirs no longer in the inbox is withdrawn."""
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
    if quarters is not None:
        _withdraw(con, items, quarters)
    summary.new_receipts.sort()
    summary.set_aside.sort()
    return summary


def _withdraw(con, items: list[Delivered], quarters: list[str]) -> None:
    """A file is counted while it is in the inbox. Every receipt of these quarters (and every
    unassigned one) whose name is in the inbox no more becomes `withdrawn`: its sheets stop being
    current (view current_sheets), its rejections stop standing, the delivery log shows it. A
    withdrawn file put back (same name, same bytes) is as it was received again."""
    present = [i for i in items if not i.gone]
    con.register("_present", pd.DataFrame({"name": pd.Series([i.name for i in present], dtype=object),
                                           "receipt_id": pd.Series([i.receipt_id for i in present], dtype=object)}))
    try:
        with warehouse.transaction(con):
            con.execute("""UPDATE receipts SET status = 'withdrawn'
                           WHERE status <> 'withdrawn' AND (quarter IN (SELECT unnest(?)) OR quarter IS NULL)
                             AND lower(file_name) NOT IN (SELECT lower(name) FROM _present)""", [quarters])
            con.execute("""UPDATE receipts SET status = CASE WHEN receipt_id IN (SELECT receipt_id FROM sheets)
                                                             THEN 'loaded' ELSE 'set_aside' END
                           WHERE status = 'withdrawn' AND receipt_id IN (SELECT receipt_id FROM _present)""")
    finally:
        con.unregister("_present")


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
    """Read, identify and parse the files of a chunk; no warehouse access (runs beside `_store_chunk`).
    Whatever fails for one file becomes its set-aside reason; a file gone meanwhile is left out."""
    # File by file on purpose: for files of a few kB, more threads only add GIL contention (measured).
    datas, failed = {}, {}
    for item in items:
        try:
            datas[id(item)] = fingerprint(item, keep=contract.size_limit_bytes)
        except OSError as error:
            if not item.gone:
                datas[id(item)], failed[id(item)] = _unread(item), _read_error(error)
                continue
        if datas.get(id(item)) is None and not item.gone:  # over the limit: never read whole, nor archived
            datas[id(item)], failed[id(item)] = b"", _too_large(item, contract)
    items = [item for item in items if not item.gone]
    current, reverts = _already_received(items, index)
    # One receipt per (name up to case, SHA-256), even if given twice (check: `a.csv`, `A.csv`).
    new = list({item.receipt_id: item for item in items if item.receipt_id not in current}.values())
    archive = Archive(home, new)
    summary = IntakeSummary()
    receipts, problems, sheets = [], [], []
    raw: dict[str, list[pd.DataFrame]] = {name: [] for name in contract.feeds}
    # CSVs that can be read together (plain UTF-8 text) go in groups of one header; the rest one by one.
    grouped, texts = [], []
    for n, item in enumerate(new):
        if isinstance(item.parsed, FileName) and item.parsed.kind == "csv" and item.parsed.feed:
            text = _guarded(lambda: csv_text(n, datas[id(item)], contract), None)
            if text is not None:
                grouped.append(item.parsed.feed)
                texts.append(text)
    single = set(range(len(new))) - {t.index for t in texts}
    group_reads = []
    for (feed, _, _), files in group_csv_texts(texts, grouped).items():
        reads, rest = _guarded(lambda: read_csv_group(files, contract.feeds[feed], contract), ([], files))
        group_reads += reads
        single |= {t.index for t in rest}
    for group in group_reads:
        _guarded_group(home, contract, group, new, datas, summary, receipts, problems, sheets, raw, archive, single)
    for n in sorted(single):
        item = new[n]
        data = datas[id(item)]
        summary.new_receipts.append(item.name)
        if isinstance(item.parsed, Problem) or id(item) in failed:
            problems += _problem_rows(item.receipt_id, [failed.get(id(item), item.parsed)], contract)
            # An entry that is no regular file, or could not be read, has no bytes to keep.
            kept = None if item.special or id(item) in failed else archive(item, data)
            receipts.append(_receipt_row(item, "set_aside", kept))
            summary.set_aside.append(item.name)
            continue
        read = _guarded(lambda: read_file(item.name, data, contract, item.parsed.feed), None, item)
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
    hidden = hide_pseudonyms(contract, raw)
    discarded = set()
    for receipt in receipts:  # a file that named a person where a pseudonym belongs is not archived
        if receipt["receipt_id"] in hidden and receipt["archive_path"]:
            discarded.add(receipt["archive_path"])
            receipt["archive_path"] = None
    archive.discard(discarded)
    return _Chunk(summary, reverts, archive, receipts, problems, sheets, raw)


def _guarded_group(home, contract: Contract, group, new: list[Delivered], datas: dict, summary: IntakeSummary,
                   receipts: list, problems: list, sheets: list, raw: dict, archive: Archive, single: set) -> None:
    """`_receive_group`; if it fails, what it added is taken back and its files are read one by one."""
    lists = [receipts, problems, sheets, summary.new_receipts, summary.set_aside, archive.pending, *raw.values()]
    sizes = [len(x) for x in lists]
    try:
        _receive_group(home, contract, group, new, datas, summary, receipts, problems, sheets, raw, archive)
    except Exception:  # one group's problem: its files go the single way, each judged by itself
        for x, size in zip(lists, sizes):
            del x[size:]
        single |= {t.index for t in group.files}


def _unread(item: Delivered) -> bytes:
    """An entry that could not be read: no bytes, the SHA-256 of nothing, the time of the entry."""
    try:
        found = os.lstat(item.location)
        item.received_at = dt.datetime.fromtimestamp(found.st_mtime, dt.UTC).replace(tzinfo=None, microsecond=0)
    except OSError:
        item.received_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    item.sha256, item.size = NOTHING, 0
    return b""


def _too_large(item: Delivered, contract: Contract) -> Problem:
    """As the reader words it (`read_file`), for a file too large to be read into memory at all."""
    limit_mb = contract.size_limit_bytes // (1024 * 1024)
    return Problem("too_large", value=f"{item.size / 1048576:.1f} MB", detail_de=f"Grenze {limit_mb} MB",
                   detail_en=f"limit {limit_mb} MB")


def _read_error(error: OSError) -> Problem:
    if isinstance(error, PermissionError):
        return Problem("unreadable", detail_de="kein Zugriff auf die Datei (Berechtigung fehlt)",
                       detail_en="no access to the file (permission denied)")
    return Problem("unreadable", detail_de=f"die Datei konnte nicht gelesen werden ({_error_text(error)})",
                   detail_en=f"the file could not be read ({_error_text(error)})")


def _error_text(error: OSError) -> str:
    """What failed, without the path or anything of the file ("Input/output error")."""
    return os.strerror(error.errno) if error.errno else type(error).__name__


def _guarded(work, fallback, item: Delivered | None = None):
    """work(), or what stands in for it when it raises: `fallback`, or for a file being read
    (`item`) a read that sets it aside as unreadable. The message is not kept (it may quote the
    file's content): only what kind of error it was."""
    try:
        return work()
    except Exception as error:  # one file's problem, never the run's
        if item is None:
            return fallback
        problem = Problem("unreadable", detail_de=f"die Datei konnte nicht gelesen werden ({type(error).__name__})",
                          detail_en=f"the file could not be read ({type(error).__name__})")
        return FileRead(name=item.name, kind=item.parsed.kind, problems=[problem])


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
    with warehouse.transaction(con):
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
