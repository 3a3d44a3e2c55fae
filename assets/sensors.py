"""Inbox sensor: a quarter whose files are new or changed gets one run (assets/changes.py).

Per tick it stats the inbox (no file is read unless its quarter's names, sizes or times changed
since the last tick: the cursor), hashes the files of those quarters only, and requests at most
one run per due quarter, keyed by the quarter and its files' digest: the same files never run
twice, and a thousand files dropped into one quarter are one run.
"""
import json
import os

import dagster as dg

from assets.changes import due_quarters, inbox_digests
from assets.jobs import quartal_verarbeiten
from assets.resources import TeilhabeHome
from pipeline.contract import load_contract
from pipeline.intake import inbox
from pipeline.quarters import quarter_to_key, reporting_range


@dg.sensor(job=quartal_verarbeiten, minimum_interval_seconds=int(os.environ.get("TEILHABE_SENSOR_INTERVAL", "30")),
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Startet die Verarbeitung eines Quartals, sobald eine seiner Dateien im Posteingang ankommt oder "
                       "sich ändert. / Runs a quarter when one of its files arrives in or changes in the inbox.")
def posteingang(context: dg.SensorEvaluationContext, home: TeilhabeHome):
    items = inbox.scan_inbox(home.paths.inbox, load_contract(), home.catalogue(), reporting_range())
    stats = inbox.quarter_stats(items, reporting_range()[1])
    seen = json.loads(context.cursor) if context.cursor else {}
    # A quarter whose files changed, arrived or all went (it drops out of the stats).
    changed = {quarter for quarter in stats.keys() | seen.keys() if seen.get(quarter) != stats.get(quarter)}
    if not changed:
        return dg.SkipReason("Keine neuen Dateien / no new files")
    digests = inbox_digests(home, changed)
    due = due_quarters(context.instance, home, digests, changed)
    unassigned = [i.name for i in items if not isinstance(i.parsed, inbox.FileName)]
    if unassigned:
        context.log.warning(f"Nicht zuzuordnen / cannot be assigned: {', '.join(unassigned[:20])}"
                            + (f" (+{len(unassigned) - 20})" if len(unassigned) > 20 else ""))
    context.update_cursor(json.dumps(stats, sort_keys=True))
    if not due:
        return dg.SkipReason("Dateien wie bereits verarbeitet / files as already processed")
    return [dg.RunRequest(run_key=f"{quarter}:{digests.get(quarter, 'leer')}", partition_key=quarter_to_key(quarter),
                          tags={"quartal": quarter, "teilhabe/grund": why})
            for quarter, why in sorted(due.items())]
