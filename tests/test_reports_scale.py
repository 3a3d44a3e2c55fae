"""Quality reports at scale: rendered column-wise for all deliveries, a file rewritten only where
its bytes change, a missing file always written, nothing rendered when Dagster's data version
says the deliveries are as at the last materialization.

District 05766 (Kreis Lippe, lzz-2 from 2023-01-01). Partition keys: 2024-01-01 = 2024-Q1,
2024-04-01 = 2024-Q2.
"""
import datetime as dt

import dagster as dg

from tests.conftest import ingest, write_csv

HEADER = "event_id,date,event_type,participants_total,participants_volunteer,participants_staff"
Q1_RECEIVED = dt.datetime(2024, 4, 10, 9)
Q2_RECEIVED = dt.datetime(2024, 7, 10, 9)
Q1_REPORT, Q2_REPORT = "2024-Q1/05766_2024-Q1", "2024-Q2/05766_2024-Q2"


def deliver(home, q2_rows=("E5,2024-04-10,training,1,,",), received=Q2_RECEIVED):
    # Q1: two values that are not event types (one with markup and quotes, one with a line break)
    # and one starting with '=', which a spreadsheet would run as a formula.
    write_csv(home.inbox / "05766_2024-Q1_events.csv",
              [HEADER, "E1,2024-01-10,training,12,5,4", 'E2,2024-02-10,"<b>""x""&\'y\'</b>",8,,',
               'E3,2024-02-11,"work\nshop",3,,', "E4,2024-03-01,=cmd,2,,"], received=Q1_RECEIVED)
    # Q2 corrects E1 of Q1 (12 -> 15).
    write_csv(home.inbox / "05766_2024-Q2_events.csv", [HEADER, "E1,2024-01-10,training,15,,", *q2_rows],
              received=received)


def stamps(home) -> dict[str, int]:
    """What a user sees: the reports and exports."""
    files = [p for p in (*home.reports.rglob("*"), *home.exports.glob("*.csv")) if p.is_file()]
    return {p.relative_to(home.root).as_posix(): p.stat().st_mtime_ns for p in files}


def rewritten(home, before: dict[str, int]) -> set[str]:
    after = stamps(home)
    return {name for name, stamp in after.items() if before.get(name) != stamp}


def metadata(result) -> dict:
    [event] = [e for e in result.get_asset_materialization_events()
               if e.materialization.asset_key == dg.AssetKey("quality_reports")]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_report_shows_escaped_values_and_its_csv_keeps_line_breaks(home):
    deliver(home)
    result = ingest(home, "2024-01-01", "2024-04-01")
    assert metadata(result)["neu geschrieben / rewritten"] == 4  # two deliveries: HTML and CSV each
    page = (home.reports / f"{Q1_REPORT}.html").read_text(encoding="utf-8")
    assert "<td>&lt;b&gt;&quot;x&quot;&amp;&#x27;y&#x27;&lt;/b&gt;</td>" in page
    assert "<td>work\nshop</td>" in page and "<td>=cmd</td>" in page
    assert "<p>4 Zeilen gelesen, 1 angenommen, 3 abgelehnt." in page
    assert "<td class='n'>3</td><td>event_type</td>" in page  # the file's row 3 (header = 1)
    lines = (home.reports / f"{Q1_REPORT}.csv").read_text(encoding="utf-8").split("\n")
    assert lines[0] == "\ufefffile,district_ags,quarter,feed,sheet,row,column,value,severity,reason_code,reason,reason_en"
    assert lines[1].startswith("05766_2024-Q1_events.csv,05766,2024-Q1,events,,3,event_type,\"<b>\"\"x\"\"&'y'</b>\",rejected,bad_enum,")
    assert lines[2] == '05766_2024-Q1_events.csv,05766,2024-Q1,events,,4,event_type,"work'
    assert lines[3].startswith('shop",rejected,bad_enum,')
    assert lines[4].startswith("05766_2024-Q1_events.csv,05766,2024-Q1,events,,5,event_type,'=cmd,rejected,bad_enum,")
    assert lines[5:] == [""]
    # The delivery's rows of the export, and the correction shown in Q2's report, not in Q1's.
    export = (home.exports / "rejections.csv").read_text(encoding="utf-8")
    assert export == (home.reports / f"{Q1_REPORT}.csv").read_text(encoding="utf-8")
    q2 = (home.reports / f"{Q2_REPORT}.html").read_text(encoding="utf-8")
    assert "<tr><td>events</td><td>E1</td><td>2024-Q1</td></tr>" in q2
    assert "<h2>Korrekturen <span class=\"en\">/ Corrections</span></h2><p class='ok'>– keine / none –</p>" in page


def test_only_the_changed_delivery_is_rewritten_and_a_missing_file_always(home):
    deliver(home)
    ingest(home, "2024-01-01", "2024-04-01")
    before = stamps(home)

    result = ingest(home, "2024-01-01", "2024-04-01")  # nothing changed (a new instance: rendered, not written)
    assert metadata(result)["neu geschrieben / rewritten"] == 0
    assert rewritten(home, before) == set()

    # Q2 re-delivered with one more event of no known type: its report and CSV, the three exports (a
    # new rejection, a new file, two files in the status table) change; Q1's report does not.
    deliver(home, q2_rows=("E5,2024-04-10,training,1,,", "E6,2024-05-10,party,7,,"),
            received=Q2_RECEIVED + dt.timedelta(days=2))
    result = ingest(home, "2024-04-01")
    assert metadata(result)["neu geschrieben / rewritten"] == 2
    assert rewritten(home, before) == {f"reports/{Q2_REPORT}.html", f"reports/{Q2_REPORT}.csv",
                                       "exports/delivery_log.csv",
                                       "exports/delivery_status.csv", "exports/rejections.csv"}
    assert "ersetzt durch / replaced by events: 05766_2024-Q2_events.csv" in (
        home.reports / f"{Q2_REPORT}.html").read_text(encoding="utf-8")
    assert ",party,rejected,bad_enum," in (home.reports / f"{Q2_REPORT}.csv").read_text(encoding="utf-8")

    # A deleted report file comes back though nothing changed; its unchanged HTML twin is not touched.
    before = stamps(home)
    csv_bytes = (home.reports / f"{Q1_REPORT}.csv").read_bytes()
    (home.reports / f"{Q1_REPORT}.csv").unlink()
    result = ingest(home, "2024-01-01")
    assert metadata(result)["neu geschrieben / rewritten"] == 1
    assert (home.reports / f"{Q1_REPORT}.csv").read_bytes() == csv_bytes
    assert rewritten(home, before) == {f"reports/{Q1_REPORT}.csv"}


def test_unchanged_deliveries_are_not_rendered_again_but_a_lost_report_is(home):
    instance = dg.DagsterInstance.ephemeral()  # Dagster remembers the data version between the runs
    deliver(home)
    ingest(home, "2024-01-01", "2024-04-01", instance=instance)
    before = stamps(home)
    result = ingest(home, "2024-01-01", "2024-04-01", instance=instance)
    assert metadata(result)["unchanged"] is True and "neu geschrieben / rewritten" not in metadata(result)
    assert rewritten(home, before) == set()
    (home.reports / f"{Q2_REPORT}.html").unlink()
    result = ingest(home, "2024-01-01", instance=instance)
    assert metadata(result)["unchanged"] is False and metadata(result)["neu geschrieben / rewritten"] == 1
    assert rewritten(home, before) == {f"reports/{Q2_REPORT}.html"}


def test_report_paths_at_once_equal_report_path(tmp_path):
    import pandas as pd

    from pipeline.publish.reports import report_path, report_paths

    ags = pd.Series(["05766", None, "05766", "", "05766"], dtype="str")
    quarter = pd.Series(["2024-Q1", "2024-Q1", None, "2024-Q2", ""], dtype="str")
    expected = ["2024-Q1/05766_2024-Q1.html"] + ["nicht_zugeordnet.html"] * 4
    assert list(report_paths(ags, quarter)) == expected
    assert [report_path(tmp_path, a if isinstance(a, str) else None, q if isinstance(q, str) else None)
            .relative_to(tmp_path).as_posix() for a, q in zip(ags, quarter)] == expected
