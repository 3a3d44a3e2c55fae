"""`make bench`: the national-scale benchmark (issue "National scale").

On one national home (`teilhabe demo --scale national`, generated under --home if missing) it
measures, in the same run, each step in its own child process:

  (b) floor        bench/floor.py: a minimal hand-written DuckDB script over the same CSVs
  (a) full         `teilhabe run` from an empty warehouse to exports and site (the Dagster run)
  (d) nothing new  `teilhabe run` again with the inbox unchanged: what any run costs before it
                   has work to do (Python, Dagster, the run's bookkeeping, each step finding its
                   inputs unchanged); (c) cannot be cheaper
  (c) incremental  `teilhabe run` again after re-delivering one file

and prints wall time and peak memory (ru_maxrss of the child and its descendants, via wait4) of
each, the ratios a/b, c/a and d/a, the Dagster step times of (a), (c) and (d), and checks that (a) and (b)
agree on every standard indicator total (and, after (c), that the pipeline agrees with the floor
over the changed inbox). A disagreement or a failed run exits 1. Results go to
<home>/.bench/results.json as well.

    python bench/run.py [--home bench-home] [--repeat N] [--districts 400] [--quarters 20]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Deadlines are judged against "today"; pinned so that every run of the benchmark sees the same day.
AS_OF = "2026-03-31"
# The guard of the issue "One engine a newcomer can carry on" (simplicity first, inside these).
TARGETS = {"full / floor": 4.0, "incremental_s": 45.0, "peak memory GB": 4.0}
# The file re-delivered for (c): one district's events of one quarter, resent with a fix and an addition.
REDELIVER_DISTRICT, REDELIVER_QUARTER = 1, 9   # second district, tenth quarter
OUTPUTS = ("warehouse.duckdb", "warehouse.duckdb.wal", "archive", "exports", "reports", "site", "dagster")


def run_child(name: str, command: list[str], env: dict | None = None, log: Path | None = None) -> dict:
    """Run one step in a child process; wall time and its peak RSS (it and what it waited for)."""
    started = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                               cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if log:
        out.close()
    result = {"step": name, "wall_s": round(wall, 2), "peak_mb": round(usage.ru_maxrss / 1024, 1),
              "exit": process.returncode}
    print(f"  {name:<12} {wall:8.1f} s  {usage.ru_maxrss / 1024:8.0f} MB" + ("" if process.returncode == 0 else
                                                                             f"  EXIT {process.returncode}"), flush=True)
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:] if log else ""
        raise SystemExit(f"{name} failed (exit {process.returncode}); log {log}\n{tail}")
    return result


def ensure_home(home: Path, districts: int, quarters: int) -> dict | None:
    if (home / "inbox").is_dir() and (home / "catalogue" / "programmes.yaml").is_file():
        return None
    print(f"Generating the national home in {home} ({districts} districts × {quarters} quarters) …", flush=True)
    code = (f"from pipeline.demo import write_national; from pipeline.home import Home; "
            f"print(len(write_national(Home.resolve({str(home)!r}), districts={districts}, quarters={quarters})))")
    (home / ".bench").mkdir(parents=True, exist_ok=True)
    return run_child("generate", [str(BIN / "python"), "-c", code], log=home / ".bench" / "generate.log")


def redelivery_target(home: Path) -> Path:
    names = sorted(p.name for p in (home / "inbox").glob("*_events.csv"))
    districts = sorted({n[:5] for n in names})
    quarters = sorted({n[6:13] for n in names})
    ags = districts[min(REDELIVER_DISTRICT, len(districts) - 1)]
    quarter = quarters[min(REDELIVER_QUARTER, len(quarters) - 1)]
    return home / "inbox" / f"{ags}_{quarter}_events.csv"


def restore(home: Path) -> None:
    """Put back the original of the re-delivered file, so every repetition starts from the same inbox."""
    saved = home / ".bench" / "original"
    for original in saved.glob("*") if saved.is_dir() else []:
        target = home / "inbox" / original.name
        shutil.copy2(original, target)


def redeliver(home: Path) -> str:
    """The office resends one events file four days later: one head count corrected, one event added."""
    target = redelivery_target(home)
    saved = home / ".bench" / "original"
    saved.mkdir(parents=True, exist_ok=True)
    if not (saved / target.name).exists():
        shutil.copy2(target, saved / target.name)
    original = (saved / target.name).read_bytes().decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in original else "\n"
    lines = original.rstrip("\r\n").split(newline)
    parse = lambda line: next(csv.reader([line]))
    def render(cells):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(cells)
        return buffer.getvalue()
    header = parse(lines[0])
    total, event_id = header.index("participants_total"), header.index("event_id")
    row = parse(lines[1])
    row[total] = str(int(row[total]) + 3) if row[total].isdigit() else "12"
    lines[1] = render(row)
    extra = parse(lines[-1])
    extra[event_id] = extra[event_id].rsplit("-", 1)[0] + "-098"
    lines.append(render(extra))
    target.write_text(newline.join(lines) + newline, encoding="utf-8")
    stamp = (saved / target.name).stat().st_mtime + 4 * 86400
    os.utime(target, (stamp, stamp))
    return target.name


def clean(home: Path) -> None:
    for name in OUTPUTS:
        path = home / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def pipeline_totals(home: Path, indicators: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(home / "exports" / "indicators.csv", dtype={"district_ags": str}, encoding="utf-8-sig",
                        low_memory=False)
    # The overall rows only: breakdown rows (indicator contract section 6) are parts of them.
    frame = frame[(frame["period"] == "total") & (~frame["comparison"]) & frame["indicator_id"].isin(indicators)
                  & frame["breakdown"].isna()]
    return frame[["programme_id", "indicator_id", "district_ags", "value"]]


def compare(home: Path, floor_csv: Path, label: str) -> int:
    floor = pd.read_csv(floor_csv, dtype={"district_ags": str})
    pipe = pipeline_totals(home, sorted(floor["indicator_id"].unique()))
    merged = floor.merge(pipe, on=["programme_id", "indicator_id", "district_ags"], how="outer",
                         suffixes=("_floor", "_pipeline"), indicator=True)
    bad = merged[(merged["_merge"] != "both") | (merged["value_floor"] != merged["value_pipeline"])]
    if len(bad):
        print(f"\n!!! {label}: pipeline and floor DISAGREE on {len(bad)} of {len(merged)} indicator totals:")
        print(bad.head(30).to_string(index=False))
        return len(bad)
    print(f"  {label}: all {len(merged)} indicator totals (programme × indicator × district and ALL) identical")
    return 0


def step_times(home: Path) -> dict[str, float]:
    """Seconds per Dagster step of the latest run of the home's instance."""
    code = """
import json, os, sys
import dagster as dg
instance = dg.DagsterInstance.get()
run = instance.get_runs(limit=1)[0]
starts, out = {}, {}
for e in instance.all_logs(run.run_id):
    if not e.is_dagster_event or not e.step_key:
        continue
    kind = e.dagster_event.event_type_value
    if kind == "STEP_START":
        starts[e.step_key] = e.timestamp
    elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and e.step_key in starts:
        out[e.step_key] = round(e.timestamp - starts[e.step_key], 2)
print(json.dumps(out))
"""
    result = subprocess.run([str(BIN / "python"), "-c", code], env={**os.environ, "DAGSTER_HOME": str(home / "dagster")},
                            capture_output=True, text=True, cwd=ROOT)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {}


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        model = [l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                 if l.startswith("model name")]
        info["cpu"] = model[0] if model else platform.processor()
        mem = [l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")]
        info["memory_gb"] = round(int(mem[0].split()[1]) / 1024 ** 2, 1) if mem else None
    except OSError:
        pass
    for package in ("duckdb", "dagster", "great-expectations", "pandas", "pyarrow"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return info


def volumes(home: Path) -> dict:
    files = list((home / "inbox").iterdir())
    return {"files": len(files), "megabytes": round(sum(p.stat().st_size for p in files) / 1024 ** 2, 1),
            "districts": len({p.name[:5] for p in files}), "quarters": len({p.name[6:13] for p in files})}


def one_round(home: Path, n: int, verify_incremental: bool) -> dict:
    logs = home / ".bench"
    logs.mkdir(exist_ok=True)
    env = {"TEILHABE_AS_OF": AS_OF, "TEILHABE_HOME": str(home)}
    restore(home)
    print(f"Round {n}:", flush=True)
    floor_csv = logs / "floor.csv"
    b = run_child("(b) floor", [str(BIN / "python"), str(ROOT / "bench" / "floor.py"), str(home), str(floor_csv)],
                  log=logs / "floor.log")
    clean(home)
    a = run_child("(a) full", [str(BIN / "teilhabe"), "run", "--home", str(home)], env=env, log=logs / "full.log")
    a["steps"] = step_times(home)
    mismatches = compare(home, floor_csv, "full vs floor")
    d = run_child("(d) nothing", [str(BIN / "teilhabe"), "run", "--home", str(home)], env=env,
                  log=logs / "nothing-new.log")
    d["steps"] = step_times(home)
    name = redeliver(home)
    c = run_child("(c) incr.", [str(BIN / "teilhabe"), "run", "--home", str(home)], env=env,
                  log=logs / "incremental.log")
    c["steps"] = step_times(home)
    c["redelivered"] = name
    if verify_incremental:
        run_child("floor again", [str(BIN / "python"), str(ROOT / "bench" / "floor.py"), str(home),
                                  str(logs / "floor-after.csv")], log=logs / "floor-after.log")
        mismatches += compare(home, logs / "floor-after.csv", "incremental vs floor over the changed inbox")
    restore(home)
    return {"floor": b, "full": a, "incremental": c, "nothing_new": d, "mismatches": mismatches}


MEASURED = (("floor", "(b) floor: DuckDB script"), ("full", "(a) full pipeline"),
            ("incremental", "(c) incremental, one file re-delivered"), ("nothing_new", "(d) nothing new"))


def _table(rounds: list[dict]) -> tuple[dict, list[str]]:
    med = lambda key, field: statistics.median(r[key][field] for r in rounds if key in r)
    summary = {}
    for key, _ in MEASURED:
        summary[key + "_s"] = med(key, "wall_s")
        summary[key + "_mb"] = max(r[key]["peak_mb"] for r in rounds if key in r)
    summary["full / floor"] = round(summary["full_s"] / summary["floor_s"], 2)
    summary["incremental / full"] = round(summary["incremental_s"] / summary["full_s"], 3)
    summary["peak memory GB"] = round(max(summary[k + "_mb"] for k in ("full", "incremental", "nothing_new")) / 1024, 2)
    summary["nothing new / full"] = round(summary["nothing_new_s"] / summary["full_s"], 3)
    lines = ["| step | wall (s) | peak memory (MB) |", "|---|---:|---:|"]
    for key, label in MEASURED:
        walls = ", ".join(f"{r[key]['wall_s']:.1f}" for r in rounds)
        lines.append(f"| {label} | {summary[key + '_s']:.1f}" + (f" ({walls})" if len(rounds) > 1 else "")
                     + f" | {summary[key + '_mb']:.0f} |")
    lines.append("")
    for key, target in TARGETS.items():
        ok = summary[key] <= target
        lines.append(f"- {key}: {summary[key]} (target ≤ {target}) {'met' if ok else 'MISSED'}")
    lines.append(f"- incremental / full: {summary['incremental / full']} (an earlier target was ≤ 0.10)")
    lines.append(f"- nothing new / full: {summary['nothing new / full']} (the least any run costs, as a share "
                 f"of the full run: (c) cannot be below it)")
    last = rounds[-1]
    steps = sorted(set(last["full"]["steps"]) | set(last["incremental"]["steps"]),
                   key=lambda s: -last["full"]["steps"].get(s, 0))
    lines += ["", "| Dagster step | (a) s | (c) s | (d) s |", "|---|---:|---:|---:|"]
    for step in steps:
        lines.append(f"| {step} | {last['full']['steps'].get(step, '–')} | "
                     f"{last['incremental']['steps'].get(step, '–')} | {last['nothing_new']['steps'].get(step, '–')} |")
    return summary, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", default=str(ROOT / "bench-home"))
    parser.add_argument("--districts", type=int, default=400)
    parser.add_argument("--quarters", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of (b), (a), (d), (c); medians are reported")
    parser.add_argument("--no-verify-incremental", action="store_true",
                        help="skip the floor run over the changed inbox after (c)")
    args = parser.parse_args(argv)
    home = Path(args.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    generated = ensure_home(home, args.districts, args.quarters)
    info = {"machine": machine(), "volumes": volumes(home), "as_of": AS_OF,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    print(f"Home {home}: {info['volumes']}\nMachine: {info['machine']}", flush=True)
    rounds = [one_round(home, n + 1, not args.no_verify_incremental) for n in range(args.repeat)]
    summary, lines = _table(rounds)
    print("\n" + "\n".join(lines))
    results = {**info, "generated": generated, "rounds": rounds, "summary": summary}
    (home / ".bench" / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    (home / ".bench" / "results.md").write_text("\n".join(lines) + "\n")
    if any(r["mismatches"] for r in rounds):
        print("\nFAILED: the pipeline's indicator values differ from the floor's (see above).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
