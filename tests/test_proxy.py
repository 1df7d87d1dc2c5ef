"""The userland proxy of published ports (nethelpers/engine/proxy.py), on real sockets.

One lab for the module: node1 a default (Docker) node with c1 and c2, c1's UDP port 53 published on
5300 and its TCP port 80 on 8080, node2 with a route to the containers through node1. c1 and c2
answer each UDP datagram with what they saw: the sender's address and port, the datagram's length
and CRC-32, and how many datagrams that sender has sent so far.
"""

import json
import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nethelpers import LAB_PYTHON, Lab, Topology
from nethelpers.engine import proxy
from nethelpers.errors import NetHelpersError, TopologyError

NODE, NODE2, GATEWAY, C1, C2 = "10.168.0.2", "10.168.0.3", "172.17.0.1", "172.17.0.2", "172.17.0.3"

ECHO = (
    "import socket,zlib\n"
    "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('0.0.0.0',53));seen={}\n"
    "print('ready',flush=True)\n"
    "while True:\n"
    " d,a=s.recvfrom(70000);seen[a]=seen.get(a,0)+1\n"
    " s.sendto(f'{a[0]} {a[1]} {len(d)} {zlib.crc32(d)} {seen[a]}'.encode(),a)\n"
)
# Sends stdin as one datagram from one socket, once per datagram in argv[3] ("" for an empty one
# first, then stdin); prints each reply and where it came from, as JSON.
CLIENT = (
    "import json,socket,sys\n"
    "to=(sys.argv[1],int(sys.argv[2]));data=sys.stdin.buffer.read()\n"
    "c=socket.socket(socket.AF_INET6 if ':' in to[0] else socket.AF_INET,socket.SOCK_DGRAM);c.settimeout(10)\n"
    "out=[]\n"
    "for empty in sys.argv[3].split(','):\n"
    " c.sendto(b'' if empty=='empty' else data,to)\n"
    " if empty!='empty':\n"
    "  d,a=c.recvfrom(200);out.append(d.decode().split()+[a[0],a[1]])\n"
    "print(json.dumps(out))\n"
)


@pytest.fixture(scope="module")
def lab():
    topo = Topology("proxy")
    topo.add_node("node1")
    topo.add_node("node2", bridge=None)
    topo.add_container("c1", node="node1")
    topo.add_container("c2", node="node1")
    topo.add_publish("c1", 5300, 53, proto="udp")
    topo.add_publish("c1", 8080, 80)
    topo.add_route("node2", "172.17.0.0/16", via=NODE)
    with Lab(topo) as lab:
        for c in ("c1", "c2"):
            server = lab.spawn(c, [LAB_PYTHON, "-c", ECHO])
            wait_for(lambda: "ready" in server.output(), f"the echo server in {c}")
        yield lab


def wait_for(condition, what, tries=6000):
    """Check ``condition`` until it holds (each check is a real query; no fixed sleep decides)."""
    import time

    for _ in range(tries):
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"{what}: not so after {tries} checks")


def send(lab, ns, address, port, data=b"who?", datagrams="one"):
    """Replies to ``data`` sent from one socket in ``ns``: ``[saw address, saw port, length, crc,
    count, from address, from port]`` each."""
    result = lab.exec(ns, [LAB_PYTHON, "-c", CLIENT, address, str(port), datagrams], input=data, check=True)
    return [[int(x) if str(x).isdigit() else x for x in reply] for reply in json.loads(result.stdout)]


@pytest.mark.parametrize("ns, address, saw", [
    ("node2", NODE, NODE2),  # another node: DNAT, no proxy; the container sees the client
    ("node1", NODE, NODE),  # the node, its own address: DNAT in OUTPUT
    ("node1", "127.0.0.1", GATEWAY),  # loopback: the proxy relays, from docker0's address
    ("node1", "::1", GATEWAY),  # IPv6: the proxy's [::] socket, relayed over IPv4
    ("node1", GATEWAY, GATEWAY),  # docker0's address: the proxy
    ("c2", GATEWAY, GATEWAY),  # another container through the gateway: the proxy
])
def test_published_udp_port_answers(lab, ns, address, saw):
    (reply,) = send(lab, ns, address, 5300)
    assert reply[0] == saw
    assert reply[2:4] == [4, zlib.crc32(b"who?")]
    assert reply[5:] == [address, 5300]  # the answer comes from the address the client asked


def test_proxy_answers_from_the_address_the_node_routes_by(lab):
    """docker-proxy 20.10 sends replies from its 0.0.0.0 socket without saying from where: to a
    container that asked the node's address, the answer leaves from docker0's (the fidelity
    test finds Docker's own proxy doing the same)."""
    (reply,) = send(lab, "c2", NODE, 5300)
    assert reply[0] == GATEWAY and reply[5:] == [GATEWAY, 5300]


def test_one_flow_per_client(lab):
    """A client's datagrams share one socket toward the container; another client gets another."""
    first, second = send(lab, "node1", "127.0.0.1", 5300, datagrams="one,two")
    other, = send(lab, "node1", "127.0.0.1", 5300)
    assert first[1] == second[1] != other[1]
    assert (first[4], second[4], other[4]) == (1, 2, 1)


def test_an_empty_datagram_is_not_relayed(lab):
    """docker-proxy writes what it read until all is written: of an empty datagram, nothing."""
    (reply,) = send(lab, "node1", "127.0.0.1", 5300, datagrams="empty,one")
    assert (reply[2], reply[4]) == (4, 1)  # the container saw one datagram from this flow: the second


@settings(max_examples=15, deadline=None)
@given(data=
       st.binary(min_size=1, max_size=3000)
       | st.integers(1, 65527).map(lambda n: bytes(i % 251 for i in range(n))))
def test_datagrams_cross_the_proxy_up_to_docker_proxys_buffer(lab, data):
    """Any payload crosses unchanged up to docker-proxy's buffer (65507 bytes); IPv6 carries
    longer ones, which the proxy cuts there."""
    (reply,) = send(lab, "node1", "::1", 5300, data=data)
    kept = data[:proxy.UDP_BUFFER]
    assert reply[2:4] == [len(kept), zlib.crc32(kept)]


def test_longest_datagram_is_cut_at_docker_proxys_buffer(lab):
    data = bytes(range(256)) * 256
    (reply,) = send(lab, "node1", "::1", 5300, data=data[:65527])  # IPv6's largest UDP payload
    assert reply[2:4] == [proxy.UDP_BUFFER, zlib.crc32(data[:proxy.UDP_BUFFER])]


def test_a_flow_is_forgotten_when_no_reply_comes(lab):
    """The program itself, with a short idle time (the engine gives 90 s): once the flow's
    socket toward the container is closed, the next datagram opens another."""
    wrapper = ("import os,socket,sys\n"
               "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('127.0.0.1',5400))\n"
               "os.set_inheritable(s.fileno(),True)\n"
               "os.execv(sys.executable,[sys.executable,'-c',sys.argv[1],'udp',str(s.fileno()),sys.argv[2],'53',"
               "'0.2'])\n")
    relay = lab.spawn("node1", [LAB_PYTHON, "-c", wrapper, proxy.PROGRAM, C2])
    try:
        wait_for(lambda: "127.0.0.1:5400" in lab.exec("node1", "ss -Hlun").stdout, "the relay listening")
        (reply,) = send(lab, "node1", "127.0.0.1", 5400)
        assert reply[0] == GATEWAY and reply[5:] == ["127.0.0.1", 5400]
        flow = f"{GATEWAY}:{reply[1]}"
        wait_for(lambda: flow not in lab.exec("node1", f"ss -Hun dst {C2}").stdout, "the flow forgotten")
        assert send(lab, "node1", "127.0.0.1", 5400)[0][0] == GATEWAY  # a new flow answers
    finally:
        relay.stop()


def _proxies(lab):
    """``{proto: {fd: target}}`` of each proxy process in node1, read from the lab's /proc."""
    script = ("import json,os,sys\nout={};program=sys.stdin.buffer.read()\n"
              "for pid in filter(str.isdigit,os.listdir('/proc')):\n"
              " argv=open(f'/proc/{pid}/cmdline','rb').read().split(b'\\0')\n"
              " if len(argv)>3 and argv[2]==program:\n"
              "  fds=os.listdir(f'/proc/{pid}/fd')\n"
              "  out[argv[3].decode()]={fd:os.readlink(f'/proc/{pid}/fd/{fd}') for fd in fds}\n"
              "print(json.dumps(out))\n")
    return json.loads(lab.exec("node1", [LAB_PYTHON, "-c", script], input=proxy.PROGRAM, check=True).stdout)


def test_proxy_processes_hold_only_their_sockets(lab):
    send(lab, "node1", "127.0.0.1", 5300)  # at least one flow open
    found = _proxies(lab)
    assert set(found) == {"tcp", "udp"}
    for proto, fds in found.items():
        assert fds.pop("0") == "/dev/null" and fds.pop("1") == fds.pop("2")  # no input; output to its log
        assert all(target.startswith("socket:[") for target in fds.values()), (proto, fds)
    listening = {proto: lab.exec("node1", f"ss -Hl{proto[0]}n -e sport = :{port}").stdout
                 for proto, port in (("tcp", 8080), ("udp", 5300))}
    for proto, text in listening.items():
        inodes = {f"socket:[{word[4:]}]" for word in text.split() if word.startswith("ino:")}
        assert len(inodes) == 2 and inodes <= set(found[proto].values())  # its listeners, IPv4 and IPv6


def test_shell_rendering_says_the_protocol():
    topo = Topology("render", underlay=None)
    topo.add_node("node1")
    topo.add_container("c1", node="node1")
    topo.add_publish("c1", 5300, 53, proto="udp")
    topo.add_publish("c1", 8080, 80)
    lines = [line for line in topo.commands().splitlines() if "docker-proxy" in line]
    assert [line.split("-proto ")[1].split()[0] for line in lines] == ["udp", "tcp"]
    assert "-host-port 5300 -container-ip 172.17.0.2 -container-port 53" in lines[0]


@settings(max_examples=30, deadline=None)
@given(proto=st.text(max_size=8).filter(lambda p: p not in ("tcp", "udp")))
def test_a_protocol_the_proxy_does_not_know_is_refused_before_the_build(proto):
    topo = Topology("badproto", underlay=None)
    topo.add_node("node1")
    topo.add_container("c1", node="node1")
    topo.add_publish("c1", 53, proto=proto)
    with pytest.raises(TopologyError, match=rf"published port 53 of 'c1': protocol {re.escape(repr(proto))} "
                                            r"must be 'tcp' or 'udp'"):
        topo.resolve()


def test_the_engine_refuses_an_unknown_protocol_and_binds_nothing(lab):
    args = {"proto": "sctp", "port": 5301, "to_address": C1, "to_port": 53, "python": LAB_PYTHON}
    step = ("proxy", "node1", args, "docker-proxy -proto sctp -host-port 5301")
    with pytest.raises(NetHelpersError, match=r"protocol 'sctp': the userland proxy relays tcp or udp"):
        lab._engine().call("build", steps=[step])
    assert ":5301" not in lab.exec("node1", "ss -Hltun").stdout
    assert send(lab, "node1", "127.0.0.1", 5300)[0][0] == GATEWAY  # the lab serves on
