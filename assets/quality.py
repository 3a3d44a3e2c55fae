"""Quality stage outputs: the districts' quality reports, rejections.csv, the delivery log and
the reporting-rate table (which delivery is on time, late or missing)."""
import datetime as dt
import hashlib
import os

import dagster as dg

from assets.ingest import CONTRACT, OWNERS, STG_KEYS, md_table
from assets.resources import TeilhabeHome
from assets.versions import code_version, digest, last_data_version, last_metadata
from pipeline import quality, warehouse
from pipeline.quality import findings, outliers
from pipeline.indicators import indicators_path
from pipeline.places import places_path
from pipeline.publish import deadlines, reports
from pipeline.tables import write_csv


QUALITY_CODE = code_version("pipeline.publish.reports", "pipeline.publish.deadlines", "pipeline.tables",
                            "pipeline.warehouse")
WARNINGS_CODE = code_version("pipeline.quality", "pipeline.places", "pipeline.indicators.sql", "pipeline.warehouse")
# One check per warning code (the contract's families of findings that do not reject): each lists
# its findings; a warning never blocks, so none of them is blocking.
WARNING_CHECKS = {
    "regelverstoesse": ("rule_violation", "Regeln aus rules.yaml, die nicht gelten (z. B. mehr Personen auf der "
                                          "Teilnahmeliste als gemeldet). / Validation rules that do not hold."),
    "hoechstbetrag": ("over_cap", "Mikroprojekte über dem Höchstbetrag je Projekt. / Micro-projects above the cap."),
    "ausreisser": ("outlier", "Werte fern der eigenen Vorquartale und der anderen Kreise, mit Status der Nachverfolgung "
                              "(offen, bestätigt, korrigiert). / Outliers and their follow-up status."),
    "gemeinden": ("unknown_municipality", "Gemeinden, die keiner Gemeinde des Kreises in places.yaml entsprechen. / "
                                          "Municipalities that match none of the district's places."),
}


@dg.asset(
    deps=STG_KEYS,
    group_name="quality",
    pool="duckdb",
    kinds={"duckdb"},
    owners=OWNERS,
    code_version=WARNINGS_CODE,
    check_specs=[dg.AssetCheckSpec(name, asset="quality_warnings", blocking=False, description=text)
                 for name, (_, text) in WARNING_CHECKS.items()],
    description="Hinweise, die keine Zeile ablehnen: Prüfregeln über Bereiche hinweg (catalogue rules.yaml), "
                "Höchstbetrag, Ausreißer mit Nachverfolgungsliste (`teilhabe confirm`). Warnings that do not reject: "
                "validation rules across feeds, the cap, outliers with their follow-up list.",
)
def quality_warnings(context: dg.AssetExecutionContext, home: TeilhabeHome):
    catalogue = home.catalogue()
    rules = quality.cached_rules(catalogue)
    with home.connect() as con:
        # What every district's warnings are judged by: the rules and parameters, the programmes,
        # the code. Then per district what they are judged on: its records and confirmations.
        # A district whose print differs from the one Dagster recorded is judged again; a new
        # basis, or a table that is not what was recorded (a rebuilt warehouse), judges all.
        basis = digest(WARNINGS_CODE, *(hashlib.sha256(p.read_bytes()).hexdigest()
                                        for p in (quality.rules_path(catalogue), indicators_path(catalogue),
                                                  places_path(catalogue))),
                       catalogue.membership.to_csv(index=False))
        prints = findings.district_prints(con)
        recorded_prints = last_metadata(context, "kreise / districts") or {}
        whole = (last_metadata(context, "basis") != basis
                 or last_metadata(context, "tabelle / table") != _table_print(con))
        districts = None if whole else sorted(d for d in set(prints) | set(recorded_prints)
                                              if prints.get(d) != recorded_prints.get(d))
        unchanged = districts == []
        counts = findings.summary(con) if unchanged else quality.compute_warnings(con, catalogue, rules, districts=districts)
        if not unchanged:  # the follow-up list was brought up to date: what stands now is what was judged
            prints = findings.district_prints(con)
        table = _table_print(con)
        listed = {name: quality.warnings_frame(con, (code,), limit=50) for name, (code, _) in WARNING_CHECKS.items()}
        followup = outliers.followup(con)
    context.log.info("Hinweise / warnings: %s", ", ".join(f"{c} {n}" for c, n in
                                                           counts.groupby("reason_code")["n"].sum().items()) or "keine")
    judged = "alle / all" if districts is None else len(districts)
    context.log.info("Hinweise neu beurteilt für %s Kreise / warnings judged again for %s districts", judged, judged)
    yield dg.MaterializeResult(data_version=dg.DataVersion(digest(basis, table)), metadata={
        "unchanged": dg.MetadataValue.bool(unchanged),
        "basis": basis, "tabelle / table": table,
        "kreise / districts": dg.MetadataValue.json(prints),
        "neu beurteilt / judged again": str(judged),
        "dagster/row_count": dg.MetadataValue.int(int(counts["n"].sum())),
        "je Regel / per rule": md_table(counts, 50),
        "ausreisser / outliers": dg.MetadataValue.json(followup["status"].value_counts().to_dict()),
    })
    for name, (code, _) in WARNING_CHECKS.items():
        mine = counts[counts["reason_code"] == code]
        metadata = {"anzahl / count": int(mine["n"].sum()),
                    "je Regel / per rule": dg.MetadataValue.json(dict(zip(mine["rule_id"], mine["n"].astype(int)))),
                    "hinweise / warnings (50)": md_table(listed[name], 50)}
        if code == "outlier":
            shown = followup[["district_ags", "quarter", "measure_id", "record_id", "value", "history_median",
                              "peer_median", "status", "confirmed_by"]]
            metadata["nachverfolgung / follow-up"] = md_table(shown, 50)
        yield dg.AssetCheckResult(check_name=name, passed=mine.empty, severity=dg.AssetCheckSeverity.WARN,
                                  metadata=metadata)


def _table_print(con) -> str:
    return warehouse.inputs_signature(con, relations=["row_warnings", "outlier_followup"])


def as_of() -> dt.date:
    """Deadlines are judged against today; TEILHABE_AS_OF pins the day for reproducible runs."""
    pinned = os.environ.get("TEILHABE_AS_OF")
    return dt.date.fromisoformat(pinned) if pinned else dt.date.today()


@dg.asset(
    deps=[*STG_KEYS, "quality_warnings"],
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


ASSETS = [quality_warnings, quality_reports]
CHECKS = []
