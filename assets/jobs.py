"""Jobs named for what an evaluator wants to do."""
import dagster as dg

from pipeline.contract import load_contract

# Runs with this tag queue one at a time (dagster.yaml); the op pool "duckdb" stays the safety net.
WAREHOUSE_TAG = {"teilhabe/warehouse": "duckdb"}

# Everything downstream of a quarter's deliveries: intake, checks, reports, indicators, site.
quartal_verarbeiten = dg.define_asset_job(
    name="quartal_verarbeiten",
    selection=dg.AssetSelection.all(),
    tags=WAREHOUSE_TAG,
    description="Quartal verarbeiten: Lieferungen eines Quartals einlesen, prüfen und alles Nachgelagerte "
                "neu berechnen. / Process a quarter's deliveries and everything downstream.",
)

# After a catalogue change (a new indicator, a corrected target): recompute every derived output
# from the deliveries already checked, without reading the inbox again.
alles_neu_berechnen = dg.define_asset_job(
    name="alles_neu_berechnen",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("ingest") - dg.AssetSelection.assets(
        *[f"stg_{feed}" for feed in load_contract().feeds]),
    tags=WAREHOUSE_TAG,
    description="Alles neu berechnen: Berichte, Kennzahlen, Wirkung und Website aus den geprüften Lieferungen "
                "neu erzeugen (z. B. nach einer Katalogänderung). / Recompute all derived outputs.",
)
