"""Every bad lab description is refused with a TopologyError that names the entry and the value
and says what to do, before the kernel is touched; the defaults of a good one are Docker's.

Each bad case is checked three ways: through the Python API (``Topology(...).add_...()`` then
``validate()``), through a YAML lab file (``Topology.from_yaml(text)``) where the case can be
written in one, and through ``Lab(...)``, which must raise before it starts an engine.
"""

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Callable, Optional

import pytest

import nethelpers.lab
from nethelpers import Lab, Topology, TopologyError
from nethelpers.clean import engines


def our_engines():
    """The engine sandboxes this test process started (others may run labs meanwhile)."""
    return {pid for pid, ppid in engines() if ppid == os.getpid()}

# --- helpers ------------------------------------------------------------------------------


def node1(**options):
    """A lab "t" with one node, node1, and its default docker0 (172.17.0.0/16)."""
    topo = Topology("t")
    topo.add_node("node1", **options)
    return topo


def bare(*namespaces):
    """A lab "t" with no underlay and a few bare namespaces."""
    topo = Topology("t", underlay=None)
    for ns in namespaces:
        topo.add_namespace(ns)
    return topo


@pytest.fixture
def no_engine(monkeypatch):
    """Make starting an engine fail the test, and check no engine process appeared."""
    before = our_engines()

    def forbidden(*args, **kwargs):
        pytest.fail("Lab started an engine for an invalid topology; it must raise TopologyError first")

    monkeypatch.setattr(nethelpers.lab, "EngineClient", forbidden)
    yield
    assert our_engines() == before, "an engine process was started (or left behind)"


# --- the bad cases ------------------------------------------------------------------------


@dataclass
class Bad:
    """One invalid description and what its error must say.

    ``value`` is matched literally (it is the value the learner wrote); ``entry`` and ``todo``
    are regular expressions for the entry's name and for the advice on what to do.
    """

    id: str
    build: Callable[[], Topology]
    value: str
    entry: str
    todo: Optional[str]
    yaml: Optional[str] = None


BAD = [
    Bad(
        "invalid-ipv4",
        lambda: _add(node1(), "c1", address="172.17.0.300"),
        "172.17.0.300", r"container 'c1'", r"not an IPv4 address \(like 172\.17\.0\.2\)",
        """
        name: t
        nodes: {node1: {containers: {c1: {address: 172.17.0.300}}}}
        """,
    ),
    Bad(
        "duplicate-address",
        lambda: _add(_add(node1(), "c1", address="172.17.0.5"), "c2", address="172.17.0.5"),
        "172.17.0.5", r"container 'c2'.*already used by container 'c1'", r"give each its own address",
        """
        name: t
        nodes:
          node1:
            containers:
              c1: {address: 172.17.0.5}
              c2: {address: 172.17.0.5}
        """,
    ),
    Bad(
        "outside-subnet",
        lambda: _add(node1(), "c1", address="172.18.0.5"),
        "172.18.0.5", r"container 'c1'.*outside the subnet 172\.17\.0\.0/16",
        r"pick an address in 172\.17\.0\.0/16",
        """
        name: t
        nodes: {node1: {containers: {c1: {address: 172.18.0.5}}}}
        """,
    ),
    Bad(
        "network-address",
        lambda: _add(node1(), "c1", address="172.17.0.0"),
        "172.17.0.0", r"container 'c1'.*network or broadcast address of 172\.17\.0\.0/16",
        r"pick a host address",
        """
        name: t
        nodes: {node1: {containers: {c1: {address: 172.17.0.0}}}}
        """,
    ),
    Bad(
        "broadcast-address",
        lambda: _add(node1(bridge={"subnet": "10.1.2.0/24"}), "c1", address="10.1.2.255"),
        "10.1.2.255", r"container 'c1'.*network or broadcast address of 10\.1\.2\.0/24",
        r"pick a host address",
        """
        name: t
        nodes:
          node1:
            bridge: {subnet: 10.1.2.0/24}
            containers: {c1: {address: 10.1.2.255}}
        """,
    ),
    Bad(
        "name-too-long",
        lambda: _add(node1(), "container-number1"),
        "'container-number1'", r"container name .* is 17 characters long.*at most 15",
        r"choose a shorter one",
        """
        name: t
        nodes: {node1: {containers: {container-number1: {}}}}
        """,
    ),
    *[
        Bad(
            f"name-with-{label}",
            lambda name=name: _add(node1(), name),
            repr(name), r"container name .* has characters the kernel or `ip` refuses",
            r"use letters, digits, '_', '\.' and '-'",
            f"""
            name: t
            nodes: {{node1: {{containers: {{"{name}": {{}}}}}}}}
            """,
        )
        for label, name in (("slash", "c/1"), ("space", "c 1"), ("colon", "c:1"))
    ],
    Bad(
        "node-and-container-same-name",
        lambda: _add(_node("x"), "x", node="x"),
        "'x'", r"container 'x'.*already used by node 'x'", r"names must be unique in a lab",
        """
        name: t
        nodes: {x: {containers: {x: {}}}}
        """,
    ),
    Bad(
        "container-added-twice",
        lambda: _add(_add(node1(), "c1"), "c1"),
        "'c1'", r"container 'c1'.*used twice", r"give each container its own name",
        """
        name: t
        nodes:
          node1:
            containers: {c1: {}}
            pods: {c1: {}}
        """,
    ),
    Bad(
        "container-on-unknown-node",
        lambda: _add(node1(), "c1", node="node9"),
        "'node9'", r"container 'c1': unknown node", r"add the node first \(known nodes: 'node1'\)",
    ),
    Bad(
        "veth-to-unknown-namespace",
        lambda: _veth(bare("ns1"), "ns1:veth0", "ns9:veth0"),
        "'ns9:veth0'", r"veth pair #1: endpoint .* names an unknown namespace 'ns9'", r"known: ns1",
        """
        name: t
        namespaces: [ns1]
        links: [{endpoints: ["ns1:veth0", "ns9:veth0"]}]
        """,
    ),
    Bad(
        "veth-malformed-endpoint",
        lambda: _veth(bare("ns1", "ns2"), "ns1-veth0", "ns2:veth0"),
        "'ns1-veth0'", r"veth pair #1: endpoint", r"must be written 'namespace:interface', like 'ns1:veth0'",
        """
        name: t
        namespaces: [ns1, ns2]
        links: [{endpoints: [ns1-veth0, "ns2:veth0"]}]
        """,
    ),
    *[
        Bad(
            f"vni-{vni}",
            lambda vni=vni: _vxlan(node1(), vni),
            f"VNI {vni}", r"vxlan 'vxlan0' in 'node1'", r"out of range: use 0 to 16777215 \(24 bits\)",
            f"""
            name: t
            nodes: {{node1: {{}}}}
            vxlan: [{{ns: node1, name: vxlan0, vni: {vni}}}]
            """,
        )
        for vni in (2**24, -1)
    ],
    *[
        Bad(
            f"dstport-{port}",
            lambda port=port: _vxlan(node1(), 42, dstport=port),
            f"dstport {port}", r"vxlan 'vxlan0' in 'node1'", r"out of range: use 1 to 65535",
            f"""
            name: t
            nodes: {{node1: {{}}}}
            vxlan: [{{ns: node1, name: vxlan0, vni: 42, dstport: {port}}}]
            """,
        )
        for port in (0, 65536)
    ],
    *[
        Bad(
            f"bridge-mtu-{mtu}",
            lambda mtu=mtu: node1(bridge={"mtu": mtu}),
            f"mtu {mtu}", r"node 'node1': bridge docker0", r"out of range: use 68 to 65535",
            f"""
            name: t
            nodes: {{node1: {{bridge: {{mtu: {mtu}}}}}}}
            """,
        )
        for mtu in (67, 65536)
    ],
    Bad(
        "bridge-mtu-string",
        lambda: node1(bridge={"mtu": "1500"}),
        "'1500'", r"node 'node1': bridge docker0 mtu", r"must be an integer",
        # in a lab file the reader refuses it first, with its path (see test_lab_file_wrong_type)
    ),
    *[
        Bad(
            f"veth-mtu-{mtu!r}",
            lambda mtu=mtu: _veth(bare("a", "b"), "a:x", "b:y", mtu=mtu),
            f"{mtu!r}" if isinstance(mtu, str) else f"mtu {mtu}", r"veth pair #1: mtu",
            r"must be an integer" if isinstance(mtu, str) else r"out of range: use 68 to 65535",
            None if isinstance(mtu, str) else f"""
            name: t
            namespaces: [a, b]
            links: [{{endpoints: ["a:x", "b:y"], mtu: {mtu}}}]
            """,
        )
        for mtu in (67, 65536, "1500")
    ],
    Bad(
        "vxlan-mtu",
        lambda: _vxlan(node1(), 42, mtu=65536),
        "mtu 65536", r"vxlan 'vxlan0' in 'node1'", r"out of range: use 68 to 65535",
    ),
    Bad(
        "route-without-via-or-dev",
        lambda: _route(bare("a"), "a", "default"),
        "'default'", r"route to .* in 'a'", r"give a gateway \(via\) or a device \(dev\)",
        """
        name: t
        namespaces: [a]
        routes: [{ns: a, to: default}]
        """,
    ),
    Bad(
        "non-net-sysctl",
        lambda: _sysctl(bare("a"), "a", "kernel.pid_max", 4194304),
        "'kernel.pid_max'", r"sysctl .* in 'a'.*only net\.\* sysctls belong to a network namespace",
        r"use a key like net\.ipv4\.ip_forward",
        """
        name: t
        namespaces: [a]
        sysctls: {a: {kernel.pid_max: 4194304}}
        """,
    ),
    Bad(
        "node-underlay-address-outside",
        lambda: node1(address="10.169.0.2"),
        "10.169.0.2", r"node 'node1': address", r"pick an address in 10\.168\.0\.0/24",
        """
        name: t
        nodes: {node1: {address: 10.169.0.2}}
        """,
    ),
]


def _node(name):
    topo = Topology("t")
    topo.add_node(name)
    return topo


def _add(topo, name, node="node1", **options):
    topo.add_container(name, node, **options)
    return topo


def _veth(topo, a, b, **options):
    topo.add_veth(a, b, **options)
    return topo


def _vxlan(topo, vni, **options):
    topo.add_vxlan("node1", "vxlan0", vni, **options)
    return topo


def _route(topo, ns, to, **options):
    topo.add_route(ns, to, **options)
    return topo


def _sysctl(topo, ns, key, value):
    topo.add_sysctl(ns, key, value)
    return topo


def _dedent(text):
    lines = [line for line in text.splitlines() if line.strip()]
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return "\n".join(line[indent:] for line in lines) + "\n"


def check_message(error, case):
    """The error names the value (literally), the entry and, where it has one, what to do."""
    message = str(error)
    assert case.value in message, f"the value {case.value!r} is missing from: {message}"
    assert re.search(case.entry, message), f"the entry ({case.entry}) is not named in: {message}"
    if case.todo:
        assert re.search(case.todo, message), f"no advice ({case.todo}) in: {message}"
    # the problem that names the value is the first one listed
    first = error.problems[0]
    assert case.value in first and re.search(case.entry, first), error.problems


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.id)
def test_python_api_refuses(case):
    topo = case.build()
    with pytest.raises(TopologyError, match=re.escape(case.value)) as excinfo:
        topo.validate()
    check_message(excinfo.value, case)


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.id)
def test_one_mistake_gives_one_problem(case):
    with pytest.raises(TopologyError) as excinfo:
        case.build().validate()
    assert len(excinfo.value.problems) == 1, excinfo.value.problems
    assert str(excinfo.value) == excinfo.value.problems[0]


@pytest.mark.parametrize("case", [c for c in BAD if c.yaml], ids=lambda c: c.id)
def test_lab_file_refuses(case):
    text = _dedent(case.yaml)
    with pytest.raises(TopologyError, match=re.escape(case.value)) as excinfo:
        Topology.from_yaml(text).validate()
    check_message(excinfo.value, case)


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.id)
def test_lab_refuses_before_starting_an_engine(case, no_engine):
    with pytest.raises(TopologyError, match=re.escape(case.value)) as excinfo:
        Lab(case.build())
    check_message(excinfo.value, case)


@pytest.mark.parametrize("case", [c for c in BAD if c.yaml], ids=lambda c: c.id)
def test_lab_from_yaml_refuses_before_starting_an_engine(case, no_engine):
    with pytest.raises(TopologyError, match=re.escape(case.value)):
        Lab(_dedent(case.yaml))


def test_bad_cases_are_valid_once_corrected():
    """The cases above fail for the reason given, not for a mistake in the test's scaffolding."""
    _add(node1(), "c1", address="172.17.0.30").validate()
    _add(_node("x"), "c1", node="x").validate()
    _veth(bare("ns1", "ns2"), "ns1:veth0", "ns2:veth0", mtu=9000).validate()
    _vxlan(node1(), 2**24 - 1, dstport=65535, mtu=68).validate()
    _vxlan(node1(), 0, dstport=1).validate()
    node1(bridge={"mtu": 65535}).validate()
    node1(bridge={"subnet": "10.1.2.0/24"}).validate()
    _route(bare("a"), "a", "default", via="10.0.0.1").validate()
    _sysctl(bare("a"), "a", "net.ipv4.ip_forward", 1).validate()
    _add(node1(), "a-15-char-name_").validate()


# --- lab files: unknown keys and wrong types, with their path ---------------------------------


def test_lab_file_unknown_key():
    text = "name: t\nnodes:\n  node1:\n    containers:\n      c1: {adress: 172.17.0.2}\n"
    with pytest.raises(TopologyError, match=r"nodes\.node1\.containers\.c1: unknown key 'adress'") as e:
        Topology.from_yaml(text)
    assert "known keys: address, mac" in str(e.value)


def test_lab_file_unknown_top_level_key():
    with pytest.raises(TopologyError, match=r"\(top level\): unknown key 'node'") as e:
        Topology.from_yaml("name: t\nnode: {node1: {}}\n")
    assert "nodes" in str(e.value).split("known keys:")[1]


@pytest.mark.parametrize(
    "text, path, shown, expected",
    [
        ("nodes: {node1: {bridge: {mtu: big}}}", "nodes.node1.bridge.mtu", "str 'big'", "an integer"),
        ('nodes: {node1: {bridge: {mtu: "1500"}}}', "nodes.node1.bridge.mtu", "str '1500'", "an integer"),
        ('nodes: {node1: {ip_forward: "yes"}}', "nodes.node1.ip_forward", "str 'yes'", "true or false"),
        ("nodes: {node1: {masquerade: 1}}", "nodes.node1.masquerade", "int 1", "true or false"),
        ("nodes: {node1: {containers: [c1]}}", "nodes.node1.containers", "list ['c1']", "a mapping"),
        ("vxlan: [{ns: node1, name: vxlan0, vni: 42, dstport: '4789'}]", "vxlan[0].dstport", "str '4789'",
         "a port number or null"),
        ("nodes: {node1: {containers: {c1: {mac: 1234}}}}", "nodes.node1.containers.c1.mac",
         "int 1234", "'docker', 'random' or a MAC"),
        ("namespaces: [ns1, 7]", "namespaces[1]", "int 7", "a name"),
    ],
)
def test_lab_file_wrong_type(text, path, shown, expected):
    with pytest.raises(TopologyError, match=re.escape(f"{path}: expected {expected}, got {shown}")):
        Topology.from_yaml("name: t\n" + text + "\n")


# A required key of the wrong type is reported as such, not as a crash.
@pytest.mark.parametrize(
    "text, message",
    [
        ("vxlan: [{ns: node1, name: vxlan0, vni: '42'}]", "vxlan[0].vni: expected an integer, got str '42'"),
        ("routes: [{ns: node1, to: 5}]", "routes[0].to: expected a subnet or 'default', got int 5"),
        ("links: [{endpoints: 'a:x'}]", "links[0].endpoints: expected a list of two 'namespace:interface', got str 'a:x'"),
        ("publish: [{container: c1, port: '80'}]", "publish[0].port: expected a port number, got str '80'"),
    ],
    ids=["vxlan-vni", "route-to", "link-endpoints", "publish-port"],
)
def test_lab_file_required_key_of_wrong_type(text, message):
    with pytest.raises(TopologyError, match=re.escape(message)):
        Topology.from_yaml("name: t\nnodes: {node1: {}}\n" + text + "\n")


def test_lab_file_link_with_three_endpoints():
    text = 'name: t\nnamespaces: [a, b, c]\nlinks: [{endpoints: ["a:x", "b:x", "c:x"]}]\n'
    with pytest.raises(TopologyError, match=r"links\[0\]\.endpoints: .*'c:x'"):
        Topology.from_yaml(text).validate()


def test_lab_file_link_with_one_endpoint():
    text = 'name: t\nnamespaces: [a]\nlinks: [{endpoints: ["a:x"]}]\n'
    with pytest.raises(TopologyError, match=r"endpoint.*'namespace:interface'"):  # the message could name 'a:x'
        Topology.from_yaml(text).validate()


def test_lab_file_missing_keys():
    with pytest.raises(TopologyError, match=r"\(top level\): missing key 'name'"):
        Topology.from_yaml("nodes: {node1: {}}\n")
    with pytest.raises(TopologyError, match=r"links\[0\]: missing key 'endpoints'"):
        Topology.from_yaml("name: t\nlinks: [{addresses: [10.0.0.1/24]}]\n")


def test_lab_file_not_yaml_and_not_a_mapping():
    with pytest.raises(TopologyError, match=r"not valid YAML"):
        Topology.from_yaml("name: [t\n")
    with pytest.raises(TopologyError, match=r"expected a mapping, got list \['a', 'b'\]"):
        Topology.from_yaml("- a\n- b\n")


def test_lab_file_missing_file(tmp_path):
    missing = tmp_path / "nope.yml"
    with pytest.raises(TopologyError, match=re.escape(f"{missing}: cannot read the lab file")):
        Topology.from_yaml(missing)


def test_lab_file_problems_name_the_file(tmp_path):
    path = tmp_path / "typo.yml"
    path.write_text("name: t\nnodes: {node1: {containers: {c1: {adress: 172.17.0.2}}}}\n")
    with pytest.raises(TopologyError, match=re.escape(f"{path}: nodes.node1.containers.c1: unknown key")):
        Topology.from_yaml(str(path))


def test_lab_file_reports_every_problem_at_once():
    text = _dedent(
        """
        name: t
        nodes:
          node1:
            ip_forward: "yes"
            bridge: {mtu: big}
            containers:
              c1: {adress: 172.17.0.2}
        """
    )
    with pytest.raises(TopologyError, match=r"^3 problems in the lab description:") as e:
        Topology.from_yaml(text)
    problems = e.value.problems
    assert len(problems) == 3, problems
    assert any("nodes.node1.ip_forward: expected true or false, got str 'yes'" in p for p in problems)
    assert any("nodes.node1.bridge.mtu: expected an integer, got str 'big'" in p for p in problems)
    assert any("nodes.node1.containers.c1: unknown key 'adress'" in p for p in problems)


# --- several problems at once ---------------------------------------------------------------


def test_every_problem_is_listed():
    topo = node1()
    topo.add_container("c1", "node1", address="172.17.0.300")
    topo.add_container("container-number1", "node1")
    topo.add_container("c3", "node9")
    topo.add_vxlan("node1", "vxlan0", 2**24)
    topo.add_sysctl("node1", "kernel.pid_max", 1)
    with pytest.raises(TopologyError, match=r"^5 problems in the lab description:\n  - ") as e:
        topo.validate()
    problems = e.value.problems
    assert len(problems) == 5, problems
    for value in ("172.17.0.300", "container-number1", "node9", "16777216", "kernel.pid_max"):
        assert sum(value in p for p in problems) == 1, (value, problems)
        assert f"  - {[p for p in problems if value in p][0]}" in str(e.value)


def test_every_problem_is_listed_from_a_lab_file():
    text = _dedent(
        """
        name: t
        namespaces: [ns1, ns2]
        links:
          - {endpoints: [ns1-veth0, "ns2:veth0"]}
          - {endpoints: ["ns1:veth1", "ns9:veth0"], mtu: 67}
        routes: [{ns: ns1, to: default}]
        """
    )
    with pytest.raises(TopologyError) as e:
        Topology.from_yaml(text).validate()
    problems = e.value.problems
    assert len(problems) == 4, problems
    assert "veth pair #1: endpoint 'ns1-veth0' must be written" in problems[0]
    assert any("'ns9:veth0' names an unknown namespace 'ns9'" in p for p in problems)
    assert any("veth pair #2: mtu 67 is out of range" in p for p in problems)
    assert any("route to 'default' in 'ns1': give a gateway" in p for p in problems)


# --- a built lab refuses an unknown namespace ----------------------------------------------


def test_exec_in_unknown_namespace_names_it_and_lists_the_lab():
    assert not our_engines()
    topo = Topology("t", underlay=None)
    topo.add_namespace("a")
    with Lab(topo) as lab:
        assert lab.exec("a", "true").ok
        with pytest.raises(TopologyError, match=r"namespace 'nope' is not in lab 't'; it has a$"):
            lab.exec("nope", "true")
        with pytest.raises(TopologyError, match=r"'nope'"):
            lab.spawn("nope", "sleep 1")
        assert lab.exec("a", "true").ok  # the lab still works after the refusal
        assert len(our_engines()) == 1
    assert lab.closed
    assert not our_engines()


# --- the good paths: Docker's defaults ------------------------------------------------------


def test_auto_addresses_are_given_in_order_from_2():
    topo = node1()
    for name in ("c1", "c2", "c3"):
        topo.add_container(name, "node1")
    r = topo.resolve()
    assert [r.containers[c].address for c in ("c1", "c2", "c3")] == ["172.17.0.2", "172.17.0.3", "172.17.0.4"]
    assert {c.prefixlen for c in r.containers.values()} == {16}
    assert {c.gateway for c in r.containers.values()} == {"172.17.0.1"}
    assert r.nodes["node1"].bridge_address == "172.17.0.1/16"


def test_auto_addresses_skip_a_taken_one():
    topo = node1()
    topo.add_container("c1", "node1")
    topo.add_container("c2", "node1", address="172.17.0.3")  # taken, though declared after c1
    topo.add_container("c3", "node1")
    r = topo.resolve()
    assert [r.containers[c].address for c in ("c1", "c2", "c3")] == ["172.17.0.2", "172.17.0.3", "172.17.0.4"]
    topo = node1()
    topo.add_container("c1", "node1", address="172.17.0.2")
    topo.add_container("c2", "node1")
    assert topo.resolve().containers["c2"].address == "172.17.0.3"


def test_auto_addresses_follow_the_bridge_subnet():
    topo = node1(bridge={"subnet": "10.1.2.0/24", "address": "10.1.2.254"})
    topo.add_container("c1", "node1")
    r = topo.resolve()
    assert r.containers["c1"].address == "10.1.2.1"
    assert r.containers["c1"].gateway == "10.1.2.254"


def test_docker_mac_rule():
    topo = node1()
    topo.add_container("c1", "node1")
    topo.add_container("c2", "node1", address="172.17.1.10")
    topo.add_container("c3", "node1", mac="random")
    topo.add_container("c4", "node1", mac="02:AA:BB:CC:DD:EE")
    r = topo.resolve()
    assert r.containers["c1"].mac == "02:42:ac:11:00:02"
    assert r.containers["c2"].mac == "02:42:ac:11:01:0a"
    assert r.containers["c3"].mac is None  # the kernel chooses
    assert r.containers["c4"].mac == "02:aa:bb:cc:dd:ee"
    veth_steps = {s.args["peer_ns"]: s.args for s in topo.plan() if s.op == "veth"}
    assert veth_steps["c1"]["peer_mac"] == "02:42:ac:11:00:02"
    # made in the node with Docker's MAC, then moved into c1 and renamed, as Docker does
    assert re.search(r"peer name (veth[0-9a-f]{7}p) address 02:42:ac:11:00:02 txqueuelen 0\n"
                     r"ip -n node1 link set \1 netns c1 name eth0\n", topo.commands())


def test_veth_names_are_veth_and_7_hex_and_stable():
    def veths():
        topo = node1()
        topo.add_container("c1", "node1")
        topo.add_container("c2", "node1")
        r = topo.resolve()
        return r.containers["c1"].veth, r.containers["c2"].veth, topo

    c1, c2, topo = veths()
    for name in (c1, c2):
        assert re.fullmatch(r"veth[0-9a-f]{7}", name), name
    assert c1 != c2
    assert topo.resolve().containers["c1"].veth == c1  # the same topology, resolved again
    assert veths()[:2] == (c1, c2)  # a new topology with the same names
    assert f"ip -n node1 link add {c1} " in topo.commands()
    assert c1 in topo.resolve().interfaces["node1"]


def test_node_underlay_addresses_default_to_2_and_3():
    topo = Topology("t")
    topo.add_node("node1")
    topo.add_node("node2")
    r = topo.resolve()
    assert str(r.nodes["node1"].address) == "10.168.0.2"
    assert str(r.nodes["node2"].address) == "10.168.0.3"
    addrs = [(s.ns, s.args["dev"], s.args["address"]) for s in topo.plan() if s.op == "addr"]
    assert ("node1", "eth0", "10.168.0.2/24") in addrs
    assert ("node2", "eth0", "10.168.0.3/24") in addrs
    assert re.search(r"^ip -n node2 addr add 10\.168\.0\.3/24 .*dev eth0$", topo.commands(), re.M)
    assert r.namespaces == ["lan", "node1", "node2"]


def test_node_underlay_default_skips_a_given_address():
    topo = Topology("t")
    topo.add_node("node1", address="10.168.0.3")
    topo.add_node("node2")
    r = topo.resolve()
    assert str(r.nodes["node1"].address) == "10.168.0.3"
    assert str(r.nodes["node2"].address) == "10.168.0.2"
    assert isinstance(ipaddress.ip_address(str(r.nodes["node2"].address)), ipaddress.IPv4Address)


def test_validate_returns_the_topology_and_touches_nothing(no_engine):
    topo = node1()
    topo.add_container("c1", "node1")
    assert topo.validate() is topo
    assert topo.plan()[0].command() == "ip netns add lan"
