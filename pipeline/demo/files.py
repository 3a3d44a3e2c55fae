"""Writing the demo's deliveries as offices do: UTF-8 CSV with English headers, Windows-1252 `;` CSV
with German headers and decimal commas, Excel workbooks with German sheet names; each file's
modification time is when it was received."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from pipeline.contract import Column, Feed, load_contract
from pipeline.demo.offices import CSV_DE, MONTH_GAP_OFFICES, UTF8_BOM_OFFICES, XLSX, Delivery

# German headers as an office would type them; each folds to the contract alias.
GERMAN_HEADERS = {
    "event_id": "Veranstaltung-ID", "date": "Datum", "event_type": "Art", "title": "Titel",
    "municipality": "Gemeinde", "field": "Handlungsfeld", "supra_regional": "Überregional",
    "participants_total": "Teilnehmende gesamt", "participants_volunteer": "davon ehrenamtlich",
    "participants_staff": "davon hauptamtlich", "participants_newcomer": "davon zugewandert",
    "person_key": "Personen-ID", "role": "Rolle",
    "case_id": "Beratung-ID", "client_type": "Beratene Art", "client_key": "Beratene-ID",
    "topic": "Thema", "duration_min": "Dauer Min",
    "issue_id": "Ausgabe-ID", "sent_date": "Versanddatum", "recipients": "Empfänger",
    "project_id": "Projekt-ID", "applicant": "Antragsteller", "approved_date": "Bewilligt am",
    "amount_eur": "Betrag EUR", "cost_category": "Kostenart", "volunteers": "Ehrenamtliche",
    "newcomers_reached": "Erreichte Zugewanderte", "status": "Status",
    "response_id": "Antwort-ID", "wave": "Welle", "group": "Gruppe", "belonging": "Zugehörigkeit",
    "participation": "Teilhabe", "information_access": "Informationszugang", "contacts": "Kontakte",
    "observation_id": "Beobachtung-ID", "arrival_month": "Zuzugsmonat", "language_level": "Sprachniveau",
    "course": "Kurs", "activity": "Tätigkeit", "advice_service": "Beratungsstelle",
}
# Where the contract's first German alias is not what an office would write.
GERMAN_ENUM_PREFERRED = {"training": "Schulung", "conference": "Fachtag", "materials": "Sachkosten",
                         "organisation": "Verein"}

# Fixed workbook metadata: xlsxwriter otherwise stamps the current time into docProps/core.xml.
WORKBOOK_CREATED = dt.datetime(2020, 1, 1)



class Raw(str):
    """A value written verbatim, bypassing formatting: how planted faults reach the file."""


def write_delivery(inbox: Path, delivery: Delivery) -> list[Path]:
    contract = load_contract()
    stem = f"{delivery.ags}_{delivery.quarter}"
    if delivery.style == XLSX:
        paths = [inbox / f"{stem}.xlsx"]
        write_workbook(paths[0], delivery.feeds, month_gaps=delivery.ags in MONTH_GAP_OFFICES)
    else:
        # An office with nothing to report for a feed simply sends no file for it.
        paths = []
        for feed, records in delivery.feeds.items():
            if records:
                paths.append(inbox / f"{stem}_{feed}.csv")
                write_csv(paths[-1], contract.feeds[feed], records, delivery.style,
                          bom=delivery.ags in UTF8_BOM_OFFICES)
    for path in paths:
        set_received(path, delivery.received)
    return paths


def set_received(path: Path, when: dt.datetime) -> None:
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


def _header(feed: Feed, records: list[dict]) -> list[str]:
    """Contract columns first, then any extra column an office added (never the private `_` keys)."""
    names = [c.name for c in feed.columns]
    extras = [k for r in records for k in r if k not in names and not k.startswith("_")]
    return names + list(dict.fromkeys(extras))


def _german_enum(value: str, column: Column) -> str:
    return GERMAN_ENUM_PREFERRED.get(value) or (column.values.get(value) or [value])[0]


def _german_decimal(value: float) -> str:
    return f"{value:,.2f}".translate(str.maketrans(",.", ".,"))


def _text(value, column: Column | None, style: str) -> str:
    """One CSV cell as the office's software would write it."""
    if value is None:
        return ""
    if isinstance(value, Raw) or column is None:
        return str(value)
    german = style == CSV_DE
    if column.type == "date":
        return value.strftime("%d.%m.%Y") if german else value.isoformat()
    if column.type == "bool":
        return ("ja" if value else "nein") if german else ("true" if value else "false")
    if column.type == "enum":
        return _german_enum(value, column) if german else value
    if column.type == "decimal":
        return _german_decimal(value) if german else f"{value:.2f}"
    return str(value)


def write_csv(path: Path, feed: Feed, records: list[dict], style: str, bom: bool = False) -> None:
    header = _header(feed, records)
    columns = {c.name: c for c in feed.columns}
    german = style == CSV_DE
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if german else ",", lineterminator="\r\n" if german else "\n")
    writer.writerow([GERMAN_HEADERS.get(h, h) if german else h for h in header])
    for record in records:
        writer.writerow([_text(record.get(h), columns.get(h), style) for h in header])
    encoding = "cp1252" if german else ("utf-8-sig" if bom else "utf-8")
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_workbook(path: Path, feeds: dict[str, list[dict]], month_gaps: bool) -> None:
    contract = load_contract()
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    workbook.set_properties({"created": WORKBOOK_CREATED})
    formats = {"date": workbook.add_format({"num_format": "DD.MM.YYYY"}),
               "decimal": workbook.add_format({"num_format": "#,##0.00"}),
               "header": workbook.add_format({"bold": True})}
    for feed_name, records in feeds.items():
        feed = contract.feeds[feed_name]
        sheet = workbook.add_worksheet(feed.label_de)
        _write_sheet(sheet, feed, records, formats, month_gaps and feed_name == "events")
    workbook.close()


def _write_sheet(sheet, feed: Feed, records: list[dict], formats: dict, month_gaps: bool) -> None:
    header = _header(feed, records)
    columns = {c.name: c for c in feed.columns}
    sheet.write_row(0, 0, [GERMAN_HEADERS.get(h, h) for h in header], formats["header"])
    sheet.set_column(0, len(header) - 1, 18)
    sheet.freeze_panes(1, 0)
    row, month = 1, None
    for record in records:
        day = record.get(feed.date_column) if feed.date_column else None
        if month_gaps and isinstance(day, dt.date):
            if month is not None and (day.year, day.month) != month:
                row += 1  # the empty row between months
            month = (day.year, day.month)
        for col, name in enumerate(header):
            _write_cell(sheet, row, col, record.get(name), columns.get(name), formats)
        if feed.name == "events":
            _write_total_formula(sheet, row, header, record)
        row += 1


def _write_cell(sheet, row: int, col: int, value, column: Column | None, formats: dict) -> None:
    if value is None:
        return
    if isinstance(value, Raw) or column is None or isinstance(value, str) and column.type != "enum":
        sheet.write_string(row, col, str(value))
    elif column.type == "date":
        sheet.write_datetime(row, col, dt.datetime.combine(value, dt.time()), formats["date"])
    elif column.type == "bool":
        if value:
            sheet.write_string(row, col, "x")  # Excel offices tick a box; empty means no
    elif column.type == "enum":
        sheet.write_string(row, col, _german_enum(value, column))
    elif column.type == "decimal":
        sheet.write_number(row, col, value, formats["decimal"])
    else:
        sheet.write_number(row, col, value)


def _write_total_formula(sheet, row: int, header: list[str], record: dict) -> None:
    """The office's template adds up the sub-counts plus the others; the cached value is the total."""
    parts = ("participants_volunteer", "participants_staff", "participants_newcomer")
    total = record.get("participants_total")
    if isinstance(total, Raw) or not all(type(record.get(p)) is int for p in parts):
        return
    others = total - sum(record[p] for p in parts)
    if others < 0:
        return
    cells = "+".join(xl_rowcol_to_cell(row, header.index(p)) for p in parts)
    sheet.write_formula(row, header.index("participants_total"), f"={cells}+{others}", None, total)
