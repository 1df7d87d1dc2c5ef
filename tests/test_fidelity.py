"""A default node against a real Docker host, aspect by aspect (nethelpers.fidelity).

The reference is Debian's dockerd 20.10.24 with its default networking, inside a network namespace
of the test's own (tests/dockerref.py); the lab is fidelity.reference_topology(). One describer reads
both; the test fails on any difference that fidelity.ALLOWED does not explain, and records the
comparison in nethelpers/data/docker-fidelity.json for notebook 13. Root only, slow.
"""

import json
import tempfile
from pathlib import Path

import pytest

from conftest import host_network_state
from dockerengine import needs_engine

pytestmark = needs_engine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def docker_side():
    """The reference host's description; the host's own namespace checked unchanged after."""
    from dockerref import Reference
    from nethelpers import fidelity

    before = host_network_state()
    reference = Reference(Path(tempfile.mkdtemp(prefix="docker-fidelity-", dir=ROOT / "build")))
    try:
        described = fidelity.describe(reference)
    finally:
        reference.close()
    assert host_network_state() == before, "the reference Docker host changed the host's network namespace"
    return described


@pytest.fixture(scope="module")
def lab_side():
    from nethelpers import LAB_PYTHON, Lab, fidelity

    with Lab(fidelity.reference_topology("fidelity")) as lab:
        side = fidelity.LabSide(lab)
        servers = side.start_servers()
        described = fidelity.describe(side, python=LAB_PYTHON)
        for server in servers:
            server.stop()
    return described


def test_default_node_is_a_docker_host(docker_side, lab_side):
    from nethelpers import fidelity

    comparison = fidelity.compare(docker_side, lab_side)
    counts = fidelity.tally(comparison)
    fidelity.RECORD.write_text(json.dumps(fidelity.record(comparison), indent=1) + "\n")
    print(counts)
    print(fidelity.report(comparison))
    assert counts["different"] == 0, fidelity.report(comparison)
