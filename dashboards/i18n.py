"""The site's two languages: its own words (kept as data in i18n.yaml beside this module) and how
numbers and dates are written in each language (`1.234,5` / `15.03.2024` in German).

Labels of programmes, districts and indicators come from the catalogue (`label_de` / `label_en`,
`name_de` / `name_en`); i18n.yaml only holds the site's own texts.
"""
from __future__ import annotations

import datetime as dt
import math
from numbers import Real
from pathlib import Path

import yaml

from pipeline import vocabulary

LANGS = ("de", "en")
# Fixed names, not strftime: the machine's locale must not change the published pages.
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Decimal and thousands separators; Plotly's layout.separators takes "<decimal><thousands>".
SEPARATORS = {"de": (",", "."), "en": (".", ",")}
# From Python's "1,234.5" to the language's separators in one pass (a site build formats a million numbers).
_SEPARATOR_SWAP = {lang: str.maketrans({",": thousands, ".": decimal})
                   for lang, (decimal, thousands) in SEPARATORS.items()}


def _load_words() -> dict:
    # The C loader where PyYAML has one: the file is read once per process, at import.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with Path(__file__).with_name("i18n.yaml").open(encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)


_WORDS = _load_words()
TEXT = _WORDS["text"]                        # key -> text with {placeholders}, per language
STATUS_GROUP = _WORDS["status_group"]        # met / on_track / missed (start page)
STATUS = vocabulary.STATUS                   # a target's status; None: no target (pipeline/vocabulary.yaml)
DELIVERY_STATUS = _WORDS["delivery_status"]  # on_time / late / missing / open / extra
METHOD = vocabulary.METHOD
UNIT = vocabulary.UNIT
REASON = _WORDS["reason"]                    # the contract's reason codes
FOLLOWUP = _WORDS["followup"]                # an outlier's follow-up: open / confirmed / corrected
FUNDER_EN = _WORDS["funder_en"]              # German funder name -> its English name
PLOTLY_DE = _WORDS["plotly_de"]              # Plotly's locale "de": toolbar words, date and number format


def t(lang: str, key: str, **values) -> str:
    text = TEXT[lang][key]
    return text.format(**values) if values else text


def other(lang: str) -> str:
    return "en" if lang == "de" else "de"


def is_missing(value) -> bool:
    kind = type(value)  # the common kinds first: a national site asks about two million cells
    if kind is int or kind is str:
        return False
    if kind is float:
        return value != value  # NaN
    return value is None or (isinstance(value, Real) and math.isnan(value))


def number(value, lang: str, decimals: int | None = None) -> str:
    """`1234.5` -> `1.234,5` (de) / `1,234.5` (en). Without `decimals`, whole numbers show none
    and others one decimal, as people read counts and rates."""
    if type(value) is int and not decimals:  # counts: most numbers on the pages
        return f"{value:,}".translate(_SEPARATOR_SWAP[lang])
    if is_missing(value):
        return "–"
    value = float(value)
    if decimals is None:
        decimals = 0 if value == int(value) else (1 if abs(value) >= 10 else 2)
    return f"{value:,.{decimals}f}".translate(_SEPARATOR_SWAP[lang])


def percent(value, lang: str, decimals: int = 0) -> str:
    if is_missing(value):
        return "–"
    # German puts a (narrow) space before the percent sign, English does not.
    return number(value, lang, decimals) + ("\u202f%" if lang == "de" else "%")


def date(value, lang: str) -> str:
    """`15.03.2024` (de) / `15 Mar 2024` (en: unambiguous for readers on both sides of the Atlantic)."""
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        value = dt.date.fromisoformat(str(value)[:10])
    if lang == "de":
        return value.strftime("%d.%m.%Y")
    return f"{value.day} {MONTHS_EN[value.month - 1]} {value.year}"


def period(start: dt.date, end: dt.date, lang: str) -> str:
    return f"{date(start, lang)} – {date(end, lang)}"


def label(row, lang: str, field: str = "label") -> str:
    """The catalogue's own label in the page language (`label_de` / `label_en`, `name_de` / ...)."""
    return str(row[f"{field}_{lang}"] if isinstance(row, dict) else getattr(row, f"{field}_{lang}"))


def funder(name: str, lang: str) -> str:
    """A funder's name in the page language (the catalogue holds the German one)."""
    return FUNDER_EN.get(name, name) if lang == "en" else name
