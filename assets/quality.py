"""Quality stage outputs: the districts' quality reports, rejections.csv, the delivery log and
the reporting-rate table (which delivery is on time, late or missing)."""
import datetime as dt
import os

import dagster as dg

from assets.ingest import CONTRACT, OWNERS, STG_KEYS, md_table
from assets.resources import TeilhabeHome
from pipeline.publish import deadlines, reports
from pipeline.tables import write_csv


def as_of() -> dt.date:
    """Deadlines are judged against today; TEILHABE_AS_OF pins the day for reproducible runs."""
    pinned = os.environ.get("TEILHABE_AS_OF")
    return dt.date.fromisoformat(pinned) if pinned else dt.date.today()


@dg.asset(
    deps=STG_KEYS,
    group_name="quality",
    pool="duckdb",
    kinds={"html", "csv"},
    owners=OWNERS,
    check_specs=[dg.AssetCheckSpec("lieferfristen", asset="quality_reports", description=(
        "Lieferungen, die nach Ablauf der Frist fehlen. / Deliveries missing after their deadline."))],
    description="Qualitätsbericht je Lieferung (HTML/CSV), exports/rejections.csv, exports/delivery_log.csv und "
                "exports/delivery_status.csv (fristgerecht / verspätet / fehlend). Quality report per delivery, the "
                "rejections export, the delivery log and the reporting-rate table.",
)
def quality_reports(context: dg.AssetExecutionContext, home: TeilhabeHome):
    paths, catalogue = home.paths, home.catalogue()
    with home.connect(read_only=True) as con:
        result = reports.write_reports(con, paths.reports, paths.exports, catalogue, CONTRACT)
        status = deadlines.delivery_status(con, catalogue, as_of())
    write_csv(status, paths.exports / "delivery_status.csv")
    context.log.info(f"{result['deliveries']} Qualitätsberichte ({result['rendered']} neu geschrieben / rewritten), "
                     f"{result['rejections']} Ablehnungen")
    yield dg.MaterializeResult(metadata={
        "rejections_csv": dg.MetadataValue.path(str(result["rejections_csv"])),
        "delivery_log_csv": dg.MetadataValue.path(str(result["delivery_log_csv"])),
        "reports_dir": dg.MetadataValue.path(str(paths.reports)),
        "berichte / reports": result["deliveries"],
        "neu geschrieben / rewritten": result["rendered"],
        "dateien / files": result["files"],
        "ablehnungen / rejections": result["rejections"],
        "gruende / reasons": dg.MetadataValue.json(result["by_reason"]),
        "lieferungen / deliveries": dg.MetadataValue.json(status["status"].value_counts().to_dict()),
    })
    yield deadline_check(status)


def deadline_check(status) -> dg.AssetCheckResult:
    """Deliveries missing after their deadline (WARN: the pipeline goes on with what it has)."""
    missing = status[status["status"] == "missing"][["district_ags", "district_name", "quarter", "deadline"]]
    return dg.AssetCheckResult(
        check_name="lieferfristen", passed=missing.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={"fehlend / missing": len(missing), "verspätet / late": int((status["status"] == "late").sum()),
                  "fristgerecht / on time": int((status["status"] == "on_time").sum()),
                  "fehlende Lieferungen / missing deliveries": md_table(missing, 50)})


ASSETS = [quality_reports]
CHECKS = []
