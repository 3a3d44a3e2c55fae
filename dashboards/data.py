"""Everything the site shows, read once from the warehouse (read-only) into plain frames.

Pages never see the connection and never see an exact small count: `values` has passed the
"< 5" rule (privacy.py) before any page or chart is built from it.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dashboards import i18n, privacy, withhold
from pipeline.catalogue import Catalogue, Programme
from pipeline.quarters import quarter_of
from pipeline.warehouse import literal, table_exists
from pipeline.indicators.model import ALL, ALL_COMPARISON, TOTAL, IndicatorCatalogue

ADDITIVE = ("count", "sum")  # quarters add up to the total, districts to the ALL row
# A district page's delivery table, in this order.
DELIVERY_COLUMNS = ("quarter", "file_name", "received_at", "rows_read", "accepted", "rejected", "late", "corrected",
                    "status", "superseded_by", "counts_withheld")


@dataclass
class SiteData:
    catalogue: Catalogue
    indicators: IndicatorCatalogue
    threshold: int
    values: pd.DataFrame            # indicator_values after the privacy rule
    deliveries: pd.DataFrame        # delivery_log
    rejections: pd.DataFrame        # rejections standing now
    status: pd.DataFrame            # expected deliveries: on_time / late / missing / open
    micro_projects: pd.DataFrame    # current, non-cancelled micro-projects (amounts only)
    as_of: dt.date | None
    impact: pd.DataFrame = field(default_factory=lambda: empty_impact())  # impact_estimates, as written
    warnings: pd.DataFrame = field(default_factory=pd.DataFrame)  # warnings standing now, per delivery and code
    outliers: pd.DataFrame = field(default_factory=pd.DataFrame)  # the outliers' follow-up list
    breakdowns: pd.DataFrame = field(default_factory=pd.DataFrame)  # indicator_breakdowns, `total`, published
    progress: pd.DataFrame = field(default_factory=pd.DataFrame)  # trajectories: level by months since arrival, published
    reports: dict[tuple[str | None, str | None], str] = field(default_factory=dict)  # -> path under site/
    # The date of the latest approval in the published figures (pipeline/approval); None: nothing
    # approved yet, the figures are the working state and the reporting date is shown.
    datenstand: dt.date | None = None
    approvals: pd.DataFrame = field(default_factory=pd.DataFrame)  # each programme-quarter's approval state
    memo: dict = field(default_factory=dict, repr=False)  # what pages prepare once for both languages
    # (district, quarter) whose quality report is not published: it counts a withheld survey file's rows.
    withheld_reports: set = field(default_factory=set)

    # -- lookups pages use ------------------------------------------------------------------------

    def status_line(self, lang: str) -> str:
        """"Datenstand …": the latest approval's date once figures are approved (a re-delivery then
        changes nothing on a published page), else the latest delivery's; empty without either."""

        if self.datenstand is not None:
            return i18n.t(lang, "data_status_approved", date=i18n.date(self.datenstand, lang))
        return i18n.t(lang, "data_status", date=i18n.date(self.as_of, lang)) if self.as_of else ""

    @functools.cached_property
    def rules(self):
        from pipeline.quality import cached_rules

        return cached_rules(self.catalogue)

    @property
    def outlier_threshold(self) -> float:
        return self.rules.threshold

    def measure_labels(self, lang: str) -> dict[str, str]:
        return {m.id: m.label_de if lang == "de" else m.label_en for m in self.rules.measures}

    # Split once: 440 district pages each filtering 200,000 rows took most of a national build.
    # A group keeps the rows, their order and their index, as the filter did.

    @functools.cached_property
    def _by_programme(self) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
        out = {}
        for pid, part in self.values.groupby("programme_id", sort=False):
            total = (part["period"] == TOTAL).to_numpy()
            out[pid] = (part, part[total], part[~total])
        return out

    def _programme_parts(self, programme: Programme) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        empty = self.values.iloc[:0]
        return self._by_programme.get(programme.id, (empty, empty, empty))

    def programme_values(self, programme: Programme) -> pd.DataFrame:
        return self._programme_parts(programme)[0]

    def totals(self, programme: Programme) -> pd.DataFrame:
        return self._programme_parts(programme)[1]

    def quarters(self, programme: Programme) -> pd.DataFrame:
        return self._programme_parts(programme)[2]

    # The district pages' parts, split once for all 440 districts and both languages: a pick, a
    # conversion to dicts or tuples per page cost more than the rest of the page.

    @functools.cached_property
    def _district_parts(self) -> tuple[pd.DataFrame, dict, dict]:
        values = self.values.reset_index(drop=True)
        keys = ["programme_id", "district_ags"]
        total = (values["period"] == TOTAL).to_numpy()
        quarters = values[~total].reset_index(drop=True)
        records = values[total].to_dict("records")
        totals = {k: [records[i] for i in rows] for k, rows in values[total].reset_index(drop=True)
                  .groupby(keys, sort=False).indices.items()}
        hidden = (values["masked"] | values["n_masked"]).groupby([values[k] for k in keys], sort=False).any()
        return quarters, totals, hidden.to_dict()

    def district_quarters(self) -> pd.DataFrame:
        """The quarter rows of every district, all programmes."""
        return self._district_parts[0]

    def district_total_records(self, programme: Programme, ags: str) -> list[dict]:
        """One district's total rows of one programme, as plain dicts."""
        return self._district_parts[1].get((programme.id, ags), [])

    def district_masked(self, programme: Programme, ags: str) -> bool:
        """Whether any figure of the district's rows in the programme is hidden."""
        return bool(self._district_parts[2].get((programme.id, ags), False))

    @functools.cached_property
    def _delivery_rows(self) -> dict[str, list[tuple]]:
        frame = self.deliveries.reset_index(drop=True)
        rows = list(frame[list(DELIVERY_COLUMNS)].itertuples(index=False, name=None))
        return {a: [rows[i] for i in found] for a, found in frame.groupby("district_ags", sort=False).indices.items()}

    def district_delivery_rows(self, ags: str) -> list[tuple]:
        """One district's deliveries as tuples of DELIVERY_COLUMNS, in the log's order."""
        return self._delivery_rows.get(ags, [])

    @functools.cached_property
    def _micro_by_district(self) -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
        days = pd.to_datetime(self.micro_projects["approved_date"]).dt.date.to_numpy()
        return {ags: (self.micro_projects.iloc[rows], days[rows]) for ags, rows in
                self.micro_projects.reset_index(drop=True).groupby("district_ags", sort=False).indices.items()}

    def district_micro_projects(self, ags: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """A district's micro-projects approved from `start` to `end` (each programme page asks for
        a hundred districts: split once)."""
        found = self._micro_by_district.get(ags)
        if found is None:
            return self.micro_projects.iloc[:0]
        projects, days = found
        return projects[(days >= start) & (days <= end)]

    @functools.cached_property
    def _loaded(self) -> pd.DataFrame:
        return self.deliveries[(self.deliveries["status"] == "loaded") & self.deliveries["quarter"].notna()]

    def latest_quarter(self, programme: Programme) -> str | None:
        mine = self._loaded[self._loaded["district_ags"].isin(programme.districts)]
        start, end = quarter_of(programme.start), quarter_of(programme.end)
        quarters = [q for q in mine["quarter"] if start <= q <= end]
        return max(quarters) if quarters else None

    def programmes_of(self, ags: str) -> list[tuple[Programme, bool]]:
        """(programme, is_comparison) for every programme the district belongs to."""
        return [(p, ags in p.comparison_districts) for p in self.catalogue.programmes
                if ags in p.districts or ags in p.comparison_districts]

    def programme_impact(self, programme: Programme) -> pd.DataFrame:
        return self.impact[self.impact["programme_id"] == programme.id]

    @functools.cached_property
    def _impact_records(self) -> dict[tuple[str, str], list[dict]]:
        impact = self.impact.reset_index(drop=True)
        records = impact.to_dict("records")
        return {key: [records[i] for i in rows] for key, rows in
                impact.groupby(["programme_id", "district_ags"], sort=False).indices.items()}

    def district_impact_records(self, programme: Programme, ags: str) -> list[dict]:
        """One district's impact rows of one programme, in the estimates' order, as plain dicts:
        converted once for every district page (both languages)."""
        return self._impact_records.get((programme.id, ags), [])

    def has_impact(self, programme: Programme) -> bool:
        return bool((self.impact["programme_id"] == programme.id).any())

    def districts(self) -> list[str]:
        return catalogue_districts(self.catalogue)

    def additive(self, indicator_id: str) -> bool:
        return self.indicators.get(indicator_id).definition.aggregate in ADDITIVE


def catalogue_districts(catalogue: Catalogue) -> list[str]:
    """Every district of any programme, in catalogue order of first appearance."""
    seen: dict[str, None] = {}
    for p in catalogue.programmes:
        for ags in (*p.districts, *p.comparison_districts):
            seen.setdefault(ags)
    return list(seen)


def _arrow_frame(con, sql: str) -> pd.DataFrame:
    """A query's rows by way of Arrow: for indicator_values (200,000 rows) five times faster than
    `.df()`, with the same frame. Only for columns that hold no NULL integers (Arrow makes those
    float, `.df()` Int64). On a cursor: a result still open on `con` would block `sql()` there."""
    with con.cursor() as cursor:
        return cursor.sql(sql).to_arrow_table().to_pandas()


def _published(relation: str, approved: bool) -> str:
    """The published rows without the approval they come from (pipeline/approval)."""
    return f"SELECT * EXCLUDE (approval_id, approved_on) FROM {relation}" if approved else f"SELECT * FROM {relation}"


def read_values(con, publication=None) -> pd.DataFrame:
    """The published indicator values (`publication`: pipeline.approval.publication; None: the table)."""
    sql = _published(publication.values, publication.approved) if publication else "SELECT * FROM indicator_values"
    frame = _arrow_frame(con, sql)  # `n` is float once privacy.apply has run
    frame["comparison"] = frame["comparison"].astype(bool)
    return frame


def read_deliveries(con) -> pd.DataFrame:
    return _arrow_frame(con, """
        SELECT receipt_id, file_name, received_at, district_ags, quarter, status, rows_read, accepted,
               rejected, late, corrected, superseded_by
        FROM delivery_log ORDER BY district_ags NULLS LAST, quarter NULLS LAST, received_at, file_name""")


def read_rejections(con) -> pd.DataFrame:
    return con.execute("""
        SELECT district_ags, quarter, feed, reason_code, count(*) AS rows
        FROM rejections GROUP BY ALL ORDER BY ALL""").df()


def read_warnings(con) -> pd.DataFrame:
    return con.execute("""
        SELECT district_ags, quarter, feed, reason_code, count(*) AS rows
        FROM findings WHERE severity = 'warning' GROUP BY ALL ORDER BY ALL""").df()


def read_breakdowns(con, threshold: int, publication=None) -> pd.DataFrame:
    """The breakdowns of every programme-to-date (`total`) figure, with the "< 5" rule applied."""
    relation = publication.breakdowns if publication else "indicator_breakdowns"
    if relation is None or (relation == "indicator_breakdowns" and not table_exists(con, relation)):
        return pd.DataFrame(columns=["programme_id", "indicator_id", "district_ags", "district_name", "comparison",
                                     "period", "breakdown", "breakdown_value", "value", "unit", "label_de", "label_en",
                                     "masked", "withheld"])
    frame = con.execute(f"SELECT * FROM ({_published(relation, publication is not None and publication.approved)}) "
                        f"WHERE period = '{TOTAL}'").df()
    return privacy.breakdown_rows(frame, threshold)


def read_progress(con, catalogue: Catalogue, threshold: int) -> pd.DataFrame:
    """The cohort progress charts' cells (trajectory_sql.progress_sql), published: a cell of fewer
    persons than the threshold is dropped, and no cell shows its persons, only the mean level, so
    no count of persons can be subtracted from another (only the ALL cell pools districts)."""
    from pipeline.indicators.trajectory_sql import progress_sql

    members = catalogue.membership[catalogue.membership["role"] == "programme"]
    if members.empty or not table_exists(con, "stg_trajectories"):
        return pd.DataFrame(columns=["programme_id", "district_ags", "arrival_cohort", "band", "mean_level"])
    periods = " UNION ALL ".join(
        f"SELECT {literal(p)} AS programme_id, {literal(a)} AS district_ags, DATE '{s}' AS start, DATE '{e}' AS \"end\""
        for p, a, s, e in zip(members["programme_id"], members["district_ags"], members["start"], members["end"]))
    cells = con.execute(progress_sql(f"({periods})")).df()
    return cells[cells["persons"] >= threshold].drop(columns="persons").reset_index(drop=True)


def read_outliers(con) -> pd.DataFrame:
    # Values and references only: no record's free text, no person.
    return con.execute("""
        SELECT district_ags, quarter, measure_id, record_id, value, history_median, peer_median, status
        FROM outlier_followup ORDER BY district_ags, quarter, measure_id, record_id""").df()


def read_approvals(con, catalogue: Catalogue) -> pd.DataFrame:
    """The approved and changed programme-quarters (pipeline/approval): state, why, and the day."""
    from pipeline.approval import OPEN, read_states

    frame = read_states(con, catalogue)
    return frame[frame["state"] != OPEN].reset_index(drop=True)


def read_micro_projects(con) -> pd.DataFrame:
    # Amounts and dates only: applicants are left out, the page compares sums with the fund.
    return con.execute("""
        SELECT district_ags, project_id, approved_date, amount_eur FROM cur_micro_projects
        WHERE coalesce(status, 'approved') <> 'cancelled' ORDER BY district_ags, approved_date, project_id""").df()


def empty_impact() -> pd.DataFrame:
    from pipeline.impact import COLUMNS
    return pd.DataFrame(columns=list(COLUMNS))


def read_impact(con) -> pd.DataFrame:
    """The impact estimates (pipeline/impact.py) as written, or an empty frame when the survey has
    not been estimated yet (no table, or no rows). Suppressed rows arrive with NaN numbers from
    the pipeline; the pages never show a number of theirs."""
    from pipeline.impact import COLUMNS, NUMBERS, TABLE, sort_impact

    if not table_exists(con, TABLE):
        return empty_impact()
    frame = con.execute(f"SELECT * FROM {TABLE}").df()
    if frame.empty:
        return empty_impact()
    frame = frame.reindex(columns=list(COLUMNS))
    for column in NUMBERS:
        frame[column] = frame[column].astype("float64")
    for column in ("indicative", "suppressed"):
        frame[column] = frame[column].fillna(False).astype(bool)
    for column in NUMBERS:  # belt and braces: a withheld row carries no figure onto a page
        frame.loc[frame["suppressed"], column] = float("nan")
    return sort_impact(frame)


def reporting_date(con) -> dt.date | None:
    """The warehouse's own "today": the day of the latest receipt. The site is then the same for the
    same data, whatever the wall clock says."""
    found = con.execute("SELECT max(received_at) FROM receipts").fetchone()[0]
    return found.date() if found is not None else None


def read_status(con, catalogue: Catalogue, as_of: dt.date | None) -> pd.DataFrame:
    columns = ["district_ags", "quarter", "deadline", "first_received", "files", "status", "district_name"]
    if as_of is None:
        return pd.DataFrame(columns=columns)
    from pipeline.publish.deadlines import delivery_status
    return delivery_status(con, catalogue, as_of)


def additive_ids(indicators: IndicatorCatalogue) -> set[str]:
    """Indicators whose districts add up to the ALL row (and quarters to the total): counts and
    sums, and the trajectory measures that count persons."""
    return {i.id for i in indicators if i.definition.aggregate in ADDITIVE
            or (i.definition.trajectory is not None and i.unit in privacy.PERSON_UNITS)}


def suppress_secondary_shares(values: pd.DataFrame, share_ids: set[str]) -> pd.DataFrame:
    """Shares and medians of persons (trajectories): their persons (n) and counted persons (value
    × n) add up over the districts to the ALL row's, so where exactly one district's figure is
    hidden, the district with the next fewest persons is withheld too, with its n and interval."""
    out = values.copy()
    rows = out["indicator_id"].isin(share_ids) & ~out["district_ags"].isin([ALL, ALL_COMPARISON])
    part = out[rows]
    keys = ["programme_id", "indicator_id", "comparison", "period"]
    groups = part.groupby(keys, sort=False, dropna=False)["masked"]
    lonely = (groups.transform("sum") == 1) & (groups.transform("size") > 1)
    open_rows = part[lonely & ~part["masked"]]
    if open_rows.empty:
        return out
    partners = open_rows["n"].astype(float).groupby([open_rows[k] for k in keys], sort=False, dropna=False).idxmin()
    out.loc[partners.to_numpy(), ["masked", "n_masked", "withheld"]] = True
    out.loc[partners.to_numpy(), ["value", "n", "ci_low", "ci_high", *privacy.DERIVED]] = float("nan")
    return out


def suppress_secondary(values: pd.DataFrame, additive_ids: set[str], threshold: int) -> pd.DataFrame:
    """A single hidden figure in a sum can be computed back from the total (total − the others).
    Where exactly one quarter of a series, or one district of a programme, is hidden while its
    total shows, the next smallest is hidden as well."""
    out = values.copy()
    persons = out["unit"].isin(privacy.PERSON_UNITS) & out["indicator_id"].isin(additive_ids)
    quarters = persons & (out["period"] != TOTAL)
    _hide_lonely(out, quarters, ["programme_id", "indicator_id", "comparison", "district_ags"])
    districts = persons & ~out["district_ags"].isin([ALL, ALL_COMPARISON])
    _hide_lonely(out, districts, ["programme_id", "indicator_id", "comparison", "period"])
    return out


def _hide_lonely(out: pd.DataFrame, rows: pd.Series, keys: list[str]) -> None:
    part = out[rows]
    groups = part.groupby(keys, sort=False, dropna=False)["masked"]
    lonely = (groups.transform("sum") == 1) & (groups.transform("size") > 1)
    open_rows = part[lonely & ~part["masked"]]
    if open_rows.empty:
        return
    values = open_rows["value"].astype(float)
    partners = values.groupby([open_rows[k] for k in keys], sort=False, dropna=False).idxmin()
    out.loc[partners.to_numpy(), "masked"] = True
    out.loc[partners.to_numpy(), "withheld"] = True   # hidden to protect another cell: "gesperrt", not "< 5"
    # and gone, not only flagged: the site's data files and chart data carry no hidden number
    out.loc[partners.to_numpy(), ["value", "ci_low", "ci_high", *privacy.DERIVED]] = float("nan")
    for column in ("value", *privacy.DERIVED):
        out.loc[partners.to_numpy(), column] = float("nan")


def load(con, catalogue: Catalogue, indicators: IndicatorCatalogue, threshold: int = privacy.DEFAULT_THRESHOLD,
         as_of: dt.date | None = None, publication=None) -> SiteData:
    """Everything a page shows. The figures are the published ones (`publication`, by default
    what is published now: the approved state, pipeline/approval); deliveries, findings and
    deadlines are the current ones, the evaluators' working view of the data quality."""
    from pipeline.approval import publication as published

    publication = publication or published(con)
    as_of = as_of or reporting_date(con)
    additive = additive_ids(indicators)
    shares = {i.id for i in indicators if i.definition.trajectory is not None} - additive
    # The survey's blocks first (whole districts withheld), then the "lonely" rule over what is left.
    blocks = withhold.read_blocks(con, catalogue, threshold)
    values = withhold.withhold_values(privacy.apply(read_values(con, publication), threshold), blocks,
                                      withhold.survey_indicators(indicators))
    values = suppress_secondary_shares(suppress_secondary(values, additive, threshold), shares)
    deliveries = read_deliveries(con)
    deliveries["counts_withheld"] = withhold.withheld_deliveries(deliveries, blocks, withhold.survey_receipts(con))
    hidden = deliveries[deliveries["counts_withheld"]]
    for column in withhold.DELIVERY_COUNTS:
        deliveries[column] = deliveries[column].astype("float64").mask(deliveries["counts_withheld"])
    return SiteData(catalogue=catalogue, indicators=indicators, threshold=threshold, values=_plain_strings(values),
                    deliveries=_plain_strings(deliveries), rejections=_plain_strings(read_rejections(con)),
                    status=_plain_strings(read_status(con, catalogue, as_of)),
                    warnings=_plain_strings(read_warnings(con)), outliers=_plain_strings(read_outliers(con)),
                    breakdowns=_plain_strings(read_breakdowns(con, threshold, publication)),
                    datenstand=publication.datenstand, approvals=_plain_strings(read_approvals(con, catalogue)),
                    progress=_plain_strings(read_progress(con, catalogue, threshold)),
                    micro_projects=_plain_strings(read_micro_projects(con)), as_of=as_of,
                    impact=_plain_strings(withhold.withhold_impact(read_impact(con), blocks, catalogue)),
                    withheld_reports=set(zip(hidden["district_ags"], hidden["quarter"])))


def _plain_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects: the pages pick and iterate rows thousands of times, and on
    Arrow-backed strings each pick cost several times more. Values are the same (str, NaN)."""
    text = {c: object for c, t in frame.dtypes.items() if isinstance(t, pd.StringDtype)}
    return frame.astype(text) if text else frame


def delivery_keys(con) -> list[tuple[str | None, str | None]]:
    """Every (district, quarter) of the delivery log (one row per receipt), without reading the log."""
    return con.execute("SELECT DISTINCT district_ags, quarter FROM receipts").fetchall()


def report_links(keys, existing) -> dict[tuple[str | None, str | None], str]:
    """(district, quarter) -> the delivery's quality report (its path in the reports folder),
    where one was written: `existing` holds the paths there."""
    from pipeline.publish.reports import report_paths

    keys = list(keys)
    relative = report_paths(pd.Series([a for a, _ in keys], dtype=object), pd.Series([q for _, q in keys], dtype=object))
    return {key: path for key, path in zip(keys, relative) if path in existing}
