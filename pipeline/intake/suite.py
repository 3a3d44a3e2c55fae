"""The contract's row rules as Great Expectations suites, run in this process.

Every row rule of the delivery contract is an expectation in expectations/<feed>.json whose
`meta` names the reason code. This module builds the frame those expectations look at (typed,
raw, unparsed and derived columns: `prepare`), runs the feed's suite once over it (`run_suite`,
`result_format` COMPLETE with `unexpected_index_column_names`, so every failing row comes back
by index) and turns the failures into rejections with the district's file, row, column, value and
reason. Staging hands it only the rows the SQL screen (screen.py) flagged, so GX is imported
only when some row needs judging.
"""
from __future__ import annotations

import copy
import functools
import logging
import os

import numpy as np
import pandas as pd

from pipeline.catalogue import Catalogue
from pipeline.contract import Contract, Feed
from pipeline.intake.screen import WAVE_NUMBERS
from pipeline.intake.values import type_columns
from pipeline.quarters import quarter_bounds
from pipeline.warehouse import stg_columns

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
logging.getLogger("great_expectations").setLevel(logging.ERROR)

class SuiteError(RuntimeError):
    """An expectation could not be evaluated: the suite and the code disagree. Never swallowed."""


@functools.cache
def _gx():
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    return gx, context, context.data_sources.add_pandas("deliveries")


@functools.cache
def _batch_definition(feed_name: str):
    _, _, source = _gx()
    return source.add_dataframe_asset(feed_name).add_batch_definition_whole_dataframe("rows")


def _suite(name: str, expectations: list[dict], meta: dict):
    gx, _, _ = _gx()
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    domain = [ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e["meta"]).to_domain_obj()
              for e in expectations]
    # GX writes its version into the suite's meta: hand it a copy, the contract stays as loaded.
    return gx.ExpectationSuite(name=name, expectations=domain, meta=copy.deepcopy(meta))


def _for_gx(frame: pd.DataFrame) -> pd.DataFrame:
    """GX's pandas engine is happiest with plain numpy dtypes: nullable ints become floats."""
    gx_frame = frame.copy()
    for col in gx_frame.columns:
        dtype = gx_frame[col].dtype
        if isinstance(dtype, (pd.Int64Dtype, pd.Float64Dtype)):
            gx_frame[col] = gx_frame[col].astype("float64")
        elif isinstance(dtype, pd.BooleanDtype):
            gx_frame[col] = gx_frame[col].astype(object).where(gx_frame[col].notna(), None)
    # `_rid` as the named index: GX then lists a failing row by it without a Python loop per row.
    return gx_frame.set_index("_rid").rename_axis("_rid")


def _judge(gx_frame: pd.DataFrame, name: str, expectations: list[dict], meta: dict) -> list[tuple[dict, np.ndarray]]:
    batch = _batch_definition(name).get_batch(batch_parameters={"dataframe": gx_frame})
    result = batch.validate(_suite(name, expectations, meta), result_format={
        "result_format": "COMPLETE", "unexpected_index_column_names": ["_rid"], "exclude_unexpected_values": True})
    failures = []
    for item in result.results:
        raised = _raised(item.exception_info)
        if raised:
            raise SuiteError(f"{name}: {item.expectation_config.type} {item.expectation_config.kwargs}: {raised}")
        if item.success:
            continue
        # [{"_rid": [ids…]}] with exclude_unexpected_values; one dict per row without it
        ids = [entry["_rid"] for entry in item.result.get("unexpected_index_list") or []]
        rids = np.array([i for v in ids for i in (v if isinstance(v, list) else [v])], dtype="int64")
        failures.append((dict(item.expectation_config.meta), rids))
    return failures


def _raised(info) -> str | None:
    """What went wrong evaluating an expectation, if anything. GX 1 files it per metric
    ({metric id: {"raised_exception": …}}); a flat {"raised_exception": …} is read too."""
    if not info:
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    messages = [str(e.get("exception_message")) for e in entries if e.get("raised_exception")]
    return "; ".join(messages) or None


def run_suite(frame: pd.DataFrame, feed) -> list[tuple[dict, np.ndarray]]:
    """Validate the frame with the feed's suite once: (expectation meta, failing `_rid`s) per
    failed expectation. GX is imported here, on the first call: a delivery whose rows the
    screen (screen.py) finds nothing to judge in never imports it."""
    if frame.empty:
        return []
    return _judge(_for_gx(frame), feed.name, feed.suite["expectations"], feed.suite["meta"])


REJECTION_COLUMNS = ["receipt_id", "feed", "district_ags", "delivery_quarter", "source_row", "column",
                     "value", "reason_code", "reason_de", "reason_en"]
MASK = "*** (verborgen / hidden)"


def _quarter_ends(delivery_quarter: pd.Series) -> pd.Series:
    ends = {q: pd.Timestamp(quarter_bounds(q)[1]) for q in delivery_quarter.dropna().unique()}
    return delivery_quarter.map(ends).astype("datetime64[s]")


def _quarter_starts(delivery_quarter: pd.Series) -> pd.Series:
    starts = {q: pd.Timestamp(quarter_bounds(q)[0]) for q in delivery_quarter.dropna().unique()}
    return delivery_quarter.map(starts).astype("datetime64[s]")


def _in_programme(frame: pd.DataFrame, feed: Feed, catalogue: Catalogue) -> pd.Series:
    """A record belongs to a programme of its district whose period holds its date (section 1 of
    indicators.md); comparison districts may only send survey rows."""
    members = catalogue.survey_membership if feed.name == "survey" else catalogue.membership
    if feed.name != "survey":
        members = members[members["role"] == "programme"]
    if feed.date_column is None:
        return frame["district_ags"].isin(members["district_ags"]).astype(object)
    dates = frame[feed.date_column]
    pairs = frame[["district_ags"]].assign(_rid=frame.index, _date=dates).merge(members, on="district_ags")
    inside = pairs[(pairs["_date"] >= pairs["start"]) & (pairs["_date"] <= pairs["end"])]["_rid"].unique()
    result = pd.Series(False, index=frame.index, dtype=object)
    result[frame.index.isin(inside)] = True
    return result.where(dates.notna(), None)


def _wave_listed(frame: pd.DataFrame, catalogue: Catalogue) -> pd.Series:
    """As screen.wave_listed_sql: whether a numbered wave is one the programme of the row (by
    district and date) lists; None where the question does not arise."""
    waves = catalogue.survey_waves
    result = pd.Series(None, index=frame.index, dtype=object)
    asked = frame["wave"].isin(WAVE_NUMBERS) & frame["date"].notna()
    pairs = frame.loc[asked, ["district_ags", "wave"]].assign(_rid=frame.index[asked], _date=frame.loc[asked, "date"])
    pairs = pairs.merge(waves[["district_ags", "start", "end", "wave"]].rename(columns={"wave": "_listed"}),
                        on="district_ags")
    pairs = pairs[(pairs["_date"] >= pairs["start"]) & (pairs["_date"] <= pairs["end"])]
    result[frame.index.isin(pairs["_rid"])] = False
    result[frame.index.isin(pairs.loc[pairs["wave"] == pairs["_listed"], "_rid"])] = True
    return result


def _event_known(frame: pd.DataFrame, known_events: pd.DataFrame) -> pd.Series:
    keys = pd.MultiIndex.from_frame(known_events[["district_ags", "event_id"]].astype(str))
    probe = pd.MultiIndex.from_arrays([frame["district_ags"].astype(str), frame["event_id"].fillna("").astype(str)])
    return pd.Series(probe.isin(keys), index=frame.index, dtype=object).where(frame["event_id"].notna(), None)


def prepare(raw: pd.DataFrame, feed: Feed, contract: Contract, catalogue: Catalogue,
            known_events: pd.DataFrame | None) -> pd.DataFrame:
    """Raw text rows -> the frame the suite validates (typed, raw, unparsed and derived columns)."""
    frame = type_columns(raw, feed.columns, contract)
    for col in ("receipt_id", "district_ags", "delivery_quarter", "source_row"):
        frame[col] = raw[col].to_numpy()
    frame["row_problem"] = raw["row_problem"].to_numpy() if "row_problem" in raw else None
    frame["_quarter_end"] = _quarter_ends(frame["delivery_quarter"])
    frame["_in_programme"] = _in_programme(frame, feed, catalogue)
    if feed.name == "attendance":
        frame["_event_known"] = _event_known(frame, known_events if known_events is not None
                                             else pd.DataFrame(columns=["district_ags", "event_id"]))
    if feed.name == "survey":
        frame["_wave_listed"] = _wave_listed(frame, catalogue)
    if feed.name == "trajectories":  # judged over the whole sheet in SQL (screen.ARRIVAL_CONSISTENT)
        consistent = raw["_arrival_consistent"]
        frame["_arrival_consistent"] = consistent.astype(object).where(consistent.notna(), None).to_numpy()
    for name, expression in feed.derived.items():
        frame[name] = frame.eval(expression)
    frame["_rid"] = np.arange(len(frame))
    return frame.set_index("_rid", drop=False)


def rejection_frame(frame: pd.DataFrame, failures, feed: Feed, headers: dict[str, dict[str, str]]) -> pd.DataFrame:
    """GX's failures as rejections (with `_rid`), under the headers the district wrote."""
    headers = _header_table(headers)
    parts = []
    for meta, rids in failures:
        if not len(rids):
            continue
        columns = meta.get("report_columns") or [meta["column"]]
        values = [frame.loc[rids, f"{c}__raw"].fillna("").astype(str) if f"{c}__raw" in frame else
                  frame.loc[rids, c].astype(str) for c in columns]
        value = values[0] if len(values) == 1 else values[0].str.cat(values[1:], sep=" + ")
        if meta.get("mask_value"):
            value = pd.Series(MASK, index=value.index)
        part = frame.loc[rids, ["_rid", "receipt_id", "district_ags", "delivery_quarter", "source_row"]].copy()
        part["canonical"] = " + ".join(columns)
        part["value"] = value.to_numpy()
        part["reason_code"] = meta["reason_code"]
        part["reason_de"] = meta.get("reason_de")
        part["reason_en"] = meta.get("reason_en")
        parts.append(part.reset_index(drop=True))
    if not parts:
        return pd.DataFrame(columns=["_rid", *REJECTION_COLUMNS])
    rejections = pd.concat(parts, ignore_index=True)
    # A row that cannot be read as a whole (too many or too few fields, another encoding, a
    # formula without a value) gets that one finding: its shifted or empty cells would only add noise.
    whole = rejections["canonical"] == "row_problem"
    rejections = rejections[whole | ~rejections["_rid"].isin(rejections.loc[whole, "_rid"])]
    # A count rejected as out of range (negative) is not compared with its sub-counts as well:
    # "-2 participants, 0 volunteers" is one mistake, not two.
    negative = rejections.loc[rejections["reason_code"] == "out_of_range", "_rid"]
    rejections = rejections[~((rejections["reason_code"] == "inconsistent_counts") & rejections["_rid"].isin(negative))]
    # Report columns under the headers the district wrote (German or English). Rejections are
    # few, so a lookup per finding is cheap.
    written = dict(zip(zip(headers["receipt_id"], headers["canonical"]), headers["header"]))
    rejections["column"] = [" + ".join(written.get((rid, c), c) for c in canonical.split(" + "))
                            for rid, canonical in zip(rejections["receipt_id"], rejections["canonical"])]
    rejections["feed"] = feed.name
    rejections = rejections.drop_duplicates(["_rid", "column", "reason_code", "reason_de"])
    return rejections.sort_values(["receipt_id", "source_row", "reason_code", "column"], kind="stable")[["_rid", *REJECTION_COLUMNS]]


def _header_table(headers: dict[str, dict[str, str]]) -> pd.DataFrame:
    rows = [(rid, canonical, written) for rid, mapping in headers.items() for canonical, written in mapping.items()]
    return pd.DataFrame(rows, columns=["receipt_id", "canonical", "header"])


def accepted_frame(frame: pd.DataFrame, rejected: np.ndarray, feed: Feed) -> pd.DataFrame:
    """The stg rows of a prepared frame: every row not rejected."""
    ok = frame[~frame["_rid"].isin(rejected)]
    out = ok[["receipt_id", "district_ags", "delivery_quarter", "source_row"]].copy()
    if feed.date_column:
        day = ok[feed.date_column]
        out["quarter"] = day.dt.year.astype("string") + "-Q" + ((day.dt.month - 1) // 3 + 1).astype("string")
        out["is_late"] = (day < _quarter_starts(ok["delivery_quarter"])).astype(bool)
    else:
        out["quarter"] = None
        out["is_late"] = False
    for name, _ in stg_columns(feed):
        values = ok[name]
        if isinstance(values.dtype, pd.BooleanDtype):
            values = values.astype(object).where(values.notna(), None)
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            values = values.dt.date
        out[name] = values
    return out.reset_index(drop=True)
