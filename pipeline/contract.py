"""The delivery contract as data: contract.yaml plus one GX suite per feed in expectations/.

Everything that reads or validates a delivery (pipeline, `teilhabe check`, tests) gets its
rules from here, so the contract has exactly one implementation.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
CONTRACT_FILE = Path(__file__).with_name("contract.yaml")

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})
_SEPARATORS = re.compile(r"[\s\-]+")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Header/enum folding of contract section 2: case, umlauts, spaces and hyphens."""
    folded = str(text).strip().translate(_UMLAUTS).lower()
    return re.sub(r"_+", "_", _SEPARATORS.sub("_", folded)).strip("_")


@dataclass(frozen=True)
class Column:
    name: str
    alias: str
    type: str
    required: bool
    values: dict[str, list[str]] = field(default_factory=dict)
    default: object = None

    @functools.cached_property
    def enum_lookup(self) -> dict[str, str]:
        lookup = {fold(v): v for v in self.values}
        for canonical, aliases in self.values.items():
            lookup.update({fold(a): canonical for a in aliases})
        return lookup


@dataclass(frozen=True)
class Feed:
    name: str
    alias_de: str
    label_de: str
    label_en: str
    id_columns: tuple[str, ...]
    date_column: str | None
    columns: tuple[Column, ...]
    derived: dict[str, str]
    suite: dict
    # Folded headers forbidden in this feed beyond those of contract section 4 (trajectories:
    # nationality, birth year, gender): a file with one is set aside as `forbidden_column`.
    forbidden: frozenset[str] = frozenset()

    @functools.cached_property
    def header_lookup(self) -> dict[str, str]:
        """Folded header (English name or German alias) -> canonical column name."""
        lookup = {}
        for c in self.columns:
            lookup[fold(c.name)] = c.name
            lookup[fold(c.alias)] = c.name
        return lookup

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Contract:
    feeds: dict[str, Feed]
    size_limit_bytes: int
    xlsx_max_unpacked_bytes: int
    forbidden_columns: frozenset[str]
    true_values: frozenset[str]
    false_values: frozenset[str]
    reasons: dict[str, dict[str, str]]
    max_rows: int = 200_000
    max_columns: int = 200
    max_line_bytes: int = 100_000
    max_cells: int = 2_000_000
    forbidden_words: frozenset[str] = frozenset()
    forbidden_stems: tuple[str, ...] = ()
    forbidden_exempt_words: frozenset[str] = frozenset()
    list_sheets: tuple[str, ...] = ()
    totals_words: frozenset[str] = frozenset()

    def is_forbidden(self, header: str) -> bool:
        """Contract section 4: a header that names a direct personal identifier, in any of the
        spellings offices use (`Vor- und Nachname`, `Tel.`, `Geb.-Datum`, `PLZ/Ort`, `E-Mail-Adresse`)."""
        folded = fold(header)
        if folded in self.forbidden_columns:
            return True
        words = [w for w in _NON_WORD.split(folded) if w]
        if not words:
            return False
        exempt = any(w in self.forbidden_exempt_words for w in words)
        if any(w in self.forbidden_words and not (w == "name" and exempt) for w in words):
            return True
        joined = "".join(words)
        return any(stem in joined for stem in self.forbidden_stems)

    def is_list_sheet(self, sheet_name: str) -> bool:
        """A sheet of drop-down values ("Listen", "Auswahl", "Dropdown", "Werte")."""
        words = [w for w in _NON_WORD.split(fold(sheet_name)) if w]
        return bool(words) and words[0] in self.list_sheets

    @functools.cached_property
    def feed_lookup(self) -> dict[str, str]:
        """Folded feed/sheet name (English or German) -> feed name."""
        lookup = {}
        for f in self.feeds.values():
            lookup[fold(f.name)] = f.name
            lookup[fold(f.alias_de)] = f.name
            lookup[fold(f.label_de)] = f.name
        return lookup

    def reason(self, code: str, lang: str = "de") -> str:
        return self.reasons[code][lang]


def _feed_from_suite(suite: dict) -> Feed:
    meta = suite["meta"]
    columns = tuple(
        Column(name=c["name"], alias=c["alias"], type=c["type"], required=c.get("required", False),
               values=c.get("values", {}), default=c.get("default"))
        for c in meta["columns"]
    )
    return Feed(name=meta["feed"], alias_de=meta["alias_de"], label_de=meta["label_de"],
                label_en=meta["label_en"], id_columns=tuple(meta["id_columns"]),
                date_column=meta.get("date_column"), columns=columns,
                derived=meta.get("derived", {}), suite=suite,
                forbidden=frozenset(fold(c) for c in meta.get("forbidden_columns", [])))


@functools.cache
def load_contract() -> Contract:
    settings = yaml.safe_load(CONTRACT_FILE.read_text(encoding="utf-8"))
    feeds = {}
    for name in settings["feeds"]:
        suite = json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))
        feeds[name] = _feed_from_suite(suite)
    return Contract(
        feeds=feeds,
        size_limit_bytes=int(settings["size_limit_mb"] * 1024 * 1024),
        xlsx_max_unpacked_bytes=int(settings["xlsx_max_unpacked_mb"] * 1024 * 1024),
        forbidden_columns=frozenset(fold(c) for c in settings["forbidden_columns"]),
        true_values=frozenset(fold(v) for v in settings["booleans"]["true"]),
        false_values=frozenset(fold(v) for v in settings["booleans"]["false"]),
        reasons=settings["reasons"],
        **{key: int(value) for key, value in settings["limits"].items()},
        forbidden_words=frozenset(fold(w) for w in settings["forbidden_words"]),
        forbidden_stems=tuple(fold(w).replace("_", "") for w in settings["forbidden_stems"]),
        forbidden_exempt_words=frozenset(fold(w) for w in settings["forbidden_exempt_words"]),
        list_sheets=tuple(fold(w) for w in settings["list_sheets"]),
        totals_words=frozenset(fold(w) for w in settings["totals_words"]),
    )
