"""The build plan: the kernel operations that build a lab, in order, each with its shell command.

A :class:`Step` is one operation (``op``) in one namespace with its arguments, as plain data: the
engine carries it out through netlink, and :meth:`Step.command` says the same thing as an
``ip``/``bridge``/``nft``/``sysctl`` command a learner could type. :func:`steps` turns a
validated description into the list of steps. Nothing here checks a description
(:mod:`nethelpers.validate` does) or touches the kernel (:mod:`nethelpers.lab` does).
"""

import hashlib
import ipaddress
import shlex
from dataclasses import dataclass

from . import names

@dataclass(frozen=True)
class Step:
    """One kernel operation of a build, with the shell command that does the same thing."""

    op: str
    ns: str
    args: dict

    def command(self):
        """The ``ip``/``bridge``/``nft``/``sysctl`` command equivalent to this step."""
        return _COMMANDS[self.op](self.ns, **self.args)


def _q(value):
    """One shell word for ``value``, whatever it holds (a lab description is untrusted)."""
    return shlex.quote(str(value))


def _ip(ns, *words):
    """``ip -n NS WORDS``; keywords are written here, every value passes through :func:`_q`."""
    return " ".join(["ip", "-n", _q(ns), *[str(w) for w in words]])


def _cmd_netns(ns):
    return f"ip netns add {_q(ns)}"


def _cmd_sysctl(ns, key, value, fallback=None):
    command = f"ip netns exec {_q(ns)} sysctl -qw {_q(f'{key}={value}')}"
    return command if fallback is None else f"{command} || {_cmd_sysctl(ns, key, fallback)}"


def _cmd_up(ns, dev):
    return _ip(ns, "link set", _q(dev), "up")


def _txqlen(txqlen):
    return ["txqueuelen", _q(txqlen)] if txqlen is not None else []


def _cmd_bridge(ns, name, mac, mtu, ageing, txqlen=None):
    extra = f" ageing_time {_q(ageing * 100)}" if ageing is not None else ""
    return _ip(ns, "link add", _q(name), "address", _q(mac), "mtu", _q(mtu), *_txqlen(txqlen), "type bridge") + extra


def _cmd_veth(ns, name, peer_ns, peer, mac, peer_mac, mtu, master, up, txqlen=None, indexes_here=False,
              hairpin=False):
    words = ["link add", _q(name)]
    words += ["address", _q(mac)] if mac else []
    words += ["mtu", _q(mtu)] if mtu else []
    words += _txqlen(txqlen)
    words += ["master", _q(master)] if master else []
    words += ["up"] if up else []
    moved = indexes_here and peer_ns != ns
    words += ["type veth peer name", _q(f"{name}p" if moved else peer)]
    words += ["netns", _q(peer_ns)] if peer_ns != ns and not moved else []
    words += ["address", _q(peer_mac)] if peer_mac else []
    words += ["mtu", _q(mtu)] if mtu else []
    words += _txqlen(txqlen)
    lines = [_ip(ns, *words)]
    if moved:  # as Docker does: made here, then one end moved and renamed (it keeps its index)
        lines.append(_ip(ns, "link set", _q(f"{name}p"), "netns", _q(peer_ns), "name", _q(peer)))
    if hairpin:
        lines.append(f"ip netns exec {_q(ns)} bridge link set dev {_q(name)} hairpin on")
    return "\n".join(lines)


def _cmd_addr(ns, dev, address):
    brd = ["brd +"] if int(address.rsplit("/", 1)[1]) < 31 else []  # as Docker sets it
    return _ip(ns, "addr add", _q(address), *brd, "dev", _q(dev))


def _cmd_route(ns, to, via, dev, onlink):
    words = ["route add", _q(to)]
    words += ["via", _q(via)] if via else []
    words += ["dev", _q(dev)] if dev else []
    words += ["onlink"] if onlink else []
    return _ip(ns, *words)


def _cmd_vxlan(ns, name, vni, dstport, local, remote, dev, learning, mac, mtu, master):
    words = ["link add", _q(name)]
    words += ["address", _q(mac)] if mac else []
    words += ["mtu", _q(mtu)] if mtu else []
    words += ["type vxlan id", _q(vni)]
    words += ["dstport", _q(dstport)] if dstport is not None else []
    words += ["local", _q(local)] if local else []
    words += ["remote", _q(remote)] if remote else []
    words += ["dev", _q(dev)] if dev else []
    words += [] if learning else ["nolearning"]
    line = _ip(ns, *words)
    if master:
        line += "\n" + _ip(ns, "link set", _q(name), "master", _q(master))
    return line


def _cmd_fdb(ns, dev, mac, dst):
    return f"bridge -n {_q(ns)} fdb append {_q(mac)} dev {_q(dev)}" + (f" dst {_q(dst)}" if dst else "")


def _cmd_neigh(ns, dev, address, mac):
    return _ip(ns, "neigh add", _q(address), "lladdr", _q(mac), "dev", _q(dev), "nud permanent")


def heredoc_delimiter(text, base="EOF"):
    """A heredoc delimiter that is no line of ``text``: ``EOF``, else ``EOF_`` + a digest, made longer
    until it is none (so a script cannot end its heredoc early)."""
    lines = set(text.split("\n"))
    if base not in lines:
        return base
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    for size in range(8, len(digest) + 1, 8):
        delimiter = f"{base}_{digest[:size]}"
        if delimiter not in lines:
            return delimiter
    n = 0
    while f"{base}_{digest}_{n}" in lines:
        n += 1
    return f"{base}_{digest}_{n}"


def _cmd_nft(ns, rules):
    body = rules.rstrip()
    end = heredoc_delimiter(body)
    return f"ip netns exec {_q(ns)} nft -f - <<'{end}'\n{body}\n{end}"


def _cmd_iptables(ns, rules):
    body = rules.rstrip()
    end = heredoc_delimiter(body)
    return f"ip netns exec {_q(ns)} iptables-nft-restore <<'{end}'\n{body}\n{end}"


def _cmd_proxy(ns, proto, port, to_address, to_port, python):
    return (f"ip netns exec {_q(ns)} docker-proxy -proto {_q(proto)} -host-ip 0.0.0.0 -host-port {_q(port)} "
            f"-container-ip {_q(to_address)} -container-port {_q(to_port)} &  # Docker's userland proxy")


def _cmd_reserve(ns, port, proto, python):
    return f"# dockerd holds 0.0.0.0:{port}/{proto} in {ns} (a listening socket it never reads): the port is taken"


def _cmd_container_files(ns, hostname, hosts):
    """A comment, not a command: what the engine gives the container has no ``ip`` form, and a
    script that wrote /etc/netns/NS (what ``ip netns exec`` would bind) would change the host's /etc."""
    own = hosts.rstrip("\n").rsplit("\n", 1)[-1].replace("\t", " ")
    return (f"# {_q(ns)}: hostname {_q(hostname)} (a UTS namespace of its own); its own /etc/hostname, /etc/hosts "
            f"(Docker's six lines, then {_q(own)}) and /etc/resolv.conf (the host's, less local nameservers)")


def _cmd_process(ns, argv, name):
    return f"ip netns exec {_q(ns)} {shlex.join(argv)} &  # {name}"


_COMMANDS = {
    "netns": _cmd_netns,
    "sysctl": _cmd_sysctl,
    "up": _cmd_up,
    "bridge": _cmd_bridge,
    "veth": _cmd_veth,
    "addr": _cmd_addr,
    "route": _cmd_route,
    "vxlan": _cmd_vxlan,
    "fdb": _cmd_fdb,
    "neigh": _cmd_neigh,
    "nft": _cmd_nft,
    "iptables": _cmd_iptables,
    "proxy": _cmd_proxy,
    "reserve": _cmd_reserve,
    "container_files": _cmd_container_files,
    "process": _cmd_process,
}

PAUSE_ARGV = ["sleep", "infinity"]


def steps(topo, r, underlay, veth_ends):
    """The steps that build ``topo``, given its resolved form ``r`` (see validate.resolve)."""
    parts = (_namespace_steps(topo, r), _underlay_steps(topo, r, underlay), _bridge_steps(topo, r),
             _container_steps(topo, r), _veth_steps(topo, veth_ends), _vxlan_steps(topo),
             _entry_steps(topo, r))
    return [step for part in parts for step in part]


def _step(op, ns, **args):
    return Step(op, ns, args)


# A node with quiet_ipv6 (see topology.Node): sysctls that keep what its IPv6 sends repeatable.
# No duplicate address detection (no neighbour solicitations, and addresses never tentative while
# a lesson reads them), no router solicitations (sent 1 s after a link's address is ready, then
# on a backoff for ever), and multicast listener reports in MLDv1's way with no delay: the first
# at once as a group is joined, its one repeat on the group's own timer, set to fire at once and
# shown in /proc/net/igmp6, which Lab.settle() waits for. MLDv2 (Docker's default) sends each
# from a work queue, merging joins close in time, then repeats it (net.ipv6.mld_qrv, 2), a state
# nothing shows: reports then go out during a capture, or before a bridge's last port rather
# than after, by timing.
QUIET_IPV6 = (
    ("net.ipv6.conf.all.accept_dad", "0"), ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv6.conf.all.router_solicitations", "0"), ("net.ipv6.conf.default.router_solicitations", "0"),
    ("net.ipv6.conf.all.force_mld_version", "1"), ("net.ipv6.conf.default.force_mld_version", "1"),
    ("net.ipv6.conf.all.mldv1_unsolicited_report_interval", "0"),
    ("net.ipv6.conf.default.mldv1_unsolicited_report_interval", "0"),
)


LINK_LOCAL_REPORTS = "net.ipv4.igmp_link_local_mcast_reports"


def _namespace_steps(topo, r):
    bare = set(topo.namespaces)
    docker_nodes = {n.name for n in topo.nodes.values() if n.dockerd()}
    docker_containers = {rc.name for rc in r.containers.values() if rc.node in docker_nodes}
    for ns in r.namespaces:
        yield _step("netns", ns)
        if ns in docker_nodes or topo.ipv6:  # IPv6 on, as dockerd leaves a host
            if ns in topo.nodes and topo.nodes[ns].quiet_ipv6:
                for key, value in QUIET_IPV6:
                    yield _step("sysctl", ns, key=key, value=value)
        else:
            yield _step("sysctl", ns, key="net.ipv6.conf.all.disable_ipv6", value="1")
            yield _step("sysctl", ns, key="net.ipv6.conf.default.disable_ipv6", value="1")
        # No IGMP reports for link-local groups (a bridge joins 224.0.0.106): they would
        # flood to every port and interleave with the packets a lesson is about. A Docker
        # node gets Docker's value back once its bridge is up (see _bridge_steps); Docker's
        # containers keep it throughout, as they join no link-local group.
        if ns not in docker_containers:
            yield _step("sysctl", ns, key=LINK_LOCAL_REPORTS, value="0")
        if ns not in bare:
            yield _step("up", ns, dev="lo")
    for node in topo.nodes.values():
        if node.forwards():
            yield _step("sysctl", node.name, key="net.ipv4.ip_forward", value="1")


def _underlay_steps(topo, r, underlay):
    if underlay is None:
        return
    sw = topo.switch
    yield _step("bridge", sw, name="br0", mac=names.derived_mac(topo.name, sw, "br0"), mtu=1500, ageing=None)
    yield _step("up", sw, dev="br0")
    for node in topo.nodes.values():
        rn = r.nodes[node.name]
        if rn.address is None:
            continue
        yield _step("veth", sw, name=node.name, peer_ns=node.name, peer="eth0",
                    mac=names.derived_mac(topo.name, sw, node.name),
                    peer_mac=names.derived_mac(topo.name, node.name, "eth0"),
                    mtu=None, master="br0", up=True)
        yield _step("addr", node.name, dev="eth0", address=f"{rn.address}/{underlay.prefixlen}")
        yield _step("up", node.name, dev="eth0")


def _bridge_steps(topo, r):
    for node in topo.nodes.values():
        rn = r.nodes[node.name]
        if node.bridge is None:
            continue
        yield _step("bridge", node.name, name=node.bridge.name, mac=rn.bridge_mac, mtu=node.bridge.mtu,
                    ageing=node.bridge.ageing, txqlen=0 if node.dockerd() else None)
        yield _step("addr", node.name, dev=node.bridge.name, address=rn.bridge_address)
        yield _step("up", node.name, dev=node.bridge.name)
        if node.dockerd():
            # Docker's value, set once the bridge has joined 224.0.0.106 (all snoopers) with
            # reports off: a report is scheduled only as a group is joined (igmp_group_added),
            # so none is pending. Docker's docker0 sends its two reports as it comes up, with
            # no port to receive them, the second up to 1 s later, when the lab has ports.
            yield _step("sysctl", node.name, key=LINK_LOCAL_REPORTS, value="1")


# What dockerd sets in each container's namespace (Docker 20.10's defaults for a container):
# (key, value, what to write where the kernel refuses the value). The kernel takes a
# ping_group_range only if both ends are groups of the writer's user namespace: a root run's
# lab maps group 2147483647 for it (nethelpers.sandbox.PING_GROUP_HIGH); an ordinary user's
# lab maps group 0 only, and gets "0 0" (its root may ping).
DOCKER_CONTAINER_SYSCTLS = (
    ("net.ipv4.ip_unprivileged_port_start", "0", None),
    ("net.ipv4.ping_group_range", "0 2147483647", "0 0"),
)


def _container_steps(topo, r):
    for rc in r.containers.values():
        node = topo.nodes[rc.node]
        mtu = node.bridge.mtu  # Docker gives containers their network's MTU
        if node.dockerd():
            for key, value, fallback in DOCKER_CONTAINER_SYSCTLS:
                yield _step("sysctl", rc.name, key=key, value=value, **({"fallback": fallback} if fallback else {}))
        # Docker makes the pair in the node and moves one end: the container's eth0 keeps the
        # index it had there (``veth...@if4`` in the node), and both ends have txqueuelen 0.
        # Without the userland proxy, Docker turns hairpin mode on: a container reaches its own
        # published port through the node, its packets DNATed back out the port they came in by.
        docker = {"txqlen": 0, "indexes_here": True, **({} if node.userland_proxy else {"hairpin": True})} \
            if node.dockerd() else {}
        yield _step("veth", rc.node, name=rc.veth, peer_ns=rc.name, peer="eth0", mac=rc.veth_mac,
                    peer_mac=rc.mac, mtu=None if mtu == 1500 else mtu, master=rc.bridge, up=True, **docker)
        yield _step("addr", rc.name, dev="eth0", address=f"{rc.address}/{rc.prefixlen}")
        yield _step("up", rc.name, dev="eth0")
        yield _step("route", rc.name, to="default", via=rc.gateway, dev=None, onlink=False)
        if node.dockerd():
            yield _step("container_files", rc.name, hostname=rc.name, hosts=docker_hosts(rc.name, rc.address))


# Docker 20.10's /etc/hosts for a container (libnetwork's etchosts: its default records, then the
# container's address and hostname), each line "ADDRESS<tab>NAMES".
DOCKER_HOSTS = (("127.0.0.1", "localhost"), ("::1", "localhost ip6-localhost ip6-loopback"),
                ("fe00::0", "ip6-localnet"), ("ff00::0", "ip6-mcastprefix"), ("ff02::1", "ip6-allnodes"),
                ("ff02::2", "ip6-allrouters"))


def docker_hosts(name, address):
    """The /etc/hosts dockerd writes for a container ``name`` at ``address`` (``--hostname name``)."""
    return "".join(f"{ip}\t{names}\n" for ip, names in DOCKER_HOSTS + ((address, name),))


def _veth_steps(topo, veth_ends):
    for veth, ends, addresses, macs in veth_ends:
        (ns_a, dev_a), (ns_b, dev_b) = ends
        macs = [m or names.derived_mac(topo.name, ns, dev) for m, (ns, dev) in zip(macs, ends)]
        yield _step("veth", ns_a, name=dev_a, peer_ns=ns_b, peer=dev_b, mac=macs[0], peer_mac=macs[1],
                    mtu=veth.mtu, master=None, up=veth.up)
        if veth.up:
            yield _step("up", ns_b, dev=dev_b)
        for (ns, dev), address in zip(ends, addresses):
            if address is not None:
                yield _step("addr", ns, dev=dev, address=address)


def _vxlan_steps(topo):
    for vx in topo.vxlans:
        yield _step("vxlan", vx.ns, name=vx.name, vni=vx.vni, dstport=vx.dstport, local=vx.local,
                    remote=vx.remote, dev=vx.dev, learning=vx.learning,
                    mac=vx.mac or names.derived_mac(topo.name, vx.ns, vx.name), mtu=vx.mtu,
                    master=vx.master)
        if vx.address:
            yield _step("addr", vx.ns, dev=vx.name, address=vx.address)
        yield _step("up", vx.ns, dev=vx.name)


def _entry_steps(topo, r):
    """Addresses, routes, FDB and neighbour entries, sysctls, nftables, pause processes."""
    for e in topo.addresses:
        yield _step("addr", e.ns, dev=e.dev, address=e.address)
    for e in topo.routes:
        yield _step("route", e.ns, to=e.to, via=e.via, dev=e.dev, onlink=e.onlink)
    for e in topo.fdb:
        yield _step("fdb", e.ns, dev=e.dev, mac=e.mac.lower(), dst=e.dst)
    for e in topo.neighbours:
        yield _step("neigh", e.ns, dev=e.dev, address=e.address, mac=e.mac.lower())
    for e in topo.sysctls:
        yield _step("sysctl", e.ns, key=e.key, value=e.value)
    for node, script in _docker_nat(topo, r).items():
        yield _step("nft", node, rules=script)
    for node, rules in _docker_iptables(topo, r).items():
        yield _step("iptables", node, rules=rules)
    yield from _proxy_steps(topo, r)
    for e in topo.nftables:
        yield _step("nft", e.ns, rules=e.rules)
    for rc in r.containers.values():
        if rc.pod:
            yield _step("process", rc.name, argv=PAUSE_ARGV, name="pause")


def _docker_nat(topo, r):
    """Docker's NAT rules, in nftables: MASQUERADE for nodes that ask, DNAT for -p."""
    scripts = {}
    for node in topo.nodes.values():
        if node.dockerd():
            continue  # _docker_iptables
        rn = r.nodes[node.name]
        chains = []
        if node.masquerades() and node.bridge is not None:
            subnet = ipaddress.IPv4Interface(rn.bridge_address).network
            chains.append(
                "\tchain POSTROUTING {\n"
                "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
                f'\t\tip saddr {subnet} oifname != "{node.bridge.name}" masquerade\n'
                "\t}"
            )
        published = [p for p in topo.publish if r.containers[p.container].node == node.name]
        if published:
            rules = "".join(
                f'\t\tfib daddr type local iifname != "{node.bridge.name}" {p.proto} dport {p.port} '
                f"dnat to {r.containers[p.container].address}:{p.to_port}\n"
                for p in published
            )
            chains.append(
                "\tchain PREROUTING {\n"
                "\t\ttype nat hook prerouting priority dstnat; policy accept;\n" + rules + "\t}"
            )
        if chains:
            scripts[node.name] = "table ip nat {\n" + "\n".join(chains) + "\n}\n"
    return scripts


def _docker_iptables(topo, r):
    """dockerd's filter and nat rules for each Docker node, as ``iptables-nft-restore`` reads
    them (what ``iptables -S`` lists on a Docker 20.10 host)."""
    scripts = {}
    for node in topo.nodes.values():
        if not node.dockerd():
            continue
        br = node.bridge.name
        subnet = ipaddress.IPv4Interface(r.nodes[node.name].bridge_address).network
        published = [(p, r.containers[p.container].address) for p in topo.publish
                     if r.containers[p.container].node == node.name]
        filter_ = [
            "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]", ":DOCKER - [0:0]",
            ":DOCKER-ISOLATION-STAGE-1 - [0:0]", ":DOCKER-ISOLATION-STAGE-2 - [0:0]", ":DOCKER-USER - [0:0]",
            "-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
            f"-A FORWARD -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            f"-A FORWARD -o {br} -j DOCKER", f"-A FORWARD -i {br} ! -o {br} -j ACCEPT",
            f"-A FORWARD -i {br} -o {br} -j ACCEPT",
            *[f"-A DOCKER -d {ip}/32 ! -i {br} -o {br} -p {p.proto} -m {p.proto} --dport {p.to_port} -j ACCEPT"
              for p, ip in published],
            f"-A DOCKER-ISOLATION-STAGE-1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2",
            "-A DOCKER-ISOLATION-STAGE-1 -j RETURN", f"-A DOCKER-ISOLATION-STAGE-2 -o {br} -j DROP",
            "-A DOCKER-ISOLATION-STAGE-2 -j RETURN", "-A DOCKER-USER -j RETURN", "COMMIT",
        ]
        # The userland proxy answers what the rules leave out: loopback, and containers reaching
        # a published port through the node. Without it (hairpin mode) the rules take those too.
        proxy = node.userland_proxy
        nat = [
            "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
            ":POSTROUTING ACCEPT [0:0]", ":DOCKER - [0:0]",
            "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
            f"-A OUTPUT {'! -d 127.0.0.0/8 ' if proxy else ''}-m addrtype --dst-type LOCAL -j DOCKER",
            *([] if proxy else [f"-A POSTROUTING -o {br} -m addrtype --src-type LOCAL -j MASQUERADE"]),
            *([f"-A POSTROUTING -s {subnet} ! -o {br} -j MASQUERADE"] if node.masquerades() else []),
            *[f"-A POSTROUTING -s {ip}/32 -d {ip}/32 -p {p.proto} -m {p.proto} --dport {p.to_port} -j MASQUERADE"
              for p, ip in published],
            *([f"-A DOCKER -i {br} -j RETURN"] if proxy else []),
            *[f"-A DOCKER {f'! -i {br} ' if proxy else ''}-p {p.proto} -m {p.proto} --dport {p.port} "
              f"-j DNAT --to-destination {ip}:{p.to_port}" for p, ip in published],
            "COMMIT",
        ]
        scripts[node.name] = "\n".join(filter_ + nat) + "\n"
    return scripts


def _proxy_steps(topo, r):
    """docker-proxy's part: a userland proxy on each published port, TCP or UDP, of a Docker
    node, and without it (``userland_proxy=False``) what dockerd does instead: route_localnet on
    the bridge, and each published port held by a socket of its own that nothing reads (IPv4 only)."""
    for node in topo.nodes.values():
        if not node.dockerd():
            continue
        if not node.userland_proxy:
            yield _step("sysctl", node.name, key=f"net.ipv4.conf.{node.bridge.name}.route_localnet", value="1")
            for p in topo.publish:
                if r.containers[p.container].node == node.name:
                    yield _step("reserve", node.name, port=p.port, proto=p.proto, python=names.LAB_PYTHON)
            continue
        for p in topo.publish:
            rc = r.containers[p.container]
            if rc.node == node.name:
                yield _step("proxy", node.name, proto=p.proto, port=p.port, to_address=rc.address,
                            to_port=p.to_port, python=names.LAB_PYTHON)
