"""How long the data-quality warnings take for a whole warehouse (issue 17: at most 10 % of a run).

Runs `compute_warnings` on a COPY of a warehouse (it rewrites row_warnings and the follow-up
list), whole: without the outliers (the rules: what `teilhabe check` does), the outliers alone
(`flag_outliers` and `update_followup`, as compute_warnings calls them) and with both (the
asset's work), and prints the three wall times per repetition (with the CPU time of all of the
process's threads, which a shared machine's load disturbs less), then their medians. With --dump, writes the findings (row_warnings and outlier_followup, all columns,
sorted) to Parquet files there, to compare two versions of the code.

    python bench/warnings.py WAREHOUSE.duckdb --catalogue DIR [--repeat 3] [--dump DIR]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from pipeline import warehouse
from pipeline.catalogue import load_catalogue
from pipeline.indicators.loader import cached_indicators
from pipeline.quality import cached_rules, compute_warnings
from pipeline.quality.findings import register_members
from pipeline.quality.outliers import flag_outliers, update_followup


NAMES = ("rules", "outliers", "total")


def _timed(con, catalogue, outliers: bool) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    compute_warnings(con, catalogue, outliers=outliers)
    return time.perf_counter() - start, time.process_time() - cpu


def _outliers(con, catalogue) -> tuple[float, float]:
    rules = cached_rules(catalogue)
    parameters = {n: p.value for n, p in cached_indicators(catalogue).parameters.items()}
    start, cpu = time.perf_counter(), time.process_time()
    register_members(con, catalogue)
    update_followup(con, flag_outliers(con, rules, parameters, "_rule_members"))
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path, help="a copy: the run rewrites its warnings")
    parser.add_argument("--catalogue", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dump", type=Path, default=None)
    args = parser.parse_args()
    catalogue = load_catalogue(args.catalogue)
    rows = []
    with warehouse.connect(args.warehouse) as con:
        for i in range(args.repeat):
            rules = _timed(con, catalogue, outliers=False)
            outliers = _outliers(con, catalogue)
            total = _timed(con, catalogue, outliers=True)
            rows.append((rules, outliers, total))
            print(f"run {i + 1}: " + "  ".join(f"{name} {w:6.2f} s (CPU {c:6.2f} s)" for name, (w, c) in
                                               zip(NAMES, (rules, outliers, total))), flush=True)
        print("median: " + "  ".join(f"{name} {statistics.median(r[k][0] for r in rows):6.2f} s "
                                     f"(CPU {statistics.median(r[k][1] for r in rows):6.2f} s)" for k, name in enumerate(NAMES)))
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            for table in ("row_warnings", "outlier_followup"):
                con.execute(f"COPY (SELECT * FROM {table} ORDER BY ALL) TO '{args.dump / table}.parquet' (FORMAT parquet)")
            print(con.execute("SELECT reason_code, rule_id, count(*) FROM row_warnings GROUP BY ALL ORDER BY ALL").fetchall())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
