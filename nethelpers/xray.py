"""X-ray a real Docker host: the course's tables and drawings, pointed at real containers.

Everything here only *reads*: it enters a container's network namespace through
``/proc/PID/ns/net`` with ``nsenter --net=...`` and runs ``ip -j ... show``, ``bridge -j fdb
show`` and ``nft -j list ruleset`` there, then parses the JSON with :mod:`nethelpers.state`
into the same :class:`~nethelpers.state.Table` objects a lab gives. Nothing is created,
changed or deleted, on the Docker host or in its containers. It needs root (entering another
process's network namespace does).

>>> engine = find_engine()                 # doctest: +SKIP
>>> if engine:  # None where no engine answers  # doctest: +SKIP
...     x = xray(engine)
...     print(x.routes("c1"))
...     for line in differences(x, lab): print(line)

Where does the engine come from? ``find_engine()`` takes ``DOCKER_HOST`` as the caller gives it
(argument, or ``NETHELPERS_DOCKER_HOST``, else ``unix:///var/run/docker.sock``). If the engine
runs in PID and network namespaces of its own (as ``binder/docker-xray-host.sh`` starts one),
give the host PID of a process there (``init_pid``, or ``NETHELPERS_DOCKER_INIT_PID``): the
engine's own ("host") network namespace is then ``/proc/INIT_PID/ns/net``, and the container
PIDs that ``docker inspect`` prints are translated from that PID namespace to ours.
"""

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from . import state
from .errors import NetHelpersError

DEFAULT_SOCKET = "/var/run/docker.sock"
VETH_RE = re.compile(r"^veth[0-9a-f]{7}$")


class XrayUnavailable(NetHelpersError, RuntimeError):
    """No Docker engine can be x-rayed here: none answers, no root, or a tool is missing."""


def _tool(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        raise XrayUnavailable(f"`{name}` is not installed")
    return path


@dataclass
class RealContainer:
    """One running container, as ``docker inspect`` describes it."""

    id: str
    name: str
    pid: int  # in our PID namespace
    address: str  # IPv4 on the default bridge, with prefix ("172.17.0.2/16")
    mac: str
    gateway: str
    image: str

    @property
    def netns(self):
        return f"/proc/{self.pid}/ns/net"


@dataclass
class Engine:
    """A Docker engine we can talk to (``docker --host HOST``)."""

    host: str
    init_pid: int = None  # a host PID in the engine's namespaces, or None: ours
    version: str = ""

    def docker(self, *args, timeout=30):
        result = subprocess.run([_tool("docker"), "--host", self.host, *args],
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise XrayUnavailable(f"docker {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    @property
    def netns(self):
        """The engine's own network namespace (where docker0 and the veths are)."""
        return f"/proc/{self.init_pid or 1}/ns/net"

    def host_pid(self, pid):
        """The PID, in our PID namespace, of the engine's process ``pid``."""
        if not self.init_pid:
            return pid
        level = len(_nspids(self.init_pid)) - 1
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            ids = _nspids(int(entry))
            if len(ids) > level and ids[level] == pid and _descends(int(entry), self.init_pid):
                return int(entry)
        raise XrayUnavailable(f"no process of the engine's PID namespace has PID {pid}")

    def containers(self):
        """The running containers (``docker ps -q`` + ``docker inspect``), sorted by name."""
        ids = self.docker("ps", "-q").split()
        if not ids:
            return []
        found = []
        for c in json.loads(self.docker("inspect", *ids)):
            nets = c["NetworkSettings"]["Networks"]
            net = nets.get("bridge") or next(iter(nets.values()), {})
            found.append(RealContainer(
                id=c["Id"][:12], name=c["Name"].lstrip("/"), pid=self.host_pid(c["State"]["Pid"]),
                address=f"{net.get('IPAddress')}/{net.get('IPPrefixLen')}", mac=net.get("MacAddress"),
                gateway=net.get("Gateway"), image=c["Config"]["Image"],
            ))
        return sorted(found, key=lambda c: c.name)


def _nspids(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except OSError:
        pass
    return []


def _descends(pid, ancestor):
    for _ in range(64):
        if pid == ancestor:
            return True
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid <= 1:
            return pid == ancestor
    return False


def find_engine(host=None, init_pid=None):
    """The Docker engine to x-ray, or None where none answers (or we are not root).

    ``host``: a DOCKER_HOST (``unix:///path``) or a socket path; default
    ``$NETHELPERS_DOCKER_HOST``, else ``/var/run/docker.sock``. ``init_pid``: see the module.
    """
    host = host or os.environ.get("NETHELPERS_DOCKER_HOST") or DEFAULT_SOCKET
    if "://" not in host:
        host = "unix://" + host
    if init_pid is None and os.environ.get("NETHELPERS_DOCKER_INIT_PID"):
        init_pid = int(os.environ["NETHELPERS_DOCKER_INIT_PID"])
    if os.geteuid() != 0 or shutil.which("docker") is None or shutil.which("nsenter") is None:
        return None
    if host.startswith("unix://") and not os.path.exists(host[len("unix://"):]):
        return None
    engine = Engine(host, init_pid)
    try:
        engine.version = engine.docker("version", "--format", "{{.Server.Version}}", timeout=10).strip()
    except (XrayUnavailable, subprocess.TimeoutExpired):
        return None
    return engine


READ_OPTIONS = {"-j", "-d", "-4", "-6", "-s"}  # JSON, details, families, statistics: nothing that writes


def check_read_only(command):
    """Refuse (ValueError) any command but the read-only forms the x-ray uses: ``ip``/``bridge``
    OBJECT ``show``, ``nft list``, ``sysctl -n KEY``. A real check, kept under ``python -O``."""
    words = [word for word in command[1:] if not word.startswith("-")]
    tool = command[0] if command else None
    options = [word for word in command[1:] if word.startswith("-")]
    if tool != "sysctl" and not set(options) <= READ_OPTIONS:
        raise ValueError(f"the x-ray only reads: `{' '.join(command)}` has options beyond {sorted(READ_OPTIONS)}")
    if tool in ("ip", "bridge") and len(words) >= 2 and words[1] in ("show", "list"):
        return
    if tool == "nft" and words[:1] == ["list"]:
        return
    if tool == "sysctl" and command[1:2] == ["-n"] and len(command) == 3 and "=" not in command[2]:
        return
    raise ValueError(f"the x-ray only reads: `{' '.join(command)}` is not one of its read-only commands")


def _read(netns, command):
    """Run a read-only ``ip``/``bridge``/``nft`` command in ``netns``; return its parsed JSON."""
    check_read_only(command)
    result = subprocess.run([_tool("nsenter"), f"--net={netns}", _tool(command[0]), *command[1:]],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise XrayUnavailable(f"nsenter --net={netns} {' '.join(command)}: {result.stderr.strip()}")
    return state.parse_json(result.stdout)


@dataclass
class Xray:
    """What was read: the engine, its containers, and the raw JSON of each namespace.

    Namespaces are named ``"docker-host"`` (the engine's) and by container name.
    """

    engine: Engine
    containers: list
    raw: dict = field(default_factory=dict)

    def _ns(self, ns):
        if ns not in self.raw:
            raise KeyError(f"no namespace {ns!r}; x-rayed: {sorted(self.raw)}")
        return self.raw[ns]

    def links(self, ns):
        return state.links(ns, self._ns(ns)["links"])

    def addresses(self, ns):
        return state.addresses(ns, self._ns(ns)["addresses"])

    def routes(self, ns):
        return state.routes(ns, self._ns(ns)["routes"])

    def neighbours(self, ns):
        return state.neighbours(ns, self._ns(ns)["neighbours"])

    def bridge_ports(self, ns="docker-host"):
        return state.bridge_ports(ns, self._ns(ns)["links"])

    def fdb(self, ns="docker-host", multicast=False):
        return state.fdb(ns, [e for e in self._ns(ns)["fdb"] if e.get("master") == "docker0"
                              or e.get("ifname") == "docker0"], multicast)

    def ruleset(self, ns="docker-host"):
        """The engine's nftables rules. Docker 20.10 writes them with ``iptables-nft``, whose
        targets and some matches are xtables extensions (``xt``) in nft's JSON: they are
        shown here as ``xt MASQUERADE``, ``xt match addrtype``..."""
        return state.ruleset(ns, self._ns(ns)["ruleset"])

    def container(self, name):
        return next(c for c in self.containers if c.name == name)

    def paths(self):
        """``{namespace name: /proc/PID/ns/net}`` for the engine's namespace and each container."""
        return {"docker-host": self.engine.netns, **{c.name: c.netns for c in self.containers}}

    def capture(self, points, filter=None, promisc=False, **options):
        """Capture at real interfaces (``"c1:eth0"``, ``"docker-host:docker0"``), passively.

        The same :class:`~nethelpers.capture.AsyncCapture` as a lab's, started. Promiscuous
        mode stays off by default: it would change the host, if only for a moment.
        """
        from .capture import AsyncCapture

        return AsyncCapture(_Namespaces(self.paths()), points, filter, promisc=promisc, **options).start()

    def dump(self):
        """The namespaces in the form :func:`nethelpers.discover.from_dump` reads, so that
        ``nethelpers.draw.topology(discover.from_dump(x.dump()))`` draws the real host."""
        dump = {}
        host_index = {}
        for ns, raw in self.raw.items():
            dump[ns] = {"links": [], "addresses": [], "nsids": {}}
            for link in raw["links"]:
                info = link.get("linkinfo", {})
                dump[ns]["links"].append({
                    "index": link["ifindex"], "name": link["ifname"], "kind": info.get("info_kind"),
                    "mac": link.get("address"), "mtu": link.get("mtu"), "state": link.get("operstate"),
                    "master": None, "master_name": link.get("master"),
                    "peer_index": link.get("link_index"), "peer_nsid": link.get("link_netnsid"),
                })
                if ns == "docker-host":
                    host_index[link["ifindex"]] = link
            for link in raw["addresses"]:
                for a in link.get("addr_info", []):
                    dump[ns]["addresses"].append({"index": link["ifindex"], "address": f"{a['local']}/{a['prefixlen']}"})
        for ns, data in dump.items():
            names = {l["name"]: l["index"] for l in data["links"]}
            for l in data["links"]:
                l["master"] = names.get(l.pop("master_name"))
        # nsids: a container's eth0 points at the host's veth by index (unique in the host);
        # that veth's link_netnsid is the host's nsid for the container.
        for c in self.containers:
            for l in dump.get(c.name, {}).get("links", []):
                if l["kind"] == "veth" and l["peer_nsid"] is not None:
                    dump[c.name]["nsids"][l["peer_nsid"]] = "docker-host"
                    veth = host_index.get(l["peer_index"])
                    if veth is not None and veth.get("link_netnsid") is not None:
                        dump["docker-host"]["nsids"][veth["link_netnsid"]] = c.name
        return dump


class _Namespaces:
    """Stands in for a lab's engine, for capture: opens packet sockets in namespaces reached
    through /proc/PID/ns/net, from a throw-away thread that enters each in turn."""

    def __init__(self, paths):
        self.paths = paths
        self.namespaces = list(paths)

    def _engine(self):
        return self

    def settle(self):
        """A capture settles its lab first; a real host's kernel is not the lab's to wait for."""
        return 0.0

    def call_fds(self, method, points, bpf=None, promisc=False, rcvbuf=4 << 20):
        import threading

        from .engine import packet_socket, setns

        if method != "open_packet_sockets":
            raise ValueError(f"the x-ray opens capture sockets and does nothing else; refused: {method}")
        socks, failure = [], []

        def open_all():
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            try:
                for ns, ifname in points:
                    target = os.open(self.paths[ns], os.O_RDONLY)
                    try:
                        setns(target)
                    finally:
                        os.close(target)
                    socks.append(packet_socket(ifname, bpf, promisc, rcvbuf))
            except BaseException as e:
                failure.append(e)
            finally:
                setns(own)
                os.close(own)

        thread = threading.Thread(target=open_all)
        thread.start()
        thread.join()
        if failure:
            for sock in socks:
                sock.close()
            raise failure[0]
        return len(socks), [sock.detach() for sock in socks]


def xray(engine, containers=None):
    """Read every running container's namespace and the engine's own, read-only.

    ``containers``: RealContainer records or host PIDs (default: ``engine.containers()``).
    """
    if os.geteuid() != 0:
        raise XrayUnavailable("x-raying another process's network namespace needs root")
    if engine is None:
        raise XrayUnavailable("no Docker engine answers here (find_engine() returned None)")
    if containers is None:
        containers = engine.containers()
    containers = [c if isinstance(c, RealContainer) else
                  RealContainer(str(c), f"pid{c}", int(c), None, None, None, None) for c in containers]
    x = Xray(engine, containers)
    spaces = [("docker-host", engine.netns)] + [(c.name, c.netns) for c in containers]
    for ns, path in spaces:
        x.raw[ns] = {
            "links": _read(path, ["ip", "-j", "-d", "link", "show"]),
            "addresses": _read(path, ["ip", "-j", "-4", "addr", "show"]),
            "routes": _read(path, ["ip", "-j", "-4", "route", "show"]),
            "neighbours": _read(path, ["ip", "-j", "-4", "neigh", "show"]),
        }
        if ns == "docker-host":
            x.raw[ns]["fdb"] = _read(path, ["bridge", "-j", "fdb", "show"])
            x.raw[ns]["ruleset"] = _read(path, ["nft", "-j", "list", "ruleset"])
            x.raw[ns]["ip_forward"] = _read(path, ["sysctl", "-n", "net.ipv4.ip_forward"])
    return x


def snapshot(x):
    """A comparable digest of the containers' links, addresses and routes (read-only check)."""
    out = {}
    for c in x.containers:
        again = {k: _read(c.netns, cmd) for k, cmd in (
            ("links", ["ip", "-j", "-d", "link", "show"]), ("addresses", ["ip", "-j", "-4", "addr", "show"]),
            ("routes", ["ip", "-j", "-4", "route", "show"]))}
        for link in again["links"]:
            for volatile in ("operstate", "linkmode", "stats64", "stats"):
                link.pop(volatile, None)
        out[c.name] = again
    return out


def lab_topology(x, name="xraylab"):
    """The hand-built twin of ``x``: node1 (a default node: a Docker host) with as many
    containers (c1, c2...) as x found."""
    from .topology import Topology
    t = Topology(name)
    t.add_node("node1")
    for i, _ in enumerate(x.containers, 1):
        t.add_container(f"c{i}", node="node1")
    return t


def _rules_text(table):
    return [f"{r['table']}/{r['chain']}: {r['rule']}" for r in table]


def differences(x, lab, node="node1"):
    """Point by point, how the real engine's host differs from a hand-built ``lab``
    (a built :class:`nethelpers.Lab` with ``node`` and the same number of containers).

    Returns a list of ``(topic, real, lab, same)`` tuples; ``same`` is True where they agree.
    """
    rows = []

    def add(topic, real, hand):
        rows.append((topic, real, hand, real == hand))

    real_links, lab_links = x.links("docker-host"), lab.links(node)
    rb, lb = real_links.one(name="docker0"), lab_links.one(name="docker0")
    add("docker0 address", x.addresses("docker-host").one(dev="docker0")["address"],
        lab.addresses(node).one(dev="docker0")["address"])
    add("docker0 MAC prefix", rb["mac"][:5], lb["mac"][:5])
    add("docker0 MTU", rb["mtu"], lb["mtu"])
    real_veths = sorted(l["name"] for l in real_links if l["kind"] == "veth" and l["master"] == "docker0")
    lab_veths = sorted(l["name"] for l in lab_links if l["kind"] == "veth" and l["master"] == "docker0")
    add("number of veths on docker0", len(real_veths), len(lab_veths))
    add("veth names are veth + 7 hex", all(VETH_RE.match(n) for n in real_veths), all(VETH_RE.match(n) for n in lab_veths))
    add("veth names", " ".join(real_veths), " ".join(lab_veths))
    add("host-side veth MACs locally administered, not 02:42",
        all(not l["mac"].startswith("02:42") for l in real_links if l["name"] in real_veths),
        all(not l["mac"].startswith("02:42") for l in lab_links if l["name"] in lab_veths))
    add("docker0 MAC", rb["mac"], lb["mac"])
    add("other interfaces of the engine's namespace",
        " ".join(l["name"] for l in real_links if l["name"] not in real_veths + ["lo", "docker0"]) or "(none)",
        " ".join(l["name"] for l in lab_links if l["name"] not in lab_veths + ["lo", "docker0"]) or "(none)")
    add("net.ipv4.ip_forward", str(x.raw["docker-host"].get("ip_forward")), lab.sysctl(node, "net.ipv4.ip_forward"))
    real_c = x.containers
    lab_c = sorted(lab.topology.containers)
    for i, c in enumerate(real_c):
        hand = lab_c[i] if i < len(lab_c) else None
        real_eth = x.links(c.name).one(name="eth0")
        lab_eth = lab.links(hand).one(name="eth0") if hand else {}
        add(f"{c.name} eth0 MAC", real_eth["mac"], lab_eth.get("mac"))
        add(f"{c.name} eth0 address", x.addresses(c.name).one(dev="eth0")["address"],
            hand and lab.addresses(hand).one(dev="eth0")["address"])
        add(f"{c.name} routes", _route_text(x.routes(c.name)), hand and _route_text(lab.routes(hand)))
        add(f"{c.name} eth0 MTU", real_eth["mtu"], lab_eth.get("mtu"))
    add("engine routes", _route_text(x.routes("docker-host")), _route_text(lab.routes(node)))
    real_rules, lab_rules = _rules_text(x.ruleset()), _rules_text(lab.ruleset(node))
    add("learned FDB entries on docker0", len(x.fdb().where(kind="learned")), len(lab.fdb(node, "docker0").where(kind="learned")))
    add("nftables tables", sorted({r["family"] + " " + r["table"] for r in x.ruleset()}),
        sorted({r["family"] + " " + r["table"] for r in lab.ruleset(node)}))
    add("MASQUERADE rule for 172.17.0.0/16", [r for r in real_rules if "masquerade" in r.lower()],
        [r for r in lab_rules if "masquerade" in r.lower()])
    add("rules written as xtables (xt) extensions", sum(" xt " in f" {r} " for r in real_rules),
        sum(" xt " in f" {r} " for r in lab_rules))
    add("chains", sorted({r["chain"] for r in x.ruleset()}), sorted({r["chain"] for r in lab.ruleset(node)}))
    add("number of nftables rules", len(real_rules), len(lab_rules))
    return rows


def _route_text(table):
    return "; ".join(f"{r['to']}" + (f" via {r['via']}" if r["via"] else "") + f" dev {r['dev']}" for r in table)


def differences_table(rows):
    """The differences as a :class:`~nethelpers.state.Table`, for print or Jupyter."""
    return state.Table("real Docker host vs hand-built lab", ["what", "real engine", "hand-built lab", "same"],
                       [{"what": t, "real engine": _cell(r), "hand-built lab": _cell(h), "same": "yes" if s else "NO"}
                        for t, r, h, s in rows])


def _cell(v):
    if isinstance(v, list):
        return " | ".join(str(i) for i in v) or "(none)"
    return str(v)
