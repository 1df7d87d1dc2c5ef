"""The lab engine: the process that owns a lab's namespaces, as dockerd owns containers'.

It runs (after :mod:`.boot`) inside a sandbox that :mod:`nethelpers.sandbox` starts with ``unshare``: its own user
namespace (where it is root, and the host's network namespace answers EPERM), its own mount
namespace (a private tmpfs on ``/run``, so ``/run/netns`` entries never reach the host), its
own empty network namespace, IPC namespace and PID namespace (it is PID 1: when it exits, every
process it started dies with it, and so every lab namespace is freed). Lab commands run one level
further in, in the lab's PID namespace and root (see :mod:`.labspace`): they never see the engine.

It serves one client over a Unix stream socket, one request at a time, and exits as soon as
the client hangs up, whatever it is doing. Requests are ``{seq, request, args}``, and only
those in :data:`REQUESTS`; replies are ``{seq, ok, value}`` or ``{seq, ok, error, message}``,
plus file descriptors for capture sockets. Messages are plain data framed by
:mod:`.wire`. This package imports only the standard library: it is
the other side of the trust boundary, and runs from a copy of itself (see ``sandbox``).
"""

import errno
import functools
import inspect
import os
import re
import resource
import select
import signal
import socket
import subprocess
import threading
import time

from . import wire
from .kernel import LOG_DIR, MS_BIND, NETNS_DIR, mount, setns, unshare_net
from . import labspace
from .labproc import communicate, guard_engine, kill_group, lab_child, lab_environment, reap_orphans, use_lab_space
from .netlink import NetlinkError, Rtnl, dump_namespace
from .packet import packet_socket
from . import proxy


class StepError(Exception):
    """A build step failed: carries the step's command and the kernel's message."""


class Engine:
    def __init__(self, sock, space, maker, host_resolver=""):
        self.sock, self.space, self.maker = sock, space, maker
        self.host_resolver = host_resolver  # the host's /etc/resolv.conf, as the engine found it at its start
        self.own = {}  # name -> (mount ns fd, UTS ns fd): a container's own (see _step_container_files)
        self.base = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self.current = None  # the namespace the main thread is in; None for the engine's own
        self.namespaces = {}  # name -> (fd, Rtnl)
        self.hubs = set()  # namespaces with a bridge or a VXLAN device: where a port's change echoes
        self.processes = {}  # pid -> (Popen, namespace, argv, log path)
        self.cut = set()  # logs that may have lost output: /run was full while they ran

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
        return {"pid": os.getpid(), "uid": os.getuid(), "in_userns": _in_userns(), "version": wire.VERSION,
                "root_by": self.space.root_by}

    def build(self, steps):
        """Carry out build steps ``(op, ns, args, command)`` in order; stop at the first failure."""
        timing = {}
        for op, ns, args, command in steps:
            if op not in STEPS:
                raise StepError(f"`{command}`: no such build step {op!r}")
            started = time.perf_counter()
            try:
                STEPS[op](self, ns, **args)
                if op in LINK_STEPS:  # what the kernel does after this step, before the next one
                    self.settle(namespaces=self._echoes(ns, args))
                total, count = timing.get(op, (0.0, 0))
                timing[op] = (total + time.perf_counter() - started, count + 1)
            except (OSError, subprocess.SubprocessError, StepError, TypeError) as e:
                detail = e.strerror if isinstance(e, NetlinkError) else str(e)
                raise StepError(f"`{command}` failed: {detail}") from None
        self.enter(None)
        return timing

    def _echoes(self, ns, args):
        """Where a link step's consequences can wait: its namespace, its veth peer's, and every
        namespace with a bridge or a VXLAN device (a port that comes up changes its bridge's
        carrier, and the bridge then reports again). Not every namespace: a build of a
        thousand containers would read all of them after each step. ``Lab`` settles the whole
        lab once the build is done."""
        touched = {ns, args.get("peer_ns")} | self.hubs
        return [name for name in self.namespaces if name in touched]

    def _step_netns(self, ns):
        self.create_namespace(ns)

    def _step_sysctl(self, ns, key, value, fallback=None):
        """Write ``value`` to ``key`` in ``ns``; ``fallback`` instead where the kernel refuses
        ``value`` as invalid here (a range of groups that this user namespace does not map)."""
        self.enter(ns)
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            if fallback is None or e.errno != errno.EINVAL:
                raise
            with open(path, "w") as f:
                f.write(fallback)

    def _rtnl(self, ns):
        return self.namespaces[ns][1]

    def _step_up(self, ns, dev):
        self._rtnl(ns).link_up(dev)

    def _step_bridge(self, ns, name, mac, mtu, ageing, txqlen=None):
        self._rtnl(ns).bridge(name, mac, mtu, ageing, txqlen)
        self.hubs.add(ns)

    def _step_veth(self, ns, name, peer_ns, peer, mac, peer_mac, mtu, master, up, txqlen=None, indexes_here=False,
                   hairpin=False):
        fd, peer_rtnl = self.namespaces[peer_ns]
        self._rtnl(ns).veth(name, peer, peer_rtnl, fd, mac, peer_mac, mtu, master, up, txqlen, indexes_here)
        if hairpin:
            self._rtnl(ns).hairpin(name)

    def _step_addr(self, ns, dev, address):
        self._rtnl(ns).addr(dev, address)

    def _step_route(self, ns, to, via, dev, onlink):
        self._rtnl(ns).route(to, via, dev, onlink)

    def _step_vxlan(self, ns, name, vni, dstport, local, remote, dev, learning, mac, mtu, master):
        rtnl = self._rtnl(ns)
        rtnl.vxlan(name, vni, dstport, local, remote, dev, learning, mac, mtu)
        self.hubs.add(ns)
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

    def _step_iptables(self, ns, rules):
        result = self.exec(ns, ["iptables-nft-restore"], input=rules.encode(), timeout=30)
        if result["returncode"] != 0:
            raise StepError(result["stderr"].decode(errors="replace").strip())

    def _step_proxy(self, ns, proto, port, to_address, to_port, python):
        """docker-proxy's part: listen on the node's ``port`` for ``proto`` (``tcp`` or ``udp``),
        IPv4 and IPv6 as Docker 20.10 does (before this returns, so a client right after the
        build finds it), and relay to the container from a lab process that inherits only
        those sockets (see :mod:`.proxy`)."""
        listeners = []
        self.enter(ns)
        try:
            for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                listeners.append(_proxy_socket(proto, family, address, int(port)))
            fds = [listener.fileno() for listener in listeners]
            idle = [str(proxy.UDP_IDLE)] if proto == "udp" else []
            self._spawn(ns, [python, "-c", proxy.PROGRAM, proto, ",".join(map(str, fds)), str(to_address),
                             str(int(to_port)), *idle], pass_fds=fds)
        finally:
            self.enter(None)
            for listener in listeners:
                listener.close()

    def _step_reserve(self, ns, port, proto, python):
        """dockerd's port reservation without the userland proxy: ``0.0.0.0:port`` bound (and
        listened on, for TCP) in ``ns``, held by a lab process that never reads it."""
        self.enter(ns)
        try:
            with _proxy_socket(proto, socket.AF_INET, "0.0.0.0", int(port)) as sock:
                self._spawn(ns, [python, "-c", proxy.HOLD, str(sock.fileno())], pass_fds=[sock.fileno()])
        finally:
            self.enter(None)

    def _step_container_files(self, ns, hostname, hosts):
        """What ``docker run --hostname NAME`` gives a container: its own hostname, and its own
        /etc/hostname, /etc/hosts (``hosts``) and /etc/resolv.conf (Docker's, made from the
        host's: see :func:`docker_resolv_conf`), seen by every command in ``ns`` from now on."""
        if ns not in self.namespaces:
            raise KeyError(f"no namespace {ns!r} in this lab")
        if ns in self.own:
            raise StepError(f"{ns} has its own hostname and files already")
        files = {"hostname": f"{hostname}\n", "hosts": hosts, "resolv.conf": docker_resolv_conf(self.host_resolver)}
        self.own[ns] = self.maker.make(hostname, files)

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
        """Links and addresses of each namespace, read through netlink."""
        fds = {name: fd for name, (fd, _) in self.namespaces.items()}
        return {ns: dump_namespace(self.namespaces[ns][1], {o: fd for o, fd in fds.items() if o != ns})
                for ns in namespaces or list(self.namespaces)}

    def settle(self, timeout=2.0, namespaces=None):
        """Wait until the kernel has done what it still owes the lab's interfaces.

        That is: every interface's operational state agrees with its carrier (the kernel sets a
        carrier at once but reports the state `ip` prints, UP, DOWN and a route's `linkdown`,
        through its link watcher, up to a second later for a bridge), no IPv6 address is
        tentative (its link-local address, and the listener reports that come with it, wait
        for a work queue), and no multicast listener report waits on its timer. Outputs must
        not depend on when a report went out: one sent during a capture, or before one port of
        a bridge rather than after, changes what a lesson shows.

        The first two are announced on netlink (links, IPv6 addresses): subscribe in every
        namespace, check, and check a namespace again when it announces a change. A report's
        timer ends unannounced, so a namespace waiting only for one is read again after
        :data:`REPORT_RECHECK` s (quiet_ipv6 nodes send their repeat at once: see
        ``nethelpers.plan.QUIET_IPV6``). ``namespaces``: only these (default: all). Where
        duplicate address detection is on (Docker's default), a tentative address is not waited
        for: it takes 1 to 2 s by design, as on a host whose links just came up.
        Returns the seconds waited; what is still pending at the timeout is left so.
        """
        started = time.monotonic()
        namespaces = list(self.namespaces if namespaces is None else namespaces)
        watchers = {}
        try:
            for ns in namespaces:
                self.enter(ns)
                watchers[ns] = _change_watcher()  # before the check: no change slips between
            self.enter(None)
            pending = {}
            for ns in namespaces:
                waiting = self._pending(ns)
                if waiting:
                    pending[ns] = waiting
            poller = select.poll()
            by_fd = {}
            for ns in pending:
                poller.register(watchers[ns], select.POLLIN)
                by_fd[watchers[ns].fileno()] = ns
            while pending:
                wait = timeout - (time.monotonic() - started)
                if wait <= 0:
                    break
                if "reports" in pending.values():
                    wait = min(wait, REPORT_RECHECK)
                announced = {by_fd[fd] for fd, _ in poller.poll(wait * 1000)}
                for ns in announced:
                    _drain_notifications(watchers[ns])
                for ns in [ns for ns, waiting in pending.items() if ns in announced or waiting == "reports"]:
                    waiting = self._pending(ns)
                    if waiting:
                        pending[ns] = waiting
                    else:
                        del pending[ns]
                        poller.unregister(watchers[ns])
        finally:
            self.enter(None)
            for sock in watchers.values():
                sock.close()
        return time.monotonic() - started

    def _pending(self, ns):
        """What ``ns`` still waits for: "links", "addresses", "reports", or None (nothing)."""
        from .netlink import IF_OPER_DOWN, IF_OPER_LOWERLAYERDOWN, IF_OPER_UNKNOWN, IF_OPER_UP

        rtnl = self.namespaces[ns][1]
        for up, carrier, oper in rtnl.link_states().values():
            if up and ((carrier and oper not in (IF_OPER_UP, IF_OPER_UNKNOWN))
                       or (not carrier and oper not in (IF_OPER_DOWN, IF_OPER_LOWERLAYERDOWN))):
                return "links"
        self.enter(ns)
        try:
            if _without_dad() and rtnl.tentative():
                return "addresses"
            return "reports" if _report_timer_running() else None
        finally:
            self.enter(None)

    def cancel(self):
        """A cancel that arrived after its request had ended: nothing left to stop."""

    def exec(self, ns, argv, input=None, timeout=60.0, env=None):
        """Run ``argv`` in namespace ``ns``; return its status and output.

        Gives up after ``timeout`` seconds (killing the command) and as soon as the client
        cancels by writing to the engine's cancel socket.
        """
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 1e9:
            raise ValueError(f"timeout={timeout!r}: give a finite number of seconds above 0")
        proc = self._popen(ns, argv, env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err, status, cut = communicate(proc, input or b"", timeout, self.sock)
        return {"returncode": proc.returncode, "stdout": out, "stderr": err, "status": status, "cut": cut}

    def spawn(self, ns, argv, env=None):
        """Start ``argv`` in the background in ``ns``; its output goes to a log. Returns its pid
        as the lab sees it (lab commands can ``kill`` it, read its ``/proc`` entries)."""
        return self._spawn(ns, argv, env)

    def _spawn(self, ns, argv, env=None, pass_fds=()):
        """:meth:`spawn`, the child inheriting ``pass_fds`` (the engine's own steps only)."""
        os.makedirs(LOG_DIR, exist_ok=True)
        log = f"{LOG_DIR}/{len(self.processes)}-{time.monotonic_ns()}.log"
        try:
            with open(log, "wb") as f:
                proc = self._popen(ns, argv, env, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                   pass_fds=pass_fds)
        except BaseException:
            os.unlink(log)  # a spawn that failed leaves nothing behind
            raise
        pid = _lab_pid(proc.pid)
        self.processes[pid] = (proc, ns, argv, log)
        return pid

    def _output(self, log):
        """A log's content, and whether it was cut (the engine's /run filled up while it ran)."""
        if os.statvfs(LOG_DIR).f_bavail == 0:
            self.cut.update(entry[3] for entry in self.processes.values())
        with open(log, "rb") as f:
            return f.read(), log in self.cut

    def poll(self, pid):
        proc, ns, argv, log = self.processes[pid]
        output, cut = self._output(log)
        return {"returncode": proc.poll(), "output": output, "cut": cut}

    def stop(self, pid, grace=2.0):
        """Stop a background process (SIGTERM, then SIGKILL after ``grace`` s); return its output."""
        proc, ns, argv, log = self.processes[pid]
        if proc.poll() is None:
            kill_group(proc, signal.SIGTERM if grace else signal.SIGKILL)
            try:
                proc.wait(grace or 5)
            except subprocess.TimeoutExpired:
                kill_group(proc, signal.SIGKILL)
                proc.wait()
        output, cut = self._output(log)
        del self.processes[pid]
        self.cut.discard(log)
        os.unlink(log)
        return {"returncode": proc.returncode, "output": output, "cut": cut}

    def _popen(self, ns, argv, env, **streams):
        if ns not in self.namespaces:
            raise KeyError(f"no namespace {ns!r} in this lab")
        self.enter(ns)
        try:
            self.space.enter()
            try:
                # In the lab's /, as a container's commands start: lab_child joins the lab's
                # mount namespace, whose root has nobody's home and nothing of the engine.
                return subprocess.Popen(argv, env=lab_environment(env), start_new_session=True, cwd="/",
                                        preexec_fn=functools.partial(lab_child, self.own.get(ns)), **streams)
            finally:
                self.space.leave()
        finally:
            self.enter(None)

    # --- the loop -------------------------------------------------------------------------

    def serve(self):
        wakeup = _child_signals()
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        poller.register(wakeup, select.POLLIN)
        while True:
            ready = dict(poller.poll())
            _drain(wakeup)
            reap_orphans({entry[0].pid for entry in self.processes.values()})  # whenever a child ended, and before every request
            if self.sock.fileno() not in ready:
                continue
            try:
                request, fds = wire.recv(self.sock)
            except (EOFError, wire.FrameError):
                return  # the client hung up, or the stream is not ours to read any more
            wire.close_fds(fds)  # a client never sends file descriptors
            seq, reply, fds = _answer(self, request)
            try:
                wire.send(self.sock, {"seq": seq, **reply}, fds)
            except (TypeError, ValueError, wire.FrameError) as e:  # found before a byte is sent
                wire.send(self.sock, {"seq": seq, "ok": False, "error": "ValueError",
                                      "message": f"the engine could not send its reply: {e}"})
            for fd in fds:
                os.close(fd)


def _lab_pid(pid):
    """The pid of the engine's child ``pid`` in the lab's PID namespace (the last of its NSpid)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    raise OSError(f"no NSpid for pid {pid}")


def _child_signals():
    """A pipe that becomes readable when a child ends (SIGCHLD), for the serve loop's poll()."""
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    return read


def _drain(fd):
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass
    except OSError:  # ENOBUFS: more changes than the buffer held; a check follows anyway
        pass


# Steps that change an interface's state: the kernel follows each with work of its own (a link
# event, an IPv6 address and listener reports), done before the next step, so a bridge's reports
# reach the ports it has at that step, whatever the timing.
LINK_STEPS = {"up", "bridge", "veth", "vxlan"}
STEPS = {op[len("_step_"):]: getattr(Engine, op) for op in vars(Engine) if op.startswith("_step_")}

# The requests a client may make: this table, nothing else (no lookup by name on the engine).
REQUESTS = {
    "hello": Engine.hello, "build": Engine.build, "open_packet_sockets": Engine.open_packet_sockets,
    "netlink_dump": Engine.netlink_dump, "settle": Engine.settle, "cancel": Engine.cancel,
    "exec": Engine.exec, "spawn": Engine.spawn, "poll": Engine.poll, "stop": Engine.stop,
}


def _proxy_socket(proto, family, address, port):
    """A socket bound to ``address:port`` as Go's ``net.Listen``/``net.ListenUDP`` leave it for
    docker-proxy: IPv6 only on an IPv6 socket; a TCP one reusing its address, and listening.
    A protocol other than :data:`.proxy.PROTOCOLS` is refused before anything is bound."""
    if proto not in proxy.PROTOCOLS:
        raise StepError(f"protocol {proto!r}: the userland proxy relays {' or '.join(proxy.PROTOCOLS)}")
    sock = socket.socket(family, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        if proto == "tcp":
            sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


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


def _read_host_resolver():
    """The host's /etc/resolv.conf, or "" if the engine cannot read it (a link into the host's
    /run, which the sandbox covers: systemd-resolved's). Read as a file, never queried."""
    try:
        with open("/etc/resolv.conf", errors="replace") as f:
            return f.read(65536)
    except OSError:
        return ""


# Docker 20.10's resolv.conf for a container on the default bridge (libnetwork's resolvconf
# FilterResolvDNS): the host's, less the nameservers on the loopback and, IPv6 being off on that
# network, those with an IPv6 address; if none is left, Google's public ones are added.
_LOCAL_NAMESERVER = re.compile(r"(?m)^nameserver\s+((127\.([0-9]{1,3}\.){2}[0-9]{1,3})|(::1)$)\s*\n*")
_IPV6_NAMESERVER = re.compile(r"(?m)^nameserver\s+[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(%\w+)?\s*\n*")
_NAMESERVER = re.compile(r"(?m)^\s*nameserver\s*(\S+)")
DOCKER_DEFAULT_DNS = ("nameserver 8.8.8.8", "nameserver 8.8.4.4")


def docker_resolv_conf(host):
    """The resolv.conf dockerd writes for a container from the host's text ``host``.

    It is only text in a file, which nothing in the engine reads. A lookup that a lab command
    makes with it ends inside the lab: the lab's namespaces have no link to the host's network."""
    text = _IPV6_NAMESERVER.sub("", _LOCAL_NAMESERVER.sub("", host))
    if not _NAMESERVER.search(text):
        text += "\n" + "\n".join(DOCKER_DEFAULT_DNS)
    return text


def main(fd):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Jupyter interrupt is the client's business
    guard_engine()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # two fds a namespace: 1,000 containers need it
    sock = socket.socket(fileno=fd)
    os.makedirs(NETNS_DIR)  # on the sandbox's own /run, which boot mounted
    host_resolver = _read_host_resolver()  # before _private_resolver covers it
    _private_resolver()
    space = labspace.start()  # before any thread: it forks the lab's init
    use_lab_space(space)
    maker = labspace.start_maker(space)  # before any thread too
    threading.Thread(target=_watch_hangup, args=(sock,), daemon=True).start()
    engine = Engine(sock, space, maker, host_resolver)
    try:
        engine.serve()
    finally:
        os._exit(0)


RTMGRP_LINK, RTMGRP_IPV6_IFADDR = 0x1, 0x100
MAF_TIMER_RUNNING = 0x01  # include/net/if_inet6.h
REPORT_RECHECK = 0.001  # s: how soon a namespace waiting only for a report timer is read again


def _change_watcher():
    """A netlink socket of the current namespace that hears every link and IPv6 address change."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, RTMGRP_LINK | RTMGRP_IPV6_IFADDR))
    sock.setblocking(False)
    return sock


def _without_dad():
    """Whether the current namespace skips duplicate address detection (a quiet_ipv6 node):
    the kernel skips it where both ``all`` and the interface's ``accept_dad`` are below 1, and
    interfaces take ``default``'s. Then a tentative address only waits for its work queue; with
    DAD on it waits a second or two by design, and is not waited for (see :meth:`Engine.settle`)."""
    try:
        values = []
        for conf in ("all", "default"):
            with open(f"/proc/sys/net/ipv6/conf/{conf}/accept_dad") as f:
                values.append(int(f.read()))
        return max(values) < 1
    except FileNotFoundError:  # IPv6 not in this kernel
        return False


def _report_timer_running():
    """Whether a multicast listener report of the current namespace waits on its timer
    (MAF_TIMER_RUNNING in the flags column of /proc/net/igmp6, read for this thread's namespace)."""
    try:
        with open("/proc/thread-self/net/igmp6") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:  # IPv6 not in this kernel
        return False
    return any(int(line.split()[4], 16) & MAF_TIMER_RUNNING for line in lines if len(line.split()) == 6)


def _drain_notifications(sock):
    """Read every pending notification: only that something changed matters."""
    try:
        while sock.recv(65536):
            pass
    except BlockingIOError:
        pass
    except OSError:  # ENOBUFS: more changes than the buffer held; a check follows anyway
        pass
