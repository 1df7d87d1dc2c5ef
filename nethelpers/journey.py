"""Packet journeys: one packet followed across every capture point where it was seen.

A capture at several points sees the same packet several times: leaving ``c1:eth0``,
entering the host's veth, on ``docker0``, leaving by ``node1:eth0`` with another source
address. :func:`journeys` groups those sightings into one :class:`Journey` per packet and
says, hop by hop, what the kernel changed on the way (:class:`Hop`)::

    cap = lab.capture(["c1:eth0", "node1:docker0", "node1:eth0"], filter="arp or icmp")
    lab.exec("c1", "ping -c 1 10.168.0.3")
    trips = cap.stop().journeys()
    print(trips.table())                       # one row per sighting, with what changed
    trip = trips.one("echo-request")
    [str(hop) for hop in trip.hops()]
    # ['unchanged', 'MAC src ..., MAC dst ..., SNAT 172.17.0.2>10.168.0.2, TTL 64>63']
    trip.hop("node1:docker0", "node1:eth0").snat                      # ('172.17.0.2', '10.168.0.2')

**Recognising a packet.** The key is computed on the innermost frame (a VXLAN packet on
the underlay is the frame it carries), on fields that the kernel does not rewrite:

- ARP: operation, sender IP, target IP, sender MAC;
- ICMP echo: type, id, sequence, a hash of the payload (not the addresses: MASQUERADE
  changes them, and keeps the payload);
- ICMP errors: type, code and IP id (NAT rewrites the datagram they quote);
- TCP: IP id, flags, sequence and acknowledgement numbers, a hash of the payload (ports can
  be rewritten; without the flags and numbers, a SYN-ACK and a reset of one flow, both IP id
  0 and empty, would be taken for one packet that NAT had rewritten);
- other IP: protocol, IP id, a hash of the layer-4 payload;
- anything else: a hash of the frame.

Two sightings with one key are one packet, unless the later one is at a point that the
journey already has in the same direction (or in the other direction, unchanged: sent back
by the interface that received it), or comes more than :data:`GAP` seconds after it: then
it is the next packet with the same content (a retransmission, the neighbour
re-validation's unicast ARP request five seconds after a ping, or the same IGMP report sent
by two bridges that both have Docker's 172.17.0.1).

**Telling the story in order.** Kernel timestamps are taken where a packet enters a
namespace (the receive path, once) or leaves an interface; a copy of a received packet
keeps its timestamp. So a bridge port and the bridge itself, or ``eth0`` and the
``vxlan0`` that decapsulates what ``eth0`` received, show the *same* time. Sightings are
put in order by time, then, on equal times:

1. a point that sent the packet before points that received it;
2. among points that received it, the outer packet before the decapsulated one (``eth0``
   before ``vxlan0``); among points that sent it, the inner one first (``vxlan0`` before ``eth0``);
3. a point that received it as "for this host" (pkttype host) after the others: it is the
   end of the receive path (a bridge handing the frame up to its own stack);
4. a point where no journey begins with a sent packet before one where some do: a bridge
   with an address sends packets of its own (ARP replies, routed packets), a bridge port
   never does, so the port where the frame entered comes before the bridge;
5. a point that shares its timestamps with fewer other points of its namespace first: a
   port shares them only with its bridge, the bridge with every port that carried traffic;
6. the order of the capture's points.

No rule reorders sightings whose times differ: in every capture made while writing this
(bridged, routed with NAT, VXLAN, concurrent pings, 2 CPUs) a packet received was never
stamped before the same packet sent by the other end.

**Who passed it to whom.** Each sighting but the first has one predecessor, so a journey
is a tree: a chain for a unicast packet, a fan-out where a bridge floods (one ARP request
entering a port and leaving by every other one). :meth:`Journey.hops` lists its edges:

- a packet received (``in``) comes from the latest packet sent (``out``) in *another*
  namespace that has not yet been passed on (the other end of a veth or a wire: what one
  interface sends reaches one place, so a sent packet is passed on once); else
  from the latest sighting in its own namespace (a bridge, or a VXLAN device, receiving
  what an interface of the same namespace received); else from the latest sighting;
- a packet sent (``out``) is compared with the sightings of its namespace at the same
  encapsulation depth: if one received the very same frame (byte for byte), it comes from
  the first such (bridged: the port it entered by); else if one sent the very same frame,
  from the first such (the bridge's own device, then a port); else from the latest that
  received it (routed: MACs rewritten, TTL decremented, perhaps NAT). With no sighting of
  its namespace at its depth, it was encapsulated here: it comes from the latest sighting
  of its namespace;
- otherwise it came through points not captured: from the latest sighting, or, when that
  one also came through points not captured, from the same place as that one (with
  ``c1:eth0``, ``docker0``, ``c2:eth0`` and ``c3:eth0`` captured, a flooded request goes
  from docker0 to c2 and to c3, not from c3 to c2).
"""

import heapq
import zlib

GAP = 1.0  # seconds: the same content seen again after this long is another packet


# --- what a frame is -------------------------------------------------------------------------


def _bytes(layer):
    return bytes(layer) if layer is not None else b""


def key(frame):
    """The identity of a packet, computed on its innermost frame (see the module's docstring)."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP

    from .packets import bind_layers, inner

    bind_layers()
    frame = inner(frame)
    if frame.haslayer(ARP):
        arp = frame[ARP]
        return ("arp", arp.op, arp.psrc, arp.pdst, arp.hwsrc)
    if frame.haslayer(IP):
        ip = frame[IP]
        if ip.proto == 1 and frame.haslayer(ICMP):
            icmp = frame[ICMP]
            if icmp.type in (0, 8):
                return ("icmp", icmp.type, icmp.id, icmp.seq, zlib.crc32(_bytes(icmp.payload)))
            return ("icmp", icmp.type, icmp.code, ip.id)
        if frame.haslayer(TCP):  # flags and sequence numbers tell apart the empty segments of one flow
            tcp = frame[TCP]
            return ("ip", ip.proto, ip.id, int(tcp.flags), tcp.seq, tcp.ack, zlib.crc32(_bytes(tcp.payload)))
        if frame.haslayer(UDP):
            return ("ip", ip.proto, ip.id, zlib.crc32(_bytes(frame[UDP].payload)))
        return ("ip", ip.proto, ip.id, zlib.crc32(_bytes(ip.payload)))
    return ("frame", zlib.crc32(bytes(frame)))


def protocol(frame):
    """``"ARP"``, ``"ICMP"``, ``"TCP"``, ``"UDP"``, ``"IP"`` or ``"other"``, of the innermost frame."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP

    from .packets import inner

    frame = inner(frame)
    for layer, name in ((ARP, "ARP"), (ICMP, "ICMP"), (TCP, "TCP"), (UDP, "UDP"), (IP, "IP")):
        if frame.haslayer(layer):
            return name
    return "other"


def encapsulation(frame):
    """The VXLAN layers around the innermost frame, outermost first: a list of dicts with
    ``vni``, outer ``src``/``dst`` IP, ``sport``/``dport`` UDP ports, ``ttl`` and outer
    ``mac_src``/``mac_dst``. Empty for a plain frame."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.vxlan import VXLAN

    from .packets import bind_layers

    bind_layers()
    layers = []
    while frame.haslayer(VXLAN) and frame[VXLAN].payload:
        ip = frame[IP] if frame.haslayer(IP) else None
        udp = frame[UDP] if frame.haslayer(UDP) else None
        layers.append({
            "vni": frame[VXLAN].vni,
            "src": ip and ip.src, "dst": ip and ip.dst, "ttl": ip and ip.ttl,
            "sport": udp and udp.sport, "dport": udp and udp.dport,
            "mac_src": frame.src, "mac_dst": frame.dst,
        })
        frame = frame[VXLAN].payload
    return layers


def _fields(frame):
    """MACs, IPs and TTL of one (plain) frame."""
    from scapy.layers.inet import IP

    ip = frame[IP] if frame.haslayer(IP) else None
    return {
        "mac_src": frame.src, "mac_dst": frame.dst,
        "ip_src": ip and ip.src, "ip_dst": ip and ip.dst, "ttl": ip and ip.ttl,
    }


# --- hops ------------------------------------------------------------------------------------


def _vxlan_text(layer):
    return f"vni {layer['vni']} {layer['src']}>{layer['dst']} udp {layer['dport']}"


class Hop:
    """What happened to a packet between two points where it was seen.

    Attributes: ``before`` and ``after`` (the two :class:`~nethelpers.capture.Packet`
    sightings); ``mac_src``, ``mac_dst`` (``(old, new)`` when the Ethernet source or
    destination was rewritten, else None); ``snat``, ``dnat`` (``(old, new)`` when the
    source or destination IP changed); ``ttl`` (``(before, after)``, None for non-IP);
    ``vxlan`` (``("+", layer)`` when a VXLAN header was added, ``("-", layer)`` when one
    was removed, with ``layer`` as :func:`encapsulation` gives it); ``outer``: changes of
    the outer headers when both sightings are encapsulated. All of the innermost frame.
    """

    def __init__(self, before, after):
        from .packets import inner

        self.before, self.after = before, after
        a, b = _fields(inner(before.frame)), _fields(inner(after.frame))
        self.mac_src = (a["mac_src"], b["mac_src"]) if a["mac_src"] != b["mac_src"] else None
        self.mac_dst = (a["mac_dst"], b["mac_dst"]) if a["mac_dst"] != b["mac_dst"] else None
        self.snat = (a["ip_src"], b["ip_src"]) if a["ip_src"] != b["ip_src"] else None
        self.dnat = (a["ip_dst"], b["ip_dst"]) if a["ip_dst"] != b["ip_dst"] else None
        self.ttl = (a["ttl"], b["ttl"]) if a["ttl"] is not None and b["ttl"] is not None else None
        la, lb = encapsulation(before.frame), encapsulation(after.frame)
        self.vxlan = None
        self.outer = []
        if len(lb) > len(la):
            self.vxlan = ("+", lb[len(lb) - len(la) - 1])
        elif len(la) > len(lb):
            self.vxlan = ("-", la[len(la) - len(lb) - 1])
        for x, y in zip(la[len(la) - min(len(la), len(lb)):], lb[len(lb) - min(len(la), len(lb)):]):
            for field, name in (("mac_src", "MAC src"), ("mac_dst", "MAC dst"), ("src", "src"),
                                ("dst", "dst"), ("ttl", "TTL"), ("vni", "vni")):
                if x[field] != y[field]:
                    self.outer.append(f"outer {name} {x[field]}>{y[field]}")

    @property
    def routed(self):
        """True when the TTL was decremented: a router (a namespace's IP stack) forwarded it."""
        return self.ttl is not None and self.ttl[1] < self.ttl[0]

    @property
    def bridged(self):
        """True when the frame went on unchanged (same MACs and TTL): bridged, or a wire."""
        return not (self.routed or self.mac_src or self.mac_dst or self.snat or self.dnat)

    @property
    def changes(self):
        """What changed, as short texts: ``["MAC src a>b", "SNAT x>y", "TTL 64>63", "+VXLAN vni 42 ..."]``."""
        return self.describe()

    def describe(self, macs=True):
        """:attr:`changes`; with ``macs=False`` new MACs are named, not spelled out
        (``"new MAC src and dst"``), for tables whose point is elsewhere."""
        out = []
        if self.vxlan:
            sign, layer = self.vxlan
            out.append(f"{sign}VXLAN {_vxlan_text(layer)}")
        out += self.outer
        if not macs and (self.mac_src or self.mac_dst):
            out.append("new MAC " + " and ".join(n for n, v in (("src", self.mac_src), ("dst", self.mac_dst)) if v))
        if macs and self.mac_src:
            out.append("MAC src {}>{}".format(*self.mac_src))
        if macs and self.mac_dst:
            out.append("MAC dst {}>{}".format(*self.mac_dst))
        if self.snat:
            out.append("SNAT {}>{}".format(*self.snat))
        if self.dnat:
            out.append("DNAT {}>{}".format(*self.dnat))
        if self.ttl and self.ttl[0] != self.ttl[1]:
            out.append("TTL {}>{}".format(*self.ttl))
        return out

    def __str__(self):
        return ", ".join(self.changes) or "unchanged"

    def __repr__(self):
        return f"<Hop {self.before.point} > {self.after.point}: {self}>"


# --- journeys ----------------------------------------------------------------------------------


class Journey:
    """One packet, seen at several points: ``packets`` in story order, and its :meth:`hops`.

    ``number`` counts journeys from 1 in the order they began; ``description`` is the
    innermost frame as first seen; ``protocol`` is ARP, ICMP, TCP, UDP, IP or other.
    """

    def __init__(self, number, key_, packets, parents):
        from .packets import describe, inner

        self.number, self.key, self.packets, self.parents = number, key_, packets, parents
        self.description = describe(inner(packets[0].frame))
        self.protocol = protocol(packets[0].frame)
        self._hops = None

    def hops(self):
        """The :class:`Hop` from each sighting's predecessor to it, in story order."""
        if self._hops is None:
            self._hops = [Hop(self.packets[p], self.packets[i]) for i, p in enumerate(self.parents) if p is not None]
        return self._hops

    @property
    def points(self):
        return [p.point for p in self.packets]

    @property
    def encapsulated(self):
        """True when some sighting carried it inside VXLAN."""
        return any(encapsulation(p.frame) for p in self.packets)

    def at(self, point, direction=None):
        """The sighting at ``point`` (and ``direction``), or None."""
        for p in self.packets:
            if p.point == point and direction in (None, p.direction):
                return p
        return None

    def hop(self, before, after):
        """The hop from point ``before`` to point ``after``; raises LookupError if there is none."""
        for hop in self.hops():
            if hop.before.point == before and hop.after.point == after:
                return hop
        raise LookupError(f"journey {self.number} ({self.description}) has no hop {before} > {after}; "
                          f"its hops: {', '.join(f'{h.before.point} > {h.after.point}' for h in self.hops())}")

    def __iter__(self):
        return iter(self.packets)

    def __len__(self):
        return len(self.packets)

    def matches(self, text):
        """True when ``text`` is in the description of any of its sightings."""
        return text in self.description or any(text in p.summary() for p in self.packets)

    def rows(self, t0, macs=True):
        """The rows of :meth:`Journeys.table` for this journey; ``t0``: the time of 0 ms."""
        into = {id(hop.after): hop for hop in self.hops()}
        rows = []
        for p in self.packets:
            hop = into.get(id(p))
            rows.append({
                "journey": self.number, "ms": f"{(p.time - t0) * 1000:.3f}", "point": p.point,
                "dir": p.direction, "from": hop.before.point if hop else "",
                "packet": p.summary(), "change": (", ".join(hop.describe(macs)) or "unchanged") if hop else "",
            })
        return rows

    def table(self, t0=None, times=True, macs=True):
        """One row per sighting (see :meth:`Journeys.table`)."""
        from .state import Table

        columns = COLUMNS if times else [c for c in COLUMNS if c != "ms"]
        return Table(f"journey {self.number}: {self.description}", columns,
                     self.rows(self.packets[0].time if t0 is None else t0, macs))

    def __repr__(self):
        return f"<Journey {self.number}: {self.description}: {' > '.join(self.points)}>"


COLUMNS = ["journey", "ms", "point", "dir", "from", "packet", "change"]


class Journeys(list):
    """The journeys of a capture, in the order they began (a list of :class:`Journey`)."""

    def __init__(self, items=(), t0=0.0):
        super().__init__(items)
        self.t0 = t0

    def table(self, title="packet journeys", times=True, macs=True):
        """One row per sighting: journey number, ms since the capture's first packet (unless
        ``times=False``, for output that repeats from run to run), point, direction, the point
        it came from, the packet, and what changed on that hop (``macs=False``: new MACs named,
        not spelled out, where the point is elsewhere)."""
        from .state import Table

        columns = COLUMNS if times else [c for c in COLUMNS if c != "ms"]
        return Table(title, columns, [row for journey in self for row in journey.rows(self.t0, macs)])

    def for_packet(self, text):
        """The journeys with ``text`` in a sighting's description (``"echo-request"``,
        ``"who-has 172.17.0.3"``, ``"10.168.0.2 > 10.168.0.3"``)."""
        return Journeys([j for j in self if j.matches(text)], self.t0)

    def one(self, text):
        """The single journey that :meth:`for_packet` finds; raises LookupError unless exactly one."""
        found = self.for_packet(text)
        if len(found) != 1:
            raise LookupError(f"{len(found)} journeys match {text!r}, expected 1; the journeys: "
                              + "; ".join(j.description for j in self))
        return found[0]

    def hops(self):
        """Every hop of every journey."""
        return [hop for journey in self for hop in journey.hops()]

    def __str__(self):
        return str(self.table())

    def __repr__(self):
        return f"<Journeys: {len(self)} packets, {sum(len(j) for j in self)} sightings>"

    def _repr_html_(self):
        return self.table()._repr_html_()


# --- building them -------------------------------------------------------------------------------


def _depth(packet):
    return len(encapsulation(packet.frame))


def _tie_partners(packets):
    """For each point: how many other points of its namespace received a packet at exactly
    the same time, at the same encapsulation depth (rule 4 of the module's docstring)."""
    partners = {}
    groups = {}
    for p in packets:
        if p.direction == "in":
            groups.setdefault((p.time, p.namespace, _depth(p)), []).append(p.point)
    for points in groups.values():
        for point in points:
            partners.setdefault(point, set()).update(q for q in points if q != point)
    return {point: len(others) for point, others in partners.items()}


def _story_key(p, partners, senders, point_rank):
    depth = _depth(p)
    return (
        p.time,
        0 if p.direction == "out" else 1,
        depth if p.direction == "out" else -depth,
        1 if p.pkttype == "host" else 0,
        1 if p.point in senders else 0,
        partners.get(p.point, 0),
        point_rank.get(p.point, len(point_rank)),
    )


def _parents(packets):
    """The predecessor of each sighting (an index, None for the first): see the module's docstring."""
    from .packets import inner

    parents = [None]
    gap = [False] * len(packets)  # found its predecessor by the last rule
    passed_on = set()  # indexes of sent packets already passed on (a sent packet goes to one place)
    inner_raw = [bytes(inner(p.frame)) for p in packets]
    depth = [_depth(p) for p in packets]
    for i in range(1, len(packets)):
        s = packets[i]
        earlier = range(i)
        same_ns = [j for j in earlier if packets[j].namespace == s.namespace]
        parent = None
        if s.direction == "in":
            pending = [j for j in earlier if packets[j].direction == "out"
                       and packets[j].namespace != s.namespace and j not in passed_on]
            if pending:
                parent = pending[-1]
            elif same_ns:
                parent = same_ns[-1]
        elif same_ns:
            level = [j for j in same_ns if depth[j] == depth[i]]
            if not level:  # encapsulated (or decapsulated) here
                parent = same_ns[-1]
            else:
                received = [j for j in level if packets[j].direction == "in"]
                same_in = [j for j in received if inner_raw[j] == inner_raw[i]]
                same_out = [j for j in level if packets[j].direction == "out" and inner_raw[j] == inner_raw[i]]
                if same_in:
                    parent = same_in[0]
                elif same_out:
                    parent = same_out[0]
                elif received:
                    parent = received[-1]
                else:
                    parent = level[-1]
        if parent is None:  # it came through points not captured
            latest = i - 1
            parent = parents[latest] if gap[latest] else latest
            gap[i] = True
        if packets[parent].direction == "out":
            passed_on.add(parent)
        parents.append(parent)
    return parents


def _repeats(seen, new):
    """True when ``new`` cannot be the packet already ``seen`` at the same point: seen in the
    same direction again, or sent back unchanged by the interface that received it."""
    if seen.point != new.point:
        return False
    return seen.direction == new.direction or seen.raw == new.raw


def journeys(capture):
    """Group a capture's packets into :class:`Journeys`: one per packet, in the order they began.

    Args:
        capture: a :class:`~nethelpers.capture.Capture` (or any list of Packets).

    >>> trips = cap.journeys()                     # doctest: +SKIP
    >>> trips.one("echo-request").hop("node1:docker0", "node1:eth0").snat  # doctest: +SKIP
    ('172.17.0.2', '10.168.0.2')
    """
    packets = sorted(capture, key=lambda p: p.time)
    t0 = packets[0].time if packets else 0.0
    points = list(getattr(capture, "points", []) or [])
    point_rank = {point: i for i, point in enumerate(points)}
    partners = _tie_partners(packets)

    groups = []  # [key, [packets]], in order of first sighting
    latest = {}  # key -> the group that takes the next sighting with that key
    for p in packets:
        k = key(p.frame)
        group = latest.get(k)
        if group is None or p.time - group[1][-1].time > GAP or any(_repeats(q, p) for q in group[1]):
            group = [k, []]
            groups.append(group)
            latest[k] = group
        group[1].append(p)

    senders = set()  # points where a journey begins with a sent packet
    for _, members in groups:
        first = min(members, key=lambda p: (p.time, p.direction != "out"))
        if first.direction == "out":
            senders.add(first.point)
    found = []
    for k, members in groups:
        members.sort(key=lambda p: _story_key(p, partners, senders, point_rank))
        found.append((members[0].time, len(found), k, members))
    found.sort(key=lambda x: (x[0], x[1]))
    return Journeys([Journey(n + 1, k, members, _parents(members)) for n, (_, _, k, members) in enumerate(found)], t0)


def story(journeys_):
    """Every sighting of every journey as ``(journey, index)``, merged in time order while
    keeping each journey's own order (for drawing: see :mod:`nethelpers.ladder`)."""
    streams = [[(j.packets[i].time, n, i, j) for i in range(len(j))] for n, j in enumerate(journeys_)]
    return [(j, i) for _, _, i, j in heapq.merge(*streams, key=lambda x: (x[0], x[1]))]
