"""The quarterly run: some days after a quarter ends, process the quarter that just ended."""
import datetime as dt
import os

import dagster as dg

from assets.jobs import quartal_verarbeiten
from pipeline.quarters import quarter_of, quarter_to_key

# Default: the 15th of the month after the quarter, 06:00 Berlin time (configurable per deployment).
SCHEDULE_DAY = int(os.environ.get("TEILHABE_SCHEDULE_DAY", "15"))


@dg.schedule(job=quartal_verarbeiten, cron_schedule=f"0 6 {SCHEDULE_DAY} 1,4,7,10 *",
             execution_timezone="Europe/Berlin", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Verarbeitet nach Quartalsende das abgelaufene Quartal. / Processes the quarter that just ended.")
def quartalslauf(context: dg.ScheduleEvaluationContext):
    ended = quarter_of(context.scheduled_execution_time.date() - dt.timedelta(days=SCHEDULE_DAY + 1))
    return dg.RunRequest(run_key=f"quartal-{ended}", partition_key=quarter_to_key(ended),
                         tags={"quartal": ended})
