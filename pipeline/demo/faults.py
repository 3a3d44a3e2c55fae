"""Planted faults: each edits one delivery so the quality report has something to say.

A planter takes (deliveries, key, office, rng) and edits deliveries[key] in place; the rows it
targets exist in every full quarter (at least two events a month, eight people an event).
"""
from __future__ import annotations

import datetime as dt

from pipeline.demo.common import qtag
from pipeline.demo.deliveries import draw_event
from pipeline.demo.files import Raw
from pipeline.quarters import previous_quarter, quarter_bounds


def _bad_date(deliveries, key, office, rng):
    deliveries[key].feeds["events"][2]["date"] = Raw("31.02.2019")


def _number_in_words(deliveries, key, office, rng):
    deliveries[key].feeds["events"][3]["participants_total"] = Raw("zwölf")


def _unknown_event_type(deliveries, key, office, rng):
    deliveries[key].feeds["events"][1]["event_type"] = Raw("Stammtisch")


def _negative_count(deliveries, key, office, rng):
    deliveries[key].feeds["events"][4]["participants_volunteer"] = -4


def _volunteers_exceed_total(deliveries, key, office, rng):
    event = deliveries[key].feeds["events"][5]
    event["participants_volunteer"] = event["participants_total"] + 5


def _duplicate_event_id(deliveries, key, office, rng):
    # A copy-paste slip: the next event reuses the id of the one before.
    events = deliveries[key].feeds["events"]
    twin = draw_event(rng, office, events[3]["date"] + dt.timedelta(days=1), events[3]["event_id"])
    events.insert(4, twin)


def _future_date(deliveries, key, office, rng):
    deliveries[key].feeds["events"][-1]["date"] = quarter_bounds(key[1])[1] + dt.timedelta(days=12)


def _unknown_event_attendance(deliveries, key, office, rng):
    keys, _ = office.persons["newcomer"]
    ghost = f"{office.code}-{qtag(key[1])}-99"
    deliveries[key].feeds["attendance"] += [{"event_id": ghost, "person_key": keys[i], "role": "newcomer"}
                                            for i in (0, 1, 2)]


def _email_as_pseudonym(deliveries, key, office, rng):
    deliveries[key].feeds["attendance"][7]["person_key"] = "anna.schmidt@example.org"


def _name_as_pseudonym(deliveries, key, office, rng):
    deliveries[key].feeds["attendance"][4]["person_key"] = "Anna_Schmidt"


def _survey_score_out_of_scale(deliveries, key, office, rng):
    deliveries[key].feeds["survey"][10]["belonging"] = 7


def _late_event(deliveries, key, office, rng):
    # Forgotten last quarter, reported now: counts in the quarter of its date, listed as late.
    previous = previous_quarter(key[1])
    if (key[0], previous) not in deliveries:
        return
    number = len(deliveries[(key[0], previous)].feeds["events"]) + 1
    day = quarter_bounds(previous)[1] - dt.timedelta(days=2)
    deliveries[key].feeds["events"].insert(0, draw_event(rng, office, day, f"{office.code}-{qtag(previous)}-{number:02d}"))


def _corrected_event(deliveries, key, office, rng):
    # The office recounted a sign-in sheet: same id, new total, sent with the next quarter.
    previous = deliveries.get((key[0], previous_quarter(key[1])))
    if previous is None:
        return
    corrected = {**previous.feeds["events"][2]}
    corrected["participants_total"] += 6
    deliveries[key].feeds["events"].insert(0, corrected)


def _name_column(deliveries, key, office, rng):
    names = ("Max Mustermann", "Erika Mustermann", "Otto Normalverbraucher", "Lieschen Müller",
             "Hans Dampf", "Susi Sorglos")
    for i, row in enumerate(deliveries[key].feeds["attendance"]):
        row["Name"] = names[i % len(names)]


def _remark_column(deliveries, key, office, rng):
    remarks = ("", "", "Ersatztermin", "", "mit Dolmetscherin", "", "Kooperation mit der VHS")
    for i, row in enumerate(deliveries[key].feeds["events"]):
        row["Bemerkung"] = remarks[i % len(remarks)]


def _attendance_exceeds_total(deliveries, key, office, rng):
    # A head count typed from memory: the event's total is lower than the persons its own
    # attendance list names (accepted, the sub-counts still fit the total; a rule warns).
    event = next(e for e in deliveries[key].feeds["events"] if e.get("participants_volunteer") is not None)
    event["participants_total"] = max(event["participants_volunteer"] + event["participants_staff"],
                                      event["participants_newcomer"])


def _mailing_list_lost(deliveries, key, office, rng):
    # A new mailing tool imported a third of the list: the issue after reaches far fewer people.
    letters = deliveries[key].feeds["newsletters"]
    last = letters[-1] if letters else {"recipients": office.newsletter_reach}
    day = quarter_bounds(key[1])[1] - dt.timedelta(days=3)
    letters.append({"issue_id": f"{office.code}-NL-{qtag(key[1])}-9", "sent_date": day,
                    "recipients": int(last["recipients"]) // 3, "title": f"Newsletter Integration {key[1]} Nr. 9"})


# (district, delivery quarter, planter, what the quality report should show)
PLANTED_FAULTS = (
    ("14523", "2019-Q1", _bad_date, "bad_value: events row 4, date 31.02.2019"),
    ("03153", "2018-Q3", _number_in_words, "bad_value: sheet Veranstaltungen row 5, participants_total 'zwölf'"),
    ("06635", "2023-Q3", _unknown_event_type, "bad_enum: events row 3, event_type Stammtisch"),
    ("12070", "2018-Q2", _negative_count, "out_of_range: events row 6, participants_volunteer -4"),
    ("09473", "2019-Q3", _volunteers_exceed_total, "inconsistent_counts: events row 7, volunteers > total"),
    ("09174", "2023-Q2", _duplicate_event_id, "duplicate_id: events rows 5 and 6 share an event_id"),
    ("15090", "2023-Q4", _future_date, "future_date: events last row, 12 days after the quarter"),
    ("13076", "2019-Q2", _unknown_event_attendance, "unknown_event: attendance last 3 rows name event -99"),
    ("05766", "2023-Q4", _email_as_pseudonym, "bad_pseudonym: attendance row 9, an e-mail address"),
    ("15089", "2017-Q3", _name_as_pseudonym, "bad_pseudonym: attendance row 6, Anna_Schmidt"),
    ("05762", "2023-Q1", _survey_score_out_of_scale, "out_of_range: survey row 12, belonging 7"),
    ("12069", "2023-Q3", _late_event, "late: events row 2, dated in 2023-Q2"),
    ("03155", "2024-Q2", _corrected_event, "correction: events row 2 re-sends 2024-Q1's third event"),
    ("15089", "2017-Q4", _name_column, "forbidden_column: attendance carries a Name column"),
    ("14523", "2020-Q1", _remark_column, "ignored column: events carry Bemerkung"),
    ("13076", "2019-Q3", _attendance_exceeds_total, "warning rule_violation: events, first event with sub-counts: its list "
                                                    "names more persons than participants_total"),
    ("09473", "2019-Q2", _mailing_list_lost, "warning rule_violation: newsletters last row, a third of the "
                                             "previous issue's recipients"),
)
