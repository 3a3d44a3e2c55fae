"""`teilhabe outliers` and `teilhabe confirm`: an evaluator's follow-up of outliers (rules.yaml,
pipeline/quality/outliers.py) from the command line. German first, English with --lang en."""
from __future__ import annotations

import getpass

from pipeline import decisions
from pipeline.home import Home
from pipeline.warehouse import connect, transaction

TEXT = {
    "de": {
        "outliers_help": "Ausreißer und ihren Status (offen, bestätigt, korrigiert) auflisten.",
        "confirm_help": "Einen offenen Ausreißer als richtig bestätigen (wer und wann werden festgehalten).",
        "status_help": "nur diesen Status zeigen",
        "by_help": "wer bestätigt (Standard: der angemeldete Benutzer)",
        "comment_help": "Begründung, z. B. „Sommerfest mit 200 Gästen“",
        "record_help": "Kennung des Datensatzes (event_id, issue_id …) bei Werten je Datensatz",
        "none": "Keine Ausreißer.",
        "header": "Kreis   Quartal  Messgröße                Datensatz          Wert   Median eigene / andere  Status",
        "confirmed": "Bestätigt: {measure} {ags} {quarter} {record} (von {by}). Der nächste Lauf übernimmt es in "
                     "Berichte und Hinweise.",
        "not_open": "Kein offener Ausreißer {measure} {ags} {quarter} {record}. Offene Ausreißer dieses Kreises:",
        "status": {"open": "offen", "confirmed": "bestätigt", "corrected": "korrigiert"},
    },
    "en": {
        "outliers_help": "List the outliers and their status (open, confirmed, corrected).",
        "confirm_help": "Confirm an open outlier as right (who and when are recorded).",
        "status_help": "show only this status",
        "by_help": "who confirms (default: the logged-in user)",
        "comment_help": "why, e.g. \"summer fair with 200 guests\"",
        "record_help": "the record's id (event_id, issue_id, ...) for per-record values",
        "none": "No outliers.",
        "header": "District Quarter Measure                  Record             Value  Median own / others     Status",
        "confirmed": "Confirmed: {measure} {ags} {quarter} {record} (by {by}). The next run takes it into the "
                     "reports and warnings.",
        "not_open": "No open outlier {measure} {ags} {quarter} {record}. Open outliers of this district:",
        "status": {"open": "open", "confirmed": "confirmed", "corrected": "corrected"},
    },
}


def add_commands(sub, lang: str, home_help: str) -> None:
    t = TEXT[lang]
    listing = sub.add_parser("outliers", help=t["outliers_help"], description=t["outliers_help"])
    listing.add_argument("--status", choices=("open", "confirmed", "corrected"), help=t["status_help"])
    confirm = sub.add_parser("confirm", help=t["confirm_help"], description=t["confirm_help"])
    confirm.add_argument("district", help="AGS")
    confirm.add_argument("quarter", help="YYYY-Qn")
    confirm.add_argument("measure", help="events_per_quarter, participants_per_event, …")
    confirm.add_argument("record", nargs="?", default="", help=t["record_help"])
    confirm.add_argument("--by", default=None, help=t["by_help"])
    confirm.add_argument("--comment", default="", help=t["comment_help"])
    for cmd in (listing, confirm):
        cmd.add_argument("--home", help=home_help)


def _figure(value) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:g}"


def cmd_outliers(args, lang: str) -> int:
    from pipeline.quality.outliers import followup

    t = TEXT[lang]
    home = Home.resolve(args.home)
    with connect(home.warehouse, read_only=True) as con:
        listed = followup(con)
    if args.status:
        listed = listed[listed["status"] == args.status]
    if listed.empty:
        print(t["none"])
        return 0
    print(t["header"])
    for row in listed.itertuples(index=False):
        references = f"{_figure(row.history_median)} / {_figure(row.peer_median)}"
        print(f"{row.district_ags:<8}{row.quarter:<9}{row.measure_id:<25}{row.record_id or '–':<19}"
              f"{_figure(row.value):>6}  {references:<24}{t['status'][row.status]}"
              + (f" ({row.confirmed_by}{', ' + row.comment if row.comment else ''})" if row.confirmed_by else ""))
    return 0


def cmd_confirm(args, lang: str) -> int:
    from pipeline.quality.outliers import confirm, followup

    t = TEXT[lang]
    by = args.by or getpass.getuser()
    home = Home.resolve(args.home)
    key = {"measure": args.measure, "ags": args.district, "quarter": args.quarter, "record": args.record or ""}
    with connect(home.warehouse) as con:
        # The decision goes into the archive's journal inside the warehouse's transaction: both
        # hold it or neither does, and `teilhabe rebuild` puts it back (pipeline/decisions.py).
        with transaction(con):
            changed = confirm(con, args.district, args.quarter, args.measure, args.record or "", by=by,
                              comment=args.comment)
            for entry in changed:
                decisions.append(home, "outlier_confirmed", **entry)
        listed = followup(con)
    if changed:
        print(t["confirmed"].format(by=by, **key).replace("  ", " "))
        return 0
    print(t["not_open"].format(**key).replace("  ", " "))
    mine = listed[(listed["district_ags"] == args.district) & (listed["status"] == "open")]
    for row in mine.itertuples(index=False):
        print(f"  {row.quarter} {row.measure_id} {row.record_id} ({_figure(row.value)})".rstrip())
    return 1
