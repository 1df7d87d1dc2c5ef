"""Packet journeys on the real kernel: one ping followed across every point of three labs."""

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nethelpers import Lab
from nethelpers.capture import Capture, Packet
from nethelpers.journey import encapsulation, journeys, key
from nethelpers.packets import icmp_echo

LABS = Path(__file__).resolve().parent.parent / "labs"
PING = "ping -c 1 -W 2"

ARP_REQUEST = "ARP who-has 172.17.0.3 tell 172.17.0.2"
ARP_REPLY = "ARP reply 172.17.0.3 is-at 02:42:ac:11:00:03"
ECHO_REQUEST = "ICMP echo-request 172.17.0.2 > 172.17.0.3 seq 1 ttl 64"
ECHO_REPLY = "ICMP echo-reply 172.17.0.3 > 172.17.0.2 seq 1 ttl 64"


def text(packet_or_journey):
    """A description without the ICMP id, which ping chooses."""
    described = packet_or_journey.description if hasattr(packet_or_journey, "hops") else packet_or_journey.summary()
    return re.sub(r" id \d+", "", described)


def ping_capture(lab, points, target, filter="arp or icmp"):
    """Capture at ``points`` while c1 pings ``target`` once; stop right after the ping,
    before the neighbour re-validation (a unicast ARP about 5 s later)."""
    cap = lab.capture(points, filter=filter)
    try:
        result = lab.exec("c1", f"{PING} {target}")
    finally:
        capture = cap.stop()
    assert result.ok, result
    return capture


@pytest.fixture
def overlay():
    with Lab(LABS / "overlay.yml") as lab:
        yield lab


def bridge_points(lab):
    """docker0 first: on equal timestamps the capture's order would put it before the
    port the frame entered by; the journey must not."""
    veth = {c: "node1:" + lab.resolved.containers[c].veth for c in ("c1", "c2", "c3")}
    eth0 = {c: f"{c}:eth0" for c in ("c1", "c2", "c3")}
    return ["node1:docker0", *eth0.values(), *veth.values()], veth, eth0


def test_one_ping_on_a_bridge_is_seen_exactly_where_the_bridge_sends_it(one_node):
    points, veth, eth0 = bridge_points(one_node)
    capture = ping_capture(one_node, points, "172.17.0.3")
    seen = {point: [(p.direction, text(p)) for p in capture.at(point)] for point in points}
    both_ways = [ARP_REQUEST, ARP_REPLY, ECHO_REQUEST, ECHO_REPLY]
    assert seen == {
        eth0["c1"]: list(zip(["out", "in", "out", "in"], both_ways)),
        veth["c1"]: list(zip(["in", "out", "in", "out"], both_ways)),
        "node1:docker0": list(zip(["in"] * 4, both_ways)),  # promiscuous: all it forwards
        veth["c2"]: list(zip(["out", "in", "out", "in"], both_ways)),
        eth0["c2"]: list(zip(["in", "out", "in", "out"], both_ways)),
        veth["c3"]: [("out", ARP_REQUEST)],  # the flooded broadcast, nothing unicast
        eth0["c3"]: [("in", ARP_REQUEST)],
    }
    assert capture.drops == {point: 0 for point in points}


def test_bridged_journeys_keep_ttl_and_macs_and_fan_out_the_flood(one_node):
    points, veth, eth0 = bridge_points(one_node)
    trips = ping_capture(one_node, points, "172.17.0.3").journeys()
    assert [text(j) for j in trips] == [ARP_REQUEST, ARP_REPLY, ECHO_REQUEST, ECHO_REPLY]

    flood = trips.one("who-has")
    assert flood.points[:3] == [eth0["c1"], veth["c1"], "node1:docker0"]  # the port before its bridge
    assert flood.packets[1].time == flood.packets[2].time  # one receive, two sockets: the same stamp
    assert sorted((h.before.point, h.after.point) for h in flood.hops()) == sorted([
        (eth0["c1"], veth["c1"]),
        (veth["c1"], "node1:docker0"), (veth["c1"], veth["c2"]), (veth["c1"], veth["c3"]),  # the flood
        (veth["c2"], eth0["c2"]), (veth["c3"], eth0["c3"]),
    ])
    request = trips.one("echo-request")
    assert request.points == [eth0["c1"], veth["c1"], "node1:docker0", veth["c2"], eth0["c2"]]
    assert [p.direction for p in request] == ["out", "in", "in", "out", "in"]
    assert [(h.before.point, h.after.point) for h in request.hops()] == [
        (eth0["c1"], veth["c1"]), (veth["c1"], "node1:docker0"), (veth["c1"], veth["c2"]), (veth["c2"], eth0["c2"]),
    ]
    reply = trips.one("echo-reply")
    assert reply.points == [eth0["c2"], veth["c2"], "node1:docker0", veth["c1"], eth0["c1"]]

    hops = trips.hops()
    assert len(hops) == 6 + 4 + 4 + 4
    for hop in hops:
        assert (hop.mac_src, hop.mac_dst, hop.snat, hop.dnat, hop.vxlan) == (None,) * 5, hop
        assert hop.bridged and not hop.routed and str(hop) == "unchanged"
    assert {h.ttl for h in request.hops() + reply.hops()} == {(64, 64)}  # bridged, not routed

    table = trips.table()
    assert table.columns == ["journey", "ms", "point", "dir", "from", "packet", "change"]
    assert len(table) == 22 and table.column("journey") == [1] * 7 + [2] * 5 + [3] * 5 + [4] * 5
    assert table[0]["ms"] == "0.000" and table[0]["from"] == ""
    row = table.one(journey=3, point=eth0["c2"])
    assert (row["dir"], row["from"], row["change"]) == ("in", veth["c2"], "unchanged")
    ms = [float(m) for m in table.column("ms")]
    assert ms == sorted(ms)  # one ping: each packet's journey ends before the next begins
    assert len(trips.for_packet("172.17.0.3")) == 4 and not trips.for_packet("10.168.0.3")


def test_masquerade_shows_as_snat_then_dnat_back(two_nodes_file):
    lab = two_nodes_file
    points = ["c1:eth0", "node1:docker0", "node1:eth0", "node2:eth0"]
    trips = ping_capture(lab, points, "10.168.0.3").journeys()
    mac = {
        "c1": lab.links("c1").one(name="eth0")["mac"],
        "docker0": lab.links("node1").one(name="docker0")["mac"],
        "node1": lab.links("node1").one(name="eth0")["mac"],
        "node2": lab.links("node2").one(name="eth0")["mac"],
    }

    request = trips.one("echo-request")  # one journey though its addresses change
    assert request.points == points
    assert [p.direction for p in request] == ["out", "in", "out", "in"]
    snat = request.hop("node1:docker0", "node1:eth0")
    assert snat.snat == ("172.17.0.2", "10.168.0.2") and snat.dnat is None
    assert snat.ttl == (64, 63) and snat.routed and not snat.bridged
    assert snat.mac_src == (mac["c1"], mac["node1"]) and snat.mac_dst == (mac["docker0"], mac["node2"])
    assert str(snat) == (f"MAC src {mac['c1']}>{mac['node1']}, MAC dst {mac['docker0']}>{mac['node2']}, "
                         "SNAT 172.17.0.2>10.168.0.2, TTL 64>63")
    assert str(request.hop("c1:eth0", "node1:docker0")) == "unchanged"
    assert str(request.hop("node1:eth0", "node2:eth0")) == "unchanged"

    reply = trips.one("echo-reply")
    assert reply.points == ["node2:eth0", "node1:eth0", "node1:docker0", "c1:eth0"]
    back = reply.hop("node1:eth0", "node1:docker0")
    assert back.dnat == ("10.168.0.2", "172.17.0.2") and back.snat is None
    assert back.ttl == (64, 63) and back.mac_dst == (mac["node1"], mac["c1"])
    assert reply.at("c1:eth0").frame["IP"].ttl == 63

    row = trips.table().one(journey=request.number, point="node1:eth0")
    assert "SNAT 172.17.0.2>10.168.0.2" in row["change"] and "TTL 64>63" in row["change"]
    short = trips.table(macs=False).one(journey=request.number, point="node1:eth0")
    assert short["change"] == "new MAC src and dst, SNAT 172.17.0.2>10.168.0.2, TTL 64>63"
    assert trips.table(macs=False).one(journey=request.number, point="node2:eth0")["change"] == "unchanged"
    # node1 had to resolve node2 first: the echo request waited for that ARP exchange.
    arp = trips.one("who-has 10.168.0.3")
    assert request.at("node1:docker0").time < arp.packets[0].time < request.at("node1:eth0").time


def test_overlay_links_the_plain_frame_to_its_vxlan_packet(overlay):
    points = ["c1:eth0", "node1:eth0", "c2:eth0"]
    trips = ping_capture(overlay, points, "172.17.0.3", filter="arp or icmp or udp port 4789").journeys()
    for what in ("who-has 172.17.0.3", "is-at 02:42:ac:11:00:03", "echo-request", "echo-reply"):
        assert len(trips.for_packet(what)) == 1, trips.table()

    request = trips.one("echo-request")
    assert request.points == points and [p.direction for p in request] == ["out", "out", "in"]
    (layer,) = encapsulation(request.at("node1:eth0").frame)
    assert (layer["vni"], layer["dport"], layer["src"], layer["dst"]) == (42, 4789, "10.168.0.2", "10.168.0.3")
    assert request.encapsulated and not encapsulation(request.at("c2:eth0").frame)

    added = request.hop("c1:eth0", "node1:eth0")
    assert added.vxlan == ("+", layer)
    assert str(added) == "+VXLAN vni 42 10.168.0.2>10.168.0.3 udp 4789"  # the inner frame is untouched
    removed = request.hop("node1:eth0", "c2:eth0")
    assert removed.vxlan[0] == "-" and removed.vxlan[1]["vni"] == 42
    assert str(removed) == "-VXLAN vni 42 10.168.0.2>10.168.0.3 udp 4789"
    assert {h.ttl for h in request.hops()} == {(64, 64)}  # the overlay is one bridged segment

    reply = trips.one("echo-reply")
    assert reply.points == ["c2:eth0", "node1:eth0", "c1:eth0"]
    assert [h.vxlan[0] for h in reply.hops()] == ["+", "-"]
    assert reply.hops()[0].vxlan[1]["src"] == "10.168.0.3"
    assert trips.one("who-has 172.17.0.3").points == points  # flooded over the tunnel too


# Rules that need no lab: frames made by hand.


def frame(src_ip="172.17.0.2", dst_ip="172.17.0.3", seq=1, ttl=64, payload=b"nethelpers"):
    return icmp_echo("02:42:ac:11:00:02", "02:42:ac:11:00:03", src_ip, dst_ip, seq=seq, ttl=ttl, payload=payload)


def sighting(point, time_, direction, f, pkttype=None):
    return Packet(point, time_, direction, pkttype, bytes(f))


def test_key_ignores_what_nat_rewrites_but_not_the_packet():
    assert key(frame()) == key(frame(src_ip="10.168.0.2", ttl=63))  # MASQUERADE keeps id, seq, payload
    assert key(frame()) != key(frame(seq=2))
    assert key(frame()) != key(frame(payload=b"other"))


def tcp_frame(src="172.17.0.2", sport=80, dst="10.168.0.2", dport=40000, flags="SA", seq=1000, ack=2001, ttl=64):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    return Ether(src="02:42:ac:11:00:02", dst="02:42:ac:11:00:01") / \
        IP(src=src, dst=dst, id=0, flags="DF", ttl=ttl) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack)


@given(src=st.ip_addresses(v=4).map(str), sport=st.integers(1, 65535), ttl=st.integers(1, 64))
@settings(max_examples=50, deadline=None)
def test_a_tcp_segment_keeps_its_key_through_nat(src, sport, ttl):
    assert key(tcp_frame()) == key(tcp_frame(src=src, sport=sport, ttl=ttl))


@given(flags=st.sampled_from(["S", "SA", "A", "R", "RA", "FA", "PA"]), seq=st.integers(0, 2**32 - 1),
       ack=st.integers(0, 2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_empty_segments_of_one_flow_with_id_0_are_told_apart(flags, seq, ack):
    """A SYN-ACK and a reset both carry IP id 0 and no payload: they are two packets, not one rewritten."""
    same = (flags, seq, ack) == ("SA", 1000, 2001)
    assert (key(tcp_frame()) == key(tcp_frame(src="172.17.0.1", flags=flags, seq=seq, ack=ack))) == same


def test_same_content_at_the_same_point_again_is_another_packet():
    packets = [
        sighting("c1:eth0", 1.0, "out", frame()), sighting("node1:docker0", 1.1, "in", frame()),
        sighting("c1:eth0", 1.2, "out", frame()), sighting("node1:docker0", 1.3, "in", frame()),
    ]
    trips = journeys(Capture(packets))
    assert [j.points for j in trips] == [["c1:eth0", "node1:docker0"]] * 2
    assert trips.t0 == 1.0 and trips.table()[2]["ms"] == "200.000"


def test_the_same_frame_sent_by_two_hosts_is_two_packets():
    """Seen on the overlay: both docker0 are 172.17.0.1 and send the very same IGMP report."""
    f = frame(src_ip="172.17.0.1", dst_ip="224.0.0.22")
    packets = [
        sighting("node1:eth0", 1.0, "out", f), sighting("node2:eth0", 1.0001, "in", f),
        sighting("node2:eth0", 1.2, "out", f), sighting("node1:eth0", 1.2001, "in", f),
    ]
    trips = journeys(Capture(packets))
    assert [j.points for j in trips] == [["node1:eth0", "node2:eth0"], ["node2:eth0", "node1:eth0"]]


def test_equal_timestamps_tell_the_story_outer_first_and_port_before_bridge():
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN

    from nethelpers.packets import bind_layers

    bind_layers()
    inner = frame()
    outer = Ether() / IP(src="10.168.0.3", dst="10.168.0.2") / UDP(sport=5000, dport=4789) / VXLAN(vni=42) / inner
    t = 2.0
    # listed backwards on purpose: bridge first, then the VXLAN port, then the underlay
    packets = [
        sighting("node1:docker0", t, "in", inner), sighting("node1:vxlan0", t, "in", inner),
        sighting("node1:eth0", t, "in", outer, "host"), sighting("node2:eth0", t - 0.001, "out", outer),
        sighting("node1:veth1", t + 0.001, "out", inner),
    ]
    other_port = [sighting("node1:docker0", 3.0, "in", frame(seq=2)), sighting("node1:veth1", 3.0, "in", frame(seq=2))]
    trip = journeys(Capture(packets + other_port, ["node1:docker0", "node1:vxlan0", "node1:eth0", "node2:eth0",
                                                   "node1:veth1"]))[0]
    assert trip.points == ["node2:eth0", "node1:eth0", "node1:vxlan0", "node1:docker0", "node1:veth1"]
    assert [(h.before.point, h.after.point) for h in trip.hops()] == [
        ("node2:eth0", "node1:eth0"), ("node1:eth0", "node1:vxlan0"),  # decapsulated
        ("node1:vxlan0", "node1:docker0"), ("node1:vxlan0", "node1:veth1"),  # up to the bridge, out by a port
    ]
    assert [h.vxlan and h.vxlan[0] for h in trip.hops()] == [None, "-", None, None]
