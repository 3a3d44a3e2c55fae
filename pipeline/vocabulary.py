"""The domain's words in German and English (vocabulary.yaml): a target's status, a reach
method, a unit, a target's direction. The site and the indicator exports both name things by
these, so a reader sees one word for one thing everywhere."""
from __future__ import annotations

from pathlib import Path

import yaml

with Path(__file__).with_name("vocabulary.yaml").open(encoding="utf-8") as _file:
    _WORDS = yaml.safe_load(_file)

STATUS: dict[str, dict] = _WORDS["status"]        # language -> status -> word (None: no target)
METHOD: dict[str, dict] = _WORDS["method"]
UNIT: dict[str, dict] = _WORDS["unit"]
DIRECTION: dict[str, dict] = _WORDS["direction"]
