"""Approval, published vs working state, publication as of an approval, and the audit trail
(contract section 5, docs/approval.md), end to end through `teilhabe run` on a small home.

The home: lzz-2's Kreis Lippe (05766) delivers its 2023-Q1 events, two trainings (E1, E2) and a
network meeting (E3), as one CSV received 2023-04-10, and an advice CSV. By hand:
trainings_held (events of type training) for 05766 in 2023-Q1 = 2.
The evaluator approves lzz-2 2023-Q1 (approval 1). Lippe then re-delivers the events file with
a third training (E4), received 2023-05-02: the working value becomes 3, the published one
stays 2 until the quarter is approved again (approval 2), when it becomes 3.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from assets.cli import main
from pipeline.home import Home
from tests.conftest import query, write_csv

LIPPE = "05766"
HEADER = "event_id,date,event_type,participants_total,participants_volunteer,participants_staff"
FIRST = [HEADER, "E1,2023-01-20,training,10,4,2", "E2,2023-02-14,training,8,3,1", "E3,2023-03-01,network_meeting,12,,"]
SECOND = FIRST + ["E4,2023-03-20,training,6,2,1"]
ADVICE = ["case_id,date,client_type,client_key", "C1,2023-02-01,person,K-0001"]
PUBLISHED_FILES = ("indicators.csv", "indicators.parquet", "indicators.xlsx", "audit.csv", "approvals.csv",
                   "DATENSTAND.txt")
PAGES = ("index.html", "programm/lzz-2.html", "en/programm/lzz-2.html", f"kreis/{LIPPE}.html")


def _cli(*args: str) -> int:
    return main(list(args))


def _snapshot(root: Path, names) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in names}


def _row(path: Path, indicator: str = "trainings_held", period: str = "2023-Q1") -> dict:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    found = frame[(frame["programme_id"] == "lzz-2") & (frame["indicator_id"] == indicator)
                  & (frame["district_ags"] == LIPPE) & (frame["period"] == period) & (frame["breakdown"] == "")]
    assert len(found) == 1, found
    return found.iloc[0].to_dict()


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """Runs the whole story once; each step's files are kept for the tests."""
    # `teilhabe run` in this process sets TEILHABE_HOME and DAGSTER_HOME for itself: put them
    # back afterwards, or later tests would find this home.
    saved = {key: os.environ.get(key) for key in ("TEILHABE_HOME", "DAGSTER_HOME")}
    try:
        yield _story(tmp_path_factory)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _story(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("approval")
    home = Home(root / "home").ensure()
    events = home.inbox / f"{LIPPE}_2023-Q1_events.csv"
    write_csv(events, FIRST, received=dt.datetime(2023, 4, 10, 9))
    write_csv(home.inbox / f"{LIPPE}_2023-Q1_advice.csv", ADVICE, received=dt.datetime(2023, 4, 10, 9))
    first_sha = hashlib.sha256(events.read_bytes()).hexdigest()
    h = str(home.root)
    assert _cli("run", "--home", h) == 0
    assert _cli("approve", "lzz-2", "2023-Q1", "--by", "Prüferin A", "--comment", "vollständig", "--home", h) == 0
    assert _cli("run", "--home", h) == 0   # the site follows the approval
    published = home.exports / "published"
    steps = {"approved": {"published": _snapshot(published, PUBLISHED_FILES), "site": _snapshot(home.site, PAGES)}}
    # the re-delivery
    write_csv(events, SECOND, received=dt.datetime(2023, 5, 2, 9))
    second_sha = hashlib.sha256(events.read_bytes()).hexdigest()
    assert _cli("run", "--home", h) == 0
    steps["redelivered"] = {"published": _snapshot(published, PUBLISHED_FILES), "site": _snapshot(home.site, PAGES),
                            "working": home.exports.joinpath("indicators.csv").read_bytes(),
                            "quality": home.site.joinpath("datenqualitaet.html").read_text(encoding="utf-8"),
                            "quality_en": home.site.joinpath("en/datenqualitaet.html").read_text(encoding="utf-8")}
    shutil.copy(home.exports / "indicators.csv", root / "working_redelivered.csv")
    shutil.copy(home.exports / "audit.csv", root / "audit_redelivered.csv")
    assert _cli("approve", "lzz-2", "2023-Q1", "--comment", "E4 nachgemeldet, geprüft", "--home", h) == 0
    assert _cli("run", "--home", h) == 0
    steps["reapproved"] = {"published": _snapshot(published, PUBLISHED_FILES), "site": _snapshot(home.site, PAGES)}
    shutil.copy(home.exports / "indicators.csv", root / "working_reapproved.csv")
    return {"home": home, "root": root, "steps": steps, "first_sha": first_sha, "second_sha": second_sha}


def test_redelivery_changes_no_published_figure_until_approved_again(story):
    home, steps, root = story["home"], story["steps"], story["root"]
    approved, redelivered, reapproved = steps["approved"], steps["redelivered"], steps["reapproved"]
    # Published: 2 trainings at approval 1, byte for byte the same after the re-delivery.
    first = home.root.parent / "published_approved.csv"
    first.write_bytes(approved["published"]["indicators.csv"])
    assert _row(first)["value"] == "2" and _row(first)["approval_id"] == "1"
    assert redelivered["published"] == approved["published"]
    # Every page of figures is unchanged; a district page's table of deliveries is the record of
    # what arrived (docs/approval.md), so only the part before it is compared there.
    district = f"kreis/{LIPPE}.html"
    assert {k: v for k, v in redelivered["site"].items() if k != district} == \
        {k: v for k, v in approved["site"].items() if k != district}
    figures = lambda page: page.split("Lieferungen</h2>")[0]  # noqa: E731
    assert figures(redelivered["site"][district].decode()) == figures(approved["site"][district].decode())
    assert "Lieferungen</h2>" in redelivered["site"][district].decode()
    # Working: 3 trainings (E1, E2, E4), marked as differing from the published 2.
    working = _row(root / "working_redelivered.csv")
    assert (working["value"], working["vs_published"]) == ("3", "differs")
    # A row the re-delivery did not touch (advice sessions: 1) stays `same`.
    assert _row(root / "working_redelivered.csv", "advice_sessions")["vs_published"] == "same"
    # Approved again: published 3 (approval 2), site changed, working row the same as published.
    again = home.root.parent / "published_reapproved.csv"
    again.write_bytes(reapproved["published"]["indicators.csv"])
    assert (_row(again)["value"], _row(again)["approval_id"]) == ("3", "2")
    assert reapproved["site"]["programm/lzz-2.html"] != approved["site"]["programm/lzz-2.html"]
    assert _row(root / "working_reapproved.csv")["vs_published"] == "same"


def test_quality_page_and_approvals_list_show_changed_since_approval(story, capsys):
    assert "geändert seit Freigabe (neue Lieferung)" in story["steps"]["redelivered"]["quality"]
    assert "changed since approval (new delivery)" in story["steps"]["redelivered"]["quality_en"]
    capsys.readouterr()
    assert _cli("approvals", "--home", str(story["home"].root)) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if "lzz-2" in line and "2023-Q1" in line]
    # Approved again after the change: approval 2, by the OS user (no --by), with its comment.
    assert len(listed) == 1 and listed[0].startswith("2 ") and "freigegeben" in listed[0]
    assert "E4 nachgemeldet, geprüft" in listed[0]
    capsys.readouterr()
    assert _cli("--lang", "en", "approvals", "--log", "--home", str(story["home"].root)) == 0
    entries = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert entries == ["1", "2"]   # the superseded approval 1 stays in the log
    log = query(story["home"], "SELECT approval_id, action, approved_by FROM approvals ORDER BY 1")
    import getpass
    assert log == [(1, "approved", "Prüferin A"), (2, "approved", getpass.getuser())]


def test_publish_as_of_an_earlier_approval_is_byte_identical(story, tmp_path):
    out = tmp_path / "as_of_1"
    assert _cli("publish", "--as-of", "1", "--out", str(out), "--home", str(story["home"].root)) == 0
    assert _snapshot(out / "exports" / "published", PUBLISHED_FILES) == story["steps"]["approved"]["published"]
    # By date: the day of both approvals names the later one, approval 2.
    day = query(story["home"], "SELECT CAST(max(approved_at) AS DATE) FROM approvals")[0][0].isoformat()
    later = tmp_path / "as_of_day"
    assert _cli("publish", "--as-of", day, "--out", str(later), "--home", str(story["home"].root)) == 0
    assert _snapshot(later / "exports" / "published", PUBLISHED_FILES) == story["steps"]["reapproved"]["published"]
    # The as-of site shows the figures of approval 1: its pages of figures as the home's were then.
    for page in ("index.html", "programm/lzz-2.html", "en/programm/lzz-2.html"):
        assert (out / "site" / page).read_bytes() == story["steps"]["approved"]["site"][page], page
    assert _cli("publish", "--as-of", "99", "--out", str(tmp_path / "none"), "--home", str(story["home"].root)) == 1


def test_audit_trail_lists_exactly_the_files_of_a_value(story, tmp_path):
    def files(path: Path) -> list[tuple]:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        rows = frame[(frame["programme_id"] == "lzz-2") & (frame["indicator_id"] == "trainings_held")
                     & (frame["district_ags"] == LIPPE) & (frame["period"] == "2023-Q1")]
        return sorted(rows[["feed", "file_name", "sha256", "received_at"]].itertuples(index=False, name=None))

    # trainings_held reads events only: the advice file is not listed. Approval 1 was given on
    # the first events file; the working value and approval 2 on the re-delivered one.
    name = f"{LIPPE}_2023-Q1_events.csv"
    published_first = tmp_path / "audit_1.csv"
    published_first.write_bytes(story["steps"]["approved"]["published"]["audit.csv"])
    assert files(published_first) == [("events", name, story["first_sha"], "2023-04-10 09:00:00")]
    assert files(story["root"] / "audit_redelivered.csv") == [("events", name, story["second_sha"], "2023-05-02 09:00:00")]
    # A reach lists the events file (its events' head counts and lists) and the advice file (advised persons).
    reach = pd.read_csv(story["root"] / "audit_redelivered.csv", dtype=str, encoding="utf-8-sig")
    reach = reach[(reach["indicator_id"] == "people_reached") & (reach["district_ags"] == LIPPE)
                  & (reach["period"] == "2023-Q1")]
    assert sorted(reach["file_name"]) == [f"{LIPPE}_2023-Q1_advice.csv", name]


def test_reopen_withdraws_the_quarter_and_unknown_requests_are_refused(story, tmp_path, capsys):
    home = Home(tmp_path / "copy")
    shutil.copytree(story["home"].root, home.root, ignore=shutil.ignore_patterns("dagster"))
    h = str(home.root)
    assert _cli("reopen", "lzz-2", "2023-Q1", "--comment", "Rückfrage Kreis", "--home", h) == 0
    published = pd.read_csv(home.exports / "published" / "indicators.csv", dtype=str, encoding="utf-8-sig")
    assert not (published["period"] == "2023-Q1").any()   # no quarter row of lzz-2 is published now
    capsys.readouterr()
    assert _cli("reopen", "lzz-2", "2023-Q1", "--home", h) == 1
    assert "nicht freigegeben" in capsys.readouterr().out
    assert _cli("approve", "lzz-9", "2023-Q1", "--home", h) == 1
    assert "Unbekanntes Programm" in capsys.readouterr().out
    assert _cli("approve", "lzz-2", "2023-Q3", "--home", h) == 1   # nothing delivered for it


def test_a_catalogue_change_touches_approved_quarters_and_its_versions_are_kept(story, tmp_path):
    from pipeline import warehouse
    from pipeline.approval import record_catalogue, restore_catalogue, states, versions
    from pipeline.catalogue import SHIPPED_DIR, load_catalogue

    home = Home(tmp_path / "copy")
    shutil.copytree(story["home"].root, home.root, ignore=shutil.ignore_patterns("dagster"))
    own = home.root / "catalogue"
    shutil.copytree(SHIPPED_DIR, own, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    with warehouse.connect(home.warehouse) as con:
        # A catalogue edit of the quality rules only: no figure depends on it, nothing is touched.
        rules = own / "rules.yaml"
        rules.write_text(rules.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        assert states(con, load_catalogue(own)).set_index(["programme_id", "quarter"]).loc[("lzz-2", "2023-Q1"), "state"] == "approved"
        # A target changed in indicators.yaml: the approved quarter is changed since approval.
        shipped = (SHIPPED_DIR / "indicators.yaml").read_bytes()
        (own / "indicators.yaml").write_bytes(shipped.replace(b"target: 14\n", b"target: 15\n", 1))
        changed = states(con, load_catalogue(own)).set_index(["programme_id", "quarter"]).loc[("lzz-2", "2023-Q1")]
        assert (changed["state"], changed["changed_because"]) == ("changed", "catalogue")
        # The history: the version the approvals were given on ends when the edited one is seen.
        before = versions(con)
        new = record_catalogue(con, load_catalogue(own))
        after = versions(con)
        assert len(after) == len(before) + 1 and after.iloc[0]["version_id"] == new
        assert pd.notna(after.iloc[1]["valid_to"]) and pd.isna(after.iloc[0]["valid_to"])
        # The version of approval 1 written back is the shipped catalogue, byte for byte.
        first = con.execute("SELECT catalogue_version FROM approvals WHERE approval_id = 1").fetchall()[0][0]
        restored = restore_catalogue(con, first, tmp_path / "v1")
    assert (restored / "indicators.yaml").read_bytes() == shipped
    assert (restored / "programmes.yaml").read_bytes() == (SHIPPED_DIR / "programmes.yaml").read_bytes()


def test_a_rebuilt_warehouse_keeps_the_approvals_and_what_they_published(story, tmp_path, capsys):
    """The approvals are decisions, not derived data: each entry is kept in the archive
    (archive/approvals/NNNNNN/*.parquet, announced in archive/decisions.jsonl), and `teilhabe
    rebuild` of a corrupted warehouse puts them back: the same log, the same published exports
    (approval 2: 3 trainings), and `publish --as-of 1` still the files of approval 1 (2 trainings)."""
    home = Home(tmp_path / "copy")
    shutil.copytree(story["home"].root, home.root, ignore=shutil.ignore_patterns("dagster"))
    h = str(home.root)
    journal = [line for line in (home.archive / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
               if '"kind": "approval"' in line]
    assert len(journal) == 2 and '"approval_id": 1' in journal[0] and '"approval_id": 2' in journal[1]
    log_before = query(home, "SELECT * FROM approvals ORDER BY approval_id")
    capsys.readouterr()
    assert _cli("approvals", "--log", "--home", h) == 0
    listed_before = capsys.readouterr().out
    home.warehouse.write_bytes(b"\0" * 100_000)  # corrupted
    assert _cli("rebuild", "--home", h) == 0
    assert query(home, "SELECT * FROM approvals ORDER BY approval_id") == log_before
    capsys.readouterr()
    assert _cli("approvals", "--log", "--home", h) == 0
    assert capsys.readouterr().out == listed_before
    published = _snapshot(home.exports / "published", PUBLISHED_FILES)
    assert published == story["steps"]["reapproved"]["published"]
    again = tmp_path / "published.csv"
    again.write_bytes(published["indicators.csv"])
    assert (_row(again)["value"], _row(again)["approval_id"]) == ("3", "2")
    out = tmp_path / "as_of_1"
    assert _cli("publish", "--as-of", "1", "--out", str(out), "--home", h) == 0
    assert _snapshot(out / "exports" / "published", PUBLISHED_FILES) == story["steps"]["approved"]["published"]
