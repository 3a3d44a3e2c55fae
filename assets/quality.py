"""Quality stage outputs: the districts' quality reports, rejections.csv, the delivery log and
the reporting-rate table (which delivery is on time, late or missing)."""
import datetime as dt
import os

import dagster as dg

from assets.ingest import CONTRACT, OWNERS, STG_KEYS, md_table
from assets.resources import TeilhabeHome
from assets.versions import code_version, digest, last_data_version
from pipeline.publish import deadlines, reports
from pipeline.tables import write_csv


QUALITY_CODE = code_version("pipeline.publish.reports", "pipeline.publish.deadlines", "pipeline.tables",
                            "pipeline.warehouse")


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
    code_version=QUALITY_CODE,
    check_specs=[dg.AssetCheckSpec("lieferfristen", asset="quality_reports", description=(
        "Lieferungen, die nach Ablauf der Frist fehlen. / Deliveries missing after their deadline."))],
    description="Qualitätsbericht je Lieferung (HTML/CSV), exports/rejections.csv, exports/delivery_log.csv und "
                "exports/delivery_status.csv (fristgerecht / verspätet / fehlend). Quality report per delivery, the "
                "rejections export, the delivery log and the reporting-rate table.",
)
def quality_reports(context: dg.AssetExecutionContext, home: TeilhabeHome):
    paths, catalogue, today = home.paths, home.catalogue(), as_of()
    exports = [paths.exports / name for name in ("rejections.csv", "delivery_log.csv", "delivery_status.csv")]
    with home.connect(read_only=True) as con:
        # The deliveries, the catalogue's names and deadlines, and the day deadlines are judged on.
        version = digest(QUALITY_CODE, reports.inputs_signature(con, CONTRACT, catalogue), today.isoformat(),
                         catalogue.membership.to_csv(index=False))
        unchanged = version == last_data_version(context) and all(
            p.is_file() for p in [*exports, *reports.expected_files(con, paths.reports)])
        result = None if unchanged else reports.write_reports(con, paths.reports, paths.exports, catalogue, CONTRACT)
        status = deadlines.delivery_status(con, catalogue, today)
    if not unchanged:
        write_csv(status, exports[2])
    if unchanged:
        context.log.info("Lieferungen unverändert / deliveries unchanged: Berichte wie zuletzt / reports as before")
    else:
        context.log.info(f"{result['deliveries']} Qualitätsberichte ({result['rendered']} Dateien neu geschrieben / "
                         f"files rewritten), {result['rejections']} Ablehnungen")
    metadata = {"rejections_csv": dg.MetadataValue.path(str(exports[0])),
                "delivery_log_csv": dg.MetadataValue.path(str(exports[1])),
                "reports_dir": dg.MetadataValue.path(str(paths.reports)),
                "unchanged": dg.MetadataValue.bool(unchanged),
                "lieferungen / deliveries": dg.MetadataValue.json(status["status"].value_counts().to_dict())}
    if result is not None:
        metadata.update({"berichte / reports": result["deliveries"], "neu geschrieben / rewritten": result["rendered"],
                         "dateien / files": result["files"], "ablehnungen / rejections": result["rejections"],
                         "gruende / reasons": dg.MetadataValue.json(result["by_reason"])})
    yield dg.MaterializeResult(data_version=dg.DataVersion(version), metadata=metadata)
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
