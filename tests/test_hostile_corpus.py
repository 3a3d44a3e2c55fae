"""The hostile corpus (tests/hostile.py, also `make fuzz`) through `teilhabe check` and
`teilhabe run`: no traceback, the run exits 0, every inbox entry accounted for, read = accepted +
rejected for every file, no process over 2 GB."""
from tests import hostile


def test_no_file_stops_the_pipeline(tmp_path):
    entries, problems = hostile.exercise(tmp_path / "home", seed=7)
    assert len(entries) >= 300
    assert {e.category for e in entries} == {"valid", "hostile_values", "malformed", "privacy", "workbook", "names",
                                            "not_regular", "heavy"}
    assert problems == []
