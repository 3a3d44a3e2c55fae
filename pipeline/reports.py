"""What the districts get back (contract section 5): a quality report per delivery (HTML in
German with English, CSV for machines), exports/rejections.csv and exports/delivery_log.csv.

Everything is derived from the warehouse views `delivery_log` and `rejections`, so the report,
the export and the Dagster check metadata can never disagree.
"""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from pipeline import warehouse
from pipeline.catalogue import Catalogue
from pipeline.contract import Contract
from pipeline.tables import write_csv, write_if_changed

REJECTION_EXPORT_COLUMNS = ["file", "district_ags", "quarter", "feed", "sheet", "row", "column", "value",
                            "reason_code", "reason", "reason_en"]
LOG_COLUMNS = ["file_name", "sha256", "received_at", "district_ags", "quarter", "status", "rows_read", "accepted",
               "rejected", "late", "corrected", "superseded_by", "archive_path"]
UNASSIGNED = "nicht_zugeordnet"

CSS = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem;color:#1b1b1b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef}td.n{text-align:right}.en{color:#555;font-style:italic}.ok{color:#1a6b1a}.warn{color:#9a4b00}"""


def rejections_frame(con) -> pd.DataFrame:
    frame = warehouse.fetch_df(con, f"""
        SELECT {", ".join(warehouse.q(c) for c in REJECTION_EXPORT_COLUMNS)} FROM rejections
        ORDER BY quarter NULLS FIRST, district_ags NULLS FIRST, file, sheet NULLS FIRST, "row" NULLS FIRST, reason_code, "column" """)
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
    parts = [f"""SELECT s.district_ags, s.delivery_quarter AS delivery, '{f.name}' AS feed, s.{warehouse.q(f.id_columns[0])} AS id,
                        string_agg(DISTINCT p.delivery_quarter, ', ' ORDER BY p.delivery_quarter) AS earlier
                 FROM stg_{f.name} s JOIN stg_{f.name} p ON p.district_ags = s.district_ags
                   AND p.{warehouse.q(f.id_columns[0])} = s.{warehouse.q(f.id_columns[0])} AND p.delivery_quarter < s.delivery_quarter
                 GROUP BY ALL"""
             for f in contract.feeds.values() if len(f.id_columns) == 1]
    return warehouse.fetch_df(con, " UNION ALL ".join(parts) + " ORDER BY 1, 2, 3, 4")


def _table(frame: pd.DataFrame, headings: list[str], numeric: set[str] = frozenset()) -> str:
    if frame.empty:
        return "<p class='ok'>– keine / none –</p>"
    head = "".join(f"<th>{h}</th>" for h in headings)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row):
            text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
            cells.append(f"<td class='n'>{html.escape(text)}</td>" if col in numeric else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _status(row) -> str:
    if row.status == "set_aside":
        return "zurückgestellt / set aside"
    if isinstance(row.superseded_by, str) and row.superseded_by:
        return f"ersetzt durch / replaced by {row.superseded_by}"
    return "aktuell / current"


def _report_html(title_de: str, title_en: str, files: pd.DataFrame, rejected: pd.DataFrame,
                 late: pd.DataFrame, corrections: pd.DataFrame) -> str:
    files = files.assign(status_text=[_status(r) for r in files.itertuples()], sha=files["sha256"].str.slice(0, 12))
    file_table = _table(files[["file_name", "received_at", "sha", "rows_read", "accepted", "rejected", "late",
                               "corrected", "status_text"]],
                        ["Datei / file", "Eingang / received", "SHA-256", "gelesen / read", "angenommen / accepted",
                         "abgelehnt / rejected", "verspätet / late", "Korrekturen / corrections", "Status"],
                        numeric={"rows_read", "accepted", "rejected", "late", "corrected"})
    rejected_table = _table(rejected[["file", "sheet", "row", "column", "value", "reason_code", "reason", "reason_en"]],
                            ["Datei / file", "Blatt / sheet", "Zeile / row", "Spalte / column", "Wert / value",
                             "Code", "Grund", "<span class='en'>Reason</span>"], numeric={"row"})
    late_table = _table(late[["feed", "id", "date", "counted_in", "file_name"]],
                        ["Bereich / feed", "Kennung / id", "Datum / date", "gezählt in / counted in", "Datei / file"])
    corr_table = _table(corrections[["feed", "id", "earlier"]],
                        ["Bereich / feed", "Kennung / id", "ersetzt Meldung aus / replaces record of"])
    total_read, total_rej = int(files["rows_read"].sum()), int(files["rejected"].sum())
    summary = (f"<p>{total_read} Zeilen gelesen, {int(files['accepted'].sum())} angenommen, {total_rej} abgelehnt. "
               f"<span class='en'>{total_read} rows read, {int(files['accepted'].sum())} accepted, {total_rej} rejected.</span></p>")
    return f"""<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>{html.escape(title_de)}</title><style>{CSS}</style></head>
<body><h1>{html.escape(title_de)}</h1><p class="en">{html.escape(title_en)}</p>{summary}
<h2>Dateien <span class="en">/ Files</span></h2>{file_table}
<h2>Abgelehnte Zeilen und Dateien <span class="en">/ Rejected rows and files</span></h2>
<p>Zeile = Zeilennummer in Ihrer Datei (Kopfzeile = 1). <span class="en">Row = row number in your file (header = 1).</span></p>{rejected_table}
<h2>Verspätete Meldungen <span class="en">/ Late records</span></h2>{late_table}
<h2>Korrekturen <span class="en">/ Corrections</span></h2>{corr_table}
</body></html>
"""


def report_path(reports_dir: Path, ags: str | None, quarter: str | None) -> Path:
    if not ags or not quarter:
        return reports_dir / f"{UNASSIGNED}.html"
    return reports_dir / quarter / f"{ags}_{quarter}.html"


def write_reports(con, reports_dir: Path, exports_dir: Path, catalogue: Catalogue, contract: Contract) -> dict:
    """Write every delivery's report and the two exports; returns paths and counts."""
    rejected, log = rejections_frame(con), delivery_log_frame(con)
    late, corrections = _late_records(con, contract), _corrections(con, contract)
    write_csv(rejected, exports_dir / "rejections.csv")
    write_csv(log, exports_dir / "delivery_log.csv")
    written = []
    keys = log[["district_ags", "quarter"]].drop_duplicates().itertuples(index=False)
    for ags, quarter in keys:
        ags, quarter = (None if pd.isna(ags) else ags), (None if pd.isna(quarter) else quarter)
        same = lambda f, a="district_ags", qcol="quarter": (f[a].isna() if ags is None else f[a] == ags) & (
            f[qcol].isna() if quarter is None else f[qcol] == quarter)
        files, rows = log[same(log)], rejected[same(rejected)]
        if ags is None:
            title_de, title_en = "Nicht zugeordnete Dateien", "Files that could not be assigned to a delivery"
            late_d = late.iloc[0:0]
            corr_d = corrections.iloc[0:0]
        else:
            name = catalogue.district_name(ags)
            title_de, title_en = f"Qualitätsbericht {name} ({ags}), {quarter}", f"Quality report {name} ({ags}), {quarter}"
            late_d, corr_d = late[same(late, qcol="delivery")], corrections[same(corrections, qcol="delivery")]
        path = report_path(reports_dir, ags, quarter)
        write_if_changed(path, _report_html(title_de, title_en, files, rows, late_d, corr_d).encode("utf-8"))
        write_csv(rows, path.with_suffix(".csv"))
        written.append(path)
    return {"reports": written, "rejections_csv": exports_dir / "rejections.csv",
            "delivery_log_csv": exports_dir / "delivery_log.csv", "rejections": len(rejected), "files": len(log)}
