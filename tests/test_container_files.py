"""A Docker node's containers have their own hostname, /etc/hostname, /etc/hosts and /etc/resolv.conf.

As ``docker run --hostname NAME`` gives them (nethelpers.plan's ``container_files`` step, the engine's
``labspace.ContainerMaker``): each its own, every command in it sees them, a change made in one
container stays in it, and nothing of the host's changes. Run as root and as an ordinary user.
"""

import socket
from pathlib import Path

import pytest

from nethelpers import Lab, Topology
from nethelpers.engine.server import DOCKER_DEFAULT_DNS, docker_resolv_conf
from nethelpers.plan import docker_hosts
from tests.labs import bridge_lab


@pytest.fixture(scope="module")
def lab():
    with bridge_lab("hostnames", 3) as built:
        yield built


def _hostname(lab, ns):
    return lab.exec(ns, ["cat", "/proc/sys/kernel/hostname"], check=True).stdout.strip()


def test_each_container_has_its_name_as_hostname(lab):
    names = {c: _hostname(lab, c) for c in ("c1", "c2", "c3")}
    assert names == {"c1": "c1", "c2": "c2", "c3": "c3"}
    for c in names:
        assert lab.exec(c, ["hostname"], check=True).stdout == f"{c}\n"
        assert lab.exec(c, ["cat", "/etc/hostname"], check=True).stdout == f"{c}\n"
    assert _hostname(lab, "node1") == socket.gethostname()  # a node is the lab's host: its hostname


def test_each_containers_hosts_file_ends_with_its_own_address(lab):
    for c, rc in lab.resolved.containers.items():
        hosts = lab.exec(c, ["cat", "/etc/hosts"], check=True).stdout
        assert hosts == docker_hosts(c, rc.address)
        assert hosts.splitlines()[-1] == f"{rc.address}\t{c}"
        assert lab.exec(c, ["getent", "hosts", c], check=True).stdout.split() == [rc.address, c]


def test_resolv_conf_is_dockers_from_the_hosts(lab):
    try:
        host = Path("/etc/resolv.conf").read_text()
    except OSError:
        host = ""  # a link into /run (systemd-resolved): the engine cannot read it either
    assert lab.exec("c1", ["cat", "/etc/resolv.conf"], check=True).stdout == docker_resolv_conf(host)


def test_dockers_resolv_conf_rule():
    assert docker_resolv_conf("nameserver 10.0.0.53\nsearch lab\n") == "nameserver 10.0.0.53\nsearch lab\n"
    assert docker_resolv_conf("nameserver 127.0.0.53\nnameserver 10.0.0.53\n") == "nameserver 10.0.0.53\n"
    assert docker_resolv_conf("nameserver 2001:db8::1\nnameserver 10.0.0.53\n") == "nameserver 10.0.0.53\n"
    only_local = docker_resolv_conf("nameserver 127.0.0.53\noptions edns0\n")
    assert only_local.splitlines() == ["options edns0", "", *DOCKER_DEFAULT_DNS]
    assert docker_resolv_conf("").splitlines() == ["", *DOCKER_DEFAULT_DNS]


def test_a_change_in_one_container_stays_in_it(lab):
    """Lab root may rename its container and add to its hosts file, as a container's root with
    CAP_SYS_ADMIN may; the next command there sees it; other containers, the node and the host do not."""
    host_name, host_hosts = socket.gethostname(), Path("/etc/hosts").read_bytes()
    before = {ns: (_hostname(lab, ns), lab.exec(ns, ["cat", "/etc/hosts"]).stdout) for ns in ("c2", "c3", "node1")}
    own = lab.exec("c1", ["cat", "/etc/hosts"]).stdout
    changed = lab.exec("c1", ["sh", "-c", "hostname renamed && echo '10.9.9.9 planted' >> /etc/hosts"])
    assert changed.ok, changed
    try:
        assert _hostname(lab, "c1") == "renamed"
        assert lab.exec("c1", ["tail", "-n", "1", "/etc/hosts"]).stdout == "10.9.9.9 planted\n"
        for ns, (name, hosts) in before.items():
            assert (_hostname(lab, ns), lab.exec(ns, ["cat", "/etc/hosts"]).stdout) == (name, hosts), ns
        assert socket.gethostname() == host_name
        assert Path("/etc/hosts").read_bytes() == host_hosts
    finally:
        lab.exec("c1", ["sh", "-c", "hostname c1 && cat > /etc/hosts"], input=own, check=True)  # as it was


def test_lab_root_cannot_change_the_hosts_files_or_hostname(lab):
    """The node's /etc is the host's, read-only; a container's own files cover it, and taking
    them off only shows the same read-only files; the host's hostname is not the lab's to set."""
    host_name, host_hosts = socket.gethostname(), Path("/etc/hosts").read_bytes()
    assert not lab.exec("node1", ["sh", "-c", "echo x >> /etc/hosts"]).ok
    assert not lab.exec("c1", ["sh", "-c", "umount /etc/hosts; echo x >> /etc/hosts"]).ok
    assert not lab.exec("node1", ["hostname", "renamed"]).ok
    assert socket.gethostname() == host_name
    assert Path("/etc/hosts").read_bytes() == host_hosts
    assert _hostname(lab, "c1") == "c1" and lab.exec("c1", ["cat", "/etc/hosts"]).stdout.endswith("\tc1\n")


def test_background_commands_are_in_the_container_too(lab):
    with lab.spawn("c2", ["sleep", "3600"]) as proc:
        for link in ("uts", "net"):
            mine = lab.exec("c2", ["readlink", f"/proc/self/ns/{link}"], check=True).stdout
            assert lab.exec("c2", ["readlink", f"/proc/{proc.pid}/ns/{link}"], check=True).stdout == mine, link
        hosts = lab.exec("c2", ["cat", f"/proc/{proc.pid}/root/etc/hosts"], check=True).stdout
        assert hosts.splitlines()[-1] == f"{lab.resolved.containers['c2'].address}\tc2"


def test_containers_of_a_node_without_docker_keep_the_labs():
    """docker=False builds what `ip netns add` gives: the host's hostname and files."""
    topo = Topology("plainhosts", underlay=None)
    topo.add_node("node1", docker=False)
    topo.add_container("c1", node="node1")
    with Lab(topo) as lab:
        assert _hostname(lab, "c1") == socket.gethostname()
        assert lab.exec("c1", ["cat", "/etc/hosts"]).stdout == Path("/etc/hosts").read_text()
        assert not any(s.op == "container_files" for s in lab.resolved.steps)


def test_the_commands_say_what_the_engine_does_and_write_nothing(lab):
    """One comment line a container: a script run by hand must not write the host's /etc."""
    lines = lab.commands().splitlines()
    for c, rc in lab.resolved.containers.items():
        said = [line for line in lines if line.startswith(f"# {c}: hostname {c} ")]
        assert len(said) == 1 and f"'{rc.address} {c}'" in said[0], said
    assert not any("/etc/" in line and not line.startswith("#") for line in lines)
