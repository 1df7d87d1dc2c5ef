"""Every learner's machine: `./course` on a system that cannot run labs, the AppArmor profile that is the
narrow fix on Ubuntu 24.04+, and doctor offering it."""

import inspect
import os
import re
import shutil
import subprocess
from datetime import date

import pytest

from nethelpers import doctor
from tests.dockerengine import ROOT, RUN_OPTIONS

PROFILE = ROOT / "apparmor" / "nethelpers-unshare"
CHROOT_CACHE = ROOT / "build" / "apparmor-parser"


def test_course_on_macos_says_so_at_once_and_gives_the_docker_command(tmp_path):
    # A `uname` that answers Darwin, first on PATH: the only way to be macOS on this machine.
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "uname").write_text("#!/bin/sh\n[ \"$1\" = -s ] && echo Darwin || echo 23.0.0\n")
    (shim / "uname").chmod(0o755)
    before = set(os.listdir(ROOT))
    result = subprocess.run([str(ROOT / "course"), "lab"], capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}",
                                     NETHELPERS_VENV=str(tmp_path / "venv")))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Darwin" in out and "docker run" in out and " ".join(RUN_OPTIONS) in out, out
    assert "installing" not in out and "creating" not in out, f"it started to install:\n{out}"
    assert not (tmp_path / "venv").exists() and set(os.listdir(ROOT)) == before


def test_doctor_offers_the_profile_not_the_sysctl():
    # The replaced hint must still be the one checks() writes, or the profile would never be offered.
    assert doctor.APPARMOR_SYSCTL_HINT in inspect.getsource(doctor._all_checks)
    assert "apparmor/nethelpers-unshare" in doctor.APPARMOR_PROFILE_HINT and PROFILE.exists()
    table = doctor.checks()
    assert not any(doctor.APPARMOR_SYSCTL_HINT in row["what to do"] for row in table.rows)


def test_the_profile_allows_user_namespaces_to_unshare_only():
    text = PROFILE.read_text()
    rules = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    (header,) = [r for r in rules if r.startswith("profile ")]
    assert re.fullmatch(r"profile nethelpers-unshare /usr/bin/unshare flags=\(unconfined\) \{", header), header
    assert "userns," in rules
    body = rules[rules.index(header) + 1:rules.index("}")]
    assert body == ["userns,", "include if exists <local/nethelpers-unshare>"], body


def _parser_4():
    """An AppArmor 4 apparmor_parser (the `userns` rule is new in 4.0): the machine's, or Debian trixie's in a
    debootstrapped root made at most once a day under build/apparmor-parser/; returns (command, root or None)."""
    parser = shutil.which("apparmor_parser", path=os.environ["PATH"] + ":/usr/sbin:/sbin")
    if parser:
        version = subprocess.run([parser, "--version"], capture_output=True, text=True).stdout
        if re.search(r"version (\d+)", version) and int(re.search(r"version (\d+)", version)[1]) >= 4:
            return [parser], None
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        pytest.skip(f"{parser or 'no apparmor_parser'} is older than AppArmor 4; as root with debootstrap, "
                    "the test makes a Debian trixie root with AppArmor 4")
    root = CHROOT_CACHE / f"trixie-{date.today():%Y%m%d}"
    if not (root / "usr/sbin/apparmor_parser").exists():
        shutil.rmtree(CHROOT_CACHE, ignore_errors=True)
        CHROOT_CACHE.mkdir(parents=True)
        mirror = subprocess.run(["sh", "-c", "cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk "
                                 "'tolower($1)==\"uris:\" && $2 !~ /security/ {print $2; exit}'"],
                                capture_output=True, text=True).stdout.strip() or "http://deb.debian.org/debian"
        made = subprocess.run(["debootstrap", "--variant=minbase", "--include=apparmor", "trixie", str(root), mirror],
                              capture_output=True, text=True, timeout=900)
        assert made.returncode == 0, f"debootstrap trixie from {mirror} failed:\n{made.stderr[-3000:]}"
    return ["chroot", str(root), "apparmor_parser"], root


@pytest.mark.slow
def test_the_profile_parses_with_apparmor_4():
    command, root = _parser_4()
    path = str(PROFILE)
    if root is not None:
        shutil.copy(PROFILE, root / "tmp" / PROFILE.name)
        path = f"/tmp/{PROFILE.name}"
    # -Q: parse and compile, no kernel load; -K: no cache; a broken rule fails here.
    result = subprocess.run([*command, "-Q", "-K", path], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    broken = PROFILE.read_text().replace("userns,", "userns nonsense,")
    target = (root / "tmp" / "broken") if root is not None else ROOT / "build" / "broken-profile"
    target.write_text(broken)
    bad = subprocess.run([*command, "-Q", "-K", "/tmp/broken" if root is not None else str(target)],
                         capture_output=True, text=True, timeout=120)
    target.unlink()
    assert bad.returncode != 0, "the parser accepted a broken profile: the check checks nothing"
