"""The catalogue's history in the warehouse: every version of its files, with its validity.

A version is the set of catalogue files as they were (programmes.yaml, districts.csv,
indicators.yaml, rules.yaml: the home's own or the shipped ones), kept whole as text with each
file's SHA-256, valid from the moment it was first seen until the next version was seen
(`valid_to` empty while it is in force). It is recorded when a run or an approval sees the
catalogue, so the version that an approval was given on is always in the warehouse, and
`teilhabe publish --as-of` writes that version back out to compute with it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.indicators.loader import indicators_path
from pipeline.quality.rules import rules_path
from pipeline.warehouse import transaction

DDL = """
CREATE TABLE IF NOT EXISTS catalogue_versions (
    version_id BIGINT NOT NULL, file VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, content VARCHAR NOT NULL,
    version_hash VARCHAR NOT NULL, valid_from TIMESTAMP NOT NULL, valid_to TIMESTAMP);
"""

# The files whose content decides published figures (names, populations, targets, definitions):
# a change to one of them touches every approved quarter. rules.yaml decides findings, not figures.
FIGURE_FILES = ("programmes.yaml", "districts.csv", "indicators.yaml")


def catalogue_files(catalogue: Catalogue) -> dict[str, Path]:
    """The files a catalogue is read from, by name."""
    directory = Path(catalogue.directory)
    return {"programmes.yaml": directory / "programmes.yaml", "districts.csv": directory / "districts.csv",
            "indicators.yaml": indicators_path(catalogue), "rules.yaml": rules_path(catalogue)}


def _contents(catalogue: Catalogue) -> dict[str, str]:
    return {name: path.read_bytes().decode("utf-8") for name, path in catalogue_files(catalogue).items()}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def version_hash(contents: dict[str, str]) -> str:
    return _sha("".join(f"{name}\0{_sha(text)}\n" for name, text in sorted(contents.items())))


def record_catalogue(con, catalogue: Catalogue, now: dt.datetime | None = None) -> int:
    """The id of the catalogue version in force; a new version when the files differ from it
    (the previous one then ends now)."""
    con.execute(DDL)
    contents = _contents(catalogue)
    digest = version_hash(contents)
    current = con.execute("SELECT version_id, version_hash FROM catalogue_versions WHERE valid_to IS NULL "
                          "ORDER BY version_id DESC LIMIT 1").fetchall()
    if current and current[0][1] == digest:
        return current[0][0]
    now = now or dt.datetime.now().replace(microsecond=0)
    version = con.execute("SELECT coalesce(max(version_id), 0) + 1 FROM catalogue_versions").fetchall()[0][0]
    with transaction(con):
        con.execute("UPDATE catalogue_versions SET valid_to = ? WHERE valid_to IS NULL", [now])
        con.executemany("INSERT INTO catalogue_versions VALUES (?, ?, ?, ?, ?, ?, NULL)",
                        [[version, name, _sha(text), text, digest, now] for name, text in sorted(contents.items())])
    return version


def restore_catalogue(con, version_id: int, directory: Path) -> Path:
    """Write catalogue version `version_id` into `directory` (a catalogue folder to load)."""
    rows = con.execute("SELECT file, content FROM catalogue_versions WHERE version_id = ? ORDER BY file",
                       [version_id]).fetchall()
    if not rows:
        raise LookupError(f"catalogue version {version_id} is not in the warehouse")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in rows:
        (directory / name).write_bytes(text.encode("utf-8"))
    return directory


def versions(con):
    """The catalogue's versions, newest first: id, valid from, valid to, and each file's SHA-256."""
    con.execute(DDL)
    return con.execute("""SELECT version_id, valid_from, valid_to, string_agg(file || ' ' || left(sha256, 12), ', '
                                 ORDER BY file) AS files
                          FROM catalogue_versions GROUP BY ALL ORDER BY version_id DESC""").df()


def sha256_of(path: Path) -> str:
    """A catalogue file's SHA-256 as `record_catalogue` stores it."""
    return _sha(path.read_bytes().decode("utf-8"))
