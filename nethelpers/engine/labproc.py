"""Lab commands: how the engine starts them, with what rights, and how it waits for them.

What holds for every lab command (see also :mod:`.labspace`):

- it runs in the lab's PID namespace, where PID 1 is the lab's init: the engine is not there, so
  the command cannot name it (no ``/proc`` entry, no pid to signal, ``prlimit``, ``setpriority``);
- it runs in the lab's root: the system's folders read-only, the lab's own ``/tmp``, ``/dev/shm``
  and ``/proc``, nobody's home, nothing of the engine's ``/run``; those mounts are locked;
- it has a sysfs of its own network namespace (:func:`own_sysfs`), starts in ``/``, and runs
  without the rights in :data:`LAB_DROPS` (``CAP_SYS_PTRACE`` among them), with ``no_new_privs``;
- it ends by its deadline or when the client cancels, with its whole process group, and its
  output is kept up to :data:`OUTPUT_LIMIT` a stream (:func:`communicate`).
"""

import ctypes
import os
import select
import signal
import time

from . import wire
from .kernel import CLONE_NEWNS, CLONE_NEWUTS, MS_RDONLY, check, libc


OUTPUT_LIMIT = 16 << 20  # bytes kept of a command's stdout, and of its stderr: a reply fits in one frame


class _Pipes:
    """A command's stdin (fed from ``data``), stdout and stderr, in one poll() set.

    poll(), not select(): an engine with hundreds of namespaces holds fds past FD_SETSIZE.
    """

    def __init__(self, proc, data, poller):
        self.proc, self.data, self.poller = proc, data, poller
        self.out, self.err, self.cut = bytearray(), bytearray(), False
        self.readers = {proc.stdout.fileno(): self.out, proc.stderr.fileno(): self.err}
        self.writer = proc.stdin.fileno() if data else None
        if not data:
            proc.stdin.close()
        for fd in self.readers:
            os.set_blocking(fd, False)
            poller.register(fd, select.POLLIN)
        if self.writer is not None:
            os.set_blocking(self.writer, False)
            poller.register(self.writer, select.POLLOUT)

    def handle(self, fd):
        if fd in self.readers:
            chunk = os.read(fd, 65536)
            if chunk:
                buffer = self.readers[fd]
                room = OUTPUT_LIMIT - len(buffer)
                buffer += chunk[:max(room, 0)]
                self.cut = self.cut or len(chunk) > room  # past the limit: read on, keep nothing
            else:
                del self.readers[fd]
                self.poller.unregister(fd)
        elif fd == self.writer:
            try:
                sent = os.write(fd, self.data[:65536])
            except BrokenPipeError:
                sent = len(self.data)
            self.data = self.data[sent:]
            if not self.data:
                self.poller.unregister(fd)
                self.proc.stdin.close()
                self.writer = None

    def close(self):
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if not stream.closed:
                stream.close()


def communicate(proc, data, timeout, client):
    """Feed stdin, collect stdout/stderr; returns ``(out, err, status, cut)`` by the deadline.

    Waits until the command has exited and its pipes are closed, ``timeout`` seconds at most
    (then its whole process group is killed: status ``"timeout"``), or until the client
    cancels (``"cancelled"``). A command that closed its pipes and kept running is waited for
    through its pidfd, up to the same deadline; only its own group is ever waited for.
    Output past :data:`OUTPUT_LIMIT` a stream is read and dropped (``cut``).
    """
    deadline = time.monotonic() + timeout
    poller = select.poll()
    pipes = _Pipes(proc, data, poller)
    pidfd = os.pidfd_open(proc.pid)
    poller.register(pidfd, select.POLLIN)
    poller.register(client, select.POLLIN)
    try:
        status = _pump(pipes, poller, pidfd, client, deadline)
    finally:
        os.close(pidfd)
    kill_group(proc, signal.SIGKILL)  # stragglers of its group too, whatever the status
    pipes.close()
    proc.wait()
    return bytes(pipes.out), bytes(pipes.err), status, pipes.cut


def _pump(pipes, poller, pidfd, client, deadline):
    running = True
    while running or pipes.readers:
        wait = deadline - time.monotonic()
        if wait <= 0:
            return "timeout" if running else "exited"
        events = dict(poller.poll(wait * 1000))
        if client.fileno() in events:  # the client cancels with a frame of its own (or hangs up: EOF)
            try:
                _, fds = wire.recv(client)
                wire.close_fds(fds)
            except (EOFError, wire.FrameError):
                os._exit(0)
            return "cancelled"
        if pidfd in events and running:
            running = False
            poller.unregister(pidfd)
        for fd in events:
            pipes.handle(fd)
    return "exited"


def reap_orphans(known):
    """Reap ended children of the engine that no Popen waits for (the lab's init, should it ever
    end; orphans of lab commands go to that init, which the kernel reaps for). Pids in ``known``
    (background processes) are left to their Popen. Called between requests only, so no Popen is
    ever half made or waiting then."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            children = [int(pid) for pid in f.read().split()]
    except OSError:
        return
    for pid in children:
        if pid not in known:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def kill_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def own_sysfs():
    """In a command's child, in the lab's mount namespace: a copy of its own with a sysfs of its
    network namespace over /sys, as `ip netns exec` does, so that /sys/class/net (brctl,
    ifconfig) shows the lab namespace's interfaces, not the engine's."""
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    if libc.mount(b"sysfs", b"/sys", b"sysfs", MS_NOSUID_NODEV_NOEXEC, None) != 0:
        check(libc.mount(b"sysfs", b"/sys", b"sysfs", MS_NOSUID_NODEV_NOEXEC | MS_RDONLY, None), "mount /sys")


MS_NOSUID_NODEV_NOEXEC = 2 | 4 | 8


# Capabilities a lab command never has: what could reach the engine (ptrace, and with it
# /proc/1/mem, /proc/1/fd, /proc/1/root, pidfd_getfd) or the machine beyond the network
# (modules, raw I/O, clocks, devices, BPF...). Networking, mounts and users stay.
LAB_DROPS = (
    2,  # CAP_DAC_READ_SEARCH: open_by_handle_at
    9, 14, 15, 16, 17,  # LINUX_IMMUTABLE, IPC_LOCK, IPC_OWNER, SYS_MODULE, SYS_RAWIO
    19,  # CAP_SYS_PTRACE
    20, 22, 23, 24, 25, 26, 27,  # SYS_PACCT, SYS_BOOT, SYS_NICE, SYS_RESOURCE, SYS_TIME, SYS_TTY_CONFIG, MKNOD
    30, 32, 33, 34, 35, 36, 37, 38, 39, 40,  # AUDIT_CONTROL, MAC_*, SYSLOG, WAKE_ALARM, ..., PERFMON, BPF, CHECKPOINT_RESTORE
)
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 4, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _lab_capabilities():
    """``(header, data)`` for capset(): this process's capabilities minus :data:`LAB_DROPS`."""
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    check(libc.capget(ctypes.byref(header), data), "capget")
    for cap in LAB_DROPS:
        word, bit = divmod(cap, 32)
        for field in ("effective", "permitted", "inheritable"):
            setattr(data[word], field, getattr(data[word], field) & ~(1 << bit))
    return header, data


_LAB_CAPS = None  # computed once in the engine, before any fork
_LAB_MOUNTS = None  # the lab's mount namespace (an fd), made by labspace.start


def lab_child(own=None):
    """In a command's child, between fork and exec: the lab's root, its own sysfs, then fewer rights.

    The child is already in the lab's PID namespace (see :mod:`.labspace`); here it joins the
    lab's mount namespace, whose root holds no home and nothing of the engine, and starts in its
    ``/``; in a container with namespaces of its own (``own``: its mount and UTS namespaces' fds,
    see :class:`.labspace.ContainerMaker`) it joins those instead, the same root with the
    container's hostname and files. Runs as ``preexec_fn``, which is safe here although the engine
    has threads: they only ever wait in poll()/waitid() and hold no lock, glibc makes malloc
    fork-safe, and this function only makes system calls through ctypes objects prepared before
    the fork. If any step fails the command does not start (subprocess raises in the engine): it
    fails closed.
    """
    if own is None:
        check(libc.setns(_LAB_MOUNTS, CLONE_NEWNS), "setns(lab mount namespace)")
    else:
        check(libc.setns(own[0], CLONE_NEWNS), "setns(container mount namespace)")
        check(libc.setns(own[1], CLONE_NEWUTS), "setns(container UTS namespace)")
    own_sysfs()
    header, data = _LAB_CAPS
    for cap in LAB_DROPS:
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: unknown cap
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    check(libc.capset(ctypes.byref(header), data), "capset")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def guard_engine():
    """Make the engine unreachable from its lab's commands: not dumpable (its /proc entries
    belong to root and need CAP_SYS_PTRACE, which lab commands lack), and compute the rights
    lab commands get. (They do not see the engine at all: see :mod:`.labspace`.)"""
    global _LAB_CAPS
    check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "PR_SET_DUMPABLE")
    _LAB_CAPS = _lab_capabilities()


def use_lab_space(space):
    """Start lab commands in ``space``'s mount namespace (a :class:`.labspace.LabSpace`) from now on."""
    global _LAB_MOUNTS
    _LAB_MOUNTS = space.mount_ns


def lab_environment(env):
    """The environment of lab commands: sbin on PATH (ip, nft live there), no proxy settings
    (nothing is reachable past the lab), and none of the engine's own PYTHON* settings; by
    default HOME is /root, an empty folder (the lab's root has nobody's home)."""
    if env is None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
        env["HOME"] = "/root"
    env = dict(env)
    path = env.get("PATH", "/usr/bin:/bin").split(":")
    env["PATH"] = ":".join(path + [d for d in ("/usr/sbin", "/sbin") if d not in path])  # ip, nft: sbin
    for key in list(env):
        if key.lower() in ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy"):
            del env[key]
    return env
