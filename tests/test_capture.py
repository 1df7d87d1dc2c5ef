"""Capture on the real kernel: every point at once, nothing missed, exports that tshark reads."""

import shutil
import subprocess
from pathlib import Path

import pytest

from nethelpers import Lab, Topology, TopologyError
from nethelpers.errors import EngineError
from nethelpers.capture import Capture, sniff
from nethelpers.packets import icmp_echo, udp_datagram

LABS = Path(__file__).resolve().parent.parent / "labs"


@pytest.fixture
def path_points(one_node):
    """c1's path to c2 through node1: five points."""
    veth = {c: one_node.resolved.containers[c].veth for c in ("c1", "c2", "c3")}
    return ["c1:eth0", f"node1:{veth['c1']}", "node1:docker0", f"node1:{veth['c2']}", "c2:eth0"]


def test_the_first_packet_is_not_missed(one_node):
    capture = one_node.capture(["c1:eth0"])  # ready when this returns
    one_node.exec("c1", "ping -c 1 -W 2 172.17.0.3", check=True)
    packets = capture.stop()
    assert packets[0].summary() == "ARP who-has 172.17.0.3 tell 172.17.0.2"
    assert packets[0].direction == "out"


def test_filter_is_applied_in_the_kernel(one_node, path_points):
    with one_node.capture(path_points, filter="icmp") as capture:
        one_node.exec("c1", "ping -c 2 -i 0.2 -W 2 172.17.0.3", check=True)
    packets = capture.results()
    assert packets and all(p.summary().startswith("ICMP") for p in packets)
    assert packets.count_at() == {point: 4 for point in path_points}  # 2 requests + 2 replies everywhere


def test_a_burst_of_10000_packets_across_5_points_loses_none(one_node, path_points):
    capture = one_node.capture(path_points, filter="icmp")
    result = one_node.exec("c1", "ping -f -c 5000 -W 2 172.17.0.3", timeout=120, check=True)
    assert "5000 received" in result.stdout
    packets = capture.stop(settle=0.5)
    assert packets.drops == {point: 0 for point in path_points}
    assert packets.count_at() == {point: 10_000 for point in path_points}


def test_blocking_sniff_with_count_timeout_and_stop_filter(one_node):
    def ping():
        one_node.exec("c1", "ping -c 3 -i 0.2 172.17.0.3", check=True)

    packets = one_node.sniff(["c2:eth0"], filter="icmp[icmptype] == icmp-echo", while_running=ping)
    assert [p.frame["ICMP"].seq for p in packets] == [1, 2, 3]
    assert len(one_node.sniff(["c2:eth0"], filter="icmp", timeout=0.3)) == 0
    capture = one_node.capture(["c2:eth0"], filter="icmp", count=2)
    one_node.exec("c1", "ping -c 3 -i 0.2 172.17.0.3")
    assert len(capture.join(timeout=5)) == 2
    capture = one_node.capture(["c2:eth0"], stop_filter=lambda p: "echo-reply" in p.summary())
    one_node.exec("c1", "ping -c 2 -i 0.2 172.17.0.3")
    packets = capture.join(timeout=5)
    assert "echo-reply" in packets[-1].summary() and not capture.running
    with pytest.raises(ValueError, match="would wait for ever"):
        one_node.sniff(["c2:eth0"])


def test_count_keeps_that_many_when_more_arrive_at_once(one_node):
    """count=N stops after N packets in all, even when others were read with the Nth: one ping
    crosses three points within microseconds (c1's eth0, docker0, c2's eth0), six frames at
    least, and a count of 1 and of 2 keep the earliest, in time order."""
    points = ["c1:eth0", "node1:docker0", "c2:eth0"]
    for count in (1, 2):
        capture = one_node.capture(points, filter="icmp", count=count)
        one_node.exec("c1", "ping -c 1 -W 2 172.17.0.3", check=True)
        packets = capture.join(timeout=5)
        assert len(packets) == count, packets
        assert (packets[0].point, packets[0].direction) == ("c1:eth0", "out")
        assert [p.time for p in packets] == sorted(p.time for p in packets)


def test_promiscuous_mode_ends_with_the_capture(one_node):
    def promiscuity():
        return one_node.exec("node1", "ip -d -j link show docker0").stdout.split('"promiscuity":')[1].split(",")[0]

    capture = one_node.capture(["node1:docker0"])
    assert promiscuity() == "1"
    capture.stop()
    assert promiscuity() == "0"


def test_hand_made_frames(one_node):
    frame = icmp_echo("02:42:ac:11:00:02", "02:42:ac:11:00:03", "172.17.0.2", "172.17.0.3", id=0x77, seq=9)
    one_node.exec("c2", "ping -c 1 172.17.0.2", check=True)  # so that c2 knows c1's MAC
    with one_node.capture(["c1:eth0"], filter="icmp and icmp[icmptype] == icmp-echoreply") as capture:
        one_node.send("c1:eth0", frame)
    replies = capture.results()
    assert [(p.frame["ICMP"].id, p.frame["ICMP"].seq) for p in replies] == [(0x77, 9)]
    datagram = udp_datagram("02:42:ac:11:00:02", "02:42:ac:11:00:03", "172.17.0.2", "172.17.0.3", 5000, 6000)
    with one_node.capture(["c2:eth0"], filter="udp port 6000") as capture:
        one_node.send("c1:eth0", datagram, count=3)
    assert len(capture.results()) == 3


def test_bad_points_and_filters_are_named(one_node):
    with pytest.raises(TopologyError, match="'c9'"):
        one_node.capture(["c9:eth0"])
    with pytest.raises(TopologyError, match="namespace:interface"):
        one_node.capture(["c1-eth0"])
    with pytest.raises(ValueError, match="'icmp and and'"):
        one_node.capture(["c1:eth0"], filter="icmp and and")
    with pytest.raises(EngineError, match="c1:eth9: No such device"):
        one_node.capture(["c1:eth9"])
    assert one_node.exec("c1", "true").ok  # the engine serves on


def test_export_replay_and_tshark_agree(one_node, path_points, tmp_path):
    with one_node.capture(path_points, filter="arp or icmp") as capture:
        one_node.exec("c1", "ping -c 1 -W 2 172.17.0.3", check=True)
    packets = capture.results()
    merged = packets.to_pcap(str(tmp_path / "ping.pcapng"))
    replayed = Capture.from_pcap(merged)
    ours = [(p.point, p.direction, p.raw) for p in packets]
    assert [(p.point, p.direction, p.raw) for p in replayed] == ours
    assert all(abs(a.time - b.time) < 1e-6 for a, b in zip(replayed, packets))  # nanoseconds in the file
    per_point = packets.to_pcap(str(tmp_path / "points"), merged=False)
    assert len(per_point) == 5
    assert [p.raw for p in Capture.from_pcap(per_point[0])] == [p.raw for p in packets.at(path_points[0])]
    offline = sniff(offline=merged, filter="icmp", points=["c2:eth0"])
    assert [p.summary() for p in offline] == [p.summary() for p in packets.at("c2:eth0") if "ICMP" in p.summary()]

    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed (./course installs it)")
    fields = subprocess.run(
        [tshark, "-r", merged, "-T", "fields", "-e", "frame.interface_name", "-e", "frame.packet_flags_direction",
         "-e", "frame.len", "-e", "eth.src", "-e", "eth.dst"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    from scapy.layers.l2 import Ether

    expected = [
        f"{p.point}\t0x0000000{1 if p.direction == 'in' else 2}\t{len(p.raw)}\t{Ether(p.raw).src}\t{Ether(p.raw).dst}"
        for p in packets
    ]
    assert fields == expected


def test_vxlan_decoded_on_the_underlay():
    with Lab(LABS / "overlay.yml") as lab:
        with lab.capture(["node1:eth0"], filter="udp port 4789") as capture:
            lab.exec("c1", "ping -c 1 -W 2 172.17.0.3", check=True)
        packets = capture.results()
        request = next(p for p in packets if "echo-request" in p.summary())
        assert request.summary() == (
            "VXLAN vni 42 10.168.0.2 > 10.168.0.3 [ICMP echo-request 172.17.0.2 > 172.17.0.3 "
            f"id {request.frame['VXLAN'].payload['ICMP'].id} seq 1 ttl 64]"
        )
        assert len(request.raw) - len(bytes(request.frame["VXLAN"].payload)) == 50  # the overhead


def test_kernel_default_vxlan_port_is_decoded_too():
    topo = Topology("vx8472")
    for n in ("node1", "node2"):
        topo.add_node(n, quiet_ipv6=True)  # no router solicitation of docker0's in the tunnel: the ping's packets only
    topo.add_container("c1", node="node1")
    topo.add_container("c2", node="node2", address="172.17.0.3")
    for n, peer in (("node1", "10.168.0.3"), ("node2", "10.168.0.2")):
        topo.add_vxlan(n, "vxlan0", 7, dstport=None, dev="eth0", master="docker0", learning=False)
        topo.add_fdb(n, "vxlan0", "00:00:00:00:00:00", peer)
    with Lab(topo) as lab:
        assert lab.exec("node1", "ip -d link show vxlan0").stdout.count("dstport 8472") == 1
        with lab.capture(["node1:eth0"], filter="udp port 8472") as capture:
            lab.exec("c1", "ping -c 1 -W 2 172.17.0.3", check=True)
        assert [p.summary().split(" [")[0] for p in capture.results()] == ["VXLAN vni 7 10.168.0.2 > 10.168.0.3",
                                                                          "VXLAN vni 7 10.168.0.3 > 10.168.0.2"] * 2
