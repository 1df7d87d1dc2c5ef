"""A default node against a real Docker host, aspect by aspect (nethelpers.fidelity).

The reference is Debian's dockerd 20.10.24 with its default networking, inside a network namespace
of the test's own (tests/dockerref.py); the lab is fidelity.reference_topology(). One describer reads
both; the test fails on any difference that fidelity.ALLOWED does not explain, and on an allowance
that no difference needs, and records the comparison in nethelpers/data/docker-fidelity.json for
notebook 13. The same again for each of fidelity.VARIANTS (dockerd --userland-proxy=false against
a node with userland_proxy=False). Root only, slow.
"""

import tempfile
from pathlib import Path

import pytest

from conftest import host_network_state
from dockerengine import needs_engine

pytestmark = needs_engine

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = [None, "--userland-proxy=false"]


def described_docker(variant):
    """The reference host's description; the host's own namespace checked unchanged after."""
    from dockerref import Reference
    from nethelpers import fidelity

    before = host_network_state()
    (ROOT / "build").mkdir(exist_ok=True)  # a fresh checkout has none
    reference = Reference(Path(tempfile.mkdtemp(prefix="docker-fidelity-", dir=ROOT / "build")),
                          userland_proxy=variant is None)
    try:
        described = fidelity.describe(reference)
    finally:
        reference.close()
    assert host_network_state() == before, "the reference Docker host changed the host's network namespace"
    return described


def described_lab(variant):
    from nethelpers import LAB_PYTHON, Lab, fidelity

    options = fidelity.VARIANTS[variant] if variant else {}
    with Lab(fidelity.reference_topology("fidelity", **options)) as lab:
        side = fidelity.LabSide(lab)
        servers = side.start_servers()
        described = fidelity.describe(side, python=LAB_PYTHON)
        for server in servers:
            server.stop()
    return described


@pytest.mark.parametrize("variant", VARIANTS, ids=["default", "no-userland-proxy"])
def test_node_is_a_docker_host(variant):
    from nethelpers import fidelity

    comparison = fidelity.compare(described_docker(variant), described_lab(variant))
    counts = fidelity.tally(comparison)
    fidelity.save(comparison, variant)
    print(variant or "default", counts)
    print(fidelity.report(comparison))
    assert counts["different"] == 0, fidelity.report(comparison)
    if variant is None:  # a variant needs fewer: no proxy, no listening sockets to tell apart
        assert fidelity.unused(comparison) == [], "allowances no difference needs: delete them"


def test_variants_are_the_options_docker_has():
    from nethelpers import fidelity

    assert set(fidelity.VARIANTS) == set(VARIANTS) - {None}
