"""Shared fixtures: small labs, and a guard that the host's network is the same after the run."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from nethelpers import Lab, Topology
from nethelpers.clean import engines


def _run(*argv):
    tool = shutil.which(argv[0], path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if tool is None:
        return f"<{argv[0]} not installed>"
    result = subprocess.run([tool, *argv[1:]], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else f"<{argv[0]} failed: {result.stderr.strip()}>"


def host_network_state():
    """What the host's own network namespace holds, minus counters that move by themselves."""
    links = json.loads(_run("ip", "-j", "-d", "link", "show") or "[]")
    for link in links:
        for volatile in ("operstate", "linkmode", "stats64", "stats"):
            link.pop(volatile, None)
    netns_dir = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else None
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        ip_forward = f.read().strip()
    return {
        "links": links,
        "addresses": _run("ip", "-j", "addr", "show"),
        "routes": _run("ip", "-j", "route", "show", "table", "all"),
        "rules": _run("ip", "-j", "rule", "show"),
        "nftables": _run("nft", "list", "ruleset"),
        "ip_forward": ip_forward,
        "/run/netns": netns_dir,
    }


def _wait_for(leftovers, timeout):
    """Poll ``leftovers()`` until it is empty or ``timeout`` s have passed; the last value."""
    deadline = time.monotonic() + timeout
    while (found := leftovers()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def _temporary_files():
    """What tempfile and this suite name in /tmp (pytest's own tmp_path tree is kept by design)."""
    return {entry for entry in os.listdir("/tmp") if entry.startswith(("tmp", "nethelpers"))}


@pytest.fixture(scope="session", autouse=True)
def host_untouched():
    """The whole suite leaves the host's namespace, /run/netns and the process table as found."""
    before = host_network_state()
    temporary = _temporary_files()
    yield
    after = host_network_state()
    for key in before:
        assert after[key] == before[key], f"the test suite changed the host's {key}"
    left = _wait_for(lambda: _temporary_files() - temporary, timeout=5)  # a process may still be exiting
    assert not left, f"the test suite left {sorted(left)} in /tmp"
    ours = [pid for pid, ppid in engines() if ppid == os.getpid()]
    assert not ours, f"lab engines outlived the test suite: {ours}"


LABS = Path(__file__).resolve().parent.parent / "labs"


@pytest.fixture
def one_node():
    """labs/one-node.yml: node1 with c1, c2, c3 on docker0, the write-up's first lab."""
    with Lab(LABS / "one-node.yml") as lab:
        yield lab


@pytest.fixture
def two_nodes_file():
    """labs/two-nodes.yml: c1 on node1, forwarding and MASQUERADE on; node2 on the underlay."""
    with Lab(LABS / "two-nodes.yml") as lab:
        yield lab


@pytest.fixture
def two_nodes():
    """node1 (c1) and node2 on the underlay 10.168.0.0/24; not Docker hosts: no forwarding, no NAT yet."""
    topo = Topology("two-nodes")
    topo.add_node("node1", docker=False)
    topo.add_node("node2", docker=False)
    topo.add_container("c1", node="node1")
    with Lab(topo) as lab:
        yield lab


ROOT = LABS.parent
# A throwaway Chinese edition, while notebooks/zh/ does not exist yet: two notebooks (one with
# figures and the Mermaid ladder), their markdown changed, their code and outputs the same.
THROWAWAY_ZH = ("04-container-to-container.ipynb", "07b-overlay-vxlan.ipynb")
THROWAWAY_MARK = "（临时中文版）"


def throwaway_edition(folder):
    """Write the throwaway Chinese edition into ``folder``: each markdown cell's headings and text
    marked, as a translation would change them."""
    folder.mkdir(parents=True)
    for name in THROWAWAY_ZH:
        notebook = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            if cell["cell_type"] == "markdown":
                source = "".join(cell["source"])
                cell["source"] = "\n".join(line + THROWAWAY_MARK if line.startswith("#") else line
                                           for line in source.split("\n")) + "\n\n" + THROWAWAY_MARK
        (folder / name).write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def course_site(tmp_path_factory):
    """The course website, built once for the session by `./course site` into a folder of its own;
    with the throwaway Chinese edition when notebooks/zh/ is not there. Yields its folder and
    ``{edition: notebooks folder}``."""
    import sys

    base = tmp_path_factory.mktemp("site")
    sources = {"en": ROOT / "notebooks", "zh": ROOT / "notebooks" / "zh"}
    args = [str(ROOT / "course"), "site", "--out", str(base / "site")]
    if not any(sources["zh"].glob("*.ipynb")):
        sources["zh"] = throwaway_edition(base / "zh")
        args += ["--edition", f"zh={sources['zh']}"]
    env = dict(os.environ)
    if sys.prefix != sys.base_prefix:  # the suite runs from the venv ./course made: use that one
        env["NETHELPERS_VENV"] = sys.prefix
    started = time.monotonic()
    done = subprocess.run(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "site-build.txt").write_text(f"{time.monotonic() - started:.1f} s\n{done.stdout}")
    return base / "site", sources
