"""The files of a publication: exports/published/ (or a folder of `teilhabe publish --as-of`) and
the working exports' audit trail. Written by the one CSV writer and the indicator export writer,
so a publication is byte-identical whenever its state is: its only date is the Datenstand, the
day of its latest approval.

    published/indicators.csv|.parquet|.xlsx   the approved figures (approval_id, approved_on per row)
    published/audit.csv                       per published district value, the deliveries it was approved on
    published/approvals.csv                   the approval log up to this publication
    published/DATENSTAND.txt                  "Datenstand <date> (Freigabe <id>)"
"""
from __future__ import annotations

from pathlib import Path

from pipeline.approval.published import AUDIT_COLUMNS, Publication, audit_rows, export_rows, publication
from pipeline.catalogue import Catalogue
from pipeline.home import Home
from pipeline.indicators import IndicatorCatalogue
from pipeline.publish.exports import catalogue_order, write_indicator_exports
from pipeline.tables import write_csv, write_if_changed

PUBLISHED_DIR = "published"  # under the home's exports/
AUDIT_FILE = "audit.csv"
APPROVALS_FILE = "approvals.csv"
DATENSTAND_FILE = "DATENSTAND.txt"


def write_audit(con, catalogue: Catalogue, indicators: IndicatorCatalogue, path: Path,
                pub: Publication | None = None) -> Path:
    """The audit trail (working values, or `pub`'s) in the order of indicators.csv, then feed and file."""
    sql = audit_rows(con, indicators, pub)
    try:
        order = catalogue_order(catalogue, indicators) + ", src.feed, src.file_name, src.sha256"
        return write_csv(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM ({sql})", path, con, order_by=order)
    finally:
        con.unregister("_indicator_feeds")


def datenstand_text(pub: Publication) -> str:
    if not pub.approved:
        return "Datenstand: vorläufig, noch keine Freigabe / provisional, nothing approved yet\n"
    return (f"Datenstand {pub.datenstand.isoformat()} (Freigabe {pub.approval_id}) / "
            f"data as of {pub.datenstand.isoformat()} (approval {pub.approval_id})\n")


def write_publication(con, catalogue: Catalogue, indicators: IndicatorCatalogue, pub: Publication,
                      folder: Path) -> list[Path]:
    """Every file of the publication `pub` into `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = write_indicator_exports(con, catalogue, indicators, folder, relation=pub.values,
                                    rows=export_rows(con, pub), extra_columns=pub.extra)
    paths.append(write_audit(con, catalogue, indicators, folder / AUDIT_FILE, pub))
    up_to = pub.approval_id if pub.approval_id is not None else 0
    paths.append(write_csv(f"""SELECT approval_id, programme_id, quarter, action, approved_by, approved_at, comment,
                                      catalogue_version FROM approvals WHERE approval_id <= {int(up_to)}"""
                           if pub.approved else "SELECT NULL::BIGINT AS approval_id WHERE false",
                           folder / APPROVALS_FILE, con, order_by="src.approval_id"))
    write_if_changed(folder / DATENSTAND_FILE, datenstand_text(pub).encode("utf-8"))
    paths.append(folder / DATENSTAND_FILE)
    return paths


def write_published(con, home: Home, catalogue: Catalogue, indicators: IndicatorCatalogue) -> Path:
    """exports/published/ as the approval log stands now (`teilhabe approve` and the asset alike)."""
    folder = home.exports / PUBLISHED_DIR
    write_publication(con, catalogue, indicators, publication(con), folder)
    return folder
