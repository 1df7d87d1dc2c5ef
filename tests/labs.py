"""Small labs that several test modules build."""

from nethelpers import Lab, Topology


def bridge_lab(name, containers=2):
    """A lab ``name``: node1 with docker0 and containers c1..cN, no underlay; built."""
    topo = Topology(name, underlay=None)
    topo.add_node("node1")
    for i in range(1, containers + 1):
        topo.add_container(f"c{i}", node="node1")
    return Lab(topo)
