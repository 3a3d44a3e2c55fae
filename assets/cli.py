"""`teilhabe`: the command line for district offices and operators. German first, English with --lang en."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from assets import cli_approval as approval
from assets import cli_review as review
from pipeline.contract import PROJECT_ROOT
from pipeline.home import Home

# 3: the machine failed, not the data (disk full, read-only home, no permission, a corrupted or
# locked warehouse): one sentence says what happened and what to do (pipeline/faults.py).
EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_FAULT = 0, 1, 2, 3

TEXT = {
    "de": {
        "description": "teilhabe-monitor: Quartalslieferungen der Landkreise prüfen, einlesen und auswerten.",
        "check_help": "Dateien vor dem Senden prüfen (schreibt nichts). Exit 0: alles angenommen, 1: etwas abgelehnt, 2: Aufruffehler.",
        "run_help": "Alle Lieferungen im Posteingang verarbeiten und alles veröffentlichen.",
        "demo_help": "Beispiel-Lieferungen in den Posteingang schreiben.",
        "run_released": "Abgebrochenen Lauf {} als fehlgeschlagen markiert und seine Sperre freigegeben.",
        "scale_help": "demo: die Programme des Katalogs (Standard); national: 400 synthetische Kreise × 20 Quartale "
                      "mit eigenem Katalog im Arbeitsordner (für den Benchmark)",
        "ui_help": "Dagster-Oberfläche schnell lokal ansehen (ohne Zeitpläne und Sensoren).",
        "serve_help": "Dagster-Webserver und -Daemon für den Betrieb starten: Zeitplan und Posteingang-Sensor laufen.",
        "port_help": "Port (Standard 3000)",
        "host_help": "Adresse (Standard 127.0.0.1, nur lokal erreichbar)",
        "slides_help": "Vergleichsgrafiken als PNG und eine PDF-Mappe für die Konferenz exportieren (braucht Chromium).",
        "serving": "Dagster läuft: http://{host}:{port} (Webserver und Daemon; Strg+C beendet)",
        "home_help": "Arbeitsordner (Posteingang, Datenbank, Exporte); sonst TEILHABE_HOME oder ./teilhabe-home",
        "files_help": "Lieferdateien (.csv oder .xlsx)",
        "missing": "Datei nicht gefunden: {}",
        "warehouse_busy": "Die Datenbank {} wird gerade geschrieben: Prüfung ohne die dort schon angenommenen "
                          "Veranstaltungen.",
        "no_files": "Bitte mindestens eine Datei angeben.",
        "run_start": "Verarbeite {n} Dateien im Posteingang {inbox}: {changed} Quartale mit neuen oder geänderten "
                     "Dateien (Lauf über {first} … {last}) …",
        "run_empty": "Der Posteingang {inbox} ist leer.",
        "run_failed": "Der Lauf ist fehlgeschlagen: {}",
        "results": "Ergebnisse:",
        "demo_done": "{n} Beispiel-Lieferungen geschrieben nach {inbox}",
        "demo_approvals_help": "nach dem ersten Lauf: die Quartale bis auf das jeweils letzte freigeben und eine "
                               "Korrektur eines freigegebenen Quartals in den Posteingang legen",
        "demo_approved": "{n} Quartale freigegeben; Korrektur {file} im Posteingang: der nächste Lauf zeigt das "
                         "Quartal als „geändert seit Freigabe“.",
        "catalogue_error": "Der Katalog ist fehlerhaft:",
        "run_failed_details": "Einzelheiten zum Fehler zeigt die Dagster-Oberfläche (teilhabe ui).",
        "rebuild_help": "Die Datenbank aus dem Archiv neu aufbauen (z. B. wenn sie beschädigt ist): die alte Datei "
                        "wird als warehouse.duckdb.broken-<Zeit> beiseitegelegt, jede archivierte Lieferung in der "
                        "Reihenfolge ihres Eingangs neu eingelesen, dann alles neu berechnet.",
        "rebuild_aside": "Die bisherige Datenbank liegt jetzt unter {}.",
        "rebuild_replayed": "{n} archivierte Dateien in der Reihenfolge ihres Eingangs neu eingelesen "
                            "({quarters} Quartale).",
        "rebuild_done": "Die Datenbank {} ist aus dem Archiv neu aufgebaut.",
    },
    "en": {
        "description": "teilhabe-monitor: check, ingest and evaluate the districts' quarterly deliveries.",
        "check_help": "Check files before sending (writes nothing). Exit 0: all accepted, 1: something rejected, 2: usage error.",
        "run_help": "Process every delivery in the inbox and publish everything.",
        "demo_help": "Write sample deliveries into the inbox.",
        "run_released": "Marked the killed run {} as failed and released its lock.",
        "scale_help": "demo: the catalogue's programmes (default); national: 400 synthetic districts × 20 quarters "
                      "with their own catalogue in the home (for the benchmark)",
        "ui_help": "Quick local look at the Dagster UI (no schedules or sensors).",
        "serve_help": "Start the Dagster webserver and daemon for operation: the schedule and the inbox sensor run.",
        "port_help": "port (default 3000)",
        "host_help": "address (default 127.0.0.1, local only)",
        "slides_help": "Export the comparison charts as PNG and one PDF pack for the conference (needs Chromium).",
        "serving": "Dagster is running: http://{host}:{port} (webserver and daemon; Ctrl+C stops)",
        "home_help": "home folder (inbox, warehouse, exports); else TEILHABE_HOME or ./teilhabe-home",
        "files_help": "delivery files (.csv or .xlsx)",
        "missing": "file not found: {}",
        "warehouse_busy": "The warehouse {} is being written: checking without the events it already accepted.",
        "no_files": "Name at least one file.",
        "run_start": "Processing {n} files in the inbox {inbox}: {changed} quarters with new or changed files "
                     "(run over {first} … {last}) …",
        "run_empty": "The inbox {inbox} is empty.",
        "run_failed": "The run failed: {}",
        "results": "Results:",
        "demo_done": "{n} sample deliveries written to {inbox}",
        "demo_approvals_help": "after the first run: approve every quarter but the latest and put a correction of "
                               "an approved quarter into the inbox",
        "demo_approved": "{n} quarters approved; correction {file} in the inbox: the next run shows that quarter as "
                         "\"changed since approval\".",
        "catalogue_error": "The catalogue is invalid:",
        "run_failed_details": "The Dagster UI shows the details of the error (teilhabe ui).",
        "rebuild_help": "Rebuild the warehouse from the archive (e.g. when it is corrupted): the old file is moved "
                        "aside as warehouse.duckdb.broken-<time>, every archived delivery is received again in the "
                        "order it came in, then everything is recomputed.",
        "rebuild_aside": "The previous warehouse is now at {}.",
        "rebuild_replayed": "Received {n} archived files again in the order they came in ({quarters} quarters).",
        "rebuild_done": "The warehouse {} is rebuilt from the archive.",
    },
}


def _lang(argv: list[str]) -> str:
    if "--lang" in argv:
        i = argv.index("--lang")
        if i + 1 < len(argv) and argv[i + 1] in TEXT:
            return argv[i + 1]
    return "en" if os.environ.get("TEILHABE_LANG", "de").startswith("en") else "de"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 2 with a short message, never a traceback
        self.print_usage(sys.stderr)
        print(message, file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser(lang: str) -> argparse.ArgumentParser:
    t = TEXT[lang]
    parser = _Parser(prog="teilhabe", description=t["description"])
    parser.add_argument("--lang", choices=sorted(TEXT), default=lang, help="de | en")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = sub.add_parser("check", help=t["check_help"], description=t["check_help"])
    check.add_argument("files", nargs="*", help=t["files_help"])
    check.add_argument("--home", help=t["home_help"])
    for name in ("run", "rebuild", "demo", "ui", "serve", "slides"):
        cmd = sub.add_parser(name, help=t[f"{name}_help"], description=t[f"{name}_help"])
        cmd.add_argument("--home", help=t["home_help"])
        if name == "demo":
            cmd.add_argument("--scale", choices=("demo", "national"), default="demo", help=t["scale_help"])
            cmd.add_argument("--approvals", action="store_true", help=t["demo_approvals_help"])
        if name in ("ui", "serve"):
            cmd.add_argument("--port", type=int, default=3000, help=t["port_help"])
            cmd.add_argument("--host", default="127.0.0.1", help=t["host_help"])
    review.add_commands(sub, lang, t["home_help"])
    approval.add_commands(sub, lang, t["home_help"])
    for cmd in sub.choices.values():
        cmd.add_argument("--lang", choices=sorted(TEXT), default=lang, help="de | en")
    return parser


def _catalogue(home: Home | None):
    from pipeline.catalogue import cached_catalogue  # a run's steps then find it loaded

    return cached_catalogue(home.catalogue_dir if home else None)


def cmd_check(args, t) -> int:
    import duckdb

    from pipeline import warehouse
    from pipeline.contract import load_contract
    from pipeline.faults import LOCKED, classify
    from pipeline.intake.check import check_files, lines, verdict

    if not args.files:
        print(t["no_files"], file=sys.stderr)
        return EXIT_USAGE
    paths = [Path(f) for f in args.files]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        for p in missing:
            print(t["missing"].format(p), file=sys.stderr)
        return EXIT_USAGE
    home = Home.resolve(args.home) if (args.home or os.environ.get("TEILHABE_HOME")) else None
    known = None
    if home and home.warehouse.exists():  # read-only: events the pipeline already accepted
        try:
            with warehouse.connect(home.warehouse, read_only=True) as con:
                known = warehouse.fetch_df(con, "SELECT DISTINCT district_ags, event_id FROM stg_events")
        except duckdb.Error as error:
            if getattr(classify(error), "kind", None) != LOCKED:
                raise  # corrupted, unreadable: main() says what to do
            # a run is writing it: check without them, and say so
            print(t["warehouse_busy"].format(home.warehouse), file=sys.stderr)
    reports = check_files(paths, load_contract(), _catalogue(home), lang=args.lang, known_events=known)
    with_events = known is not None or any("events" in r.feeds for r in reports)
    for report in reports:
        print("\n".join(lines(report, args.lang, with_events)))
    print(verdict(reports, args.lang))
    return EXIT_OK if all(r.clean for r in reports) else EXIT_REJECTED


def prepare_instance(home: Home) -> None:
    """A persistent Dagster instance under the home, so the UI later shows the same runs."""
    home.dagster_home.mkdir(parents=True, exist_ok=True)
    target = home.dagster_home / "dagster.yaml"
    if not target.exists():  # copied whole or not at all: a half file would break every later start
        partial = target.with_name(".dagster.yaml.tmp")
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", partial)
        os.replace(partial, target)
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    os.environ["TEILHABE_HOME"] = str(home.root)


# `teilhabe run` executes in its own process: its runs carry the process id, so that a later run
# can tell a run that is still going from one whose process was killed (SIGKILL, a power cut).
RUN_PID_TAG, RUN_HOST_TAG = "teilhabe/pid", "teilhabe/host"


def release_dead_runs(instance) -> list[str]:
    """Mark runs of killed `teilhabe run` processes failed and free their `duckdb` pool slot.

    Without this, the slot a killed run held stays claimed and the next run waits for it forever."""
    import socket

    import dagster as dg

    released = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED,
                                                                  dg.DagsterRunStatus.STARTING])):
        pid, host = run.tags.get(RUN_PID_TAG), run.tags.get(RUN_HOST_TAG)
        if not pid or host != socket.gethostname() or _alive(int(pid)):
            continue
        instance.report_run_failed(run, f"Prozess {pid} beendet / process {pid} ended")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_pipeline(home: Home, t=TEXT["de"], also: set[str] = frozenset()) -> int:
    """Process the due quarters of the inbox (assets/changes.py, the sensor's rule) and the
    quarters `also` in one run over the quarters they span (a single-run backfill); with none,
    the running quarter, so that deadlines and everything derived from the catalogue are brought
    up to date. Returns the exit code; a failed step is told in one sentence where it is a fault
    of the machine (pipeline/faults.py), else by the error it failed with."""
    import socket

    import dagster as dg

    from pipeline.quarters import key_to_quarter, quarter_to_key

    prepare_instance(home)
    from assets.changes import due_quarters, inbox_digests
    from assets.console import one_line_console
    from assets.definitions import defs
    from assets.resources import TeilhabeHome

    # The command line's console: a failed step in one line, the trace in the event log.
    defs = dg.Definitions.merge(defs, dg.Definitions(loggers={"console": one_line_console}))
    job = defs.resolve_job_def("quartal_verarbeiten")
    keys = job.partitions_def.get_partition_keys()
    instance = dg.DagsterInstance.get()
    for run_id in release_dead_runs(instance):
        print(t["run_released"].format(run_id))
    resource = TeilhabeHome(home=str(home.root))
    digests = inbox_digests(resource)
    due = due_quarters(instance, resource, digests)
    wanted = sorted({quarter_to_key(q) for q in {*due, *also}} & set(keys)) or [keys[-1]]
    files = len(list(home.inbox.iterdir()))
    if not files:
        print(t["run_empty"].format(inbox=home.inbox))
    else:
        print(t["run_start"].format(n=files, inbox=home.inbox, changed=len(due),
                                    first=key_to_quarter(wanted[0]), last=key_to_quarter(wanted[-1])))
    # The home is handed to the run, not read from the environment: `assets.definitions` may have
    # been imported earlier in this process for another home (a test, a rebuild after a run).
    result = job.execute_in_process(
        instance=instance, raise_on_error=False, resources={"home": resource},
        tags={"dagster/asset_partition_range_start": wanted[0], "dagster/asset_partition_range_end": wanted[-1],
              RUN_PID_TAG: str(os.getpid()), RUN_HOST_TAG: socket.gethostname()},
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}})
    if result.success:
        return EXIT_OK
    return report_failure(home, t, [e.event_specific_data.error for e in result.all_events
                                     if e.is_step_failure and e.event_specific_data and e.event_specific_data.error])


def report_failure(home: Home, t, step_errors) -> int:
    """One sentence for a run whose steps failed: the first fault of the machine among the
    errors (and what they were raised from), else each step's own error in one line."""
    from assets.console import errors, first_line, innermost
    from pipeline.faults import PERMISSION, READ_ONLY, classify_text, probe

    faults = [classify_text(inner.cls_name or "", inner.message or "") for error in step_errors
              for inner in errors(error)]
    fault = next((f for f in faults if f is not None), None)
    if fault is None or fault.kind in (READ_ONLY, PERMISSION):  # the error did not say why, or said it vaguely
        fault = probe(home.root, home.dagster_home, home.exports) or fault
    if fault is not None:
        print(fault.sentence(t.get("lang", "de"), home.root), file=sys.stderr)
        return EXIT_FAULT
    lines = "; ".join(first_line(innermost(error)) for error in step_errors)
    print(t["run_failed"].format(lines or "?") + " " + t["run_failed_details"], file=sys.stderr)
    return EXIT_REJECTED


def _print_results(home: Home, t) -> None:
    print(t["results"])
    for path in [home.exports / "rejections.csv", home.exports / "delivery_log.csv", home.reports,
                 home.exports / "indicators.csv", home.exports / "indicators.xlsx", home.exports / "impact.csv",
                 home.exports / "published",
                 home.site / "index.html", home.site / "en" / "index.html"]:
        if path.exists():
            print(f"  {path}")


def cmd_run(args, t) -> int:
    home = Home.resolve(args.home).ensure()
    code = run_pipeline(home, t)
    if code == EXIT_OK:  # after a failure the last line is what happened, not a list of older files
        _print_results(home, t)
    return code


def cmd_rebuild(args, t) -> int:
    """Move the warehouse aside and make it again from the archive (pipeline/rebuild.py)."""
    import duckdb

    from pipeline import rebuild, warehouse
    from pipeline.contract import load_contract
    from pipeline.faults import LOCKED, classify

    home = Home.resolve(args.home).ensure()
    if home.warehouse.exists():  # never move a file another process is writing
        try:
            with warehouse.connect(home.warehouse, read_only=True):
                pass
        except duckdb.Error as error:
            if getattr(classify(error), "kind", None) == LOCKED:
                raise
    aside = rebuild.move_aside(home)
    if aside is not None:
        print(t["rebuild_aside"].format(aside))
    with warehouse.connect(home.warehouse) as con:
        count, quarters = rebuild.replay(home, load_contract(), _catalogue(home), con)
    print(t["rebuild_replayed"].format(n=count, quarters=len(quarters)))
    code = run_pipeline(home, t, also=quarters)
    if code == EXIT_OK:
        _print_results(home, t)
        print(t["rebuild_done"].format(home.warehouse))
    return code



def cmd_demo(args, t) -> int:
    from pipeline.demo import write_demo, write_national

    home = Home.resolve(args.home).ensure()
    if args.approvals:
        return demo_approvals(home, t)
    if args.scale == "national":
        written = write_national(home)
    else:
        written = write_demo(home, _catalogue(home))
    print(t["demo_done"].format(n=len(written), inbox=home.inbox))
    return EXIT_OK


def demo_approvals(home: Home, t) -> int:
    """After the demo's first run: approve its quarters but the latest, write exports/published/,
    and put a correction of one approved quarter into the inbox for the next run."""
    from pipeline import warehouse
    from pipeline.approval import has_approvals, keeper, write_published
    from pipeline.demo import approve_demo, write_correction
    from pipeline.indicators import cached_indicators

    catalogue = _catalogue(home)
    with warehouse.connect(home.warehouse) as con:
        ids = [] if has_approvals(con) else approve_demo(con, catalogue, keep=keeper(home))
        write_published(con, home, catalogue, cached_indicators(catalogue))
    path = write_correction(home, catalogue)
    print(t["demo_approved"].format(n=len(ids), file=path.name if path else "–"))
    return EXIT_OK


def _dagster_command(name: str, *args: str) -> list[str]:
    return [str(Path(sys.executable).with_name(name)), *args]


def cmd_ui(args, t) -> int:
    home = Home.resolve(args.home).ensure()
    prepare_instance(home)
    command = _dagster_command("dagster-webserver", "-m", "assets.definitions", "-h", args.host, "-p", str(args.port))
    os.execv(command[0], command)
    return EXIT_OK


def cmd_serve(args, t) -> int:
    """Webserver and daemon as two supervised processes on the home's persistent instance."""
    import signal
    import subprocess
    import time

    home = Home.resolve(args.home).ensure()
    prepare_instance(home)
    processes = [
        subprocess.Popen(_dagster_command("dagster-webserver", "-m", "assets.definitions", "-h", args.host,
                                          "-p", str(args.port))),
        subprocess.Popen(_dagster_command("dagster-daemon", "run", "-m", "assets.definitions")),
    ]
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print(t["serving"].format(host=args.host, port=args.port), flush=True)
    try:
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    failed = [p.returncode for p in processes if p.returncode not in (0, -signal.SIGTERM, None)]
    return EXIT_OK if stopping or not failed else EXIT_REJECTED


def cmd_slides(args, t) -> int:
    from dashboards.slides import run_cli

    return run_cli(Home.resolve(args.home).ensure(), lang=args.lang)


def main(argv: list[str] | None = None) -> int:
    from pipeline.catalogue import CatalogueError

    argv = list(sys.argv[1:] if argv is None else argv)
    lang = _lang(argv)
    args = build_parser(lang).parse_args(argv)
    t = {**TEXT[args.lang], "lang": args.lang}
    try:
        commands = {"check": cmd_check, "run": cmd_run, "rebuild": cmd_rebuild, "demo": cmd_demo, "ui": cmd_ui,
                    "serve": cmd_serve, "slides": cmd_slides,
                    "outliers": lambda a, _: review.cmd_outliers(a, a.lang),
                    "confirm": lambda a, _: review.cmd_confirm(a, a.lang),
                    "approve": lambda a, _: approval.cmd_change(a, a.lang),
                    "reopen": lambda a, _: approval.cmd_change(a, a.lang),
                    "approvals": lambda a, _: approval.cmd_approvals(a, a.lang),
                    "publish": lambda a, _: approval.cmd_publish(a, a.lang)}
        return commands[args.command](args, t)
    except CatalogueError as exc:
        print(t["catalogue_error"], file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a fault of the machine is one sentence; anything else is a bug: its traceback
        from pipeline.faults import PERMISSION, READ_ONLY, classify, probe

        home = Home.resolve(getattr(args, "home", None))
        fault = classify(exc)
        if fault is None or fault.kind in (READ_ONLY, PERMISSION):  # SQLite says "readonly" for both
            fault = probe(home.root, home.dagster_home) or fault
        if fault is None:
            raise
        home = home.root
        print(fault.sentence(args.lang, home), file=sys.stderr)
        return EXIT_FAULT


def script() -> None:
    """The `teilhabe` command."""
    sys.exit(main())


if __name__ == "__main__":
    script()
