"""Start the engine: ``SOCKET_FD ...`` to serve a client (see :mod:`.server`); from a zip of
this folder (see ``nethelpers.sandbox``), ``boot SOCKET_FD ...`` to set up its sandbox's
``/run`` and start it (see :mod:`.boot`), or ``userns READY_FD GO_FD -- ARGV...`` to enter a
user namespace mapped by the client first (see :mod:`.userns`)."""

import sys


def run(args):
    if args[:1] == ["userns"]:
        from nethelpers.engine.userns import main

        main(int(args[1]), int(args[2]), args[4:])
    elif args[:1] == ["boot"]:
        from nethelpers.engine.boot import main

        main(args[1:])
    else:
        from nethelpers.engine.server import main

        main(int(args[0]))


if __name__ == "__main__":
    run(sys.argv[1:])
