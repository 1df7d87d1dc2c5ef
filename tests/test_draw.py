"""Discovery and drawing on the real kernel: the kernel holds what was described, changes made
behind the description's back show up, and a captured path is drawn where it went."""

import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from nethelpers import Lab
from nethelpers.discover import Vxlan, described, discover, from_dump
from nethelpers.draw import COLOURS, topology

ROOT = Path(__file__).resolve().parent.parent
LABS = ROOT / "labs"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ["container_to_container.png", "container_to_node.png", "docker0.png", "node_to_container.png",
           "veth_bridge.png"]

# lab file -> (the role of each namespace, the number of veth pairs)
SHAPES = {
    "one-node": ({"lan": "switch", "node1": "node", "c1": "container", "c2": "container", "c3": "container"}, 4),
    "two-nodes": ({"lan": "switch", "node1": "node", "node2": "node", "c1": "container", "c2": "container"}, 4),
    "overlay": ({"lan": "switch", "node1": "node", "node2": "node", "c1": "container", "c2": "container"}, 4),
    "veth-pair": ({"ns1": "namespace", "ns2": "namespace"}, 1),
}


def lab_file(name):
    return str(LABS / f"{name}.yml")


def gids(fig):
    """The ids the drawing gives its interfaces and links: 'seen:c1:eth0', 'path:a--b'..."""
    return {a.get_gid() for ax in fig.axes for a in [*ax.patches, *ax.lines] if a.get_gid()}


def points(fig, state):
    return {g.split(":", 1)[1] for g in gids(fig) if g.startswith(state + ":")}


def red_pixels(path):
    """How many pixels of a PNG have the highlight's red."""
    image = imread(path)[..., :3]
    red = [int(COLOURS["seen"][i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return int((abs(image - red).max(axis=-1) < 0.08).sum())


def echo_requests(lab, source, target):
    """One ping captured at every interface of the lab; only its echo request kept."""
    every = [i.point for i in discover(lab).interfaces() if i.kind != "loopback"]
    capture = lab.capture(every, filter="icmp")
    lab.exec(source, f"ping -c 1 -W 2 {target}", check=True)
    return capture.stop().where(lambda p: "echo-request" in p.summary())


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_discovered_topology_equals_the_described_one(name):
    roles, pairs = SHAPES[name]
    with Lab(lab_file(name)) as lab:
        found = discover(lab)
        assert found.summary() == described(lab)  # namespaces, interfaces, veth pairs, ports, addresses, VTEPs
        assert found.differences(lab) == []  # and every MAC and MTU the description fixes
        assert {n: ns.role for n, ns in found.namespaces.items()} == roles
        assert len(found.links()) == pairs and found.unresolved == []
        for ns_a, if_a, ns_b, if_b in found.links():  # each end names the other
            assert found.interface(ns_a, if_a).peer == (ns_b, if_b)
            assert found.interface(ns_b, if_b).peer == (ns_a, if_a)
        for name_, c in lab.resolved.containers.items():
            eth0 = found.interface(name_, "eth0")
            assert eth0.peer == (c.node, c.veth)
            assert found.interface(c.node, c.veth).master == c.bridge
            assert (eth0.addresses, eth0.mac) == ((f"{c.address}/{c.prefixlen}",), c.mac)
        for node in found.names("node"):
            assert found.uplink(node) == ("lan", node)


def test_overlay_vteps_read_back():
    with Lab(lab_file("overlay")) as lab:
        found = discover(lab)
        assert [i.point for i in found.vxlans()] == ["node1:vxlan0", "node2:vxlan0"]
        vx = found.interface("node1", "vxlan0")
        assert vx.vxlan == Vxlan(vni=42, port=4789, local="10.168.0.2", remote=None, dev="eth0", learning=False)
        assert (vx.master, vx.mtu) == ("docker0", 1450)
        assert found.containers_of("node2") == ["c2"]
        row = found.table().one(namespace="c1", interface="eth0")
        assert (row["role"], row["peer"]) == ("container", f"node1:{lab.resolved.containers['c1'].veth}")
        assert described(lab.topology) == described(lab.resolved) == described(lab)  # no kernel needed


def test_discovery_sees_changes_made_behind_the_descriptions_back(one_node):
    lab = one_node
    assert discover(lab).matches(lab)
    veth_c2 = lab.resolved.containers["c2"].veth
    lab.exec("node1", "ip link add probe0 type veth peer name probe1", check=True)  # no dummy driver here
    lab.exec("node1", "ip addr add 192.0.2.1/24 dev probe0", check=True)
    lab.exec("node1", f"ip link set {veth_c2} nomaster", check=True)
    found = discover(lab)
    assert found.interface("node1", "probe0").peer == ("node1", "probe1")  # same namespace: no nsid
    assert ("node1", "probe0", "node1", "probe1") in found.links()
    assert ("node1", "docker0", veth_c2) not in found.bridge_ports()
    assert found.names("container") == ["c1", "c3"]  # c2 is unplugged: only a namespace now
    assert not found.matches(lab)
    assert sorted(found.differences(lab)) == sorted([
        "namespaces: only in the kernel: c2 namespace",
        "namespaces: only in the description: c2 container",
        "interfaces: only in the kernel: node1 probe0 veth",
        "interfaces: only in the kernel: node1 probe1 veth",
        "links: only in the kernel: node1 probe0 node1 probe1",
        f"bridge_ports: only in the description: node1 docker0 {veth_c2}",
        "addresses: only in the kernel: node1 probe0 192.0.2.1/24",
    ])
    lab.exec("node1", "ip link set docker0 mtu 1400", check=True)
    assert "mtu: node1:docker0 is 1400 in the kernel, 1500 in the description" in discover(lab).differences(lab)


def test_topology_draws_a_captured_path_and_saves_png(one_node, tmp_path):
    lab = one_node
    veth = {c: lab.resolved.containers[c].veth for c in ("c1", "c2", "c3")}
    requests = echo_requests(lab, "c1", "172.17.0.3")
    fig = topology(lab, highlight=requests, title="c1 pings c2")
    assert isinstance(fig, Figure)
    # red where the request was seen; docker0 saw only its promiscuous copy: switched, not for the host
    assert points(fig, "seen") == {"c1:eth0", f"node1:{veth['c1']}", f"node1:{veth['c2']}", "c2:eth0"}
    assert points(fig, "quiet") == {"c3:eth0", f"node1:{veth['c3']}", "node1:eth0", "lan:node1"}  # the uplink too
    assert points(fig, "path") == {
        f"c1:eth0--node1:{veth['c1']}", f"c2:eth0--node1:{veth['c2']}",  # veth pairs thickened
        f"node1:{veth['c1']}--node1:docker0", f"node1:{veth['c2']}--node1:docker0",  # ports to the bridge
        "node1:docker0",  # and the stretch of docker0 between them
    }
    fig.savefig(tmp_path / "path.png")
    topology(lab).savefig(tmp_path / "plain.png")
    assert (tmp_path / "path.png").read_bytes()[:8] == PNG_MAGIC
    assert red_pixels(tmp_path / "path.png") > 2000
    assert red_pixels(tmp_path / "plain.png") == 0
    assert fig._repr_png_()[:8] == PNG_MAGIC  # what Jupyter shows, with or without pyplot


def test_routed_and_masqueraded_path_is_labelled():
    with Lab(lab_file("two-nodes")) as lab:
        requests = echo_requests(lab, "c1", "10.168.0.3")
        fig = topology(lab, highlight=requests)
        assert {"node1:docker0", "node1:eth0", "lan:node1", "lan:node2", "node2:eth0"} <= points(fig, "seen")
        assert points(fig, "routed") == {"node1:docker0--node1:eth0"}  # node1's IP stack, not node2's
        labels = [t.get_text() for t in fig.axes[0].texts]
        assert "routed, SNAT\nsrc 172.17.0.2\n  → 10.168.0.2" in labels


def test_bare_namespaces_and_bad_points():
    with Lab(lab_file("veth-pair")) as lab:
        fig = topology(lab, highlight=["ns1:veth0", "ns2:veth0"])
        assert points(fig, "seen") == {"ns1:veth0", "ns2:veth0"}
        assert points(fig, "path") == {"ns1:veth0--ns2:veth0"}
        with pytest.raises(ValueError, match="'ns1:eth9' is no interface of this lab"):
            topology(lab, highlight=["ns1:eth9"])


def test_drawing_needs_neither_pyplot_nor_a_kernel(tmp_path):
    script = """
import sys
from nethelpers.discover import from_dump
from nethelpers.draw import topology
link = lambda i, name, peer, nsid: {"index": i, "name": name, "kind": "veth", "mac": "02:00:00:00:00:0%d" % i,
    "mtu": 1500, "master": None, "peer_index": peer, "peer_nsid": nsid, "state": "UP"}
dump = {"a": {"links": [link(2, "x", 3, 0)], "addresses": [], "nsids": {0: "b"}},
        "b": {"links": [link(3, "y", 2, 5)], "addresses": [], "nsids": {5: "a"}}}
found = from_dump(dump)
assert found.links() == [("a", "x", "b", "y")], found.links()
topology(found).savefig(sys.argv[1])
print("matplotlib.pyplot" in sys.modules)
"""
    png = tmp_path / "drawn.png"
    result = subprocess.run([sys.executable, "-c", script, str(png)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_figures_script_writes_the_five_figures(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nethelpers.figures", str(tmp_path)], capture_output=True,
                            text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == FIGURES
    for name in FIGURES:
        path = tmp_path / name
        assert path.read_bytes()[:8] == PNG_MAGIC
        height, width = imread(path).shape[:2]
        assert width >= 700 and height >= 700, (name, width, height)
        assert (red_pixels(path) > 2000) == (name != "docker0.png"), name  # four show a path, docker0 none


def test_from_dump_keeps_unresolvable_peers():
    dump = {"a": {"links": [{"index": 2, "name": "x", "kind": "veth", "peer_index": 9, "peer_nsid": 3}],
                  "addresses": [], "nsids": {}}}
    found = from_dump(dump)
    assert found.interface("a", "x").peer is None
    assert found.unresolved == [("a", "x", 3, 9)]
