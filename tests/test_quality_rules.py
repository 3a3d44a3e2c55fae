"""Validation rules and outliers (indicator contract section 4; delivery contract "Warnings"):
each shipped rule violated and held, a reject rule, outliers against history and peers with their
exact scores, and the follow-up of a confirmed outlier through re-runs and a re-delivery.

District 05766 (Kreis Lippe) and the other lzz-2 districts run 2023-01-01 – 2024-06-30; 13076
(Ludwigslust-Parchim) is in lzz-1 (2018–2020) with the micro-project cap of 1,000 EUR. Rows are
numbered as the district sees them (header = row 1).
"""
import re
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.catalogue import SHIPPED_DIR, CatalogueError, load_catalogue
from pipeline.intake.check import check_files, verdict
from pipeline.quality import load_rules
from pipeline.quality.outliers import confirm
from pipeline.warehouse import connect
from tests.conftest import ingest, query, write_csv

EVENTS = "event_id,date,event_type,participants_total,participants_volunteer,participants_staff,participants_newcomer"
WARNINGS = """SELECT file, "row", "column", value, reason_code, reason FROM findings WHERE severity = 'warning'
              ORDER BY file, "row", "column" """


def _catalogue_with(tmp_path: Path, rules: str) -> Path:
    folder = tmp_path / "catalogue"
    folder.mkdir(exist_ok=True)
    for name in ("programmes.yaml", "districts.csv", "indicators.yaml"):
        shutil.copy(SHIPPED_DIR / name, folder / name)
    (folder / "rules.yaml").write_text(rules, encoding="utf-8")
    return folder


def test_each_shipped_rule_violated_and_held(home):
    # Event L1: 4 persons listed (3 volunteers, 1 staff) against 3 participants, 2 volunteers, 1 staff,
    # 0 newcomers: the total and the volunteers are exceeded, staff and newcomers hold.
    # Event L2: 2 listed volunteers, 10 participants, volunteers not given: nothing to compare.
    write_csv(home.inbox / "05766_2024-Q1_events.csv", [
        EVENTS, "L1,2024-01-10,training,3,2,1,0", "L2,2024-02-10,training,10,,,"])
    write_csv(home.inbox / "05766_2024-Q1_attendance.csv", [
        "event_id,person_key,role", "L1,P-0001,volunteer", "L1,P-0002,volunteer", "L1,P-0003,volunteer",
        "L1,P-0004,staff", "L2,P-0001,volunteer", "L2,P-0005,volunteer"])
    # 200 -> 90 falls below half (100); 90 -> 60 does not (45).
    write_csv(home.inbox / "05766_2024-Q1_newsletters.csv", [
        "issue_id,sent_date,recipients", "N1,2024-01-10,200", "N2,2024-02-10,90", "N3,2024-03-10,60"])
    # Sessions of persons can never be fewer than the persons advised in one delivery: the rule holds.
    write_csv(home.inbox / "05766_2024-Q1_advice.csv", [
        "case_id,date,client_type,client_key", "B1,2024-01-05,person,K-0001", "B2,2024-01-06,person,K-0001",
        "B3,2024-01-07,person,K-0002"])
    # Above the cap of 1,000 EUR: 1,500 (a finding); 1,000 holds; a cancelled 2,000 counts nowhere.
    write_csv(home.inbox / "13076_2019-Q1_micro_projects.csv", [
        "project_id,applicant,approved_date,amount_eur,status", "M1,Verein A,2019-01-10,1500,approved",
        "M2,Verein B,2019-01-11,1000,approved", "M3,Verein C,2019-01-12,2000,cancelled"])
    ingest(home, "2019-01-01", "2024-01-01")
    assert query(home, WARNINGS) == [
        ("05766_2024-Q1_events.csv", 2, "participants_total", "3", "rule_violation",
         "Die Teilnahmeliste nennt 4 Personen, gemeldet sind 3 Teilnehmende insgesamt."),
        ("05766_2024-Q1_events.csv", 2, "participants_volunteer", "2", "rule_violation",
         "Die Teilnahmeliste nennt 3 Ehrenamtliche, gemeldet sind davon 2 ehrenamtlich."),
        ("05766_2024-Q1_newsletters.csv", 3, "recipients", "90", "rule_violation",
         "90 Empfänger, weniger als die Hälfte der vorigen Ausgabe (Hälfte: 100)."),
        ("13076_2019-Q1_micro_projects.csv", 2, "amount_eur", "1500", "over_cap",
         "Bewilligt 1500 EUR, mehr als der Höchstbetrag je Mikroprojekt von 1000 EUR."),
    ]
    # Warnings leave the rows accepted and counted: read = accepted + rejected, nothing rejected.
    assert query(home, "SELECT sum(rows_read), sum(accepted), sum(rejected) FROM delivery_log") == [(17, 17, 0)]
    exported = (home.exports / "rejections.csv").read_text(encoding="utf-8-sig").splitlines()
    assert exported[0].split(",")[8] == "severity" and sum(",warning,rule_violation," in line for line in exported) == 3
    report = (home.reports / "2024-Q1" / "05766_2024-Q1.html").read_text(encoding="utf-8")
    warnings_section = report.split("<h2>Hinweise")[1].split("<h2>")[0]
    assert "nennt 4 Personen" in warnings_section and "Hälfte: 100" in warnings_section


def test_check_passes_a_file_with_warnings_only_and_says_so(tmp_path, contract, catalogue):
    events = write_csv(tmp_path / "05766_2024-Q1_events.csv", [EVENTS, "L1,2024-01-10,training,3,2,1,0"])
    attendance = write_csv(tmp_path / "05766_2024-Q1_attendance.csv", [
        "event_id,person_key,role", "L1,P-0001,volunteer", "L1,P-0002,volunteer", "L1,P-0003,staff",
        "L1,P-0004,newcomer"])
    reports = check_files([events, attendance], contract, catalogue)
    assert [(f["row"], f["reason_code"], f["severity"], f["column"]) for f in reports[0].findings] == [
        (2, "rule_violation", "warning", "participants_newcomer"), (2, "rule_violation", "warning", "participants_total")]
    assert all(r.clean for r in reports)  # exit 0: nothing rejected
    assert verdict(reports, "de").startswith("Nichts abgelehnt, aber Hinweise")
    assert verdict(check_files([events], contract, catalogue), "de").startswith("Alles in Ordnung")


def test_a_reject_rule_rejects_rows_with_their_numbers(tmp_path, home):
    shutil.copytree(_catalogue_with(tmp_path, """
rules:
  - id: no_mass_events
    level: record
    report_on: events
    column: participants_total
    severity: reject
    left: {aggregate: value, column: participants_total}
    operator: "<="
    right: {constant: 500}
    message_de: "{left} Teilnehmende: mehr als {right} sind bei einer Veranstaltung im Landkreis nicht möglich."
    message_en: "{left} participants: more than {right} are not possible at one event here."
"""), home.root / "catalogue")
    write_csv(home.inbox / "05766_2024-Q1_events.csv", [
        EVENTS, "L1,2024-01-10,training,12,,,", "L2,2024-01-11,training,900,,,", "L3,2024-01-12,workshop,501,,,"])
    ingest(home, "2024-01-01")
    assert query(home, """SELECT "row", "column", value, reason_code, reason FROM findings
                          WHERE severity = 'rejected' ORDER BY "row" """) == [
        (3, "participants_total", "900", "rule_violation",
         "900 Teilnehmende: mehr als 500 sind bei einer Veranstaltung im Landkreis nicht möglich."),
        (4, "participants_total", "501", "rule_violation",
         "501 Teilnehmende: mehr als 500 sind bei einer Veranstaltung im Landkreis nicht möglich.")]
    assert query(home, "SELECT rows_read, accepted, rejected FROM delivery_log") == [(3, 1, 2)]
    assert query(home, "SELECT event_id FROM stg_events") == [("L1",)]


@pytest.mark.parametrize("rules, problem", [
    ("left: {aggregate: value, column: participants_totl}", "Spalte 'participants_totl' gibt es in events nicht"),
    ("operator: '=<'", "operator '=<' unbekannt"),
    ("left: {aggregate: count}", "aggregate (level record) 'count' unbekannt"),
    ("right: {parameter: cap_per_event}", "Parameter 'cap_per_event' fehlt in indicators.yaml"),
    ("message_de: 'zu viele: {total}'", "message_de darf nur {left} und {right} einsetzen"),
    ("filter: 'event_typ = 1'", "Filter ungültig"),
    ("severity: reject\n    right: {aggregate: previous, column: participants_total, order_by: date}",
     "severity reject nur für level record mit value, parameter oder constant"),
])
def test_a_bad_rule_is_refused_with_the_rule_and_the_problem_named(tmp_path, rules, problem):
    base = {"id": "big_events", "level": "record", "report_on": "events", "left": "{aggregate: value, column: participants_total}",
            "operator": "'<='", "right": "{constant: 500}", "message_de": "'{left} > {right}'", "message_en": "'{left} > {right}'"}
    for line in rules.split("\n"):
        key = line.strip().split(":")[0]
        base[key] = line.strip().split(": ", 1)[1]
    text = "rules:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in base.items()) + "\n"
    folder = _catalogue_with(tmp_path, text)
    with pytest.raises(CatalogueError) as error:
        load_rules(load_catalogue(folder), folder / "rules.yaml")
    assert any(p.startswith("rules.yaml rule 'big_events'") and problem in p for p in error.value.problems), \
        error.value.problems


def test_the_documented_example_rule_loads(tmp_path):
    # docs/quality.md shows how to add a rule without Python: its example is a valid rules.yaml entry.
    docs = (Path(__file__).resolve().parent.parent / "docs" / "quality.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(rules:\n.*?)```", docs, re.S).group(1)
    shipped = yaml.safe_load((SHIPPED_DIR / "rules.yaml").read_text(encoding="utf-8"))
    added = yaml.safe_load(example)["rules"]
    folder = _catalogue_with(tmp_path, yaml.safe_dump({**shipped, "rules": shipped["rules"] + added},
                                                      allow_unicode=True))
    rules = load_rules(load_catalogue(folder), folder / "rules.yaml")
    assert [r.id for r in rules.rules][-len(added):] == [r["id"] for r in added]


def _events(home, ags: str, quarter: str, count: int, received=None):
    year, q = int(quarter[:4]), int(quarter[-1])
    month = 3 * q - 2
    rows = [EVENTS] + [f"{ags}-{quarter}-{i},{year}-{month:02d}-{1 + i % 27:02d},workshop,10,,," for i in range(count)]
    return write_csv(home.inbox / f"{ags}_{quarter}_events.csv", rows, received=received)


OUTLIERS = """SELECT measure_id, district_ags, quarter, value, history_median, history_n, round(history_score, 4),
                     peer_median, peer_n, round(peer_score, 4), status FROM outlier_followup ORDER BY district_ags"""


def test_outliers_against_history_and_peers_and_their_follow_up(home):
    # 2023-Q1, events per quarter: 05766 reports 20, the other five lzz-2 districts 2, 3, 3, 4, 5.
    # Against its peers (median 3, MAD 1): z = 0.6745 · 17 / 1 = 11.4665 (no history yet).
    # The others stay below 3.5: e.g. 09174 (2) against 20, 3, 3, 4, 5: median 4, MAD 1, z = -1.349.
    for ags, count in (("05766", 20), ("09174", 2), ("12069", 3), ("08436", 3), ("15090", 4), ("06635", 5)):
        _events(home, ags, "2023-Q1", count)
    # 09174 goes on alone: 3, 3, 4, then 12 in 2024-Q1. Against its history 2, 3, 3, 4 (median 3,
    # MAD 0.5): z = 0.6745 · 9 / 0.5 = 12.141 (no peers that quarter). Every event has 10
    # participants: no spread, so no score for participants per event.
    for quarter, count in (("2023-Q2", 3), ("2023-Q3", 3), ("2023-Q4", 4), ("2024-Q1", 12)):
        _events(home, "09174", quarter, count)
    keys = ["2023-01-01", "2023-04-01", "2023-07-01", "2023-10-01", "2024-01-01"]
    ingest(home, *keys)
    assert query(home, OUTLIERS) == [
        ("events_per_quarter", "05766", "2023-Q1", 20.0, None, None, None, 3.0, 5, 11.4665, "open"),
        ("events_per_quarter", "09174", "2024-Q1", 12.0, 3.0, 4, 12.141, None, None, None, "open")]
    assert [r[0] for r in query(home, "SELECT reason FROM findings WHERE reason_code = 'outlier' ORDER BY 1")] == [
        "Ausreißer bei Veranstaltungen je Quartal: 12; eigene frühere Quartale: Median 3 (z = 12,1), andere Kreise: "
        "Median – (z = –); offen – bitte bestätigen oder korrigieren",
        "Ausreißer bei Veranstaltungen je Quartal: 20; eigene frühere Quartale: Median – (z = –), andere Kreise: "
        "Median 3 (z = 11,5); offen – bitte bestätigen oder korrigieren"]

    # The district confirms its 12 events (a project week): confirmed, and still so after a re-run.
    with connect(home.warehouse) as con:
        assert confirm(con, "09174", "2024-Q1", "events_per_quarter", by="evaluator", comment="Projektwoche")[0]["value"] == 12
        assert confirm(con, "09174", "2024-Q1", "events_per_quarter", by="evaluator") == []  # no longer open
    ingest(home, *keys)
    assert query(home, "SELECT district_ags, status, confirmed_by, comment FROM outlier_followup ORDER BY 1") == [
        ("05766", "open", None, None), ("09174", "confirmed", "evaluator", "Projektwoche")]

    # A re-delivery that changes the value reopens it (13 is no less an outlier) ...
    _events(home, "09174", "2024-Q1", 13)
    ingest(home, *keys)
    assert query(home, "SELECT status, value FROM outlier_followup WHERE district_ags = '09174'") == [("open", 13.0)]
    # ... and one that brings it back in line corrects it: listed as corrected, no longer a warning.
    _events(home, "09174", "2024-Q1", 3)
    ingest(home, *keys)
    assert query(home, """SELECT status, value, current_value FROM outlier_followup
                          WHERE district_ags = '09174'""") == [("corrected", 13.0, 3.0)]
    assert query(home, "SELECT count(*) FROM findings WHERE reason_code = 'outlier' AND district_ags = '09174'") == [(0,)]


def _warnings_state(home):
    return (query(home, "SELECT file, \"row\", \"column\", value, reason_code, reason FROM findings "
                        "WHERE severity = 'warning' ORDER BY ALL"),
            query(home, "SELECT measure_id, district_ags, quarter, record_id, value, history_median, history_n, "
                        "round(history_score, 6), peer_median, peer_n, round(peer_score, 6), status FROM outlier_followup "
                        "WHERE status <> 'corrected' ORDER BY ALL"))


def test_judging_only_the_changed_districts_leaves_what_judging_all_would(tmp_path):
    import datetime as dt

    import dagster as dg

    from pipeline.home import Home

    def first_files(home):
        for ags, count in (("05766", 20), ("09174", 2), ("12069", 3), ("08436", 3), ("15090", 4), ("06635", 5)):
            _events(home, ags, "2023-Q1", count, received=dt.datetime(2023, 4, 5))
        for quarter, count in (("2023-Q2", 3), ("2023-Q3", 3), ("2023-Q4", 4), ("2024-Q1", 12)):
            _events(home, "09174", quarter, count, received=dt.datetime(2024, 4, 5))
        write_csv(home.inbox / "13076_2019-Q2_events.csv", [EVENTS, "L1,2019-04-10,training,3,2,1,0"],
                  received=dt.datetime(2019, 7, 5))
        write_csv(home.inbox / "13076_2019-Q2_attendance.csv", [
            "event_id,person_key,role", "L1,P-0001,volunteer", "L1,P-0002,volunteer", "L1,P-0003,volunteer",
            "L1,P-0004,staff"], received=dt.datetime(2019, 7, 5))

    def changes(home):
        # 09174 re-sends 2023-Q1 with 20 events (every 2023-Q1 peer reference and its own history
        # change: 05766 is judged again only as 09174's peer); 13076 corrects an attendance list (its
        # rule violation goes).
        _events(home, "09174", "2023-Q1", 20, received=dt.datetime(2024, 5, 1))
        write_csv(home.inbox / "13076_2019-Q2_attendance.csv", [
            "event_id,person_key,role", "L1,P-0001,volunteer", "L1,P-0002,volunteer", "L1,P-0004,staff"],
                  received=dt.datetime(2024, 5, 1))

    keys = ["2019-04-01", "2023-01-01", "2023-04-01", "2023-07-01", "2023-10-01", "2024-01-01"]
    stepwise = Home(tmp_path / "stepwise").ensure()
    instance = dg.DagsterInstance.ephemeral()
    first_files(stepwise)
    ingest(stepwise, *keys, instance=instance)
    before = _warnings_state(stepwise)
    changes(stepwise)
    ingest(stepwise, *keys, instance=instance)
    event = instance.get_latest_materialization_event(dg.AssetKey("quality_warnings")).asset_materialization
    assert event.metadata["neu beurteilt / judged again"].value == "2"  # 09174 and 13076 only

    whole = Home(tmp_path / "whole").ensure()
    first_files(whole)
    changes(whole)
    ingest(whole, *keys)
    assert _warnings_state(stepwise) == _warnings_state(whole) != before


def test_a_confirmation_survives_a_rebuild_of_the_warehouse(home, capsys):
    """`teilhabe confirm` writes the decision to the archive's journal as well; a corrupted warehouse
    rebuilt from the archive keeps it confirmed, with who and why (pipeline/decisions.py)."""
    from assets.cli import main

    for ags, count in (("05766", 20), ("09174", 2), ("12069", 3), ("08436", 3), ("15090", 4), ("06635", 5)):
        _events(home, ags, "2023-Q1", count)
    ingest(home, "2023-01-01")
    assert main(["confirm", "05766", "2023-Q1", "events_per_quarter", "--by", "Kreis Lippe",
                 "--comment", "Aktionswoche", "--home", str(home.root)]) == 0
    journal = (home.archive / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(journal) == 1 and '"value": 20.0' in journal[0] and '"by": "Kreis Lippe"' in journal[0]

    home.warehouse.write_bytes(b"\0" * 100_000)  # corrupted
    capsys.readouterr()
    assert main(["rebuild", "--home", str(home.root)]) == 0
    assert query(home, "SELECT district_ags, value, status, confirmed_by, comment FROM outlier_followup") == [
        ("05766", 20.0, "confirmed", "Kreis Lippe", "Aktionswoche")]
    assert [r[0] for r in query(home, "SELECT reason FROM findings WHERE reason_code = 'outlier'")][0].endswith(
        "; bestätigt")
