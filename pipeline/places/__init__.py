"""Places within a district (indicator contract section 7, delivery contract "Places within a
district"): the catalogue's regions and municipalities, and matching `events.municipality`.

    places = cached_places(catalogue)             # validates places.yaml
    register_places(con, places)                  # temp tables the matching SQL joins
    placed_events_sql("cur_events", places)       # events with municipality_key and region
"""
from pipeline.places.catalogue import (DistrictPlaces, Municipality, Places, Region, cached_places, load_places,
                                       places_path)
from pipeline.places.match import (CODE, drop_places, matches_sql, placed_events_sql, register_lookup,
                                   register_places, unmatched_sql)
from pipeline.places.normalise import fold_sql, normalise_sql

__all__ = ["CODE", "DistrictPlaces", "Municipality", "Places", "Region", "cached_places", "drop_places", "fold_sql",
           "load_places", "matches_sql", "normalise_sql", "placed_events_sql", "places_path", "register_lookup",
           "register_places", "unmatched_sql"]
