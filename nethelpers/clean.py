"""`python -m nethelpers clean`: end lab engines whose owner is gone.

A lab lives in its engine's namespaces; nothing of it is ever in the host's network
namespace or in the host's ``/run/netns``. An engine ends by itself when its client hangs up,
so this finds nothing in normal use; but a copy of the client's socket can outlive the client
(a worker it forked), and then the engine lives on, under whatever process adopted it (init,
or a subreaper such as ``systemd --user``). So an engine is known by its command line (an
``unshare`` running ``nethelpers.engine``, of the current user, or of root runs' lab ids), and
it is orphaned when the client its command line names (``client=PID:START``) is gone, whoever
its parent is now. ``--all`` ends every one.
"""

import os
import signal

MARKER = b"nethelpers.engine"


def engines():
    """Yield ``(pid, ppid)`` of each engine sandbox (the ``unshare`` process) of this user."""
    for pid, ppid, _ in _engines():
        yield pid, ppid


def _engines():
    from .sandbox import ROOT_RUN_IDS

    root = os.getuid() == 0  # root runs' engines are their labs' ids
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            owner = os.stat(f"/proc/{entry}").st_uid
            if owner != os.getuid() and not (root and owner in ROOT_RUN_IDS):
                continue
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if argv and os.path.basename(argv[0]) == b"unshare" and MARKER in argv:
            yield int(entry), ppid, argv


def orphaned(pid, ppid, argv=()):
    """True if the engine ``pid`` has lost its client (see the module's docstring)."""
    from .sandbox import process_start

    for arg in argv:
        if arg.startswith(b"client="):
            client, _, start = arg[len(b"client="):].decode().partition(":")
            return str(process_start(int(client))) != start
    return ppid == 1 or not os.path.exists(f"/proc/{ppid}")  # an engine of an older version


def clean(all_engines=False):
    """End orphaned engines (all of this user's with ``all_engines``); returns the pids ended."""
    ended = []
    for pid, ppid, argv in list(_engines()):
        if all_engines or orphaned(pid, ppid, argv):
            try:
                os.kill(pid, signal.SIGKILL)  # --kill-child takes the engine, PID 1 of its lab
                ended.append(pid)
            except ProcessLookupError:
                pass
    return ended


def main(all_engines=False):
    ended = clean(all_engines)
    if ended:
        print(f"ended {len(ended)} lab engine(s): pid {', '.join(map(str, ended))}")
    else:
        print("nothing to clean: no orphaned lab engine of this user")
    return 0
