"""How faithful a lab is to a real Docker host: one describer for both, and their comparison.

The reference is what ``dockerd`` (Docker Engine 20.10, Debian's ``docker.io`` 20.10.24, with
its defaults: docker0, iptables, ip-forward, ip-masq, the userland proxy) leaves on a host that
runs four containers, ``c1`` published with ``-p 8080:80 -p 5300:53/udp``. The lab twin is
:func:`reference_topology`. :func:`describe` reads either through a *side*: an object with

* ``run(role, argv)`` -> ``(returncode, stdout)``: run ``argv`` in the namespace of ``role``
  (``"node"``, ``"node2"``, ``"c1"``..``"c4"``) with the host's programs,
* ``run_in_container(role, argv)``: the same in all of container ``role``'s own namespaces
  (network, UTS, mount: its hostname and its files; the reference's are the image's programs), and
* ``capture(points, filter)`` -> a started :class:`~nethelpers.capture.AsyncCapture` at
  ``(role, interface)`` points,

and returns *aspects*: ``{aspect: {field: value}}``, every value plain text. The same commands
run on both sides (``ip -j -d link``, ``sysctl``, ``iptables -S``, a TCP and a UDP client, one ping), so a
difference is a difference of the kernels' state, not of how it was read. :func:`compare` puts
two descriptions side by side; a field that differs is *allowed* only where :data:`ALLOWED`
says why (names and MACs the kernel draws at random). ``tests/test_fidelity.py`` builds both,
compares them, and records the result in ``nethelpers/data/docker-fidelity.json``, which
notebook 13 reads (:func:`recorded`).
"""

import fnmatch
import json
import re
from pathlib import Path
from typing import NamedTuple

DOCKER_VERSION = "20.10.24"  # Debian's docker.io, bookworm: the engine the default node mirrors
CONTAINERS = ("c1", "c2", "c3", "c4")
PUBLISHED = ("c1", 8080, 80)  # docker run -p 8080:80 on c1
PUBLISHED_UDP = ("c1", 5300, 53)  # and -p 5300:53/udp
SERVERS = ("c1", "c2")  # each answers on TCP port 80 and UDP port 53 with its name and the address it saw
NODE_ADDRESS, NODE2_ADDRESS = "10.168.0.2", "10.168.0.3"
RECORD = Path(__file__).parent / "data" / "docker-fidelity.json"
_FE80 = re.compile(r"fe80::[0-9a-f:]+")

# A TCP server and client, the same program on both sides (the lab's Python, or the host's).
SERVER = (
    "import socket,sys\n"
    "s=socket.socket(socket.AF_INET6);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,0);s.bind(('::',80));s.listen(64)\n"
    "print('ready',flush=True)\n"
    "while True:\n"
    " c,a=s.accept();c.sendall(f'{sys.argv[1]} saw {a[0].removeprefix(\"::ffff:\")}'.encode());c.close()\n"
)
CLIENT = (
    "import socket,sys\n"
    "try:\n"
    " c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=3);print(c.recv(200).decode() or 'closed')\n"
    "except socket.timeout: print('no answer (dropped)')\n"
    "except OSError as e: print(e.strerror or str(e))\n"
)
# The same for UDP: one datagram each way. The client's socket is not connected, so it also
# takes a reply from another address than it asked (docker-proxy 20.10 answers from the address
# the node routes by, not the one the client sent to), and says so: a connected client, as most
# are, drops that reply.
UDP_SERVER = (
    "import socket,sys\n"
    "s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n"
    f"s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,0);s.bind(('::',{PUBLISHED_UDP[2]}))\n"
    "print('ready',flush=True)\n"
    "while True:\n"
    " d,a=s.recvfrom(65535);s.sendto(f'{sys.argv[1]} saw {a[0].removeprefix(\"::ffff:\")}'.encode(),a)\n"
)
UDP_CLIENT = (
    "import socket,sys\n"
    "to=(sys.argv[1],int(sys.argv[2]))\n"
    "try:\n"
    " c=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);c.settimeout(3);c.sendto(b'who?',to)\n"
    " d,a=c.recvfrom(200);print(d.decode()+('' if a==to else f' (from {a[0]}:{a[1]}, not the address asked)'))\n"
    "except socket.timeout: print('no answer (dropped)')\n"
    "except OSError as e: print(e.strerror or str(e))\n"
)

class Allowance(NamedTuple):
    """Why some fields may differ: ``kind`` is ``random`` (they differ between any two Docker
    hosts too), or ``shown`` (the same state, shown otherwise through the lab's user namespace);
    ``where``: ``(aspect pattern, field pattern)`` pairs, shell-style."""

    why: str
    kind: str
    where: tuple


ALLOWED = (
    Allowance("MACs the kernel draws at random, and what follows from them: bridge ids, link-local addresses",
              "random", (("link *", "address"), ("link node docker0", "linkinfo.info_data.bridge_id"),
                         ("link node docker0", "linkinfo.info_data.root_id"),
                         ("link node veth*", "linkinfo.info_slave_data.bridge_id"),
                         ("link node veth*", "linkinfo.info_slave_data.root_id"),
                         ("addresses *", "*fe80::*"))),
    Allowance("veth names: Docker's are random, the lab's derived from its names", "random",
              (("link node veth*", "ifname"),)),
    Allowance("the uplink's peer: a port of the lab's switch, a plain veth in another namespace in the reference",
              "random", (("link node eth0", "link*"), ("link node eth0", "master"),
                         ("link node eth0", "linkinfo.info_slave_data.*"))),
    Allowance("no group may ping, on both; the lab's user namespace shows the kernel's empty range (groups 1 "
              "to 0 of the host) as 65534 65534, since mapping the host's groups 0 and 1 would give them to the lab",
              "shown", (("sysctl node", "net.ipv4.ping_group_range"),)),
)

VOLATILE_LINK = ("stats", "stats64", "linkmode", "group", "operstate", "min_mtu", "max_mtu",
                 "linkinfo.info_slave_data.hold_timer", "linkinfo.info_slave_data.message_age_timer",
                 "linkinfo.info_slave_data.forward_delay_timer", "linkinfo.info_data.hello_timer",
                 "linkinfo.info_data.tcn_timer", "linkinfo.info_data.topology_change_timer",
                 "linkinfo.info_data.gc_timer", "link_netnsid", "parentbus", "parentdev")

NODE_SYSCTLS = (
    "net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv4.conf.default.forwarding",
    "net.ipv4.conf.docker0.forwarding", "net.ipv4.conf.eth0.forwarding", "net.ipv4.conf.docker0.route_localnet",
    "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.docker0.rp_filter", "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.igmp_link_local_mcast_reports",
    "net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6", "net.ipv6.conf.docker0.disable_ipv6",
    "net.ipv6.conf.eth0.disable_ipv6", "net.ipv6.conf.all.forwarding", "net.ipv6.conf.lo.disable_ipv6",
    "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
    "net.bridge.bridge-nf-call-arptables", "net.ipv6.conf.default.accept_dad", "net.ipv6.conf.docker0.accept_dad",
    "net.ipv6.conf.default.router_solicitations", "net.ipv6.conf.docker0.router_solicitations",
    "net.ipv6.conf.default.mldv2_unsolicited_report_interval", "net.ipv6.conf.all.force_mld_version",
    "net.ipv6.conf.docker0.force_mld_version", "net.ipv6.conf.default.mldv1_unsolicited_report_interval",
)
CONTAINER_SYSCTLS = (
    "net.ipv4.ip_forward", "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.igmp_link_local_mcast_reports", "net.ipv4.conf.all.rp_filter",
    "net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6", "net.ipv6.conf.eth0.disable_ipv6",
    "net.ipv6.conf.lo.disable_ipv6",
)


def reference_topology(name="fidelity", **node_options):
    """The lab twin of the reference host: node1 (a default node), node2 (no bridge, a route to
    node1's containers), c1..c4 on node1, c1's TCP port 80 published on 8080, its UDP port 53 on 5300."""
    from .topology import Topology

    t = Topology(name)
    t.add_node("node1", **node_options)
    t.add_node("node2", bridge=None)
    for c in CONTAINERS:
        t.add_container(c, node="node1")
    t.add_publish(PUBLISHED[0], PUBLISHED[1], PUBLISHED[2])
    t.add_publish(PUBLISHED_UDP[0], PUBLISHED_UDP[1], PUBLISHED_UDP[2], proto="udp")
    t.add_route("node2", "172.17.0.0/16", via=NODE_ADDRESS)
    return t


class LabSide:
    """A built lab seen as a side: roles are its namespace names (``node`` is ``node1``)."""

    ROLES = {"node": "node1", "node2": "node2"}

    def __init__(self, lab):
        self.lab = lab

    def ns(self, role):
        return self.ROLES.get(role, role)

    def run(self, role, argv, timeout=30):
        result = self.lab.exec(self.ns(role), argv, timeout=timeout)
        return result.returncode, result.stdout + result.stderr

    run_in_container = run  # a lab command in a container is in all of its namespaces already

    def capture(self, points, filter):
        return self.lab.capture([(self.ns(r), i) for r, i in points], filter=filter)

    def start_servers(self):
        """Start the TCP and UDP servers of :data:`SERVERS`; returns once each listens."""
        from .lab import LAB_PYTHON

        procs = [self.lab.spawn(c, [LAB_PYTHON, "-c", program, c])
                 for c in SERVERS for program in (SERVER, UDP_SERVER)]
        for proc in procs:
            _wait_ready(proc.output)
        return procs


def _wait_ready(output, tries=2000):
    """Wait until a server says 'ready' (it listens): a condition, checked until true."""
    import time

    for _ in range(tries):
        if "ready" in output():
            return
        time.sleep(0.005)
    raise RuntimeError(f"a server did not start: {output()!r}")


# --- the describer ---------------------------------------------------------------------------


def describe(side, python="python3"):
    """Every aspect of ``side`` (see the module): links, addresses, routes, sysctls, rules,
    who answers the published port from where, and one ping's packets."""
    aspects = {}
    for role in ("node",) + CONTAINERS:
        _wait_for_dad(side, role)
    links = {role: _json(side, role, ["ip", "-j", "-d", "link", "show"]) for role in ("node",) + CONTAINERS}
    names = _veth_names(links)
    for role, data in links.items():
        for link in data:
            name = names.get((role, link["ifname"]), link["ifname"])
            aspects[f"link {role} {name}"] = _link_fields(link, links, names, role)
    for role in ("node",) + CONTAINERS:
        aspects[f"addresses {role}"] = _addresses(side, role, names)
        aspects[f"routes {role}"] = _routes(side, role, names)
        keys = NODE_SYSCTLS if role == "node" else CONTAINER_SYSCTLS
        aspects[f"sysctl {role}"] = _sysctls(side, role, keys)
    aspects["sysctl node"].update(_veth_sysctls(side, names))
    for c in CONTAINERS:
        aspects[f"files {c}"] = _container_files(side, c)
    for table in ("filter", "nat"):
        code, out = side.run("node", ["iptables", "-t", table, "-S"])
        aspects[f"iptables -t {table} -S"] = _lines(out if code == 0 else f"error: {out.strip()}")
    code, out = side.run("node", ["iptables", "-t", "nat", "-L", "-n", "-v"])
    aspects["iptables lists nat with counters"] = {"works": str(code == 0 and "pkts bytes" in out)}
    code, out = side.run("node", ["ss", "-Hltun"])
    aspects["listening node"] = {" ".join(line.split()[:1] + line.split()[4:6]): "listening"
                                 for line in out.splitlines() if line.strip()}
    aspects["who answers"] = who_answers(side, python, "tcp")
    aspects["who answers (udp)"] = who_answers(side, python, "udp")
    aspects["one ping c1 > c2"] = _ping_packets(side, links, names)
    return aspects


def _wait_for_dad(side, role, tries=2000):
    """Wait until no IPv6 address of ``role`` is tentative (duplicate address detection over):
    until then an address's flags depend on when it was read."""
    import time

    for _ in range(tries):
        if not _text(side, role, ["ip", "-6", "addr", "show", "tentative"]):
            return
        time.sleep(0.005)


def _json(side, role, argv):
    code, out = side.run(role, argv)
    return json.loads(out) if code == 0 and out.strip() else []


def _text(side, role, argv):
    code, out = side.run(role, argv)
    return out.strip()


def _lines(text):
    return {f"{i:03d}": line for i, line in enumerate(text.strip().splitlines(), 1)}


def _veth_names(links):
    """``{(role, veth name): 'veth(cN)'}``: a host-side veth named by its container."""
    names = {}
    for c in CONTAINERS:
        eth0 = next((l for l in links.get(c, []) if l["ifname"] == "eth0"), None)
        if eth0 is None:
            continue
        for link in links["node"]:
            if link["ifindex"] == eth0.get("link_index"):
                names[("node", link["ifname"])] = f"veth({c})"
    return names


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(value, list):
        return {prefix[:-1]: " ".join(map(str, value))}
    return {prefix[:-1]: str(value)}


def _link_fields(link, links, names, role):
    fields = _flatten(link)
    for key in list(fields):
        if any(key == v or key.startswith(v + ".") for v in VOLATILE_LINK):
            del fields[key]
    if "master" in fields:
        fields["master"] = names.get((role, fields["master"]), fields["master"])
    fields["ifname"] = link["ifname"]
    return fields


def _addresses(side, role, names):
    out = {}
    for link in _json(side, role, ["ip", "-j", "addr", "show"]):
        name = names.get((role, link["ifname"]), link["ifname"])
        for a in link.get("addr_info", []):
            flags = " ".join(k for k in ("tentative", "dadfailed", "deprecated", "noprefixroute") if a.get(k))
            out[f"{name} {a['local']}/{a['prefixlen']}"] = f"scope {a.get('scope')} {flags}".strip()
    return out


def _routes(side, role, names):
    """IPv4 routes in order; IPv6 ones sorted (the kernel adds a link's fe80::/64 route when the
    link's address is ready, an order that depends on timing). veths named by their container."""
    def named(text):
        for (r, name), label in names.items():
            if r == role:
                text = re.sub(rf"\b{re.escape(name)}\b", label, text)
        return text

    ipv6 = named(_text(side, role, ["ip", "-6", "route", "show"])).splitlines()
    return {"ipv4": named(_text(side, role, ["ip", "-4", "route", "show"])), "ipv6": "\n".join(sorted(ipv6))}


def _sysctls(side, role, keys):
    out = {}
    for key in keys:
        code, text = side.run(role, ["sysctl", "-n", key])
        out[key] = " ".join(text.split()) if code == 0 else "(absent)"
    return out


CONTAINER_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def _container_files(side, role):
    """A container's hostname (its UTS namespace's) and each line of its own files."""
    out = {}
    code, text = side.run_in_container(role, ["cat", "/proc/sys/kernel/hostname"])
    out["hostname"] = text.strip() if code == 0 else f"error: {text.strip()}"
    for path in CONTAINER_FILES:
        code, text = side.run_in_container(role, ["cat", path])
        if code != 0:
            out[path] = f"error: {text.strip()}"
            continue
        out.update({f"{path} {i:03d}": line for i, line in enumerate(text.split("\n"), 1)})
    return out


def _veth_sysctls(side, names):
    out = {}
    for (role, name), label in names.items():
        for key in ("disable_ipv6", "accept_ra", "autoconf", "accept_dad", "router_solicitations"):
            code, text = side.run(role, ["sysctl", "-n", f"net.ipv6.conf.{name}.{key}"])
            out[f"net.ipv6.conf.{label}.{key}"] = text.strip() if code == 0 else "(absent)"
    return out


def probes(published=PUBLISHED):
    """``(client role, target address, port)``: every kind of client Docker answers, or not, for
    ``published``, ``(container, port, container port)`` (c1's)."""
    c1_address = "172.17.0.2"
    port, to_port = str(published[1]), str(published[2])
    return (
        ("node2", NODE_ADDRESS, port),  # another node, to the published port
        ("node", NODE_ADDRESS, port),  # the node itself, its own address
        ("node", "127.0.0.1", port),  # the node, loopback
        ("node", "172.17.0.1", port),  # the node, docker0's address
        ("node", c1_address, to_port),  # the node, the container directly
        ("c2", NODE_ADDRESS, port),  # another container, through the node's address
        ("c2", "172.17.0.1", port),  # another container, through the gateway
        ("c1", NODE_ADDRESS, port),  # the container itself (hairpin)
        ("c2", c1_address, to_port),  # container to container
        ("node2", "172.17.0.3", to_port),  # another node, an unpublished container, routed
    )


def who_answers(side, python="python3", proto="tcp"):
    """``{"CLIENT -> ADDRESS:PORT": answer}`` for every probe of the published ``proto`` port:
    the server's name and the source address it saw, or why there was no answer."""
    client, published = {"tcp": (CLIENT, PUBLISHED), "udp": (UDP_CLIENT, PUBLISHED_UDP)}[proto]
    out = {}
    for role, address, port in probes(published):
        code, text = side.run(role, [python, "-c", client, address, port])
        out[f"{role} -> {address}:{port}"] = text.strip()
    return out


def _ping_packets(side, links, names):
    """One ping from c1 to c2, seen at docker0 and at each host-side veth: each point's packets
    in the order that point saw them. Across points the order is not compared: a bridge
    forwards a frame before it passes docker0 its copy, and which of the two the kernel's
    softirq gets to first, the copy or the reply, is timing."""
    veths = {label: name for (role, name), label in names.items()}
    points = [("node", veths[f"veth({c})"]) for c in CONTAINERS if f"veth({c})" in veths] + [("node", "docker0")]
    labels = {name: label for label, name in veths.items()}
    capture = side.capture(points, "arp or icmp")
    side.run("c1", ["ping", "-c", "1", "-W", "2", "172.17.0.3"])
    packets = capture.stop(settle=0.2)
    macs = _mac_roles(links, names)
    seen, counts = {}, {}
    for p in packets:
        frame = p.frame
        src, dst = macs.get(frame.src, "?"), macs.get(frame.dst, "broadcast" if frame.dst == "ff:ff:ff:ff:ff:ff" else "?")
        point = labels.get(p.interface, p.interface)
        counts[point] = counts.get(point, 0) + 1
        seen[f"{point} {counts[point]:02d}"] = f"{p.direction} {src} > {dst} {_masked(p.summary(), macs)}"
    return seen


def _mac_roles(links, names):
    macs = {}
    for role, data in links.items():
        for link in data:
            if link.get("address"):
                macs[link["address"]] = f"{role}:{names.get((role, link['ifname']), link['ifname'])}"
    return macs


def _masked(text, macs):
    """MACs named by their interface's role; ping's identifier (its PID, or random) dropped."""
    text = re.sub(r" id \d+ ", " ", text)
    return re.sub(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", lambda m: macs.get(m.group(0), "?"), text)


# --- the comparison --------------------------------------------------------------------------


def allowance(aspect, field):
    """The :class:`Allowance` under which ``field`` of ``aspect`` may differ, or None."""
    for entry in ALLOWED:
        for aspect_pattern, field_pattern in entry.where:
            if fnmatch.fnmatchcase(aspect, aspect_pattern) and fnmatch.fnmatchcase(field, field_pattern):
                return entry
    return None


def allowed_reason(aspect, field):
    """Why ``field`` of ``aspect`` may differ, or None."""
    entry = allowance(aspect, field)
    return entry.why if entry else None


def unused(comparison):
    """The allowances no difference of ``comparison`` needed: each is a reason no longer true."""
    used = {allowance(aspect, row[0]) for aspect, e in comparison.items() for row in e["fields"]}
    return [entry.why for entry in ALLOWED if entry not in used]


def compare(docker, lab):
    """Aspect by aspect: ``{aspect: {"verdict": same|allowed|different, "fields": [...]}}``.

    Each field row is ``(field, docker's value, the lab's value, why allowed or None)``; only
    fields that differ are listed. An aspect present on one side only is different.
    """
    result = {}
    for aspect in sorted(set(docker) | set(lab)):
        a, b = docker.get(aspect), lab.get(aspect)
        if a is None or b is None:
            result[aspect] = {"verdict": "different",
                              "fields": [("(present)", str(a is not None), str(b is not None), None)]}
            continue
        rows = [(f, a.get(f, "(absent)"), b.get(f, "(absent)"), allowed_reason(aspect, f))
                for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f)]
        verdict = "same" if not rows else "allowed" if all(r[3] for r in rows) else "different"
        result[aspect] = {"verdict": verdict, "fields": rows}
    return result


def tally(comparison):
    """``{"aspects": N, "same": n, "allowed": n, "different": n}``."""
    counts = {"aspects": len(comparison), "same": 0, "allowed": 0, "different": 0}
    for entry in comparison.values():
        counts[entry["verdict"]] += 1
    return counts


def report(comparison):
    """The differences as text: one block per aspect that is not the same."""
    lines = []
    for aspect, entry in comparison.items():
        if entry["verdict"] == "same":
            continue
        lines.append(f"{entry['verdict'].upper():9} {aspect}")
        for field, a, b, why in entry["fields"]:
            lines.append(f"    {field}: docker {a!r} | lab {b!r}" + (f"  (allowed: {why})" if why else ""))
    return "\n".join(lines)


def record(comparison):
    """What the fidelity test keeps for notebook 13: the counts, every allowed difference as
    (aspect, field, why, kind) without the random values (a field named by a link-local address
    is kept once, its address masked: the record changes only when the comparison does), and
    every other difference with both values."""
    allowed = {(aspect, _FE80.sub("fe80::(from the MAC)", f), why) for aspect, e in comparison.items()
               for f, _, _, why in e["fields"] if why}
    kinds = {entry.why: entry.kind for entry in ALLOWED}
    return {
        "docker": DOCKER_VERSION,
        "counts": tally(comparison),
        "allowed": sorted([aspect, f, why, kinds[why]] for aspect, f, why in allowed),
        "different": sorted([aspect, f, a, b] for aspect, e in comparison.items()
                            for f, a, b, why in e["fields"] if not why),
    }


VARIANTS = {"--userland-proxy=false": {"userland_proxy": False}}  # dockerd's option: the lab's node options


def save(comparison, variant=None, path=RECORD):
    """Keep ``comparison`` in the record: the default's :func:`record`, or a :data:`VARIANTS`
    entry's counts under ``variants``."""
    path = Path(path)
    kept = json.loads(path.read_text()) if path.exists() else {}
    if variant is None:
        kept = dict(record(comparison), variants=kept.get("variants", {}))
    else:
        kept.setdefault("variants", {})[variant] = tally(comparison)
    path.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")


def allowed_by_reason(kept):
    """A recorded comparison's allowed differences, one row per reason (in :data:`ALLOWED`'s
    order): its kind, how many fields, in which aspects."""
    from .state import Table

    order = {entry.why: i for i, entry in enumerate(ALLOWED)}
    rows = {}
    for aspect, field, why, kind in kept["allowed"]:
        row = rows.setdefault(why, {"kind": kind, "why allowed": why, "fields": 0, "aspects": set()})
        row["fields"] += 1
        row["aspects"].add(aspect)
    return Table("differences allowed, and why", ["kind", "why allowed", "fields", "aspects"],
                 [dict(r, aspects=", ".join(sorted(r["aspects"])))
                  for _, r in sorted(rows.items(), key=lambda item: order.get(item[0], len(order)))])


def recorded(path=RECORD):
    """The comparison the fidelity test last recorded (no Docker engine needed to read it)."""
    return json.loads(Path(path).read_text())
