"""The write-up's five figures, drawn from live labs: ``python -m nethelpers.figures [OUTDIR]``.

The write-up the course follows names five figures it never supplied. Each is made here by
building a lab, reading it back from the kernel (:mod:`nethelpers.discover`), and, for the
four that show a packet's path, capturing one ping at every interface of the lab and
highlighting where its echo request was seen (:mod:`nethelpers.draw`):

* ``docker0.png``: one node, its docker0 bridge and two containers;
* ``container_to_container.png``: c1 pings c2 on the same node (c3 sees nothing);
* ``container_to_node.png``: c1 pings node2; node1 routes and masquerades it;
* ``node_to_container.png``: node1 pings c1 through docker0;
* ``veth_bridge.png``: c1 on node1 pings c2 on node2 across a VXLAN overlay.

OUTDIR defaults to the repository's ``img/``. Every lab is torn down before this returns.
"""

import os
import sys
import time
from pathlib import Path

from .discover import discover
from .draw import topology
from .i18n import tr
from .lab import Lab
from .topology import Topology

ROOT = Path(__file__).resolve().parent.parent
LABS = ROOT / "labs"
DPI = 120


def _lab_file(name):
    return str(LABS / f"{name}.yml")


def echo_request_path(lab, source, target, filter="icmp"):
    """Capture one ping from ``source`` to ``target`` at every interface of ``lab``.

    Returns the Capture of its echo request (inner or outer: an encapsulated request counts),
    with every capture point kept, so the points that saw nothing can be told apart.
    """
    from scapy.layers.inet import ICMP

    points = [i.point for i in discover(lab).interfaces() if i.kind != "loopback"]
    capture = lab.capture(points, filter=filter)
    try:
        lab.exec(source, f"ping -c 1 -W 2 {target}", check=True)
    finally:
        packets = capture.stop(settle=0.1)
    requests = packets.where(lambda p: ICMP in p.frame and p.frame[ICMP].type == 8)
    if not requests:
        raise RuntimeError(f"{lab.topology.name}: no echo request from {source} to {target} was captured")
    return requests


def docker0(outdir):
    topo = Topology("docker0")
    topo.add_node("node1")
    topo.add_container("c1", node="node1")
    topo.add_container("c2", node="node1")
    with Lab(topo) as lab:
        fig = topology(lab, title=tr("docker0: the bridge Docker adds to a node. Containers c1 and c2 plug into it "
                                  "through veth pairs (eth0 inside, vethXXXXXXX on docker0)"))
        return _save(fig, outdir, "docker0.png")


def container_to_container(outdir):
    with Lab(_lab_file("one-node")) as lab:
        path = echo_request_path(lab, "c1", "172.17.0.3")
        fig = topology(lab, highlight=path,
                       title=tr("Container to container: c1 pings c2 (172.17.0.3). The echo request, captured at "
                             "every interface, goes down c1's veth pair, across docker0 and up c2's: switched, "
                             "not routed (c3, node1's eth0 and the LAN see nothing)"))
        return _save(fig, outdir, "container_to_container.png")


def container_to_node(outdir):
    with Lab(_lab_file("two-nodes")) as lab:
        path = echo_request_path(lab, "c1", "10.168.0.3")
        fig = topology(lab, highlight=path,
                       title=tr("Container to another node: c1 pings node2 (10.168.0.3). c1's default route sends "
                             "the echo request to docker0; node1 routes it out of eth0 and masquerades it, "
                             "so node2 sees node1's address"))
        return _save(fig, outdir, "container_to_node.png")


def node_to_container(outdir):
    with Lab(_lab_file("two-nodes")) as lab:
        path = echo_request_path(lab, "node1", "172.17.0.2")
        fig = topology(lab, highlight=path,
                       title=tr("The node to its container: node1 pings c1 (172.17.0.2). Its route to "
                             "172.17.0.0/16 leads out of docker0, which switches the echo request to c1's port"))
        return _save(fig, outdir, "node_to_container.png")


def veth_bridge(outdir):
    with Lab(_lab_file("overlay")) as lab:
        path = echo_request_path(lab, "c1", "172.17.0.3", filter="icmp or udp port 4789")
        fig = topology(lab, highlight=path,
                       title=tr("Containers on two nodes: c1 (node1) pings c2 (node2) over a VXLAN overlay. "
                             "docker0 switches the echo request to vxlan0, which wraps it in UDP 4789 "
                             "through eth0 and the LAN; node2's vxlan0 unwraps it onto its docker0"))
        return _save(fig, outdir, "veth_bridge.png")


FIGURES = {
    "docker0.png": docker0,
    "container_to_container.png": container_to_container,
    "container_to_node.png": container_to_node,
    "node_to_container.png": node_to_container,
    "veth_bridge.png": veth_bridge,
}


def _save(fig, outdir, name):
    path = os.path.join(outdir, name)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})  # no version stamp: reruns give the same bytes
    return path


def main(argv=None):
    """Render every figure into OUTDIR (default: the repository's img/); print each path."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1 or argv and argv[0].startswith("-"):
        print("usage: python -m nethelpers.figures [OUTDIR]", file=sys.stderr)
        return 2
    if not LABS.is_dir():
        print(f"no lab files in {LABS}: run this from a checkout of the course repository", file=sys.stderr)
        return 1
    outdir = argv[0] if argv else str(ROOT / "img")
    os.makedirs(outdir, exist_ok=True)
    started = time.perf_counter()
    for name, make in FIGURES.items():
        t = time.perf_counter()
        path = make(outdir)
        print(f"{path}  ({time.perf_counter() - t:.1f} s)")
    print(f"{len(FIGURES)} figures in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
