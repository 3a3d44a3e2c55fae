"""The Dagster code location: one explicit Definitions object."""
import os

import dagster as dg

from assets import approval, impact, indicators, ingest, publish, quality
from assets.jobs import alles_neu_berechnen, quartal_verarbeiten
from assets.resources import TeilhabeHome
from assets.schedules import quartalslauf
from assets.sensors import posteingang
from pipeline.home import DEFAULT_HOME

defs = dg.Definitions(
    assets=[*ingest.ASSETS, *quality.ASSETS, *indicators.ASSETS, *impact.ASSETS, *approval.ASSETS, *publish.ASSETS],
    asset_checks=[*quality.CHECKS, *indicators.CHECKS, *impact.CHECKS, *approval.CHECKS, *publish.CHECKS],
    jobs=[quartal_verarbeiten, alles_neu_berechnen],
    schedules=[quartalslauf],
    sensors=[posteingang],
    resources={"home": TeilhabeHome(home=os.environ.get("TEILHABE_HOME", DEFAULT_HOME))},
    # Every step is in the one-slot `duckdb` pool, so steps never run side by side: a process per
    # step (Dagster's default for launched runs) bought nothing but a Python, Dagster and code
    # location start per step. A sensor run of one re-delivered national file took 77 s that way.
    executor=dg.in_process_executor,
)
