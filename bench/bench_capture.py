"""Capture benchmark: readiness, delay to the notebook, loss at 10,000 packets per second.

Measured on one node with four containers (ten capture points: four eth0, four host veths,
docker0 and the node's uplink), side by side with tcpdump, the way most tutorials capture:

1. ready: time from asking for 10 points until all are capturing. nethelpers: one request to
   the engine, which opens 10 filtered AF_PACKET sockets. tcpdump: one process per point,
   started in parallel, until each has printed "listening on" (its own readiness signal).
2. delay: from a packet's kernel timestamp to the moment the notebook's callback sees it,
   for single UDP frames sent 5 ms apart (median and 95th percentile).
3. loss: 10,000 UDP datagrams in one second from c1 to c2, captured at 5 points on their
   path; packets missing from the capture, and kernel drops, per point.

Targets (issue 3): ready at most 50 ms, median delay at most 5 ms, loss 0. Timings are
printed, never asserted: these machines are shared.

    python bench/bench_capture.py [--repeat 20]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nethelpers import Lab, Topology  # noqa: E402
from nethelpers.packets import udp_datagram  # noqa: E402

SENDER = """
import socket, sys, time
rate, total = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.perf_counter()
for i in range(total):
    while time.perf_counter() < start + i / rate:
        pass
    s.sendto(i.to_bytes(4, "big"), ("172.17.0.3", 9999))
print(f"{time.perf_counter() - start:.3f}")
"""


def build(name="bench-capture"):
    topo = Topology(name)
    topo.add_node("node1")
    for name in ("c1", "c2", "c3", "c4"):
        topo.add_container(name, node="node1")
    return Lab(topo)


def ten_points(lab):
    veths = [lab.resolved.containers[c].veth for c in ("c1", "c2", "c3", "c4")]
    return [f"{c}:eth0" for c in ("c1", "c2", "c3", "c4")] + [f"node1:{v}" for v in veths] + [
        "node1:docker0", "node1:eth0"]


def ready_nethelpers(lab, points, repeat):
    lab.capture(points[:1]).stop(settle=0)  # warm up: scapy's filter compiler is imported once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        capture = lab.capture(points, filter="udp")
        times.append(time.perf_counter() - started)
        capture.stop(settle=0)
    return times


def ready_tcpdump(repeat):
    """tcpdump drops privileges with setgroups(), which a user namespace refuses: this
    baseline runs in root's sandbox without one (NETHELPERS_USERNS=0)."""
    os.environ["NETHELPERS_USERNS"] = "0"
    try:
        with build("bench-tcpdump") as lab:
            return _ready_tcpdump(lab, ten_points(lab), repeat)
    finally:
        del os.environ["NETHELPERS_USERNS"]


def _ready_tcpdump(lab, points, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        procs = [lab.spawn(ns, ["tcpdump", "-l", "-n", "-i", ifname, "udp"])
                 for ns, ifname in (p.split(":") for p in points)]
        waiting, deadline = set(range(len(procs))), time.monotonic() + 20
        while waiting:
            waiting = {i for i in waiting if "listening on" not in procs[i].output()}
            if time.monotonic() > deadline:
                raise RuntimeError("tcpdump never said 'listening on': " + procs[min(waiting)].output())
        times.append(time.perf_counter() - started)
        for proc in procs:
            proc.stop()
    return times


def delay(lab, count=200):
    arrivals = []
    frame = udp_datagram("02:42:ac:11:00:02", "02:42:ac:11:00:03", "172.17.0.2", "172.17.0.3", 5000, 9999)
    capture = lab.capture(["c2:eth0"], filter="udp port 9999",
                          prn=lambda p: arrivals.append(time.time() - p.time))
    for _ in range(count):
        lab.send("c1:eth0", frame)
        time.sleep(0.005)
    capture.stop()
    return arrivals


def loss(lab, rate=10_000, total=10_000):
    veth = {c: lab.resolved.containers[c].veth for c in ("c1", "c2")}
    points = ["c1:eth0", f"node1:{veth['c1']}", "node1:docker0", f"node1:{veth['c2']}", "c2:eth0"]
    lab.exec("c2", "ip neigh replace 172.17.0.2 lladdr 02:42:ac:11:00:02 dev eth0")
    lab.exec("c1", "ip neigh replace 172.17.0.3 lladdr 02:42:ac:11:00:03 dev eth0")
    capture = lab.capture(points, filter="udp port 9999")
    sent = lab.exec("c1", [sys.executable, "-c", SENDER, str(rate), str(total)], timeout=60, check=True)
    packets = capture.stop(settle=0.5)
    return float(sent.stdout), packets.count_at(), packets.drops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with build() as lab:
        points = ten_points(lab)
        ours = ready_nethelpers(lab, points, args.repeat)
        ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
        line = f"ready, 10 points (median)     nethelpers {ms(ours):7.2f} ms"
        if os.geteuid() == 0:
            theirs = ready_tcpdump(max(3, args.repeat // 5))
            line += f"   tcpdump x10 {ms(theirs):7.1f} ms   ratio {ms(ours) / ms(theirs):.3f}"
        else:
            line += "   (tcpdump baseline: root only)"
        print(line + "   target <= 50 ms")
        arrivals = sorted(delay(lab))
        p95 = arrivals[int(len(arrivals) * 0.95) - 1]
        print(f"delay, wire to notebook        median {statistics.median(arrivals) * 1000:6.2f} ms   "
              f"p95 {p95 * 1000:6.2f} ms   ({len(arrivals)} frames)   target median <= 5 ms")
        seconds, counts, drops = loss(lab)
        lost = {p: 10_000 - n for p, n in counts.items()}
        print(f"loss at {10_000 / seconds:,.0f} packets/s for {seconds:.2f} s, 5 points: "
              f"missing {sum(lost.values())}, kernel drops {sum(drops.values())}   target 0")
        for point in counts:
            print(f"    {point:22s} captured {counts[point]:6d}   drops {drops[point]}")


if __name__ == "__main__":
    main()
