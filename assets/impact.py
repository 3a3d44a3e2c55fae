"""Dagster asset: impact estimates from the survey (pre/post and difference-in-differences).

Unpartitioned like the indicators: baseline and follow-up waves lie in different quarters, so the
estimates are recomputed whole from the current survey records whenever any quarter changes.
Writes the warehouse table `impact_estimates` (hence pool "duckdb") and `exports/impact.csv`.
"""

import dagster as dg
import pandas as pd

from assets.metadata import markdown_table
from assets.resources import TeilhabeHome
from assets.versions import code_version, digest, last_data_version
from pipeline.impact import (EXPORT_NAME, METHODS, MIN_CELL, MIN_DISTRICTS, NUMBERS, TABLE, estimate_impact,
                             survey_items, write_impact_export, write_impact_table)
from pipeline.warehouse import inputs_signature, table_exists

OWNERS = ["team:evaluation"]
IMPACT_CODE = code_version("pipeline.impact", "pipeline.warehouse")
PREVIEW_COLUMNS = ("programme_id", "method", "item", "district_ags", "group", "estimate", "ci_low", "ci_high",
                   "p_value", "family", "p_adjusted", "established", "mde", "effect_size", "n_baseline", "n_follow_up", "n_comparison_baseline", "n_comparison_follow_up",
                   "indicative", "suppressed")
PREVIEW_ROWS = 60


def _preview(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_keine Befragungsdaten / no survey responses_"
    # The headline rows first: DiD pooled over the programme districts, all groups.
    headline = (frame["method"] == "did") & (frame["district_ags"] == "ALL") & (frame["group"] == "ALL")
    rows = pd.concat([frame[headline], frame[~headline]])
    return markdown_table(rows[list(PREVIEW_COLUMNS)], PREVIEW_ROWS, floatfmt=".3f")


@dg.asset(
    deps=[dg.AssetKey("stg_survey")],
    group_name="indicators",
    pool="duckdb",
    kinds={"duckdb", "python"},
    code_version=IMPACT_CODE,
    owners=OWNERS,
    description=(
        "Wirkungsschätzung aus der Befragung: Vorher-nachher je Programm, Kreis und Gruppe (Welch-Intervalle) und "
        "Differenz-von-Differenzen gegen die Vergleichskreise (Kreis-geclusterter Wild-Cluster-Bootstrap, WCR mit "
        "Webb-Gewichten). Zellen unter 5 Personen nie veröffentlicht, unter 30 nur Hinweis; unter 4 Kreisen weder "
        "Intervall noch p-Wert; Hauptergebnis laut Katalog für sich, alles andere nach Holm korrigiert; nur "
        "Befragungs-Items. / Impact estimates from the survey: pre/post and difference-in-differences against the "
        "comparison districts with a district-clustered wild cluster bootstrap; small cells withheld; no inference "
        "below 4 districts; primary outcomes judged alone, the rest Holm-corrected; survey items only."),
)
def impact_estimates(context: dg.AssetExecutionContext, home: TeilhabeHome) -> dg.MaterializeResult:
    catalogue = home.catalogue()
    with home.connect() as con:
        # The estimates depend on the current survey records, the catalogue and the code only: when
        # none of them changed since the table was written (e.g. a re-delivered events file), the
        # bootstrap is not run again; the table and the export stay as they are.
        version = digest(IMPACT_CODE, _inputs_signature(con, catalogue))
        unchanged = (version == last_data_version(context) and table_exists(con, TABLE)
                     and (home.paths.exports / EXPORT_NAME).is_file())
        if unchanged:
            frame = con.execute(f"SELECT * FROM {TABLE}").df()
        else:
            frame = estimate_impact(con, catalogue)
            write_impact_table(con, frame)
    path = home.paths.exports / EXPORT_NAME if unchanged else write_impact_export(frame, home.paths.exports)
    context.log.info("%s rows in %s, %s%s", len(frame), TABLE, path,
                     " (Befragung unverändert / survey unchanged)" if unchanged else "")
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "did_rows": dg.MetadataValue.int(int((frame["method"] == "did").sum())),
        "suppressed": dg.MetadataValue.int(int(frame["suppressed"].sum())),
        "indicative": dg.MetadataValue.int(int(frame["indicative"].sum())),
        "established": dg.MetadataValue.int(int(frame["established"].sum())),
        "csv": dg.MetadataValue.path(str(path)),
        "preview": dg.MetadataValue.md(_preview(frame)),
    })


def _inputs_signature(con, catalogue) -> str:
    """Current survey records and the programme catalogue (the code counts as the asset's code
    version). The current records are the view cur_survey over stg_survey: the staged rows and the
    view's definition say the same as the view's rows, and printing them skips evaluating its
    window (0.2 s -> 0.03 s)."""
    return inputs_signature(con, relations=["stg_survey"], views=["cur_survey"],
                            files=[catalogue.directory / name for name in ("programmes.yaml", "districts.csv")])


def _result(con, name: str, sql: str, params: list, what: str) -> dg.AssetCheckResult:
    bad = con.execute(sql, params).df()
    metadata = {"violations": dg.MetadataValue.int(len(bad)), "rule": what}
    if len(bad):
        metadata["sample"] = dg.MetadataValue.md(markdown_table(bad, 20, floatfmt=".3f"))
    return dg.AssetCheckResult(asset_key="impact_estimates", check_name=name, passed=bad.empty, metadata=metadata)


RULES = {
    "impact_small_cells_withheld": "Keine veröffentlichte Zeile mit einer Zelle unter 5 Personen; zurückgehaltene "
                                   "Zeilen tragen keine Zahlen. / No published row has a cell below 5 persons.",
    "impact_only_survey_items": "Nur Befragungs-Items haben eine Wirkungsschätzung, nie Outputzahlen (Veranstaltungen, "
                                "Newsletter). / Only survey items, never output counts.",
    "impact_inference_needs_districts": f"Keine Zeile über weniger als {MIN_DISTRICTS} Kreise trägt Intervall oder "
                                        "p-Wert, und nur eine Zeile mit p-Wert ist „belegt“. / No interval or p-value "
                                        f"across fewer than {MIN_DISTRICTS} districts; established only with one.",
}


# Both rules in one step: each step is a process start, and both read the same table.
@dg.multi_asset_check(specs=[dg.AssetCheckSpec(name, asset="impact_estimates", description=text)
                             for name, text in RULES.items()], pool="duckdb")
def impact_rules(home: TeilhabeHome):
    with home.connect(read_only=True) as con:
        yield _result(con, "impact_small_cells_withheld", f"""
            SELECT programme_id, method, item, district_ags, "group", n_baseline, n_follow_up,
                   n_comparison_baseline, n_comparison_follow_up, suppressed, estimate
            FROM {TABLE}
            WHERE (NOT suppressed AND least(n_baseline, n_follow_up, coalesce(n_comparison_baseline, ?),
                                            coalesce(n_comparison_follow_up, ?)) < ?)
               OR (suppressed AND ({" OR ".join(f"{c} IS NOT NULL" for c in NUMBERS)}))
            ORDER BY ALL""", [MIN_CELL, MIN_CELL, MIN_CELL],
            f"published rows: every cell ≥ {MIN_CELL}; suppressed rows: no numbers")
        yield _result(con, "impact_only_survey_items", f"""
            SELECT DISTINCT item, method FROM {TABLE}
            WHERE NOT list_contains(?, item) OR NOT list_contains(?, method) ORDER BY ALL""",
            [list(survey_items()), list(METHODS)], f"item ∈ {', '.join(survey_items())}; method ∈ {', '.join(METHODS)}")
        # across districts: DiD rows and the pools' pre/post rows (a single district's own pre/post
        # change is inference over its respondents, Welch)
        yield _result(con, "impact_inference_needs_districts", f"""
            SELECT programme_id, method, item, district_ags, "group", clusters_programme, clusters_comparison,
                   p_value, ci_low, ci_high, established
            FROM {TABLE}
            WHERE ((method LIKE 'did%' OR district_ags IN ('ALL', 'ALL_COMPARISON'))
                   AND coalesce(clusters_programme, 0) + coalesce(clusters_comparison, 0) < ?
                   AND (p_value IS NOT NULL OR ci_low IS NOT NULL OR ci_high IS NOT NULL))
               OR (established AND p_value IS NULL)
            ORDER BY ALL""", [MIN_DISTRICTS],
            f"rows across districts: p-value and interval only with ≥ {MIN_DISTRICTS} districts")


ASSETS = [impact_estimates]
CHECKS = [impact_rules]
__all__ = ["ASSETS", "CHECKS", "EXPORT_NAME", "impact_estimates"]
