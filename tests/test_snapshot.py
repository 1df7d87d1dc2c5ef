"""Kernel tables beside packets: what a ping, MASQUERADE and a forged ARP reply change."""

from pathlib import Path

import pytest

from nethelpers import Table, TopologyError
from nethelpers.packets import arp_reply, arp_request
from nethelpers.snapshot import Snapshot, diff, watch

LABS = Path(__file__).resolve().parent.parent / "labs"
PING = "ping -c 1 -W 2"
MAC = {"c1": "02:42:ac:11:00:02", "c2": "02:42:ac:11:00:03", "c3": "02:42:ac:11:00:04"}
# c3 says "172.17.0.3 is at my MAC" to c1: ARP spoofing
FORGED = dict(src_mac=MAC["c3"], src_ip="172.17.0.3", dst_mac=MAC["c1"], dst_ip="172.17.0.2")


def test_ping_adds_fdb_entries_and_neighbour_entries(one_node):
    lab = one_node
    with watch(lab) as w:
        assert lab.exec("c1", f"{PING} 172.17.0.3").ok
    bridged_to_iptables = lab.exec("node1", "cat /proc/sys/net/bridge/bridge-nf-call-iptables").stdout.strip() == "1"
    # On a Docker host whose bridge passes frames to the IPv4 hooks (br_netfilter), node1 tracks even
    # this bridged ping; that is conntrack's story (08b), not the tables' here.
    tracked = w.diff.where(table="conntrack").rows
    assert [(r["namespace"], r["src"], r["dst"]) for r in tracked] == \
        ([("node1", "172.17.0.2", "172.17.0.3")] if bridged_to_iptables else [])
    assert [r for r in w.diff.rows if r["table"] != "conntrack"] == [
        # the bridge learned each sender's MAC on the port it came in by
        {"namespace": "node1", "table": "fdb", "change": "+", "mac": MAC["c1"], "dev": lab.veth("c1")},
        {"namespace": "node1", "table": "fdb", "change": "+", "mac": MAC["c2"], "dev": lab.veth("c2")},
        # c1 asked and got a unicast reply: REACHABLE
        {"namespace": "c1", "table": "neighbours", "change": "+", "address": "172.17.0.3", "mac": MAC["c2"],
         "dev": "eth0", "state": "REACHABLE"},
        # c2 learned c1 from the request that asked for its own address (a STALE entry), then
        # sent its echo reply through that entry: DELAY, until it re-validates it about 5 s later
        {"namespace": "c2", "table": "neighbours", "change": "+", "address": "172.17.0.2", "mac": MAC["c1"],
         "dev": "eth0", "state": "DELAY"},
    ]
    assert w.diff.columns[:7] == ["namespace", "table", "change", "address", "mac", "dev", "state"]
    assert w.before["node1", "fdb"].where(kind="learned").rows == []
    assert w.after["c1", "neighbours"].one(address="172.17.0.3")["mac"] == MAC["c2"]
    # the same ping again learns nothing new; states that move with time do not count
    with watch(lab) as again:
        assert lab.exec("c1", f"{PING} 172.17.0.3").ok
    assert [r for r in again.diff.rows if r["table"] != "conntrack"] == []


def test_snapshot_reads_the_fdb_only_where_a_bridge_is(one_node):
    snap = Snapshot.take(one_node)
    assert sorted(ns for ns, table in snap.tables if table == "fdb") == ["lan", "node1"]
    assert all((ns, "neighbours") in snap.tables and (ns, "conntrack") in snap.tables for ns in one_node.namespaces)
    assert len(snap["node1", "conntrack"]) == 0  # nothing asked node1 to track connections
    only = Snapshot.take(one_node, "c1", what="neighbours")
    assert list(only.tables) == [("c1", "neighbours")]
    with pytest.raises(ValueError, match="unknown table 'routes'; choose among fdb, neighbours, conntrack"):
        Snapshot.take(one_node, what=("routes",))
    with pytest.raises(TopologyError, match="namespace 'c9' is not in lab 'one-node'"):
        Snapshot.take(one_node, ["c9"])


def send_to_c1(lab, frame, timeout=10):
    """Send ``frame`` out of c3:eth0, then an ARP probe (sender 0.0.0.0) for c1's address;
    return once c1 has answered the probe. Frames from one port reach c1 through one queue,
    in order: c1 has handled ``frame`` by then."""
    probe = arp_request(MAC["c3"], "0.0.0.0", "172.17.0.2")
    answer = lab.capture(["c3:eth0"], filter="arp[6:2] = 2 and arp[24:4] = 0", count=1, timeout=timeout)
    lab.send("c3:eth0", frame)
    lab.send("c3:eth0", probe)
    assert len(answer.join()) == 1, f"c1 did not answer an ARP probe within {timeout} s"


def test_masquerade_adds_one_conntrack_entry_on_the_node(two_nodes_file):
    lab = two_nodes_file
    with watch(lab) as w:
        assert lab.exec("c1", f"{PING} 10.168.0.3").ok
    assert w.diff.where(table="conntrack").rows == [
        # node2 answered node1's own address: MASQUERADE rewrote the source on the way out
        {"namespace": "node1", "table": "conntrack", "change": "+", "proto": "icmp", "src": "172.17.0.2",
         "dst": "10.168.0.3", "reply src": "10.168.0.3", "reply dst": "10.168.0.2"},
        # node2 is a Docker host too: its conntrack tracks the ping it answers, as node1's address sent it
        {"namespace": "node2", "table": "conntrack", "change": "+", "proto": "icmp", "src": "10.168.0.2",
         "dst": "10.168.0.3", "reply src": "10.168.0.3", "reply dst": "10.168.0.2"},
    ]
    # flushed, the entry shows as removed
    with watch(lab, ["node1"], what="conntrack") as flushed:
        lab.exec("node1", "conntrack -F", check=True)
    assert set(flushed.diff.column("change")) == {"-"}
    assert flushed.diff.one(proto="icmp")["reply dst"] == "10.168.0.2"


def test_forged_arp_reply_replaces_the_neighbour_entry_after_locktime(one_node):
    lab = one_node
    assert lab.exec("c1", f"{PING} 172.17.0.3").ok
    # The kernel takes an ARP reply for an entry it already has (arp_accept matters only for
    # creating entries), whatever the entry's state, REACHABLE included: but not within
    # `locktime` of the entry's last update ("if several different ARP replies follow
    # back-to-back, use the FIRST one", net/ipv4/arp.c). The default is 100 (1/100 s): 1 s.
    assert lab.sysctl("c1", "net.ipv4.neigh.eth0.locktime") == "100"
    lab.sysctl("c1", "net.ipv4.neigh.eth0.locktime", 0)  # past locktime at once: no waiting out 1 s
    with watch(lab) as w:
        send_to_c1(lab, arp_reply(**FORGED))
    assert w.before["c1", "neighbours"].one(address="172.17.0.3") == {
        "address": "172.17.0.3", "mac": MAC["c2"], "dev": "eth0", "state": "REACHABLE"}
    assert w.after["c1", "neighbours"].one(address="172.17.0.3") == {
        "address": "172.17.0.3", "mac": MAC["c3"], "dev": "eth0", "state": "REACHABLE"}  # a unicast reply
    assert w.diff.rows == [
        {"namespace": "node1", "table": "fdb", "change": "+", "mac": MAC["c3"], "dev": lab.veth("c3")},
        {"namespace": "c1", "table": "neighbours", "change": "~", "address": "172.17.0.3", "mac": MAC["c3"],
         "dev": "eth0", "state": "REACHABLE", "was": f"mac {MAC['c2']}"},
    ]
    # and c1's next ping to 172.17.0.3 goes to c3, which drops it (not its address)
    seen = lab.sniff(["c3:eth0"], filter="icmp", while_running=lambda: lab.exec("c1", "ping -c 1 -W 1 172.17.0.3"))
    assert [p.summary().split(" id ")[0] for p in seen] == ["ICMP echo-request 172.17.0.2 > 172.17.0.3"]


def test_forged_arp_reply_within_locktime_is_ignored(one_node):
    lab = one_node
    # 10 s of locktime, so that the forged reply surely comes within it even on a slow machine
    lab.sysctl("c1", "net.ipv4.neigh.eth0.locktime", 1000)
    assert lab.exec("c1", f"{PING} 172.17.0.3").ok
    with watch(lab) as w:
        send_to_c1(lab, arp_reply(**FORGED))
    # the bridge learned c3's MAC from the frame's source; c1 kept the first answer
    assert w.diff.rows == [
        {"namespace": "node1", "table": "fdb", "change": "+", "mac": MAC["c3"], "dev": lab.veth("c3")},
    ]
    assert lab.neighbours("c1").one(address="172.17.0.3")["mac"] == MAC["c2"]


def _snapshot(tables):
    return Snapshot(tables, sorted({ns for ns, _ in tables}), ("fdb", "neighbours", "conntrack"))


def test_diff_of_hand_made_snapshots():
    """No kernel: moved FDB entries, neighbour states (only when asked), removals."""
    fdb = ["mac", "dev", "master", "dst", "vlan", "kind", "self"]
    neigh = ["address", "mac", "dev", "state"]
    before = _snapshot({
        ("n", "fdb"): Table("fdb", fdb, [
            {"mac": "02:00:00:00:00:01", "dev": "vethA", "master": "br0", "kind": "learned", "self": False},
            {"mac": "02:00:00:00:00:02", "dev": "vethB", "master": "br0", "kind": "learned", "self": False},
        ]),
        ("c", "neighbours"): Table("n", neigh, [{"address": "10.0.0.1", "mac": "02:00:00:00:00:01", "dev": "eth0",
                                                 "state": "REACHABLE"}]),
    })
    after = _snapshot({
        ("n", "fdb"): Table("fdb", fdb, [
            {"mac": "02:00:00:00:00:01", "dev": "vethC", "master": "br0", "kind": "learned", "self": False},
            {"mac": "02:00:00:00:00:03", "dev": "vxlan0", "dst": "10.168.0.3", "kind": "permanent", "self": True},
        ]),
        ("c", "neighbours"): Table("n", neigh, [{"address": "10.0.0.1", "mac": "02:00:00:00:00:01", "dev": "eth0",
                                                 "state": "STALE"}]),
    })
    assert diff(before, after).rows == [
        {"namespace": "n", "table": "fdb", "change": "~", "mac": "02:00:00:00:00:01", "dev": "vethC",
         "was": "dev vethA"},
        {"namespace": "n", "table": "fdb", "change": "-", "mac": "02:00:00:00:00:02", "dev": "vethB"},
        {"namespace": "n", "table": "fdb", "change": "+", "mac": "02:00:00:00:00:03", "dev": "vxlan0",
         "dst": "10.168.0.3"},
    ]
    states = before.diff(after, states=True)
    assert states.where(table="neighbours").rows == [
        {"namespace": "c", "table": "neighbours", "change": "~", "address": "10.0.0.1", "mac": "02:00:00:00:00:01",
         "dev": "eth0", "state": "STALE", "was": "state REACHABLE"},
    ]
    assert "was" in str(states) and "<table>" in states._repr_html_()
