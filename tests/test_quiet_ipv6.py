"""quiet_ipv6: a default node's IPv6 is Docker's host's, with what it sends at moments of its own;
a quiet node's sends nothing whose moment depends on timing (nethelpers.plan.QUIET_IPV6).

On the kernel, one lab with a node of each kind: their sysctls, the router solicitation a default
node's container receives, and what each node's IPv6 has sent (its /proc/net/snmp6). Without a
kernel: the option's checks in Python and in lab files, the schema, and the shell rendering.
"""

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nethelpers import Lab, Topology, TopologyError
from nethelpers.clean import engines
from nethelpers.plan import QUIET_IPV6
from strategies import budget

ROOT = Path(__file__).resolve().parent.parent

# A router solicitation: ICMPv6 type 133, right after the 40-byte IPv6 header (it carries no
# extension header, unlike a listener report's hop-by-hop one).
ROUTER_SOLICITATION = "icmp6 and ip6[40] == 133"
# The first solicitation comes 1 s after a link's address is ready, the next ones 4, 8, 16 s
# later: the wait ends at the first that c1 receives; the bound is only for a broken build.
SOLICITATION_BOUND = 120

# What a Docker host's kernel leaves (the fidelity test compares them with dockerd's host).
DOCKER_HOST = {"router_solicitations": "-1", "force_mld_version": "0"}


@pytest.fixture(scope="module")
def lab():
    """node1 a default node (c1), node2 a quiet one (c2), both on the underlay; and ``fresh``, a
    namespace whose IPv6 settings nothing changed: the kernel's own."""
    topo = Topology("quiet")
    topo.add_node("node1")
    topo.add_node("node2", quiet_ipv6=True)
    topo.add_container("c1", node="node1")
    topo.add_container("c2", node="node2", address="172.17.0.3")
    topo.add_namespace("fresh")
    with Lab(topo) as built:
        yield built


def _sysctls(lab, ns, keys):
    """``{key: value}`` of ``ns``, read in one command."""
    values = lab.exec(ns, ["sysctl", "-n", *keys], check=True).stdout.split("\n")
    return dict(zip(keys, values))


def _interfaces(lab, container):
    """The conf names of a node's IPv6 settings: all, default, and each of its interfaces."""
    return ["all", "default", "docker0", "eth0", lab.veth(container)]


def test_a_default_nodes_ipv6_settings_are_the_kernels(lab):
    """Nothing of QUIET_IPV6 is set on a default node: its values are those of a namespace
    nobody touched, Docker's host's: solicitations for ever (-1), MLD's own version (0), and
    duplicate address detection on each interface (all's 0 and the interface's own 1)."""
    keys = [key for key, _ in QUIET_IPV6]
    assert _sysctls(lab, "node1", keys) == _sysctls(lab, "fresh", keys)
    for conf in _interfaces(lab, "c1"):
        found = _sysctls(lab, "node1", [f"net.ipv6.conf.{conf}.{name}" for name in (*DOCKER_HOST, "accept_dad")])
        for name, value in DOCKER_HOST.items():
            assert found[f"net.ipv6.conf.{conf}.{name}"] == value, (conf, found)
        if conf not in ("all", "default"):
            assert found[f"net.ipv6.conf.{conf}.accept_dad"] == "1", (conf, found)


def test_a_quiet_nodes_ipv6_settings_are_quiet_ipv6_on_every_interface(lab):
    """Set before any interface exists, so that each interface takes them from ``default``."""
    keys = [key for key, _ in QUIET_IPV6]
    assert _sysctls(lab, "node2", keys) == dict(QUIET_IPV6)
    names = {key.rsplit(".", 1)[1]: value for key, value in QUIET_IPV6}
    for conf in _interfaces(lab, "c2"):
        wanted = {f"net.ipv6.conf.{conf}.{name}": value for name, value in names.items()}
        assert _sysctls(lab, "node2", list(wanted)) == wanted, conf


def _sent(lab, ns):
    """``{counter: value}`` of the ICMPv6 messages ``ns`` has sent (/proc/net/snmp6)."""
    rows = (line.split() for line in lab.exec(ns, ["cat", "/proc/net/snmp6"], check=True).stdout.splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[0].startswith("Icmp6Out")}


def test_a_default_node_sends_router_solicitations_that_its_container_receives(lab):
    """As a Docker host's docker0 and veths do: the first one c1 receives, from one of node1's
    link-local addresses to all routers. By then node1 has also sent duplicate address detection's
    neighbour solicitations and MLDv2 reports; node2, quiet, has sent none of the three kinds,
    and its listener reports the MLDv1 way."""
    seen = lab.sniff(["c1:eth0"], filter=ROUTER_SOLICITATION, count=1, timeout=SOLICITATION_BOUND)
    assert len(seen) == 1, f"no router solicitation reached c1 in {SOLICITATION_BOUND} s"
    (packet,) = seen
    node1_macs = {link["mac"] for link in lab.links("node1")}
    assert packet.direction == "in" and packet.frame.src in node1_macs
    assert packet.frame.dst == "33:33:00:00:00:02"
    ip = packet.frame["IPv6"]
    assert ip.src.startswith("fe80:") and ip.dst == "ff02::2" and ip.hlim == 255
    default, quiet = _sent(lab, "node1"), _sent(lab, "node2")
    for counter in ("Icmp6OutRouterSolicits", "Icmp6OutNeighborSolicits", "Icmp6OutMLDv2Reports"):
        assert default[counter] >= 1, (counter, default)
        assert quiet[counter] == 0, (counter, quiet)
    assert quiet["Icmp6OutGroupMembResponses"] >= 1, quiet


# --- without a kernel -----------------------------------------------------------------------------

NOT_A_FLAG = st.one_of(st.none(), st.integers(-2, 2), st.floats(allow_nan=False, width=16),
                       st.text(max_size=8), st.lists(st.booleans(), max_size=2),
                       st.sampled_from(["true", "false", "yes", "no", "on", "1", ""]))


@budget(50)
@given(value=NOT_A_FLAG)
def test_quiet_ipv6_must_be_a_bool_in_python(value):
    topo = Topology("t")
    topo.add_node("node1", quiet_ipv6=value)
    with pytest.raises(TopologyError) as e:
        topo.validate()
    assert f"node 'node1': quiet_ipv6 must be true or false, not {value!r}" in e.value.problems


@budget(50)
@given(value=NOT_A_FLAG)
def test_quiet_ipv6_must_be_a_bool_in_a_lab_file(value):
    with pytest.raises(TopologyError) as e:
        Topology.from_dict({"name": "t", "nodes": {"node1": {"quiet_ipv6": value}}})
    assert f"nodes.node1.quiet_ipv6: expected true or false, got {type(value).__name__} {value!r}" in str(e.value)


def _our_engines():
    return {pid for pid, ppid in engines() if ppid == os.getpid()}


def test_a_bad_quiet_ipv6_starts_no_engine():
    before = _our_engines()  # this module's lab may be open
    with pytest.raises(TopologyError, match=r"nodes\.node1\.quiet_ipv6: expected true or false, got str 'yes please'"):
        Lab("name: t\nnodes: {node1: {quiet_ipv6: yes please}}\n")
    assert _our_engines() == before


def test_lab_files_read_quiet_ipv6():
    topo = Topology.from_yaml("name: t\nnodes:\n  node1: {quiet_ipv6: true}\n  node2: {quiet_ipv6: false}\n  node3: {}\n")
    assert [topo.nodes[n].quiet_ipv6 for n in ("node1", "node2", "node3")] == [True, False, False]


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(json.loads((ROOT / "nethelpers" / "schema" / "lab.schema.json").read_text()))


def test_the_schema_takes_a_bool_and_refuses_anything_else(validator):
    for value in (True, False):
        assert list(validator.iter_errors({"name": "t", "nodes": {"node1": {"quiet_ipv6": value}}})) == []
    for value in ("yes", 1, None, [True]):
        errors = list(validator.iter_errors({"name": "t", "nodes": {"node1": {"quiet_ipv6": value}}}))
        assert ["/".join(map(str, e.absolute_path)) for e in errors] == ["nodes/node1/quiet_ipv6"], value
        assert "is not of type 'boolean'" in errors[0].message


@pytest.mark.parametrize("path", sorted((ROOT / "labs").glob("*.y*ml")), ids=lambda p: p.name)
def test_the_courses_lab_files_have_quiet_nodes(path):
    """Lessons measure captures and counters that must repeat run after run."""
    topo = Topology.from_file(path)
    assert all(node.quiet_ipv6 for node in topo.nodes.values()), path.name


def _quiet_lines(ns):
    return {f"ip netns exec {ns} sysctl -qw {key}={value}" for key, value in QUIET_IPV6}


@budget(40)
@given(nodes=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=3), ipv6=st.booleans())
def test_the_shell_rendering_sets_quiet_sysctls_on_quiet_nodes_only(nodes, ipv6):
    """``nodes``: (quiet_ipv6, docker) each. The quiet sysctls are where a node is quiet and its
    IPv6 is on (a Docker node, or a lab with ``ipv6=True``); never on a container."""
    topo = Topology("render", ipv6=ipv6)
    for i, (quiet, docker) in enumerate(nodes, 1):
        topo.add_node(f"node{i}", quiet_ipv6=quiet, docker=docker)
        topo.add_container(f"c{i}", node=f"node{i}")
    lines = set(Lab(topo, build=False).commands().splitlines())
    for i, (quiet, docker) in enumerate(nodes, 1):
        on = quiet and (docker or ipv6)
        assert (_quiet_lines(f"node{i}") <= lines) is on, (i, quiet, docker)
        assert not _quiet_lines(f"node{i}") & lines or on
        assert not _quiet_lines(f"c{i}") & lines
