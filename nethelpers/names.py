"""The naming contract: how lab objects are named, and which names the kernel accepts.

Everything that gets a name or an address without being told one is derived here,
deterministically, so that a lab built twice prints the same output:

* a container's host-side veth is ``veth`` + 7 hex characters of a hash of the lab and
  container names (Docker uses 7 random hex characters);
* a container's MAC is Docker's legacy rule, ``02:42`` followed by the four bytes of its
  IPv4 address (``172.17.0.2`` -> ``02:42:ac:11:00:02``), as Docker did up to 27.x;
* every other MAC (bridges, host-side veths, node uplinks) is locally administered and
  derived from a hash, so it repeats from run to run.

Interface and namespace names must match :data:`NAME_RE`: at most 15 characters (the
kernel's IFNAMSIZ less the final NUL), letters, digits, ``_``, ``.`` and ``-``, not starting
with ``.`` or ``-``; ``all`` and ``default`` are refused (the kernel keeps them for the
``net.ipv4.conf.all``/``.default`` sysctls, and ``ip`` for ``-all``). So a name never holds
whitespace, ``/``, ``:`` (an endpoint's separator) or anything a shell reads.

A lab's name must match :data:`LAB_NAME_RE`: the same characters, at most 64 of them.
"""

import hashlib
import ipaddress
import os
import re
import stat
import sys

IFNAMSIZ = 15
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # matched whole (fullmatch): no trailing newline
RESERVED_NAMES = ("all", "default")
LAB_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def name_problem(name, what="name"):
    """Return why ``name`` cannot be an interface or namespace name, or None if it can."""
    if not isinstance(name, str) or not name:
        return f"{what} {name!r} must be a non-empty string"
    if len(name) > IFNAMSIZ:
        return (
            f"{what} {name!r} is {len(name)} characters long; the kernel allows at most "
            f"{IFNAMSIZ}: choose a shorter one"
        )
    if not NAME_RE.fullmatch(name):
        return (
            f"{what} {name!r} has characters the kernel or `ip` refuses; use letters, digits, "
            "'_', '.' and '-', not starting with '.' or '-'"
        )
    if name in RESERVED_NAMES:
        return f"{what} {name!r} is reserved by the kernel (net.ipv4.conf.{name}); choose another name"
    return None


def lab_name_problem(name):
    """Return why ``name`` cannot be a lab's name, or None if it can."""
    if not isinstance(name, str) or not LAB_NAME_RE.fullmatch(name):
        return (f"lab name {name!r} must be 1 to 64 letters, digits, '_', '.' and '-', not starting "
                "with '.' or '-'; choose a name like 'demo-1'")
    return None


def _digest(*parts):
    return hashlib.sha1("/".join(parts).encode()).digest()


def veth_name(lab, container):
    """Host-side veth name of ``container`` in ``lab``: ``veth`` + 7 hex characters.

    >>> veth_name("demo", "c1")
    'vethc5b6591'
    """
    return "veth" + _digest(lab, container).hex()[:7]


def docker_mac(ip):
    """Docker's legacy container MAC: 02:42 + the four bytes of the IPv4 address.

    >>> docker_mac("172.17.0.2")
    '02:42:ac:11:00:02'
    """
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def derived_mac(*parts, prefix=None):
    """A stable, locally administered unicast MAC derived from ``parts``.

    With ``prefix="02:42"`` the MAC looks like the ones Docker gives its bridges.
    """
    raw = bytearray(_digest(*parts)[:6])
    raw[0] = (raw[0] & 0xFC) | 0x02  # unicast, locally administered
    mac = ":".join(f"{b:02x}" for b in raw)
    if prefix:
        mac = prefix + mac[len(prefix):]
    return mac


def mac_problem(mac, what="MAC"):
    """Return why ``mac`` is not a usable unicast MAC, or None."""
    if not isinstance(mac, str) or not MAC_RE.fullmatch(mac.lower()):
        return f"{what} {mac!r} is not a MAC address like 02:42:ac:11:00:02"
    if int(mac[:2], 16) & 1:
        return f"{what} {mac!r} is a multicast address; a unicast one has an even first byte"
    return None


# --- the interpreter lab commands run ---------------------------------------------------


def _lab_python():
    """The Python that lab commands can run: this one's interpreter without its venv (the
    system's), when every user may reach it; else the system's ``/usr/bin/python3``.

    Lab root is not the notebook's user when root builds a lab (see :mod:`nethelpers.sandbox`),
    and the notebook's venv may sit where only its owner can go (a checkout under /root).
    Lab commands get the standard library only.
    """
    for candidate in (os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable),
                      "/usr/bin/python3"):
        if _everyone_can_run(candidate):
            return candidate
    return "python3"


def _everyone_can_run(path):
    try:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        while parent != os.path.dirname(parent):
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
            parent = os.path.dirname(parent)
    except OSError:
        return False
    return True


LAB_PYTHON = _lab_python()
"""A Python interpreter that lab commands can run (standard library only):
``lab.spawn("c1", [LAB_PYTHON, "-m", "http.server", "80"])``."""
