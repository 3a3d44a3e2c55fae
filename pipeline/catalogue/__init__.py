"""The programme catalogue: programmes and districts as data files, validated on load.

An evaluator edits programmes.yaml / districts.csv (or a home's own catalogue/ folder); nothing
here needs a programmer. Errors name the file, the entry and what is wrong.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

SHIPPED_DIR = Path(__file__).resolve().parent
AGS_PATTERN = re.compile(r"^\d{5}$")


class CatalogueError(ValueError):
    """The catalogue is inconsistent; `problems` lists every finding, not just the first."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Katalog fehlerhaft / catalogue invalid:\n- " + "\n- ".join(problems))


DATE_LIKE = re.compile(r"(?<![\w.])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w.])")


def own_or_shipped(catalogue, name: str) -> Path:
    """A catalogue folder may carry its own file `name` (indicators.yaml, rules.yaml, places.yaml);
    otherwise the shipped one holds."""
    own = Path(catalogue.directory) / name
    return own if own.is_file() else SHIPPED_DIR / name


def read_yaml(path: Path):
    """A catalogue file's YAML, or a CatalogueError that says where it cannot be read. Besides
    syntax errors, YAML reads an unquoted 2023-02-30 as a date and fails on it with a bare
    ValueError; the lines with such an impossible date are named."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogueError([f"{path.name}: nicht lesbar / unreadable: {error}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CatalogueError([f"{path.name}: nicht lesbar / unreadable: {error}"]) from None
    except ValueError as error:
        bad = [f"{path.name} Zeile/line {n}: '{m.group(0)}' ist kein Datum / is not a date ({error})"
               for n, line in enumerate(text.splitlines(), 1) for m in DATE_LIKE.finditer(line.split("#")[0])
               if not _is_date(*m.groups())]
        raise CatalogueError(bad or [f"{path.name}: nicht lesbar / unreadable: {error}"]) from None


def _is_date(year: str, month: str, day: str) -> bool:
    try:
        dt.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


MAX_WAVE = 12            # deliveries.md, survey `wave`: numbers 1–12
WAVE_KEYS = ("number", "date", "before_start")


@dataclass(frozen=True)
class SurveyWave:
    """One survey wave a programme lists: its number (what a survey row writes in `wave`), the day
    its fieldwork begins, and whether it lies before the programme's start (a pre-wave)."""
    number: int
    date: dt.date
    before_start: bool


@dataclass(frozen=True)
class Programme:
    id: str
    name_de: str
    name_en: str
    funder: str
    carrier: str
    start: dt.date
    end: dt.date
    target_level: str
    districts: tuple[str, ...]
    comparison_districts: tuple[str, ...]
    source: str
    # The survey items the evaluators declared in advance as the programme's primary outcomes:
    # their pooled difference-in-differences is judged alone; every other impact row is
    # exploratory and judged after a family-wise correction (pipeline/impact/multiplicity.py).
    primary_outcomes: tuple[str, ...] = ()
    # Numbered survey waves (deliveries.md, survey `wave`), in number order; empty for a programme
    # surveyed in the two waves `baseline` / `follow_up` only.
    survey_waves: tuple[SurveyWave, ...] = ()

    @property
    def survey_start(self) -> dt.date:
        """A survey row belongs to the programme from its first listed wave on, which may lie
        before the programme's start (a pre-wave); other feeds from the start."""
        return min([self.start, *(w.date for w in self.survey_waves)])

    def wave_phase(self, wave: str) -> tuple[int, bool] | None:
        """A survey row's wave -> (wave number, before the start). For a programme that lists its
        waves, `baseline` is the last wave before the start (the event study's reference) and
        `follow_up` the last wave after it (the final follow-up, as in a two-wave design);
        without a listing they are waves 1 and 2. None: a number the programme does not list."""
        listed = {str(w.number): (w.number, w.before_start) for w in self.survey_waves}
        if wave in listed:
            return listed[wave]
        if wave not in ("baseline", "follow_up"):
            return None
        if not self.survey_waves:
            return (1, True) if wave == "baseline" else (2, False)
        before = [w.number for w in self.survey_waves if w.before_start]
        after = [w.number for w in self.survey_waves if not w.before_start]
        return (before[-1], True) if wave == "baseline" else (after[-1], False)


@dataclass(frozen=True)
class Deadlines:
    days_after_quarter_end: int = 30
    quarters: tuple[tuple[str, dt.date], ...] = ()


@dataclass(frozen=True)
class Catalogue:
    directory: Path
    programmes: tuple[Programme, ...]
    districts: pd.DataFrame  # indexed by ags
    deadlines: Deadlines = Deadlines()

    def programme(self, programme_id: str) -> Programme:
        return next(p for p in self.programmes if p.id == programme_id)

    @functools.cached_property
    def membership(self) -> pd.DataFrame:
        """One row per (district, programme): role `programme` or `comparison`, with the period."""
        rows = [(ags, p.id, p.start, p.end, role)
                for p in self.programmes
                for role, members in (("programme", p.districts), ("comparison", p.comparison_districts))
                for ags in members]
        frame = pd.DataFrame(rows, columns=["district_ags", "programme_id", "start", "end", "role"])
        frame["start"] = pd.to_datetime(frame["start"])
        frame["end"] = pd.to_datetime(frame["end"])
        return frame

    @functools.cached_property
    def survey_membership(self) -> pd.DataFrame:
        """`membership` for survey rows: the period begins with the programme's first listed wave
        (Programme.survey_start), so a wave before the start belongs to the programme."""
        frame = self.membership.copy()
        starts = {p.id: pd.Timestamp(p.survey_start) for p in self.programmes}
        frame["start"] = frame["programme_id"].map(starts).astype(frame["start"].dtype)
        return frame

    @functools.cached_property
    def survey_waves(self) -> pd.DataFrame:
        """The wave values a survey row may write, per district and survey period: one row per
        (district, programme, wave) with `wave` as written (`baseline`, `follow_up` or a listed
        number), its number and whether it lies before the start (Programme.wave_phase)."""
        rows = []
        for p in self.programmes:
            values = ["baseline", "follow_up", *(str(w.number) for w in p.survey_waves)]
            for role, members in (("programme", p.districts), ("comparison", p.comparison_districts)):
                for ags in members:
                    rows += [(ags, p.id, p.survey_start, p.end, v, *p.wave_phase(v)) for v in values]
        frame = pd.DataFrame(rows, columns=["district_ags", "programme_id", "start", "end", "wave", "wave_number",
                                            "before_start"])
        frame["start"] = pd.to_datetime(frame["start"])
        frame["end"] = pd.to_datetime(frame["end"])
        return frame

    @property
    def first_day(self) -> dt.date:
        return min(p.start for p in self.programmes)

    @functools.cached_property
    def _names(self) -> dict[str, str]:
        return {str(ags): str(name) for ags, name in self.districts["name"].items()}

    def district_name(self, ags: str) -> str:
        """Called once per row of pages and reports: a dict, not a pandas lookup."""
        return self._names.get(ags, ags)


def _date(value, where: str, problems: list[str]) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: '{value}' ist kein Datum JJJJ-MM-TT / is not a date YYYY-MM-DD")
        return None


def _load_districts(path: Path, problems: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for i, row in frame.iterrows():
        where = f"{path.name} Zeile/row {i + 2}"
        if not AGS_PATTERN.match(row["ags"]):
            problems.append(f"{where}: AGS '{row['ags']}' hat nicht 5 Ziffern / is not 5 digits")
        if not row["population"].isdigit() or int(row["population"]) <= 0:
            problems.append(f"{where}: Einwohnerzahl '{row['population']}' ungültig / population invalid")
        if not row["population_source"]:
            problems.append(f"{where}: Quelle der Einwohnerzahl fehlt / population source missing")
    duplicated = frame.loc[frame["ags"].duplicated(), "ags"].tolist()
    if duplicated:
        problems.append(f"{path.name}: AGS doppelt / duplicate AGS: {', '.join(duplicated)}")
    frame["population"] = pd.to_numeric(frame["population"], errors="coerce")
    frame["foreign_population"] = pd.to_numeric(frame["foreign_population"], errors="coerce")
    return frame.drop_duplicates("ags").set_index("ags", drop=False)


def _load_deadlines(data: dict, where: str, problems: list[str]) -> Deadlines:
    config = data.get("delivery_deadline") or {}
    days = config.get("days_after_quarter_end", 30)
    if not isinstance(days, int) or days < 0:
        problems.append(f"{where}: days_after_quarter_end '{days}' muss eine Zahl ≥ 0 sein / must be a number ≥ 0")
        days = 30
    quarters = []
    for quarter, day in (config.get("quarters") or {}).items():
        if not re.match(r"^\d{4}-Q[1-4]$", str(quarter)):
            problems.append(f"{where}: Frist für '{quarter}': kein Quartal JJJJ-Qn / not a quarter YYYY-Qn")
            continue
        parsed = _date(day, f"{where} Frist {quarter}", problems)
        if parsed:
            quarters.append((str(quarter), parsed))
    return Deadlines(days_after_quarter_end=days, quarters=tuple(sorted(quarters)))


def _survey_items() -> tuple[str, ...]:
    from pipeline.impact.survey import survey_items   # the survey contract's score items, one definition
    return survey_items()


def _load_waves(listing, where: str, start: dt.date | None, end: dt.date | None,
                problems: list[str]) -> tuple[SurveyWave, ...]:
    """A programme's `survey_waves`: each with number 1–12, date and before_start; at least one
    wave before the start and one after; in number order the dates rise and every pre-wave comes
    before every wave after the start; a wave after the start is not dated before it, none after
    the end. Every finding names the programme and the wave."""
    if listing is None:
        return ()
    if not isinstance(listing, list) or not listing:
        problems.append(f"{where}: survey_waves muss eine Liste von Wellen sein (number, date, before_start) / "
                        "must be a list of waves (number, date, before_start)")
        return ()
    waves, numbers = [], set()
    for k, entry in enumerate(listing, 1):
        here = f"{where} survey_waves Eintrag/entry {k}"
        if not isinstance(entry, dict):
            problems.append(f"{here}: keine Angabe number/date/before_start / not a mapping of number, date, before_start")
            continue
        missing = [key for key in WAVE_KEYS if key not in entry]
        unknown = sorted(str(key) for key in entry if key not in WAVE_KEYS)
        if missing:
            problems.append(f"{here}: Angaben fehlen / missing: {', '.join(missing)}")
        if unknown:
            problems.append(f"{here}: unbekannte Angabe / unknown key: {', '.join(unknown)}")
        if missing:
            continue
        number = entry["number"]
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_WAVE:
            problems.append(f"{here}: Wellennummer '{number}' muss eine ganze Zahl 1–{MAX_WAVE} sein / "
                            f"wave number must be a whole number 1–{MAX_WAVE}")
            continue
        here = f"{where} survey_waves Welle/wave {number}"
        if number in numbers:
            problems.append(f"{here}: Nummer doppelt / duplicate number")
            continue
        numbers.add(number)
        day = _date(entry["date"], here, problems)
        if not isinstance(entry["before_start"], bool):
            problems.append(f"{here}: before_start '{entry['before_start']}' muss true oder false sein / "
                            "must be true or false")
            continue
        if day is None:
            continue
        if end and day > end:
            problems.append(f"{here}: Datum {day} liegt nach dem Programmende {end} / dated after the programme ends")
        if start and not entry["before_start"] and day < start:
            problems.append(f"{here}: Datum {day} liegt vor dem Programmstart {start}, ist aber nicht before_start / "
                            "dated before the programme's start but not marked before_start")
        waves.append(SurveyWave(number, day, entry["before_start"]))
    waves.sort(key=lambda w: w.number)
    for earlier, later in zip(waves, waves[1:]):
        if later.date <= earlier.date:
            problems.append(f"{where} survey_waves: Welle {later.number} ({later.date}) liegt nicht nach Welle "
                            f"{earlier.number} ({earlier.date}) / wave {later.number} is not dated after wave {earlier.number}")
        if earlier.before_start is False and later.before_start is True:
            problems.append(f"{where} survey_waves: Welle {later.number} ist before_start, folgt aber auf Welle "
                            f"{earlier.number} nach dem Start / wave {later.number} is marked before the start but "
                            f"follows wave {earlier.number} after it")
    if waves and (all(w.before_start for w in waves) or not any(w.before_start for w in waves)):
        problems.append(f"{where} survey_waves: mindestens eine Welle vor und eine nach dem Start nötig / "
                        "needs at least one wave before and one after the start")
    return tuple(waves)


def _load_programmes(path: Path, districts: pd.DataFrame, problems: list[str]) -> tuple[Programme, ...]:
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise CatalogueError([f"{path.name}: erwartet eine Zuordnung mit 'programmes' / expected a mapping"])
    programmes, seen = [], set()
    for i, entry in enumerate(data.get("programmes", [])):
        pid = str(entry.get("id", ""))
        where = f"{path.name} programme '{pid or i + 1}'"
        if not pid:
            problems.append(f"{where}: id fehlt / id missing")
        elif pid in seen:
            problems.append(f"{where}: id doppelt / duplicate id")
        seen.add(pid)
        missing = [k for k in ("name_de", "name_en", "start", "end", "districts") if not entry.get(k)]
        if missing:
            problems.append(f"{where}: Angaben fehlen / missing: {', '.join(missing)}")
            continue
        start = _date(entry["start"], where, problems)
        end = _date(entry["end"], where, problems)
        if start and end and end < start:
            problems.append(f"{where}: Ende {end} liegt vor Beginn {start} / period ends before it starts")
        members = tuple(str(a) for a in entry["districts"])
        comparison = tuple(str(a) for a in entry.get("comparison_districts") or [])
        for ags in members + comparison:
            if ags not in districts.index:
                problems.append(f"{where}: Landkreis {ags} fehlt in districts.csv / unknown district")
        both = sorted(set(members) & set(comparison))
        if both:
            problems.append(f"{where}: {', '.join(both)} zugleich Programm- und Vergleichskreis / both programme and comparison district")
        level = entry.get("target_level", "district")
        if level not in ("district", "programme"):
            problems.append(f"{where}: target_level '{level}' muss district oder programme sein / must be district or programme")
        primary = entry.get("primary_outcomes") or []
        if not isinstance(primary, list) or not all(isinstance(i, str) for i in primary):
            problems.append(f"{where}: primary_outcomes muss eine Liste von Befragungs-Items sein / "
                            "must be a list of survey items")
            primary = []
        else:
            unknown = [i for i in primary if i not in _survey_items()]
            if unknown:
                problems.append(f"{where}: primary_outcomes {', '.join(unknown)} sind keine Befragungs-Items "
                                f"({', '.join(_survey_items())}) / are not survey items")
        waves = _load_waves(entry.get("survey_waves"), where, start, end, problems)
        programmes.append(Programme(
            id=pid, name_de=entry["name_de"], name_en=entry["name_en"], funder=entry.get("funder", ""),
            carrier=entry.get("carrier", ""), start=start or dt.date.min, end=end or dt.date.min,
            target_level=level, districts=members, comparison_districts=comparison,
            source=entry.get("source", ""), primary_outcomes=tuple(primary),
            survey_waves=waves))
    if not programmes:
        problems.append(f"{path.name}: keine Programme / no programmes")
    return tuple(programmes)


def load_catalogue(directory: Path | str | None = None) -> Catalogue:
    directory = Path(directory) if directory else SHIPPED_DIR
    problems: list[str] = []
    districts = _load_districts(directory / "districts.csv", problems)
    programmes = _load_programmes(directory / "programmes.yaml", districts, problems)
    settings = read_yaml(directory / "programmes.yaml") or {}
    deadlines = _load_deadlines(settings, "programmes.yaml delivery_deadline", problems)
    if problems:
        raise CatalogueError(problems)
    return Catalogue(directory=directory, programmes=programmes, districts=districts, deadlines=deadlines)


_LOADED: dict[tuple, Catalogue] = {}


def loaded_once(cache: dict, catalogue: Catalogue, path: Path, load):
    """`load(catalogue, path)` once per process for this catalogue object and this file as it is
    now (modification time and size), again as soon as either changes: the indicator and rule
    files are asked for by every step of a run. `cache` is the caller's, one entry at a time."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    cached = cache.get(key)
    if cached is None or cached[0] is not catalogue:
        cache.clear()
        cache[key] = (catalogue, load(catalogue, path))
    return cache[key][1]


def cached_catalogue(directory: Path | str | None = None) -> Catalogue:
    """`load_catalogue`, read and validated once per process and again as soon as one of its files
    changes (modification time or size): every step of a run asks for it."""
    folder = Path(directory) if directory else SHIPPED_DIR
    stamps = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*")) if p.is_file())
    key = (str(folder), stamps)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_catalogue(directory)
    return _LOADED[key]
