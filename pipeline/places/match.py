"""Matching `events.municipality` to the catalogue's places, set-based in DuckDB.

Only the distinct (district, municipality) values of districts that hold places are normalised
and joined to the lookup of spellings (`_place_names`: names, aliases and keys, normalised when
places.yaml loaded); the events then join that small table back. At national scale that is a few
thousand distinct spellings, not one Python call per event.

    register_places(con, places)                  # temp tables _place_names, _place_regions
    con.execute(placed_events_sql("cur_events", places.prefixes))  # events + municipality_key, region
    con.execute(unmatched_sql("cur_events", places))       # rows for the warning unknown_municipality
"""
from __future__ import annotations

import pandas as pd

from pipeline.places.catalogue import LOOKUP_COLUMNS, Places
from pipeline.places.normalise import normalise_sql

NAMES = "_place_names"
REGIONS = "_place_regions"
CODE = "unknown_municipality"


def register_places(con, places: Places) -> None:
    """The lookup of spellings and the regions as temp tables on `con` (empty without places)."""
    register_lookup(con, places.lookup)
    regions = places.regions_frame()
    con.register("_regions_frame", regions)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {REGIONS} AS SELECT CAST(district_ags AS VARCHAR) AS district_ags,
                    CAST(region_id AS VARCHAR) AS region_id, CAST(name_de AS VARCHAR) AS name_de,
                    CAST(name_en AS VARCHAR) AS name_en, CAST(municipalities AS BIGINT) AS municipalities,
                    CAST(ord AS INTEGER) AS ord FROM _regions_frame""")
    con.unregister("_regions_frame")


def register_lookup(con, lookup: pd.DataFrame) -> None:
    con.register("_lookup_frame", lookup[LOOKUP_COLUMNS])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {NAMES} AS SELECT CAST(district_ags AS VARCHAR) AS district_ags,
                    CAST(norm AS VARCHAR) AS norm, CAST(municipality_key AS VARCHAR) AS municipality_key,
                    CAST(region_id AS VARCHAR) AS region_id FROM _lookup_frame""")
    con.unregister("_lookup_frame")


def drop_places(con) -> None:
    for table in (NAMES, REGIONS):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def matches_sql(events: str, prefixes: tuple[str, ...]) -> str:
    """Per district with places and distinct non-empty municipality value of `events`: the
    municipality and region it names (both NULL when it names none of the district's)."""
    return f"""
    SELECT v.district_ags, v.municipality, l.municipality_key, l.region_id
    FROM (SELECT DISTINCT district_ags, municipality FROM {events}
          WHERE nullif(trim(municipality), '') IS NOT NULL
            AND district_ags IN (SELECT district_ags FROM {NAMES})) v
    LEFT JOIN {NAMES} l ON l.district_ags = v.district_ags AND l.norm = {normalise_sql('v.municipality', prefixes)}"""


def placed_events_sql(events: str, prefixes: tuple[str, ...]) -> str:
    """`events` with two more columns: `municipality_key` and `region` (NULL where not matched,
    or the district holds no places)."""
    return f"""
    SELECT e.*, m.municipality_key, m.region_id AS region
    FROM {events} e LEFT JOIN ({matches_sql(events, prefixes)}) m
    ON m.district_ags = e.district_ags AND m.municipality = e.municipality"""


def unmatched_sql(events: str, places: Places) -> str:
    """The warning `unknown_municipality` on every current event whose municipality names none of
    its district's places, in the columns of row_warnings (findings.COLUMNS)."""
    value = "e.municipality"
    return f"""
    SELECT '{CODE}' AS rule_id, '{CODE}' AS reason_code, 'events' AS feed, e.receipt_id, e.district_ags,
           e.delivery_quarter, e.source_row, 'municipality' AS "column", {value} AS value,
           CAST(NULL AS DOUBLE) AS left_value, CAST(NULL AS DOUBLE) AS right_value,
           'Gemeinde „' || {value} || '“ ist keiner Gemeinde des Kreises im Katalog zuzuordnen (weder Name noch '
             || '8-stelliger Gemeindeschlüssel); die Veranstaltung zählt, aber in keiner Region. Bitte Schreibweise '
             || 'prüfen.' AS reason_de,
           'Municipality "' || {value} || '" matches none of the district''s municipalities in the catalogue '
             || '(neither a name nor an 8-digit municipality key); the event counts, but in no region. Please '
             || 'check the spelling.' AS reason_en
    FROM {events} e JOIN ({matches_sql(events, places.prefixes)}) m
      ON m.district_ags = e.district_ags AND m.municipality = e.municipality
    WHERE m.municipality_key IS NULL"""
