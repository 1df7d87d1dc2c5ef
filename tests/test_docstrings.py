"""The examples in nethelpers' docstrings run, and say what they show."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import nethelpers

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(info.name for info in pkgutil.walk_packages(nethelpers.__path__, "nethelpers.")
                 if not info.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_in_the_docstrings_run(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples name the course's files from the checkout's root
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"
