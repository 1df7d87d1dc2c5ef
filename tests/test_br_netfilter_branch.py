"""Notebook 08b's other branch, run for real: node1's bridge skipping the IPv4 hooks.

Where the host has loaded br_netfilter, every network namespace has its own
``net.bridge.bridge-nf-call-*`` settings, 1 by default. A node whose settings are 0 is, for the packet
path, what a host without the module gives: bridged IPv4 frames skip the IPv4 netfilter hooks. The
notebook's setup cell sets them to 0 in node1 when ``NETHELPERS_BR_NETFILTER=off``, so this test runs
the whole notebook (every folded check included) through the branch that a host without the module
takes, on a host that has it. Its saved outputs are of the other branch, so the notebook is executed,
not compared: what it claims in this branch is asserted by its own check cells.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "08b-hairpin-br-netfilter.ipynb"
HOST_SETTING = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


def _outputs(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_08b_runs_its_checks_where_the_bridge_skips_the_ipv4_hooks(monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    host_before = HOST_SETTING.read_text() if HOST_SETTING.exists() else None
    nb = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("NETHELPERS_BR_NETFILTER", "off")  # the kernel inherits the environment
    nbclient.NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    text = _outputs(nb)
    assert "node1's bridge passes IPv4 frames to the IPv4 hooks (bridge_hooks): False" in text
    assert "node1's bridge skips the IPv4 hooks here" in text            # Fix 1 says so, and shows it
    assert "the server logged requests from: []" in text                  # c2's first request never arrived
    assert "c2 -> 10.168.0.2:8080 : no answer within 3.0 s  logged as: None" in text   # nor after Fix 3
    assert "c2 -> 10.168.0.2:8080 : HTTP/1.0 200 OK\nlogged as: 172.17.0.1" in text   # the MASQUERADE instead
    host_after = HOST_SETTING.read_text() if HOST_SETTING.exists() else None
    assert host_after == host_before                                     # node1's setting, not the host's

