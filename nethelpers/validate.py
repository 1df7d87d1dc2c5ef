"""Validation of a Topology, and its resolution into a build plan (one checker per kind of entry).

:func:`resolve` checks every entry, collects every problem (each naming the entry and the
value, and saying what to do) and raises them together as one :class:`TopologyError`; only a
valid description yields a :class:`Resolved`: the defaults filled in (addresses, MACs, veth
names) and the list of :class:`~nethelpers.plan.Step` that builds the lab.
"""

import ipaddress
import re
from dataclasses import dataclass, field

from . import names
from .errors import TopologyError
from .plan import steps as plan_steps

MTU_RANGE = (68, 65535)
VNI_RANGE = (0, 2**24 - 1)
PORT_RANGE = (1, 65535)


@dataclass
class ResolvedContainer:
    name: str
    node: str
    address: str  # without prefix length
    prefixlen: int
    mac: str  # None when the kernel chooses
    veth: str
    veth_mac: str
    bridge: str
    gateway: str
    pod: bool


@dataclass
class ResolvedNode:
    name: str
    address: str  # underlay address, or None
    bridge: object  # the Bridge entry, or None
    bridge_address: str  # with prefix length
    bridge_mac: str


@dataclass
class Resolved:
    """A validated topology: every default computed, and the steps that build it."""

    name: str
    namespaces: list
    nodes: dict
    containers: dict
    interfaces: dict  # namespace -> set of interface names the build creates there
    steps: list = field(default_factory=list)


class _Checker:
    """The problems found so far, and what the checkers have resolved for the ones after them."""

    def __init__(self, topo):
        self.topo = topo
        self.problems = list(getattr(topo, "_duplicates", []))
        self.owner = {}  # namespace -> what owns the name ("node 'node1'")
        self.interfaces = {}  # namespace -> interface names the build creates there
        self.has_underlay = False
        self.underlay = None  # the underlay's IPv4Network
        self.under_used = {}  # underlay address -> who has it
        self.nodes = {}  # name -> ResolvedNode
        self.bridge_nets = {}  # node -> (subnet, gateway, used addresses, allocator)
        self.containers = {}  # name -> ResolvedContainer
        self.veth_ends = []  # (Veth, ((ns, dev), (ns, dev)), addresses, macs)

    def fail(self, message):
        self.problems.append(message)

    def known(self):
        return ", ".join(self.interfaces) or "none"

    def known_ns(self, ns, what):
        if ns not in self.interfaces:
            self.fail(f"{what}: unknown namespace {ns!r}; known: {self.known()}")
            return False
        return True

    def known_dev(self, ns, dev, what):
        if not self.known_ns(ns, what):
            return False
        if dev not in self.interfaces[ns]:
            self.fail(f"{what}: no interface {dev!r} in {ns!r}; it has {', '.join(sorted(self.interfaces[ns]))}")
            return False
        return True

    def add_interface(self, ns, dev, what):
        if ns not in self.interfaces:
            return
        if dev in self.interfaces[ns]:
            self.fail(f"{what}: interface {dev!r} already exists in {ns!r}; choose another name")
        self.interfaces[ns].add(dev)

    def name(self, value, what):
        problem = names.name_problem(value, what)
        if problem:
            self.fail(problem)
            return False
        return True

    def flag(self, value, what):
        if not isinstance(value, bool):
            self.fail(f"{what} must be true or false, not {value!r}")

    def integer(self, value, what, lo, hi, unit=""):
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{what} must be an integer, not {value!r}")
            return False
        if not lo <= value <= hi:
            self.fail(f"{what} {value} is out of range: use {lo} to {hi}{unit}")
            return False
        return True

    def ip(self, value, what):
        """A unicast IPv4 address, written as a string (an integer is not an address)."""
        try:
            ip = ipaddress.IPv4Address(_text(value))
        except (ValueError, TypeError):
            self.fail(f"{what} {value!r} is not an IPv4 address (like 172.17.0.2)")
            return None
        reason = _reserved(ip)
        if reason:
            self.fail(f"{what} {value!r} {reason}; use a unicast address like 172.17.0.2")
            return None
        return ip

    def network(self, value, what, usable=True):
        """An IPv4 subnet; ``usable``: one whose addresses can go on an interface."""
        try:
            net = ipaddress.IPv4Network(_text(value))
        except (ValueError, TypeError) as e:
            hint = " (host bits set?)" if "host bits" in str(e) else ""
            self.fail(f"{what} {value!r} is not an IPv4 subnet like 172.17.0.0/16{hint}")
            return None
        reason = usable and _reserved_net(net)
        if reason:
            self.fail(f"{what} {value!r} {reason}; use a private subnet like 10.0.0.0/24 or 172.18.0.0/16")
            return None
        return net

    def interface(self, value, what):
        """An address with its prefix length, for an interface."""
        if not isinstance(value, str) or "/" not in value:
            self.fail(f"{what} {value!r} needs an address with its prefix length, like 10.0.0.1/24")
            return None
        try:
            iface = ipaddress.IPv4Interface(_text(value))
        except (ValueError, TypeError):
            self.fail(f"{what} {value!r} is not an IPv4 address with prefix length (like 10.0.0.1/24)")
            return None
        reason = _reserved(iface.ip) or _reserved_net(iface.network)
        if reason:
            self.fail(f"{what} {value!r} {reason}; use a private address like 10.0.0.1/24")
            return None
        return iface

    def mac(self, value, what):
        problem = names.mac_problem(value, what)
        if problem:
            self.fail(problem)
            return None
        return value.lower()


RESERVED = (
    (ipaddress.IPv4Network("0.0.0.0/8"), 'the "this network" range'),
    (ipaddress.IPv4Network("127.0.0.0/8"), "the loopback range"),
    (ipaddress.IPv4Network("224.0.0.0/4"), "the multicast range"),
    (ipaddress.IPv4Network("240.0.0.0/4"), "the reserved range"),
)


def _text(value):
    """``value`` if a string; else a TypeError (ipaddress reads an int as an address: 5 -> 0.0.0.5)."""
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _reserved(ip):
    """Why ``ip`` is no interface's or gateway's address, or None."""
    for net, name in RESERVED:
        if ip in net:
            return f"is in {name} {net}"
    return None


def _reserved_net(net):
    """Why no interface may hold an address of ``net``, or None."""
    if net.prefixlen == 0:
        return "is every address (/0); an interface's subnet is smaller"
    for reserved, name in RESERVED:
        if net.overlaps(reserved):
            return f"overlaps {name} {reserved}"
    return None


def _host_in(checker, ip, net, what, used):
    """Check that ``ip`` is a usable, unused host address of ``net``."""
    if ip is None or net is None:
        return False
    if ip not in net:
        checker.fail(f"{what} {ip} is outside the subnet {net}: pick an address in {net}")
        return False
    if net.prefixlen < 31 and ip in (net.network_address, net.broadcast_address):
        checker.fail(f"{what} {ip} is the network or broadcast address of {net}: pick a host address")
        return False
    if ip in used:
        checker.fail(f"{what} {ip} is already used by {used[ip]}: give each its own address")
        return False
    return True


class _Allocator:
    """Hands out a subnet's host addresses in order, skipping used ones, in O(1) per address."""

    def __init__(self, net, used, skip=0):
        self.hosts = net.hosts()
        self.used = used
        for _ in range(skip):
            next(self.hosts, None)

    def next(self):
        for host in self.hosts:
            if host not in self.used:
                return host
        return None


def resolve(topo):
    """Validate ``topo`` and return its :class:`Resolved` form, or raise TopologyError.

    Each kind of entry has its checker below; they run in build order, since a later entry
    (a route's device) may name what an earlier one made (a veth). Every problem is kept and
    all are raised together.
    """
    c = _Checker(topo)
    for check in CHECKERS:
        check(c)
    if c.problems:
        raise TopologyError(c.problems)
    resolved = Resolved(topo.name, list(c.owner), c.nodes, c.containers, c.interfaces)
    resolved.steps = plan_steps(topo, resolved, c.underlay, c.veth_ends)
    return resolved


def _check_lab(c):
    topo = c.topo
    problem = names.lab_name_problem(topo.name)
    if problem:
        c.fail(problem)
    c.flag(topo.ipv6, "lab option ipv6")


def _check_namespace_names(c):
    """Namespace names: one flat space, like the files in /run/netns."""
    topo = c.topo
    c.has_underlay = topo._has_underlay()
    if c.has_underlay:
        c.name(topo.switch, "underlay switch name")
        c.owner[topo.switch] = "the underlay switch"
    for kind, entries in (("node", topo.nodes), ("container", topo.containers), ("namespace", topo.namespaces)):
        for name in entries:
            if not c.name(name, f"{kind} name"):
                continue
            if name in c.owner:
                c.fail(f"{kind} {name!r}: the name is already used by {c.owner[name]}; names must be unique in a lab")
                continue
            c.owner[name] = f"{kind} {name!r}"
    c.interfaces = {ns: {"lo"} for ns in c.owner}


def _check_nodes(c):
    """Nodes and their underlay addresses (given ones first, then the defaults in node order)."""
    topo = c.topo
    c.underlay = c.network(topo.underlay, "underlay subnet") if c.has_underlay else None
    used = c.under_used
    for node in topo.nodes.values():
        what = f"node {node.name!r}"
        for key in ("ip_forward", "masquerade"):
            if getattr(node, key) is not None:
                c.flag(getattr(node, key), f"{what}: {key}")
        c.flag(node.underlay, f"{what}: underlay")
        c.flag(node.docker, f"{what}: docker")
        c.flag(node.userland_proxy, f"{what}: userland_proxy")
        c.flag(node.quiet_ipv6, f"{what}: quiet_ipv6")
        address = None
        if node.underlay and c.has_underlay:
            if node.address is not None:
                ip = c.ip(node.address, f"{what}: address")
                if _host_in(c, ip, c.underlay, f"{what}: address", used):
                    used[ip] = what
                    address = ip
            c.add_interface(node.name, "eth0", what)
            c.add_interface(topo.switch, node.name, what)
        elif node.address is not None:
            c.fail(f"{what}: address {node.address!r} given but the node is not on an underlay; "
                   "drop the address, or put the node on the underlay (underlay=True and a lab underlay subnet)")
        c.nodes[node.name] = ResolvedNode(node.name, address, node.bridge, None, None)
    if c.underlay is None:
        return
    allocator = _Allocator(c.underlay, used, skip=1)  # .1: the router
    for node in topo.nodes.values():
        rn = c.nodes[node.name]
        if node.underlay and node.address is None:
            ip = allocator.next()
            if ip is None:
                c.fail(f"node {node.name!r}: the underlay {c.underlay} has no free address left")
            else:
                used[ip] = f"node {node.name!r}"
                rn.address = ip


def _check_bridges(c):
    """Each node's bridge: name, subnet, address, MTU, ageing, MAC."""
    topo = c.topo
    for node in topo.nodes.values():
        b, what = node.bridge, f"node {node.name!r}: bridge"
        if b is None or not c.name(b.name, f"{what} name"):
            continue
        c.add_interface(node.name, b.name, what)
        net = c.network(b.subnet, f"{what} {b.name} subnet")
        c.integer(b.mtu, f"{what} {b.name} mtu", *MTU_RANGE)
        if b.ageing is not None:
            c.integer(b.ageing, f"{what} {b.name} ageing (seconds)", 0, 1_000_000)
        mac = c.mac(b.mac, f"{what} {b.name} mac") if b.mac else names.derived_mac(
            topo.name, node.name, b.name, prefix="02:42"
        )
        if net is None:
            continue
        used = {}
        gw = c.ip(b.address, f"{what} {b.name} address") if b.address else next(net.hosts(), None)
        if _host_in(c, gw, net, f"{what} {b.name} address", used):
            used[gw] = f"bridge {b.name} of {node.name!r}"
        c.bridge_nets[node.name] = (net, gw, used, _Allocator(net, used))
        rn = c.nodes[node.name]
        rn.bridge_address = f"{gw}/{net.prefixlen}"
        rn.bridge_mac = mac


def _check_containers(c):
    """Containers: their node and given addresses; then default addresses, next free from .2."""
    topo = c.topo
    pending = []
    for ctr in topo.containers.values():
        what = f"container {ctr.name!r}"
        c.flag(ctr.pod, f"{what}: pod")
        if ctr.node not in topo.nodes:
            known = ", ".join(repr(n) for n in topo.nodes) or "none yet"
            c.fail(f"{what}: unknown node {ctr.node!r}; add the node first (known nodes: {known})")
            continue
        if topo.nodes[ctr.node].bridge is None:
            c.fail(f"{what}: node {ctr.node!r} has no bridge to attach it to; give the node a bridge")
            continue
        if ctr.node not in c.bridge_nets:
            continue
        net, gw, used, _ = c.bridge_nets[ctr.node]
        ip = None
        if ctr.address is not None:
            ip = c.ip(ctr.address, f"{what}: address")
            if _host_in(c, ip, net, f"{what}: address", used):
                used[ip] = what
            else:
                ip = None
        pending.append((ctr, ip))
    for ctr, ip in pending:
        _resolve_container(c, ctr, ip)


def _resolve_container(c, ctr, ip):
    topo, what = c.topo, f"container {ctr.name!r}"
    net, gw, used, allocator = c.bridge_nets[ctr.node]
    if ctr.address is None:
        ip = allocator.next()
        if ip is None:
            c.fail(f"{what}: the subnet {net} of node {ctr.node!r} has no free address left")
            return
        used[ip] = what
    if ip is None:
        return
    if ctr.mac == "docker":
        mac = names.docker_mac(ip)
    elif ctr.mac == "random":
        mac = None
    else:
        mac = c.mac(ctr.mac, f"{what}: mac")
    veth = names.veth_name(topo.name, ctr.name)
    c.add_interface(ctr.node, veth, what)
    if c.owner.get(ctr.name) == what:  # not when the name is refused, or is another's
        c.add_interface(ctr.name, "eth0", what)
    c.containers[ctr.name] = ResolvedContainer(
        ctr.name, ctr.node, str(ip), net.prefixlen, mac, veth,
        names.derived_mac(topo.name, ctr.name, "veth"), topo.nodes[ctr.node].bridge.name,
        str(gw), ctr.pod,
    )


def _check_veths(c):
    """Bare veth pairs: two known endpoints 'namespace:interface', MTU, addresses, MACs."""
    for i, veth in enumerate(c.topo.veths):
        what = f"veth pair #{i + 1}"
        if not (isinstance(veth.endpoints, (tuple, list)) and len(veth.endpoints) == 2):
            c.fail(f"{what}: endpoints {veth.endpoints!r} must be two strings 'namespace:interface'")
            continue
        ends = [end for end in (_veth_end(c, end, what) for end in veth.endpoints) if end]
        if veth.mtu is not None:
            c.integer(veth.mtu, f"{what}: mtu", *MTU_RANGE)
        c.flag(veth.up, f"{what}: up")
        addresses = tuple(veth.addresses) + (None, None)
        macs = tuple(veth.macs) + (None, None)
        for a in addresses[:2]:
            if a is not None:
                c.interface(a, f"{what}: address")
        for m in macs[:2]:
            if m is not None:
                c.mac(m, f"{what}: mac")
        if len(ends) == 2:
            c.veth_ends.append((veth, ends, addresses[:2], macs[:2]))


def _veth_end(c, end, what):
    if not isinstance(end, str) or end.count(":") != 1:
        c.fail(f"{what}: endpoint {end!r} must be written 'namespace:interface', like 'ns1:veth0'")
        return None
    ns, dev = end.split(":")
    if ns not in c.interfaces:
        c.fail(f"{what}: endpoint {end!r} names an unknown namespace {ns!r}; known: {c.known()}")
        return None
    if not c.name(dev, f"{what}: interface name"):
        return None
    c.add_interface(ns, dev, what)
    return ns, dev


def _check_vxlans(c):
    for vx in c.topo.vxlans:
        what = f"vxlan {vx.name!r} in {vx.ns!r}"
        if not c.known_ns(vx.ns, what):
            continue
        if c.name(vx.name, f"{what}: name"):
            c.add_interface(vx.ns, vx.name, what)
        c.integer(vx.vni, f"{what}: VNI", *VNI_RANGE, " (24 bits)")
        if vx.dstport is not None:
            c.integer(vx.dstport, f"{what}: dstport", *PORT_RANGE)
        for key in ("local", "remote"):
            if getattr(vx, key) is not None:
                c.ip(getattr(vx, key), f"{what}: {key}")
        if vx.dev is not None:
            c.known_dev(vx.ns, vx.dev, f"{what}: dev")
        if vx.master is not None:
            c.known_dev(vx.ns, vx.master, f"{what}: master")
        c.flag(vx.learning, f"{what}: learning")
        if vx.mtu is not None:
            c.integer(vx.mtu, f"{what}: mtu", *MTU_RANGE)
        if vx.address is not None:
            c.interface(vx.address, f"{what}: address")
        if vx.mac is not None:
            c.mac(vx.mac, f"{what}: mac")


def _check_addresses(c):
    seen = {}
    for entry in c.topo.addresses:
        what = f"address {entry.address!r} on {entry.ns}:{entry.dev}"
        if not c.known_dev(entry.ns, entry.dev, what):
            continue
        iface = c.interface(entry.address, what)
        if iface is not None:
            key = (entry.ns, iface.ip)
            if key in seen:
                c.fail(f"{what}: {iface.ip} is already on {seen[key]} in {entry.ns!r}")
            seen[key] = entry.dev


def _check_routes(c):
    for entry in c.topo.routes:
        what = f"route to {entry.to!r} in {entry.ns!r}"
        if not c.known_ns(entry.ns, what):
            continue
        if entry.to != "default":
            c.network(entry.to, what + ": destination", usable=False)
        if entry.via is None and entry.dev is None:
            c.fail(f"{what}: give a gateway (via) or a device (dev)")
        if entry.via is not None:
            c.ip(entry.via, f"{what}: via")
        if entry.dev is not None:
            c.known_dev(entry.ns, entry.dev, f"{what}: dev")
        c.flag(entry.onlink, f"{what}: onlink")


SYSCTL_KEY_RE = re.compile(r"net(\.[A-Za-z0-9_-]+)+")  # net.ipv4.conf.eth0.rp_filter
SYSCTL_VALUE_RE = re.compile(r"[A-Za-z0-9_.:,+-]+( [A-Za-z0-9_.:,+-]+)*")  # 1, or "4096 87380 6291456"
NFT_MAX = 64 * 1024


def _check_sysctls(c):
    """Keys are net.* dotted words; values are numbers or words: nothing a shell or sysctl reads
    as more than one value."""
    for entry in c.topo.sysctls:
        what = f"sysctl {entry.key!r} in {entry.ns!r}"
        c.known_ns(entry.ns, what)
        if not isinstance(entry.key, str) or not SYSCTL_KEY_RE.fullmatch(entry.key) or len(entry.key) > 200:
            c.fail(f"{what}: only net.* sysctls belong to a network namespace, written as dotted words of "
                   "letters, digits, '_' and '-'; use a key like net.ipv4.ip_forward")
        if not isinstance(entry.value, str) or not SYSCTL_VALUE_RE.fullmatch(entry.value) or len(entry.value) > 200:
            c.fail(f"{what}: value {entry.value!r} is not a sysctl value; use a number or numbers separated "
                   "by single spaces (letters, digits, '_', '.', ':', ',', '+', '-'), like 1")


def _check_nftables(c):
    """A script of printable text (tabs and newlines too), at most NFT_MAX characters, that loads
    no other file."""
    for entry in c.topo.nftables:
        what = f"nftables rules for {entry.ns!r}"
        if entry.ns not in c.interfaces:
            c.fail(f"{what}: unknown namespace; known: {c.known()}")
        if not isinstance(entry.rules, str) or not entry.rules.strip():
            c.fail(f"{what} must be a non-empty nft script")
            continue
        bad = next((ch for ch in entry.rules if not (ch.isprintable() or ch in "\t\n")), None)
        if bad is not None:
            line = entry.rules[: entry.rules.index(bad)].count("\n") + 1
            c.fail(f"{what}: line {line} holds the control character {bad!r}; an nft script is printable text")
        elif len(entry.rules) > NFT_MAX:
            c.fail(f"{what}: the script is {len(entry.rules)} characters long; at most {NFT_MAX}")
        for n, text in enumerate(entry.rules.split("\n"), 1):
            if text.strip().startswith("include"):
                c.fail(f"{what}: line {n} includes a file ({text.strip()[:60]!r}); a lab's rules are "
                       "written out in the lab, not read from the machine")


def _check_publish(c):
    for entry in c.topo.publish:
        what = f"published port {entry.port!r} of {entry.container!r}"
        if entry.container not in c.topo.containers:
            c.fail(f"{what}: unknown container {entry.container!r}")
        c.integer(entry.port, f"{what}: port", *PORT_RANGE)
        c.integer(entry.to_port, f"{what}: container port", *PORT_RANGE)
        if entry.proto not in ("tcp", "udp"):
            c.fail(f"{what}: protocol {entry.proto!r} must be 'tcp' or 'udp'")


def _check_fdb(c):
    for entry in c.topo.fdb:
        what = f"fdb entry {entry.mac!r} on {entry.ns}:{entry.dev}"
        c.known_dev(entry.ns, entry.dev, what)
        if entry.mac != "00:00:00:00:00:00":
            c.mac(entry.mac, what)
        if entry.dst is not None:
            c.ip(entry.dst, f"{what}: dst")


def _check_neighbours(c):
    for entry in c.topo.neighbours:
        what = f"neighbour {entry.address!r} on {entry.ns}:{entry.dev}"
        c.known_dev(entry.ns, entry.dev, what)
        c.ip(entry.address, what)
        c.mac(entry.mac, f"{what}: mac")


def _check_subnets(c):
    """What the kernel accepts but makes a lab lie: two interfaces of one namespace in
    overlapping subnets (which one answers?; a /32 host address, as flannel puts on flannel.1, is
    fine), and one address twice in a namespace or on both
    ends of a veth pair."""
    by_ns = {}
    for ns, dev, iface, what in _assigned(c):
        for other_dev, other, other_what in by_ns.setdefault(ns, []):
            if other_dev == dev:
                continue
            if other.ip == iface.ip:
                c.fail(f"{what}: {iface.ip} is also on {other_dev} in {ns!r} ({other_what}); give each its own address")
            elif other.network.overlaps(iface.network) and 32 not in (iface.network.prefixlen, other.network.prefixlen):
                c.fail(f"{what}: {iface.network} on {dev} overlaps {other.network} on {other_dev} in {ns!r} "
                       f"({other_what}); give each interface of a namespace its own subnet")
        by_ns[ns].append((dev, iface, what))
    for veth, ends, addresses, _ in c.veth_ends:
        parsed = [_parse(a) for a in addresses]
        if all(parsed) and parsed[0].ip == parsed[1].ip:
            c.fail(f"veth pair {ends[0][0]}:{ends[0][1]} - {ends[1][0]}:{ends[1][1]}: both ends have "
                   f"{parsed[0].ip}; give each end its own address")


def _assigned(c):
    """(namespace, device, IPv4Interface, what) for every address the build assigns."""
    topo = c.topo
    for rn in c.nodes.values():
        if c.owner.get(rn.name) != f"node {rn.name!r}":
            continue  # a name refused, or another's: reported already
        if rn.address is not None and c.underlay is not None:
            yield rn.name, "eth0", ipaddress.IPv4Interface(f"{rn.address}/{c.underlay.prefixlen}"), \
                f"node {rn.name!r} on the underlay {c.underlay}"
        if rn.bridge_address is not None:
            yield rn.name, rn.bridge.name, ipaddress.IPv4Interface(rn.bridge_address), f"node {rn.name!r}: bridge"
    for rc in c.containers.values():
        if c.owner.get(rc.name) != f"container {rc.name!r}":
            continue
        yield rc.name, "eth0", ipaddress.IPv4Interface(f"{rc.address}/{rc.prefixlen}"), f"container {rc.name!r}"
    for i, (veth, ends, addresses, _) in enumerate(c.veth_ends):
        for (ns, dev), address in zip(ends, addresses):
            if _parse(address):
                yield ns, dev, _parse(address), f"veth {ns}:{dev}"
    for vx in topo.vxlans:
        if _parse(vx.address):
            yield vx.ns, vx.name, _parse(vx.address), f"vxlan {vx.name!r}"
    for entry in topo.addresses:
        if _parse(entry.address):
            yield entry.ns, entry.dev, _parse(entry.address), f"address {entry.address!r}"


def _parse(address):
    try:
        return ipaddress.IPv4Interface(_text(address)) if address and "/" in address else None
    except (ValueError, TypeError):
        return None


CHECKERS = (
    _check_lab, _check_namespace_names, _check_nodes, _check_bridges, _check_containers, _check_veths,
    _check_vxlans, _check_addresses, _check_routes, _check_sysctls, _check_nftables, _check_publish,
    _check_fdb, _check_neighbours, _check_subnets,
)
