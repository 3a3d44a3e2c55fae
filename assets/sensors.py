"""Inbox sensor: a new or changed file starts the run for its delivery's quarter.

The run key is the file's SHA-256, so the same bytes never run twice; the cursor keeps the
mtimes seen, so unchanged files are not even re-hashed.
"""
import hashlib
import json
import os

import dagster as dg

from assets.jobs import quartal_verarbeiten
from assets.partitions import QUARTERS
from assets.resources import TeilhabeHome
from pipeline.contract import load_contract
from pipeline.quarters import quarter_to_key
from pipeline.reader import FileName, parse_file_name


@dg.sensor(job=quartal_verarbeiten, minimum_interval_seconds=int(os.environ.get("TEILHABE_SENSOR_INTERVAL", "30")), default_status=dg.DefaultSensorStatus.RUNNING,
           description="Startet die Verarbeitung, sobald eine Datei im Posteingang ankommt oder sich ändert. "
                       "/ Runs when a file arrives in or changes in the inbox.")
def posteingang(context: dg.SensorEvaluationContext, home: TeilhabeHome):
    seen = json.loads(context.cursor) if context.cursor else {}
    contract, latest_key = load_contract(), QUARTERS.get_last_partition_key()
    requests, unassigned, now_seen = [], [], {}
    for path in sorted(p for p in home.paths.inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        stamp = f"{path.stat().st_mtime_ns}:{path.stat().st_size}"
        now_seen[path.name] = stamp
        if seen.get(path.name) == stamp:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        parsed = parse_file_name(path.name, contract)
        if isinstance(parsed, FileName):
            key = quarter_to_key(parsed.quarter)
        else:
            # Not assignable to a quarter: any run records it as set aside, with the reason.
            unassigned.append(path.name)
            key = latest_key
        requests.append(dg.RunRequest(run_key=digest, partition_key=key, tags={"datei": path.name[:60]}))
    if unassigned:
        context.log.warning(f"Nicht zuzuordnen / cannot be assigned: {', '.join(unassigned)}")
    context.update_cursor(json.dumps(now_seen, sort_keys=True))
    return requests or dg.SkipReason("Keine neuen Dateien / no new files")
