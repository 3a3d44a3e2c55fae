"""The shipped indicator catalogue, and every kind of mistake the loader refuses with its reason."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.catalogue import SHIPPED_DIR, CatalogueError, load_catalogue
from pipeline.indicators import indicators_path, load_indicators
from pipeline.indicators.engine import rows_frame

STANDARD = {  # indicators.md section 2: id -> (default target, direction)
    "trainings_held": (14, "at_least"), "engaged_reached": (140, "at_least"),
    "best_practice_meetings": (2, "at_least"), "advised_clients": (15, "at_least"),
    "advice_sessions": (None, None), "newsletters_sent": (7, "at_least"),
    "people_reached": (180, "at_least"), "events_held": (None, None), "network_meetings": (None, None),
}


@pytest.fixture(scope="module")
def shipped(indicators):
    return indicators


@pytest.fixture(scope="module")
def shipped_data():
    return yaml.safe_load((SHIPPED_DIR / "indicators.yaml").read_text(encoding="utf-8"))


# -- the shipped catalogue -------------------------------------------------------------------------

def test_standard_set_applies_to_every_programme(shipped, catalogue):
    for iid, (target, direction) in STANDARD.items():
        indicator = shipped.get(iid)
        assert (indicator.target, indicator.direction) == (target, direction), iid
        assert all(indicator.applies_to(p.id, a) for p in catalogue.programmes for a in p.districts)


def test_programme_specific_indicators(shipped):
    for iid in ("micro_projects_funded", "micro_funding_eur", "micro_projects_over_cap", "micro_volunteers",
                "micro_newcomers_reached"):
        indicator = shipped.get(iid)
        assert indicator.applies_to("lzz-1", "13076") and not indicator.applies_to("lzz-1", "03153")
        assert not indicator.applies_to("lzz-2")
    assert shipped.get("micro_funding_eur").target_for("lzz-1", "13076") == 10000
    assert shipped.get("micro_funding_eur").direction == "at_most"
    assert (shipped.get("micro_projects_over_cap").target, shipped.get("micro_projects_over_cap").direction) == (0, "at_most")
    assert shipped.get("micro_newcomers_reached").definition.high == "newcomers_reached_high"
    assert shipped.parameter("micro_project_cap_eur") == 1000
    for iid in ("round_tables", "workshops", "culture_events"):
        assert shipped.get(iid).programmes == ("amif-nom",)


def test_survey_indicators_cover_waves_groups_and_items(shipped):
    ids = set(shipped.ids)
    for wave in ("baseline", "follow_up"):
        for group in ("newcomer", "resident", "volunteer"):
            assert f"survey_responses_{wave}_{group}" in ids
        for item in ("belonging", "participation", "information_access", "contacts"):
            indicator = shipped.get(f"survey_{item}_{wave}")
            assert indicator.definition.aggregate == "mean" and indicator.comparison
            assert indicator.when_no_data == "omit"


def test_targets_sit_on_the_all_row_for_programme_level_targets(shipped, catalogue):
    rows = rows_frame(catalogue, shipped).set_index(["indicator_id", "programme_id", "district_ags"])["target"]
    assert rows[("trainings_held", "bpb-lsa-2017", "ALL")] == 14
    assert rows.isna()[("trainings_held", "bpb-lsa-2017", "15090")]
    assert rows[("trainings_held", "lzz-2", "05766")] == 14
    assert rows.isna()[("trainings_held", "lzz-2", "ALL")]


def test_most_specific_target_wins(catalogue, tmp_path, shipped_data):
    data = copy.deepcopy(shipped_data)
    entry = _entry(data, "trainings_held")
    entry["overrides"] = [{"programme": "lzz-2", "target": 10},
                          {"programme": "lzz-2", "district": "05766", "target": 3},
                          {"programme": "lzz-1", "district": "13076", "target": None}]
    indicator = load_indicators(catalogue, _write(tmp_path, data)).get("trainings_held")
    assert indicator.target_for("lzz-2", "05766") == 3
    assert indicator.target_for("lzz-2", "09174") == 10
    assert indicator.target_for("lzz-1", "13076") is None
    assert indicator.target_for("lzz-1", "03153") == 14
    assert indicator.target_for("lzz-2", None) == 10


def test_a_catalogue_folder_may_carry_its_own_indicators(tmp_path):
    for name in ("programmes.yaml", "districts.csv"):
        shutil.copy(SHIPPED_DIR / name, tmp_path / name)
    assert indicators_path(load_catalogue(tmp_path)) == SHIPPED_DIR / "indicators.yaml"
    shutil.copy(SHIPPED_DIR / "indicators.yaml", tmp_path / "indicators.yaml")
    assert indicators_path(load_catalogue(tmp_path)) == tmp_path / "indicators.yaml"


# -- what the loader refuses --------------------------------------------------------------------------

def _entry(data: dict, iid: str) -> dict:
    return next(e for e in data["indicators"] if e["id"] == iid)


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "indicators.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _problems(catalogue, tmp_path, data) -> list[str]:
    with pytest.raises(CatalogueError) as caught:
        load_indicators(catalogue, _write(tmp_path, data))
    return caught.value.problems


def _mutate(shipped_data, iid, change):
    data = copy.deepcopy(shipped_data)
    change(_entry(data, iid))
    return data


CASES = {
    "unknown feed": ("trainings_held", lambda e: e["definition"].update(feed="visits"), "unknown feed 'visits'"),
    "unknown column": ("micro_volunteers", lambda e: e["definition"].update(column="helpers"),
                       "'helpers' gibt es in micro_projects nicht / unknown column"),
    "unknown column in filter": ("trainings_held", lambda e: e["definition"].update(filter="kind = 'training'"),
                                 "invalid filter `kind = 'training'`"),
    "filter not boolean": ("trainings_held", lambda e: e["definition"].update(filter="participants_total + 1"),
                           "filter is not a boolean"),
    "filter with a statement": ("trainings_held",
                                lambda e: e["definition"].update(filter="TRUE; DROP TABLE stg_events"),
                                "filter must be a plain expression"),
    "unknown aggregation": ("trainings_held", lambda e: e["definition"].update(aggregate="median"),
                            "unknown aggregation 'median'"),
    "sum without column": ("micro_volunteers", lambda e: e["definition"].pop("column"), "sum braucht / needs 'column'"),
    "key the aggregation ignores": ("trainings_held", lambda e: e["definition"].update(high="participants_staff"),
                                    "'high' passt nicht zu / is not used by count"),
    "sum of text": ("micro_volunteers", lambda e: e["definition"].update(column="applicant"), "column is not numeric"),
    "reach over advice": ("engaged_reached", lambda e: e["definition"].update(feed="advice", filter=None,
                                                                              fallback=[]),
                          "reach needs feed events"),
    "unknown attendance column": ("engaged_reached",
                                  lambda e: e["definition"].update(attendance_filter="rolle = 'staff'"),
                                  "attendance_filter: Filter ungültig / invalid filter"),
    "unknown parameter": ("micro_projects_over_cap",
                          lambda e: e["definition"].update(filter="amount_eur > {cap}"), "unknown parameter: cap"),
    "target without direction": ("events_held", lambda e: e.update(target=5), "target without direction"),
    "override target without direction": ("events_held",
                                           lambda e: e.update(overrides=[{"programme": "lzz-2", "target": 5}]),
                                           "target without direction"),
    "bad direction": ("trainings_held", lambda e: e.update(direction="more"), "unknown direction"),
    "negative target": ("trainings_held", lambda e: e.update(target=-1), "target must be a number ≥ 0"),
    "unknown programme in override": ("trainings_held",
                                      lambda e: e.update(overrides=[{"programme": "lzz-9", "target": 1}]),
                                      "unknown programme 'lzz-9'"),
    "unknown district in override": ("trainings_held", lambda e: e.update(
        overrides=[{"programme": "lzz-2", "district": "99999", "target": 1}]), "unknown district '99999'"),
    "district of another programme": ("trainings_held", lambda e: e.update(
        overrides=[{"programme": "lzz-2", "district": "13076", "target": 1}]), "not a district of it"),
    "district target on a programme-level programme": ("trainings_held", lambda e: e.update(
        overrides=[{"programme": "bpb-lsa-2017", "district": "15090", "target": 1}]),
        "targets are set for the whole programme"),
    "unknown programme in scope": ("round_tables", lambda e: e.update(applies_to={"programmes": ["amif-xyz"]}),
                                   "unknown programme 'amif-xyz'"),
    "unknown district in scope": ("micro_volunteers",
                                  lambda e: e.update(applies_to={"programmes": ["lzz-1"], "districts": ["1307"]}),
                                  "unknown district '1307'"),
    "unquoted AGS": ("trainings_held", lambda e: e.update(
        overrides=[{"programme": "lzz-2", "district": 3062, "target": 1}]), "write the AGS in quotes"),
    "unknown key": ("trainings_held", lambda e: e.update(targte=3), "unknown key: targte"),
    "missing label": ("trainings_held", lambda e: e.pop("label_de"), "missing: label_de"),
    "unknown programme in reference": ("people_reached", lambda e: e["references"].append(
        {"framework": "X", "item": "Y", "programmes": ["nope"]}), "unknown programme 'nope'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loader_refuses(case, catalogue, tmp_path, shipped_data):
    iid, change, expected = CASES[case]
    problems = _problems(catalogue, tmp_path, _mutate(shipped_data, iid, change))
    assert any(expected in p for p in problems), problems
    assert all("indicators.yaml" in p for p in problems)
    assert any(f"'{iid}'" in p for p in problems)  # the entry is named


def test_duplicate_ids_refused(catalogue, tmp_path, shipped_data):
    data = copy.deepcopy(shipped_data)
    data["indicators"].append(copy.deepcopy(_entry(data, "events_held")))
    assert any("duplicate id" in p for p in _problems(catalogue, tmp_path, data))


def test_every_problem_is_listed_not_just_the_first(catalogue, tmp_path, shipped_data):
    data = copy.deepcopy(shipped_data)
    _entry(data, "trainings_held")["definition"]["feed"] = "visits"
    _entry(data, "events_held")["target"] = 5
    _entry(data, "newsletters_sent")["definition"]["aggregate"] = "median"
    problems = _problems(catalogue, tmp_path, data)
    assert len(problems) == 3


def test_parameter_must_be_a_number(catalogue, tmp_path, shipped_data):
    data = copy.deepcopy(shipped_data)
    data["parameters"]["micro_project_cap_eur"]["value"] = "tausend"
    problems = _problems(catalogue, tmp_path, data)
    assert any("micro_project_cap_eur" in p and "must be a number" in p for p in problems)


def test_unreadable_file(catalogue, tmp_path):
    path = tmp_path / "indicators.yaml"
    path.write_text("indicators: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogueError, match="unreadable"):
        load_indicators(catalogue, path)
