"""How a municipality's spelling is normalised, as one DuckDB expression: the catalogue's names
(catalogue.py, when places.yaml loads) and the districts' `events.municipality` (match.py) go
through the same SQL, so there is no second implementation to keep equal.

    "Stadt Dömitz", "Dömitz, Stadt", "DOEMITZ", "Domitz"        -> "domitz"
    "Neustadt-Glewe", "Neustadt Glewe", "neustadt glewe"        -> "neustadtglewe"
    "Tessin b. Boizenburg", "Tessin bei Boizenburg"             -> "tessinbboizenburg"
    "13076034", "13 076 034"                                    -> "13076034"  (a key stays its digits)

Steps: lower case; ß → ss; accents off (ä → a); the spelled-out umlauts ae / oe / ue → a / o / u
(so "Doemitz" and "Domitz" meet "Dömitz"; applied to both sides, a name with a genuine "ue" still
meets itself); "bei" → "b"; a prefix word at the start ("Stadt Parchim") or after a comma or in
brackets at the end ("Parchim, Stadt", "Parchim (Stadt)") removed; then everything but a-z and
0-9 removed (hyphens, slashes, spaces, dots). A spelling that would be empty without its prefix
keeps it.
"""
from __future__ import annotations

import re


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def fold_sql(expression: str) -> str:
    """Lower case, ß, accents and spelled-out umlauts folded; spaces and punctuation kept."""
    return (f"regexp_replace(strip_accents(replace(lower(trim(CAST({expression} AS VARCHAR))), 'ß', 'ss')), "
            f"'([aou])e', '\\1', 'g')")


def _squeeze(expression: str) -> str:
    return f"regexp_replace(regexp_replace({expression}, '\\bbei\\b', 'b', 'g'), '[^a-z0-9]', '', 'g')"


def normalise_sql(expression: str, prefixes: tuple[str, ...] | list[str]) -> str:
    """The normalised spelling of `expression` (a column or SQL text); `prefixes` already folded."""
    folded = fold_sql(expression)
    if not prefixes:
        return _squeeze(folded)
    words = "|".join(re.escape(p) for p in sorted(set(prefixes), key=len, reverse=True))
    pattern = f"^({words})[\\s.:]+|\\s*,\\s*({words})\\.?$|\\s*\\(({words})\\)$"
    stripped = _squeeze(f"regexp_replace({folded}, {_text(pattern)}, '', 'g')")
    return f"coalesce(nullif({stripped}, ''), {_squeeze(folded)})"
