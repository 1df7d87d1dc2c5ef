"""Where lab commands live: a PID namespace and a root of their own, made once per engine.

The engine is PID 1 of its sandbox, and lab commands used to be its children there: they could
see its ``/proc/1`` entries (list its fds, ``prlimit`` or ``setpriority`` it) and, through the
mount namespace they were copied from, every directory of the host, the invoking user's home
included (a ``.pth`` file or a ``.bashrc`` written there runs in the user's next Python or shell).
:func:`start` changes both, before the engine starts any thread:

- The engine makes a new PID namespace for its children (``unshare(CLONE_NEWPID)``): its first
  child there, the lab's init, is that namespace's PID 1, and every lab command the engine starts
  is a member (see :class:`LabSpace`). The engine and everything else of the sandbox are in the parent
  namespace: a lab command cannot name them (no ``/proc`` entry, no pid to ``kill``, ``prlimit``,
  ``setpriority`` or ``ptrace``). The init holds no file descriptor, ignores SIGCHLD (so the
  kernel reaps the lab's orphans at once) and, as PID 1, gets no signal from its lab that it has
  no handler for: a lab cannot end it.
- The init builds the lab's root (:func:`_build_root`): a read-only tmpfs holding bind mounts of
  the system's programs and libraries (``/usr``, ``/etc`` and the top-level links or folders to
  them, read-only), a ``/dev`` of a few devices, the lab's own ``/dev/shm``, ``/tmp`` and ``/proc``
  (of the lab's PID namespace), a sysfs, and ``/run/netns``, which follows the engine's. It moves
  there (``pivot_root``) and detaches the old root: the host's other directories (``/home``,
  ``/root``, ``/work``, ``/var``...), the engine's ``/run`` and its ``/proc`` are not in the tree
  at all, so there is nothing to unmount or remount back to. Under Docker's default seccomp
  profile, which refuses ``pivot_root``, the lab's root is moved over ``/`` instead and the old
  tree stays under it, out of reach (see :func:`_enter_root`).
- Then the init enters a user namespace of its own, which copies that mount namespace into one
  owned by it: the kernel locks every mount of the copy as one unit with its flags (the mounts
  were made by a more privileged namespace), so lab root, which holds CAP_SYS_ADMIN over it,
  can neither unmount them nor make a read-only one writable.

Lab commands join that mount namespace (``setns``, in :func:`nethelpers.engine.labproc.lab_child`)
and then take a copy of their own for their sysfs.

A container of a Docker node has more of its own (:class:`ContainerMaker`): a UTS namespace
whose hostname is its name, and a copy of the lab's mount namespace in which ``/etc/hostname``,
``/etc/hosts`` and ``/etc/resolv.conf`` are its own files, as ``docker run`` gives it. Its
commands join those two instead of the lab's.
"""

import ctypes
import errno
import json
import os
import pwd
import signal

from .kernel import (CLONE_NEWNS, CLONE_NEWUTS, MNT_DETACH, MS_BIND, MS_RDONLY, MS_REC, MS_SLAVE, NETNS_DIR, check,
                     libc, mount)

CLONE_NEWPID, CLONE_NEWUSER = 0x20000000, 0x10000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_MOVE, MS_SHARED = 2, 4, 8, 32, 8192, 1 << 20
PR_SET_NAME = 15
ROOT = "/run/nethelpers-lab"  # where the init builds the lab's root, in its own mount namespace
SYSTEM = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")  # bound read-only, if present
DEVICES = ("null", "zero", "full", "random", "urandom", "tty", "net/tun")
LINKS = {"dev/fd": "/proc/self/fd", "dev/stdin": "/proc/self/fd/0", "dev/stdout": "/proc/self/fd/1",
         "dev/stderr": "/proc/self/fd/2", "dev/ptmx": "pts/ptmx", "var/run": "/run", "var/tmp": "/tmp"}
TITLE = b"nethelpers-lab-init"  # the init's command line: not the engine's (``clean`` looks for that)
USER_HOMES = 1000  # accounts from this uid on are people, whose homes a lab never sees


class LabSpace:
    """The lab's init (its pid here), its PID and mount namespaces (fds for ``setns``), the
    engine's own PID namespace, and how the lab's root was entered (``root_by``).

    The engine's children go to the lab's PID namespace only between :meth:`enter` and
    :meth:`leave`: the kernel refuses to start a thread while a process's children would go to
    another PID namespace than its own, and the engine has a thread.
    """

    def __init__(self, init_pid, pid_ns, mount_ns, own_pid_ns, root_by):
        self.init_pid, self.pid_ns, self.mount_ns, self.own_pid_ns = init_pid, pid_ns, mount_ns, own_pid_ns
        self.root_by = root_by  # "pivot_root" (the host's tree detached) or "chroot" (covered): see _enter_root

    def enter(self):
        check(libc.setns(self.pid_ns, CLONE_NEWPID), "setns(lab PID namespace)")

    def leave(self):
        check(libc.setns(self.own_pid_ns, CLONE_NEWPID), "setns(engine PID namespace)")


def start():
    """Make the lab's PID namespace, init and root; returns a :class:`LabSpace`.

    Called once, before the engine starts a thread: the init is a fork of the engine.
    """
    _share_netns_dir()
    hidden = _homes()
    own = os.open("/proc/self/ns/pid", os.O_RDONLY)
    check(libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
    ready, done = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready)
        _init(done, hidden)  # never returns
    os.close(done)
    lab = os.open("/proc/self/ns/pid_for_children", os.O_RDONLY)
    check(libc.setns(own, CLONE_NEWPID), "setns(engine PID namespace)")
    with os.fdopen(ready, "rb") as f:
        answer = f.read()
    if not answer.startswith(b"ok "):
        os.waitpid(pid, 0)
        raise OSError(f"the lab's root could not be built: {answer.decode(errors='replace') or 'the init died'}")
    return LabSpace(pid, lab, os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY), own, answer[3:].decode())


CONTAINER_FILES = ("hostname", "hosts", "resolv.conf")  # under /etc: a container's own
CONTAINER_FILES_SIZE = "1m"  # room for all three, and for what lab root appends to them


class ContainerMaker:
    """A child of the engine that makes containers' own UTS and mount namespaces on request.

    A process with threads cannot change its mount namespace, and the engine has a thread; a
    fork for each container would cost more than the rest of its build. So :func:`start_maker`
    forks this once, while the engine has no thread yet: it waits for requests (a JSON line:
    hostname and files), makes the namespaces (:func:`_make_container_space`) and answers;
    the engine then opens them through ``/proc``, and holds them as long as it lives, before it
    asks for the next. It is in the engine's PID namespace (out of the lab's sight), holds no
    file descriptor but its two pipes, and ends with the engine.
    """

    def __init__(self, pid, requests, answers):
        self.pid, self.requests, self.answers = pid, requests, answers

    def make(self, hostname, files):
        """A container's own namespaces: ``(mount ns fd, UTS ns fd)``.

        ``hostname`` is its hostname; ``files`` maps names of :data:`CONTAINER_FILES` to their
        text. The files are on a tmpfs of their own (``size`` :data:`CONTAINER_FILES_SIZE`),
        bound over the lab's read-only ``/etc`` entries: lab root may write them, as a
        container's root may, and reaches nothing else by it (the tmpfs is nowhere else, and
        every other mount of the copy stays locked, see :func:`_init`). A file whose ``/etc``
        entry the system lacks is not given (a read-only ``/etc`` cannot get one).
        """
        self.requests.write(json.dumps({"hostname": hostname, "files": files}) + "\n")
        self.requests.flush()
        answer = self.answers.readline().strip()
        if answer != "ok":
            raise OSError(f"{hostname}'s own namespaces could not be made: {answer or 'the maker ended'}")
        mounts = os.open(f"/proc/{self.pid}/ns/mnt", os.O_RDONLY)
        try:
            return mounts, os.open(f"/proc/{self.pid}/ns/uts", os.O_RDONLY)
        except BaseException:
            os.close(mounts)
            raise


def start_maker(space):
    """Fork the :class:`ContainerMaker` of ``space`` (a :class:`LabSpace`); before any thread."""
    request_read, request_write = os.pipe()
    answer_read, answer_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            keep = sorted((request_read, answer_write, space.mount_ns))
            for low, high in zip([-1] + keep, keep + [os.sysconf("SC_OPEN_MAX")]):
                os.closerange(low + 1, high)
            _serve_maker(space.mount_ns, os.fdopen(request_read), os.fdopen(answer_write, "w"))
        finally:
            os._exit(0)
    os.close(request_read)
    os.close(answer_write)
    return ContainerMaker(pid, os.fdopen(request_write, "w"), os.fdopen(answer_read))


def _serve_maker(lab_mounts, requests, answers):
    """The maker's loop: one request a line, one answer a line, until the engine hangs up."""
    for line in requests:
        try:
            request = json.loads(line)
            _make_container_space(lab_mounts, request["hostname"], request["files"])
            answers.write("ok\n")
        except Exception as e:
            answers.write(f"{type(e).__name__}: {e}".replace("\n", " ") + "\n")
        answers.flush()


def _make_container_space(lab_mounts, hostname, files):
    """In the :class:`ContainerMaker`: a copy of the lab's mount namespace and a new UTS
    namespace, the hostname set, the files written to a fresh tmpfs (mounted over the lab's
    ``/tmp`` for the moment: the root has no other folder to mount it on) and bound over
    ``/etc``, then the tmpfs taken off ``/tmp``, where the lab's own shows again."""
    check(libc.setns(lab_mounts, CLONE_NEWNS), "setns(lab mount namespace)")
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare(CLONE_NEWNS|CLONE_NEWUTS)")
    name = hostname.encode()
    check(libc.sethostname(name, len(name)), f"sethostname {hostname}")
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"mode=755,size={CONTAINER_FILES_SIZE}")
    for file, text in files.items():
        if file not in CONTAINER_FILES:
            raise ValueError(f"{file!r} is not one of a container's own files {CONTAINER_FILES}")
        with open(f"/tmp/{file}", "w") as f:
            f.write(text)
        os.chmod(f"/tmp/{file}", 0o644)
        if os.path.exists(f"/etc/{file}"):
            mount(f"/tmp/{file}", f"/etc/{file}", None, MS_BIND)
    check(libc.umount2(b"/tmp", MNT_DETACH), "umount the container files' tmpfs from /tmp")


def _share_netns_dir():
    """Make ``/run/netns`` a shared mount: namespaces the engine names later appear in the lab's copy."""
    os.makedirs(NETNS_DIR, exist_ok=True)
    mount(NETNS_DIR, NETNS_DIR, None, MS_BIND)
    mount("none", NETNS_DIR, None, MS_SHARED)


def _homes():
    """Homes a lab must not see: root's, the invoking user's ($HOME, and its account's), and
    every person's (uid 1000 on). Most are outside what the lab's root binds anyway; those under
    a bound folder get an empty, locked tmpfs over them."""
    homes = {"/root", os.environ.get("HOME", "/")}
    with open("/proc/self/uid_map") as f:
        outside = int(f.read().split()[1])
    try:
        homes.add(pwd.getpwuid(outside).pw_dir)
    except KeyError:
        pass
    homes.update(entry.pw_dir for entry in pwd.getpwall() if entry.pw_uid >= USER_HOMES and entry.pw_uid != 65534)
    return sorted({os.path.realpath(home) for home in homes if home})


def _init(done, hidden):
    """The lab's init: build the root, report, then wait forever (orphans are reaped by the kernel)."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # orphans of lab commands: reaped at once
        how = _build_root(hidden)
        check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")  # locks the mounts
        _retitle()
        os.closerange(0, done)
        os.closerange(done + 1, os.sysconf("SC_OPEN_MAX"))
        os.write(done, f"ok {how}".encode())
        os.close(done)
    except BaseException as e:  # the engine reports it and does not start
        try:
            os.write(done, f"{type(e).__name__}: {e}".encode())
        finally:
            os._exit(1)
    while True:
        signal.pause()


def _build_root(hidden):
    """Build the lab's root and move there; returns how (see :func:`_enter_root`)."""
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount("none", "/", None, MS_REC | MS_SLAVE)  # nothing goes back to the engine; /run/netns still comes
    os.makedirs(ROOT, exist_ok=True)
    mount("tmpfs", ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    for name in SYSTEM:
        _bind_system(name)
    _make_dev()
    for name, flags, data in (("tmp", 0, "mode=1777,size=256m"), ("run", 0, "mode=755,size=1m")):
        _dir(name)
        mount("tmpfs", f"{ROOT}/{name}", "tmpfs", MS_NOSUID | MS_NODEV | flags, data)
    _dir("run/netns")
    mount(NETNS_DIR, f"{ROOT}/run/netns", None, MS_BIND | MS_REC)
    for path in ("run/netns", "run", "etc/resolv.conf"):  # nothing written to the engine's /run from a lab
        _remount_readonly(f"{ROOT}/{path}")
    for name in ("root", "home", "var", "proc", "sys"):
        _dir(name)
    for link, target in LINKS.items():
        if link.startswith("var/"):
            os.symlink(target, f"{ROOT}/{link}")
    mount("proc", f"{ROOT}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # of the lab's PID namespace
    _mount_sysfs(f"{ROOT}/sys")
    for home in hidden:
        if any(home.startswith(f"/{name}/") for name in SYSTEM) and os.path.isdir(f"{ROOT}{home}"):
            mount("tmpfs", f"{ROOT}{home}", "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "mode=755,size=4k")
    how = _enter_root()
    _remount_readonly("/")
    return how


def _enter_root():
    """Make the lab's root this process's ``/``; returns how: ``"pivot_root"`` or ``"chroot"``.

    ``pivot_root`` moves the host's tree out and it is detached: it is not in the namespace at all.
    Docker's default seccomp profile refuses ``pivot_root`` (EPERM, whatever the capabilities);
    there the lab's root is moved over ``/`` and the init ``chroot``s into it, as switch_root does.
    The host's tree then stays in the namespace, but covered: a path walk that reaches the
    covered ``/`` (``..`` from the lab's root, a ``chroot`` escape, ``setns`` to the namespace)
    is taken back up into the mount on it, and that mount is locked (see :func:`_init`), so lab
    root can neither unmount nor move it. No process or file descriptor of the lab is below it.
    """
    os.mkdir(f"{ROOT}/.old")
    if libc.pivot_root(ROOT.encode(), f"{ROOT}/.old".encode()) == 0:
        os.chdir("/")
        check(libc.umount2(b"/.old", MNT_DETACH), "umount /.old")  # the host's tree leaves this namespace
        os.rmdir("/.old")
        return "pivot_root"
    refused = ctypes.get_errno()
    os.rmdir(f"{ROOT}/.old")
    if refused != errno.EPERM:
        raise OSError(refused, f"pivot_root: {os.strerror(refused)}")
    os.chdir(ROOT)
    mount(ROOT, "/", None, MS_MOVE)
    check(libc.chroot(b"."), "chroot into the lab's root")
    os.chdir("/")
    return "chroot"


def _dir(name):
    os.makedirs(f"{ROOT}/{name}", exist_ok=True)


def _bind_system(name):
    path = f"/{name}"
    if os.path.islink(path):
        os.symlink(os.readlink(path), f"{ROOT}/{name}")
    elif os.path.isdir(path):
        _dir(name)
        mount(path, f"{ROOT}/{name}", None, MS_BIND | MS_REC)
        _remount_readonly(f"{ROOT}/{name}")


def _remount_readonly(path):
    mount("none", path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _make_dev():
    """A ``/dev`` of the devices a program expects, its links, a ``devpts`` and the lab's ``/dev/shm``."""
    _dir("dev")
    mount("tmpfs", f"{ROOT}/dev", "tmpfs", MS_NOSUID, "mode=755,size=64k")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _dir(os.path.dirname(f"dev/{name}"))
            os.close(os.open(f"{ROOT}/dev/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
            mount(f"/dev/{name}", f"{ROOT}/dev/{name}", None, MS_BIND)
    for link, target in LINKS.items():
        if link.startswith("dev/"):
            os.symlink(target, f"{ROOT}/{link}")
    _dir("dev/pts")
    if libc.mount(b"devpts", f"{ROOT}/dev/pts".encode(), b"devpts", MS_NOSUID | MS_NOEXEC,
                  b"newinstance,ptmxmode=0666,mode=620") != 0:
        os.unlink(f"{ROOT}/dev/ptmx")  # no terminals in this lab: nothing else needs them
    _dir("dev/shm")
    mount("/dev/shm", f"{ROOT}/dev/shm", None, MS_BIND)  # the lab's own (see boot)
    _remount_readonly(f"{ROOT}/dev")


def _mount_sysfs(path):
    """A sysfs with nothing mounted on it: lab commands mount their own over it (see labproc)."""
    if libc.mount(b"sysfs", path.encode(), b"sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
        mount("sysfs", path, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)  # under a read-only /sys (Docker)


def _retitle():
    """Name the init for what it is in ``ps`` and ``/proc/1/cmdline``: it is a fork of the engine.

    Its arguments' memory is overwritten with the title, a NUL, and spaces to the end: a last
    byte that is not NUL tells the kernel to show the arguments up to the first NUL.
    """
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(b"lab-init"), 0, 0, 0)
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48 and 49)
    title = TITLE[:end - start - 2] + b"\0"
    ctypes.memmove(start, title + b" " * (end - start - len(title)), end - start)
