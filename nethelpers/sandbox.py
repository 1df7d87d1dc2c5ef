"""Starting a lab engine in its sandbox, and talking to it.

:class:`EngineClient` starts the engine (:mod:`nethelpers.engine`) under ``unshare`` in a new
user, mount, network, IPC and PID namespace, in a session of its own so that a Jupyter interrupt
does not reach it, and speaks to it over a socketpair. The engine exits when the client's end
closes: at :meth:`close`, at garbage collection, at the client's exit or SIGKILL.

The engine runs from a copy of its own folder: a zip held in a sealed memfd, run by the
system's Python with ``-I -S`` (no site-packages, no environment), so that it imports only the
standard library and needs no right to read the checkout. Its modes (see :func:`sandbox_mode`):

- ``rootless``: an ordinary user; the lab's root is that user on the host.
- ``root``: run as root, the lab's root is an id of :data:`ROOT_RUN_IDS` on the host, one no
  account has and no other lab has (see :func:`root_run_id`): it cannot read /etc/shadow or
  write /etc. The client maps it (see ``engine.userns``).
- ``unsafe root`` (``NETHELPERS_UNSAFE_ROOT=1``), and ``root without user namespace``
  (``NETHELPERS_USERNS=0``, or no user namespaces): the lab's root is the host's root. Only
  when asked; ``python -m nethelpers doctor`` names them unsafe.
"""

import functools
import grp
import fcntl
import io
import os
import pwd
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile

from .engine import wire
from .errors import EngineError, PrivilegeError, StartError

SANDBOX = ["--mount", "--propagation", "private", "--net", "--ipc", "--pid", "--fork", "--kill-child", "--mount-proc"]
USERNS = ["--user", "--map-root-user"]
DOCTOR_HINT = "see `python -m nethelpers doctor`"
MARKER = "nethelpers.engine"  # in every engine's command line: how `clean` knows one
ROOT_RUN_IDS = range(0x7FC00000, 0x80000000)  # root runs' lab roots: one id per pid (pid_max is 2**22 at most)
# Docker's containers let groups 0 to 2**31-1 ping (net.ipv4.ping_group_range), a range whose ends
# the kernel takes only if both are groups of the lab's user namespace: a root run's lab maps group
# PING_GROUP_HIGH too, to a host gid of its own above the roots' ids (PING_GROUP_IDS.start + pid).
PING_GROUP_HIGH = 2**31 - 1
PING_GROUP_IDS = range(ROOT_RUN_IDS.stop, ROOT_RUN_IDS.stop + len(ROOT_RUN_IDS))
ENGINE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ")  # the client's, passed on


@functools.cache
def userns_available():
    """True if this user can make a user namespace (and be root in it) on this machine."""
    if not shutil.which("unshare"):
        return False
    try:
        probe = subprocess.run(["unshare", *USERNS, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def sandbox_mode():
    """``"rootless"``, ``"root"``, ``"unsafe root"`` or ``"root without user namespace"``."""
    if not shutil.which("unshare"):
        raise PrivilegeError(f"`unshare` (util-linux) is not installed; {DOCTOR_HINT}")
    userns = userns_available() and os.environ.get("NETHELPERS_USERNS", "1") != "0"
    if os.geteuid() != 0:
        if userns:
            return "rootless"
        raise PrivilegeError(
            "you need CAP_NET_ADMIN or unprivileged user namespaces to build a lab, and this "
            f"process has neither; {DOCTOR_HINT}"
        )
    if not userns:
        return "root without user namespace"
    return "unsafe root" if os.environ.get("NETHELPERS_UNSAFE_ROOT") == "1" else "root"


def sandbox_prefix(mapped=False):
    """The ``unshare`` command line that wraps an engine on this machine. ``mapped``: for the
    ``root`` mode's engine, which runs it inside the user namespace the client mapped (so it
    has no ``--user`` of its own); without it, a command line anyone can run as it is."""
    mode = sandbox_mode()
    if mode == "root without user namespace" or (mapped and mode == "root"):
        return ["unshare", *SANDBOX]
    return ["unshare", *USERNS, *SANDBOX]


@functools.cache
def _engine_zip():
    """The engine's folder as a zip that runs (``__main__.py``), and nothing else of the package."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "engine")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("__main__.py", "import sys\nfrom nethelpers.engine.__main__ import run\nrun(sys.argv[1:])\n")
        zf.writestr("nethelpers/__init__.py", '"""Only the engine\'s folder: see nethelpers/engine."""\n')
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                zf.write(os.path.join(folder, name), f"nethelpers/engine/{name}")
    return buffer.getvalue()


def _engine_code():
    """A sealed memfd holding :func:`_engine_zip`: nobody can change it once it is made."""
    fd = os.memfd_create(MARKER, os.MFD_ALLOW_SEALING)
    os.write(fd, _engine_zip())
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
    return fd


def _python():
    """The Python that runs the engine: the system's, which every user can run."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def client_token(pid=None):
    """``client=PID:START``: which process an engine serves (its pid and start time, so a reused
    pid is not taken for it). `clean` reads it back from the engine's command line."""
    pid = os.getpid() if pid is None else pid
    return f"client={pid}:{process_start(pid)}"


def process_start(pid):
    """The start time of ``pid`` (clock ticks since boot), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _engine_argv(code_fd, sock_fd, ready=None, go=None):
    engine = [_python(), "-I", "-S", f"/proc/self/fd/{code_fd}"]
    argv = [*sandbox_prefix(mapped=ready is not None), *engine, "boot", str(sock_fd), MARKER, client_token()]
    if ready is None:
        return argv
    return [*engine, "userns", str(ready), str(go), "--", *argv]


def _start_engine(sock_fd):
    """Start the engine's process on ``sock_fd``; returns its Popen."""
    code = _engine_code()
    mapped = sandbox_mode() == "root"
    ready, go = (os.pipe(), os.pipe()) if mapped else ((None, None), (None, None))
    env = {key: os.environ[key] for key in ENGINE_ENV if key in os.environ}
    try:
        process = subprocess.Popen(
            _engine_argv(code, sock_fd, ready[1], go[0]), pass_fds=[fd for fd in (code, sock_fd, ready[1], go[0]) if fd is not None],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
            env=env,
        )
    finally:
        for fd in (code, ready[1], go[0]):
            if fd is not None:
                os.close(fd)
    if mapped:
        _map_root(process, ready[0], go[1])
    return process


def root_run_id(pid):
    """The host uid and gid of the lab root of a root run whose sandbox is process ``pid``.

    A lab's own: two labs alive at once have two sandboxes, so two pids, so two ids (one lab's
    root cannot signal, trace or read the files of another's). The id is in use while the lab
    lives, and its pid with it; a pid reused later gets the id of a lab that is gone, whose
    processes were all killed with its sandbox and whose files were in its own ``/tmp``.
    """
    uid = ROOT_RUN_IDS.start + pid
    if uid not in ROOT_RUN_IDS:
        raise PrivilegeError(f"pid {pid} is beyond the {len(ROOT_RUN_IDS)} lab ids; lower kernel.pid_max")
    try:
        account = pwd.getpwuid(uid).pw_name
    except KeyError:
        return uid
    raise PrivilegeError(f"uid {uid}, a lab's root for pid {pid}, belongs to the account {account!r}: "
                         f"labs use uids {ROOT_RUN_IDS.start}-{ROOT_RUN_IDS.stop - 1}, which no account should have")


def _write_maps(pid, uid):
    high = PING_GROUP_IDS.start + (uid - ROOT_RUN_IDS.start)
    if _group_name(high) is not None:
        raise PrivilegeError(f"gid {high}, a lab's group for pid {pid}, belongs to the group {_group_name(high)!r}: "
                             f"labs use gids {PING_GROUP_IDS.start}-{PING_GROUP_IDS.stop - 1}, which no group should have")
    maps = {"gid_map": f"0 {uid} 1\n{PING_GROUP_HIGH} {high} 1\n", "uid_map": f"0 {uid} 1\n"}
    for name, text in maps.items():
        try:
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(text)
        except OSError as e:
            raise PrivilegeError(f"could not map the lab's root to uid {uid} ({name}: {e.strerror}); {DOCTOR_HINT}") from None


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def _map_root(process, ready, go):
    """Map the lab's root to :func:`root_run_id` for a process that entered a user namespace."""
    try:
        poller = select.poll()
        poller.register(ready, select.POLLIN)
        if not poller.poll(30_000) or os.read(ready, 1) != b"1":
            return  # it failed to start: its error comes with the first request
        try:
            _write_maps(process.pid, root_run_id(process.pid))
        except PrivilegeError:
            process.kill()
            process.wait()
            raise
        os.write(go, b"1")
    finally:
        os.close(ready)
        os.close(go)


# What each request's reply value must look like; anything else is refused (see _shape).
_EXEC = {"returncode": (int, type(None)), "stdout": bytes, "stderr": bytes, "status": str, "cut": bool}
_OUTPUT = {"returncode": (int, type(None)), "output": bytes, "cut": bool}
REPLIES = {
    "hello": {"pid": int, "uid": int, "in_userns": bool, "version": int, "root_by": str},
    "build": dict, "open_packet_sockets": int, "netlink_dump": dict, "settle": (int, float),
    "cancel": type(None), "exec": _EXEC, "spawn": int, "poll": _OUTPUT, "stop": _OUTPUT,
}
WAIT = 60.0  # seconds a request may take on top of its own timeout before the client gives up


def _shape(value, spec):
    """True if ``value`` matches ``spec``: a type, a tuple of types, or ``{key: spec}``."""
    if isinstance(spec, dict):
        return isinstance(value, dict) and set(value) == set(spec) and all(_shape(value[k], spec[k]) for k in spec)
    return isinstance(value, spec) and not (isinstance(value, bool) and spec in (int, (int, float)))


def _check_reply(reply, request, fds):
    """Refuse (FrameError) a reply that is not a well-formed reply to ``request``."""
    if isinstance(reply, dict) and isinstance(reply.get("seq"), int) and reply.get("ok") is True:
        value = reply.get("value")
        count = value if request == "open_packet_sockets" else 0
        if set(reply) == {"seq", "ok", "value"} and _shape(value, REPLIES[request]) and count == len(fds):
            return
    if isinstance(reply, dict) and isinstance(reply.get("seq"), int) and reply.get("ok") is False:
        if set(reply) == {"seq", "ok", "error", "message"} and not fds:
            if isinstance(reply["error"], str) and isinstance(reply["message"], str):
                return
    raise wire.FrameError(f"the engine's reply to `{request}` is not of the expected shape: {str(reply)[:200]}")


class EngineClient:
    """One engine process and the connection to it. Thread-safe: one request at a time.

    Every request has a deadline (its own timeout, if any, plus :data:`WAIT`). A connection
    that cannot be trusted any more (a deadline passed, a frame cut by Ctrl-C, bytes that are
    not a frame) is closed, which ends the engine and its lab: the next call says to rebuild.
    """

    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = _start_engine(theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._attach(ours, process)
        try:
            self.info = self.call("hello", version=wire.VERSION)
        except EngineError:
            self.close()
            raise

    def _attach(self, sock, process):
        self.sock, self.process = sock, process
        self.sock.set_inheritable(False)
        self.lock = threading.Lock()
        self.seq = 0
        self.broken = None  # why the connection was given up, once it was
        self.wait = WAIT

    def call(self, method, **kwargs):
        """Send one request and return its reply's value (and fds, for requests that pass some)."""
        value, fds = self.call_fds(method, **kwargs)
        for fd in fds:
            os.close(fd)
        return value

    def call_fds(self, method, **kwargs):
        if method not in REPLIES:
            raise ValueError(f"no such engine request: {method!r}; known: {', '.join(REPLIES)}")
        wait = self.wait + (kwargs.get("timeout") or 0) + 0.1 * len(kwargs.get("steps") or ())
        with self.lock:
            if self.sock is None:
                raise EngineError(self.broken or "this lab's engine is closed; build the lab again")
            self.seq += 1
            reply, fds = self._exchange(self.seq, method, kwargs, time.monotonic() + wait)
        if not reply["ok"]:
            for fd in fds:
                os.close(fd)
            if reply["error"] == "KeyError":
                raise KeyError(reply["message"].strip("'\""))
            raise EngineError(reply["message"])
        return reply["value"], fds

    def _exchange(self, seq, method, args, deadline):
        """Send a request, return its ``(reply, fds)``; late replies of cancelled requests are skipped."""
        self._frame(wire.send, deadline, method, {"seq": seq, "request": method, "args": args})
        while True:
            try:
                self._wait_readable(deadline, method)
            except KeyboardInterrupt:  # between frames: the channel stays whole
                self._cancel()
                raise
            reply, fds = self._frame(wire.recv, deadline, method)
            try:
                _check_reply(reply, method, fds)
            except wire.FrameError as e:
                wire.close_fds(fds)
                self._give_up(str(e))
            if reply["seq"] == seq:
                return reply, fds
            wire.close_fds(fds)  # the late reply of a request that was interrupted

    def _frame(self, operation, deadline, method, *message):
        """Send or receive one whole frame, or give the connection up: never half a frame."""
        try:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            return operation(self.sock, *message)
        except KeyboardInterrupt:
            self._give_up(f"`{method}` was interrupted in the middle of a message", interrupt=True)
        except TimeoutError:
            self._give_up(self._silence(method))
        except wire.FrameError as e:
            self._give_up(f"the engine's reply to `{method}` is not a message of this format: {e}")
        except (EOFError, OSError):
            self._give_up(*self._death_note(method))

    def _wait_readable(self, deadline, method):
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        while not poller.poll(max(deadline - time.monotonic(), 0) * 1000):
            if time.monotonic() >= deadline:
                self._give_up(self._silence(method))

    def _give_up(self, why, error=EngineError, interrupt=False):
        """Close the connection (the engine and its lab end) and raise why, as ``error``."""
        self.broken = why if error is not EngineError else f"{why}; the lab's engine was ended: build the lab again"
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # a stopped or busy engine would not notice the hang-up
        self._close_unlocked()
        if interrupt:
            raise KeyboardInterrupt(self.broken)
        raise error(self.broken) from None

    def _silence(self, method):
        state = _process_state(self._engine_pid())
        if state == "T":
            return f"the lab engine (pid {self._engine_pid()}) is stopped (SIGSTOP?) and did not answer `{method}`"
        return f"the lab engine did not answer `{method}` in time (its state: {state or 'gone'})"

    def _engine_pid(self):
        """The engine's pid here: the child of its ``unshare``, or the ``unshare`` itself."""
        try:
            with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as f:
                children = f.read().split()
        except OSError:
            children = []
        return int(children[0]) if children else self.process.pid

    def _cancel(self):
        self.seq += 1
        try:
            self.sock.settimeout(5)
            wire.send(self.sock, {"seq": self.seq, "request": "cancel", "args": {}})
        except (OSError, KeyboardInterrupt):
            self.broken = "a request was interrupted and its cancel could not be sent"
            self._close_unlocked()

    def _death_note(self, method):
        """Why the engine is gone, from its exit status and stderr: ``(message, error class)``.

        An engine that could not start says why in one line (:data:`wire.START_FAILED`), which
        is raised as it is (:class:`StartError`); a sandbox that ``unshare`` could not make is a
        :class:`PrivilegeError`; anything else ended a running engine."""
        try:
            self.process.wait(timeout=5)
            stderr = self.process.stderr.read().decode(errors="replace").strip()
        except (subprocess.TimeoutExpired, ValueError, OSError):
            stderr = ""
        lines = stderr.splitlines()
        failed = [line[len(wire.START_FAILED):] for line in lines if line.startswith(wire.START_FAILED)]
        if failed:
            return f"the lab engine could not start: {failed[-1]}; {DOCTOR_HINT}", StartError
        if "Operation not permitted" in stderr or "Permission denied" in stderr:
            return f"the lab engine could not start its sandbox ({lines[-1]}); {DOCTOR_HINT}", PrivilegeError
        lines = [line for line in lines if not line.startswith("unshare: ")]
        status = self.process.returncode
        how = f"killed by signal {-status}" if status is not None and status < 0 else f"exit status {status}"
        detail = f": {lines[-1]}" if lines else ""
        return f"the lab engine ended unexpectedly during `{method}` ({how}{detail})", EngineError

    def close(self):
        """End the engine: every namespace and process of its lab goes with it."""
        with self.lock:
            self._close_unlocked()

    def _close_unlocked(self):
        if self.sock is None:
            return
        self.sock.close()
        self.sock = None
        if self.process is None:
            return
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()

    @property
    def closed(self):
        return self.sock is None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _process_state(pid):
    """The one-letter state of ``pid`` (R, S, T...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
