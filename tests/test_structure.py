"""The shape of the description side of the package: the plan and the checks import no Topology
(no import cycle), and each function fits on a screen."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nethelpers"
SCREEN = 50  # lines


def imports(module):
    tree = ast.parse((PACKAGE / module).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(node.module or "")
    return found


def test_no_import_cycle_between_description_checks_and_plan():
    assert "topology" not in imports("validate.py")
    assert imports("plan.py") == {""}  # only `from . import names`
    assert "validate" in imports("topology.py") and "plan" in imports("validate.py")


@pytest.mark.parametrize("module", ["validate.py", "plan.py", "labfile.py", "topology.py", "names.py", "errors.py"])
def test_each_function_fits_on_a_screen(module):
    tree = ast.parse((PACKAGE / module).read_text())
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= SCREEN]
    assert not long, f"{module}: split these: {long}"
