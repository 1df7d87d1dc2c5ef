"""IPython magics: a shell inside a lab's namespace, as a learner would type at a terminal.

>>> %load_ext nethelpers.magics                      # doctest: +SKIP
>>> %lab c1 ip -br addr | grep eth0                  # doctest: +SKIP
eth0@if5         UP             172.17.0.2/16
>>> %%lab node1                                      # doctest: +SKIP
... bridge fdb show br docker0 | grep -v permanent
... ip neigh

The line (or the cell) is run by ``sh`` inside the namespace, so pipes, ``;`` and ``$(...)``
work as in a terminal. The lab is the one open in this kernel; with several open, name it:
``%lab --lab nb04 c1 ip route``. The magic returns the :class:`~nethelpers.lab.Result`
(``r = %lab c1 ping -c 1 172.17.0.3``, then ``r.ok``, ``r.stdout``).
"""

import re

from .errors import NetHelpersError
from .i18n import tr

USAGE = "usage: %lab [--lab NAME] [--timeout SECONDS] NAMESPACE COMMAND...  or  %%lab [--lab NAME] NAMESPACE"
_OPTION = re.compile(r"\s*--(lab|timeout)(?:=|\s+)(\S+)")


class MagicError(NetHelpersError, ValueError):
    """A %lab line that cannot be run: says what was wrong and how to write it."""


def parse(line, cell=None):
    """Split a magic's line into ``(lab name or None, timeout, namespace, script)``.

    >>> parse("--lab nb04 c1 ip -br a | grep eth0")
    ('nb04', 60.0, 'c1', 'ip -br a | grep eth0')
    """
    options = {}
    rest = line
    while True:
        match = _OPTION.match(rest)
        if not match:
            break
        options[match.group(1)] = match.group(2)
        rest = rest[match.end():]
    words = rest.strip().split(None, 1)
    if not words:
        raise MagicError(f"no namespace given; {USAGE}")
    namespace = words[0]
    script = cell if cell is not None else (words[1] if len(words) > 1 else "")
    if cell is not None and len(words) > 1:
        raise MagicError(f"%%lab takes the namespace only on its line (got {rest.strip()!r}); "
                         f"the commands go in the cell")
    if not script.strip():
        raise MagicError(f"no command to run in {namespace!r}; {USAGE}")
    timeout = options.get("timeout", "60")
    try:
        seconds = float(timeout)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise MagicError(f"--timeout {timeout!r} is not a positive number of seconds")
    return options.get("lab"), seconds, namespace, script


def open_lab(name=None):
    """The lab built (and not closed) in this process, or the one called ``name``."""
    from .lab import _live

    labs = {lab.topology.name: lab for lab in list(_live.values()) if not lab.closed}
    if name is not None:
        if name not in labs:
            raise MagicError(f"no open lab {name!r} in this kernel; open labs: {', '.join(sorted(labs)) or 'none'}")
        return labs[name]
    if not labs:
        raise MagicError(tr("no lab is open in this kernel: build one first (lab = Lab(topo))"))
    if len(labs) > 1:
        raise MagicError(f"{len(labs)} labs are open ({', '.join(sorted(labs))}): "
                         f"say which, e.g. %lab --lab {sorted(labs)[0]} c1 ip -br addr")
    return next(iter(labs.values()))


def lab_magic(line, cell=None):
    """``%lab NS COMMAND`` / ``%%lab NS``: run shell in namespace NS of the open lab."""
    name, timeout, namespace, script = parse(line, cell)
    lab = open_lab(name)
    if namespace not in lab.namespaces:
        raise MagicError(f"no namespace {namespace!r} in lab {lab.topology.name!r}; "
                         f"its namespaces: {', '.join(lab.namespaces)}")
    return lab.exec(namespace, ["sh", "-c", script], timeout=timeout)


def load_ipython_extension(ipython):
    """``%load_ext nethelpers.magics`` (or ``%load_ext nethelpers``) registers ``%lab``/``%%lab``."""
    ipython.register_magic_function(lab_magic, magic_kind="line_cell", magic_name="lab")
