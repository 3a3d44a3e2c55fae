"""Places within a district as catalogue data (places.yaml, indicator contract section 7): per
district its regions and their municipalities (name and 8-digit municipality key), validated on
load like rules.yaml: every problem is collected and raised as one CatalogueError naming the file,
the district, the region and what is wrong.

The spellings a municipality is recognised by (its name, its aliases, its key) are normalised
here by the very SQL expression that normalises `events.municipality` (match.py), run in DuckDB,
so two municipalities of a district that would read alike are refused when the file loads instead
of matching at random.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.catalogue import AGS_PATTERN, SHIPPED_DIR, Catalogue, CatalogueError, loaded_once, own_or_shipped, read_yaml
from pipeline.places.normalise import fold_sql, normalise_sql

FILE_NAME = "places.yaml"
KEY_PATTERN = re.compile(r"^\d{8}$")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
TOP_KEYS = {"prefixes", "districts"}
DISTRICT_KEYS = {"regions", "illustrative", "source"}
REGION_KEYS = {"id", "name_de", "name_en", "municipalities"}
MUNICIPALITY_KEYS = {"key", "name", "aliases"}
LOOKUP_COLUMNS = ["district_ags", "norm", "municipality_key", "region_id"]


@dataclass(frozen=True)
class Municipality:
    key: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Region:
    id: str
    name_de: str
    name_en: str
    municipalities: tuple[Municipality, ...]

    def name(self, lang: str) -> str:
        return self.name_de if lang == "de" else self.name_en


@dataclass(frozen=True)
class DistrictPlaces:
    ags: str
    regions: tuple[Region, ...]
    illustrative: bool = False
    source: str = ""

    @property
    def municipalities(self) -> tuple[Municipality, ...]:
        return tuple(m for r in self.regions for m in r.municipalities)

    def region(self, region_id: str) -> Region | None:
        return next((r for r in self.regions if r.id == region_id), None)


@dataclass(frozen=True)
class Places:
    path: str
    prefixes: tuple[str, ...]                   # as folded by fold_sql: what normalise_sql strips
    districts: dict[str, DistrictPlaces]
    lookup: pd.DataFrame                        # LOOKUP_COLUMNS: one row per spelling (name, alias, key)

    def __bool__(self) -> bool:
        return bool(self.districts)

    def normalise_sql(self, expression: str) -> str:
        return normalise_sql(expression, self.prefixes)

    def region_name(self, ags: str, region_id: str, lang: str) -> str:
        district = self.districts.get(ags)
        region = district.region(region_id) if district else None
        return region.name(lang) if region else region_id

    def regions_frame(self) -> pd.DataFrame:
        """One row per region: district, id, names, number of municipalities, order in the file."""
        rows = [(d.ags, r.id, r.name_de, r.name_en, len(r.municipalities), n, d.illustrative)
                for d in self.districts.values() for n, r in enumerate(d.regions)]
        return pd.DataFrame(rows, columns=["district_ags", "region_id", "name_de", "name_en", "municipalities",
                                           "ord", "illustrative"])


def places_path(catalogue: Catalogue) -> Path:
    """A catalogue folder may carry its own places.yaml; otherwise the shipped one holds."""
    return own_or_shipped(catalogue, FILE_NAME)


_LOADED: dict = {}


def cached_places(catalogue: Catalogue) -> Places:
    """`load_places`, once per process while places.yaml (and the catalogue object) are unchanged."""
    return loaded_once(_LOADED, catalogue, places_path(catalogue), load_places)


def load_places(catalogue: Catalogue, path: Path | str | None = None) -> Places:
    path = Path(path) if path else places_path(catalogue)
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise CatalogueError([f"{path.name}: erwartet eine Zuordnung mit 'districts' / expected a mapping"])
    # The shipped file, used by a home whose own catalogue folder has none, describes the shipped
    # districts: a district that catalogue does not hold (the national demo's synthetic ones) is
    # not its business. A catalogue's own file, and the shipped one for the shipped catalogue, are
    # held to every district they name.
    strict = path.resolve().parent == Path(catalogue.directory).resolve() or path.resolve() != (SHIPPED_DIR / FILE_NAME).resolve()
    checker = _Checker(catalogue, path.name, strict)
    checker.unknown_keys(data, TOP_KEYS, path.name)
    prefixes = data.get("prefixes") or []
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and p.strip() for p in prefixes):
        checker.problems.append(f"{path.name}: prefixes muss eine Liste von Wörtern sein / must be a list of words")
        prefixes = []
    entries = data.get("districts") or {}
    if not isinstance(entries, dict):
        raise CatalogueError(checker.problems + [f"{path.name}: 'districts' muss eine Zuordnung AGS → Regionen sein / "
                                                 "must be a mapping of AGS to regions"])
    con = duckdb.connect(":memory:")
    try:
        folded = tuple(_fold_all(con, [str(p) for p in prefixes]))
        districts = {}
        for ags, entry in entries.items():
            district = checker.district(ags, entry)
            if district:
                districts[district.ags] = district
        lookup = _lookup(con, districts, folded)
    finally:
        con.close()
    checker.ambiguous(lookup, districts)
    if checker.problems:
        raise CatalogueError(checker.problems)
    return Places(path=str(path), prefixes=folded, districts=districts,
                  lookup=lookup[LOOKUP_COLUMNS].drop_duplicates().reset_index(drop=True))


def _fold_all(con, words: list[str]) -> list[str]:
    if not words:
        return []
    found = con.execute(f"SELECT {fold_sql('w')} FROM unnest(CAST(? AS VARCHAR[])) AS t(w)", [words]).fetchall()
    return [row[0] for row in found]


def _lookup(con, districts: dict[str, DistrictPlaces], prefixes: tuple[str, ...]) -> pd.DataFrame:
    """Every spelling of every municipality, normalised by the SQL that normalises the events."""
    rows = [(d.ags, r.id, m.key, m.name, spelling)
            for d in districts.values() for r in d.regions for m in r.municipalities
            for spelling in (m.name, *m.aliases, m.key)]
    frame = pd.DataFrame(rows, columns=["district_ags", "region_id", "municipality_key", "name", "spelling"])
    con.register("_spellings", frame)
    found = con.execute(f"SELECT *, {normalise_sql('spelling', prefixes)} AS norm FROM _spellings").df()
    con.unregister("_spellings")
    return found


class _Checker:
    def __init__(self, catalogue: Catalogue, file: str, strict: bool = True):
        self.catalogue = catalogue
        self.file = file
        self.strict = strict
        self.problems: list[str] = []

    def unknown_keys(self, entry: dict, allowed: set[str], where: str) -> None:
        unknown = sorted(str(k) for k in set(entry) - allowed)
        if unknown:
            self.problems.append(f"{where}: unbekannte Angabe / unknown key: {', '.join(unknown)}")

    def district(self, ags, entry) -> DistrictPlaces | None:
        where = f"{self.file} Kreis/district {ags}"
        if not isinstance(ags, str):
            # YAML reads 05766 unquoted as an (octal) number: the key is lost, so say so plainly.
            self.problems.append(f"{where}: AGS in Anführungszeichen schreiben, z. B. \"13076\" / write the AGS in quotes")
            return None
        if not AGS_PATTERN.match(ags):
            self.problems.append(f"{where}: AGS '{ags}' hat nicht 5 Ziffern / is not 5 digits")
            return None
        if ags not in self.catalogue.districts.index:
            if not self.strict:
                return None
            self.problems.append(f"{where}: Landkreis {ags} fehlt in districts.csv / unknown district")
            return None
        if not isinstance(entry, dict):
            self.problems.append(f"{where}: keine Zuordnung mit regions / not a mapping with regions")
            return None
        self.unknown_keys(entry, DISTRICT_KEYS, where)
        regions = entry.get("regions")
        if not isinstance(regions, list) or not regions:
            self.problems.append(f"{where}: regions fehlt oder ist leer / regions missing or empty")
            return None
        parsed, ids, seen_keys = [], set(), {}
        for i, region in enumerate(regions):
            rid = str(region.get("id") or "") if isinstance(region, dict) else ""
            here = f"{where} Region '{rid or i + 1}'"
            if rid in ids:
                self.problems.append(f"{here}: id doppelt / duplicate region id")
            ids.add(rid)
            found = self.region(region, ags, here, seen_keys)
            if found:
                parsed.append(found)
        if not isinstance(entry.get("illustrative", False), bool):
            self.problems.append(f"{where}: illustrative muss true oder false sein / must be true or false")
        return DistrictPlaces(ags=ags, regions=tuple(parsed), illustrative=bool(entry.get("illustrative", False)),
                              source=str(entry.get("source") or ""))

    def region(self, entry, ags: str, where: str, seen_keys: dict[str, str]) -> Region | None:
        if not isinstance(entry, dict):
            self.problems.append(f"{where}: keine Zuordnung / not a mapping")
            return None
        self.unknown_keys(entry, REGION_KEYS, where)
        missing = [k for k in ("id", "name_de", "name_en", "municipalities") if not entry.get(k)]
        if missing:
            self.problems.append(f"{where}: Angaben fehlen / missing: {', '.join(missing)}")
            return None
        if not ID_PATTERN.match(str(entry["id"])):
            self.problems.append(f"{where}: id nur a-z, 0-9, _ / id must be lower-case a-z, 0-9, _")
        if not isinstance(entry["municipalities"], list):
            self.problems.append(f"{where}: municipalities muss eine Liste sein / must be a list")
            return None
        municipalities = []
        for n, item in enumerate(entry["municipalities"]):
            municipality = self.municipality(item, ags, f"{where} Gemeinde/municipality {n + 1}")
            if municipality is None:
                continue
            here = f"{where} Gemeinde/municipality {municipality.key} {municipality.name}"
            earlier = seen_keys.get(municipality.key)
            if earlier == entry["id"]:
                self.problems.append(f"{here}: doppelt in dieser Region / listed twice in this region")
                continue
            if earlier is not None:
                self.problems.append(f"{here}: steht schon in Region '{earlier}' – eine Gemeinde gehört zu genau einer "
                                     f"Region / already in region '{earlier}': a municipality is in one region only")
                continue
            seen_keys[municipality.key] = str(entry["id"])
            municipalities.append(municipality)
        return Region(id=str(entry["id"]), name_de=str(entry["name_de"]), name_en=str(entry["name_en"]),
                      municipalities=tuple(municipalities))

    def municipality(self, item, ags: str, where: str) -> Municipality | None:
        if not isinstance(item, dict):
            self.problems.append(f"{where}: keine Zuordnung mit key und name / not a mapping with key and name")
            return None
        self.unknown_keys(item, MUNICIPALITY_KEYS, where)
        key, name = item.get("key"), item.get("name")
        if not isinstance(name, str) or not name.strip():
            self.problems.append(f"{where}: name fehlt / name missing")
            return None
        where = f"{where} ({name})"
        if not isinstance(key, str):
            self.problems.append(f"{where}: Gemeindeschlüssel {key!r} in Anführungszeichen schreiben, z. B. "
                                 f"\"{ags}001\" / write the municipality key in quotes")
            return None
        if not KEY_PATTERN.match(key):
            self.problems.append(f"{where}: Gemeindeschlüssel '{key}' hat nicht 8 Ziffern / key is not 8 digits")
            return None
        if key[:5] != ags:
            self.problems.append(f"{where}: Gemeindeschlüssel {key} gehört nicht zum Kreis {ags} (die ersten fünf "
                                 f"Ziffern sind der Kreis) / key is not in district {ags} (its first 5 digits name "
                                 "the district)")
            return None
        aliases = item.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            self.problems.append(f"{where}: aliases muss eine Liste von Namen sein / must be a list of names")
            aliases = []
        return Municipality(key=key, name=name.strip(), aliases=tuple(a.strip() for a in aliases))

    def ambiguous(self, lookup: pd.DataFrame, districts: dict[str, DistrictPlaces]) -> None:
        """Two municipalities of a district whose spellings read alike once normalised, or a
        spelling that is nothing once normalised (only prefixes and punctuation)."""
        if lookup.empty:
            return
        for row in lookup[lookup["norm"] == ""].itertuples(index=False):
            self.problems.append(f"{self.file} Kreis/district {row.district_ags} Gemeinde/municipality "
                                 f"{row.municipality_key}: Schreibweise '{row.spelling}' ist ohne Vorsatz und "
                                 "Satzzeichen leer / spelling is empty without prefix and punctuation")
        clashes = lookup.groupby(["district_ags", "norm"])["municipality_key"].nunique()
        for (ags, norm), _ in clashes[clashes > 1].items():
            same = lookup[(lookup["district_ags"] == ags) & (lookup["norm"] == norm)]
            named = sorted({f"{k} {n}" for k, n in zip(same["municipality_key"], same["name"])})
            spellings = sorted(set(same["spelling"]))
            self.problems.append(f"{self.file} Kreis/district {ags}: {' und / and '.join(named)} lesen sich gleich "
                                 f"({', '.join(spellings)} → '{norm}'); einen Namen oder Alias ändern / read alike "
                                 "once normalised: change a name or alias")
