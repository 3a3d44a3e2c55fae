"""A seeded corpus of hostile inbox entries, and what must hold after `teilhabe check` and
`teilhabe run` went through it (issue "No file can stop the pipeline or leak a person").

    python -m tests.hostile [--home fuzz-home] [--seed 7]      (make fuzz)

Categories (each entry is labelled with one): valid files as offices write them (encodings,
separators, German headers), rows with hostile values, malformed files, workbooks (valid,
corrupt, hidden sheets, formulas without values, a cell at XFD1048576), names (bad, unknown,
other formats, control characters, not UTF-8, same name up to case), entries that are not regular
files (links, a FIFO, folders, dot-files) and heavy files (a line of millions of columns, a
workbook beyond the row limit, a very long CSV).

What must hold: no traceback from either command, `run` exits 0, `check` exits 0 or 1, every
inbox entry is accounted for in the delivery log (or, for what can never be a receipt, the
unassigned report), read = accepted + rejected for every file, and no process over 2 GB.
"""
from __future__ import annotations

import argparse
import codecs
import datetime as dt
import os
import random
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

TEILHABE = Path(sys.executable).with_name("teilhabe")
AS_OF = "2025-02-15"
# Programme districts of the shipped catalogue and quarters inside their periods (see programmes.yaml).
DISTRICTS = ["05766", "13076", "15081", "06635", "16069", "09473", "03153", "15085", "12070", "14523", "09174",
             "12069", "08436", "15090"]
QUARTERS = ["2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4", "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]
HEADERS = {
    "events": ["event_id", "date", "event_type", "title", "participants_total", "participants_volunteer"],
    "advice": ["case_id", "date", "client_type", "client_key", "topic"],
    "newsletters": ["issue_id", "date", "recipients", "language_count"],
    "survey": ["response_id", "date", "wave", "group", "belonging", "participation"],
    "attendance": ["event_id", "person_key", "role"],
}
GERMAN = {"event_id": "Veranstaltung_ID", "date": "Datum", "event_type": "Art", "title": "Titel",
          "participants_total": "Teilnehmende gesamt", "participants_volunteer": "davon ehrenamtlich"}
HOSTILE_VALUES = ["", " ", "=cmd|' /C calc'!A0", "+49 171 2345678", "anna.schmidt@example.org", "Anna_Schmidt",
                  "99999999999999999999999", "-5", "1e308", "NaN", "31.02.2024", "2024-13-45", "15.03.24",
                  "\u202e\u0041\u0042", "😀" * 20, "x" * 5000, "'; DROP TABLE receipts; --", "<script>x</script>",
                  "null", "None", "ja", "nein", "1.000,50", "12,5", "\t", '"', "zurückgezogen", "Ümlaut ß"]


@dataclass
class Entry:
    name: str | bytes      # bytes: a name that is not UTF-8
    category: str


class Corpus:
    def __init__(self, inbox: Path, seed: int):
        self.inbox, self.rng, self.entries = inbox, random.Random(seed), []
        self.slots = {f: iter([f"{a}_{q}_{f}.csv" for q in QUARTERS for a in DISTRICTS]) for f in HEADERS}
        inbox.mkdir(parents=True, exist_ok=True)

    def slot(self, feed: str) -> str:
        """A fresh <AGS>_<quarter>_<feed>.csv name (each delivery slot used once; 112 per feed)."""
        return next(self.slots[feed])

    def add(self, name: str | bytes, data: bytes | None, category: str) -> None:
        path = self.inbox / name if isinstance(name, str) else Path(os.fsdecode(bytes(self.inbox) + b"/" + name))
        if data is not None:
            path.write_bytes(data)
            stamp = dt.datetime(2025, 1, 20, 9, tzinfo=dt.UTC).timestamp() + len(self.entries)
            os.utime(path, (stamp, stamp))
        self.entries.append(Entry(name, category))

    def rows(self, feed: str, n: int, hostile: bool = False) -> list[list[str]]:
        rows = []
        for i in range(n):
            row = [f"{feed[:1].upper()}{i}", f"2024-0{1 + i % 3}-1{i % 9}", "training", f"Titel {i}", str(5 + i), "1"]
            row = row[:len(HEADERS[feed])]
            if hostile:
                row[self.rng.randrange(len(row))] = self.rng.choice(HOSTILE_VALUES)
            rows.append(row)
        return rows


def _csv(rows: list[list[str]], sep: str = ",", encoding: str = "utf-8") -> bytes:
    def cell(value: str) -> str:
        return f'"{value.replace(chr(34), chr(34) * 2)}"' if any(c in value for c in (sep, '"', "\n")) else value
    return "\n".join(sep.join(cell(v) for v in row) for row in rows).encode(encoding, errors="replace") + b"\n"


def _xlsx(path_or_sheets: dict[str, list[list]], hidden: str | None = None, constant_memory: bool = False) -> bytes:
    import io
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "constant_memory": constant_memory})
    for name, rows in path_or_sheets.items():
        sheet = book.add_worksheet(name)
        if name == hidden:
            sheet.hide()
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, tuple):
                    sheet.write_formula(r, c, value[0], None, value[1])
                elif value is not None:
                    sheet.write(r, c, value)
    book.close()
    return buffer.getvalue()


def build(inbox: Path, seed: int = 7, heavy: bool = True) -> list[Entry]:
    c = Corpus(inbox, seed)
    # -- valid files as offices write them ----------------------------------------------------
    for n in range(60):
        feed = list(HEADERS)[n % len(HEADERS)]
        sep, encoding = [(",", "utf-8"), (";", "utf-8-sig"), (";", "cp1252"), ("\t", "utf-16"), (",", "utf-8")][n % 5]
        header = [GERMAN.get(h, h) for h in HEADERS[feed]] if n % 3 == 0 else HEADERS[feed]
        c.add(c.slot(feed), _csv([header, *c.rows(feed, 1 + n % 7)], sep, encoding), "valid")
    # -- hostile values in rows ------------------------------------------------------------------
    for n in range(100):
        feed = list(HEADERS)[n % len(HEADERS)]
        c.add(c.slot(feed), _csv([HEADERS[feed], *c.rows(feed, 3 + n % 5, hostile=True)]), "hostile_values")
    # -- malformed files -------------------------------------------------------------------------
    header = ",".join(HEADERS["events"]).encode()
    malformed = [
        b"", codecs.BOM_UTF8, header + b"\n", bytes(c.rng.randrange(256) for _ in range(3000)),
        header + b"\nE1,2024-01-10,training,Titel; mit; Semikolon,3,1,zu,viele\nE2,2024-01-11,training,x,3,1\n",
        header + b"\nE1,2024-01-10\nE2,2024-01-11,training,x,3,1\n",
        header + b'\nE1,2024-01-10,training,"nie geschlossen,3,1\n',
        b"sep=,\n" + header + b"\nE1,2024-01-10,training,x,3,1\n",
        b"\n\n" + header + b"\nE1,2024-01-10,training,x,3,1\n",
        b"Veranstaltungen Q1 2024\nLandkreis Lippe\n" + header + b"\nE1,2024-01-10,training,x,3,1\n",
        header + b"\nE1,2024-01-10,training,x,3,1\nSumme,,,,3,1\n",
        header + b"\nE1,2024-01-10,training,M\xc3\xbcllheim,3,1\nE2,2024-01-11,training,M\xfcllheim,3,1\n",
        header + b"\nE1,2024-01-10,training,x\x00y,3,1\n", b"<html><body>not a csv</body></html>",
        b"PK\x03\x04" + bytes(200), codecs.BOM_UTF16_LE + "event_id".encode("utf-16-le")[:-1],
        b"event_id,event_id,date\nE1,E2,2024-01-10\n", b"title\nnur ein Titel\n",
        b"\r".join([header, b"E1,2024-01-10,training,x,3,1"]), header.replace(b",", b";") + b"\nE1;2024-01-10;x\n",
    ]
    for n, data in enumerate(malformed * 3):
        c.add(c.slot("events"), data, "malformed")
    for header_name in ["E-Mail", "Vor- und Nachname", "Tel.", "Geb.-Datum", "Straße/Hausnr.", "Ansprechpartner",
                        "Telefonnummer", "Name, Vorname", "Wohnort", "Kontakt"] * 2:
        c.add(c.slot("advice"), _csv([HEADERS["advice"] + [header_name], ["C1", "2024-01-10", "newcomer", "K-1001",
                                                                            "Wohnen", "Anna Schmidt"]]), "privacy")
    # -- workbooks -------------------------------------------------------------------------------
    good = [["Veranstaltung_ID", "Datum", "Art", "Teilnehmende gesamt"], ["E1", "2024-01-10", "Schulung", 5]]
    workbooks = [
        _xlsx({"Veranstaltungen": good}), _xlsx({"Veranstaltungen": good, "Listen": [["Schulung"], ["Workshop"]]},
                                                hidden="Listen"),
        _xlsx({"Veranstaltungen": [good[0], ["E1", "2024-01-10", "Schulung", ("=B7*2", None)]]}),
        _xlsx({"Veranstaltungen": good, "Beratungen": [["Beratung_ID", "Datum", "E-Mail"], ["C1", "2024-01-10", "a@b.de"]]}),
        _xlsx({"Tabelle1": good}), _xlsx({"Tabelle2": []}), b"PK\x03\x04 broken zip", bytes(2000),
    ]
    names = iter((a, q) for q in QUARTERS[::-1] for a in DISTRICTS)
    for data in workbooks * 4:
        ags, quarter = next(names)
        c.add(f"{ags}_{quarter}.xlsx", data, "workbook")
    buffer = _zip_without_workbook()
    ags, quarter = next(names)
    c.add(f"{ags}_{quarter}.xlsx", buffer, "workbook")
    # -- names ------------------------------------------------------------------------------------
    for name in ["Lieferung.csv", "99999_2024-Q1_events.csv", "05766_2024-Q1_teilnehmer.csv", "05766_2024-Q1.xls",
                 "05766_2024-Q1.ods", "05766_2024-Q1_events.txt", "05766_2024-Q5_events.csv",
                 "05766_2016-Q4_events.csv", "05766_2099-Q1_events.csv", "05766_2024-Q1_events.csv ",
                 "05766_2024-Q1_events.csv\n", "05766_2024-Q1_\tevents.csv", "x" * 200 + ".csv", "05766_2024-q1_EVENTS.CSV",
                 "05766_2024-Q2_events.pdf", "05766-2024-Q1-events.csv", "ärger.csv"]:
        c.add(name, _csv([HEADERS["events"], *c.rows("events", 2)]), "names")
    first_advice = next(e.name for e in c.entries if str(e.name).endswith("_advice.csv"))
    c.add(first_advice.upper().replace(".CSV", ".csv"), (c.inbox / first_advice).read_bytes(), "names")  # same up to case
    c.add(b"\xe4rger_05766.csv", b"x\n", "names")     # Latin-1, not UTF-8
    # -- entries that are not regular files ------------------------------------------------------
    specials = [(".versteckt.csv", "dotfile"), ("Unterordner", "folder"), ("zu_passwd.csv", "link_out"),
                ("schleife.csv", "link_loop"), ("ins_leere.csv", "link_dangling"), ("pipe.csv", "fifo")]
    for name, kind in specials:
        path = c.inbox / name
        if kind == "dotfile":
            path.write_bytes(b"x\n")
        elif kind == "folder":
            path.mkdir()
            (path / "05766_2024-Q1_events.csv").write_bytes(b"x\n")
        elif kind == "link_out":
            path.symlink_to("/etc/passwd")
        elif kind == "link_loop":
            path.symlink_to(path)
        elif kind == "link_dangling":
            path.symlink_to(c.inbox / "nichts_da")
        else:
            os.mkfifo(path)
        c.entries.append(Entry(name, "not_regular"))
    # -- heavy -----------------------------------------------------------------------------------
    if heavy:
        c.add(c.slot("events"), b"a," * 2_600_000 + b"a\n", "heavy")             # 5.2 M columns, one line
        c.add(c.slot("events"), header + b"\n" + b"E1,2024-01-10,training,x,3,1\n" * 400_000, "heavy")
        ags, quarter = next(names)
        c.add(f"{ags}_{quarter}.xlsx", _far_cell(), "heavy")                    # one cell at XFD1048576
        ags, quarter = next(names)
        long = [good[0]] + [["E%d" % i, "2024-01-10", "Schulung", 3] for i in range(300_000)]
        c.add(f"{ags}_{quarter}.xlsx", _xlsx({"Veranstaltungen": long}, constant_memory=True), "heavy")
    return c.entries


def _zip_without_workbook() -> bytes:
    import io
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    return buffer.getvalue()


def _far_cell() -> bytes:
    import io
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet("Veranstaltungen").write(1048575, 16383, "x")
    book.close()
    return buffer.getvalue()


# -- running and judging -----------------------------------------------------------------------------

def run(command: list[str], env: dict) -> tuple[int, str, str, float]:
    """Exit code, stdout, stderr and peak memory (MB: ru_maxrss of the command and what it waited for)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        return (process.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                usage.ru_maxrss / 1024)


def rendered(name: str | bytes) -> set[str]:
    """The ways a report may show an entry's name (a name that is not UTF-8 cannot be shown as it is)."""
    if isinstance(name, str):
        return {name, name.replace("\n", "\\n"), repr(name)[1:-1]}
    return {name.decode("utf-8", "replace"), name.decode("utf-8", "backslashreplace"), os.fsdecode(name)}


def judge(home: Path, entries: list[Entry], check: tuple, run_result: tuple) -> list[str]:
    """Everything that does not hold, as sentences (empty: the corpus passed)."""
    import duckdb

    problems = []
    for what, (code, _, err, peak) in (("check", check), ("run", run_result)):
        if "Traceback" in err:
            problems.append(f"{what}: a traceback: {err[-1500:]}")
        if peak > 2048:
            problems.append(f"{what}: peak memory {peak:.0f} MB")
    if check[0] not in (0, 1):
        problems.append(f"check exited {check[0]}: {check[2][-500:]}")
    if run_result[0] != 0:
        problems.append(f"run exited {run_result[0]}: {run_result[2][-1500:]}")
    if not (home / "warehouse.duckdb").exists():
        return problems + ["run left no warehouse"]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        log = con.execute("SELECT file_name, rows_read, accepted, rejected FROM delivery_log").fetchall()
    finally:
        con.close()
    known = {name for name, *_ in log}
    unassigned = (home / "reports" / "nicht_zugeordnet.html")
    report = unassigned.read_text(encoding="utf-8", errors="replace") if unassigned.exists() else ""
    import html
    report = html.unescape(report)
    for entry in entries:
        names = rendered(entry.name)
        if not (names & known) and not any(n in report for n in names if n.strip()):
            problems.append(f"{entry.category}: {entry.name!r} is in neither the delivery log nor the unassigned report")
    for name, read, accepted, rejected in log:
        if read != accepted + rejected:
            problems.append(f"{name}: read {read} != accepted {accepted} + rejected {rejected}")
    return problems


def exercise(home: Path, seed: int = 7, heavy: bool = True) -> tuple[list[Entry], list[str]]:
    """Build the corpus in home/inbox, run check (on every regular file) and run, judge."""
    entries = build(home / "inbox", seed, heavy)
    env = {**os.environ, "TEILHABE_AS_OF": AS_OF, "TEILHABE_HOME": str(home)}
    files = [str(p) for p in sorted((home / "inbox").iterdir(), key=lambda p: os.fsencode(p.name))
             if p.is_file() and not p.is_symlink()]
    check = run([str(TEILHABE), "check", *files], env)
    result = run([str(TEILHABE), "run", "--home", str(home)], env)
    return entries, judge(home, entries, check, result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default="fuzz-home")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    home = Path(args.home).resolve()
    if home.exists():
        raise SystemExit(f"{home} exists: remove it first (the corpus is written into a new home)")
    entries, problems = exercise(home, args.seed)
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.category] = counts.get(e.category, 0) + 1
    print(f"{len(entries)} inbox entries: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print("\n".join(problems) if problems else "Everything accounted for; no traceback; read = accepted + rejected.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
