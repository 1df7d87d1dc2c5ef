"""Run inside a lab (as the lab's root) by tests/test_hostile.py: every way out we know of.

Prints one JSON line: ``{attempt: "held: <why>" | "ESCAPED: <what>"}``. Standard library only:
it runs as a lab command, with whatever Python the machine has.
"""

import ctypes
import json
import os
import pickle
import socket
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)
SYS_PIDFD_OPEN, SYS_PIDFD_GETFD, SYS_PROCESS_VM_READV = 434, 438, 310
PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 16, 17, 0x4206
results = {}


class Boom:
    def __reduce__(self):
        return (os.system, (f"touch {sys.argv[1]}",))


def attempt(name, action):
    try:
        outcome = action()
    except OSError as e:
        outcome = f"held: {e.strerror or e}"
    results[name] = outcome if outcome.startswith("held") else f"ESCAPED: {outcome}"


def syscall(number, *args):
    """syscall(2) with every argument a C long: variadic, so ints alone would be truncated."""
    args = [arg if isinstance(arg, ctypes.Array) else ctypes.c_long(arg) for arg in args]
    result = libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def visible_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]


def engine_pids():
    """PID 1 (the lab's init) and every visible process that is not a lab command: the engine, were it seen."""
    found = {1}
    for pid in visible_pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            if b"nethelpers" in cmdline and b"hostile_probe" not in cmdline:
                found.add(pid)
        except OSError:
            pass
    return sorted(found)


def take_fds(pid):
    pidfd = syscall(SYS_PIDFD_OPEN, pid, 0)
    taken = []
    for fd in range(64):
        try:
            taken.append(syscall(SYS_PIDFD_GETFD, pidfd, fd, 0))
        except OSError as e:
            last = e
    if taken:
        return f"took {len(taken)} fds of pid {pid}"
    return f"held: {last.strerror}"


def ptrace(pid, request):
    if libc.ptrace(ctypes.c_long(request), ctypes.c_long(pid), None, None) == 0:
        libc.ptrace(ctypes.c_long(PTRACE_DETACH), ctypes.c_long(pid), None, None)  # let it go, so that the test can report
        return f"ptrace {request:#x} attached to pid {pid}"
    return f"held: {os.strerror(ctypes.get_errno())}"


def vm_read(pid):
    buf = ctypes.create_string_buffer(16)
    local = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 16)
    remote = (ctypes.c_void_p * 2)(0x400000, 16)
    syscall(SYS_PROCESS_VM_READV, pid, local, 1, remote, 1, 0)
    return f"read the memory of pid {pid}"


def open_path(path):
    if os.path.isdir(path):
        return f"listed {path}: {os.listdir(path)[:5]}"
    with open(path, "rb") as f:
        return f"read {path}: {f.read(16)!r}"


def proc_entries(pid):
    paths = [f"/proc/{pid}/{name}" for name in ("mem", "environ", "root/etc", "cwd/", "exe", "ns/net", "ns/user",
                                                 "ns/mnt", "ns/pid", "map_files/", "syscall", "stack", "maps",
                                                 "pagemap", "auxv", "fdinfo/3", "personality")]
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        fds = []
    fds = sorted(set(fds) | {str(n) for n in range(16)}, key=int)  # the engine's first fds, were it PID 1
    paths += [f"/proc/{pid}/fd/{fd}" for fd in fds] + [f"/proc/{pid}/task/{pid}/fd/{fd}" for fd in fds]
    return paths


def forge_frames():
    """A pickle frame (old and new framing) on every socket this process can open."""
    frame = pickle.dumps(Boom())
    framed = [struct.pack("!Q", len(frame)) + frame, struct.pack("!2sHII", b"NH", 1, len(frame), 0) + frame]
    sent = 0
    for pid in visible_pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    continue
                with open(f"/proc/{pid}/fd/{fd}", "wb", buffering=0) as f:
                    f.writelines(framed)
                sent += 1
            except OSError:
                pass
    for path in _unix_paths():
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
                for data in framed:
                    s.sendall(data)
                sent += 1
        except OSError:
            pass
    return f"held: wrote forged frames to {sent} sockets of the lab's own processes; none ran"


def _unix_paths():
    try:
        with open("/proc/net/unix") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    paths = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 8:
            paths.append("\0" + parts[7][1:] if parts[7].startswith("@") else parts[7])
    return paths


def kill_engine():
    import signal

    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGCHLD, signal.SIGHUP):
        try:
            os.kill(1, sig)
        except OSError:
            pass
    return "held: signals sent to PID 1 (the test checks the engine still serves)"


def fresh_proc():
    """A procfs mounted anew (the lab's root may mount) gives no more than /proc does."""
    import subprocess
    import tempfile

    where = tempfile.mkdtemp()
    try:
        mounted = subprocess.run(["mount", "-t", "proc", "proc", where], capture_output=True, text=True)
        if mounted.returncode != 0:
            return f"held: {mounted.stderr.strip()}"
        try:
            return open_path(f"{where}/1/environ")
        finally:
            subprocess.run(["umount", where])
    finally:
        os.rmdir(where)  # nothing left in the host's /tmp


def nsenter_engine():
    import subprocess

    run = subprocess.run(["nsenter", "-t", "1", "-a", "true"], capture_output=True, text=True)
    return "entered every namespace of PID 1" if run.returncode == 0 else f"held: {run.stderr.strip()}"


def controls():
    """The same calls on a lab process of our own, where they must work: proof the attempts are real."""
    import subprocess

    child = subprocess.Popen(["sleep", "60"], stdin=subprocess.PIPE)
    try:
        found = {"pidfd_getfd": take_fds(child.pid), "ptrace": ptrace(child.pid, PTRACE_SEIZE)}
    finally:
        child.kill()
        child.wait()
    return {name: not outcome.startswith("held") for name, outcome in found.items()}


def main():
    for pid in engine_pids():
        attempt(f"pidfd_getfd of pid {pid}'s fds", lambda: take_fds(pid))
        attempt(f"ptrace attach pid {pid}", lambda: ptrace(pid, PTRACE_ATTACH))
        attempt(f"ptrace seize pid {pid}", lambda: ptrace(pid, PTRACE_SEIZE))
        attempt(f"process_vm_readv pid {pid}", lambda: vm_read(pid))
        for path in proc_entries(pid):
            attempt(f"open {path}", lambda: open_path(path))
    attempt("a fresh procfs: /proc/1/environ", fresh_proc)
    attempt("nsenter -t 1 -a", nsenter_engine)
    attempt("forged frames on every socket", forge_frames)
    attempt("kill the engine", kill_engine)
    print(json.dumps({"attempts": results, "controls": controls()}))


if __name__ == "__main__":
    main()
