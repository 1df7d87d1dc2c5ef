"""nethelpers.xray against a real, private Docker engine (notebook 13).

The engine is Debian's dockerd 20.10 (package docker.io), started by binder/docker-xray-host.sh
inside network, mount and PID namespaces of its own: its docker0, veths, iptables rules and
ip_forward exist only there, and the host's network namespace is not changed (conftest's
host_untouched guard checks it at the end of the session; this module checks it too).
Root only; skipped in the inner rootless run, and where docker.io or debootstrap is missing.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "binder" / "docker-xray-host.sh"
NOTEBOOK = ROOT / "notebooks" / "13-xray-docker-host.ipynb"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="x-raying a Docker engine needs root"),
    pytest.mark.skipif(bool(os.environ.get("NETHELPERS_ROOTLESS_RUN")), reason="the inner, rootless run"),
    pytest.mark.skipif(shutil.which("dockerd", path=os.environ.get("PATH", "") + ":/usr/sbin") is None
                       or shutil.which("docker") is None,
                       reason="no dockerd/docker here (apt-get install -y docker.io)"),
    pytest.mark.skipif(shutil.which("debootstrap", path=os.environ.get("PATH", "") + ":/usr/sbin") is None
                       and not Path(os.environ.get("XRAY_CACHE", "/tmp/xray-cache"), "rootfs.tar").exists(),
                       reason="no debootstrap to make the base image (apt-get install -y debootstrap)"),
]


def _host():
    run = lambda *a: subprocess.run(a, capture_output=True, text=True).stdout
    return {"links": run("ip", "-br", "link"), "routes": run("ip", "route", "show", "table", "all"),
            "nft": run("nft", "list", "ruleset"), "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text(),
            "netns": run("ip", "netns", "list")}


@pytest.fixture(scope="module")
def private_engine():
    before = _host()
    where = tempfile.mkdtemp(prefix="xray-")
    try:
        started = subprocess.run(["bash", str(SCRIPT), "start", where], capture_output=True, text=True, timeout=240)
        if started.returncode == 77:
            pytest.skip(started.stderr.strip())
        assert started.returncode == 0, started.stderr + Path(where, "dockerd.log").read_text()
        values = dict(line.split("=", 1) for line in started.stdout.split())
        yield {"host": values["DOCKER_HOST"], "init_pid": int(values["INIT_PID"]), "dir": where}
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", where], capture_output=True, timeout=60)
        shutil.rmtree(where, ignore_errors=True)
    assert _host() == before, "the private Docker engine changed the host's network namespace"


@pytest.fixture(scope="module")
def found(private_engine):
    from nethelpers import xray
    engine = xray.find_engine(private_engine["host"], private_engine["init_pid"])
    assert engine is not None
    return engine


def test_find_engine_none_without_engine(tmp_path):
    from nethelpers import xray
    assert xray.find_engine(str(tmp_path / "no.sock")) is None
    with pytest.raises(xray.XrayUnavailable):
        xray.xray(None)


def test_xray_reads_real_containers_read_only(found):
    from nethelpers import Lab, xray
    assert found.version.startswith("20.10")
    first = xray.xray(found)
    before = xray.snapshot(first)
    assert [c.name for c in first.containers] == ["c1", "c2"]

    # the engine's own namespace: docker0 172.17.0.1/16, one veth + 7 hex per container on it
    assert first.addresses("docker-host").one(dev="docker0")["address"] == "172.17.0.1/16"
    veths = first.links("docker-host").where(kind="veth", master="docker0").column("name")
    assert len(veths) == 2 and all(re.fullmatch(r"veth[0-9a-f]{7}", v) for v in veths)
    assert sorted(first.bridge_ports().column("port")) == sorted(veths)
    assert first.raw["docker-host"]["ip_forward"] == 1
    rules = first.ruleset().column("rule")
    assert any("ip saddr 172.17.0.0/16" in r and "xt MASQUERADE" in r for r in rules), rules
    assert {"DOCKER", "DOCKER-USER", "DOCKER-ISOLATION-STAGE-1"} <= set(first.ruleset().column("chain"))

    # the containers: Docker 20.10's MAC rule (02:42 + the IPv4 address), default via docker0
    for i, c in enumerate(first.containers, 2):
        assert c.mac == f"02:42:ac:11:00:{i:02x}"
        assert first.links(c.name).one(name="eth0")["mac"] == c.mac
        assert first.addresses(c.name).one(dev="eth0")["address"] == f"172.17.0.{i}/16"
        assert first.routes(c.name).one(to="default")["via"] == "172.17.0.1"

    # the drawing tools read the same namespaces
    from nethelpers import discover
    seen = discover.from_dump(first.dump())
    assert not seen.unresolved

    # point by point against the hand-built twin
    lab = Lab(xray.lab_topology(first, "xraytest"))
    try:
        rows = {t: (r, h, same) for t, r, h, same in xray.differences(first, lab)}
    finally:
        lab.close()
    for same in ("docker0 address", "docker0 MTU", "number of veths on docker0", "veth names are veth + 7 hex",
                 "c1 eth0 MAC", "c2 eth0 MAC", "c1 routes", "c2 routes", "net.ipv4.ip_forward",
                 "nftables tables", "rules written as xtables (xt) extensions", "chains", "number of nftables rules",
                 "MASQUERADE rule for 172.17.0.0/16"):
        assert rows[same][2], (same, rows[same])
    for differs in ("veth names", "docker0 MAC", "other interfaces of the engine's namespace"):
        assert not rows[differs][2], (differs, rows[differs])

    # read-only: the containers are exactly as they were
    assert xray.snapshot(xray.xray(found)) == before


def test_capture_at_real_containers(found):
    """The same capture, pointed at a real container's eth0 and its veth, passively."""
    from nethelpers import xray

    x = xray.xray(found)
    c1, c2 = x.containers
    veth = next(l["name"] for l in x.links("docker-host") if l["peer"] == f"if{x.links('c1').one(name='eth0')['index']}"
                and l["master"] == "docker0")
    def promiscuity():
        shown = subprocess.run(["nsenter", f"--net={found.netns}", "ip", "-d", "-j", "link", "show", veth],
                               capture_output=True, text=True, check=True).stdout
        return json.loads(shown)[0]["promiscuity"]

    before = promiscuity()  # a bridge port is promiscuous already: the bridge set it
    capture = x.capture(["c1:eth0", f"docker-host:{veth}"], filter="icmp")
    during = promiscuity()
    ping = subprocess.run(["nsenter", f"--net={c1.netns}", "ping", "-c", "1", "-W", "2", "172.17.0.3"],
                          capture_output=True, text=True)
    packets = capture.stop()
    assert ping.returncode == 0, ping.stderr
    assert [(p.point, p.direction, p.summary().split(" 172")[0]) for p in packets] == [
        ("c1:eth0", "out", "ICMP echo-request"), (f"docker-host:{veth}", "in", "ICMP echo-request"),
        (f"docker-host:{veth}", "out", "ICMP echo-reply"), ("c1:eth0", "in", "ICMP echo-reply"),
    ]
    assert during == before == promiscuity()  # passive: nothing was switched on


def test_notebook_runs_against_the_engine(private_engine):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {"NETHELPERS_DOCKER_HOST": private_engine["host"], "NETHELPERS_DOCKER_INIT_PID": str(private_engine["init_pid"])}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nbclient.NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "engine found: True" in text
