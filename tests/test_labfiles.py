"""The lab files in labs/: each is valid, each builds, and each allows the ping it is meant to;
the command line checks them; and nethelpers/schema/lab.schema.json says what labfile.py reads.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nethelpers import Lab, Topology, labfile, validate
from nethelpers.clean import engines

ROOT = Path(__file__).resolve().parent.parent
LAB_FILES = sorted((ROOT / "labs").glob("*.yml")) + sorted((ROOT / "labs").glob("*.yaml"))
SCHEMA_PATH = ROOT / "nethelpers" / "schema" / "lab.schema.json"


def our_engines():
    """The engine sandboxes this test process started (others may run labs meanwhile)."""
    return {pid for pid, ppid in engines() if ppid == os.getpid()}


def lab_id(path):
    return path.name


# --- every lab file is valid ----------------------------------------------------------------


def test_there_are_lab_files():
    assert {p.name for p in LAB_FILES} >= {"one-node.yml", "two-nodes.yml", "overlay.yml", "veth-pair.yml"}


@pytest.mark.parametrize("path", LAB_FILES, ids=lab_id)
def test_lab_file_is_valid(path):
    first = path.read_text().splitlines()[0]
    assert re.match(r"# \S.{10,}", first), f"{path.name} must start with a comment saying what it is"
    topo = Topology.from_yaml(path)
    assert topo.validate() is topo
    # the lab's name is the file's: two lab files never replace each other's lab in one process
    assert topo.name == path.stem
    assert Topology.from_yaml(str(path)).commands() == topo.commands()


# --- every lab file allows the ping it is meant to -------------------------------------------

# file stem -> (namespace, what it pings: an address or a container of the lab)
PINGS = {
    "one-node": ("c1", "c2"),
    "two-nodes": ("c1", "10.168.0.3"),
    "overlay": ("c1", "172.17.0.3"),
    "veth-pair": ("ns1", "10.0.0.2"),
}


@pytest.mark.parametrize("path", LAB_FILES, ids=lab_id)
def test_lab_file_allows_its_ping(path):
    if path.stem not in PINGS:
        pytest.fail(f"say in PINGS which ping {path.name} is meant to allow (every lab file has a test)")
    ns, target = PINGS[path.stem]
    assert not our_engines()
    with Lab(path) as lab:
        if target in lab.resolved.containers:
            target = lab.resolved.containers[target].address
        result = lab.exec(ns, f"ping -c 1 -W 2 {target}")
        assert result.ok, f"{path.name}: {ns} cannot ping {target}:\n{result}"
        assert "1 received" in result.stdout
        check_lab_claims(path.stem, lab)
    assert lab.closed
    assert not our_engines(), "the lab's engine outlived the with block"


def check_lab_claims(stem, lab):
    """What each file's first line says, beyond the ping."""
    if stem == "one-node":
        assert lab.sysctl("node1", "net.ipv4.ip_forward") == "0"
        assert [lab.resolved.containers[c].address for c in ("c1", "c2", "c3")] == [
            "172.17.0.2", "172.17.0.3", "172.17.0.4"]
        ports = lab.bridge_ports("node1")
        assert len(ports) == 3 and set(ports.column("bridge")) == {"docker0"}, str(ports)
    elif stem == "two-nodes":
        assert lab.sysctl("node1", "net.ipv4.ip_forward") == lab.sysctl("node2", "net.ipv4.ip_forward") == "1"
        nat = lab.exec("node1", "iptables -t nat -S", check=True).stdout.splitlines()
        assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in nat
    elif stem == "overlay":
        # the reply came over the VXLAN: node1's docker0 learned c2's MAC on its port vxlan0
        c2 = lab.fdb("node1").where(mac="02:42:ac:11:00:03")
        assert c2.column("dev") == ["vxlan0"], str(lab.fdb("node1"))
        vxlan0 = lab.links("node1").one(name="vxlan0")
        assert vxlan0["kind"] == "vxlan" and vxlan0["mtu"] == 1450 and vxlan0["master"] == "docker0"
        assert lab.links("node2").one(name="docker0")["mtu"] == 1450
    elif stem == "veth-pair":
        assert lab.addresses("ns2").one(dev="veth0")["address"].startswith("10.0.0.2")


# --- the command line -----------------------------------------------------------------------


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "nethelpers", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_check_accepts_a_good_file():
    result = run_cli("check", "labs/one-node.yml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("labs/one-node.yml: valid")
    assert result.stderr == ""


def test_commands_prints_the_build():
    result = run_cli("commands", "labs/veth-pair.yml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "ip netns add ns1"
    assert "type veth peer name veth0 netns ns2" in result.stdout


@pytest.mark.parametrize(
    "text, problem",
    [
        ("name: bad\nnodes:\n  node1:\n    containers:\n      c1: {adress: 172.17.0.2}\n",
         "nodes.node1.containers.c1: unknown key 'adress'; known keys: address, mac"),
        ("name: bad\nnodes:\n  node1:\n    containers:\n      c1: {address: 172.17.0.300}\n",
         "container 'c1': address '172.17.0.300' is not an IPv4 address"),
    ],
    ids=["unknown-key", "invalid-address"],
)
def test_check_refuses_a_bad_file(tmp_path, text, problem):
    bad = tmp_path / "bad.yml"
    bad.write_text(text)
    result = run_cli("check", str(bad))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert problem in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- the JSON schema says what labfile.py reads -----------------------------------------------


@pytest.fixture(scope="module")
def schema():
    return json.loads(SCHEMA_PATH.read_text())


# where each key table of labfile.py is described in the schema
SCHEMA_LEVELS = {
    "_TOP": (),
    "_NODE": ("$defs", "node"),
    "_BRIDGE": ("$defs", "bridge"),
    "_CONTAINER": ("$defs", "container"),
    "_LINK": ("$defs", "link"),
    "_ADDRESS": ("$defs", "address"),
    "_ROUTE": ("$defs", "route"),
    "_PUBLISH": ("$defs", "publish"),
    "_VXLAN": ("$defs", "vxlan"),
    "_FDB": ("$defs", "fdb"),
    "_NEIGH": ("$defs", "neighbour"),
}
# top-level list key of a lab file -> its key table
LISTS = {"links": "_LINK", "addresses": "_ADDRESS", "routes": "_ROUTE", "publish": "_PUBLISH",
         "vxlan": "_VXLAN", "fdb": "_FDB", "neighbours": "_NEIGH"}
JSON_TYPES = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "array", type(None): "null"}


def key_tables():
    """labfile.py's key tables: module-level dicts of key -> (type or types, description)."""
    def is_spec(v):
        types = v[0] if isinstance(v[0], tuple) else (v[0],)
        return isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str) and all(isinstance(t, type) for t in types)

    return {
        name: table for name, table in vars(labfile).items()
        if re.fullmatch(r"_[A-Z]+", name) and isinstance(table, dict) and table
        and all(isinstance(v, tuple) and v and is_spec(v) for v in table.values())
    }


def level(schema, where):
    node = schema
    for part in where:
        node = node[part]
    return node


def test_every_key_table_has_a_place_in_the_schema():
    assert set(key_tables()) == set(SCHEMA_LEVELS), "map each key table of labfile.py to its schema level"


@pytest.mark.parametrize("table", sorted(SCHEMA_LEVELS))
def test_schema_keys_equal_labfile_keys(schema, table):
    spec = getattr(labfile, table)
    node = level(schema, SCHEMA_LEVELS[table])
    assert list(node["properties"]) == list(spec), f"{table}: the schema and labfile.py list different keys"
    assert node["additionalProperties"] is False, f"{table}: labfile.py refuses unknown keys; so must the schema"
    for key, (types, _) in spec.items():
        prop = node["properties"][key]
        assert prop.get("description"), f"{table}.{key} has no description"
        types = types if isinstance(types, tuple) else (types,)
        declared = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        assert sorted(declared) == sorted(JSON_TYPES[t] for t in types), f"{table}.{key}: types differ"


def test_schema_required_keys_equal_labfile(schema):
    assert schema["required"] == ["name"]
    for key, table in LISTS.items():
        prop = schema["properties"][key]
        assert prop["type"] == "array"
        assert prop["items"] == {"$ref": "#/" + "/".join(SCHEMA_LEVELS[table])}, key
        assert level(schema, SCHEMA_LEVELS[table]).get("required", []) == list(labfile._REQUIRED[key]), key
    assert set(LISTS) == set(labfile._REQUIRED)


def test_schema_nesting(schema):
    node = schema["$defs"]["node"]
    assert schema["properties"]["nodes"]["additionalProperties"] == {"$ref": "#/$defs/node"}
    assert node["properties"]["bridge"]["$ref"] == "#/$defs/bridge"
    for kind in ("containers", "pods"):
        assert node["properties"][kind]["additionalProperties"] == {"$ref": "#/$defs/container"}
    # labfile.py reads `node1:` and `c1:` (null) as "every default"
    assert "null" in node["type"] and "null" in schema["$defs"]["container"]["type"]


def test_schema_ranges_equal_validate(schema):
    d = schema["$defs"]
    for prop in (d["bridge"]["properties"]["mtu"], d["link"]["properties"]["mtu"], d["vxlan"]["properties"]["mtu"]):
        assert (prop["minimum"], prop["maximum"]) == validate.MTU_RANGE
    vni = d["vxlan"]["properties"]["vni"]
    assert (vni["minimum"], vni["maximum"]) == validate.VNI_RANGE
    for prop in (d["vxlan"]["properties"]["dstport"], d["publish"]["properties"]["port"],
                 d["publish"]["properties"]["to_port"]):
        assert (prop["minimum"], prop["maximum"]) == validate.PORT_RANGE


def test_labfile_reads_its_key_tables_from_the_schema(schema):
    """One description of the format: labfile.py's tables are the schema's properties, types and titles."""
    assert labfile.SCHEMA == schema
    for table, where in SCHEMA_LEVELS.items():
        node = level(schema, where)
        for key, (types, what) in getattr(labfile, table).items():
            assert what == node["properties"][key]["title"], (table, key)


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_schema_patterns_equal_the_code(schema):
    """Every name pattern of the schema is names.NAME_RE (15 characters); the lab's name is LAB_NAME_RE;
    sysctl keys are validate.SYSCTL_KEY_RE."""
    from nethelpers import names

    name_pattern = f"^{names.NAME_RE.pattern[:-1]}{{0,{names.IFNAMSIZ - 1}}}$"
    patterns = {n["pattern"] for n in walk(schema) if "pattern" in n and "A-Za-z0-9_" in n["pattern"]}
    endpoint = f"^{name_pattern[1:-1]}:{name_pattern[1:-1]}$"  # a link's "namespace:interface"
    sysctl_key = f"^{validate.SYSCTL_KEY_RE.pattern}$"
    assert patterns == {name_pattern, f"^{names.LAB_NAME_RE.pattern}$", endpoint, sysctl_key}
    assert schema["properties"]["name"]["pattern"] == f"^{names.LAB_NAME_RE.pattern}$"
    sysctl_keys = schema["properties"]["sysctls"]["additionalProperties"]["propertyNames"]["pattern"]
    assert sysctl_keys == f"^{validate.SYSCTL_KEY_RE.pattern}$"


@pytest.fixture(scope="module")
def validator(schema):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", LAB_FILES, ids=lab_id)
def test_lab_file_matches_the_schema(validator, path):
    import yaml

    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize(
    "text, where",
    [
        ("name: t\nnodes: {node1: {containers: {c1: {adress: 172.17.0.2}}}}", "nodes/node1/containers/c1"),
        ("name: t\nnodes: {node1: {bridge: {mtu: big}}}", "nodes/node1/bridge/mtu"),
        ("name: t\nnodes: {node1: {ip_forward: 'yes'}}", "nodes/node1/ip_forward"),
        ("name: t\nvxlan: [{ns: node1, name: vxlan0, vni: 16777216}]", "vxlan/0/vni"),
        ("name: t\nlinks: [{endpoints: ['a:x', 'b:x', 'c:x']}]", "links/0/endpoints"),
        ("nodes: {}", ""),
    ],
)
def test_schema_refuses_what_labfile_refuses(validator, text, where):
    import yaml

    errors = list(validator.iter_errors(yaml.safe_load(text)))
    assert [("/".join(map(str, e.absolute_path))) for e in errors] == [where]
