"""Bad input of every kind ends in the package's own error, with a message, before the kernel is touched.

Lab files (size, encoding, depth, aliases, duplicate keys, YAML 1.1 scalars, non-regular files, paths
with ':'), and the Python API's argument types (every entry point says what it expected).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nethelpers import Bridge, Lab, Topology, TopologyError
from nethelpers.errors import NetHelpersError, UsageError
from nethelpers import labfile

ROOT = Path(__file__).resolve().parent.parent


def refused(text, match):
    with pytest.raises(TopologyError, match=match) as e:
        Topology.from_yaml_text(text).validate()
    return str(e.value)


# --- the lab-file reader --------------------------------------------------------------------


def test_a_key_written_twice_is_refused_naming_both_lines():
    refused("name: t\nnodes:\n  node1: {}\n  node1: {ip_forward: true}\n",
            r"line 4: key 'node1' is written twice \(lines 3 and 4\)")


def test_a_top_level_key_written_twice():
    refused("name: a\nname: b\n", r"key 'name' is written twice \(lines 1 and 2\)")


@pytest.mark.parametrize("word", ["on", "off", "yes", "no", "y", "n", "true", "null", "Null", "1", "0o7"])
def test_a_name_is_the_text_written(word):
    """YAML 1.1 would make `on:` the node True; a lab file's keys are the text written."""
    topo = Topology.from_yaml_text(f"name: t\nunderlay: null\nnodes:\n  {word}: {{}}\n")
    assert list(topo.nodes) == [word]


def test_tilde_as_a_name_is_refused_as_a_name():
    refused("name: t\nnodes:\n  ~: {}\n", r"node name '~' has characters")


@pytest.mark.parametrize("word", ["yes", "no", "on", "off"])
def test_yaml_11_booleans_are_strings(word):
    assert list(Topology.from_yaml_text(f"name: t\nnamespaces: [{word}]\n").namespaces) == [word]
    message = refused(f"name: t\nnodes: {{node1: {{ip_forward: {word}}}}}\n", "ip_forward: expected true or false")
    assert f"str '{word}'" in message


def test_an_unquoted_mac_is_a_string():
    """YAML 1.1 reads 12:34:56:11:22:33 as a base-60 integer; YAML 1.2 as the text written."""
    topo = Topology.from_yaml_text("name: t\nnodes: {node1: {containers: {c1: {mac: 12:34:56:11:22:33}}}}\n")
    assert topo.containers["c1"].mac == "12:34:56:11:22:33"


@pytest.mark.parametrize("n", [1, 2, 9])
def test_aliases_are_refused(n):
    """A billion laughs: a few hundred bytes of aliases that expand to gigabytes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, n + 1)]
    message = refused("name: t\n" + "\n".join(lines) + "\n", r"line 3: aliases \(\*name\) are not allowed")
    assert len(message) < 200


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}"), ("- ", "")])
def test_deep_nesting_is_refused(opening, closing):
    deep = opening * 10_000 + "x" + closing * 10_000 if closing else "\n".join(
        " " * (2 * i) + "-" for i in range(200))
    refused("name: t\nx: " + deep + "\n" if closing else "name: t\nx:\n" + deep + "\n", r"nested more than 32 levels")


def test_a_long_integer_is_refused():
    refused("name: t\nnodes: {node1: {bridge: {mtu: " + "9" * 5000 + "}}}\n", r"a value cannot be read")


def test_a_huge_file_is_refused(tmp_path):
    path = tmp_path / "big.yml"
    path.write_text("name: t\n" + "#" * (labfile.MAX_BYTES + 10) + "\n")
    with pytest.raises(TopologyError, match=f"larger than {labfile.MAX_BYTES} bytes"):
        Topology.from_yaml(path)


def test_a_non_utf8_byte_is_named_with_its_offset(tmp_path):
    path = tmp_path / "latin1.yml"
    path.write_bytes("name: t\nnodes: {nœud: {}}\n".encode("latin-1", errors="replace").replace(b"?", b"\xe9"))
    with pytest.raises(TopologyError, match=r"byte 17 \(line 2\) is 0xe9, not UTF-8; save the file as UTF-8"):
        Topology.from_yaml(path)


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom", "/tmp"])
def test_a_device_or_directory_is_not_read(path):
    with pytest.raises(TopologyError, match="not a regular file"):
        Topology.from_yaml(path)


def test_a_fifo_is_not_read(tmp_path):
    fifo = tmp_path / "lab.yml"
    os.mkfifo(fifo)
    with pytest.raises(TopologyError, match="not a regular file"):
        Topology.from_yaml(str(fifo))


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/stdin"])
def test_check_does_not_read_forever(path):
    result = subprocess.run([sys.executable, "-m", "nethelpers", "check", path], cwd=ROOT, capture_output=True,
                            text=True, stdin=subprocess.PIPE, timeout=60)
    assert result.returncode == 2 and "not a regular file" in result.stderr and "Traceback" not in result.stderr


def test_a_path_with_a_colon_is_a_path(tmp_path):
    path = tmp_path / "lab:v1.yml"
    path.write_text("name: colon\nnodes: {node1: {}}\n")
    assert Topology.from_yaml(str(path)).name == "colon"
    with pytest.raises(TopologyError, match=r"missing:v2\.yml: cannot read the lab file: No such file"):
        Topology.from_yaml(str(tmp_path / "missing:v2.yml"))
    with pytest.raises(TopologyError, match=r"name: t: cannot read the lab file.*from_yaml_text"):
        Lab("name: t", build=False)  # one line is a path, never silently YAML


def test_yaml_text_is_read_only_when_asked_or_of_several_lines():
    assert Topology.from_yaml_text("name: t").name == "t"
    assert Topology.from_yaml("name: t\nnodes: {node1: {}}\n").name == "t"


def test_json_lab_files_are_read_as_json(tmp_path):
    good = tmp_path / "lab.json"
    good.write_text('{"name": "j", "nodes": {"node1": {"ip_forward": true}}}')
    assert Topology.from_yaml(good).nodes["node1"].ip_forward is True
    for text, match in [('{"name": "a", "name": "b"}', "written twice"),
                        ('{\n "name": "a",\n "nodes": {},\n "name": "b"\n}', r"'name' is written twice in one object "
                                                                        r"\(it is on lines 2, 4\)"),
                        ('{"name": "t", "nodes": {"x": {"bridge": {"mtu": NaN}}}}', "NaN is not a number"),
                        ('{"name": "t", "x": ' + "[" * 5000 + "]" * 5000 + "}", "nested more than 32"),
                        ('{"name": "t",}', "not valid JSON")]:
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(TopologyError, match=match):
            Topology.from_yaml(bad)


def test_messages_stay_short():
    """A huge value is clipped in the message, not echoed whole."""
    with pytest.raises(TopologyError) as e:
        Topology.from_yaml_text("name: t\nnodes: {node1: {bridge: {mtu: " + "x" * 100_000 + "}}}\n")
    assert len(str(e.value)) < 1000


# --- the Python API checks its arguments ------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: Topology(None), r"Topology: the lab's name must be a string, got NoneType None"),
        (lambda: Topology(5), r"Topology: the lab's name must be a string, got int 5"),
        (lambda: Topology("t", underlay=24), r"underlay .* must be a string or None, got int 24"),
        (lambda: Topology("t").add_node(None), r"add_node: the node's name must be a string, got NoneType"),
        (lambda: Topology("t").add_node(["n"]), r"add_node: the node's name must be a string, got list"),
        (lambda: Topology("t").add_node("n", bridge=5), r"bridge must be a Bridge, a dict of its options or None"),
        (lambda: Topology("t").add_node("n", bridge={"subnett": "10.0.0.0/24"}),
         r"unknown option 'subnett'; known options: name, subnet"),
        (lambda: Topology("t").add_container("c1", None), r"add_container\('c1'\): node .* got NoneType"),
        (lambda: Topology("t").add_namespace(3), r"add_namespace: the namespace's name must be a string"),
        (lambda: Topology("t").add_veth("a:x", "b:x", adresses=("10.0.0.1/24", None)),
         r"add_veth\('a:x', 'b:x'\): unknown option 'adresses'; known options: addresses, macs, mtu, up"),
        (lambda: Topology("t").add_veth("a:x", "b:x", addresses="10.0.0.1/24"), r"addresses must be a pair"),
        (lambda: Topology("t").add_veth(None, "b:x"), r"add_veth: the first endpoint"),
        (lambda: Topology("t").add_route("a", "default", gateway="10.0.0.1"),
         r"unknown option 'gateway'; known options: via, dev, onlink"),
        (lambda: Topology("t").add_sysctl("a", "net.ipv4.ip_forward", None), r"value must be a number or a string"),
        (lambda: Topology("t").add_sysctl("a", 5, 1), r"add_sysctl: key must be a string"),
        (lambda: Topology("t").add_nftables("a", None), r"add_nftables: rules must be a string"),
        (lambda: Topology("t").add_publish("c1", 80, protocol="udp"), r"unknown option 'protocol'; known options: proto"),
        (lambda: Topology("t").add_vxlan("a", "vx", 1, port=4789), r"unknown option 'port'; known options: dstport"),
        (lambda: Bridge(mttu=9000), r"Bridge: unknown keyword 'mttu'; it takes name, subnet, address, mtu"),
        (lambda: Topology("t").add_namespace("a", bridge=None), r"add_namespace: unknown keyword 'bridge'; it takes name"),
        (lambda: Topology("t").add_address("a", "b"), r"add_address: missing a required argument: 'address'"),
        (lambda: Lab(42), r"Lab: expected a Topology, a dict as a lab file holds, or a lab file's path, got int 42"),
        (lambda: Lab([1, 2]), r"Lab: expected a Topology.*got list \[1, 2\]"),
        (lambda: Lab(None), r"Lab: expected a Topology.*got NoneType"),
        (lambda: Topology.from_yaml(42), r"expected a lab file's path or YAML text, got int 42"),
        (lambda: Topology.from_yaml_text(b"name: t"), r"expected the YAML text of a lab \(a str\), got bytes"),
        (lambda: Topology.from_dict([1]), r"expected a mapping, got list"),
    ],
)
def test_api_says_what_it_expected(call, match):
    with pytest.raises(NetHelpersError, match=match) as e:
        call()
    assert isinstance(e.value, TopologyError)
    if not re.search("expected a mapping", match):
        assert isinstance(e.value, (UsageError, TypeError))


# --- validation: what the kernel refuses, and what makes a lab lie ----------------------------


def _t(*namespaces, **options):
    topo = Topology("t", underlay=None, **options)
    for ns in namespaces:
        topo.add_namespace(ns)
    return topo


def _with(topo, method, *args, **options):
    getattr(topo, method)(*args, **options)
    return topo


def _node(**bridge):
    topo = Topology("t")
    topo.add_node("node1", bridge=bridge or None) if bridge else topo.add_node("node1")
    return topo


REFUSED = [
    ("underlay-overlaps-bridge", lambda: _with(Topology("t", underlay="172.17.0.0/16"), "add_node", "node1"),
     r"node 'node1': bridge: 172\.17\.0\.0/16 on docker0 overlaps 172\.17\.0\.0/16 on eth0 in 'node1'.*own subnet"),
    ("two-veths-one-subnet", lambda: _with(_with(_t("a", "b", "c"), "add_veth", "a:x", "b:x",
                                                 addresses=("10.0.0.1/24", "10.0.0.2/24")),
                                           "add_veth", "a:y", "c:y", addresses=("10.0.0.3/24", "10.0.0.4/24")),
     r"veth a:y: 10\.0\.0\.0/24 on y overlaps 10\.0\.0\.0/24 on x in 'a'"),
    ("one-address-both-ends", lambda: _with(_t("a", "b"), "add_veth", "a:x", "b:x",
                                            addresses=("10.0.0.1/24", "10.0.0.1/24")),
     r"both ends have 10\.0\.0\.1; give each end its own address"),
    ("same-address-twice-in-ns", lambda: _with(_with(_t("a", "b"), "add_veth", "a:x", "b:x",
                                                     addresses=("10.0.0.1/24", None)),
                                               "add_address", "a", "lo", "10.0.0.1/32"),
     r"10\.0\.0\.1 is also on x in 'a'"),
    ("loopback-subnet", lambda: _node(subnet="127.0.0.0/8"), r"subnet '127\.0\.0\.0/8' overlaps the loopback range"),
    ("multicast-subnet", lambda: _node(subnet="224.0.0.0/4"), r"overlaps the multicast range 224\.0\.0\.0/4"),
    ("every-address", lambda: _node(subnet="0.0.0.0/0"), r"'0\.0\.0\.0/0' is every address"),
    ("reserved-240", lambda: _with(_t("a", "b"), "add_veth", "a:x", "b:x", addresses=("240.0.0.1/24", None)),
     r"'240\.0\.0\.1/24' is in the reserved range 240\.0\.0\.0/4"),
    ("loopback-underlay", lambda: _with(Topology("t", underlay="127.0.0.0/24"), "add_node", "n"),
     r"underlay subnet '127\.0\.0\.0/24' overlaps the loopback range"),
    ("multicast-gateway", lambda: _with(_t("a"), "add_route", "a", "default", via="224.0.0.1"),
     r"via '224\.0\.0\.1' is in the multicast range"),
    ("int-address", lambda: _with(_with(Topology("t"), "add_node", "n"), "add_container", "c1", "n", address=5),
     r"container 'c1': address 5 is not an IPv4 address"),
    ("int-gateway", lambda: _with(_t("a"), "add_route", "a", "default", via=167772161),
     r"via 167772161 is not an IPv4 address"),
    ("bool-mtu", lambda: _node(mtu=True), r"mtu must be an integer, not True"),
    ("interface-all", lambda: _with(_t("a", "b"), "add_veth", "a:all", "b:x"), r"'all' is reserved by the kernel"),
    ("interface-default", lambda: _with(_t("a", "b"), "add_veth", "a:default", "b:x"), r"'default' is reserved"),
    ("namespace-all", lambda: _t("all"), r"namespace name 'all' is reserved"),
    ("interface-lo", lambda: _with(_t("a", "b"), "add_veth", "a:lo", "b:x"), r"interface 'lo' already exists in 'a'"),
    ("name-16-chars", lambda: _t("a" * 16), r"is 16 characters long; the kernel allows at most 15"),
    ("name-newline", lambda: _t("ns1\n"), r"'ns1\\n' has characters"),
    ("name-space", lambda: _t("ns 1"), r"'ns 1' has characters"),
    ("name-slash", lambda: _t("ns/1"), r"'ns/1' has characters"),
    ("name-dollar", lambda: _t("$(id)"), r"'\$\(id\)' has characters"),
    ("mac-newline", lambda: _with(_t("a", "b"), "add_veth", "a:x", "b:x", macs=("02:00:00:00:00:01\n", None)),
     r"is not a MAC address"),
    ("lab-name-shell", lambda: _t("a", name="x") if False else Topology("lab; rm -rf ~", underlay=None),
     r"lab name 'lab; rm -rf ~' must be 1 to 64 letters"),
    ("lab-name-long", lambda: Topology("x" * 65, underlay=None), r"must be 1 to 64 letters"),
    ("sysctl-value-shell", lambda: _with(_t("a"), "add_sysctl", "a", "net.ipv4.ip_forward", "1; touch /tmp/x"),
     r"value '1; touch /tmp/x' is not a sysctl value"),
    ("sysctl-key-shell", lambda: _with(_t("a"), "add_sysctl", "a", "net.ipv4.ip_forward;id", 1),
     r"only net\.\* sysctls .* dotted words"),
    ("sysctl-key-path", lambda: _with(_t("a"), "add_sysctl", "a", "net/../../kernel", 1), r"dotted words"),
    ("sysctl-value-newline", lambda: _with(_t("a"), "add_sysctl", "a", "net.ipv4.ip_forward", "1\n0"),
     r"is not a sysctl value"),
    ("nft-control", lambda: _with(_t("a"), "add_nftables", "a", "table ip t {\n}\x1b[2J\n"),
     r"line 2 holds the control character '\\x1b'"),
    ("nft-include", lambda: _with(_t("a"), "add_nftables", "a", 'include "/etc/passwd"\n'),
     r"line 1 includes a file"),
]


@pytest.mark.parametrize("build, match", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_validation_refuses(build, match):
    with pytest.raises(TopologyError, match=match):
        build().validate()


def test_flannel_host_address_inside_the_bridge_subnet_is_fine():
    """flannel puts the first address of the node's subnet, as a /32, on flannel.1 next to cni0's /24."""
    topo = Topology("t")
    topo.add_node("node1", bridge={"name": "cni0", "subnet": "10.244.1.0/24"})
    topo.add_vxlan("node1", "flannel.1", 1, address="10.244.1.0/32", dev="eth0")
    topo.validate()


def test_all_problems_at_once():
    topo = Topology("t", underlay=None)
    topo.add_namespace("a")
    topo.add_namespace("b")
    topo.add_veth("a:all", "b:x", addresses=("10.0.0.1/24", "127.0.0.1/8"))
    topo.add_sysctl("a", "net.ipv4.ip_forward", "1;id")
    topo.add_route("a", "default", via=5)
    with pytest.raises(TopologyError) as e:
        topo.validate()
    assert len(e.value.problems) == 4, e.value.problems


def test_from_file_reads_only_files(tmp_path):
    assert Topology.from_file(ROOT / "labs" / "one-node.yml").name == "one-node"
    with pytest.raises(TopologyError, match="cannot read the lab file"):
        Topology.from_file("name: t\nnodes: {node1: {}}\n")
    with pytest.raises(UsageError, match="from_file: expected a path, got int 3"):
        Topology.from_file(3)


@pytest.mark.parametrize("argument", ["name: t\nnodes: {}\n", "", "x" * 5000, "/proc/self/mem", "labs"])
def test_check_takes_a_path_only(argument):
    result = subprocess.run([sys.executable, "-m", "nethelpers", "check", argument], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr) < 1000


WORST = r'''
import sys
from nethelpers import Topology, TopologyError
from nethelpers.labfile import MAX_BYTES

laughs = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
laughs += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
inputs = [
    "\n".join(laughs),                                              # a billion laughs, about 460 bytes
    "x: " + "[" * 100_000 + "]" * 100_000,                          # deep nesting
    "x: " + "{a: " * 50_000 + "}" * 50_000,
    "name: t\nnamespaces:\n" + "".join(f"  - '-n{i}'\n" for i in range(MAX_BYTES // 12)),  # problems by the thousand
    "name: t\nnamespaces: [" + ", ".join(f"n{i}" for i in range(MAX_BYTES // 8)),
    "name: t\nx: " + "9" * (MAX_BYTES - 20),
    "name: t\n" + "x: 1\n" * (MAX_BYTES // 6),                      # one key, thousands of times
]
for text in inputs:
    text = text[:MAX_BYTES]
    try:
        Topology.from_yaml_text(text).validate()
    except TopologyError as e:
        assert len(str(e)) < 25_000, len(str(e))
print("ok")
'''


def test_worst_inputs_end_in_an_error_within_bounded_memory():
    """Each input above, at most MAX_BYTES, ends in a TopologyError in a process limited to 1 GiB."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = subprocess.run([sys.executable, "-c", WORST], cwd=ROOT, capture_output=True, text=True,
                            preexec_fn=limit, timeout=600)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr[-2000:]


@pytest.mark.parametrize("text, match", [
    ("links: [{endpoints: [true, 'b:x']}]", r"links\[0\]\.endpoints: expected two 'namespace:interface', got \[True"),
    ("links: [{endpoints: ['a:x', 'b:x'], addresses: []}]", r"links\[0\]\.addresses: expected two, one for each end"),
    ("links: [{endpoints: ['a:x', 'b:x'], macs: [a, b, c]}]", r"links\[0\]\.macs: expected two"),
    ("sysctls: {a: {net.ipv4.ip_forward: .inf}}", r"sysctls\.a\.net\.ipv4\.ip_forward: add_sysctl.*got float inf"),
])
def test_lab_file_problems_name_their_place(text, match):
    with pytest.raises(TopologyError, match=match) as e:
        Topology.from_yaml_text("name: t\nnamespaces: [a, b]\n" + text + "\n")
    assert not isinstance(e.value, UsageError)  # a problem of the file, not of a call


@pytest.mark.parametrize("data, match", [
    ({"name": "t", "nodes": {True: {}}}, r"nodes\.True: a node's name must be a string, got bool True"),
    ({"name": "t", "nodes": {1: {}}}, r"nodes\.1: a node's name must be a string, got int 1"),
    ({"name": "t", "nodes": {"n": {"containers": {None: {}}}}},
     r"nodes\.n\.containers\.None: add_container: the container's name must be a string, got NoneType"),
])
def test_names_in_a_dict_are_strings_not_converted(data, match):
    """A dict from Python can have keys YAML would not give: they are refused, not turned into "True"."""
    with pytest.raises(TopologyError, match=match):
        Topology.from_dict(data)


# --- commands(): every value one shell word, heredocs that cannot end early ---------------------


def test_heredoc_delimiter_is_no_line_of_the_script():
    from nethelpers.plan import heredoc_delimiter

    assert heredoc_delimiter("table ip t {\n}") == "EOF"
    text = "table ip t {\nEOF\n}"
    first = heredoc_delimiter(text)
    assert first.startswith("EOF_") and first not in text.split("\n")
    assert heredoc_delimiter(text + "\n" + first) not in (text + "\n" + first).split("\n")


def test_commands_quote_values_and_fence_nft_scripts():
    topo = Topology("q", underlay=None)
    topo.add_namespace("a")
    topo.add_sysctl("a", "net.ipv4.tcp_rmem", "4096 87380 6291456")
    topo.add_nftables("a", "table ip t {\n}\nEOF\n")
    script = topo.commands()
    assert "sysctl -qw 'net.ipv4.tcp_rmem=4096 87380 6291456'" in script
    nft = next(line for line in script.split("\n") if "nft -f -" in line)
    end = nft.split("<<")[1].strip("'")
    assert end != "EOF" and script.endswith(f"\nEOF\n{end}")
