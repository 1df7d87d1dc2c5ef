"""``python -m nethelpers.engine FD``: serve the client on socket FD (see :mod:`.server`)."""

import sys

from nethelpers.engine.server import main

if __name__ == "__main__":
    main(int(sys.argv[1]))
