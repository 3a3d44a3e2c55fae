"""Dagster assets: the indicator values in the warehouse, their checks, and the published exports.

Unpartitioned: indicators are programme-to-date figures over every quarter, so they are computed
whole from the current records. Their data version is a print of those records, the catalogue and
the compiled SQL (`engine.inputs_print`) with the code version: when it equals the version last
materialized, nothing is recomputed and nothing downstream becomes stale. The exports are rewritten only when the table, the catalogue or the
code changed, or a file is missing or was altered.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from assets.metadata import markdown_table
from assets.ingest import STG_KEYS
from assets.resources import TeilhabeHome
from assets.versions import code_version, digest, last_data_version
from pipeline.catalogue import CatalogueError, load_catalogue
from pipeline.approval import AUDIT_FILE, MARK, ensure_tables, working_rows, write_audit
from pipeline.publish.exports import INDICATOR_FILES, with_breakdowns, write_indicator_exports
from pipeline.indicators import ALL, ALL_COMPARISON, TABLE, TOTAL, cached_indicators, load_indicators
from pipeline.indicators.engine import (BREAKDOWN_TABLE, catalogue_frames, inputs_print, latest_quarters,
                                        write_indicators)
from pipeline.warehouse import inputs_signature, table_exists

INDICATOR_CODE = code_version("pipeline.indicators", "pipeline.warehouse")
EXPORT_CODE = code_version("pipeline.publish.exports", "pipeline.tables", "pipeline.approval")
OWNERS = ["team:evaluation"]
PREVIEW_COLUMNS = ("programme_id", "indicator_id", "value", "value_high", "target", "status", "method")
PREVIEW_ROWS = 40


def _description() -> str:
    """The asset's description lists what the shipped catalogue measures."""
    text = ("Indikatorwerte je Programm × Indikator × Kreis (und ALL) × Zeitraum (Quartal, total), mit "
            "Ziel, Status, Zielerreichung und Wert je 10.000 Einwohner / indicator values per programme, "
            "indicator, district and period.")
    try:
        indicators = load_indicators(load_catalogue())
    except CatalogueError:
        return text
    return text + "\n\n" + "\n".join(f"- `{i.id}`: {i.label_de} / {i.label_en}" for i in indicators)


def _preview(frame: pd.DataFrame) -> str:
    return markdown_table(frame[list(PREVIEW_COLUMNS)], PREVIEW_ROWS)


@dg.asset(
    deps=STG_KEYS,
    group_name="indicators",
    pool="duckdb",
    kinds={"duckdb"},
    owners=OWNERS,
    code_version=INDICATOR_CODE,
    description=_description(),
)
def indicator_values(context: dg.AssetExecutionContext, home: TeilhabeHome) -> dg.MaterializeResult:
    catalogue = home.catalogue()
    indicators = cached_indicators(catalogue)
    with home.connect() as con:
        frames = catalogue_frames(con, catalogue, indicators, latest=latest_quarters(con))
        version = digest(INDICATOR_CODE, inputs_print(con, indicators, frames))
        unchanged = version == last_data_version(context) and table_exists(con, TABLE) and table_exists(con, BREAKDOWN_TABLE)
        if not unchanged:
            write_indicators(con, indicators, frames)
        done = "unverändert / unchanged" if unchanged else "neu berechnet / recomputed"
        rows, programmes, behind, exceeded = con.execute(f"""
            SELECT count(*), count(DISTINCT programme_id),
                   count(*) FILTER (WHERE period = '{TOTAL}' AND status = 'behind'),
                   count(*) FILTER (WHERE period = '{TOTAL}' AND status = 'exceeded') FROM {TABLE}""").fetchall()[0]
        preview = con.execute(f"SELECT * FROM {TABLE} WHERE district_ags = '{ALL}' AND period = '{TOTAL}' "
                              f"LIMIT {PREVIEW_ROWS + 1}").df()
    context.log.info("%s rows in %s (%s)", rows, TABLE, done)
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "dagster/row_count": dg.MetadataValue.int(rows),
        "indicators": dg.MetadataValue.int(len(indicators)),
        "programmes": dg.MetadataValue.int(programmes),
        "behind": dg.MetadataValue.int(behind),
        "exceeded": dg.MetadataValue.int(exceeded),
        "unchanged": dg.MetadataValue.bool(unchanged),
        "catalogue": dg.MetadataValue.path(indicators.path),
        "preview": dg.MetadataValue.md(_preview(preview)),
    })


@dg.asset(
    # approvals: each row is marked against the published state (vs_published).
    deps=[indicator_values, dg.AssetKey("approvals")],
    group_name="publish",
    pool="duckdb",  # reads the warehouse: no writer may hold it meanwhile
    kinds={"csv", "parquet", "excel"},
    owners=OWNERS,
    code_version=EXPORT_CODE,
    description="exports/indicators.csv, .parquet und .xlsx (deutsche Spaltenköpfe, ein Blatt je Programm, "
                "Blatt Definitionen), der Arbeitsstand mit der Spalte vs_published (gleich / abweichend / nicht "
                "veröffentlicht), und exports/audit.csv (je Wert die Lieferdateien mit SHA-256); byte-gleich bei "
                "gleichen Daten / the working state marked against the published one, with its audit trail.",
)
def indicator_exports(context: dg.AssetExecutionContext, home: TeilhabeHome) -> dg.MaterializeResult:
    catalogue = home.catalogue()
    indicators = cached_indicators(catalogue)
    paths = [home.paths.exports / name for name in (*INDICATOR_FILES, AUDIT_FILE)]
    with home.connect() as con:
        ensure_tables(con)
        version = digest(EXPORT_CODE, _exports_signature(con, catalogue, indicators))
        unchanged = version == last_data_version(context) and all(p.is_file() for p in paths)
        if unchanged:
            rows = con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]
        else:
            rows = con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]
            paths = write_indicator_exports(con, catalogue, indicators, home.paths.exports,
                                            rows=working_rows(con, with_breakdowns(con)), extra_columns=(MARK,))
            paths.append(write_audit(con, catalogue, indicators, home.paths.exports / AUDIT_FILE))
    context.log.info("%s %s", "unverändert / unchanged:" if unchanged else "wrote", ", ".join(p.name for p in paths))
    metadata = {p.suffix.lstrip("."): dg.MetadataValue.path(str(p)) for p in paths}
    metadata["dagster/row_count"] = dg.MetadataValue.int(rows)
    metadata["unchanged"] = dg.MetadataValue.bool(unchanged)
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata=metadata)


def _exports_signature(con, catalogue, indicators) -> str:
    """The table's rows and the catalogue (labels, programme order, definitions)."""
    tables = [TABLE, "approvals"] + ([BREAKDOWN_TABLE] if table_exists(con, BREAKDOWN_TABLE) else [])
    return inputs_signature(con, relations=tables,
                            files=[catalogue.directory / "programmes.yaml", catalogue.directory / "districts.csv",
                                   Path(indicators.path)])



# -- checks: results that cannot be true --------------------------------------------------------

def _indicator_ids(home: TeilhabeHome, aggregates: set[str] | None = None, additive: bool = False) -> list[str]:
    indicators = cached_indicators(home.catalogue())
    return [i.id for i in indicators
            if (aggregates is None or i.definition.aggregate in aggregates) and (not additive or i.additive)]


def _result(con, name: str, sql: str, params: list, what: str) -> dg.AssetCheckResult:
    bad = con.execute(sql, params).df()
    metadata = {"violations": dg.MetadataValue.int(len(bad)), "rule": what}
    if len(bad):
        metadata["sample"] = dg.MetadataValue.md(markdown_table(bad, 20))
    return dg.AssetCheckResult(asset_key="indicator_values", check_name=name, passed=bad.empty, metadata=metadata)


RULES = {
    "no_negative_values": "Kein Wert, keine Fallzahl negativ; obere Grenze nie unter dem Wert; KI geordnet.",
    "reach_within_attendances": "Eindeutige Reichweite nie über der Zahl der Teilnahmen (plus Kopfzahlen).",
    "totals_not_below_quarters": "Bei additiven Indikatoren liegt total nie unter einem seiner Quartale.",
    "all_rows_add_up": "Die ALL-Zeile ist die Summe der Kreise (additive Indikatoren).",
}


# One step for the four rules: each step is a process start, and they all read the same table.
@dg.multi_asset_check(specs=[dg.AssetCheckSpec(name, asset="indicator_values", description=text)
                             for name, text in RULES.items()], pool="duckdb")
def impossible_results(home: TeilhabeHome):
    reach_ids = _indicator_ids(home, {"reach", "count_distinct"})
    additive_ids = _indicator_ids(home, additive=True)
    with home.connect(read_only=True) as con:
        yield _result(con, "no_negative_values", f"""
            SELECT programme_id, indicator_id, district_ags, period, value, value_high, n, ci_low, ci_high
            FROM {TABLE}
            WHERE value < 0 OR n < 0 OR value_high < value OR ci_low > ci_high
            ORDER BY ALL""", [], "value ≥ 0, n ≥ 0, value_high ≥ value, ci_low ≤ ci_high")
        yield _result(con, "reach_within_attendances", f"""
            SELECT programme_id, indicator_id, district_ags, period, value, n, method FROM {TABLE}
            WHERE list_contains(?, indicator_id) AND value > n ORDER BY ALL""", [reach_ids],
            "distinct persons ≤ attendances (n) for reach and distinct counts")
        yield _result(con, "totals_not_below_quarters", f"""
            SELECT t.programme_id, t.indicator_id, t.district_ags, t.value AS total, q.period, q.value AS quarter
            FROM {TABLE} t JOIN {TABLE} q USING (programme_id, indicator_id, comparison, district_ags)
            WHERE t.period = '{TOTAL}' AND q.period <> '{TOTAL}' AND q.value > t.value
              AND list_contains(?, t.indicator_id)
            ORDER BY ALL""", [additive_ids], "total ≥ every quarter (additive indicators)")
        yield _result(con, "all_rows_add_up", f"""
            WITH districts AS (
                SELECT programme_id, indicator_id, comparison, period, sum(value) AS summed
                FROM {TABLE} WHERE district_ags NOT IN ('{ALL}', '{ALL_COMPARISON}') GROUP BY ALL)
            SELECT a.programme_id, a.indicator_id, a.district_ags, a.period, a.value, d.summed
            FROM {TABLE} a LEFT JOIN districts d USING (programme_id, indicator_id, comparison, period)
            WHERE a.district_ags IN ('{ALL}', '{ALL_COMPARISON}') AND list_contains(?, a.indicator_id)
              AND abs(a.value - coalesce(d.summed, 0)) > 0.001
            ORDER BY ALL""", [additive_ids], "ALL = sum of the districts (additive indicators)")


ASSETS = [indicator_values, indicator_exports]
CHECKS = [impossible_results]
