"""The reference Docker host of the fidelity test: a real dockerd with Docker's defaults.

Debian's dockerd (docker.io 20.10.24) runs with its default networking (docker0, iptables through
iptables-nft, ip-forward, ip-masq, the userland proxy) inside a network namespace of the test's
own, ``node``; a second namespace, ``node2``, is another host on the same LAN (a veth pair,
10.168.0.2 and .3, as the lab's underlay), with a route to the containers through ``node``.
Four containers, ``c1`` published with ``-p 8080:80 -p 5300:53/udp``; :data:`nethelpers.fidelity.SERVERS`
answer on TCP port 80 and UDP port 53 (the host's Python in the container's namespace). Everything dockerd does to
networking happens in ``node``; :meth:`Reference.close` ends dockerd, the containers, the
namespaces and every mount under the test's directory.
"""

import os
import shutil
import subprocess
import time

from dockerengine import Engine, base_tarball
from nethelpers import fidelity


class Holder:
    """A network namespace held by a sleeping process, with its loopback up."""

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
        host = os.readlink("/proc/self/ns/net")
        self.path = f"/proc/{self.proc.pid}/ns/net"
        for _ in range(2000):  # until the holder has entered its namespace
            if os.path.exists(self.path) and os.readlink(self.path) != host:
                break
            time.sleep(0.005)
        else:
            raise RuntimeError("the namespace holder did not enter its namespace")
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv):
        return subprocess.run(["nsenter", f"--net={self.path}", *argv], check=True, capture_output=True, text=True)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def _publish(container):
    """``docker run``'s ``-p`` options for ``container``: fidelity.PUBLISHED, PUBLISHED_UDP."""
    options = []
    for (name, port, to_port), suffix in ((fidelity.PUBLISHED, ""), (fidelity.PUBLISHED_UDP, "/udp")):
        if name == container:
            options += ["-p", f"{port}:{to_port}{suffix}"]
    return options


class Reference:
    """dockerd with Docker's defaults in ``node``, four containers, servers; a side for describe()."""

    def __init__(self, top, userland_proxy=True):
        self.top, self.engine, self.servers, self.holders = top, None, [], []
        try:
            self._start(userland_proxy)
        except BaseException:
            self.close()
            raise

    def _start(self, userland_proxy):
        node, node2 = Holder(), Holder()
        self.holders = [node, node2]
        node.run("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", str(node2.proc.pid))
        node.run("ip", "addr", "add", f"{fidelity.NODE_ADDRESS}/24", "brd", "+", "dev", "eth0")
        node.run("ip", "link", "set", "eth0", "up")
        node2.run("ip", "addr", "add", f"{fidelity.NODE2_ADDRESS}/24", "brd", "+", "dev", "eth0")
        node2.run("ip", "link", "set", "eth0", "up")
        node2.run("ip", "route", "add", "172.17.0.0/16", "via", fidelity.NODE_ADDRESS)
        network = [] if userland_proxy else ["--userland-proxy=false"]
        self.engine = Engine(self.top, netns=node.path, network=network)
        with open(base_tarball(), "rb") as tarball:
            self.engine.docker("import", "-", "debian:bookworm-slim", stdin=tarball)
        for c in fidelity.CONTAINERS:
            publish = _publish(c)
            self.engine.docker("run", "-d", "--name", c, "--hostname", c, *publish, "debian:bookworm-slim",
                               "sleep", "infinity")
        self.paths, self.pids = {"node": node.path, "node2": node2.path}, {}
        for c in fidelity.CONTAINERS:
            self.pids[c] = self.engine.docker("inspect", "-f", "{{.State.Pid}}", c).stdout.decode().strip()
            self.paths[c] = f"/proc/{self.pids[c]}/ns/net"
        for c in fidelity.SERVERS:
            for program in (fidelity.SERVER, fidelity.UDP_SERVER):
                proc = subprocess.Popen(["nsenter", f"--net={self.paths[c]}", "python3", "-c", program, c],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                self.servers.append(proc)
                assert proc.stdout.readline().strip() == "ready", f"a server in {c} did not start"

    def run(self, role, argv, timeout=30):
        result = subprocess.run(["nsenter", f"--net={self.paths[role]}", *argv], capture_output=True, text=True,
                                timeout=timeout)
        return result.returncode, result.stdout + result.stderr

    def run_in_container(self, role, argv, timeout=30):
        """``argv`` in the container's network, UTS and mount namespaces: its hostname, its files
        (and the image's programs, so only what the image has: ``cat``)."""
        result = subprocess.run(["nsenter", "-t", self.pids[role], "-n", "-u", "-m", *argv], capture_output=True,
                                text=True, timeout=timeout)
        return result.returncode, result.stdout + result.stderr

    def capture(self, points, filter):
        from nethelpers.capture import AsyncCapture
        from nethelpers.xray import _Namespaces

        return AsyncCapture(_Namespaces(self.paths), points, filter).start()

    def close(self):
        for proc in self.servers:
            proc.kill()
            proc.wait()
        try:
            if self.engine is not None:
                self.engine.stop()
        finally:
            for holder in self.holders:
                holder.close()
            shutil.rmtree(self.top, ignore_errors=True)
