"""Great Expectations as the judge of rows: one validation of a feed's suite over a frame.

Importing GX takes about 4 s, all of it Python holding the GIL, so no thread can overlap it
with the pipeline's own Python work (Dagster starting the run, the intake parsing files).
`teilhabe run` therefore starts a judge *process* first thing: it imports GX on the second core
meanwhile, and `run_suite` hands it the rows to judge. Runs launched from the Dagster UI, the
schedule or the sensor start one when their raw step begins, and staging does for a large pass,
unless this process has GX already. Without a judge (`teilhabe check`, most tests) GX runs in
this process. Either way the same function, `_judge`, validates.
"""
from __future__ import annotations

import atexit
import copy
import functools
import json
import logging
import multiprocessing.connection
import os
import socket
import subprocess
import sys
import threading
import traceback

import numpy as np
import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
logging.getLogger("great_expectations").setLevel(logging.ERROR)


class SuiteError(RuntimeError):
    """An expectation could not be evaluated: the suite and the code disagree. Never swallowed."""


@functools.cache
def _gx():
    import great_expectations as gx
    from tqdm import tqdm

    # GX builds (disabled) tqdm bars, and tqdm's default lock is a multiprocessing semaphore: a
    # judge process that is killed would leave it behind, and Python warns about it at exit.
    # No other process writes these bars, so a thread lock does.
    tqdm.set_lock(threading.RLock())
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
    failed expectation. In the judge process when one runs, else here."""
    if frame.empty:
        return []
    args = (_for_gx(frame), feed.name, feed.suite["expectations"], feed.suite["meta"])
    judge = _JUDGE
    if judge is not None:
        try:
            return judge.judge(args)
        except (EOFError, OSError):  # the judge died (killed, out of memory): judge here instead
            stop_judge()
    return _judge(*args)


class _Judge:
    """The judge: `python -c <_CHILD>` with one end of a socket pair, spoken to as a
    multiprocessing Connection (pickled messages). Not multiprocessing's spawn: that runs the
    parent's main script again in the child, so a script without an `if __name__ == "__main__"`
    guard that ran the pipeline would run its own code twice. Not fork: the parent has DuckDB and
    Dagster threads."""

    def __init__(self):
        self._lock = threading.Lock()
        mine, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen([sys.executable, "-c", _CHILD, str(theirs.fileno()), json.dumps(sys.path)],
                                             pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        self._conn = multiprocessing.connection.Connection(mine.detach())

    def judge(self, args: tuple):
        with self._lock:
            self._conn.send(args)
            ok, value = self._conn.recv()
        if ok:
            return value
        raise value

    def stop(self) -> None:
        self._conn.close()
        self._process.kill()  # it may still be importing GX when nothing needed judging
        self._process.wait()


# The child imports from where this process imports (its sys.path), as multiprocessing's children do.
_CHILD = "import json, sys; sys.path = json.loads(sys.argv[2]); from pipeline.judge import serve; serve(int(sys.argv[1]))"


def serve(fd: int) -> None:
    """The judge process's loop: judge what arrives on this socket until the parent closes it."""
    conn = multiprocessing.connection.Connection(fd)
    _gx()
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send((True, _judge(*args)))
        except SuiteError as exc:
            conn.send((False, exc))
        except Exception as exc:  # GX's own exceptions need not pickle: send what it said
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")))


_JUDGE: _Judge | None = None


def start_judge() -> None:
    """Start the judge process (it imports GX at once); `stop_judge` ends it, at the latest when
    this process exits."""
    global _JUDGE
    if _JUDGE is None:
        try:
            _JUDGE = _Judge()
        except OSError:  # no process to be had (limits): GX runs here, as without a judge
            _JUDGE = None


def start_judge_unless_loaded() -> None:
    """GX will be needed soon: start the judge, unless this process has imported GX already
    (then judging here costs nothing more)."""
    if "great_expectations" not in sys.modules:
        start_judge()


def stop_judge() -> None:
    global _JUDGE
    judge, _JUDGE = _JUDGE, None
    if judge is not None:
        judge.stop()


atexit.register(stop_judge)  # a judge still running when this process exits
