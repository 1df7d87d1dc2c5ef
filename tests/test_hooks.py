"""The netfilter-hooks picture on real labs: which hooks a packet passed, which rules it met."""

import pytest
from matplotlib.figure import Figure

from nethelpers import Lab, Topology, hooks

COUNTED = """table ip t {
  chain counted {
    type filter hook forward priority 0; policy accept;
    icmp type echo-request counter
  }
}
"""


@pytest.fixture(scope="module")
def routed():
    """c1 on node1 (forwarding, MASQUERADE) pings node2 once, probed in node1 and node2."""
    topo = Topology("hk")
    # Not Docker hosts: the chains a packet passes are the two this test writes, and no others.
    topo.add_node("node1", docker=False, ip_forward=True, masquerade=True)
    topo.add_node("node2", docker=False, bridge=None)
    topo.add_container("c1", node="node1")
    with Lab(topo) as lab:
        lab.exec("node1", ["nft", "-f", "-"], input=COUNTED, check=True)
        rules_before = lab.ruleset("node1").rows
        with hooks.probe(lab, ["node1", "node2"], "icmp type echo-request") as seen:
            ping = lab.exec("c1", "ping -c 1 -W 2 10.168.0.3")
        with hooks.probe(lab, ["node1"], "icmp type echo-request") as local:
            to_node = lab.exec("c1", "ping -c 1 -W 2 172.17.0.1")
        yield {"seen": seen, "local": local, "ping": ping, "to_node": to_node,
               "rules_before": rules_before, "rules_after": lab.ruleset("node1").rows}


def test_a_routed_packet_passes_prerouting_forward_postrouting_then_prerouting_input(routed):
    assert routed["ping"].ok and routed["to_node"].ok
    seen = routed["seen"]
    assert seen.passed("node1") == ["prerouting", "forward", "postrouting"]
    assert seen.passed("node2") == ["prerouting", "input"]
    assert all(seen.counts[("node1", hook)] == 1 for hook in seen.passed("node1"))


def test_a_packet_for_the_node_itself_stops_at_input(routed):
    assert routed["local"].passed("node1") == ["prerouting", "input"]


def test_the_labs_chains_and_the_rules_whose_counters_moved(routed):
    seen = routed["seen"]
    assert seen.chains["node1"]["postrouting"] == ["ip nat POSTROUTING"]
    assert seen.chains["node1"]["forward"] == ["ip t counted"]
    assert seen.chains["node2"] == {hook: [] for hook in hooks.HOOKS}
    assert [(r["namespace"], r["chain"], r["packets"]) for r in seen.matched] == [("node1", "counted", 1)]
    assert len(seen.table()) == 2 * len(hooks.HOOKS)


def test_the_probe_leaves_the_ruleset_as_it_was(routed):
    without_counters = [{k: v for k, v in r.items() if k not in ("packets", "bytes")} for r in routed["rules_after"]]
    assert without_counters == [{k: v for k, v in r.items() if k not in ("packets", "bytes")}
                                for r in routed["rules_before"]]
    assert not [r for r in routed["rules_after"] if r["table"] == hooks.TABLE]


def test_the_figure_marks_the_hooks_passed(routed, tmp_path):
    fig = routed["seen"].figure(title="c1 pings node2")
    assert isinstance(fig, Figure)
    assert fig.hooks_seen == {"node1": ["prerouting", "forward", "postrouting"], "node2": ["prerouting", "input"]}
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("PREROUTING") == 2 and "icmp type echo-request: 1" in "\n".join(texts)
    fig.savefig(tmp_path / "hooks.png")
    assert (tmp_path / "hooks.png").stat().st_size > 10_000
    assert fig._repr_png_()[:4] == b"\x89PNG"
