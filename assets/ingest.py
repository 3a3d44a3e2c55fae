"""Ingest stage: raw_<feed> (files as delivered) and stg_<feed> (rows that passed the contract).

Partitioned by reporting quarter: one partition holds every district's delivery for that
quarter, so a 400-district national run is 40 partition keys, not 16,000. Each district ×
quarter delivery stays visible in the materialization and check metadata. What each quarter was
made from is recorded per partition (`inbox` on raw_<feed>, `basis` on stg_<feed>): that is what
`due_quarters` (assets/changes.py) compares the inbox with.
"""

import warnings

import dagster as dg

from assets.metadata import markdown_table
from assets.partitions import QUARTERS
from assets.resources import TeilhabeHome
from assets.versions import code_version, digest, recorded
from pipeline.contract import load_contract
from pipeline.intake import inbox, privacy, receive, stage
from pipeline.quarters import key_to_quarter, quarter_to_key, reporting_range

# Single-run backfills are what make 40 quarters one run; Dagster still labels the policy beta.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)

CONTRACT = load_contract()
OWNERS = ["team:evaluation"]
INTAKE_CODE = code_version("pipeline.intake", "pipeline.warehouse", "pipeline.contract")
RAW_KEYS = [dg.AssetKey(f"raw_{name}") for name in CONTRACT.feeds]
STG_KEYS = [dg.AssetKey(f"stg_{name}") for name in CONTRACT.feeds]


def _quarters(context) -> list[str]:
    return sorted({key_to_quarter(k) for k in context.partition_keys})


def md_table(frame, limit: int = 20) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(frame, limit))


def staging_basis(home: TeilhabeHome, name: str) -> str:
    """What a quarter of this feed is staged with besides its files: code, suite, catalogue."""
    return digest(INTAKE_CODE, stage.basis(CONTRACT, home.catalogue(), CONTRACT.feeds[name]))


def run_items(home: TeilhabeHome, quarters: list[str]) -> list[inbox.Delivered]:
    """The inbox files of these quarters; files no quarter can be assigned go with every run, the
    running quarter's digest counts them (`inbox.quarter_digests`)."""
    items = inbox.scan_inbox(home.paths.inbox, CONTRACT, home.catalogue(), reporting_range())
    return [i for i in items if not isinstance(i.parsed, inbox.FileName) or i.parsed.quarter in quarters]


@dg.multi_asset(
    specs=[dg.AssetSpec(f"raw_{name}", group_name="ingest", kinds={"duckdb", "csv", "xlsx"}, owners=OWNERS,
                        code_version=INTAKE_CODE,
                        description=f"{feed.label_de} / {feed.label_en}: Zeilen wie geliefert (Text), je Lieferdatei. "
                                    f"Rows as delivered (text), per received file.")
           for name, feed in CONTRACT.feeds.items()],
    partitions_def=QUARTERS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
    can_subset=False,
)
def raw_deliveries(context: dg.AssetExecutionContext, home: TeilhabeHome):
    """Reads the quarter's files from the inbox: archives each byte for byte with its SHA-256,
    registers it in the delivery log, sets aside what cannot be read, and stores the rows. A file
    whose (name, SHA-256) is already received is not read again."""
    quarters = _quarters(context)
    paths = home.paths
    items = run_items(home, quarters)
    with home.connect() as con:
        summary = receive.receive(con, paths, CONTRACT, items, quarters)
    inbox.hash_files(items)  # receive hashed them all; a file gone meanwhile counts as missing
    digests = inbox.quarter_digests(items, reporting_range()[1])
    context.log.info(f"{', '.join(quarters)}: {len(items)} Dateien, {len(summary.new_receipts)} neu, "
                     f"{len(summary.set_aside)} zurückgestellt")
    for key in RAW_KEYS:
        for quarter in quarters:
            context.add_asset_metadata({"inbox": digests.get(quarter, "")}, asset_key=key,
                                       partition_key=quarter_to_key(quarter))
    version = dg.DataVersion(digest(*((q, digests.get(q, "")) for q in quarters)))
    for name in CONTRACT.feeds:
        yield dg.MaterializeResult(asset_key=f"raw_{name}", data_version=version, metadata={
            "quartale": ", ".join(quarters),
            "dateien_neu / new files": len(summary.new_receipts),
            "zurueckgestellt / set aside": dg.MetadataValue.json(summary.set_aside),
            "dagster/row_count": summary.rows_by_feed.get(name, 0),
        })


# Column types a preview may show: typed values only, never free text (a title, a topic, a
# municipality may name a person) and never a person key.
PREVIEW_TYPES = {"date", "month", "enum", "int", "decimal", "bool", "range"}


def preview_rows(feed, rows):
    """Staged rows as Dagster's event log may keep them: the delivery, the typed columns, and the
    record's id where it passes the pseudonym rules (an id is free text too: one that looks like
    a name, an e-mail or a phone number is shown as the mask)."""
    typed = [c.name for c in feed.columns if c.type in PREVIEW_TYPES]
    typed = [name for c in typed for name in ((f"{c}_low", f"{c}_high") if feed.column(c).type == "range" else (c,))]
    ids = [c for c in feed.id_columns if feed.column(c).type != "pseudonym"]  # a person key is never shown
    shown = rows[[c for c in ("district_ags", "delivery_quarter", "quarter", "is_late", *ids, *typed)
                  if c in rows.columns]].copy()
    rules = list(dict.fromkeys(rule for f in CONTRACT.feeds.values()
                               for column_rules in privacy.pseudonym_rules(f).values() for rule in column_rules))
    for column in ids:
        if column in shown and rules and len(shown):
            fails = privacy.failing_rules(shown[column].astype(object), rules).any(axis=1)
            shown[column] = shown[column].astype(object).where(~fails | shown[column].isna(), privacy.MASK)
    return shown


def whole_quarters(context, home: TeilhabeHome, name: str, quarters: list[str]) -> set[str]:
    """The quarters to stage whole: never staged, or staged under another code, suite or catalogue
    (their `basis` as Dagster recorded it). In the others staging redoes only the districts whose
    files changed (`stage.changed_districts`)."""
    basis = staging_basis(home, name)
    recorded_bases = recorded(context.instance, dg.AssetKey(f"stg_{name}"), "basis",
                              [quarter_to_key(q) for q in quarters])
    return {q for q in quarters if recorded_bases.get(quarter_to_key(q)) != basis}


def _stage(context, home: TeilhabeHome, con, name: str, quarters: list[str]):
    feed = CONTRACT.feeds[name]
    whole = whole_quarters(context, home, name, quarters)
    staged = stage.stage_feed(con, CONTRACT, home.catalogue(), feed, quarters, whole)
    per_delivery = stage.quarter_results(con, feed, quarters)
    results = staged.results
    read, rejected = int(results["rows_read"].sum()), int(results["rejected"].sum())
    accepted = int(results["accepted"].sum())
    reasons = staged.reasons.head(8)
    consistent = bool((results["rows_read"] == results["accepted"] + results["rejected"]).all())
    context.log.info(f"{feed.label_de}: {read} Zeilen gelesen, {accepted} angenommen, {rejected} abgelehnt"
                     f" ({len(whole)} von {len(quarters)} Quartalen ganz geprüft, die übrigen je geänderten Kreis)")
    basis = staging_basis(home, name)
    for quarter in quarters:
        context.add_asset_metadata({"basis": basis}, asset_key=f"stg_{name}", partition_key=quarter_to_key(quarter))
    metadata = {"quartale": ", ".join(quarters), "rows_read": read, "rows_accepted": accepted,
                "rows_rejected": rejected, "top_reasons": dg.MetadataValue.json({k: int(v) for k, v in reasons.items()}),
                "lieferungen / deliveries": md_table(per_delivery)}
    yield dg.MaterializeResult(
        asset_key=f"stg_{name}", data_version=dg.DataVersion(digest(basis, staged.print)),
        metadata={**metadata, "dagster/row_count": staged.accepted,
                  "preview": md_table(preview_rows(feed, staged.preview), 10)})
    # Rejections are normal business (WARN, not blocking); a broken count is not (ERROR blocks).
    severity = dg.AssetCheckSeverity.ERROR if not consistent else dg.AssetCheckSeverity.WARN
    yield dg.AssetCheckResult(asset_key=f"stg_{name}", check_name="contract", passed=consistent and rejected == 0,
                              severity=severity, metadata={**metadata, "read_equals_accepted_plus_rejected": consistent})


@dg.multi_asset(
    specs=[dg.AssetSpec(
        f"stg_{name}", group_name="quality", kinds={"duckdb", "great_expectations"}, owners=OWNERS,
        deps=[f"raw_{name}"] + (["stg_events"] if name == "attendance" else []), skippable=True,
        code_version=INTAKE_CODE,
        description=f"{feed.label_de} / {feed.label_en}: geprüfte, typisierte Zeilen der aktuellen Lieferungen; "
                    f"Regeln in expectations/{name}.json. Checked, typed rows of the current deliveries.")
        for name, feed in CONTRACT.feeds.items()],
    check_specs=[dg.AssetCheckSpec("contract", asset=f"stg_{name}", blocking=True,
                                   description="Lieferungen gegen den Liefervertrag (GX-Suite) / deliveries against the contract")
                 for name in CONTRACT.feeds],
    partitions_def=QUARTERS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
    can_subset=True,
)
def staged_deliveries(context: dg.AssetExecutionContext, home: TeilhabeHome):
    """Validates each feed's rows with its GX suite (one step for all feeds: events are staged
    before attendance, which must name known events)."""
    quarters = _quarters(context)
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    with home.connect() as con:
        for name in CONTRACT.feeds:
            if f"stg_{name}" in selected:
                yield from _stage(context, home, con, name, quarters)


ASSETS = [raw_deliveries, staged_deliveries]
