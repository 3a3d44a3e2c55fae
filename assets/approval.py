"""Dagster: each programme-quarter's approval state, and the published exports it governs.

The asset `approvals` is the evaluators' view in the UI: its metadata is a table of every
programme-quarter (open, approved, changed since approval, with who, when and why), its check
`freigaben_aktuell` turns yellow when a re-delivery or a catalogue change touched an approved
quarter. It records the catalogue version in force (the catalogue's history) and writes
exports/published/ from the approval log, as `teilhabe approve` does. Its data version is the
log, the states and the catalogue version: the site and the working exports follow it.
"""
import dagster as dg

from assets.indicators import indicator_values
from assets.ingest import STG_KEYS
from assets.metadata import markdown_table
from assets.resources import TeilhabeHome
from assets.versions import code_version, digest, last_data_version
from pipeline.approval import (CHANGED, PUBLISHED_DIR, ensure_tables, has_approvals, read_states, record_catalogue,
                               write_published, write_states)
from pipeline.indicators import cached_indicators
from pipeline.warehouse import frame_print, inputs_signature

APPROVAL_CODE = code_version("pipeline.approval", "pipeline.publish.exports", "pipeline.tables")
OWNERS = ["team:evaluation"]
STATE_WORDS = {"open": "offen / open", "approved": "freigegeben / approved",
               "changed": "⚠ geändert seit Freigabe / changed since approval"}


def _table(frame) -> str:
    shown = frame.assign(state=frame["state"].map(STATE_WORDS))
    return markdown_table(shown[["programme_id", "quarter", "state", "changed_because", "approval_id", "approved_by",
                                 "approved_at", "comment"]], limit=400)


@dg.asset(
    deps=[indicator_values, *STG_KEYS],
    group_name="publish",
    pool="duckdb",
    kinds={"duckdb", "csv"},
    owners=OWNERS,
    code_version=APPROVAL_CODE,
    description="Freigaben je Programm und Quartal (offen, freigegeben, geändert seit Freigabe) und die "
                "veröffentlichten Exporte unter exports/published/ (nur freigegebene Quartale, Datenstand der "
                "letzten Freigabe). Approval state per programme-quarter and the published exports.",
)
def approvals(context: dg.AssetExecutionContext, home: TeilhabeHome) -> dg.MaterializeResult:
    catalogue = home.catalogue()
    indicators = cached_indicators(catalogue)
    with home.connect() as con:
        ensure_tables(con)
        version = record_catalogue(con, catalogue)
        frame = write_states(con, catalogue)
        # Without any approval the working state is published: it follows the indicator values.
        working = None if has_approvals(con) else last_data_version(context, indicator_values.key)
        data_version = digest(APPROVAL_CODE, str(version), frame_print(frame.astype(str)),
                              inputs_signature(con, relations=["approvals"]), working)
        published = home.paths.exports / PUBLISHED_DIR
        unchanged = data_version == last_data_version(context) and published.is_dir()
        if not unchanged:
            write_published(con, home.paths, catalogue, indicators)
    counts = frame["state"].value_counts()
    context.log.info("Freigaben / approvals: %s", dict(counts))
    return dg.MaterializeResult(data_version=dg.DataVersion(data_version), metadata={
        "approved": dg.MetadataValue.int(int(counts.get("approved", 0))),
        "changed_since_approval": dg.MetadataValue.int(int(counts.get(CHANGED, 0))),
        "open": dg.MetadataValue.int(int(counts.get("open", 0))),
        "catalogue_version": dg.MetadataValue.int(int(version)),
        "published": dg.MetadataValue.path(str(home.paths.exports / PUBLISHED_DIR)),
        "states": dg.MetadataValue.md(_table(frame)),
    })


@dg.asset_check(asset=approvals, blocking=False,
                description="Kein freigegebenes Quartal seit seiner Freigabe geändert (sonst erneut freigeben: "
                            "teilhabe approve). No approved quarter changed since its approval.")
def freigaben_aktuell(home: TeilhabeHome) -> dg.AssetCheckResult:
    with home.connect(read_only=True) as con:
        frame = read_states(con, home.catalogue())
    changed = frame[frame["state"] == CHANGED]
    return dg.AssetCheckResult(passed=changed.empty, severity=dg.AssetCheckSeverity.WARN, metadata={
        "changed_since_approval": dg.MetadataValue.int(len(changed)),
        "quarters": dg.MetadataValue.md(_table(changed))})


ASSETS = [approvals]
CHECKS = [freigaben_aktuell]
