"""How long a district clerk waits for `teilhabe check` on one small file (issue "One engine").

Writes the demo inbox into a scratch folder, picks one of its events CSVs (clean) and one with a
planted error (so Great Expectations is imported to judge it), runs `teilhabe check` on each as
a clerk would (a fresh process each time) and prints the wall times: the first run, and the
median of the rest.

    python bench/check.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEILHABE = Path(sys.executable).with_name("teilhabe")


def _wall(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([str(TEILHABE), "check", str(path)], capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        subprocess.run([str(TEILHABE), "demo", "--home", str(home)], check=True, capture_output=True)
        events = sorted((home / "inbox").glob("*_events.csv"))
        clean = bad = None
        for path in events:  # the first accepted as it is, the first with a finding
            code = _wall(path)[1]
            clean = clean or (path if code == 0 else None)
            bad = bad or (path if code == 1 else None)
            if clean and bad:
                break
        print(f"teilhabe check, one demo CSV, {args.repeat} runs each (a fresh process per run):")
        for label, path in (("clean", clean), ("with findings", bad)):
            if path is None:
                continue
            times = [_wall(path)[0] for _ in range(args.repeat)]
            print(f"  {label:14} {path.name} ({path.stat().st_size:,} bytes): first {times[0]:.2f} s, "
                  f"median {statistics.median(times):.2f} s, min {min(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
