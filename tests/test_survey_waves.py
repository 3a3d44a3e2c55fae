"""Survey waves from the catalogue (issue 19): the loader's precise errors, `bad_enum` for a wave
number the programme does not list (the one suite, through `teilhabe check`'s path), and on the
demo the event study as a user sees it: the planted lzz-2 effect on belonging survives the
correction, the planted pre-trend on participation is flagged on the page, amif-nom says that
inference needs more districts.

lzz-2 (2023-01-01 – 2024-06-30) lists waves 1 (2022-11-01, before), 2 (2023-02-01, before),
3 (2023-11-01, after), 4 (2024-05-01, after); amif-nom lists none.
"""
from __future__ import annotations

import html

import re
import shutil

import pytest

from pipeline.catalogue import SHIPPED_DIR, CatalogueError, load_catalogue
from pipeline.impact.disclosure import withheld_estimates
from tests.conftest import write_csv
from tests.test_contract_rules import check, findings
from tests.test_site import demo_site, read

SURVEY_HEADER = "response_id,date,wave,group,belonging,participation,information_access,contacts"


def _catalogue_with(tmp_path, waves_yaml: str):
    folder = tmp_path / "catalogue"
    shutil.copytree(SHIPPED_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    text = (folder / "programmes.yaml").read_text(encoding="utf-8")
    start = text.index("    survey_waves:")
    end = text.index('    source: "seed 000"')
    (folder / "programmes.yaml").write_text(text[:start] + waves_yaml + text[end:], encoding="utf-8")
    return folder


def test_the_shipped_waves_and_what_baseline_and_follow_up_mean():
    lzz2 = load_catalogue().programme("lzz-2")
    assert [(w.number, w.before_start) for w in lzz2.survey_waves] == [(1, True), (2, True), (3, False), (4, False)]
    assert str(lzz2.survey_start) == "2022-11-01"          # the first wave, before the start 2023-01-01
    assert lzz2.wave_phase("baseline") == (2, True)        # the last wave before the start
    assert lzz2.wave_phase("follow_up") == (4, False)      # the last wave
    assert lzz2.wave_phase("5") is None
    amif = load_catalogue().programme("amif-nom")
    assert (amif.wave_phase("baseline"), amif.wave_phase("follow_up"), amif.wave_phase("1")) == ((1, True), (2, False),
                                                                                                  None)


def test_the_loader_names_every_wrong_wave(tmp_path):
    folder = _catalogue_with(tmp_path, """    survey_waves:
      - {number: 1, date: 2022-11-01, before_start: true}
      - {number: 1, date: 2022-12-01, before_start: true}
      - {number: 13, date: 2023-02-01, before_start: true}
      - {number: 3, date: 2022-10-01, before_start: false}
      - {number: 4, date: "2023-31-01", before_start: false}
      - {number: 5, date: 2024-09-01, before_start: false}
      - {number: 6, date: 2024-05-01, before_start: ja}
      - {number: 7, date: 2024-06-01}
      - {number: 8, date: 2024-06-02, before_start: true, wann: später}
""")
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(folder)
    where = "programmes.yaml programme 'lzz-2' survey_waves"
    problems = [p for p in raised.value.problems if p.startswith(where)]
    expected = [
        f"{where} Welle/wave 1: Nummer doppelt / duplicate number",
        f"{where} Eintrag/entry 3: Wellennummer '13' muss eine ganze Zahl 1–12 sein / wave number must be a whole "
        "number 1–12",
        f"{where} Welle/wave 3: Datum 2022-10-01 liegt vor dem Programmstart 2023-01-01, ist aber nicht before_start / "
        "dated before the programme's start but not marked before_start",
        f"{where} Welle/wave 4: '2023-31-01' ist kein Datum JJJJ-MM-TT / is not a date YYYY-MM-DD",
        f"{where} Welle/wave 5: Datum 2024-09-01 liegt nach dem Programmende 2024-06-30 / dated after the programme ends",
        f"{where} Welle/wave 6: before_start 'ja' muss true oder false sein / must be true or false",
        f"{where} Eintrag/entry 8: Angaben fehlen / missing: before_start",
        f"{where} Eintrag/entry 9: unbekannte Angabe / unknown key: wann",
        # in number order (1, 3, 5, 8; 4 and 6 are not read): dates must rise, pre-waves come first
        f"{where}: Welle 3 (2022-10-01) liegt nicht nach Welle 1 (2022-11-01) / wave 3 is not dated after wave 1",
        f"{where}: Welle 8 (2024-06-02) liegt nicht nach Welle 5 (2024-09-01) / wave 8 is not dated after wave 5",
        f"{where}: Welle 8 ist before_start, folgt aber auf Welle 5 nach dem Start / wave 8 is marked before the "
        "start but follows wave 5 after it",
    ]
    assert problems == expected


def test_waves_need_one_before_and_one_after_the_start(tmp_path):
    folder = _catalogue_with(tmp_path, """    survey_waves:
      - {number: 1, date: 2023-02-01, before_start: true}
      - {number: 2, date: 2023-05-01, before_start: true}
""")
    with pytest.raises(CatalogueError, match="needs at least one wave before and one after the start"):
        load_catalogue(folder)
    folder = _catalogue_with(tmp_path / "b", "    survey_waves: [1, 2]\n")
    with pytest.raises(CatalogueError, match="entry 1: .*not a mapping"):
        load_catalogue(folder)


def test_an_impossible_unquoted_date_is_named_with_its_line(tmp_path):
    """YAML itself fails on an unquoted 2023-02-30 (a bare ValueError, no line): the loader names
    the file, the line and the text instead of a stack trace."""
    folder = _catalogue_with(tmp_path, """    survey_waves:
      - {number: 1, date: 2023-02-30, before_start: true}
      - {number: 2, date: 2023-09-01, before_start: false}
""")
    line = next(n for n, text in enumerate((folder / "programmes.yaml").read_text(encoding="utf-8").splitlines(), 1)
                if "2023-02-30" in text)
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(folder)
    assert raised.value.problems == [f"programmes.yaml Zeile/line {line}: '2023-02-30' ist kein Datum / is not a date "
                                     "(day is out of range for month)"]


def test_a_wave_number_the_programme_does_not_list_is_bad_enum(tmp_path, contract, catalogue):
    """Kreis Lippe (05766, lzz-2, waves 1–4) and Northeim (03155, amif-nom, no listing), rows
    numbered as the district sees them (header = row 1)."""
    lippe = write_csv(tmp_path / "05766_2023-Q4_survey.csv", [
        SURVEY_HEADER,
        "S1,2023-11-10,3,newcomer,4,3,3,3",                   # listed: accepted
        "S2,2023-11-10,5,newcomer,4,3,3,3",                   # not listed: bad_enum
        "S3,2023-11-10,follow_up,newcomer,4,3,3,3",           # the last wave (4): accepted
        "S4,2023-11-10,Folgebefragung,resident,4,3,3,3",      # its German word: accepted
        "S5,2023-11-10,13,resident,4,3,3,3",                  # no wave number at all: bad_enum
        "S6,2023-11-10,Zwischenbefragung,resident,4,3,3,3",   # bad_enum
    ])
    before = write_csv(tmp_path / "05766_2022-Q4_survey.csv", [
        SURVEY_HEADER,
        "S7,2022-11-10,1,volunteer,4,3,3,3",                  # wave 1 lies before the start: accepted
        "S8,2022-10-10,1,volunteer,4,3,3,3",                  # before the first wave: outside_programme
    ])
    northeim = write_csv(tmp_path / "03155_2023-Q1_survey.csv", [
        SURVEY_HEADER,
        "S1,2023-02-10,2,newcomer,4,3,3,3",                   # amif-nom lists no waves: bad_enum
        "S2,2023-02-10,vorher,newcomer,4,3,3,3",              # accepted
    ])
    reports = check([lippe, before, northeim], contract, catalogue)
    assert findings(reports) == [
        ("03155_2023-Q1_survey.csv", 2, "bad_enum", "wave"),
        ("05766_2022-Q4_survey.csv", 3, "outside_programme", "date"),
        ("05766_2023-Q4_survey.csv", 3, "bad_enum", "wave"),
        ("05766_2023-Q4_survey.csv", 6, "bad_enum", "wave"),
        ("05766_2023-Q4_survey.csv", 7, "bad_enum", "wave"),
    ]
    unlisted = next(f for f in reports[0].findings if f["row"] == 3)
    assert unlisted["value"] == "5" and "nicht aufführt" in unlisted["reason"]
    assert [r.accepted for r in reports] == [3, 1, 1]


def test_robustness_and_event_rows_are_withheld_like_the_pooled_did():
    """Programme P: districts A, B; comparison C, D. Block (P, A): the pooled DiD, top box,
    event-study rows and the leave-one-out row that leaves out B (it still uses A) are withheld;
    B's own DiD is not (it uses B and the comparison pool only)."""
    rows = [dict(programme_id="P", method=m, district_ags=d, role="programme") for m, d in
            (("did", "ALL"), ("did", "B"), ("did_top_box", "ALL"), ("did_leave_one_out", "B"), ("event_study", "ALL"),
             ("placebo", "ALL"), ("pre_trend", "ALL"), ("pre_post", "B"))]
    hit = withheld_estimates(rows, {("P", "A")}, lambda p: (["A", "B"], ["C", "D"]))
    assert hit == [True, False, True, True, True, True, True, False]


# -- the demo -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return demo_site(tmp_path_factory)


def _one(frame, **where):
    mask = True
    for column, value in where.items():
        mask = mask & (frame[column] == value)
    hit = frame[mask]
    assert len(hit) == 1, where
    return hit.iloc[0]


def test_demo_belonging_survives_correction_and_participation_pre_trend_is_flagged(site):
    from dashboards.data import read_impact
    from pipeline import warehouse
    with warehouse.connect(site.home.warehouse, read_only=True) as con:
        impact = read_impact(con)
    lzz2 = impact[impact["programme_id"] == "lzz-2"]
    primary = _one(lzz2, method="did", item="belonging", district_ags="ALL", group="ALL")
    assert primary["family"] == "primary" and primary["established"] and not primary["indicative"]
    # planted: belonging +0.3 in programme districts after the start, flat before
    assert _one(lzz2, method="pre_trend", item="belonging")["p_value"] >= 0.05
    assert _one(lzz2, method="event_study", item="belonging", wave=4)["estimate"] == pytest.approx(0.3, abs=0.1)
    assert _one(lzz2, method="event_study", item="belonging", wave=1)["estimate"] == pytest.approx(0.0, abs=0.1)
    # planted: participation 0.3 lower in wave 1 than in wave 2 in programme districts only, so the
    # pre-wave coefficient is −0.3 and the placebo (fake start between waves 1 and 2) +0.3
    trend = _one(lzz2, method="pre_trend", item="participation")
    assert trend["p_value"] < 0.05 and "Vortrend nicht flach" in trend["note_de"]
    assert _one(lzz2, method="event_study", item="participation", wave=1)["estimate"] == pytest.approx(-0.3, abs=0.1)
    assert _one(lzz2, method="placebo", item="participation")["estimate"] == pytest.approx(0.3, abs=0.1)
    weakened = _one(lzz2, method="did", item="participation", district_ags="ALL", group="ALL")
    assert weakened["indicative"] and "Pre-trend not flat" in weakened["note_en"]
    # amif-nom: 1 + 2 districts, no listed waves: no event study, and no inference
    amif = impact[impact["programme_id"] == "amif-nom"]
    assert not amif["method"].isin(["event_study", "placebo", "pre_trend"]).any()
    did = amif[amif["method"] == "did"]
    assert len(did) and did["p_value"].isna().all() and did["ci_low"].isna().all()
    assert did["note_en"].str.contains("Inference needs more districts").all()


def test_the_page_weakens_the_did_finding_where_the_pre_trend_is_not_flat(site):
    for lang, warning, verdict in (
            ("de", "Vortrend bei Teilhabe: nicht flach", "nur eingeschränkt belastbar"),
            ("en", "Pre-trend in Participation: not flat", "only of limited reliability")):
        page = read(site, ("" if lang == "de" else "en/") + "wirkung.html")
        text = html.unescape(re.sub(r"<[^>]+>", " ", page))
        assert warning in text and verdict in text
        for item in (("Zugehörigkeit", "Informationszugang", "Kontakte") if lang == "de"
                     else ("Sense of belonging", "Access to information", "Contacts")):
            assert (f"Vortrend bei {item}" if lang == "de" else f"Pre-trend in {item}") not in text
        assert "fig-event-lzz-2" in page and "fig-event-amif-nom" not in page

