"""`python -m nethelpers doctor` says what is missing, and names an unsafe sandbox."""

import os

import pytest

from nethelpers import doctor


def _rows(table):
    return {row["check"]: row for row in table.rows}


def test_a_missing_required_tool_is_missing(monkeypatch):
    monkeypatch.setattr(doctor, "_kernel_rows", lambda: [])
    monkeypatch.setitem(doctor.TOOLS, "nethelpers-no-such-tool", ("no-such-package", True))
    monkeypatch.setitem(doctor.TOOLS, "nethelpers-no-such-extra", ("no-such-package", False))
    rows = _rows(doctor.checks())
    assert rows["tool nethelpers-no-such-tool"]["result"] == "MISSING"
    assert "apt-get install no-such-package" in rows["tool nethelpers-no-such-tool"]["what to do"]
    assert rows["tool nethelpers-no-such-extra"]["result"] == "optional"


@pytest.mark.skipif(os.geteuid() != 0, reason="root runs only")
def test_the_unsafe_root_modes_are_named(monkeypatch):
    monkeypatch.setattr(doctor, "_kernel_rows", lambda: [])
    assert _rows(doctor.checks())["lab root on the host"]["result"] == "ok"
    monkeypatch.setenv("NETHELPERS_UNSAFE_ROOT", "1")
    row = _rows(doctor.checks())["lab root on the host"]
    assert row["result"] == "UNSAFE" and "host's root" in row["detail"]
