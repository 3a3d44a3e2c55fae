"""`teilhabe approve`, `reopen`, `approvals` and `publish --as-of`: the evaluators' approval of a
programme's quarter and the publication it governs (pipeline/approval, docs/approval.md).
German first, English with --lang en."""
from __future__ import annotations

import getpass
import os
import shutil
import tempfile
from pathlib import Path

from pipeline.home import Home
from pipeline.warehouse import connect

TEXT = {
    "de": {
        "approve_help": "Ein Quartal eines Programms freigeben: seine Werte, wie sie jetzt stehen, werden "
                        "veröffentlicht (wer, wann und Kommentar werden festgehalten).",
        "reopen_help": "Eine Freigabe zurücknehmen: das Quartal ist wieder offen und nicht mehr veröffentlicht.",
        "approvals_help": "Freigaben und den Stand jedes Programmquartals auflisten.",
        "log_help": "jeden Eintrag des Freigabe-Protokolls zeigen (auch überholte und zurückgenommene)",
        "actions": {"approved": "freigegeben", "reopened": "wieder geöffnet"},
        "publish_help": "Die Veröffentlichung (Exporte und Website) so schreiben, wie sie bei einer Freigabe oder "
                        "an einem Tag stand, byte-gleich.",
        "as_of_help": "Nummer einer Freigabe oder Datum JJJJ-MM-TT",
        "out_help": "Zielordner (wird angelegt)",
        "by_help": "wer freigibt (Standard: der angemeldete Benutzer)",
        "comment_help": "Kommentar, z. B. „Korrektur Q2 geprüft“",
        "approved": "Freigabe {id}: {programme} {quarter} (von {by}). Veröffentlichte Exporte: {folder}. "
                    "Die Website folgt beim nächsten `teilhabe run`.",
        "reopened": "Eintrag {id}: {programme} {quarter} wieder offen (von {by}). Veröffentlichte Exporte: {folder}.",
        "header": "Nr.  Programm        Quartal  Stand                                   wer                     wann                 Kommentar",
        "none": "Noch keine Werte und keine Freigaben.",
        "states": {"open": "offen", "approved": "freigegeben", "changed": "geändert seit Freigabe"},
        "because": {"deliveries": "Lieferungen", "catalogue": "Katalog"},
        "no_entry": "Keine Freigabe {} (Nummer oder Datum JJJJ-MM-TT, an dem oder vor dem freigegeben wurde).",
        "published": "Veröffentlichung wie bei Freigabe {id} (Datenstand {day}) geschrieben nach {out}.",
    },
    "en": {
        "approve_help": "Approve a programme's quarter: its figures as they stand now are published (who, when and "
                        "a comment are recorded).",
        "reopen_help": "Withdraw an approval: the quarter is open again and no longer published.",
        "approvals_help": "List the approvals and the state of every programme-quarter.",
        "log_help": "show every entry of the approval log (superseded and withdrawn ones too)",
        "actions": {"approved": "approved", "reopened": "reopened"},
        "publish_help": "Write the publication (exports and site) as it stood at an approval or on a day, byte "
                        "for byte.",
        "as_of_help": "an approval's number or a date YYYY-MM-DD",
        "out_help": "target folder (created)",
        "by_help": "who approves (default: the logged-in user)",
        "comment_help": "comment, e.g. \"Q2 correction checked\"",
        "approved": "Approval {id}: {programme} {quarter} (by {by}). Published exports: {folder}. The site follows "
                    "at the next `teilhabe run`.",
        "reopened": "Entry {id}: {programme} {quarter} open again (by {by}). Published exports: {folder}.",
        "header": "No.  Programme       Quarter  State                                   who                     when                 Comment",
        "none": "No figures and no approvals yet.",
        "states": {"open": "open", "approved": "approved", "changed": "changed since approval"},
        "because": {"deliveries": "deliveries", "catalogue": "catalogue"},
        "no_entry": "No approval {} (a number, or a date YYYY-MM-DD on or before which something was approved).",
        "published": "Publication as at approval {id} (data as of {day}) written to {out}.",
    },
}


def add_commands(sub, lang: str, home_help: str) -> None:
    t = TEXT[lang]
    commands = []
    for name in ("approve", "reopen"):
        cmd = sub.add_parser(name, help=t[f"{name}_help"], description=t[f"{name}_help"])
        cmd.add_argument("programme", help="bpb-lsa-2017, lzz-2, …")
        cmd.add_argument("quarter", help="YYYY-Qn")
        cmd.add_argument("--by", default=None, help=t["by_help"])
        cmd.add_argument("--comment", default="", help=t["comment_help"])
        commands.append(cmd)
    listing = sub.add_parser("approvals", help=t["approvals_help"], description=t["approvals_help"])
    listing.add_argument("--log", action="store_true", help=t["log_help"])
    commands.append(listing)
    publish = sub.add_parser("publish", help=t["publish_help"], description=t["publish_help"])
    publish.add_argument("--as-of", dest="as_of", required=True, help=t["as_of_help"])
    publish.add_argument("--out", required=True, help=t["out_help"])
    commands.append(publish)
    for cmd in commands:
        cmd.add_argument("--home", help=home_help)


def _catalogue(home: Home):
    from pipeline.catalogue import cached_catalogue
    from pipeline.indicators import cached_indicators

    catalogue = cached_catalogue(home.catalogue_dir)
    return catalogue, cached_indicators(catalogue)


def cmd_change(args, lang: str) -> int:
    """approve or reopen."""
    from pipeline.approval import ApprovalError, approve, keeper, reopen, write_published

    t = TEXT[lang]
    home = Home.resolve(args.home)
    by = args.by or getpass.getuser()
    catalogue, indicators = _catalogue(home)
    act = approve if args.command == "approve" else reopen
    with connect(home.warehouse) as con:
        try:
            entry = act(con, catalogue, args.programme, args.quarter, by, args.comment, keep=keeper(home))
        except ApprovalError as error:
            print(error.de if lang == "de" else error.en)
            return 1
        folder = write_published(con, home, catalogue, indicators)
    key = "approved" if args.command == "approve" else "reopened"
    print(t[key].format(id=entry, programme=args.programme, quarter=args.quarter, by=by, folder=folder))
    return 0


def cmd_approvals(args, lang: str) -> int:
    from pipeline.approval import states

    t = TEXT[lang]
    home = Home.resolve(args.home)
    catalogue, _ = _catalogue(home)
    if args.log:
        return _print_log(home, t)
    with connect(home.warehouse, read_only=True) as con:
        listed = states(con, catalogue)
    if listed.empty:
        print(t["none"])
        return 0
    print(t["header"])
    for row in listed.itertuples(index=False):
        state = t["states"][row.state]
        if isinstance(row.changed_because, str):
            state += " (" + ", ".join(t["because"][w] for w in row.changed_because.split(", ")) + ")"
        number = "–" if row.approval_id != row.approval_id or row.approval_id is None else str(int(row.approval_id))
        who = row.approved_by if isinstance(row.approved_by, str) else "–"
        when = str(row.approved_at)[:19] if isinstance(row.approved_by, str) else "–"
        comment = row.comment if isinstance(row.comment, str) else ""
        print(f"{number:<5}{row.programme_id:<16}{row.quarter:<9}{state:<40}{who:<24}{when:<21}{comment}".rstrip())
    return 0


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _print_log(home: Home, t) -> int:
    from pipeline.approval import log

    with connect(home.warehouse, read_only=True) as con:
        entries = log(con)
    if entries.empty:
        print(t["none"])
        return 0
    print(t["header"])
    for row in entries.itertuples(index=False):
        comment = row.comment if isinstance(row.comment, str) else ""
        print(f"{row.approval_id:<5}{row.programme_id:<16}{row.quarter:<9}{t['actions'][row.action]:<40}"
              f"{row.approved_by:<24}{str(row.approved_at)[:19]:<21}{comment}".rstrip())
    return 0


def cmd_publish(args, lang: str) -> int:
    """The exports and the site as they stood after one log entry, from the warehouse's record of
    that approval and the catalogue version in force then."""
    from dashboards.site import build_site
    from pipeline.approval import PUBLISHED_DIR, entry_for, publication, restore_catalogue, write_publication
    from pipeline.catalogue import load_catalogue
    from pipeline.indicators import load_indicators

    t = TEXT[lang]
    home = Home.resolve(args.home)
    out = Path(args.out)
    with connect(home.warehouse, read_only=True) as con:
        try:
            entry = entry_for(con, args.as_of)
        except (LookupError, ValueError):
            print(t["no_entry"].format(args.as_of))
            return 1
        version = con.execute("SELECT catalogue_version FROM approvals WHERE approval_id = ?", [entry]).fetchall()[0][0]
        with tempfile.TemporaryDirectory() as folder:
            catalogue = load_catalogue(restore_catalogue(con, version, Path(folder) / "catalogue"))
            indicators = load_indicators(catalogue)
            pub = publication(con, up_to=entry)
            write_publication(con, catalogue, indicators, pub, out / "exports" / PUBLISHED_DIR)
            site = Home(out)
            # The quality reports travel with the site (its links): linked, not copied, where possible.
            if home.reports.is_dir() and not site.reports.exists():
                shutil.copytree(home.reports, site.reports, copy_function=_link)
            build_site(con, catalogue, indicators, site, publication=pub)
    print(t["published"].format(id=entry, day=pub.datenstand, out=out))
    return 0
