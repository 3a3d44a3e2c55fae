"""What the districts get back (contract section 5): a quality report per delivery (HTML in
German with English, CSV for machines), exports/rejections.csv and exports/delivery_log.csv.

Everything is derived from the warehouse views `delivery_log` and `rejections`, so the report,
the export and the Dagster check metadata can never disagree.

At national scale (8,000 deliveries, ~50,000 rejections) the frames are fetched once and every
row is rendered column-wise for all deliveries at once; a report file is written only where its
bytes change. Whether the reports are rendered at all is Dagster's decision: the asset
quality_reports compares `inputs_signature` with its last data version (assets/versions.py).
"""
from __future__ import annotations

import functools
import html
import operator
from pathlib import Path

import pandas as pd

from pipeline import warehouse
from pipeline.catalogue import Catalogue
from pipeline.contract import Contract
from pipeline.tables import write_csv, write_if_changed

REJECTION_EXPORT_COLUMNS = ["file", "district_ags", "quarter", "feed", "sheet", "row", "column", "value",
                            "severity", "reason_code", "reason", "reason_en"]
LOG_COLUMNS = ["file_name", "sha256", "received_at", "district_ags", "quarter", "status", "rows_read", "accepted",
               "rejected", "late", "corrected", "superseded_by", "archive_path"]
UNASSIGNED = "nicht_zugeordnet"
# A missing district or quarter in the grouping key; cannot occur as an AGS or a quarter. Not
# "\x00": pandas 3.1's fillna turns it into "" in an object column (all rejections unassigned),
# and the unassigned files' reasons then missed their report.
NONE_KEY = "-"

CSS = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem;color:#1b1b1b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef}td.n{text-align:right}.en{color:#555;font-style:italic}.ok{color:#1a6b1a}.warn{color:#9a4b00}"""
NONE_TABLE = "<p class='ok'>– keine / none –</p>"

FILE_TABLE = (["file_name", "received_at", "sha", "rows_read", "accepted", "rejected", "late", "corrected", "status_text"],
              ["Datei / file", "Eingang / received", "SHA-256", "gelesen / read", "angenommen / accepted",
               "abgelehnt / rejected", "verspätet / late", "Korrekturen / corrections", "Status"],
              {"rows_read", "accepted", "rejected", "late", "corrected"})
REJECTED_TABLE = (["file", "sheet", "row", "column", "value", "reason_code", "reason", "reason_en"],
                  ["Datei / file", "Blatt / sheet", "Zeile / row", "Spalte / column", "Wert / value",
                   "Code", "Grund", "<span class='en'>Reason</span>"], {"row"})
LATE_TABLE = (["feed", "id", "date", "counted_in", "file_name"],
              ["Bereich / feed", "Kennung / id", "Datum / date", "gezählt in / counted in", "Datei / file"], set())
WARNING_TABLE = (["file", "sheet", "row", "column", "value", "reason_code", "reason", "reason_en"],
                 ["Datei / file", "Blatt / sheet", "Zeile / row", "Spalte / column", "Wert / value",
                  "Code", "Hinweis", "<span class='en'>Warning</span>"], {"row"})
CORRECTION_TABLE = (["feed", "id", "earlier"],
                    ["Bereich / feed", "Kennung / id", "ersetzt Meldung aus / replaces record of"], set())


def rejections_frame(con) -> pd.DataFrame:
    frame = warehouse.fetch_df(con, f"""
        SELECT {", ".join(warehouse.q(c) for c in REJECTION_EXPORT_COLUMNS)} FROM findings
        ORDER BY quarter NULLS FIRST, district_ags NULLS FIRST, file, sheet NULLS FIRST, "row" NULLS FIRST, severity,
                 reason_code, "column", value, reason""")
    frame["row"] = frame["row"].astype("Int64")
    return frame


def delivery_log_frame(con) -> pd.DataFrame:
    return warehouse.fetch_df(con, f"""
        SELECT {", ".join(LOG_COLUMNS)} FROM delivery_log
        ORDER BY quarter NULLS FIRST, district_ags NULLS FIRST, received_at, file_name""")


def _late_records(con, contract: Contract) -> pd.DataFrame:
    parts = [f"""SELECT r.district_ags, r.quarter AS delivery, '{f.name}' AS feed, s.{warehouse.q(f.id_columns[0])} AS id,
                        s.{warehouse.q(f.date_column)} AS date, s.quarter AS counted_in, r.file_name
                 FROM stg_{f.name} s JOIN receipts r USING (receipt_id) WHERE s.is_late"""
             for f in contract.feeds.values() if f.date_column]
    return warehouse.fetch_df(con, " UNION ALL ".join(parts) + " ORDER BY 1, 2, 3, 4")


def _corrections(con, contract: Contract) -> pd.DataFrame:
    parts = [f"""SELECT s.district_ags, s.delivery_quarter AS delivery, '{f.name}' AS feed, s.id,
                        string_agg(DISTINCT p.delivery_quarter, ', ' ORDER BY p.delivery_quarter) AS earlier
                 FROM {warehouse.repeated_ids(f)} s JOIN {warehouse.repeated_ids(f)} p ON p.district_ags = s.district_ags
                   AND p.id = s.id AND p.delivery_quarter < s.delivery_quarter
                 GROUP BY ALL"""
             for f in contract.feeds.values() if len(f.id_columns) == 1]
    return warehouse.fetch_df(con, " UNION ALL ".join(parts) + " ORDER BY 1, 2, 3, 4")


def report_path(reports_dir: Path, ags: str | None, quarter: str | None) -> Path:
    return reports_dir / report_paths(pd.Series([ags], dtype=object), pd.Series([quarter], dtype=object)).iloc[0]


def expected_files(con, reports_dir: Path) -> list[Path]:
    """Every report file (HTML and CSV) the received deliveries call for."""
    keys = warehouse.fetch_df(con, "SELECT DISTINCT district_ags, quarter FROM receipts")
    pages = [reports_dir / r for r in report_paths(keys["district_ags"], keys["quarter"]).unique()]
    return pages + [page.with_suffix(".csv") for page in pages]


# -- rendering, column-wise over all deliveries ---------------------------------------------------

def _key(frame: pd.DataFrame, quarter_column: str) -> pd.Series:
    """One string per (district, quarter); a missing part stays distinct from any real value."""
    return frame["district_ags"].fillna(NONE_KEY) + "/" + frame[quarter_column].fillna(NONE_KEY)


def _cell_text(series: pd.Series) -> pd.Series:
    """str(value), '' for a missing value, HTML-escaped as html.escape does (& first)."""
    if isinstance(series.dtype, pd.StringDtype):
        text = series.fillna("")
    else:  # numbers and timestamps print as str() prints them (e.g. '2024-01-29 00:00:00')
        text = series.astype(object).map(str, na_action="ignore").fillna("").astype("str")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        text = text.str.replace(char, entity, regex=False)
    return text


def _table_rows(frame: pd.DataFrame, key: pd.Series, spec) -> pd.Series:
    """Each key's `<tr>` rows of one report table, in the frame's order."""
    columns, _, numeric = spec
    if frame.empty:
        return pd.Series(dtype="str")
    cells = [("<td class='n'>" if c in numeric else "<td>") + _cell_text(frame[c]) + "</td>" for c in columns]
    rows = "<tr>" + functools.reduce(operator.add, cells) + "</tr>"
    return rows.groupby(key.to_numpy(), sort=False).sum()  # a string sum joins in row order


def _table(rows: str | float, spec) -> str:
    if not isinstance(rows, str) or not rows:
        return NONE_TABLE
    head = "".join(f"<th>{h}</th>" for h in spec[1])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _status_text(log: pd.DataFrame) -> pd.Series:
    replaced = log["superseded_by"].fillna("")
    text = ("ersetzt durch / replaced by " + replaced).where(replaced != "", "aktuell / current")
    text = text.where(log["status"] != "set_aside", "zurückgestellt / set aside")
    return text.where(log["status"] != "withdrawn", "nicht mehr im Posteingang – zählt nicht / withdrawn from the inbox – "
                                                    "not counted")


def _page(title_de: str, title_en: str, totals: tuple[int, int, int], file_table: str, rejected_table: str,
          warning_table: str, late_table: str, corr_table: str) -> str:
    total_read, accepted, total_rej = totals
    summary = (f"<p>{total_read} Zeilen gelesen, {accepted} angenommen, {total_rej} abgelehnt. "
               f"<span class='en'>{total_read} rows read, {accepted} accepted, {total_rej} rejected.</span></p>")
    return f"""<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>{html.escape(title_de)}</title><style>{CSS}</style></head>
<body><h1>{html.escape(title_de)}</h1><p class="en">{html.escape(title_en)}</p>{summary}
<h2>Dateien <span class="en">/ Files</span></h2>{file_table}
<h2>Abgelehnte Zeilen und Dateien <span class="en">/ Rejected rows and files</span></h2>
<p>Zeile = Zeilennummer in Ihrer Datei (Kopfzeile = 1). <span class="en">Row = row number in your file (header = 1).</span></p>{rejected_table}
<h2>Hinweise <span class="en">/ Warnings</span></h2>
<p>Diese Zeilen sind angenommen und zählen; bitte prüfen und bei Bedarf korrigiert erneut liefern. <span class="en">These rows
are accepted and counted; please check them and re-deliver a corrected file where needed.</span></p>{warning_table}
<h2>Verspätete Meldungen <span class="en">/ Late records</span></h2>{late_table}
<h2>Korrekturen <span class="en">/ Corrections</span></h2>{corr_table}
</body></html>
"""


def _csv_records(body: str) -> pd.Series:
    """The records of a header-less CSV text, each with its line end. A quoted value may hold a
    line break: a record ends at a line end with an even number of quotes before it (a quote
    inside a value is doubled, so the parity tells inside a value from outside)."""
    lines = pd.Series(body.split("\n")[:-1], dtype="str") + "\n"
    ends = lines.str.count('"').cumsum() % 2 == 0
    if ends.all():
        return lines
    record = ends.shift(fill_value=True).cumsum()
    return lines.groupby(record.to_numpy(), sort=False).sum().reset_index(drop=True)


def _rejection_csv(con, rejected: pd.DataFrame, path: Path) -> tuple[str, pd.Series]:
    """Write rejections.csv (the one CSV writer) and return its header and each row's record in
    it: a report's CSV is that header and its delivery's records, the same bytes."""
    write_csv(rejected, path, con)
    head, body = path.read_bytes().decode("utf-8").split("\n", 1)  # no column name holds a line break
    records = _csv_records(body)
    if len(records) != len(rejected):
        raise AssertionError(f"{len(records)} CSV records for {len(rejected)} rejections")
    records.index = rejected.index
    return head + "\n", records


# -- which deliveries need a new report ------------------------------------------------------------



def inputs_signature(con, contract: Contract, catalogue: Catalogue) -> str:
    """Everything the exports and reports are made of: the tables under the delivery_log and
    rejections views, the stg columns late records come from, the view definitions and district
    names. Cheap (no view is evaluated), so an unchanged warehouse costs a fraction of a second."""
    relations = warehouse.delivery_log_relations(contract.feeds.values())
    relations["row_warnings"] = "row_warnings"
    for f in contract.feeds.values():
        if f.date_column:
            relations[f"late_{f.name}"] = (f"(SELECT receipt_id, {warehouse.q(f.id_columns[0])}, "
                                           f"{warehouse.q(f.date_column)}, quarter FROM stg_{f.name} WHERE is_late)")
    names = pd.util.hash_pandas_object(catalogue.districts["name"].astype(str)).to_numpy().tobytes()
    return warehouse.inputs_signature(con, relations, views=("delivery_log", "rejections", "findings",
                                                             "current_sheets", "latest_receipts"), extra=names)










def report_paths(ags: pd.Series, quarter: pd.Series) -> pd.Series:
    """Each delivery's report, relative to the reports folder: <quarter>/<ags>_<quarter>.html, or
    the report of unassigned files when the district or the quarter is missing."""
    unassigned = ags.isna() | quarter.isna() | (ags == "") | (quarter == "")
    own = quarter.fillna("") + "/" + ags.fillna("") + "_" + quarter.fillna("") + ".html"
    return own.where(~unassigned, f"{UNASSIGNED}.html").astype(object)


def _deliveries(log: pd.DataFrame, log_key: pd.Series, catalogue: Catalogue) -> pd.DataFrame:
    """One row per delivery key in log order: its report path (relative) and titles."""
    keys = log[["district_ags", "quarter"]].assign(key=log_key).drop_duplicates("key")
    keys["relative"] = report_paths(keys["district_ags"], keys["quarter"])
    names = {a: catalogue.district_name(a) for a in keys["district_ags"].dropna().unique()}
    ags = keys["district_ags"].astype(object).where(keys["district_ags"].notna(), None)
    quarter = keys["quarter"].astype(object).where(keys["quarter"].notna(), None)
    keys["title_de"] = [f"Qualitätsbericht {names[a]} ({a}), {q}" if a is not None else "Nicht zugeordnete Dateien"
                        for a, q in zip(ags, quarter)]
    keys["title_en"] = [f"Quality report {names[a]} ({a}), {q}" if a is not None
                        else "Files that could not be assigned to a delivery" for a, q in zip(ags, quarter)]
    keys["assigned"] = ags.notna().to_numpy()
    return keys.set_index("key")




# -- writing ---------------------------------------------------------------------------------------

def write_reports(con, reports_dir: Path, exports_dir: Path, catalogue: Catalogue, contract: Contract) -> dict:
    """Write the two exports and every delivery's report (HTML and CSV).

    Returns the export paths, counts (`deliveries`: reports, one per delivery; `files`,
    `rejections`, `by_reason`) and `rendered`: report files whose bytes changed."""
    exports = {"rejections_csv": exports_dir / "rejections.csv", "delivery_log_csv": exports_dir / "delivery_log.csv"}
    rejected, log = rejections_frame(con), delivery_log_frame(con)
    late, corrections = _late_records(con, contract), _corrections(con, contract)
    # An unassigned file has no late records or corrections; a row without district cannot be one.
    late, corrections = late[late["district_ags"].notna()], corrections[corrections["district_ags"].notna()]
    frames = {"log": log.assign(key=_key(log, "quarter")), "rejected": rejected.assign(key=_key(rejected, "quarter")),
              "late": late.assign(key=_key(late, "delivery")),
              "corrections": corrections.assign(key=_key(corrections, "delivery"))}
    deliveries = _deliveries(log, frames["log"]["key"], catalogue)
    is_warning = rejected["severity"] == "warning"
    summary = {"deliveries": len(deliveries), "files": len(log), "rejections": int((~is_warning).sum()),
               "warnings": int(is_warning.sum()), "by_reason": rejected["reason_code"].value_counts().to_dict()}
    # Keys sharing a path (several unassigned kinds) overwrite each other: the last one stands.
    deliveries = deliveries.drop_duplicates("relative", keep="last")
    header, records = _rejection_csv(con, rejected, exports["rejections_csv"])
    write_csv(log, exports["delivery_log_csv"], con)
    rendered = _render(reports_dir, deliveries, frames, header, records)
    return {**exports, **summary, "rendered": rendered}


def _render(reports_dir: Path, deliveries: pd.DataFrame, frames: dict[str, pd.DataFrame], csv_header: str,
            csv_records: pd.Series) -> int:
    """Write the HTML and CSV report of each delivery from its rows in the frames (a file only
    where its bytes change); returns how many files were written."""
    log = frames["log"]
    log = log.assign(status_text=_status_text(log), sha=log["sha256"].str.slice(0, 12))
    found = frames["rejected"]
    rejected, warned = found[found["severity"] != "warning"], found[found["severity"] == "warning"]
    rows = {name: _table_rows(frame, frame["key"], spec).reindex(deliveries.index)
            for name, frame, spec in (("files", log, FILE_TABLE), ("rejected", rejected, REJECTED_TABLE),
                                      ("warnings", warned, WARNING_TABLE),
                                      ("late", frames["late"], LATE_TABLE),
                                      ("corrections", frames["corrections"], CORRECTION_TABLE))}
    totals = log.groupby(log["key"].to_numpy(), sort=False)[["rows_read", "accepted", "rejected"]].sum()
    totals = totals.reindex(deliveries.index).fillna(0).astype("int64")
    csv_bodies = csv_records.groupby(frames["rejected"]["key"].to_numpy(), sort=False).sum()
    csv_texts = (csv_header + csv_bodies.reindex(deliveries.index).fillna("")).tolist()
    paths = [reports_dir / r for r in deliveries["relative"]]
    for folder in {path.parent for path in paths}:
        folder.mkdir(parents=True, exist_ok=True)
    columns = zip(paths, deliveries["title_de"], deliveries["title_en"], deliveries["assigned"],
                  totals.itertuples(index=False, name=None), *(rows[name].tolist() for name in rows), csv_texts)
    written = 0
    for path, title_de, title_en, assigned, counts, files, rejected, warnings, late, corrections, csv_text in columns:
        page = _page(title_de, title_en, tuple(int(v) for v in counts), _table(files, FILE_TABLE),
                     _table(rejected, REJECTED_TABLE), _table(warnings, WARNING_TABLE),
                     _table(late if assigned else None, LATE_TABLE),
                     _table(corrections if assigned else None, CORRECTION_TABLE))
        written += write_if_changed(path, page.encode("utf-8"))
        written += write_if_changed(path.with_suffix(".csv"), csv_text.encode("utf-8"))
    return written
