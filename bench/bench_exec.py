"""Benchmark: what a lab command and an engine cost, here and in a baseline checkout, side by side.

For each checkout (``--baseline DIR``, then this one), a child Python with that checkout on
``PYTHONPATH`` starts ``--starts`` engines one after the other (``EngineClient()``: sandbox, boot,
the lab's init and root, ``hello``), then builds a lab of one node and one container and times
``--execs`` runs of ``lab.exec("node1", "true")`` (fork, the lab's namespaces and root, capabilities,
exec, wait, reply), then as many in the container (its own hostname and files too).
The children alternate, baseline first, ``--rounds`` times, so that both see the same load on a
shared machine. It prints the best and the median of each figure for both, and their ratio
(this / baseline). It asserts nothing about time.

    git archive main | tar -x -C /tmp/baseline     # any other checkout will do
    python bench/bench_exec.py --baseline /tmp/baseline [--execs 500] [--starts 20] [--rounds 2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MEASURE = r"""
import json, sys, time
from nethelpers import Lab, Topology
from nethelpers.sandbox import EngineClient

starts, execs = int(sys.argv[1]), int(sys.argv[2])
start = []
for _ in range(starts):
    began = time.perf_counter()
    client = EngineClient()
    start.append(time.perf_counter() - began)
    client.close()
topo = Topology("bench-exec", underlay=None)
topo.add_node("node1")
topo.add_container("c1", node="node1")
run = {"node1": [], "c1": []}
with Lab(topo) as lab:
    for ns, times in run.items():
        for _ in range(execs):
            began = time.perf_counter()
            result = lab.exec(ns, "true")
            times.append(time.perf_counter() - began)
            assert result.ok, result
print(json.dumps({"engine start": start, "exec true": run["node1"], "exec true in a container": run["c1"]}))
"""


def measure(checkout, starts, execs):
    """The figures of one child run on ``checkout``: ``{name: [seconds...]}``."""
    env = dict(os.environ, PYTHONPATH=checkout)
    run = subprocess.run([sys.executable, "-c", MEASURE, str(starts), str(execs)], cwd=checkout, env=env,
                         capture_output=True, text=True, timeout=1800)
    if run.returncode != 0:
        sys.exit(f"the run on {checkout} failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="a folder holding another checkout of the course")
    parser.add_argument("--execs", type=int, default=500)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    checkouts = {"baseline": os.path.abspath(args.baseline), "this": HERE}
    figures = {name: {} for name in checkouts}
    for _ in range(args.rounds):
        for name, checkout in checkouts.items():
            for figure, values in measure(checkout, args.starts, args.execs).items():
                figures[name].setdefault(figure, []).extend(values)
    print(f"baseline: {checkouts['baseline']}\nthis:     {HERE}")
    print(f"{'figure':<28}{'baseline ms':>12}{'this ms':>10}{'ratio':>8}")
    for figure in figures["this"]:
        for how, pick in (("best", min), ("median", statistics.median)):
            before, after = pick(figures["baseline"][figure]) * 1000, pick(figures["this"][figure]) * 1000
            count = len(figures["this"][figure])
            print(f"{figure + f' ({how} of {count})':<28}{before:>12.2f}{after:>10.2f}{after / before:>8.2f}")


if __name__ == "__main__":
    main()
