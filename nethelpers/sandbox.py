"""Starting a lab engine in its sandbox, and talking to it.

:class:`EngineClient` starts ``python -m nethelpers.engine`` under ``unshare`` in a new user,
mount, network and PID namespace (as root without user namespaces: the same minus the user
namespace), in a session of its own so that a Jupyter interrupt does not reach it, and speaks
to it over a socketpair. The engine exits when the client's end closes: at :meth:`close`, at
garbage collection, at the client's exit or SIGKILL.
"""

import functools
import os
import shutil
import socket
import subprocess
import sys
import threading

from . import wire
from .errors import EngineError, PrivilegeError

SANDBOX = ["--mount", "--propagation", "private", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
USERNS = ["--user", "--map-root-user"]
DOCTOR_HINT = "see `python -m nethelpers doctor`"


@functools.lru_cache(maxsize=None)
def userns_available():
    """True if this user can make a user namespace (and be root in it) on this machine."""
    if not shutil.which("unshare"):
        return False
    try:
        probe = subprocess.run(["unshare", *USERNS, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def sandbox_prefix():
    """The ``unshare`` command line that wraps an engine on this machine.

    With user namespaces the engine is root only over its own namespaces. Root can choose the
    sandbox without one (``NETHELPERS_USERNS=0``): the same namespaces, real root inside, which
    tools that change users (tcpdump drops to its own user) need.
    """
    if not shutil.which("unshare"):
        raise PrivilegeError(f"`unshare` (util-linux) is not installed; {DOCTOR_HINT}")
    if userns_available() and os.environ.get("NETHELPERS_USERNS", "1") != "0":
        return ["unshare", *USERNS, *SANDBOX]
    if os.geteuid() == 0:
        return ["unshare", *SANDBOX]
    raise PrivilegeError(
        "you need CAP_NET_ADMIN or unprivileged user namespaces to build a lab, and this "
        f"process has neither; {DOCTOR_HINT}"
    )


class EngineClient:
    """One engine process and the connection to it. Thread-safe: one request at a time."""

    def __init__(self):
        prefix = sandbox_prefix()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                [*prefix, sys.executable, "-m", "nethelpers.engine", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=env,
            )
        finally:
            theirs.close()
        self.sock = ours
        self.sock.set_inheritable(False)
        self.lock = threading.Lock()
        self.seq = 0
        try:
            self.info = self.call("hello")
        except EngineError:
            self.close()
            raise

    def call(self, method, **kwargs):
        """Send one request and return its reply's value (and fds, for requests that pass some)."""
        value, fds = self.call_fds(method, **kwargs)
        for fd in fds:
            os.close(fd)
        return value

    def call_fds(self, method, **kwargs):
        with self.lock:
            if self.sock is None:
                raise EngineError("this lab's engine is closed; build the lab again")
            self.seq += 1
            seq = self.seq
            try:
                wire.send(self.sock, (seq, method, kwargs))
                while True:
                    (rseq, ok, value), fds = wire.recv(self.sock)
                    if rseq == seq:
                        break
                    for fd in fds:  # the late reply of a request that was interrupted
                        os.close(fd)
            except KeyboardInterrupt:
                self._cancel()
                raise
            except (EOFError, OSError) as e:
                raise EngineError(self._death_note(e)) from None
        if not ok:
            kind, message = value
            if kind == "KeyError":
                raise KeyError(message.strip("'\""))
            raise EngineError(message)
        return value, fds

    def _cancel(self):
        self.seq += 1
        try:
            wire.send(self.sock, (self.seq, "cancel", {}))
        except OSError:
            pass

    def _death_note(self, error):
        try:
            self.process.wait(timeout=5)
            stderr = self.process.stderr.read().decode(errors="replace").strip()
        except subprocess.TimeoutExpired:
            stderr = ""
        last = stderr.splitlines()[-1] if stderr else str(error)
        if "Operation not permitted" in stderr or "Permission denied" in stderr:
            raise PrivilegeError(f"the lab engine could not start its sandbox ({last}); {DOCTOR_HINT}")
        return f"the lab engine stopped unexpectedly: {last}"

    def close(self):
        """End the engine: every namespace and process of its lab goes with it."""
        with self.lock:
            if self.sock is None:
                return
            self.sock.close()
            self.sock = None
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()

    @property
    def closed(self):
        return self.sock is None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
