"""A lab described as data: nodes, containers, namespaces, links, rules. No kernel involved.

A :class:`Topology` can be built up in Python or read from a small YAML lab file, validated,
printed as the ``ip``/``bridge``/``nft`` commands that would build it, and drawn, all without
privileges. :class:`nethelpers.Lab` turns it into kernel objects.

The vocabulary mirrors the write-up the course follows:

* a **node** is a namespace standing for one host, with Docker's default bridge ``docker0``
  (172.17.0.1/16, MTU 1500) and an uplink ``eth0`` on the **underlay** LAN (10.168.0.0/24,
  node1 = .2, node2 = .3...), a bridge in a namespace of its own;
* a **container** is a namespace on a node, joined to the node's bridge by a veth pair
  (container end ``eth0``, host end ``veth`` + 7 hex characters) with Docker's MAC and a
  default route via the bridge's address; a **pod** is a container whose namespace is held
  by a ``pause`` process, for several processes to share;
* bare **namespaces** and **veth pairs**, addresses, routes, sysctls, nftables rules,
  VXLAN devices, bridge FDB and neighbour entries complete it.

>>> t = Topology("demo")
>>> t.add_node("node1")
Node(name='node1', ...)
>>> t.add_container("c1", node="node1")
Container(name='c1', node='node1', ...)
>>> print(t.commands().splitlines()[0])
ip netns add lan
"""

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Optional

from .errors import UsageError, checked_call
from .plan import PAUSE_ARGV, Step  # noqa: F401  (Step was defined here; kept importable)
from .validate import resolve as _resolve

DEFAULT_UNDERLAY = "10.168.0.0/24"
DEFAULT_BRIDGE_SUBNET = "172.17.0.0/16"
VXLAN_KERNEL_PORT = 8472  # what the kernel uses when no dstport is given
VXLAN_IANA_PORT = 4789


def _short(cls):
    """Make a dataclass repr name its first field and elide the rest (keeps doctests stable)."""
    first = dataclasses.fields(cls)[0].name
    extra = len(dataclasses.fields(cls)) > 1

    def __repr__(self):
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if f.name == first or f.name in ("node",)
        )
        return f"{type(self).__name__}({shown}{', ...' if extra else ''})"

    cls.__repr__ = __repr__
    return cls


def _make(cls, what, *args, **options):
    """Construct an entry; a misspelt option is a UsageError naming it and the known ones."""
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in options if k not in known[len(args):]]
    if unknown:
        raise UsageError(f"{what}: unknown option {unknown[0]!r}; known options: {', '.join(known[len(args):])}")
    return cls(*args, **options)


def _shown(value, limit=60):
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= limit else text[:limit] + '...'}"


def _need_str(value, call, what, none=False):
    """Raise a UsageError unless ``value`` is a str (or None, when ``none``)."""
    if isinstance(value, str) or (none and value is None):
        return
    raise UsageError(f"{call}: {what} must be a string{' or None' if none else ''}, got {_shown(value)}")


def _need_names(call, **values):
    for what, value in values.items():
        _need_str(value, call, what)


# --- the entries of a lab -------------------------------------------------------------------


@_short
@dataclass
class Bridge:
    """A node's Docker-style bridge. ``ageing`` is the FDB ageing time in seconds."""

    name: str = "docker0"
    subnet: str = DEFAULT_BRIDGE_SUBNET
    address: Optional[str] = None  # default: the subnet's first host, as Docker does
    mtu: int = 1500
    mac: Optional[str] = None  # default: 02:42 + 4 bytes derived from the lab and node
    ageing: Optional[int] = None


Bridge.__init__ = checked_call(Bridge.__init__)  # Bridge(mttu=9000): a UsageError naming the keyword


@_short
@dataclass
class Node:
    """A host: a namespace with a bridge (``None`` for none) and an uplink on the underlay.

    ``docker`` (default True): the node is what ``dockerd`` (Docker Engine 20.10) leaves on a
    host with a bridge: forwarding on, Docker's filter and nat chains made with ``iptables``
    (iptables-nft, with counters: FORWARD policy DROP, DOCKER, DOCKER-USER,
    DOCKER-ISOLATION-STAGE-1/2, MASQUERADE, DNAT for published ports from PREROUTING and
    OUTPUT), a userland proxy on each published TCP port (``userland_proxy=False``: Docker's
    ``--userland-proxy=false`` instead: hairpin mode on the bridge ports, DNAT from docker0 too,
    route_localnet, the node's own addresses MASQUERADEd into docker0, each published port held
    by a socket nothing reads), txqueuelen 0 on docker0 and the veths, each
    veth pair made in the node with Docker's interface indexes, the containers' sysctls, and
    each container's own hostname (its name), /etc/hostname, /etc/hosts and /etc/resolv.conf,
    as ``docker run --hostname NAME`` makes them.
    ``docker=False`` builds only what is asked for (notebooks that add the pieces one at a
    time): no forwarding, no rules, no proxy, and containers that are network namespaces and
    no more, with the lab's hostname and files, as ``ip netns add`` gives them, which is what
    those notebooks build by hand. ``ip_forward`` and ``masquerade`` default to
    what ``docker`` says; given, they win.

    ``quiet_ipv6=True``: where the node's IPv6 is on, it sends no IPv6 control packet at a
    moment that depends on timing: no router solicitations (Docker's host sends them 1 s after
    a link's address is ready, then every 4, 8, 16... s, for ever), no duplicate address
    detection, and multicast listener reports the MLDv1 way, at once as a group is joined, on
    a timer :meth:`Lab.settle` waits for (MLDv2's merge joins by timing, from a queue nothing
    shows). Captures and counters then repeat run after run: the course's notebooks use it.
    Default False: the node sends what Docker's host sends.
    """

    name: str
    address: Optional[str] = None  # on the underlay; default .2, .3... in node order
    bridge: Optional[Bridge] = field(default_factory=Bridge)
    ip_forward: Optional[bool] = None  # default: docker (and a bridge)
    masquerade: Optional[bool] = None  # Docker's `-s SUBNET ! -o docker0 -j MASQUERADE`; default: docker
    underlay: bool = True
    docker: bool = True
    userland_proxy: bool = True
    quiet_ipv6: bool = False

    def dockerd(self):
        """True where dockerd's networking applies: a Docker node with a bridge."""
        return self.docker is True and self.bridge is not None

    def forwards(self):
        return self.dockerd() if self.ip_forward is None else self.ip_forward

    def masquerades(self):
        return self.dockerd() if self.masquerade is None else self.masquerade


@_short
@dataclass
class Container:
    """A container: its own namespace, ``eth0`` on its node's bridge through a veth pair.

    ``mac`` is ``"docker"`` (02:42 + the IPv4 bytes), ``"random"`` (the kernel's choice) or
    an explicit MAC.
    """

    name: str
    node: str
    address: Optional[str] = None  # default: the next free address of the bridge subnet
    mac: str = "docker"
    pod: bool = False  # hold the namespace with a `pause` process, Kubernetes-style


@_short
@dataclass
class Namespace:
    """A bare network namespace: only ``lo``, down, until something is added to it."""

    name: str


@_short
@dataclass
class Veth:
    """A veth pair between two endpoints written ``"namespace:interface"``."""

    endpoints: tuple
    addresses: tuple = (None, None)
    macs: tuple = (None, None)
    mtu: Optional[int] = None
    up: bool = True


@_short
@dataclass
class Address:
    ns: str
    dev: str
    address: str  # with prefix length, e.g. 10.0.0.1/24


@_short
@dataclass
class Route:
    ns: str
    to: str  # a prefix, or "default"
    via: Optional[str] = None
    dev: Optional[str] = None
    onlink: bool = False


@_short
@dataclass
class Sysctl:
    ns: str
    key: str
    value: str


@_short
@dataclass
class Nftables:
    ns: str
    rules: str  # an nft script, as `nft -f` reads it


@_short
@dataclass
class Publish:
    """Docker's ``-p HOST_PORT:CONTAINER_PORT``: DNAT on the container's node."""

    container: str
    port: int
    to_port: int
    proto: str = "tcp"


@_short
@dataclass
class Vxlan:
    """A VXLAN device (VTEP). ``dstport=None`` leaves the kernel's default, 8472."""

    ns: str
    name: str
    vni: int
    dstport: Optional[int] = VXLAN_IANA_PORT
    local: Optional[str] = None
    remote: Optional[str] = None
    dev: Optional[str] = None
    learning: bool = True
    master: Optional[str] = None
    mtu: Optional[int] = None
    address: Optional[str] = None
    mac: Optional[str] = None


@_short
@dataclass
class Fdb:
    """A static bridge FDB entry: ``bridge fdb append MAC dev DEV [dst IP]``."""

    ns: str
    dev: str
    mac: str
    dst: Optional[str] = None


@_short
@dataclass
class Neighbour:
    """A permanent neighbour (ARP) entry: ``ip neigh add ADDRESS lladdr MAC dev DEV``."""

    ns: str
    dev: str
    address: str
    mac: str


# --- the topology ----------------------------------------------------------------------------


class Topology:
    """The description of one lab. Add entries, then :meth:`validate` or hand it to a Lab.

    Args:
        name: the lab's name; it seeds every derived name and MAC.
        underlay: the underlay LAN's subnet, or None for no underlay.
        switch: the name of the namespace that holds the underlay's bridge.
        ipv6: leave IPv6 on in the lab's namespaces (off by default, as Docker does for
            containers of a non-IPv6 network; it keeps captures free of router solicitations).
    """

    @checked_call
    def __init__(self, name: str, *, underlay: Optional[str] = DEFAULT_UNDERLAY, switch: str = "lan",
                 ipv6: bool = False):
        _need_str(name, "Topology", "the lab's name")
        _need_str(underlay, "Topology", "underlay (a subnet like 10.168.0.0/24, or None)", none=True)
        _need_str(switch, "Topology", "switch (a namespace name)")
        self.name = name
        self.underlay = underlay
        self.switch = switch
        self.ipv6 = ipv6
        self.nodes = {}
        self.containers = {}
        self.namespaces = {}
        self.veths = []
        self.addresses = []
        self.routes = []
        self.sysctls = []
        self.nftables = []
        self.publish = []
        self.vxlans = []
        self.fdb = []
        self.neighbours = []

    def __repr__(self):
        return (
            f"Topology({self.name!r}: {len(self.nodes)} nodes, {len(self.containers)} containers, "
            f"{len(self.namespaces)} namespaces, {len(self.veths)} veth pairs)"
        )

    # Adding entries. Each returns the entry, and keeps the first problem for validate().

    @checked_call
    def add_node(self, name: str, **options) -> "Node":
        """Add a node (a host): a Docker host as dockerd leaves it unless ``docker=False``.
        Options: address, bridge (a Bridge, a dict or None), ip_forward, masquerade,
        underlay (False: not on the underlay), docker, userland_proxy, quiet_ipv6 (see :class:`Node`)."""
        _need_str(name, "add_node", "the node's name")
        bridge = options.get("bridge", Bridge())
        if isinstance(bridge, dict):
            options["bridge"] = _make(Bridge, f"add_node({name!r}): bridge", **bridge)
        elif not isinstance(bridge, (Bridge, type(None))):
            raise UsageError(f"add_node({name!r}): bridge must be a Bridge, a dict of its options or None, "
                             f"got {_shown(bridge)}")
        node = _make(Node, f"add_node({name!r})", name, **options)
        self.nodes.setdefault(name, node) is node or self._dupe("node", name)
        return node

    @checked_call
    def add_container(self, name: str, node: str, **options) -> "Container":
        """Add a container on ``node``. Options: address, mac ("docker", "random" or a MAC), pod."""
        _need_str(name, "add_container", "the container's name")
        _need_str(node, f"add_container({name!r})", "node (the name of a node)")
        container = _make(Container, f"add_container({name!r})", name, node, **options)
        self.containers.setdefault(name, container) is container or self._dupe("container", name)
        return container

    @checked_call
    def add_pod(self, name: str, node: str, **options) -> "Container":
        """Add a Kubernetes-style pod: a container whose namespace a `pause` process holds."""
        return self.add_container(name, node, pod=True, **options)

    @checked_call
    def add_namespace(self, name: str) -> "Namespace":
        """Add a bare network namespace."""
        _need_str(name, "add_namespace", "the namespace's name")
        ns = Namespace(name)
        self.namespaces.setdefault(name, ns) is ns or self._dupe("namespace", name)
        return ns

    @checked_call
    def add_veth(self, a: str, b: str, **options) -> "Veth":
        """Add a veth pair between ``a`` and ``b``, each ``"namespace:interface"``.
        Options: addresses (two, each an address/prefix or None), macs (two), mtu, up."""
        _need_str(a, "add_veth", "the first endpoint ('namespace:interface')")
        _need_str(b, "add_veth", "the second endpoint ('namespace:interface')")
        what = f"add_veth({a!r}, {b!r})"
        for key in ("addresses", "macs"):
            if key in options:
                value = options[key]
                if not isinstance(value, (tuple, list)) or len(value) != 2:
                    raise UsageError(f"{what}: {key} must be a pair, one for each end (None for none), "
                                     f"got {_shown(value)}")
                options[key] = tuple(value)
        return self._append(self.veths, _make(Veth, what, (a, b), **options))

    @checked_call
    def add_address(self, ns: str, dev: str, address: str) -> "Address":
        """Add ``address`` (with its prefix length) to ``dev`` in ``ns``."""
        _need_names("add_address", ns=ns, dev=dev)
        return self._append(self.addresses, Address(ns, dev, address))

    @checked_call
    def add_route(self, ns: str, to: str, **options) -> "Route":
        """Add a route in ``ns`` to ``to`` (a prefix or "default") via a gateway or out a device.
        Options: via, dev, onlink."""
        _need_names("add_route", ns=ns)
        return self._append(self.routes, _make(Route, f"add_route({ns!r}, {to!r})", ns, to, **options))

    @checked_call
    def add_sysctl(self, ns: str, key: str, value) -> "Sysctl":
        """Set a ``net.*`` sysctl in ``ns``, e.g. ``("node1", "net.ipv4.ip_forward", 1)``."""
        _need_names("add_sysctl", ns=ns, key=key)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, (int, float, str)) or value != value or value in (float("inf"), float("-inf")):
            raise UsageError(f"add_sysctl({ns!r}, {key!r}): value must be a number or a string, got {_shown(value)}")
        return self._append(self.sysctls, Sysctl(ns, key, str(value)))

    @checked_call
    def add_nftables(self, ns: str, rules: str) -> "Nftables":
        """Load an nftables script into ``ns``, as ``nft -f`` would."""
        _need_names("add_nftables", ns=ns, rules=rules)
        return self._append(self.nftables, Nftables(ns, rules))

    @checked_call
    def add_publish(self, container: str, port: int, to_port: Optional[int] = None, **options) -> "Publish":
        """Publish ``container``'s ``to_port`` on its node's ``port``, as ``docker run -p``.
        Options: proto ("tcp" or "udp")."""
        _need_names("add_publish", container=container)
        what = f"add_publish({container!r}, {port!r})"
        return self._append(self.publish, _make(Publish, what, container, port,
                                                port if to_port is None else to_port, **options))

    @checked_call
    def add_vxlan(self, ns: str, name: str, vni: int, **options) -> "Vxlan":
        """Add a VXLAN device. Options: dstport, local, remote, dev, learning, master, mtu,
        address, mac."""
        _need_names("add_vxlan", ns=ns, name=name)
        return self._append(self.vxlans, _make(Vxlan, f"add_vxlan({ns!r}, {name!r})", ns, name, vni, **options))

    @checked_call
    def add_fdb(self, ns: str, dev: str, mac: str, dst: Optional[str] = None) -> "Fdb":
        """Add a static FDB entry (``bridge fdb append``), e.g. head-end flooding on a VXLAN."""
        _need_names("add_fdb", ns=ns, dev=dev)
        return self._append(self.fdb, Fdb(ns, dev, mac, dst))

    @checked_call
    def add_neighbour(self, ns: str, dev: str, address: str, mac: str) -> "Neighbour":
        """Add a permanent neighbour (ARP) entry."""
        _need_names("add_neighbour", ns=ns, dev=dev)
        return self._append(self.neighbours, Neighbour(ns, dev, address, mac))

    def _append(self, where, entry):
        where.append(entry)
        return entry

    def _dupe(self, kind, name):
        self.__dict__.setdefault("_duplicates", []).append(
            f"{kind} {name!r}: the name is used twice; give each {kind} its own name"
        )

    # Reading and writing lab files.

    @classmethod
    @checked_call
    def from_dict(cls, data, *, source="lab"):
        """Build a Topology from the dict a YAML lab file holds; see ``labs/*.yml``."""
        from .labfile import topology_from_dict

        return topology_from_dict(cls, data, source)

    @classmethod
    @checked_call
    def from_yaml(cls, text_or_path):
        """Read a lab file: a path (``.yml``, ``.yaml``, or ``.json`` read as JSON), or YAML text.

        A path-like object, or a string that names a file, ends in .yml/.yaml/.json or is one
        line, is a path; only a string of several lines is read as YAML text. Use
        :meth:`from_yaml_text` to say it is text.
        """
        from .labfile import load

        return load(cls, text_or_path)

    @classmethod
    @checked_call
    def from_file(cls, path: "str | os.PathLike") -> "Topology":
        """Read the lab file at ``path``, never YAML text: YAML, or JSON when it ends in .json.

        >>> Topology.from_file("labs/one-node.yml")  # doctest: +SKIP
        Topology('one-node': 1 nodes, 3 containers, 0 namespaces, 0 veth pairs)
        """
        from .labfile import load_path

        if not isinstance(path, (str, os.PathLike)):
            raise UsageError(f"from_file: expected a path, got {_shown(path)}")
        return load_path(cls, path)

    @classmethod
    @checked_call
    def from_yaml_text(cls, text, *, source="lab text"):
        """Read a lab from YAML text (which may be JSON), never from a file.

        >>> Topology.from_yaml_text("name: demo\\nnodes: {node1: {}}")
        Topology('demo': 1 nodes, 0 containers, 0 namespaces, 0 veth pairs)
        """
        from .labfile import load_text

        return load_text(cls, text, source)

    # Derived views.

    def namespace_names(self):
        """Every namespace the lab will have, in build order."""
        names_ = [self.switch] if self._has_underlay() else []
        names_ += list(self.nodes) + list(self.containers) + list(self.namespaces)
        return names_

    def _has_underlay(self):
        return self.underlay is not None and any(n.underlay for n in self.nodes.values())

    def validate(self):
        """Check the whole description; raise :class:`TopologyError` listing every problem."""
        self.resolve()
        return self

    def resolve(self):
        """Validate, then compute every default (addresses, names, MACs). Returns a Resolved."""
        return _resolve(self)

    def plan(self):
        """The list of :class:`Step` that builds this lab, in order."""
        return self.resolve().steps

    def commands(self):
        """A shell script of ``ip``/``bridge``/``nft`` commands that builds this lab by hand."""
        return "\n".join(step.command() for step in self.plan())
