"""The engine's first step in its sandbox: from the zip it was started from to ``python -m``.

The client starts ``python3 -I -S <zip in a memfd> boot ...``: nothing of the checkout, no
site-packages. This step mounts the sandbox's private tmpfs on ``/run`` (and a lab's own ``/dev/shm``;
``/tmp`` stays the host's, where a client's working directory may be), copies the zip's
files to a read-only folder there, and executes ``python -m nethelpers.engine`` from it, so
that the engine's command line (``/proc/1/cmdline``) says what it is.
"""

import os
import sys
import zipfile

from .kernel import MS_BIND, MS_RDONLY, mount

CODE_DIR = "/run/nethelpers-engine"
MS_REMOUNT = 32


def main(args):
    archive = sys.argv[0]
    os.makedirs("/run", exist_ok=True)
    mount("tmpfs", "/run", "tmpfs", 0, "mode=755,size=16m")
    if os.path.isdir("/dev/shm"):  # the lab's own: nothing left in the host's, or seen by another lab
        mount("tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777,size=64m")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(CODE_DIR, [name for name in zf.namelist() if name.startswith("nethelpers/")])
    mount(CODE_DIR, CODE_DIR, None, MS_BIND)
    mount("none", CODE_DIR, None, MS_BIND | MS_REMOUNT | MS_RDONLY)  # nobody changes it from here on
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(PYTHONPATH=CODE_DIR, PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    os.close(int(archive.rsplit("/", 1)[1]))  # the memfd: not passed on to the engine
    os.execve(sys.executable, [sys.executable, "-m", "nethelpers.engine", *args], env)
