"""nethelpers: container-networking labs on the real kernel, in namespaces you own.

Describe a lab (:class:`Topology`, or a YAML lab file), build it (:class:`Lab`), run commands
in its namespaces, read the kernel's tables back, and tear it down. Everything runs inside a
sandbox of user, mount, network and PID namespaces: nothing touches the host's network, and
nothing outlives the process that built it.
"""

from .errors import CommandError, EngineError, NetHelpersError, PrivilegeError, TopologyError
from .lab import LAB_PYTHON, Lab, Process, Result
from .state import Table
from .topology import Bridge, Topology

__all__ = [
    "LAB_PYTHON", "Bridge", "CommandError", "EngineError", "Lab", "NetHelpersError", "PrivilegeError",
    "Process", "Result", "Table", "Topology", "TopologyError",
]
__version__ = "0.1.0"


def load_ipython_extension(ipython):
    """``%load_ext nethelpers``: the ``%lab`` and ``%%lab`` magics (:mod:`nethelpers.magics`)."""
    from .magics import load_ipython_extension as load

    load(ipython)
