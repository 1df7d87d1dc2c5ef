"""Soak: run the whole course under nbval again and again while every core is kept busy.

A notebook's kept outputs must be a function of what happened in its lab, never of when
(load, scheduling, timestamps). This runs every notebook under nbval ``--runs`` times with
one CPU hog per core running all along, and prints the failures per cell::

    .venv/bin/python bench/soak.py              # 10 runs, one hog per core
    .venv/bin/python bench/soak.py --runs 3 --hogs 0 notebooks/04-container-to-container.ipynb

It exits 1 when any cell failed in any run. Outside the default test run: it takes a while
(about 3 minutes a run on a 2-core machine).
"""

import argparse
import collections
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def hog():
    """Keep one core busy until killed."""
    while True:
        pass


def run_once(targets, report):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
               "--nbval-sanitize-with", "tests/sanitize.cfg", f"--junitxml={report}", *targets]
    done = subprocess.run(command, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if not os.path.exists(report):
        raise SystemExit(f"pytest wrote no report (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    cases, failed = 0, []
    for case in ET.parse(report).getroot().iter("testcase"):
        cases += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname', '')}::{case.get('name')}")
    return cases, failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="times to run the notebooks (default 10)")
    parser.add_argument("--hogs", type=int, default=os.cpu_count(), help="busy processes (default: one per core)")
    parser.add_argument("targets", nargs="*", default=["notebooks"], help="notebooks or folders (default notebooks)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.hogs < 0:
        parser.error(f"--runs must be 1 or more and --hogs 0 or more (got {args.runs} and {args.hogs})")

    hogs = [multiprocessing.Process(target=hog, daemon=True) for _ in range(args.hogs)]
    for process in hogs:
        process.start()
    failures = collections.Counter()
    total = 0
    started = time.monotonic()
    try:
        (ROOT / "build").mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="soak-", dir=ROOT / "build") as scratch:  # not /tmp: the suite guards it
            for n in range(1, args.runs + 1):
                t = time.monotonic()
                cases, failed = run_once(args.targets, os.path.join(scratch, f"run{n}.xml"))
                total += cases
                failures.update(failed)
                print(f"run {n}/{args.runs}: {cases} cells, {len(failed)} failed, {time.monotonic() - t:.0f} s",
                      flush=True)
                for cell in failed:
                    print(f"    failed: {cell}", flush=True)
    finally:
        for process in hogs:
            process.kill()
            process.join()
    print(f"\n{args.runs} runs, {args.hogs} CPU hogs, {total} cells run in {time.monotonic() - started:.0f} s: "
          f"{sum(failures.values())} failures")
    for cell, count in failures.most_common():
        print(f"  {count:3d}/{args.runs}  {cell}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
