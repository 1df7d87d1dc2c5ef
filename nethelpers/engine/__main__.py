"""Start the engine: ``SOCKET_FD ...`` to serve a client (see :mod:`.server`); from a zip of
this folder (see ``nethelpers.sandbox``), ``boot SOCKET_FD ...`` to set up its sandbox's
``/run`` and start it (see :mod:`.boot`), or ``userns READY_FD GO_FD -- ARGV...`` to enter a
user namespace mapped by the client first (see :mod:`.userns`).

A step that fails before the engine serves writes one line to stderr, :data:`.wire.START_FAILED`
and the reason, and exits with status 1: the client reads that line and raises it (a serving
engine never gets here: it ends with ``os._exit``)."""

import sys

from nethelpers.engine.wire import START_FAILED


def run(args):
    try:
        _start(args)
    except Exception as e:
        sys.stderr.write(f"{START_FAILED}{e}\n")
        sys.exit(1)


def _start(args):
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
