"""A lab's topology as the kernel has it: what is really there, not what was described.

:func:`discover` reads every namespace of a built lab once through netlink (links,
addresses, veth peers across namespaces, bridge ports, VXLAN devices) and sorts the
namespaces by their shape, as a reader of the write-up would:

* the **underlay switch**: a bridge without an address whose ports are veths leading to
  other namespaces' ``eth0``;
* a **container**: nothing but ``eth0``, a veth whose peer is a port of an addressed bridge
  (a ``docker0``) in another namespace;
* a **node**: holds an addressed bridge, or has an ``eth0`` plugged into the switch;
* anything else is a bare **namespace**.

:func:`described` gives the same :class:`Summary` from the lab's description, so that
``discover(lab).summary() == described(lab)`` says the kernel holds what was asked for, and
:meth:`Discovered.differences` says what differs when it does not.

>>> found = discover(lab)                          # doctest: +SKIP
>>> found.links()[0]                               # doctest: +SKIP
('c1', 'eth0', 'node1', 'vethf180a07')
>>> found.differences(lab)                         # doctest: +SKIP
[]
"""

import ipaddress
from dataclasses import dataclass, field
from typing import Optional

from .state import Table

VXLAN_KERNEL_PORT = 8472  # the kernel's port when none is given

ROLES = ("switch", "node", "container", "namespace")  # the order tables and summaries use


@dataclass(frozen=True)
class Vxlan:
    """What makes a VXLAN device a VTEP: its VNI, UDP port, endpoints and underlying device."""

    vni: int
    port: int
    local: Optional[str]
    remote: Optional[str]
    dev: Optional[str]  # the underlying device's name, in the same namespace
    learning: bool


@dataclass
class Interface:
    """One network device of one namespace, as netlink reports it.

    ``kind`` is the kernel's link kind (``veth``, ``bridge``, ``vxlan``, ``dummy``...;
    ``loopback`` for ``lo``), ``master`` the name of the bridge it is a port of, ``peer`` the
    other end of a veth as ``(namespace, name)``.
    """

    ns: str
    name: str
    index: int
    kind: Optional[str]
    mac: Optional[str]
    mtu: Optional[int]
    state: Optional[str]
    addresses: tuple = ()
    master: Optional[str] = None
    peer: Optional[tuple] = None
    vxlan: Optional[Vxlan] = None

    @property
    def point(self):
        """The interface as a capture point, ``"ns:name"``."""
        return f"{self.ns}:{self.name}"


@dataclass
class Namespace:
    """A lab namespace: its role and its interfaces (by name, in index order)."""

    name: str
    role: str = "namespace"
    interfaces: dict = field(default_factory=dict)

    def bridges(self):
        """The bridges of this namespace, by name."""
        return sorted(name for name, i in self.interfaces.items() if i.kind == "bridge")

    def ports(self, bridge):
        """The ports of ``bridge``, sorted by name."""
        return sorted(name for name, i in self.interfaces.items() if i.master == bridge)


@dataclass(frozen=True)
class Summary:
    """The comparable shape of a lab: the same whether read from the kernel or the description.

    Every field is a sorted tuple of tuples. ``fixed`` (not compared by ``==``) holds the MACs
    and MTUs the description sets explicitly, ``{(ns, ifname): {"mac": ..., "mtu": ...}}``.
    """

    namespaces: tuple  # (name, role)
    interfaces: tuple  # (ns, ifname, kind)
    links: tuple  # veth pairs (ns_a, if_a, ns_b, if_b), the smaller end first
    bridge_ports: tuple  # (ns, bridge, port)
    addresses: tuple  # (ns, ifname, address/prefixlen), loopback left out
    vxlans: tuple  # (ns, ifname, vni, port, local, remote, dev, learning)
    fixed: dict = field(default=None, compare=False, hash=False)

    FIELDS = ("namespaces", "interfaces", "links", "bridge_ports", "addresses", "vxlans")

    def differences(self, other, names=("kernel", "description")):
        """What differs from ``other``, one line per item found on one side only."""
        lines = []
        for name in self.FIELDS:
            mine, theirs = set(getattr(self, name)), set(getattr(other, name))
            for item in sorted(mine - theirs, key=repr):
                lines.append(f"{name}: only in the {names[0]}: {_show(item)}")
            for item in sorted(theirs - mine, key=repr):
                lines.append(f"{name}: only in the {names[1]}: {_show(item)}")
        return lines


def _show(item):
    return " ".join("-" if v is None else str(v) for v in item)


class Discovered:
    """A lab's namespaces and interfaces as read from the kernel by :func:`discover`."""

    def __init__(self, namespaces, unresolved=()):
        self.namespaces = namespaces  # name -> Namespace, sorted by name
        self.unresolved = list(unresolved)  # veth ends whose peer is outside the lab

    def __repr__(self):
        counts = {role: len(self.names(role)) for role in ROLES}
        plural = {"switch": "switches", "node": "nodes", "container": "containers", "namespace": "namespaces"}
        shown = ", ".join(f"{n} {role if n == 1 else plural[role]}" for role, n in counts.items() if n)
        return f"<Discovered: {shown or 'nothing'}; {len(self.links())} veth pairs>"

    # looking things up

    def names(self, role=None):
        """Namespace names, sorted; only those of ``role`` when given."""
        return [n for n, ns in self.namespaces.items() if role is None or ns.role == role]

    def interface(self, ns, name):
        """One interface, by namespace and name (KeyError if absent)."""
        try:
            return self.namespaces[ns].interfaces[name]
        except KeyError:
            raise KeyError(f"no interface {name!r} in namespace {ns!r}") from None

    def interfaces(self):
        """Every interface of every namespace, sorted by namespace then index."""
        return [i for ns in self.namespaces.values() for i in ns.interfaces.values()]

    def peer(self, ns, name):
        """The other end of a veth, as an :class:`Interface`, or None."""
        iface = self.interface(ns, name)
        if iface.peer is None:
            return None
        return self.namespaces.get(iface.peer[0], Namespace("?")).interfaces.get(iface.peer[1])

    def containers_of(self, node):
        """The containers plugged into a bridge of ``node``, sorted by name."""
        return [c for c in self.names("container") if self.interface(c, "eth0").peer[0] == node]

    def uplink(self, node):
        """The switch port ``node``'s eth0 is plugged into, as ``(switch, port)``, or None."""
        eth0 = self.namespaces[node].interfaces.get("eth0")
        if eth0 is not None and eth0.peer and self.namespaces.get(eth0.peer[0], Namespace("?")).role == "switch":
            return eth0.peer
        return None

    def links(self):
        """Every veth pair once, as ``(ns_a, if_a, ns_b, if_b)`` with the smaller end first; sorted."""
        pairs = set()
        for iface in self.interfaces():
            if iface.kind == "veth" and iface.peer is not None:
                a, b = (iface.ns, iface.name), tuple(iface.peer)
                pairs.add(min(a, b) + max(a, b))
        return sorted(pairs)

    def bridge_ports(self):
        """``(ns, bridge, port)`` for every bridge port, sorted."""
        return sorted((i.ns, i.master, i.name) for i in self.interfaces() if i.master is not None)

    def vxlans(self):
        """The VXLAN devices, sorted by namespace and name."""
        return sorted((i for i in self.interfaces() if i.vxlan is not None), key=lambda i: (i.ns, i.name))

    # views

    def summary(self):
        """The comparable :class:`Summary` of what the kernel holds."""
        return Summary(
            namespaces=tuple(sorted((n, ns.role) for n, ns in self.namespaces.items())),
            interfaces=tuple(sorted((i.ns, i.name, i.kind) for i in self.interfaces())),
            links=tuple(self.links()),
            bridge_ports=tuple(self.bridge_ports()),
            addresses=tuple(sorted(
                (i.ns, i.name, a) for i in self.interfaces() if i.kind != "loopback" for a in i.addresses
            )),
            vxlans=tuple(
                (i.ns, i.name, i.vxlan.vni, i.vxlan.port, i.vxlan.local, i.vxlan.remote, i.vxlan.dev,
                 i.vxlan.learning)
                for i in self.vxlans()
            ),
        )

    def differences(self, expected):
        """What the kernel holds that the description does not, and the reverse; [] if none.

        ``expected`` is a Lab, a Topology, a Resolved description or a :class:`Summary`.
        MACs and MTUs the description fixes are compared too.
        """
        if not isinstance(expected, Summary):
            expected = described(expected)
        lines = self.summary().differences(expected)
        for (ns, name), wanted in sorted((expected.fixed or {}).items()):
            iface = self.namespaces.get(ns, Namespace(ns)).interfaces.get(name)
            if iface is None:
                continue  # already reported as a missing interface
            for key, value in sorted(wanted.items()):
                if value is not None and getattr(iface, key) != value:
                    lines.append(f"{key}: {ns}:{name} is {getattr(iface, key)} in the kernel, {value} in the description")
        return lines

    def matches(self, expected):
        """True when the kernel holds exactly what ``expected`` describes (see :meth:`differences`)."""
        return not self.differences(expected)

    def table(self, title="discovered topology"):
        """One row per interface: namespace, role, name, kind, MAC, MTU, state, bridge, peer, addresses."""
        rows = []
        for role in ROLES:
            for n in self.names(role):
                for i in self.namespaces[n].interfaces.values():
                    rows.append({
                        "namespace": n, "role": role, "interface": i.name, "kind": i.kind, "mac": i.mac,
                        "mtu": i.mtu, "state": i.state, "master": i.master,
                        "peer": f"{i.peer[0]}:{i.peer[1]}" if i.peer else _vxlan_text(i.vxlan),
                        "addresses": " ".join(i.addresses),
                    })
        columns = ["namespace", "role", "interface", "kind", "mac", "mtu", "state", "master", "peer", "addresses"]
        return Table(title, columns, rows)

    def _repr_html_(self):
        return self.table()._repr_html_()


def _vxlan_text(vx):
    if vx is None:
        return None
    ends = f"{vx.local or '*'}->{vx.remote or 'fdb'}"
    return f"vni {vx.vni} udp {vx.port} {ends} dev {vx.dev}"


# --- reading the kernel ----------------------------------------------------------------------


def discover(lab, dump=None):
    """Read ``lab``'s topology from the kernel: one netlink dump of every namespace.

    Args:
        lab: a built :class:`nethelpers.Lab`.
        dump: a dump already taken (``lab._engine().call("netlink_dump")``), to read it again.

    >>> discover(lab).names("container")    # doctest: +SKIP
    ['c1', 'c2', 'c3']
    """
    if dump is None:
        dump = lab._engine().call("netlink_dump")
    return from_dump(dump)


def from_dump(dump):
    """Build a :class:`Discovered` from the engine's ``netlink_dump`` reply."""
    namespaces, by_index, unresolved = {}, {}, []
    for ns in sorted(dump):
        data = dump[ns]
        addresses = {}
        for a in data.get("addresses", []):
            addresses.setdefault(a["index"], []).append(a["address"])
        links = sorted(data.get("links", []), key=lambda link: link["index"])
        names = {link["index"]: link["name"] for link in links}
        by_index[ns] = names
        interfaces = {}
        for link in links:
            kind = link.get("kind") or ("loopback" if link["name"] == "lo" else None)
            vx = link.get("vxlan")
            interfaces[link["name"]] = Interface(
                ns=ns, name=link["name"], index=link["index"], kind=kind, mac=link.get("mac"),
                mtu=link.get("mtu"), state=link.get("state"),
                addresses=tuple(sorted(addresses.get(link["index"], []), key=_address_key)),
                master=names.get(link.get("master")) if link.get("master") else None,
                vxlan=None if vx is None else Vxlan(
                    vni=vx.get("vni"), port=vx.get("port") or VXLAN_KERNEL_PORT, local=vx.get("local"),
                    remote=vx.get("remote"), dev=names.get(vx.get("dev")) if vx.get("dev") else None,
                    learning=bool(vx.get("learning")),
                ),
            )
        namespaces[ns] = Namespace(ns, interfaces=interfaces)

    # veth peers: IFLA_LINK is an index in the namespace IFLA_LINK_NETNSID names, as seen from
    # this namespace (nsids are per namespace: node1's 0 is not c1's 0); no nsid: the same one.
    for ns, data in dump.items():
        nsids = {int(nsid): name for nsid, name in data.get("nsids", {}).items()}  # JSON keys are strings
        for link in data.get("links", []):
            if link.get("kind") != "veth" or link.get("peer_index") is None:
                continue
            nsid = link.get("peer_nsid")
            other = ns if nsid is None else nsids.get(nsid)
            peer_name = by_index.get(other, {}).get(link["peer_index"])
            if peer_name is None:
                unresolved.append((ns, link["name"], nsid, link["peer_index"]))
                continue
            namespaces[ns].interfaces[link["name"]].peer = (other, peer_name)
    _classify(namespaces)
    return Discovered(namespaces, unresolved)


def _address_key(address):
    return ipaddress.IPv4Interface(address)


def _non_lo(ns):
    return [i for i in ns.interfaces.values() if i.kind != "loopback"]


def _classify(namespaces):
    """Give each namespace its role from its shape alone (see the module's docstring)."""

    def lookup(point):
        return namespaces.get(point[0], Namespace("?")).interfaces.get(point[1]) if point else None

    for ns in namespaces.values():  # the switch: an unaddressed bridge whose ports lead to eth0s
        if any(i.addresses for i in _non_lo(ns)):
            continue
        for bridge in ns.bridges():
            ports = [ns.interfaces[p] for p in ns.ports(bridge)]
            if ports and all(p.kind == "veth" and p.peer and p.peer[0] != ns.name and p.peer[1] == "eth0"
                             for p in ports):
                ns.role = "switch"
    for ns in namespaces.values():  # containers: only eth0, plugged into an addressed bridge
        if ns.role != "namespace":
            continue
        rest = _non_lo(ns)
        if len(rest) == 1 and rest[0].name == "eth0" and rest[0].kind == "veth" and rest[0].peer:
            host_end = lookup(rest[0].peer)
            bridge = lookup((rest[0].peer[0], host_end.master)) if host_end and host_end.master else None
            if rest[0].peer[0] != ns.name and bridge is not None and bridge.addresses:
                ns.role = "container"
    for ns in namespaces.values():  # nodes: an addressed bridge, or an eth0 on the switch
        if ns.role != "namespace":
            continue
        eth0 = ns.interfaces.get("eth0")
        uplink = eth0 is not None and eth0.peer and namespaces.get(eth0.peer[0], Namespace("?")).role == "switch"
        if uplink or any(ns.interfaces[b].addresses for b in ns.bridges()):
            ns.role = "node"


# --- reading the description -----------------------------------------------------------------


def described(what):
    """The :class:`Summary` a lab's description promises: compare it with ``discover(lab).summary()``.

    Args:
        what: a Lab (its resolved description), a Topology or a Resolved.

    Roles come from the description: its containers, its nodes (a node with neither a bridge
    nor an uplink is only a namespace to the kernel, and counts as one) and the namespace that
    holds the underlay's bridge; interfaces, veth pairs, bridge ports, addresses and VXLAN
    devices come from the build steps, so every default is included.
    """
    from .topology import Topology

    if isinstance(what, Topology):
        resolved = what.resolve()
    elif hasattr(what, "topology") and hasattr(what, "resolved"):  # a Lab, built or not
        resolved = what.resolved if what.resolved is not None else what.topology.resolve()
    else:
        resolved = what
    roles = {ns: "namespace" for ns in resolved.namespaces}
    for node in resolved.nodes.values():
        if node.bridge is not None or node.address is not None:
            roles[node.name] = "node"
    for name in resolved.containers:
        roles[name] = "container"
    for step in resolved.steps:  # only nodes and the underlay switch hold bridges
        if step.op == "bridge" and step.ns not in resolved.nodes:
            roles[step.ns] = "switch"

    interfaces = {(ns, "lo"): "loopback" for ns in resolved.namespaces}
    links, ports, addresses, vxlans, fixed = set(), set(), set(), set(), {}
    for step in resolved.steps:
        a = step.args
        if step.op == "bridge":
            interfaces[(step.ns, a["name"])] = "bridge"
            fixed[(step.ns, a["name"])] = {"mac": a["mac"], "mtu": a["mtu"]}
        elif step.op == "veth":
            ends = (step.ns, a["name"]), (a["peer_ns"], a["peer"])
            for end, mac in zip(ends, (a["mac"], a["peer_mac"])):
                interfaces[end] = "veth"
                fixed[end] = {"mac": mac, "mtu": a["mtu"]}
            links.add(min(ends) + max(ends))
            if a["master"]:
                ports.add((step.ns, a["master"], a["name"]))
        elif step.op == "vxlan":
            interfaces[(step.ns, a["name"])] = "vxlan"
            fixed[(step.ns, a["name"])] = {"mac": a["mac"], "mtu": a["mtu"]}
            vxlans.add((step.ns, a["name"], a["vni"], a["dstport"] or VXLAN_KERNEL_PORT, a["local"], a["remote"],
                        a["dev"], bool(a["learning"])))
            if a["master"]:
                ports.add((step.ns, a["master"], a["name"]))
        elif step.op == "addr":
            addresses.add((step.ns, a["dev"], a["address"]))
    return Summary(
        namespaces=tuple(sorted(roles.items())),
        interfaces=tuple(sorted((ns, name, kind) for (ns, name), kind in interfaces.items())),
        links=tuple(sorted(links)),
        bridge_ports=tuple(sorted(ports)),
        addresses=tuple(sorted(addresses)),
        vxlans=tuple(sorted(vxlans)),
        fixed=fixed,
    )
