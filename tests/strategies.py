"""Hypothesis strategies for lab descriptions: valid ones, broken ones and hostile ones.

Three families, used by tests/test_properties.py:

* :func:`lab_dicts` - the data of a lab file (what YAML or JSON holds), mixing well-formed
  entries with wrong types, unknown keys, bad names and values, and hostile strings;
* :func:`yaml_texts` - YAML text: dumped lab dicts, mutated (keys twice, aliases, deep nesting,
  YAML 1.1 scalars, cut short), and arbitrary text;
* :func:`api_calls` - a sequence of ``Topology`` method calls with arguments of any type;
* :func:`buildable_labs` - descriptions that validate and build on the kernel: namespaces,
  veth links with addresses, nodes with containers, routes, nft scripts whose comments carry
  shell payloads.

The budget: ``NETHELPERS_FUZZ`` multiplies every test's ``max_examples`` (default 1; e.g.
``NETHELPERS_FUZZ=50`` for a long local search). Runs are derandomized, so CI is repeatable.
"""

import os
import string

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = max(1, int(os.environ.get("NETHELPERS_FUZZ", "1") or 1))


def budget(examples):
    """Settings for a property test: ``examples`` times NETHELPERS_FUZZ, no deadline (the machine is
    shared), derandomized, no example database."""
    return settings(
        max_examples=examples * FUZZ, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# --- pieces -------------------------------------------------------------------------------------

PAYLOAD_TARGET = "@TARGET@"  # replaced by a file path the test watches
SHELL_PAYLOADS = [
    f"$(touch {PAYLOAD_TARGET})", f"`touch {PAYLOAD_TARGET}`", f"; touch {PAYLOAD_TARGET}",
    f"' ; touch {PAYLOAD_TARGET} ; '", f'" ; touch {PAYLOAD_TARGET} ; "', f"\ntouch {PAYLOAD_TARGET}\n",
    f"| touch {PAYLOAD_TARGET}", f"&& touch {PAYLOAD_TARGET}", f"> {PAYLOAD_TARGET}",
    f"\nEOF\ntouch {PAYLOAD_TARGET}\n", "\\", "'", '"', "\x00", "\x1b[2J", "\u202e", "é", "🙂",
]
RESERVED_WORDS = ["all", "default", "lo", "on", "yes", "~", "null", "true", "-x", ".x", "a" * 16, "", " "]

good_names = st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True)
hostile_text = st.one_of(
    st.sampled_from(SHELL_PAYLOADS + RESERVED_WORDS),
    st.text(max_size=20),
    st.text(alphabet=string.printable, max_size=20),
)
names = st.one_of(good_names, good_names, hostile_text)
octet = st.integers(0, 255)
ipv4 = st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", octet, octet, octet, octet)
private_ip = st.builds(lambda c, d: f"10.9.{c}.{d}", octet, st.integers(1, 254))
prefix = st.integers(0, 33)
addresses = st.one_of(
    st.builds(lambda ip, p: f"{ip}/{p}", ipv4, prefix),
    st.builds(lambda ip, p: f"{ip}/{p}", private_ip, st.integers(8, 30)),
    st.sampled_from(["127.0.0.1/8", "224.0.0.1/4", "0.0.0.0/0", "172.17.0.300/16", "10.0.0.1", "::1/128"]),
    hostile_text,
)
subnets = st.one_of(
    st.sampled_from(["172.17.0.0/16", "172.18.0.0/16", "10.0.0.0/24", "127.0.0.0/8", "224.0.0.0/4", "0.0.0.0/0",
                     "10.168.0.0/24", "10.0.0.1/24", "10.0.0.0/31", "10.0.0.0/32"]),
    st.builds(lambda ip, p: f"{ip}/{p}", ipv4, prefix),
    hostile_text,
)
macs = st.one_of(
    st.sampled_from(["02:42:ac:11:00:09", "01:00:5e:00:00:01", "00:00:00:00:00:00", "02:42:AC:11:00:09\n"]),
    st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)),
    hostile_text,
)
# any JSON-ish value: what a lab file can hold where something else belongs
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                    hostile_text)
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                        max_leaves=6)


def maybe(strategy):
    """``strategy``'s value, or something of another kind."""
    return st.one_of(strategy, strategy, strategy, anything)


def entry(**fields):
    """A mapping with some of ``fields`` (each a strategy), sometimes an unknown key too."""
    return st.fixed_dictionaries({}, optional={**{k: maybe(v) for k, v in fields.items()}, "bogus": anything})


# --- lab files ----------------------------------------------------------------------------------

bridge = entry(name=names, subnet=subnets, address=ipv4, mtu=st.integers(0, 70000), mac=macs,
               ageing=st.integers(-1, 10**7))
container = entry(address=st.one_of(ipv4, st.builds(lambda d: f"172.17.0.{d}", octet)),
                  mac=st.one_of(st.sampled_from(["docker", "random"]), macs))
node = entry(address=ipv4, bridge=st.one_of(st.none(), bridge), ip_forward=st.booleans(),
             masquerade=st.booleans(), underlay=st.booleans(), quiet_ipv6=st.booleans(),
             containers=st.dictionaries(names, st.one_of(st.none(), container), max_size=3),
             pods=st.dictionaries(names, st.one_of(st.none(), container), max_size=2))
endpoint = st.one_of(st.builds(lambda a, b: f"{a}:{b}", names, names), hostile_text)
link = entry(endpoints=st.lists(endpoint, min_size=0, max_size=3), addresses=st.lists(addresses, max_size=3),
             macs=st.lists(macs, max_size=3), mtu=st.integers(0, 70000), up=st.booleans())
route = entry(ns=names, to=st.one_of(st.just("default"), subnets), via=ipv4, dev=names, onlink=st.booleans())
sysctl_values = st.one_of(st.integers(-1, 2), st.booleans(), st.sampled_from(["1", "4096 87380 6291456"]),
                          hostile_text)
sysctl_keys = st.one_of(st.sampled_from(["net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter", "kernel.panic",
                                         "net/ipv4/ip_forward", "net.ipv4.ip_forward;id"]), hostile_text)
nft_scripts = st.one_of(
    st.sampled_from(["table ip t {\n}\n", "", "include \"/etc/passwd\"\n", "table ip t {\n}\nEOF\n"]),
    st.lists(st.one_of(st.sampled_from(["table ip t {", "}", "EOF", "# comment"]), hostile_text),
             max_size=5).map("\n".join),
)


@st.composite
def lab_dicts(draw):
    """The data of a lab file, good and bad parts mixed."""
    lab = {"name": draw(st.one_of(good_names, good_names, names, anything))}
    optional = {
        "underlay": st.one_of(st.none(), subnets), "switch": names, "ipv6": st.booleans(),
        "nodes": st.dictionaries(names, st.one_of(st.none(), node), max_size=3),
        "namespaces": st.lists(names, max_size=4),
        "links": st.lists(link, max_size=3),
        "addresses": st.lists(entry(ns=names, dev=names, address=addresses), max_size=2),
        "routes": st.lists(route, max_size=2),
        "sysctls": st.dictionaries(names, st.dictionaries(sysctl_keys, sysctl_values, max_size=2), max_size=2),
        "nftables": st.dictionaries(names, nft_scripts, max_size=2),
        "publish": st.lists(entry(container=names, port=st.integers(-1, 70000), to_port=st.integers(-1, 70000),
                                  proto=st.sampled_from(["tcp", "udp", "sctp"])), max_size=2),
        "vxlan": st.lists(entry(ns=names, name=names, vni=st.integers(-1, 2**25), dstport=st.integers(-1, 70000),
                                local=ipv4, remote=ipv4, dev=names, learning=st.booleans(), master=names,
                                mtu=st.integers(0, 70000), address=addresses, mac=macs), max_size=2),
        "fdb": st.lists(entry(ns=names, dev=names, mac=macs, dst=ipv4), max_size=2),
        "neighbours": st.lists(entry(ns=names, dev=names, address=ipv4, mac=macs), max_size=2),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            lab[key] = draw(maybe(strategy))
    if draw(st.integers(0, 9)) == 0:
        lab[draw(st.text(max_size=8))] = draw(anything)
    return lab


# --- YAML text ----------------------------------------------------------------------------------


def _dump(data):
    import yaml

    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


MUTATIONS = [
    lambda t: t + t,  # every key twice
    lambda t: t[: len(t) // 2],  # cut short
    lambda t: "x: &a [1, 2]\ny: [*a, *a]\n" + t,  # aliases
    lambda t: t + "deep: " + "[" * 100 + "]" * 100 + "\n",
    lambda t: t + "on: yes\n~: null\n",
    lambda t: t.replace(":", ": :", 1),
    lambda t: t.replace("\n", "\n\t", 1),
    lambda t: "%YAML 1.1\n---\n" + t,
    lambda t: t + "--- \nname: second\n",
    lambda t: t + "x: !!python/object/apply:os.system ['true']\n",
    lambda t: t + "x: !!binary aGVsbG8=\n",
    lambda t: t + "big: " + "9" * 5000 + "\n",
]


@st.composite
def yaml_texts(draw):
    """YAML text of a lab file: dumped, often mutated; or any text at all."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.text(max_size=200))
    if kind == 1:
        return draw(st.text(alphabet="{}[]:-&*!|>'\"#%@`,? \n\tabc01", max_size=200))
    text = _dump(draw(lab_dicts()))
    for _ in range(draw(st.integers(0, 2))):
        text = draw(st.sampled_from(MUTATIONS))(text)
    return text


# --- Python calls -------------------------------------------------------------------------------

CALLS = {
    "add_node": (names,), "add_container": (names, names), "add_pod": (names, names), "add_namespace": (names,),
    "add_veth": (endpoint, endpoint), "add_address": (names, names, addresses), "add_route": (names, subnets),
    "add_sysctl": (names, sysctl_keys, sysctl_values), "add_nftables": (names, nft_scripts),
    "add_publish": (names, st.integers(-1, 70000)), "add_vxlan": (names, names, st.integers(-1, 2**25)),
    "add_fdb": (names, names, macs), "add_neighbour": (names, names, ipv4, macs),
}
OPTIONS = {
    "address": ipv4, "bridge": st.one_of(st.none(), bridge), "ip_forward": st.booleans(), "mac": macs,
    "addresses": st.lists(addresses, max_size=3), "macs": st.lists(macs, max_size=3), "mtu": st.integers(0, 70000),
    "via": ipv4, "dev": names, "dstport": st.integers(-1, 70000), "remote": ipv4, "quiet_ipv6": st.booleans(),
    "bogus": anything,
}


@st.composite
def api_calls(draw):
    """(Topology options, [(method, args, kwargs)...]): a description written in Python."""
    options = draw(st.fixed_dictionaries({}, optional={"underlay": st.one_of(st.none(), subnets),
                                                       "switch": names, "ipv6": maybe(st.booleans())}))
    calls = []
    for _ in range(draw(st.integers(0, 6))):
        method = draw(st.sampled_from(sorted(CALLS)))
        args = [draw(maybe(s)) for s in CALLS[method]]
        kwargs = {}
        for key in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=2, unique=True)):
            kwargs[key] = draw(maybe(OPTIONS[key]))
        calls.append((method, args, kwargs))
    return draw(st.one_of(good_names, names, anything)), options, calls


# --- descriptions that build --------------------------------------------------------------------

COMMENT_PAYLOADS = [p for p in SHELL_PAYLOADS if p.isprintable() and "\n" not in p] + ["EOF", "'EOF'"]


@st.composite
def buildable_labs(draw):
    """A lab dict that validates and builds: namespaces and veth links (addresses in distinct
    /24s), nodes with containers (quiet_ipv6 or not), routes, and nft scripts with shell payloads in comments."""
    lab = {"name": draw(st.from_regex(r"p[a-z0-9]{0,6}", fullmatch=True)), "underlay": None}
    count = draw(st.integers(0, 3))
    namespaces = [f"n{i}" for i in range(count)]
    if namespaces:
        lab["namespaces"] = namespaces
    links = []
    for i in range(draw(st.integers(0, 3)) if count >= 2 else 0):
        a, b = draw(st.lists(st.sampled_from(namespaces), min_size=2, max_size=2, unique=True))
        link = {"endpoints": [f"{a}:v{i}a", f"{b}:v{i}b"]}
        if draw(st.booleans()):
            link["addresses"] = [f"10.{i}.0.1/24", f"10.{i}.0.2/24"]
        if draw(st.booleans()):
            link["mtu"] = draw(st.integers(1280, 9000))
        links.append(link)
    if links:
        lab["links"] = links
    if draw(st.booleans()):
        lab["nodes"] = {"node1": {"containers": {f"c{i}": {} for i in range(draw(st.integers(0, 2)))}}}
        if draw(st.booleans()):
            lab["nodes"]["node1"]["bridge"] = {"subnet": "172.30.0.0/24", "mtu": draw(st.integers(1280, 9000))}
        if draw(st.booleans()):
            lab["nodes"]["node1"]["quiet_ipv6"] = draw(st.booleans())
    if any("addresses" in link for link in links) and draw(st.booleans()):
        first = next(link for link in links if "addresses" in link)
        ns = first["endpoints"][0].split(":")[0]
        lab["routes"] = [{"ns": ns, "to": "192.168.77.0/24", "via": first["addresses"][1].split("/")[0]}]
    if namespaces and draw(st.booleans()):
        comment = draw(st.sampled_from(COMMENT_PAYLOADS))
        lab["nftables"] = {namespaces[0]: f"table ip t {{\n\t# {comment}\n\tchain c {{\n\t}}\n}}\n"}
    if namespaces and draw(st.booleans()):
        lab["sysctls"] = {namespaces[-1]: {"net.ipv4.ip_forward": draw(st.sampled_from([0, 1, "1", True]))}}
    return lab


@st.composite
def hostile_valid_labs(draw):
    """A lab that passes validation while its free text (nft scripts: any printable line, "EOF"
    included) carries shell payloads aimed at PAYLOAD_TARGET."""
    lab = {"name": draw(st.from_regex(r"h[a-z0-9]{0,6}", fullmatch=True)), "underlay": None,
           "namespaces": ["n0", "n1"]}
    lines = st.one_of(st.sampled_from([p.strip("\n") for p in SHELL_PAYLOADS if p.strip("\n").isprintable()]),
                      st.sampled_from(["EOF", "'EOF'", "EOF_", "table ip t {", "}"]),
                      st.text(alphabet=string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", ""),
                              max_size=30))
    lab["nftables"] = {"n0": "\n".join(draw(st.lists(lines, min_size=1, max_size=8))) + "\n"}
    if draw(st.booleans()):
        lab["sysctls"] = {"n1": {"net.ipv4.ip_forward": draw(st.sampled_from([0, 1]))}}
    return lab


def _paths(data, prefix=()):
    """Every path to a value in nested dicts and lists."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield prefix + (key,)
        yield from _paths(value, prefix + (key,))


@st.composite
def nearly_valid_labs(draw):
    """A buildable lab with 0 to 2 of its values (or keys) replaced by something else: valid
    about half the time, and wrong in one place otherwise."""
    import copy

    lab = copy.deepcopy(draw(buildable_labs()))
    for _ in range(draw(st.integers(0, 2))):
        paths = list(_paths(lab))
        if not paths:
            break
        *parent_path, key = draw(st.sampled_from(paths))
        parent = lab
        for part in parent_path:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()):
            parent[draw(names)] = parent.pop(key)  # a key renamed
        else:
            parent[key] = draw(st.one_of(anything, names, addresses, subnets, st.integers(-1, 70000)))
    return lab
