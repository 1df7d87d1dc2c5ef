"""Root runs: a user namespace whose root is an unprivileged id on the host.

Run as root, ``unshare --map-root-user`` would map the lab's root to the host's root: a lab
command could then write /etc or read /etc/shadow. Instead the client starts this step first:
it enters a new user namespace, says so on ``ready``, waits while the client (root outside)
writes ``uid_map``/``gid_map`` mapping 0 inside to an id no account has and no other lab has
(``nethelpers.sandbox.root_run_id``), becomes that root,
then executes the rest of the sandbox (``unshare ...``) in it.
"""

import os
import sys

from .kernel import check, libc

CLONE_NEWUSER = 0x10000000


def main(ready_fd, go_fd, argv):
    check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    if os.read(go_fd, 1) != b"1":
        sys.exit("nethelpers: the client did not map the lab's user namespace; nothing was started")
    os.close(go_fd)
    os.setgroups([])
    os.setresgid(0, 0, 0)  # root of the namespace: the unprivileged id outside
    os.setresuid(0, 0, 0)
    os.execvp(argv[0], argv)
