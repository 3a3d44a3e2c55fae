"""The floor: a minimal hand-written DuckDB script over the same inbox as the pipeline.

It reads the delivered CSVs (grouped by header line, one `read_csv` scan per group), applies the
contract's row rules that can reject rows of the feeds behind the standard indicators (events,
attendance, advice, newsletters, trajectories) in plain SQL, keeps the current record per id (the latest
delivery wins; an event's attendance list belongs to the latest delivery listing it), and
computes the standard indicator totals per programme × district (and ALL). No archive, no
receipts, no reports, no Dagster: what a careful analyst would write by hand for these files.

    python bench/floor.py HOME OUT.csv

HOME is a national-scale home (`teilhabe demo --scale national`): UTF-8 CSVs, English headers.
"""
from __future__ import annotations

import collections
import re
import sys
import time
from pathlib import Path

import duckdb
import yaml

FEEDS = ("events", "attendance", "advice", "newsletters", "trajectories")
NAME = re.compile(r"^(\d{5})_(\d{4}-Q[1-4])_([a-z_]+)\.csv$", re.IGNORECASE)
FORBIDDEN = {"name", "vorname", "nachname", "email", "e_mail", "mail", "telefon", "phone", "adresse", "address",
             "geburtsdatum", "date_of_birth"}
COLUMNS = {
    "events": ("event_id", "date", "event_type", "title", "municipality", "field", "supra_regional",
               "participants_total", "participants_volunteer", "participants_staff", "participants_newcomer"),
    "attendance": ("event_id", "person_key", "role"),
    "advice": ("case_id", "date", "client_type", "client_key", "topic", "duration_min"),
    "newsletters": ("issue_id", "sent_date", "recipients", "title"),
    "trajectories": ("observation_id", "person_key", "date", "arrival_month", "language_level", "course", "activity",
                     "advice_service"),
}
INDICATORS = ("events_held", "trainings_held", "network_meetings", "best_practice_meetings", "advice_sessions",
              "advised_clients", "newsletters_sent", "engaged_reached", "people_reached", "traj_persons",
              "traj_followed")

# Shared SQL fragments: dates (ISO or German), whole numbers, pseudonyms.
DATE = """CASE WHEN regexp_full_match({x}, '\\d{{4}}-\\d{{2}}-\\d{{2}}([ T]00:00(:00)?)?')
               THEN CAST(try_strptime({x}[1:10], '%Y-%m-%d') AS DATE)
               WHEN regexp_full_match({x}, '\\d{{1,2}}\\.\\d{{1,2}}\\.\\d{{4}}')
               THEN CAST(try_strptime({x}, '%d.%m.%Y') AS DATE) END"""
INT = "CASE WHEN regexp_full_match({x}, '-?\\d+') THEN TRY_CAST({x} AS BIGINT) END"
PSEUDONYM_OK = """(regexp_full_match({x}, '[A-Za-z0-9_-]{{4,64}}')
                   AND NOT regexp_full_match({x}, '[A-ZÄÖÜ][a-zäöüß]+([ _-][A-ZÄÖÜ][a-zäöüß]+)*')
                   AND NOT regexp_full_match({x}, '(0|49)[0-9][0-9_-]{{5,}}'))"""
QUARTER_END = "last_day(CAST(replace(replace(replace(replace(dq, '-Q1', '-03'), '-Q2', '-06'), '-Q3', '-09'), '-Q4', '-12') || '-01' AS DATE))"


def _fold(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower()).strip("_")


def load_raw(con, inbox: Path) -> dict[str, int]:
    """raw_<feed>(file, ags, dq, <columns as text, trimmed, '' as NULL>): one scan per header group."""
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = collections.defaultdict(list)
    names = []
    for path in sorted(inbox.iterdir()):
        m = NAME.match(path.name)
        if not m or m[3].lower() not in FEEDS:
            continue
        with path.open("rb") as handle:
            header = handle.readline().decode("utf-8-sig").rstrip("\r\n")
        groups[(m[3].lower(), tuple(header.split(",")))].append(str(path))
        names.append((str(path), m[1], m[2]))
    import pandas as pd
    con.register("_names", pd.DataFrame(names, columns=["file", "ags", "dq"]))
    con.execute("CREATE OR REPLACE TEMP TABLE files AS SELECT * FROM _names")
    for feed in FEEDS:
        cols = ", ".join(f"{c} VARCHAR" for c in COLUMNS[feed])
        con.execute(f"CREATE OR REPLACE TABLE raw_{feed} (file VARCHAR, ags VARCHAR, dq VARCHAR, {cols})")
    files = collections.Counter()
    for (feed, header), paths in groups.items():
        folded = [_fold(h) for h in header]
        if FORBIDDEN & set(folded):
            continue  # a file with personal identifiers is set aside whole
        spec = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
        select = ", ".join(f"nullif(trim(c{folded.index(c)}), '')" if c in folded else "NULL" for c in COLUMNS[feed])
        con.execute(f"""
            INSERT INTO raw_{feed}
            SELECT f.file, f.ags, f.dq, {select}
            FROM read_csv(?, header = true, auto_detect = false, columns = {{{spec}}}, delim = ',', quote = '"',
                          escape = '"', strict_mode = false, filename = true) r JOIN files f ON f.file = r.filename""",
                    [paths])
        files[feed] += len(paths)
    return dict(files)


def programmes(home: Path) -> list[tuple[str, str, str, list[str]]]:
    data = yaml.safe_load((home / "catalogue" / "programmes.yaml").read_text(encoding="utf-8"))
    return [(p["id"], str(p["start"]), str(p["end"]), [str(a) for a in p["districts"]]) for p in data["programmes"]]


VALIDATE_SQL = f"""
CREATE OR REPLACE TEMP TABLE members AS SELECT * FROM _members;

-- events: required values, date, enums, whole numbers ≥ 0, sub-counts within the total,
-- one id once per file, not after the delivery quarter, inside a programme period
CREATE OR REPLACE TABLE ok_events AS
WITH t AS (
    SELECT *, {DATE.format(x='date')} AS d, {INT.format(x='participants_total')} AS total,
           {INT.format(x='participants_volunteer')} AS vol, {INT.format(x='participants_staff')} AS staff,
           {INT.format(x='participants_newcomer')} AS new,
           count(*) OVER (PARTITION BY file, event_id) AS copies
    FROM raw_events)
SELECT ags, dq, event_id, d AS date, event_type, total AS participants_total, vol AS participants_volunteer,
       staff AS participants_staff
FROM t
WHERE event_id IS NOT NULL AND date IS NOT NULL AND d IS NOT NULL AND participants_total IS NOT NULL
  AND event_type IN ('training', 'best_practice', 'network_meeting', 'round_table', 'workshop', 'information',
                     'culture', 'conference', 'other')
  AND (field IS NULL OR field IN ('economy', 'politics', 'social_culture', 'education', 'cross_cutting'))
  AND (supra_regional IS NULL OR lower(supra_regional) IN ('true', 'false', 'ja', 'nein', 'yes', 'no', '1', '0', 'x',
                                                           'wahr', 'falsch', 'j', 'n', 'y'))
  AND total IS NOT NULL AND total >= 0
  AND (participants_volunteer IS NULL OR vol >= 0) AND (participants_staff IS NULL OR staff >= 0)
  AND (participants_newcomer IS NULL OR new >= 0)
  AND coalesce(total >= vol, TRUE) AND coalesce(total >= staff, TRUE) AND coalesce(total >= new, TRUE)
  AND coalesce(total >= vol + staff, TRUE)
  AND copies = 1 AND d <= {QUARTER_END}
  AND EXISTS (SELECT 1 FROM members m WHERE m.ags = t.ags AND d BETWEEN m.start AND m."end");

CREATE OR REPLACE TABLE ok_attendance AS
WITH known AS (SELECT DISTINCT ags, event_id FROM ok_events),
t AS (SELECT *, count(*) OVER (PARTITION BY file, event_id, person_key) AS copies FROM raw_attendance)
SELECT t.ags, t.dq, t.event_id, t.person_key, t.role FROM t
WHERE event_id IS NOT NULL AND person_key IS NOT NULL AND role IS NOT NULL
  AND role IN ('volunteer', 'staff', 'newcomer', 'other') AND {PSEUDONYM_OK.format(x='person_key')}
  AND copies = 1 AND EXISTS (SELECT 1 FROM known k WHERE k.ags = t.ags AND k.event_id = t.event_id)
  AND EXISTS (SELECT 1 FROM members m WHERE m.ags = t.ags);

CREATE OR REPLACE TABLE ok_advice AS
WITH t AS (SELECT *, {DATE.format(x='date')} AS d, {INT.format(x='duration_min')} AS minutes,
                  count(*) OVER (PARTITION BY file, case_id) AS copies FROM raw_advice)
SELECT ags, dq, case_id, d AS date, client_type, client_key FROM t
WHERE case_id IS NOT NULL AND date IS NOT NULL AND d IS NOT NULL AND client_key IS NOT NULL
  AND client_type IN ('person', 'group', 'organisation') AND {PSEUDONYM_OK.format(x='client_key')}
  AND (duration_min IS NULL OR (minutes IS NOT NULL AND minutes >= 0))
  AND copies = 1 AND d <= {QUARTER_END}
  AND EXISTS (SELECT 1 FROM members m WHERE m.ags = t.ags AND d BETWEEN m.start AND m."end");

CREATE OR REPLACE TABLE ok_newsletters AS
WITH t AS (SELECT *, {DATE.format(x='sent_date')} AS d, {INT.format(x='recipients')} AS n,
                  count(*) OVER (PARTITION BY file, issue_id) AS copies FROM raw_newsletters)
SELECT ags, dq, issue_id, d AS sent_date FROM t
WHERE issue_id IS NOT NULL AND sent_date IS NOT NULL AND d IS NOT NULL AND recipients IS NOT NULL
  AND n IS NOT NULL AND n >= 0 AND copies = 1 AND d <= {QUARTER_END}
  AND EXISTS (SELECT 1 FROM members m WHERE m.ags = t.ags AND d BETWEEN m.start AND m."end");

-- trajectories: required values, date and month (YYYY-MM or a date), enums, pseudonym, not before the
-- month of arrival, one id once per file, not after the delivery quarter, inside a programme period; a
-- person keeps the month of arrival of their first delivered row (later rows with another: rejected)
CREATE OR REPLACE TABLE ok_trajectories AS
WITH t AS (
    SELECT *, {DATE.format(x='date')} AS d,
           CASE WHEN regexp_full_match(arrival_month, '\d{{4}}-\d{{2}}')
                THEN CAST(try_strptime(arrival_month || '-01', '%Y-%m-%d') AS DATE)
                ELSE date_trunc('month', {DATE.format(x='arrival_month')}) END AS arrival,
           count(*) OVER (PARTITION BY file, observation_id) AS copies
    FROM raw_trajectories),
valid AS (
    SELECT * FROM t
    WHERE observation_id IS NOT NULL AND person_key IS NOT NULL AND date IS NOT NULL AND d IS NOT NULL
      AND (arrival_month IS NULL OR arrival IS NOT NULL) AND {PSEUDONYM_OK.format(x='person_key')}
      AND (language_level IS NULL OR language_level IN ('none', 'A1', 'A2', 'B1', 'B2', 'C1', 'C2'))
      AND (course IS NULL OR course IN ('integration_course', 'job_language_course', 'other_course', 'none'))
      AND (activity IS NULL OR activity IN ('employed', 'vocational_training', 'school', 'job_seeking', 'other'))
      AND (advice_service IS NULL OR advice_service IN ('migration_advice', 'youth_migration_service', 'jobcentre',
                                                        'other', 'none'))
      AND coalesce(d >= arrival, TRUE) AND copies = 1 AND d <= {QUARTER_END}
      AND EXISTS (SELECT 1 FROM members m WHERE m.ags = t.ags AND d BETWEEN m.start AND m."end"))
SELECT ags, dq, observation_id, person_key, d AS date, arrival FROM valid
QUALIFY arrival IS NULL OR arrival = first_value(arrival IGNORE NULLS) OVER (
    PARTITION BY ags, person_key ORDER BY dq, d ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING);

-- current records: the latest delivery of an id wins; an event's list belongs to its latest delivery
CREATE OR REPLACE TABLE cur_events AS SELECT * FROM ok_events
    QUALIFY row_number() OVER (PARTITION BY ags, event_id ORDER BY dq DESC) = 1;
CREATE OR REPLACE TABLE cur_attendance AS SELECT * FROM ok_attendance
    QUALIFY dq = max(dq) OVER (PARTITION BY ags, event_id);
CREATE OR REPLACE TABLE cur_advice AS SELECT * FROM ok_advice
    QUALIFY row_number() OVER (PARTITION BY ags, case_id ORDER BY dq DESC) = 1;
CREATE OR REPLACE TABLE cur_newsletters AS SELECT * FROM ok_newsletters
    QUALIFY row_number() OVER (PARTITION BY ags, issue_id ORDER BY dq DESC) = 1;
CREATE OR REPLACE TABLE cur_trajectories AS SELECT * FROM ok_trajectories
    QUALIFY row_number() OVER (PARTITION BY ags, observation_id ORDER BY dq DESC) = 1;
"""

TOTALS_SQL = """
WITH ev AS (
    SELECT m.programme_id, e.*, EXISTS (SELECT 1 FROM cur_attendance a
                                        WHERE a.ags = e.ags AND a.event_id = e.event_id) AS has_att
    FROM cur_events e JOIN members m ON m.ags = e.ags AND e.date BETWEEN m.start AND m."end"),
att AS (SELECT ev.programme_id, ev.ags, ev.event_type, a.person_key, a.role
        FROM ev JOIN cur_attendance a ON a.ags = ev.ags AND a.event_id = ev.event_id),
adv AS (SELECT m.programme_id, a.* FROM cur_advice a JOIN members m ON m.ags = a.ags AND a.date BETWEEN m.start AND m."end"),
nl AS (SELECT m.programme_id, n.* FROM cur_newsletters n JOIN members m ON m.ags = n.ags AND n.sent_date BETWEEN m.start AND m."end"),
paths AS (SELECT m.programme_id, t.ags, t.person_key, count(*) AS obs, min(t.date) AS first, max(t.date) AS last
          FROM cur_trajectories t JOIN members m ON m.ags = t.ags AND t.date BETWEEN m.start AND m."end" GROUP BY ALL),
figures AS (
    SELECT programme_id, ags, 'events_held' AS indicator_id, count(*) AS value FROM ev GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'trainings_held', count(*) FROM ev WHERE event_type = 'training' GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'network_meetings', count(*) FROM ev WHERE event_type = 'network_meeting' GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'best_practice_meetings', count(*) FROM ev
              WHERE event_type = 'best_practice' AND participants_total >= 20 GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'advice_sessions', count(*) FROM adv GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'advised_clients', count(DISTINCT client_key) FROM adv GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'newsletters_sent', count(*) FROM nl GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'traj_persons', count(*) FROM paths GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'traj_followed', count(*) FROM paths
              WHERE obs >= 2 AND last >= first + INTERVAL 6 MONTH GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'engaged_reached', sum(v) FROM (
        SELECT programme_id, ags, count(DISTINCT person_key) AS v FROM att
        WHERE event_type = 'training' AND role IN ('volunteer', 'staff') GROUP BY ALL
        UNION ALL SELECT programme_id, ags, sum(coalesce(participants_volunteer, 0) + coalesce(participants_staff, 0))
        FROM ev WHERE event_type = 'training' AND NOT has_att GROUP BY ALL) GROUP BY ALL
    UNION ALL SELECT programme_id, ags, 'people_reached', sum(v) FROM (
        SELECT programme_id, ags, count(DISTINCT k) AS v FROM (
            SELECT programme_id, ags, person_key AS k FROM att
            UNION ALL SELECT programme_id, ags, client_key FROM adv WHERE client_type = 'person') GROUP BY ALL
        UNION ALL SELECT programme_id, ags, sum(coalesce(participants_total, 0)) FROM ev WHERE NOT has_att GROUP BY ALL)
        GROUP BY ALL),
grid AS (SELECT DISTINCT m.programme_id, m.ags, i.indicator_id FROM members m, (SELECT unnest(?) AS indicator_id) i),
per_district AS (
    SELECT g.programme_id, g.indicator_id, g.ags AS district_ags, CAST(coalesce(sum(f.value), 0) AS DOUBLE) AS value
    FROM grid g LEFT JOIN figures f USING (programme_id, ags, indicator_id) GROUP BY ALL)
SELECT * FROM per_district
UNION ALL SELECT programme_id, indicator_id, 'ALL', sum(value) FROM per_district GROUP BY ALL
ORDER BY ALL
"""


def floor(home: Path, out: Path) -> None:
    started = time.perf_counter()
    con = duckdb.connect()
    files = load_raw(con, home / "inbox")
    import pandas as pd
    members = pd.DataFrame([(pid, ags, start, end) for pid, start, end, districts in programmes(home)
                            for ags in districts], columns=["programme_id", "ags", "start", "end"])
    members["start"] = pd.to_datetime(members["start"]).dt.date
    members["end"] = pd.to_datetime(members["end"]).dt.date
    con.register("_members", members)
    con.execute(VALIDATE_SQL)
    totals = con.execute(TOTALS_SQL, [list(INDICATORS)]).df()
    totals.to_csv(out, index=False)
    rows = {f: con.execute(f"SELECT count(*) FROM raw_{f}").fetchall()[0][0] for f in FEEDS}
    ok = {f: con.execute(f"SELECT count(*) FROM ok_{f}").fetchall()[0][0] for f in FEEDS}
    print(f"floor: {sum(files.values())} files, rows read {rows}, accepted {ok}, "
          f"{len(totals)} totals in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__)
        raise SystemExit(0)
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    floor(Path(sys.argv[1]), Path(sys.argv[2]))
