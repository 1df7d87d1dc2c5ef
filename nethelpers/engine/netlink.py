"""Just enough rtnetlink to build a lab fast: the requests `ip link/addr/route/neigh add` send.

A :class:`Rtnl` is a NETLINK_ROUTE socket bound, for its whole life, to the network namespace
it was opened in. Each method sends one request and waits for the kernel's acknowledgement
(the kernel handles rtnetlink requests synchronously, so the ack is already queued when
``send`` returns); a refusal raises :class:`NetlinkError` with the kernel's own message.
It also reads back what ``discover`` needs (links, addresses, nsids), with the standard
library only: the engine imports nothing else.

Message layouts follow ``include/uapi/linux/rtnetlink.h`` and ``if_link.h``.
"""

import errno
import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SOL_NETLINK = 270

NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_APPEND = 0x1, 0x4, 0x200, 0x400, 0x800
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1

RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR, RTM_NEWROUTE, RTM_NEWNEIGH = 16, 18, 20, 22, 24, 28
RTM_GETNSID, NETNSA_NSID, NETNSA_FD = 90, 1, 3
IFLA_LINK, IFLA_LINK_NETNSID = 5, 37
NLMSG_DONE, NLM_F_DUMP = 3, 0x300
IFLA_OPERSTATE, IFLA_CARRIER = 16, 33
IF_OPER_UNKNOWN, IF_OPER_DOWN, IF_OPER_LOWERLAYERDOWN, IF_OPER_UP = 0, 2, 5, 6

IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_TXQLEN, IFLA_LINKINFO = 1, 3, 4, 10, 13, 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFLA_BR_AGEING_TIME = 4
IFLA_VXLAN_ID, IFLA_VXLAN_GROUP, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL = 1, 2, 3, 4
IFLA_VXLAN_LEARNING, IFLA_VXLAN_PORT = 7, 15

IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 4, 8
IFA_F_DADFAILED, IFA_F_TENTATIVE = 0x08, 0x40
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RTN_UNICAST = 254, 3, 0, 253, 1
RTNH_F_ONLINK = 4
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT, NTF_SELF = 0x80, 0x02
AF_BRIDGE = 7
RTM_SETLINK, IFLA_PROTINFO, IFLA_BRPORT_MODE, NLA_F_NESTED = 19, 12, 4, 0x8000


class NetlinkError(OSError):
    """The kernel refused a request; ``errno`` and the kernel's extended message say why."""


def _attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("HH", length, kind) + payload + b"\0" * (-length % 4)


def _nest(kind, *attrs):
    return _attr(kind, b"".join(attrs))


def _str(kind, value):
    return _attr(kind, value.encode() + b"\0")


def _u32(kind, value):
    return _attr(kind, struct.pack("I", value))


def _u8(kind, value):
    return _attr(kind, struct.pack("B", value))


def _mac(kind, value):
    return _attr(kind, bytes.fromhex(value.replace(":", "")))


def _ip(kind, value):
    return _attr(kind, ipaddress.IPv4Address(value).packed)


def _ifinfo(index=0, up=False, family=0):
    flags = IFF_UP if up else 0
    return struct.pack("BxHiII", family, 0, index, flags, IFF_UP if up else 0)


class Rtnl:
    """A route netlink socket in the namespace current when it was made.

    ``index`` maps interface names to their index, so later requests can name them without
    asking the kernel; ``next_index`` is the index the next created interface gets. Both start
    from what the namespace holds when the socket is made: a fresh namespace has ``lo``, and
    also fallback tunnels (tunl0, sit0, gre0...) wherever their modules are loaded.
    """

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.sock.bind((0, 0))
        self.seq = 0
        self.index = self._existing()
        self.next_index = max(self.index.values(), default=1) + 1

    def _existing(self):
        """``{name: index}`` of the interfaces already here."""
        found = {}
        for mtype, msg in self.dump(RTM_GETLINK, _ifinfo()):
            if mtype == RTM_NEWLINK:
                found[_text(_attrs(msg, 32).get(IFLA_IFNAME))] = struct.unpack_from("i", msg, 20)[0]
        return found

    def close(self):
        self.sock.close()

    def request(self, kind, body, flags=NLM_F_CREATE | NLM_F_EXCL):
        """Send one request and wait for its acknowledgement."""
        self.seq += 1
        header = struct.pack("IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, self.seq, 0)
        self.sock.send(header + body)
        while True:
            data = self.sock.recv(65536)
            length, mtype, mflags, seq = struct.unpack_from("IHHI", data)
            if mtype != NLMSG_ERROR or seq != self.seq:
                continue
            (code,) = struct.unpack_from("i", data, 16)
            if code == 0:
                return
            raise NetlinkError(-code, _ext_message(data, length, mflags) or os.strerror(-code))

    def reserve(self, name):
        """Choose the index ``name`` will get here; explicit indexes keep `ip` output stable."""
        index = self.next_index
        self.next_index += 1
        self.index[name] = index
        return index

    def link_up(self, name):
        body = _ifinfo(self.index[name], up=True)
        self.request(RTM_NEWLINK, body, flags=0)

    def bridge(self, name, mac, mtu, ageing=None, txqlen=None):
        data = [_u32(IFLA_BR_AGEING_TIME, ageing * 100)] if ageing is not None else []
        info = _nest(IFLA_LINKINFO, _str(IFLA_INFO_KIND, "bridge"), *([_nest(IFLA_INFO_DATA, *data)] if data else []))
        body = _ifinfo(self.reserve(name)) + _str(IFLA_IFNAME, name) + _mac(IFLA_ADDRESS, mac) + _u32(IFLA_MTU, mtu)
        body += _u32(IFLA_TXQLEN, txqlen) if txqlen is not None else b""
        body += info
        self.request(RTM_NEWLINK, body)

    def veth(self, name, peer, peer_rtnl, peer_nsfd, mac=None, peer_mac=None, mtu=None, master=None, up=False,
             txqlen=None, indexes_here=False):
        """Create a veth pair here, its peer straight in ``peer_rtnl``'s namespace.

        ``indexes_here``: both ends take their index from this namespace's count, the peer
        first, as when a pair is made here and one end moved (what Docker does): the peer
        keeps the index it had here."""
        txq = _u32(IFLA_TXQLEN, txqlen) if txqlen is not None else b""
        peer_attrs = _str(IFLA_IFNAME, peer)
        peer_attrs += _mac(IFLA_ADDRESS, peer_mac) if peer_mac else b""
        peer_attrs += _u32(IFLA_MTU, mtu) if mtu else b""
        peer_attrs += txq
        if peer_rtnl is not self:
            peer_attrs += _u32(IFLA_NET_NS_FD, peer_nsfd)
        if indexes_here and peer_rtnl is not self:
            peer_index = self.reserve(f"(peer {peer})")
            del self.index[f"(peer {peer})"]
            peer_rtnl.index[peer] = peer_index
            peer_rtnl.next_index = max(peer_rtnl.next_index, peer_index + 1)
        else:
            peer_index = peer_rtnl.reserve(peer)
        info = _nest(
            IFLA_LINKINFO,
            _str(IFLA_INFO_KIND, "veth"),
            _nest(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, _ifinfo(peer_index) + peer_attrs)),
        )
        body = _ifinfo(self.reserve(name), up=up) + _str(IFLA_IFNAME, name)
        body += _mac(IFLA_ADDRESS, mac) if mac else b""
        body += _u32(IFLA_MTU, mtu) if mtu else b""
        body += txq
        body += _u32(IFLA_MASTER, self.index[master]) if master else b""
        try:
            self.request(RTM_NEWLINK, body + info)
        except NetlinkError:
            del self.index[name], peer_rtnl.index[peer]
            raise

    def vxlan(self, name, vni, dstport=None, local=None, remote=None, dev=None, learning=True, mac=None, mtu=None):
        data = [_u32(IFLA_VXLAN_ID, vni), _u8(IFLA_VXLAN_LEARNING, int(learning))]
        if dstport is not None:
            data.append(_attr(IFLA_VXLAN_PORT, struct.pack("!H", dstport)))
        if local:
            data.append(_ip(IFLA_VXLAN_LOCAL, local))
        if remote:
            data.append(_ip(IFLA_VXLAN_GROUP, remote))
        if dev:
            data.append(_u32(IFLA_VXLAN_LINK, self.index[dev]))
        info = _nest(IFLA_LINKINFO, _str(IFLA_INFO_KIND, "vxlan"), _nest(IFLA_INFO_DATA, *data))
        body = _ifinfo(self.reserve(name)) + _str(IFLA_IFNAME, name)
        body += _mac(IFLA_ADDRESS, mac) if mac else b""
        body += _u32(IFLA_MTU, mtu) if mtu else b""
        self.request(RTM_NEWLINK, body + info)

    def hairpin(self, name):
        """Hairpin mode on bridge port ``name``: a frame may leave by the port it came in by."""
        protinfo = _attr(IFLA_PROTINFO | NLA_F_NESTED, _u8(IFLA_BRPORT_MODE, 1))
        self.request(RTM_SETLINK, _ifinfo(self.index[name], family=AF_BRIDGE) + protinfo, flags=0)

    def set_master(self, name, master):
        self.request(RTM_NEWLINK, _ifinfo(self.index[name]) + _u32(IFLA_MASTER, self.index[master]), flags=0)

    def addr(self, dev, address):
        iface = ipaddress.IPv4Interface(address)
        body = struct.pack("BBBBI", socket.AF_INET, iface.network.prefixlen, 0, 0, self.index[dev])
        body += _ip(IFA_LOCAL, iface.ip) + _ip(IFA_ADDRESS, iface.ip)
        if iface.network.prefixlen < 31:
            body += _ip(IFA_BROADCAST, iface.network.broadcast_address)
        self.request(RTM_NEWADDR, body)

    def route(self, to, via=None, dev=None, onlink=False):
        net = ipaddress.IPv4Network("0.0.0.0/0" if to == "default" else to)
        scope = RT_SCOPE_UNIVERSE if via else RT_SCOPE_LINK
        body = struct.pack("BBBBBBBBI", socket.AF_INET, net.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                           scope, RTN_UNICAST, RTNH_F_ONLINK if onlink else 0)
        body += _ip(RTA_DST, net.network_address) if net.prefixlen else b""
        body += _ip(RTA_GATEWAY, via) if via else b""
        body += _u32(RTA_OIF, self.index[dev]) if dev else b""
        self.request(RTM_NEWROUTE, body)

    def neigh(self, dev, address, mac):
        body = struct.pack("BxxxiHBB", socket.AF_INET, self.index[dev], NUD_PERMANENT, 0, 0)
        self.request(RTM_NEWNEIGH, body + _ip(NDA_DST, address) + _mac(NDA_LLADDR, mac))

    def fdb(self, dev, mac, dst=None):
        body = struct.pack("BxxxiHBB", AF_BRIDGE, self.index[dev], NUD_PERMANENT, NTF_SELF, 0)
        body += _mac(NDA_LLADDR, mac) + (_ip(NDA_DST, dst) if dst else b"")
        self.request(RTM_NEWNEIGH, body, flags=NLM_F_CREATE | NLM_F_APPEND)

    def dump(self, kind, body):
        """Yield ``(type, message bytes)`` of a dump request's answer, until NLMSG_DONE."""
        self.seq += 1
        self.sock.send(struct.pack("IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, self.seq, 0) + body)
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, mtype = struct.unpack_from("IH", data, offset)
                if length < 16:
                    raise NetlinkError(71, "a netlink message shorter than its header")  # EPROTO
                if mtype == NLMSG_DONE:
                    return
                if mtype == NLMSG_ERROR:
                    (code,) = struct.unpack_from("i", data, offset + 16)
                    raise NetlinkError(-code, os.strerror(-code))
                yield mtype, data[offset:offset + length]
                offset += (length + 3) & ~3

    def link_states(self):
        """``{name: (admin up, carrier, operstate)}`` for every interface.

        Each interface is asked for by itself after a dump has named them: the kernel first
        runs any link event it still holds for that interface (``linkwatch_sync_dev``), which a
        dump does not. A bridge's event can wait there up to a second even when it will not
        change the state (its carrier went off and on again), and running it is not idle: IPv6
        sends its multicast listener reports again on it. So, asked this way, nothing is left
        to happen later by itself.
        """
        indexes = [struct.unpack_from("i", msg, 20)[0]
                   for mtype, msg in self.dump(RTM_GETLINK, _ifinfo()) if mtype == RTM_NEWLINK]
        states = {}
        for index in indexes + indexes:  # twice: a port's event, once run, can give its bridge one
            msg = self._get(RTM_GETLINK, _ifinfo(index))
            if msg is None:  # gone since the dump
                continue
            flags = struct.unpack_from("I", msg, 24)[0]
            attrs = _attrs(msg, 32)
            carrier, oper = attrs.get(IFLA_CARRIER, b"\0"), attrs.get(IFLA_OPERSTATE, b"\0")
            states[_text(attrs.get(IFLA_IFNAME))] = (bool(flags & IFF_UP), bool(carrier[0]), oper[0])
        return states

    def _get(self, kind, body):
        """The answer to one (not dump) request, or None if the kernel answers ENODEV."""
        self.seq += 1
        self.sock.send(struct.pack("IHHII", 16 + len(body), kind, NLM_F_REQUEST, self.seq, 0) + body)
        while True:
            data = self.sock.recv(1 << 16)
            length, mtype, _, seq = struct.unpack_from("IHHI", data)
            if seq != self.seq:
                continue
            if mtype == NLMSG_ERROR:
                (code,) = struct.unpack_from("i", data, 16)
                if code == -errno.ENODEV:
                    return None
                raise NetlinkError(-code, os.strerror(-code))
            return data[:length]

    def tentative(self):
        """Whether an IPv6 address here is still tentative (its DAD work not run yet; one
        whose DAD failed stays tentative for good and does not count)."""
        for mtype, msg in self.dump(RTM_GETADDR, struct.pack("BBBBI", socket.AF_INET6, 0, 0, 0, 0)):
            if mtype == RTM_NEWADDR:
                flags = _attrs(msg, 24).get(IFA_FLAGS)
                flags = struct.unpack("I", flags)[0] if flags and len(flags) == 4 else msg[18]
                if flags & IFA_F_TENTATIVE and not flags & IFA_F_DADFAILED:
                    return True
        return False

    def links(self):
        """Every interface here, as records of plain data (see :func:`_link_record`)."""
        return [_link_record(msg) for mtype, msg in self.dump(RTM_GETLINK, _ifinfo()) if mtype == RTM_NEWLINK]

    def addresses(self):
        """``[{"index", "address": "a.b.c.d/len"}]``: the IPv4 addresses here."""
        found = []
        for mtype, msg in self.dump(RTM_GETADDR, struct.pack("BBBBI", socket.AF_INET, 0, 0, 0, 0)):
            if mtype == RTM_NEWADDR:
                _, prefixlen, _, _, index = struct.unpack_from("BBBBI", msg, 16)
                address = _attrs(msg, 24).get(IFA_ADDRESS)
                if address and len(address) == 4:
                    found.append({"index": index, "address": f"{socket.inet_ntoa(address)}/{prefixlen}"})
        return found

    def netnsid(self, nsfd):
        """The id this namespace gives the namespace of ``nsfd``, or None if it gave none."""
        answer = self._get(RTM_GETNSID, struct.pack("Bxxx", socket.AF_UNSPEC) + _u32(NETNSA_FD, nsfd))
        nsid = _attrs(answer, 20).get(NETNSA_NSID) if answer else None
        value = struct.unpack("i", nsid)[0] if nsid and len(nsid) == 4 else -1
        return value if value >= 0 else None


def dump_namespace(rtnl, others):
    """Links, IPv4 addresses, and the nsids that name ``others`` (``{name: nsfd}``) where the
    links point at them: what ``discover`` reads. Plain data only."""
    links = rtnl.links()
    wanted = {link["peer_nsid"] for link in links if link["peer_nsid"] is not None}
    nsids = {}
    for name, fd in others.items():
        if not wanted - set(map(int, nsids)):
            break  # every nsid a link names is known
        nsid = rtnl.netnsid(fd)
        if nsid is not None:
            nsids[str(nsid)] = name
    return {"links": links, "addresses": rtnl.addresses(), "nsids": nsids}


OPERSTATES = ["UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"]


def _attrs(data, offset, end=None):
    """``{type: payload}`` of the attributes in ``data[offset:end]`` (nested flag dropped)."""
    end = len(data) if end is None else end
    found = {}
    while offset + 4 <= end:
        alen, kind = struct.unpack_from("HH", data, offset)
        if alen < 4 or offset + alen > end:
            break
        found[kind & 0x3FFF] = data[offset + 4:offset + alen]
        offset += (alen + 3) & ~3
    return found


def _text(value):
    return value.split(b"\0", 1)[0].decode(errors="replace") if value is not None else None


def _u32_of(value, fmt="I"):
    return struct.unpack(fmt, value[:struct.calcsize(fmt)])[0] if value is not None else None


def _link_record(msg):
    """One RTM_NEWLINK message as the record ``discover`` reads."""
    index = struct.unpack_from("i", msg, 20)[0]
    attrs = _attrs(msg, 32)
    info = _attrs(attrs.get(IFLA_LINKINFO, b""), 0)
    kind = _text(info.get(IFLA_INFO_KIND))
    mac = attrs.get(IFLA_ADDRESS)
    oper = attrs.get(IFLA_OPERSTATE)
    record = {
        "index": index, "name": _text(attrs.get(IFLA_IFNAME)), "kind": kind,
        "mac": ":".join(f"{b:02x}" for b in mac) if mac is not None else None,
        "mtu": _u32_of(attrs.get(IFLA_MTU)), "master": _u32_of(attrs.get(IFLA_MASTER)),
        "peer_index": _u32_of(attrs.get(IFLA_LINK)), "peer_nsid": _u32_of(attrs.get(IFLA_LINK_NETNSID), "i"),
        "state": OPERSTATES[oper[0]] if oper and oper[0] < len(OPERSTATES) else None,
    }
    if kind == "vxlan" and IFLA_INFO_DATA in info:
        record["vxlan"] = _vxlan_record(_attrs(info[IFLA_INFO_DATA], 0))
    return record


def _vxlan_record(data):
    def ip(kind):
        return socket.inet_ntoa(data[kind]) if len(data.get(kind, b"")) == 4 else None

    learning = data.get(IFLA_VXLAN_LEARNING)
    return {
        "vni": _u32_of(data.get(IFLA_VXLAN_ID)), "port": _u32_of(data.get(IFLA_VXLAN_PORT), "!H"),
        "local": ip(IFLA_VXLAN_LOCAL), "remote": ip(IFLA_VXLAN_GROUP), "dev": _u32_of(data.get(IFLA_VXLAN_LINK)),
        "learning": learning[0] if learning else None,
    }


def _ext_message(data, length, flags):
    """The kernel's extended ack message (NETLINK_EXT_ACK), if any."""
    if not flags & NLM_F_ACK_TLVS:
        return None
    offset = 16 + 4 + 16  # header, error code, the capped copy of our header
    while offset + 4 <= length:
        alen, akind = struct.unpack_from("HH", data, offset)
        if alen < 4:
            break
        if akind == NLMSGERR_ATTR_MSG:
            return data[offset + 4:offset + alen].rstrip(b"\0").decode(errors="replace")
        offset += (alen + 3) & ~3
    return None

