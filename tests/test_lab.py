"""A lab on the real kernel: build, commands, state, rebuild."""

import asyncio
import json
import subprocess
import sys

import pytest

from nethelpers import LAB_PYTHON, CommandError, Lab, Topology
from nethelpers.sandbox import sandbox_prefix

PING = "ping -c 1 -W 2"


def test_c1_pings_c2_on_one_node(one_node):
    result = one_node.exec("c1", f"{PING} 172.17.0.3")
    assert result.ok, result
    assert "1 received" in result.stdout
    assert "ttl=64" in result.stdout  # bridged, not routed: no hop took a TTL


def test_container_has_docker_defaults(one_node):
    links = one_node.links("c1")
    eth0 = links.one(name="eth0")
    assert eth0["mac"] == "02:42:ac:11:00:02"
    assert eth0["kind"] == "veth"
    assert one_node.addresses("c1").one(dev="eth0")["address"] == "172.17.0.2/16"
    assert one_node.routes("c1").one(to="default")["via"] == "172.17.0.1"
    assert one_node.sysctl("c1", "net.ipv6.conf.all.disable_ipv6") == "1"
    docker0 = one_node.links("node1").one(name="docker0")
    assert (docker0["kind"], docker0["mtu"]) == ("bridge", 1500)
    assert one_node.addresses("node1").one(dev="docker0")["address"] == "172.17.0.1/16"
    ports = one_node.bridge_ports("node1")
    assert sorted(ports.column("port")) == sorted(one_node.resolved.containers[c].veth for c in ("c1", "c2", "c3"))
    assert all(p.startswith("veth") and len(p) == 11 for p in ports.column("port"))


def test_docker_node_reports_link_local_groups_yet_sent_none_to_its_ports(one_node):
    """Docker's igmp_link_local_mcast_reports (1) in node and containers, docker0 a member of
    224.0.0.106 (all snoopers), and no IGMP report sent: the node turned reports on after the
    join, so none was scheduled (had it been on before, two would have gone out as docker0 came
    up, the second up to 1 s later, into whichever ports were there by then)."""
    for ns in ("node1", "c1"):
        assert one_node.sysctl(ns, "net.ipv4.igmp_link_local_mcast_reports") == "1", ns
    igmp = one_node.exec("node1", "cat /proc/net/igmp", check=True).stdout
    groups, device = {}, None
    for line in igmp.splitlines()[1:]:  # a device's line, then its groups' lines, each indented
        if line.startswith("\t"):
            groups[device].append(line.split()[0])
        else:
            device = line.split()[1]
            groups[device] = []
    assert "6A0000E0" in groups["docker0"], igmp
    lines = one_node.exec("node1", "cat /proc/net/netstat", check=True).stdout.splitlines()
    ipext = next(dict(zip(names.split(), values.split())) for names, values in zip(lines[::2], lines[1::2])
                 if names.startswith("IpExt:"))
    assert ipext["OutMcastPkts"] == "0", ipext


def test_bridge_learns_macs_and_sender_learns_neighbour(one_node):
    assert one_node.exec("c1", f"{PING} 172.17.0.3").ok
    learned = one_node.fdb("node1").where(kind="learned")
    veth = {c: one_node.resolved.containers[c].veth for c in ("c1", "c2")}
    assert learned.one(mac="02:42:ac:11:00:02")["dev"] == veth["c1"]
    assert learned.one(mac="02:42:ac:11:00:03")["dev"] == veth["c2"]
    assert one_node.neighbours("c1").one(address="172.17.0.3")["mac"] == "02:42:ac:11:00:03"


def test_container_reaches_other_node_only_with_forwarding_and_masquerade(two_nodes):
    lab = two_nodes
    assert lab.addresses("node2").one(dev="eth0")["address"] == "10.168.0.3/24"
    assert not lab.exec("c1", f"{PING} 10.168.0.3").ok  # ip_forward is 0 on node1
    lab.sysctl("node1", "net.ipv4.ip_forward", 1)
    assert not lab.exec("c1", f"{PING} 10.168.0.3").ok  # node2 has no route back to 172.17/16
    masquerade = """
        table ip nat {
            chain POSTROUTING {
                type nat hook postrouting priority srcnat;
                ip saddr 172.17.0.0/16 oifname != "docker0" counter masquerade
            }
        }"""
    lab.exec("node1", "nft -f -", input=masquerade, check=True)
    lab.exec("node1", "conntrack -F")
    assert lab.exec("c1", f"{PING} 10.168.0.3").ok
    entry = lab.conntrack("node1").one(proto="icmp", src="172.17.0.2", dst="10.168.0.3")
    assert entry["reply dst"] == "10.168.0.2"  # node2 answered node1's address: MASQUERADE
    rule = lab.ruleset("node1").one(chain="POSTROUTING")
    assert rule["packets"] >= 1 and "masquerade" in rule["rule"]


def test_exec_reports_status_and_output(one_node):
    result = one_node.exec("c1", ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    with pytest.raises(CommandError, match=r"c1: `sh -c 'exit 4'` exited with status 4"):
        one_node.exec("c1", "sh -c 'exit 4'", check=True)
    assert one_node.exec("c2", "cat", input="to stdin").stdout == "to stdin"
    with pytest.raises(TimeoutError, match="did not finish in 0.5 s"):
        one_node.exec("c1", "sleep 10", timeout=0.5)
    assert one_node.exec("c1", "true").ok  # the engine serves on after a timeout


def test_background_server_and_client(one_node):
    server = one_node.spawn("c1", [LAB_PYTHON, "-m", "http.server", "8080", "--bind", "172.17.0.2"])
    fetch = ("import time, urllib.request\nfor _ in range(50):\n try:\n"
             "  print(urllib.request.urlopen('http://172.17.0.2:8080/', timeout=2).status); break\n"
             " except OSError: time.sleep(0.1)")
    assert one_node.exec("c2", [LAB_PYTHON, "-c", fetch]).stdout.strip() == "200"
    assert server.poll() is None
    log = server.stop()
    assert '"GET / HTTP/1.1" 200' in log and "172.17.0.3" in log
    assert server.returncode is not None


def test_each_namespace_is_its_own_network(one_node):
    """The lab's PID namespace: the lab sees its own processes, not the host's nor the engine."""
    assert one_node.exec("c1", "cat /proc/1/cmdline").stdout == "nethelpers-lab-init\0"  # the lab's init is PID 1
    listed = one_node.exec("node1", "ip netns list").stdout.splitlines()
    assert sorted(line.split()[0] for line in listed) == sorted(one_node.namespaces)
    assert one_node.links("c1").column("name") == ["lo", "eth0"]


def test_build_twice_gives_the_same_lab():
    topo = Topology("again", underlay=None)
    topo.add_node("node1")
    topo.add_container("c1", node="node1")
    first = Lab(topo)
    snapshot = [str(first.links(ns)) + str(first.addresses(ns)) for ns in first.namespaces]
    second = Lab(topo)  # a cell run twice: the same name replaces the first lab
    assert first.closed and not second.closed
    assert [str(second.links(ns)) + str(second.addresses(ns)) for ns in second.namespaces] == snapshot
    second.build()  # and building again in place
    assert [str(second.links(ns)) + str(second.addresses(ns)) for ns in second.namespaces] == snapshot
    second.close()


def test_works_inside_a_running_event_loop(one_node):
    """A Jupyter cell runs inside an asyncio loop; the API must not care."""

    async def cell():
        return one_node.exec("c1", f"{PING} 172.17.0.4").ok

    assert asyncio.run(cell())


def test_commands_rebuild_the_same_lab_by_hand(two_nodes):
    """The printed ip/bridge/nft commands, run by a shell in a fresh sandbox, give the same kernel state."""
    script = two_nodes.commands()
    dump = "\n".join(
        f"echo '=== {ns}'; ip -n {ns} -j -d link show; ip -n {ns} -4 -j addr show; ip -n {ns} -j route show"
        for ns in two_nodes.namespaces
    )
    shell = f"set -e\nexport PATH=$PATH:/usr/sbin:/sbin\nmount -t tmpfs tmpfs /run\nmkdir -p /run/netns\n{script}\n{dump}\n"
    by_hand = subprocess.run([*sandbox_prefix(), "bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert by_hand.returncode == 0, by_hand.stderr
    sections = by_hand.stdout.split("=== ")[1:]
    assert len(sections) == len(two_nodes.namespaces)
    for section in sections:
        ns, link_json, addr_json, route_json = section.split("\n", 3)[0], *section.split("\n")[1:4]
        by_lab = (two_nodes.links(ns), two_nodes.addresses(ns), two_nodes.routes(ns))
        from nethelpers import state

        hand = (state.links(ns, json.loads(link_json)), state.addresses(ns, json.loads(addr_json)),
                state.routes(ns, json.loads(route_json)))
        for ours, theirs in zip(by_lab, hand):
            keep = [c for c in ours.columns if c not in ("state", "flags")]  # carrier settles with time
            assert [{k: r[k] for k in keep} for r in ours] == [{k: r[k] for k in keep} for r in theirs], ns


def test_random_mac_on_request_and_ipv6_on_request():
    topo = Topology("macs", underlay=None, ipv6=True)
    topo.add_node("node1")
    topo.add_container("c1", node="node1", mac="random")
    with Lab(topo) as lab:
        mac = lab.links("c1").one(name="eth0")["mac"]
        assert not mac.startswith("02:42:ac:11") and int(mac[:2], 16) & 2  # the kernel's random, local MAC
        assert lab.sysctl("c1", "net.ipv6.conf.all.disable_ipv6") == "0"


def test_lab_commands_start_in_root_as_a_containers_do(one_node):
    """Not in the client's directory: that may be one the lab's root cannot enter."""
    assert one_node.exec("c1", "pwd").stdout == "/\n"
    with one_node.spawn("c1", ["sh", "-c", "pwd; sleep 60"]) as server:
        assert one_node.exec("c1", "true").ok
    assert server.output().startswith("/\n")
