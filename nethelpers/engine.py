"""The lab engine: the process that owns a lab's namespaces, as dockerd owns containers'.

It runs inside a sandbox that :mod:`nethelpers.sandbox` starts with ``unshare``: its own user
namespace (where it is root, and the host's network namespace answers EPERM), its own mount
namespace (a private tmpfs on ``/run``, so ``/run/netns`` entries never reach the host), its
own empty network namespace and its own PID namespace (it is PID 1: when it exits, every
process it started dies with it, and so every lab namespace is freed).

It serves one client over a Unix stream socket, one request at a time, and exits as soon as
the client hangs up, whatever it is doing. Requests are ``{seq, request, args}``, and only
those in :data:`REQUESTS`; replies are ``{seq, ok, value}`` or ``{seq, ok, error, message}``,
plus file descriptors for capture sockets. Messages are plain data framed by
:mod:`nethelpers.wire`.
"""

import ctypes
import inspect
import os
import struct
import select
import signal
import socket
import subprocess
import sys
import threading
import time

from . import wire
from .netlink import NetlinkError, Rtnl

CLONE_NEWNET = 0x40000000
MS_BIND, MNT_DETACH = 4096, 2
NETNS_DIR = "/run/netns"
LOG_DIR = "/run/nethelpers"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare_net():
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")


def setns(fd):
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


def mount(source, target, fstype, flags, data=None):
    _check(
        _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                    data.encode() if data else None),
        f"mount {target}",
    )


def umount(target):
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 263, 1, 1
SO_ATTACH_FILTER = 26


def packet_socket(ifname, bpf=None, promisc=False, rcvbuf=None):
    """An AF_PACKET socket on ``ifname`` of the current namespace, filtered before it is bound.

    It is made with protocol 0 (it receives nothing), gets its BPF filter, then is bound to
    the interface for every protocol: no packet slips in unfiltered or from another
    interface. Promiscuous mode is a membership of this socket: it ends when the socket
    closes, whoever holds it.
    """
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if bpf:
            program = ctypes.create_string_buffer(bpf)
            fprog = struct.pack("HL", len(bpf) // 8, ctypes.addressof(program))
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        sock.bind((ifname, ETH_P_ALL))
        if promisc:
            index = socket.if_nametoindex(ifname)
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b""))
    except BaseException:
        sock.close()
        raise
    return sock


class StepError(Exception):
    """A build step failed: carries the step's command and the kernel's message."""


class Engine:
    def __init__(self, sock):
        self.sock = sock
        self.base = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self.current = None  # the namespace the main thread is in; None for the engine's own
        self.namespaces = {}  # name -> (fd, Rtnl)
        self.processes = {}  # pid -> (Popen, namespace, argv, log path)

    # --- namespaces -----------------------------------------------------------------------

    def enter(self, name):
        if name == self.current:
            return
        setns(self.base if name is None else self.namespaces[name][0])
        self.current = name

    def create_namespace(self, name):
        path = f"{NETNS_DIR}/{name}"
        unshare_net()
        self.current = "?"
        try:
            fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDONLY, 0o444))
            mount("/proc/thread-self/ns/net", path, None, MS_BIND)
            self.namespaces[name] = (fd, Rtnl())
            self.current = name
        finally:
            if self.current != name:
                self.enter(None)

    # --- requests -------------------------------------------------------------------------

    def hello(self, version):
        if version != wire.VERSION:
            raise ValueError(f"the client speaks format version {version}, this engine {wire.VERSION}")
        return {"pid": os.getpid(), "uid": os.getuid(), "in_userns": _in_userns(), "version": wire.VERSION}

    def build(self, steps):
        """Carry out build steps ``(op, ns, args, command)`` in order; stop at the first failure."""
        timing = {}
        for op, ns, args, command in steps:
            if op not in STEPS:
                raise StepError(f"`{command}`: no such build step {op!r}")
            started = time.perf_counter()
            try:
                STEPS[op](self, ns, **args)
                total, count = timing.get(op, (0.0, 0))
                timing[op] = (total + time.perf_counter() - started, count + 1)
            except (OSError, subprocess.SubprocessError, StepError, TypeError) as e:
                detail = e.strerror if isinstance(e, NetlinkError) else str(e)
                raise StepError(f"`{command}` failed: {detail}") from None
        self.enter(None)
        return timing

    def _step_netns(self, ns):
        self.create_namespace(ns)

    def _step_sysctl(self, ns, key, value):
        self.enter(ns)
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)

    def _rtnl(self, ns):
        return self.namespaces[ns][1]

    def _step_up(self, ns, dev):
        self._rtnl(ns).link_up(dev)

    def _step_bridge(self, ns, name, mac, mtu, ageing):
        self._rtnl(ns).bridge(name, mac, mtu, ageing)

    def _step_veth(self, ns, name, peer_ns, peer, mac, peer_mac, mtu, master, up):
        fd, peer_rtnl = self.namespaces[peer_ns]
        self._rtnl(ns).veth(name, peer, peer_rtnl, fd, mac, peer_mac, mtu, master, up)

    def _step_addr(self, ns, dev, address):
        self._rtnl(ns).addr(dev, address)

    def _step_route(self, ns, to, via, dev, onlink):
        self._rtnl(ns).route(to, via, dev, onlink)

    def _step_vxlan(self, ns, name, vni, dstport, local, remote, dev, learning, mac, mtu, master):
        rtnl = self._rtnl(ns)
        rtnl.vxlan(name, vni, dstport, local, remote, dev, learning, mac, mtu)
        if master:
            rtnl.set_master(name, master)

    def _step_fdb(self, ns, dev, mac, dst):
        self._rtnl(ns).fdb(dev, mac, dst)

    def _step_neigh(self, ns, dev, address, mac):
        self._rtnl(ns).neigh(dev, address, mac)

    def _step_nft(self, ns, rules):
        result = self.exec(ns, ["nft", "-f", "-"], input=rules.encode(), timeout=30)
        if result["returncode"] != 0:
            raise StepError(result["stderr"].decode(errors="replace").strip())

    def _step_process(self, ns, argv, name):
        self.spawn(ns, argv)

    def open_packet_sockets(self, points, bpf=None, promisc=True, rcvbuf=4 << 20):
        """Open one capture (or send) socket per ``(namespace, interface)``; pass them back.

        The sockets are ready when this returns: whatever crosses those interfaces from then
        on waits in their buffers until the client reads it.
        """
        socks = []
        try:
            for ns, ifname in points:
                if ns not in self.namespaces:
                    raise KeyError(f"no namespace {ns!r} in this lab")
                self.enter(ns)
                try:
                    socks.append(packet_socket(ifname, bpf, promisc, rcvbuf))
                except OSError as e:
                    raise OSError(e.errno, f"{ns}:{ifname}: {e.strerror}") from None
        except BaseException:
            for sock in socks:
                sock.close()
            raise
        finally:
            self.enter(None)
        return wire.WithFds(len(socks), [sock.detach() for sock in socks])

    def netlink_dump(self, namespaces=None):
        """Links and addresses of each namespace, read through netlink (pyroute2)."""
        from pyroute2 import IPRoute

        dump = {}
        try:
            for ns in namespaces or list(self.namespaces):
                self.enter(ns)
                with IPRoute() as ipr:
                    links = [_link_record(msg) for msg in ipr.get_links()]
                    addresses = [
                        {"index": msg["index"], "address": f"{msg.get('address')}/{msg['prefixlen']}"}
                        for msg in ipr.get_addr(family=socket.AF_INET)
                    ]
                    wanted = {link["peer_nsid"] for link in links if link["peer_nsid"] is not None}
                    nsids = {}
                    for other, (fd, _) in self.namespaces.items():
                        if not wanted - nsids.keys():
                            break  # every nsid a link names is known
                        nsid = ipr.get_netnsid(fd=fd).get("nsid") if other != ns else None
                        if nsid is not None and 0 <= nsid < 2**31:  # -1: no id assigned
                            nsids[nsid] = other
                dump[ns] = {"links": links, "addresses": addresses, "nsids": nsids}
        finally:
            self.enter(None)
        return dump

    def settle(self, timeout=2.0):
        """Wait until every interface's operational state agrees with its carrier.

        The kernel sets a carrier at once but reports the state `ip` prints (UP, DOWN, and a
        route's `linkdown`) through its link watcher, up to a second later for a bridge.
        Returns the seconds waited; interfaces still changing at the timeout are left so.
        """
        from .netlink import IF_OPER_DOWN, IF_OPER_LOWERLAYERDOWN, IF_OPER_UNKNOWN, IF_OPER_UP

        started = time.monotonic()
        pending = list(self.namespaces)
        while pending and time.monotonic() - started < timeout:
            still = []
            for ns in pending:
                for up, carrier, oper in self.namespaces[ns][1].link_states().values():
                    if up and ((carrier and oper not in (IF_OPER_UP, IF_OPER_UNKNOWN))
                               or (not carrier and oper not in (IF_OPER_DOWN, IF_OPER_LOWERLAYERDOWN))):
                        still.append(ns)
                        break
            pending = still
            if pending:
                time.sleep(0.02)
        return time.monotonic() - started

    def cancel(self):
        """A cancel that arrived after its request had ended: nothing left to stop."""

    def exec(self, ns, argv, input=None, timeout=60.0, env=None):
        """Run ``argv`` in namespace ``ns``; return its status and output.

        Gives up after ``timeout`` seconds (killing the command) and as soon as the client
        cancels by writing to the engine's cancel socket.
        """
        proc = self._popen(ns, argv, env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err, status = _communicate(proc, input or b"", timeout, self.sock)
        return {"returncode": proc.returncode, "stdout": out, "stderr": err, "status": status}

    def spawn(self, ns, argv, env=None):
        """Start ``argv`` in the background in ``ns``; its output goes to a log. Returns its pid."""
        os.makedirs(LOG_DIR, exist_ok=True)
        log = f"{LOG_DIR}/{len(self.processes)}-{time.monotonic_ns()}.log"
        with open(log, "wb") as f:
            proc = self._popen(ns, argv, env, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        self.processes[proc.pid] = (proc, ns, argv, log)
        return proc.pid

    def poll(self, pid):
        proc, ns, argv, log = self.processes[pid]
        with open(log, "rb") as f:
            return {"returncode": proc.poll(), "output": f.read()}

    def stop(self, pid, grace=2.0):
        """Stop a background process (SIGTERM, then SIGKILL after ``grace`` s); return its output."""
        proc, ns, argv, log = self.processes.pop(pid)
        if proc.poll() is None:
            _kill_group(proc, signal.SIGTERM if grace else signal.SIGKILL)
            try:
                proc.wait(grace or 5)
            except subprocess.TimeoutExpired:
                _kill_group(proc, signal.SIGKILL)
                proc.wait()
        with open(log, "rb") as f:
            output = f.read()
        os.unlink(log)
        return {"returncode": proc.returncode, "output": output}

    def _popen(self, ns, argv, env, **streams):
        if ns not in self.namespaces:
            raise KeyError(f"no namespace {ns!r} in this lab")
        self.enter(ns)
        try:
            return subprocess.Popen(argv, env=_lab_environment(env), start_new_session=True,
                                    preexec_fn=_lab_child, **streams)
        finally:
            self.enter(None)

    # --- the loop -------------------------------------------------------------------------

    def serve(self):
        while True:
            try:
                request, fds = wire.recv(self.sock)
            except (EOFError, wire.FrameError):
                return  # the client hung up, or the stream is not ours to read any more
            wire._close(fds)  # a client never sends file descriptors
            seq, reply, fds = _answer(self, request)
            wire.send(self.sock, {"seq": seq, **reply}, fds)
            for fd in fds:
                os.close(fd)


STEPS = {op[len("_step_"):]: getattr(Engine, op) for op in vars(Engine) if op.startswith("_step_")}

# The requests a client may make: this table, nothing else (no lookup by name on the engine).
REQUESTS = {
    "hello": Engine.hello, "build": Engine.build, "open_packet_sockets": Engine.open_packet_sockets,
    "netlink_dump": Engine.netlink_dump, "settle": Engine.settle, "cancel": Engine.cancel,
    "exec": Engine.exec, "spawn": Engine.spawn, "poll": Engine.poll, "stop": Engine.stop,
}


def _answer(engine, request):
    """Carry out one request; returns ``(seq, reply, fds)``. Errors become replies."""
    seq = request.get("seq") if isinstance(request, dict) else None
    try:
        handler, args = _parse(request)
        value = handler(engine, **args)
        fds = []
        if isinstance(value, wire.WithFds):
            value, fds = value.value, value.fds
        return seq, {"ok": True, "value": value}, fds
    except Exception as e:  # reported to the client, which raises it there
        return seq, {"ok": False, "error": type(e).__name__, "message": str(e)}, []


def _parse(request):
    if not (isinstance(request, dict) and set(request) == {"seq", "request", "args"}
            and isinstance(request["seq"], int) and isinstance(request["args"], dict)):
        raise ValueError(f"a request must be {{seq, request, args}}, not {str(request)[:200]}")
    handler = REQUESTS.get(request["request"])
    if handler is None:
        raise ValueError(f"no such request: {str(request['request'])[:100]}; known: {', '.join(REQUESTS)}")
    try:
        inspect.signature(handler).bind(None, **request["args"])
    except TypeError as e:
        raise ValueError(f"request {request['request']}: {e}") from None
    return handler, request["args"]


def _link_record(msg):
    info = msg.get("IFLA_LINKINFO")
    kind = info.get("IFLA_INFO_KIND") if info else None
    data = info.get("IFLA_INFO_DATA") if info else None
    record = {
        "index": msg["index"], "name": msg.get("IFLA_IFNAME"), "kind": kind, "mac": msg.get("IFLA_ADDRESS"),
        "mtu": msg.get("IFLA_MTU"), "master": msg.get("IFLA_MASTER"), "peer_index": msg.get("IFLA_LINK"),
        "peer_nsid": msg.get("IFLA_LINK_NETNSID"), "state": msg.get("IFLA_OPERSTATE"),
    }
    if kind == "vxlan" and data:
        record["vxlan"] = {
            "vni": data.get("IFLA_VXLAN_ID"), "port": data.get("IFLA_VXLAN_PORT"),
            "local": data.get("IFLA_VXLAN_LOCAL"), "remote": data.get("IFLA_VXLAN_GROUP"),
            "dev": data.get("IFLA_VXLAN_LINK"), "learning": data.get("IFLA_VXLAN_LEARNING"),
        }
    return record


def _communicate(proc, data, timeout, client):
    """Feed stdin, collect stdout/stderr, stop at exit, timeout or client cancel.

    poll(), not select(): an engine with hundreds of namespaces holds fds past FD_SETSIZE.
    """
    deadline = time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    readers = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    writer = proc.stdin.fileno() if data else None
    if not data:
        proc.stdin.close()
    poller = select.poll()
    for fd in readers:
        os.set_blocking(fd, False)
        poller.register(fd, select.POLLIN)
    poller.register(client, select.POLLIN)
    if writer is not None:
        os.set_blocking(writer, False)
        poller.register(writer, select.POLLOUT)
    status = "exited"
    while readers:
        wait = deadline - time.monotonic()
        if wait <= 0:
            status = "timeout"
            break
        events = dict(poller.poll(wait * 1000))
        if client.fileno() in events:  # the client cancels with a frame of its own (or hangs up: EOF)
            try:
                _, fds = wire.recv(client)
                wire._close(fds)
            except (EOFError, wire.FrameError):
                os._exit(0)
            status = "cancelled"
            break
        for fd, event in events.items():
            if fd in readers:
                chunk = os.read(fd, 65536)
                if chunk:
                    readers[fd] += chunk
                else:
                    del readers[fd]
                    poller.unregister(fd)
            elif fd == writer:
                try:
                    sent = os.write(writer, data[:65536])
                except BrokenPipeError:
                    sent = len(data)
                data = data[sent:]
                if not data:
                    poller.unregister(writer)
                    proc.stdin.close()
                    writer = None
    if status != "exited":
        _kill_group(proc, signal.SIGKILL)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if not stream.closed:
            stream.close()
    proc.wait()
    return bytes(out), bytes(err), status


def _kill_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _in_userns():
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def _watch_hangup(sock):
    """Exit the moment the client hangs up, even while a request is running."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP)
    while True:
        for _, event in poller.poll():
            if event & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                os._exit(0)


def _private_resolver():
    """Point name resolution at the lab itself: no DNS query leaves for the host's resolver.

    Lab namespaces have no way out, so a query would only time out (http.server's
    getfqdn() waits 10 s); with no nameserver the resolver asks 127.0.0.1 and fails at once.
    """
    path = f"{LOG_DIR}/resolv.conf"
    os.makedirs(LOG_DIR, exist_ok=True)
    with open(path, "w") as f:
        f.write("# lab namespaces have no DNS server\noptions timeout:1 attempts:1\n")
    try:
        mount(path, "/etc/resolv.conf", None, MS_BIND)
    except OSError:
        pass  # a dangling symlink into the host's /run: resolution fails fast already


MS_RDONLY, MS_REC, MS_SLAVE, CLONE_NEWNS = 1, 16384, 1 << 19, 0x00020000


def _own_sysfs():
    """In a command's child: a mount namespace of its own with a sysfs of its network
    namespace, as `ip netns exec` does, so that /sys/class/net (brctl, ifconfig) shows the
    lab namespace's interfaces, not the engine's."""
    if _libc.unshare(CLONE_NEWNS) == 0 and _libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None) == 0:
        _libc.umount2(b"/sys", MNT_DETACH)  # refused in a user namespace (locked mount): mount over it
        if _libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None) != 0:
            _libc.mount(b"sysfs", b"/sys", b"sysfs", MS_RDONLY, None)  # under a read-only /sys (Docker)


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
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    for cap in LAB_DROPS:
        word, bit = divmod(cap, 32)
        for field in ("effective", "permitted", "inheritable"):
            setattr(data[word], field, getattr(data[word], field) & ~(1 << bit))
    return header, data


_LAB_CAPS = None  # computed once in the engine, before any fork


def _lab_child():
    """In a command's child, between fork and exec: its own sysfs, then fewer rights.

    Runs as ``preexec_fn``, which is safe here although the engine has threads: they only ever
    wait in poll()/waitid() and hold no lock, glibc makes malloc fork-safe, and this function
    only makes system calls through ctypes objects prepared before the fork. If any step
    fails the command does not start (subprocess raises in the engine): it fails closed.
    """
    _own_sysfs()
    header, data = _LAB_CAPS
    for cap in LAB_DROPS:
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: unknown cap
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def _guard_engine():
    """Make the engine unreachable from its lab's commands: not dumpable (its /proc entries
    belong to root and need CAP_SYS_PTRACE, which lab commands lack), and compute the rights
    lab commands get."""
    global _LAB_CAPS
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "PR_SET_DUMPABLE")
    _LAB_CAPS = _lab_capabilities()


def _lab_environment(env):
    """The environment of lab commands: sbin on PATH (ip, nft live there), and no proxy
    settings (nothing is reachable past the lab)."""
    env = dict(os.environ if env is None else env)
    path = env.get("PATH", "/usr/bin:/bin").split(":")
    env["PATH"] = ":".join(path + [d for d in ("/usr/sbin", "/sbin") if d not in path])  # ip, nft: sbin
    for key in list(env):
        if key.lower() in ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy"):
            del env[key]
    return env


def main(fd):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Jupyter interrupt is the client's business
    _guard_engine()
    sock = socket.socket(fileno=fd)
    threading.Thread(target=_watch_hangup, args=(sock,), daemon=True).start()
    os.makedirs("/run", exist_ok=True)
    mount("tmpfs", "/run", "tmpfs", 0, "mode=755,size=16m")
    os.makedirs(NETNS_DIR)
    _private_resolver()
    engine = Engine(sock)
    try:
        engine.serve()
    finally:
        os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
