"""Intake: inbox -> archive + receipts + raw_<feed> (per quarter), raw -> stg_<feed> (per feed).

A receipt is one received version of one file (name + SHA-256). Re-delivery replaces by feed:
for each (district, quarter, feed) the latest received loaded sheet is current. Running again on
an unchanged inbox finds every (name, hash) already received and changes nothing.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import json
import os
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline import warehouse
from pipeline.catalogue import Catalogue
from pipeline.contract import Contract, Feed
from pipeline.home import Home
from pipeline.judge import run_suite, start_judge_unless_loaded
from pipeline.reader import (SEPARATORS, FileName, Problem, csv_text, group_csv_texts,
                             parse_file_name, read_csv_group, read_file)
from pipeline.quarters import quarter_bounds
from pipeline.validator import (MASK, REJECTION_COLUMNS, ScreenPlan, accepted_frame, flag_candidates, prepare,
                                rejection_frame, register_typing, screen_plan, screen_tables, start_screen,
                                typed_rows, typed_select, validate)


@dataclass
class Delivered:
    """One inbox file as seen now."""
    folder: str
    name: str
    parsed: FileName | Problem
    sha256: str = ""
    received_at: dt.datetime | None = None
    size: int = 0

    @property
    def path(self) -> Path:
        return Path(self.folder, self.name)

    @property
    def location(self) -> str:  # what open and stat need; no Path object per file (48,800 per scan)
        return os.path.join(self.folder, self.name)

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
    delivered, folder = [], str(inbox)
    with os.scandir(inbox) as entries:
        names = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_file())
    for name in names:
        parsed = _parse_file_name(name, contract)
        if isinstance(parsed, FileName):
            if parsed.ags not in catalogue.districts.index:
                parsed = Problem("unknown_district", value=parsed.ags)
            elif not (quarters[0] <= parsed.quarter <= quarters[1]):
                parsed = Problem("bad_filename", value=parsed.quarter,
                                 detail_de=f"Quartal außerhalb des Berichtszeitraums {quarters[0]} … {quarters[1]}",
                                 detail_en=f"quarter outside the reporting range {quarters[0]} … {quarters[1]}")
        delivered.append(Delivered(folder=folder, name=name, parsed=parsed))
    return delivered


# Parsed names per contract: a run scans the inbox twice (to choose its quarters, then to ingest).
# The contract is held, so its id is never reused by another one.
_PARSED: dict[int, tuple[Contract, dict[str, FileName]]] = {}


def _parse_file_name(name: str, contract: Contract) -> FileName | Problem:
    _, known = _PARSED.setdefault(id(contract), (contract, {}))
    parsed = known.get(name)
    if parsed is None:
        parsed = parse_file_name(name, contract)
        if isinstance(parsed, FileName):  # frozen; a Problem is not kept (it may be amended)
            known[name] = parsed
    return parsed


def _fingerprint(item: Delivered) -> bytes:
    with open(item.location, "rb") as handle:
        data = handle.read()
        stat = os.fstat(handle.fileno())
    item.sha256 = hashlib.sha256(data).hexdigest()
    item.size = stat.st_size
    item.received_at = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None, microsecond=0)
    return data


def _already_received(items: list[Delivered], index: tuple[set, set]) -> tuple[set[str], list[Delivered]]:
    """Receipts whose (name, hash) is the latest version of that name, and the reverts among
    `items`: an older version sent again, which gets a new received_at so it becomes current
    again (`_store_chunk`). `index`: `_receipt_index`."""
    latest, existing = index
    reverts = [item for item in items if item.receipt_id in existing and item.receipt_id not in latest]
    latest.update(item.receipt_id for item in reverts)
    return latest, reverts


def _inbox_stats(items: list[Delivered]) -> pd.DataFrame:
    """Name, size and modification time of each item; the size is kept on the item for `_chunks`."""
    rows = []
    for item in items:
        try:
            stat = os.stat(item.location)
            item.size = stat.st_size
            rows.append((item.name, stat.st_size, stat.st_mtime_ns))
        except OSError:  # gone since the scan: it is read as usual, and what happens is reported
            rows.append((item.name, -1, -1))
    return pd.DataFrame(rows, columns=["file_name", "size_bytes", "modified_ns"])


def _changed(con, items: list[Delivered]) -> tuple[list[Delivered], pd.DataFrame]:
    """The items that may differ from when the inbox was last read, and their stats. A file with
    the same name, size and modification time (in nanoseconds) as then is the file already read:
    like make and rsync, it is not read and hashed again, so an unchanged inbox costs one stat per
    file. Everything else is read and identified by its SHA-256 as before."""
    stats = _inbox_stats(items)
    if not items:
        return items, stats
    con.register("_inbox", stats)
    same = {name for (name,) in con.execute("""
        SELECT i.file_name FROM _inbox i JOIN inbox_seen s USING (file_name, size_bytes, modified_ns)""").fetchall()}
    con.unregister("_inbox")
    keep = [item.name not in same for item in items]
    return [item for item, k in zip(items, keep) if k], stats[keep]


def _remember(con, stats: pd.DataFrame) -> None:
    """After the files are registered: the next run can tell them unchanged without reading them."""
    if stats.empty:
        return
    con.register("_inbox", stats[stats["size_bytes"] >= 0])
    con.execute("INSERT OR REPLACE INTO inbox_seen SELECT file_name, size_bytes, modified_ns FROM _inbox")
    con.unregister("_inbox")


def _receipt_index(con) -> tuple[set[str], set[str]]:
    """(receipts that are the latest version of their name, all receipts)."""
    known = warehouse.fetch_df(con, """
        SELECT receipt_id, lower(file_name) AS name FROM receipts
        QUALIFY row_number() OVER (PARTITION BY lower(file_name) ORDER BY received_at DESC) = 1""")
    existing = set(warehouse.fetch_df(con, "SELECT receipt_id FROM receipts")["receipt_id"])
    return set(known["receipt_id"]), existing


class _Archive:
    """Every received file byte for byte, as the stored (uncompressed) member `<sha256>/<name>`
    of one ZIP per received chunk, `archive/<batch>.zip`; its `archive_path` is
    `archive/<batch>.zip/<sha256>/<name>` (`read_archived` reads it back). One file per chunk
    rather than per received file: creating 48,800 files and folders was about 20 s of kernel
    time in a national backfill, one ZIP per 48 MB chunk is a fraction of a second."""

    def __init__(self, home: Home, items: list[Delivered]):
        self.home, self.pending = home, []
        # Named after what it holds, so a chunk received again after a stopped run replaces its own ZIP.
        batch = hashlib.sha256("|".join(sorted(i.receipt_id for i in items)).encode()).hexdigest()[:20]
        self.relative = f"{home.archive.name}/{batch}.zip"

    def __call__(self, item: Delivered, data: bytes) -> str:
        member = f"{item.sha256}/{item.name}"
        self.pending.append((member, item.received_at, data))
        return f"{self.relative}/{member}"

    def flush(self) -> None:
        if not self.pending:
            return
        target = self.home.root / self.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            for member, received_at, data in self.pending:
                stamp = max(received_at, ZIP_EPOCH) if received_at else ZIP_EPOCH
                archive.writestr(zipfile.ZipInfo(member, date_time=stamp.timetuple()[:6]), data)
        os.replace(partial, target)
        self.pending = []


# The earliest time a ZIP member can carry.
ZIP_EPOCH = dt.datetime(1980, 1, 1)


def read_archived(root: Path, archive_path: str) -> bytes:
    """The bytes of a received file from its `archive_path` (see `_Archive`; a home started
    before the ZIPs keeps its earlier receipts as plain files, archive/<..>/<sha256>/<name>)."""
    if ".zip/" not in archive_path:
        return (root / archive_path).read_bytes()
    archive, member = archive_path.split(".zip/", 1)
    with zipfile.ZipFile(root / f"{archive}.zip") as opened:
        return opened.read(member)


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
            "kind": parsed.kind if parsed else os.path.splitext(item.name)[1].lstrip(".").lower() or None,
            "archive_path": archive_path, "status": status}


# Files are received in chunks of about this many bytes (in quarter order), so memory stays bounded
# however large the inbox: a national backfill is ~500 MB of CSV.
CHUNK_BYTES = 48 * 1024 * 1024


def _chunks(items: list[Delivered]) -> list[list[Delivered]]:
    def order(item: Delivered):
        parsed = item.parsed if isinstance(item.parsed, FileName) else None
        return (parsed.quarter if parsed else "", item.name)

    chunks, current, size = [], [], 0
    for item in sorted(items, key=order):  # sizes as `_inbox_stats` found them
        current.append(item)
        size += item.size
        if size >= CHUNK_BYTES:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


def receive(con, home: Home, contract: Contract, items: list[Delivered]) -> IntakeSummary:
    """Archive, register and read every new (name, hash) among `items`; write raw rows."""
    summary = IntakeSummary(rows_by_feed={name: 0 for name in contract.feeds})
    items, stats = _changed(con, items)
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
    _remember(con, stats)
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
    archive: "_Archive"
    receipts: list[dict]
    problems: list[dict]
    sheets: list[dict]
    raw: dict[str, list]


def _read_chunk(home: Home, contract: Contract, items: list[Delivered], index: tuple[set, set]) -> _Chunk:
    """Read, identify and parse the files of a chunk; no warehouse access (runs beside `_store_chunk`)."""
    # File by file on purpose: for files of a few kB, more threads only add GIL contention (measured).
    datas = {id(item): _fingerprint(item) for item in items}
    current, reverts = _already_received(items, index)
    new = [item for item in items if item.receipt_id not in current]
    archive = _Archive(home, new)
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
        receipts.append(_receipt_row(item, status, archive_path))
        for sheet in read.sheets:
            sheets.append(_sheet_row(item.receipt_id, sheet.feed, sheet.sheet, len(sheet.rows), sheet.headers,
                                     sheet.ignored_columns + read.ignored_sheets, sheet.encoding, sheet.separator))
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


def _receive_group(home: Home, contract: Contract, group, new: list[Delivered], datas: dict, summary: IntakeSummary,
                   receipts: list, problems: list, sheets: list, raw: dict, archive: _Archive) -> None:
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


# --- staging -----------------------------------------------------------------------------------

# The sheets a staging pass works on (temp table `_todo`, filled by `stage_feed`).
TODO = "(SELECT receipt_id FROM _todo)"


def staged_rows(con, feed: Feed, quarters: list[str]) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """Raw rows of the sheets to stage in these delivery quarters, with the headers as written."""
    cols = ", ".join(f"r.{warehouse.q(c)}" for c in ["receipt_id", "district_ags", "delivery_quarter", "source_row",
                                                     "decimal_comma", *warehouse.raw_columns(feed)])
    raw = warehouse.fetch_df(con, f"""
        SELECT {cols} FROM raw_{feed.name} r
        WHERE r.delivery_quarter IN (SELECT unnest(?)) AND r.receipt_id IN {TODO}
        ORDER BY r.receipt_id, r.source_row""", [quarters])
    return raw, _headers(con, feed, quarters)


def _headers(con, feed: Feed, quarters: list[str], receipt_ids: list[str] | None = None) -> dict[str, dict[str, str]]:
    sheets = warehouse.fetch_df(con, f"""
        SELECT s.receipt_id, s.headers FROM sheets s JOIN receipts r USING (receipt_id)
        WHERE s.feed = ? AND r.quarter IN (SELECT unnest(?))
        {"AND s.receipt_id IN (SELECT unnest(?))" if receipt_ids is not None else ""}""",
                                [feed.name, quarters] + ([receipt_ids] if receipt_ids is not None else []))
    return {rid: json.loads(h) for rid, h in zip(sheets["receipt_id"], sheets["headers"])}


@dataclass
class Staged:
    """What staging left in the warehouse for one feed and these quarters (validated now or before)."""
    results: pd.DataFrame        # per received sheet: receipt_id, feed, rows_read, accepted, rejected, late
    reasons: pd.Series           # reason_code -> rejected findings, most frequent first
    accepted: int                # stg rows of these quarters (current sheets)
    preview: pd.DataFrame        # a few stg rows
    validated: list[str]         # quarters validated in this run (the others were unchanged)


# Bump when staging or typing code changes what a delivery yields: every quarter is staged again.
STAGE_VERSION = "2"
# Quarters are staged in chunks of about this many raw rows (bounded memory in DuckDB and pandas).
STAGE_CHUNK_ROWS = 2_500_000
# Below this many rows to stage (a re-delivered file), GX is imported only if a row is flagged.
WARM_UP_ROWS = 100_000


def stage_feed(con, contract: Contract, catalogue: Catalogue, feed: Feed, quarters: list[str]) -> Staged:
    """Validate the feed's sheets of these quarters; current sheets become stg rows.

    The unit is one received sheet: its rows are judged by themselves (duplicates count per
    delivered file; replacements and corrections are resolved later by the cur_ views). A sheet
    whose inputs are unchanged since it was staged (the same file, still current or still
    replaced, the same catalogue, suite and code, for attendance the same known events among those
    it names) is skipped: its stg rows, rejections and counts are already what validation gives."""
    con.register("_signatures", _signatures(con, contract, catalogue, feed, quarters))
    todo = warehouse.fetch_df(con, """
        SELECT s.receipt_id, s.delivery_quarter, s.signature FROM _signatures s
        LEFT JOIN stage_state st ON st.feed = ? AND st.receipt_id = s.receipt_id
        WHERE st.signature IS DISTINCT FROM s.signature ORDER BY 1""", [feed.name])
    con.unregister("_signatures")
    validated = sorted(set(todo["delivery_quarter"]))
    if len(todo):
        con.register("_todo_frame", todo)
        con.execute("CREATE OR REPLACE TEMP TABLE _todo AS SELECT * FROM _todo_frame")
        con.unregister("_todo_frame")
        plan = screen_plan(feed)
        if plan is None:
            _stage_reference(con, contract, catalogue, feed, validated)
        else:
            _stage_set_based(con, contract, catalogue, feed, validated, plan)
        con.execute(f"DELETE FROM stage_state WHERE feed = ? AND receipt_id IN {TODO}", [feed.name])
        con.execute("INSERT INTO stage_state SELECT ?, receipt_id, delivery_quarter, signature, ? FROM _todo",
                    [feed.name, stage_base(contract, catalogue, feed)])
        con.execute("DROP TABLE _todo")
    return _staged(con, feed, quarters, validated)


def stage_base(contract: Contract, catalogue: Catalogue, feed: Feed) -> str:
    """What every quarter of a feed is staged with: code version, suite, booleans, programme periods."""
    base = hashlib.sha256()
    base.update(STAGE_VERSION.encode())
    base.update(json.dumps(feed.suite, sort_keys=True, ensure_ascii=False).encode())
    base.update(repr((sorted(contract.true_values), sorted(contract.false_values))).encode())
    base.update(catalogue.membership.to_csv(index=False).encode())
    return base.hexdigest()


def quarters_to_process(con, contract: Contract, catalogue: Catalogue, items: list[Delivered]) -> set[str]:
    """Quarters a run must process: those with a new or changed file, and those staged with an
    older code version, suite or catalogue (or not staged at all). `teilhabe run` requests just
    these, as the inbox sensor requests the quarter of each new file."""
    quarters = {i.parsed.quarter for i in _changed(con, items)[0] if isinstance(i.parsed, FileName)}
    bases = pd.DataFrame([(f.name, stage_base(contract, catalogue, f)) for f in contract.feeds.values()],
                         columns=["feed", "base"])
    con.register("_bases", bases)
    quarters |= {q for (q,) in con.execute("""
        SELECT DISTINCT r.quarter FROM sheets s JOIN receipts r USING (receipt_id) JOIN _bases b ON b.feed = s.feed
        LEFT JOIN stage_state st ON st.feed = s.feed AND st.receipt_id = s.receipt_id
        WHERE st.base IS DISTINCT FROM b.base""").fetchall()}
    con.unregister("_bases")
    return quarters


def _signatures(con, contract: Contract, catalogue: Catalogue, feed: Feed, quarters: list[str]) -> pd.DataFrame:
    """Per received sheet of the feed in these quarters: receipt_id, delivery_quarter, signature."""
    known, params = "SELECT NULL AS receipt_id, NULL AS known", []
    if feed.name == "attendance":  # which of the events its rows name are known now
        known, params = """
            SELECT a.receipt_id, CAST(bit_xor(hash(a.district_ags, a.event_id)) AS VARCHAR) || ':'
                                 || CAST(count(*) AS VARCHAR) AS known
            FROM (SELECT DISTINCT receipt_id, district_ags, event_id FROM raw_attendance
                  WHERE delivery_quarter IN (SELECT unnest(?))) a
            WHERE EXISTS (SELECT 1 FROM stg_events e WHERE e.district_ags = a.district_ags AND e.event_id = a.event_id)
            GROUP BY 1""", [quarters]
    return warehouse.fetch_df(con, f"""
        SELECT s.receipt_id, r.quarter AS delivery_quarter,
               md5(concat_ws('|', ?, c.receipt_id IS NOT NULL, coalesce(k.known, ''))) AS signature
        FROM sheets s JOIN receipts r USING (receipt_id)
        LEFT JOIN (SELECT receipt_id FROM current_sheets WHERE feed = ?) c USING (receipt_id)
        LEFT JOIN ({known}) k USING (receipt_id)
        WHERE s.feed = ? AND r.quarter IN (SELECT unnest(?))""",
                              [stage_base(contract, catalogue, feed), feed.name, *params, feed.name, quarters])


def _current(con, feed: Feed, quarters: list[str]) -> set[str]:
    return set(warehouse.fetch_df(con, "SELECT receipt_id FROM current_sheets WHERE feed = ? AND delivery_quarter IN "
                                       "(SELECT unnest(?))", [feed.name, quarters])["receipt_id"])


def _known_events(con) -> pd.DataFrame:
    return warehouse.fetch_df(con, "SELECT DISTINCT district_ags, event_id FROM stg_events")


def _stage_reference(con, contract: Contract, catalogue: Catalogue, feed: Feed, quarters: list[str]) -> None:
    """The reference path: every row through pandas and GX (a suite the screen cannot compile)."""
    raw, headers = staged_rows(con, feed, quarters)
    known_events = _known_events(con) if feed.name == "attendance" else None
    result = validate(raw, feed, contract, catalogue, headers=headers, known_events=known_events)
    accepted = result.accepted[result.accepted["receipt_id"].isin(_current(con, feed, quarters))]
    warehouse.replace_rows(con, f"stg_{feed.name}", accepted,
                           f"delivery_quarter IN (SELECT unnest(?)) AND receipt_id IN {TODO}", [quarters])
    _write_results(con, feed, quarters, result.rejections, result.results)


def _write_results(con, feed: Feed, quarters: list[str], rejections: pd.DataFrame, results: pd.DataFrame) -> None:
    warehouse.replace_rows(con, "row_rejections", rejections, "feed = ? AND delivery_quarter IN (SELECT unnest(?)) "
                           f"AND receipt_id IN {TODO}", [feed.name, quarters])
    _redact_pseudonyms(con, feed, rejections)
    warehouse.replace_rows(con, "sheet_results", results, f"feed = ? AND receipt_id IN {TODO}", [feed.name])


def _quarter_chunks(con, feed: Feed, quarters: list[str]) -> list[tuple[list[str], int]]:
    """The quarters in runs of at most STAGE_CHUNK_ROWS raw rows to stage (a larger quarter alone)."""
    sizes = dict(con.execute(f"SELECT delivery_quarter, count(*) FROM raw_{feed.name} "
                             f"WHERE delivery_quarter IN (SELECT unnest(?)) AND receipt_id IN {TODO} GROUP BY 1",
                             [quarters]).fetchall())
    chunks, current, rows = [], [], 0
    for quarter in quarters:
        if current and rows + sizes.get(quarter, 0) > STAGE_CHUNK_ROWS:
            chunks.append((current, rows))
            current, rows = [], 0
        current.append(quarter)
        rows += sizes.get(quarter, 0)
    return chunks + [(current, rows)] if current else chunks


def _stage_set_based(con, contract: Contract, catalogue: Catalogue, feed: Feed, quarters: list[str],
                     plan: ScreenPlan) -> None:
    """Set-based staging (see validator.py): typing and screening in DuckDB, GX on the flagged rows."""
    chunks = _quarter_chunks(con, feed, quarters)
    if sum(rows for _, rows in chunks) >= WARM_UP_ROWS:
        start_judge_unless_loaded()  # a large pass: GX is surely needed, imported while DuckDB works
    where = f"r.delivery_quarter IN (SELECT unnest($quarters)) AND r.receipt_id IN {TODO}"
    members = catalogue.membership
    if feed.name != "survey":
        members = members[members["role"] == "programme"]
    bounds = pd.DataFrame([(q, *quarter_bounds(q)) for q in quarters], columns=["q", "q_start", "q_end"])
    con.register("_members_frame", members[["district_ags", "start", "end"]])
    con.register("_quarters_frame", bounds)
    con.execute("""CREATE OR REPLACE TEMP TABLE _members AS SELECT CAST(district_ags AS VARCHAR) AS district_ags,
                   CAST(start AS DATE) AS start, CAST("end" AS DATE) AS "end" FROM _members_frame""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _quarters AS SELECT CAST(q AS VARCHAR) AS q,
                   CAST(q_start AS DATE) AS q_start, CAST(q_end AS DATE) AS q_end FROM _quarters_frame""")
    con.unregister("_members_frame")
    con.unregister("_quarters_frame")
    if feed.name == "attendance":
        con.execute("CREATE OR REPLACE TEMP TABLE _known_events AS SELECT DISTINCT district_ags, event_id FROM stg_events")
    register_typing(con, feed, contract, f"delivery_quarter IN (SELECT unnest(?)) AND receipt_id IN {TODO}", [quarters])
    current = sorted(_current(con, feed, quarters))
    con.execute("CREATE OR REPLACE TEMP TABLE _cur AS SELECT unnest(?::VARCHAR[]) AS receipt_id", [current])
    stg_names = [name for name, _ in warehouse.stg_columns(feed)]
    stg_select = ", ".join(["receipt_id", "district_ags", "delivery_quarter", "source_row",
                            "_stg_quarter AS quarter", "_is_late AS is_late", *map(warehouse.q, stg_names)])
    raw_select = ", ".join(["receipt_id", "district_ags", "delivery_quarter", "source_row", "decimal_comma",
                            *(f"{warehouse.q(c + '__raw')} AS {warehouse.q(c)}" for c in warehouse.raw_columns(feed))])
    con.execute(f"DELETE FROM stg_{feed.name} WHERE delivery_quarter IN (SELECT unnest(?)) AND receipt_id IN {TODO}",
                [quarters])
    flagged, counts = [], []
    start_screen(con, plan)
    for chunk, _ in chunks:
        typed = typed_select(plan, where).replace("$quarters", "?")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _typed AS {typed}", [chunk])
        flag_candidates(con, plan)
        con.execute(f"""INSERT INTO stg_{feed.name} SELECT {stg_select} FROM _typed t
                        WHERE NOT EXISTS (SELECT 1 FROM _cands c WHERE c.receipt_id = t.receipt_id
                                          AND c.source_row = t.source_row)
                          AND t.receipt_id IN (SELECT receipt_id FROM _cur)""")
        counts.append(warehouse.fetch_df(con, """
            SELECT t.receipt_id, count(*) AS rows_read,
                   count(*) FILTER (WHERE t._is_late AND c.receipt_id IS NULL) AS late_clean
            FROM _typed t LEFT JOIN _cands c USING (receipt_id, source_row) GROUP BY 1"""))
        flagged.append(warehouse.fetch_df(con, f"""
            SELECT {raw_select} FROM {typed_rows(plan)} t SEMI JOIN _cands c USING (receipt_id, source_row)
            ORDER BY receipt_id, source_row"""))
    for table in ["_typed", "_cur", "_members", "_quarters", "_known_events", *(f"_ty_{c.name}" for c in feed.columns),
                  *screen_tables(plan)]:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    flagged = [f for f in flagged if len(f)]
    raw = pd.concat(flagged, ignore_index=True) if flagged else None
    per_receipt = pd.concat(counts, ignore_index=True) if counts else pd.DataFrame(
        columns=["receipt_id", "rows_read", "late_clean"])
    if raw is not None:
        headers = _headers(con, feed, quarters, sorted(set(raw["receipt_id"])))
        known_events = _known_events(con) if feed.name == "attendance" else None
        frame = prepare(raw, feed, contract, catalogue, known_events)
        failures = run_suite(frame, feed)  # one GX validation of the suite over every flagged row
        rejections = rejection_frame(frame, failures, feed, headers)
        accepted = accepted_frame(frame, rejections["_rid"].unique(), feed)
        insert = accepted[accepted["receipt_id"].isin(current)]
        warehouse.insert_rows(con, f"stg_{feed.name}", insert)
        rejected = rejections.drop_duplicates("_rid").groupby("receipt_id").size()
        late = accepted.groupby("receipt_id")["is_late"].sum()
        rejections = rejections[REJECTION_COLUMNS].reset_index(drop=True)
    else:
        rejected = late = pd.Series(dtype="int64")
        rejections = pd.DataFrame(columns=REJECTION_COLUMNS)
    results = per_receipt.set_index("receipt_id")
    results["rejected"] = rejected.reindex(results.index, fill_value=0).astype("int64")
    results["accepted"] = results["rows_read"] - results["rejected"]
    results["late"] = (results["late_clean"] + late.reindex(results.index, fill_value=0)).astype("int64")
    results = results.reset_index()
    results.insert(1, "feed", feed.name)
    _write_results(con, feed, quarters, rejections,
                   results[["receipt_id", "feed", "rows_read", "accepted", "rejected", "late"]])


def _staged(con, feed: Feed, quarters: list[str], validated: list[str]) -> Staged:
    results = warehouse.fetch_df(con, """
        SELECT sr.* FROM sheet_results sr JOIN receipts r USING (receipt_id)
        WHERE sr.feed = ? AND r.quarter IN (SELECT unnest(?)) ORDER BY sr.receipt_id""", [feed.name, quarters])
    reasons = warehouse.fetch_df(con, """
        SELECT reason_code, count(*) AS n FROM row_rejections WHERE feed = ? AND delivery_quarter IN (SELECT unnest(?))
        GROUP BY 1 ORDER BY 2 DESC, 1""", [feed.name, quarters])
    accepted = con.execute(f"SELECT count(*) FROM stg_{feed.name} WHERE delivery_quarter IN (SELECT unnest(?))",
                           [quarters]).fetchall()[0][0]
    preview = warehouse.fetch_df(con, f"""SELECT * FROM stg_{feed.name} WHERE delivery_quarter IN (SELECT unnest(?))
                                          ORDER BY delivery_quarter, district_ags, source_row LIMIT 10""", [quarters])
    return Staged(results=results, reasons=pd.Series(reasons["n"].to_numpy(), index=reasons["reason_code"]),
                  accepted=int(accepted), preview=preview, validated=validated)


def _redact_pseudonyms(con, feed: Feed, rejections: pd.DataFrame) -> None:
    """A key that looks like an e-mail, name or phone number must not stay in the warehouse."""
    bad = rejections[rejections["reason_code"] == "bad_pseudonym"][["receipt_id", "source_row"]].drop_duplicates()
    columns = [c.name for c in feed.columns if c.type == "pseudonym"]
    if bad.empty or not columns:
        return
    quarters = sorted(set(rejections.loc[rejections["reason_code"] == "bad_pseudonym", "delivery_quarter"].dropna()))
    con.register("_bad_rows", bad)
    sets = ", ".join(f"{warehouse.q(c)} = '{MASK}'" for c in columns)
    # the quarter narrows the search to that quarter's row groups of a large raw table
    con.execute(f"""UPDATE raw_{feed.name} AS r SET {sets} FROM _bad_rows b
                    WHERE r.receipt_id = b.receipt_id AND r.source_row = b.source_row
                      AND r.delivery_quarter IN (SELECT unnest(?))""", [quarters])
    con.unregister("_bad_rows")


def quarter_results(con, feed: Feed, quarters: list[str]) -> pd.DataFrame:
    """Per current delivery of these quarters: rows read / accepted / rejected and top reasons."""
    return warehouse.fetch_df(con, """
        SELECT c.district_ags, c.delivery_quarter, c.file_name, sr.rows_read, sr.accepted, sr.rejected, sr.late
        FROM current_sheets c JOIN sheet_results sr ON sr.receipt_id = c.receipt_id AND sr.feed = c.feed
        WHERE c.feed = ? AND c.delivery_quarter IN (SELECT unnest(?))
        ORDER BY c.delivery_quarter, c.district_ags""", [feed.name, quarters])
