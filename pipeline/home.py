"""The home folder: inbox, archive, warehouse, exports, reports, site, Dagster instance."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "teilhabe-home"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> "Home":
        return cls(Path(home or os.environ.get("TEILHABE_HOME") or DEFAULT_HOME).resolve())

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def catalogue_dir(self) -> Path | None:
        """A home may carry its own catalogue (e.g. the national-scale demo); else the shipped one."""
        own = self.root / "catalogue"
        return own if own.is_dir() else None

    def ensure(self) -> "Home":
        for path in (self.inbox, self.archive, self.exports, self.reports, self.site):
            path.mkdir(parents=True, exist_ok=True)
        return self
