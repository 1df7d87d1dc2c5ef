"""A default node is a Docker 20.10 host: who answers a published port, with and without the
userland proxy, and what each container may do, on the lab alone (no Docker engine needed).

The tables are what Debian's dockerd 20.10.24 answered in tests/test_fidelity.py, which checks them
against a real engine where one can run (as root); here they run in every pass, ordinary user too.
"""

import os

import pytest

from nethelpers import LAB_PYTHON, Lab, fidelity

# (client, address:port) -> what the server in c1 (or c2, c3) says: its name and the source it saw.
WITH_PROXY = {
    "node2 -> 10.168.0.2:8080": "c1 saw 10.168.0.3",  # DNAT in PREROUTING: the client's own address
    "node -> 10.168.0.2:8080": "c1 saw 10.168.0.2",  # DNAT in OUTPUT
    "node -> 127.0.0.1:8080": "c1 saw 172.17.0.1",  # not DNATed (! -d 127.0.0.0/8): docker-proxy
    "node -> 172.17.0.1:8080": "c1 saw 172.17.0.1",
    "node -> 172.17.0.2:80": "c1 saw 172.17.0.1",
    "c2 -> 10.168.0.2:8080": "c1 saw 172.17.0.1",  # from docker0: the DOCKER chain RETURNs, the proxy relays
    "c2 -> 172.17.0.1:8080": "c1 saw 172.17.0.1",
    "c1 -> 10.168.0.2:8080": "c1 saw 172.17.0.1",
    "c2 -> 172.17.0.2:80": "c1 saw 172.17.0.3",
    "node2 -> 172.17.0.3:80": "no answer (dropped)",  # FORWARD policy DROP: not published
}
WITHOUT_PROXY = dict(WITH_PROXY, **{
    "node -> 10.168.0.2:8080": "c1 saw 172.17.0.1",  # MASQUERADE of local sources out of docker0
    "c2 -> 10.168.0.2:8080": "c1 saw 172.17.0.3",  # DNAT for docker0 too: the client's own address
    "c2 -> 172.17.0.1:8080": "c1 saw 172.17.0.3",
    "c1 -> 10.168.0.2:8080": "c1 saw 172.17.0.1",  # hairpin: back out its own port, MASQUERADEd
})

# The same for the UDP port (5300 -> 53). docker-proxy answers a client that asked the node's
# address from 172.17.0.1, the address the node routes by: a connected client would drop it.
WITH_PROXY_UDP = {key.replace(":8080", ":5300").replace(":80", ":53"): answer for key, answer in WITH_PROXY.items()}
WITH_PROXY_UDP.update({
    "c2 -> 10.168.0.2:5300": "c1 saw 172.17.0.1 (from 172.17.0.1:5300, not the address asked)",
    "c1 -> 10.168.0.2:5300": "c1 saw 172.17.0.1 (from 172.17.0.1:5300, not the address asked)",
})
WITHOUT_PROXY_UDP = {key.replace(":8080", ":5300").replace(":80", ":53"): answer
                     for key, answer in WITHOUT_PROXY.items()}


@pytest.mark.parametrize("userland_proxy, expected", [(True, (WITH_PROXY, WITH_PROXY_UDP)),
                                                      (False, (WITHOUT_PROXY, WITHOUT_PROXY_UDP))],
                         ids=["userland-proxy", "no-userland-proxy"])
def test_published_port_answers_whom_docker_answers(userland_proxy, expected):
    with Lab(fidelity.reference_topology("dockernode", userland_proxy=userland_proxy)) as lab:
        side = fidelity.LabSide(lab)
        servers = side.start_servers()
        try:
            assert fidelity.who_answers(side, LAB_PYTHON, "tcp") == expected[0]
            assert fidelity.who_answers(side, LAB_PYTHON, "udp") == expected[1]
            listening = lab.exec("node1", ["ss", "-Hltun"]).stdout.split()
            for port in ("8080", "5300"):
                assert (f"[::]:{port}" in listening) is userland_proxy  # docker-proxy listens on both families
                assert f"0.0.0.0:{port}" in listening  # dockerd takes the port either way
            hairpin = lab.exec("node1", ["bridge", "-d", "link", "show"]).stdout.count("hairpin on")
            assert hairpin == (0 if userland_proxy else len(fidelity.CONTAINERS))
        finally:
            for server in servers:
                server.stop()


def test_a_taken_port_stays_taken_without_the_proxy():
    """dockerd's reservation: another program on the node cannot bind the published port."""
    bind = "import socket\ntry:\n socket.socket().bind(('0.0.0.0', 8080)); print('bound')\nexcept OSError as e: print(e.errno)"
    with Lab(fidelity.reference_topology("dockernode", userland_proxy=False)) as lab:
        assert lab.exec("node1", [LAB_PYTHON, "-c", bind]).stdout.strip() == "98"  # EADDRINUSE


def test_containers_let_groups_ping_as_docker_does():
    """Docker: ping_group_range 0 2147483647 in a container. A root run's lab maps group
    2147483647 and gets it; an ordinary user's lab maps group 0 only and gets 0 0."""
    expected = "0 2147483647" if os.geteuid() == 0 else "0 0"
    ping_socket = ("import os, socket, sys\ntry:\n os.setgroups([])\nexcept PermissionError:\n pass\n"
                   "os.setgid(int(sys.argv[1]))\n"
                   "try:\n socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); print('may ping')\n"
                   "except PermissionError: print('may not')")
    with Lab(fidelity.reference_topology("dockernode")) as lab:
        assert " ".join(lab.sysctl("c1", "net.ipv4.ping_group_range").split()) == expected
        assert lab.exec("c1", [LAB_PYTHON, "-c", ping_socket, "0"]).stdout.strip() == "may ping"
        assert lab.exec("node1", [LAB_PYTHON, "-c", ping_socket, "0"]).stdout.strip() == "may not"
        if os.geteuid() == 0:
            assert lab.exec("c1", [LAB_PYTHON, "-c", ping_socket, "2147483647"]).stdout.strip() == "may ping"
