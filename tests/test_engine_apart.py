"""The engine stands apart: its folder imports only the standard library (STYLE 18)."""

import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = """
    import importlib, pkgutil, sys, types
    for name in ("pyroute2", "scapy", "yaml", "jsonschema", "matplotlib", "numpy"):
        sys.modules[name] = None  # poisoned: importing it raises ImportError
    package = types.ModuleType("nethelpers")  # the folder alone, not the package's __init__
    package.__path__ = [sys.argv[1] + "/nethelpers"]
    sys.modules["nethelpers"] = package
    import nethelpers.engine
    for info in pkgutil.iter_modules(nethelpers.engine.__path__):
        if info.name != "__main__":
            importlib.import_module("nethelpers.engine." + info.name)
    outside = sorted(m for m in sys.modules if m.split(".")[0] not in sys.stdlib_module_names
                     and not m.startswith("nethelpers.engine") and m not in ("nethelpers", "__main__")
                     and sys.modules[m] is not None)
    print(" ".join(outside) or "stdlib only")
"""


def test_the_engine_imports_only_the_standard_library():
    run = subprocess.run([sys.executable, "-I", "-S", "-c", textwrap.dedent(CHECK), REPO], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "stdlib only"
