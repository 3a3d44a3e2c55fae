"""Shared fixtures: real delivery files written in the tests, and a pipeline run on a temp home."""
import datetime as dt
import os
from pathlib import Path

import dagster as dg
import pytest
import xlsxwriter

from pipeline.catalogue import load_catalogue
from pipeline.contract import load_contract
from pipeline.home import Home
from assets.resources import TeilhabeHome


CHROMIUM = Path("/usr/bin/chromium")
# Flags for Chromium on this closed network (no background connections) and as root (no sandbox).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    """Browser tests run wherever Debian's chromium is; in CI its absence is a failure, not a skip."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} fehlt / is missing: .ci/run installs the Debian package chromium")
    pytest.skip(f"{CHROMIUM} missing (install the Debian package chromium); CI does not skip this")


@pytest.fixture(scope="session")
def contract():
    return load_contract()


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="session")
def indicators(catalogue):
    from pipeline.indicators import load_indicators

    return load_indicators(catalogue)


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path / "home").ensure()


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8", sep: str = ",",
              received: dt.datetime | None = None) -> Path:
    """Rows given as lists are joined with `sep`; strings are written as they are."""
    text = "\n".join(sep.join(line) if isinstance(line, (list, tuple)) else line for line in lines) + "\n"
    path.write_bytes(text.encode(encoding))
    if received:
        stamp = received.replace(tzinfo=dt.UTC).timestamp()
        os.utime(path, (stamp, stamp))
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list]], received: dt.datetime | None = None) -> Path:
    """Cells: dt.date -> real Excel date; ("=FORMULA", value) -> formula with cached value; None -> empty."""
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    date_format = book.add_format({"num_format": "dd.mm.yyyy"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row or []):
                if isinstance(value, dt.date):
                    sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
                elif isinstance(value, tuple):
                    sheet.write_formula(r, c, value[0], None, value[1])
                elif value is not None:
                    sheet.write(r, c, value)
    book.close()
    if received:
        stamp = received.replace(tzinfo=dt.UTC).timestamp()
        os.utime(path, (stamp, stamp))
    return path


def ingest(home: Home, *partition_keys: str, instance: dg.DagsterInstance | None = None):
    """Materialize the ingest and quality assets for the given quarters (one run, like a backfill),
    on `instance` (default: a new ephemeral one, which remembers nothing of earlier runs)."""
    from assets.ingest import ASSETS
    from assets.quality import ASSETS as QUALITY

    keys = sorted(partition_keys)
    job = dg.define_asset_job("ingest_test", selection=dg.AssetSelection.all())
    defs = dg.Definitions(assets=[*ASSETS, *QUALITY], jobs=[job],
                          resources={"home": TeilhabeHome(home=str(home.root))})
    result = defs.resolve_job_def("ingest_test").execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]})
    assert result.success
    return result


def query(home: Home, sql: str):
    import duckdb

    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
