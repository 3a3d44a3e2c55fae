"""Jobs named for what an evaluator wants to do."""
import dagster as dg

from assets.ingest import QUARTERS

# Everything downstream of a quarter's deliveries: intake, checks, reports, indicators, site.
quartal_verarbeiten = dg.define_asset_job(
    name="quartal_verarbeiten",
    selection=dg.AssetSelection.all(),
    partitions_def=QUARTERS,
    description="Quartal verarbeiten: Lieferungen eines Quartals einlesen, prüfen und alles Nachgelagerte "
                "neu berechnen. / Process a quarter's deliveries and everything downstream.",
)
