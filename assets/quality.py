"""Quality stage outputs: the districts' quality reports, rejections.csv and the delivery log."""
import dagster as dg

from assets.ingest import CONTRACT, OWNERS, STG_ASSETS
from pipeline import reports
from pipeline.resources import TeilhabeHome


@dg.asset(
    deps=STG_ASSETS,
    group_name="quality",
    pool="duckdb",
    kinds={"html", "csv"},
    owners=OWNERS,
    description="Qualitätsbericht je Lieferung (HTML/CSV), exports/rejections.csv und exports/delivery_log.csv. "
                "Quality report per delivery, the rejections export and the delivery log.",
)
def quality_reports(context: dg.AssetExecutionContext, home: TeilhabeHome) -> dg.MaterializeResult:
    paths = home.paths
    with home.connect(read_only=True) as con:
        result = reports.write_reports(con, paths.reports, paths.exports, home.catalogue(), CONTRACT)
        by_reason = con.execute("SELECT reason_code, count(*) FROM rejections GROUP BY 1 ORDER BY 2 DESC").fetchall()
    return dg.MaterializeResult(metadata={
        "rejections_csv": dg.MetadataValue.path(str(result["rejections_csv"])),
        "delivery_log_csv": dg.MetadataValue.path(str(result["delivery_log_csv"])),
        "reports_dir": dg.MetadataValue.path(str(paths.reports)),
        "berichte / reports": len(result["reports"]),
        "dateien / files": result["files"],
        "ablehnungen / rejections": result["rejections"],
        "gruende / reasons": dg.MetadataValue.json(dict(by_reason)),
    })


ASSETS = [quality_reports]
