"""A Lab turns a Topology into kernel objects, runs commands in them, and reads them back.

>>> from nethelpers import Lab, Topology
>>> topo = Topology("demo")
>>> topo.add_node("node1")
Node(name='node1', ...)
>>> topo.add_container("c1", node="node1")
Container(name='c1', node='node1', ...)
>>> with Lab(topo) as lab:
...     print(lab.exec("c1", "ip -br addr show eth0").stdout.split()[2])
172.17.0.2/16

Every lab has an engine of its own (:mod:`nethelpers.engine`): its namespaces live and die
with it. A Lab built again under the same name in the same process replaces the first one,
so a notebook cell run twice gives the same lab, not two.
"""

import os
import shlex
import threading
import weakref
from dataclasses import dataclass
from typing import Optional, Sequence

from . import state
from .names import LAB_PYTHON  # noqa: F401  (part of the API: nethelpers.LAB_PYTHON)
from .errors import CommandError, EngineError, ShellSyntaxError, TopologyError, UsageError, checked_call
from .sandbox import EngineClient
from .topology import Topology


_live = weakref.WeakValueDictionary()  # lab name -> the Lab built under it in this process
_live_lock = threading.Lock()
_name_locks = weakref.WeakValueDictionary()  # lab name -> the lock its builds take


def _name_lock(name):
    with _live_lock:
        lock = _name_locks.get(name)
        if lock is None:
            lock = _name_locks[name] = threading.RLock()
        return lock


@dataclass
class Result:
    """What a command run in a lab namespace did."""

    namespace: str
    command: str
    returncode: int
    stdout: str
    stderr: str
    status: str = "exited"  # or "timeout", "cancelled"

    @property
    def ok(self):
        return self.returncode == 0

    def __str__(self):
        return (self.stdout + self.stderr).rstrip("\n")

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


CUT_NOTE = ("\n[nethelpers: output cut here: the engine keeps background output in 16 MB of memory, "
            "and it was full; write big output to a file in the lab instead]\n")


EXEC_CUT_NOTE = ("\n[nethelpers: output cut here: a command's output is kept up to 16 MB a stream; "
                 "write big output to a file in the lab instead]\n")


def _output_text(reply):
    """A background process's output as text, with a note where it was cut."""
    return reply["output"].decode(errors="replace") + (CUT_NOTE if reply["cut"] else "")


class Process:
    """A command running in the background in a lab namespace (a server, a capture...)."""

    def __init__(self, lab, namespace, argv, pid):
        self.lab, self.namespace, self.argv, self.pid = lab, namespace, argv, pid
        self.returncode = None
        self._output = None

    def __repr__(self):
        state_ = "running" if self.returncode is None else f"exited {self.returncode}"
        shown = shlex.join([os.path.basename(self.argv[0]), *self.argv[1:]])  # no machine-specific path
        return f"<Process {shown!r} in {self.namespace}: {state_}>"

    def poll(self):
        """The exit status, or None while it runs."""
        if self._output is None:
            reply = self.lab._engine().call("poll", pid=self.pid)
            self.returncode = reply["returncode"]
        return self.returncode

    def output(self):
        """Everything it printed so far (stdout and stderr together)."""
        if self._output is not None:
            return self._output
        return _output_text(self.lab._engine().call("poll", pid=self.pid))

    def stop(self):
        """Stop it (SIGTERM, then SIGKILL) and return what it printed."""
        if self._output is None:
            reply = self.lab._engine().call("stop", pid=self.pid)
            self.returncode = reply["returncode"]
            self._output = _output_text(reply)
        return self._output

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.lab.closed:
            self.stop()


def _topology_of(what):
    """The Topology ``what`` describes: a Topology, a lab file's dict, or a lab file's path."""
    if isinstance(what, Topology):
        return what
    if isinstance(what, dict):
        return Topology.from_dict(what)
    if isinstance(what, (str, os.PathLike)):
        return Topology.from_yaml(what)
    raise UsageError(
        f"Lab: expected a Topology, a dict as a lab file holds, or a lab file's path, got "
        f"{type(what).__name__} {_clip(repr(what))}"
    )


def _clip(text, limit=60):
    return text if len(text) <= limit else text[:limit] + "..."


# What a shell would read as more than words, outside single quotes: a learner who writes it
# expects a shell. (Braces and '#' are left alone: nft and tcpdump take them as words.)
_SHELL_OPERATORS = ("|", ";", "&", ">", "<", "`", "$(", "${", "*", "?", "\n")


def shell_syntax(command):
    """The first piece of shell syntax in ``command`` (outside single quotes), or None.

    >>> shell_syntax("ip -br a | grep eth0")
    '|'
    >>> shell_syntax("ping -c 1 '10.0.0.1'") is None
    True
    """
    quote, i = None, 0
    while i < len(command):
        ch = command[i]
        if quote == "'":
            quote = None if ch == "'" else quote
        elif ch == "\\":
            i += 1  # an escaped character is a plain character
        elif quote == '"' and ch == '"':
            quote = None
        elif quote is None and ch in "'\"":
            quote = ch
        elif ch == "$" and i + 1 < len(command) and (command[i + 1].isalpha() or command[i + 1] == "_"):
            return command[i:i + 2] + "..."  # $VAR
        else:
            for op in _SHELL_OPERATORS:
                if command.startswith(op, i) and (quote is None or op in ("`", "$(", "${")):
                    return op
        i += 1
    return None


def _argv(call, command, shell):
    """The argv that runs ``command``: ``sh -c COMMAND`` with ``shell``, else its words."""
    if shell:
        if not isinstance(command, str) or not command.strip():
            raise UsageError(f"{call}(shell=True): give the command line as a non-empty string for sh -c, "
                             f"got {type(command).__name__} {_clip(repr(command))}")
        return ["sh", "-c", command]
    if isinstance(command, str):
        syntax = shell_syntax(command)
        if syntax is not None:
            raise ShellSyntaxError(
                f"{call}: {_clip(repr(command), 120)} holds shell syntax ({syntax!r}) but no shell runs it; "
                f"pass shell=True to run it with sh -c, or give the words as a list"
            )
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise ShellSyntaxError(f"{call}: cannot split {_clip(repr(command), 120)} into words ({e}); "
                                   "close the quote") from None
    elif isinstance(command, (list, tuple)):
        bad = [a for a in command if not isinstance(a, (str, int, float, os.PathLike)) or isinstance(a, bool)]
        if bad:
            raise UsageError(f"{call}: every word of the command must be a string (or a number), "
                             f"got {type(bad[0]).__name__} {_clip(repr(bad[0]))}")
        argv = [os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in command]
    else:
        raise UsageError(f"{call}: the command must be a string or a list of words, got "
                         f"{type(command).__name__} {_clip(repr(command))}")
    if not argv or not argv[0]:
        raise UsageError(f"{call}: the command is empty; give a program and its arguments, like 'ip -br addr'")
    if any("\0" in a for a in argv):
        raise UsageError(f"{call}: a word of the command holds a NUL character, which no program can receive")
    return argv


def _check_env(call, env):
    if env is None:
        return
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise UsageError(f"{call}: env must be a dict of str to str, or None, got {_clip(repr(env))}")


def _check_timeout(timeout):
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise UsageError(f"exec: timeout must be a finite number of seconds above 0, got {_clip(repr(timeout))}; "
                         "exec always has a limit (None is not 'no limit'): for a command that runs on, use spawn()")


class Lab:
    """A built lab: the namespaces of ``topology`` and everything in them.

    Args:
        topology: a :class:`Topology`, a dict as a lab file holds, or a lab file's path.
        build: build at once (the default); else call :meth:`build`.
        settle: after building, wait until every interface's state, as ``ip`` prints it,
            agrees with its carrier (the kernel reports it up to a second late; see
            :meth:`settle`).
    """

    @checked_call
    def __init__(self, topology: "Topology | dict | str | os.PathLike", *, build: bool = True,
                 settle: bool = True):
        self.topology = _topology_of(topology)
        self.resolved = None
        self._client = None
        self.settles = settle
        if build:
            self.build()

    def __repr__(self):
        where = "not built" if self.closed else f"{len(self.resolved.namespaces)} namespaces"
        return f"<Lab {self.topology.name!r}: {where}>"

    # --- life cycle ---------------------------------------------------------------------

    def build(self):
        """Build the lab from scratch. Builds again if it exists; replaces a same-named lab
        of this process. On failure nothing is left behind, and the error names the step."""
        resolved = self.topology.resolve()  # raises TopologyError before the kernel is touched
        with _name_lock(self.topology.name):  # two threads building one name: one after the other
            with _live_lock:
                previous = _live.get(self.topology.name)
                _live[self.topology.name] = self
            if previous is not None and previous is not self:
                previous.close()
            self.close()
            client = EngineClient()
            steps = [(s.op, s.ns, s.args, s.command()) for s in resolved.steps]
            try:
                client.call("build", steps=steps)
            except BaseException:
                client.close()
                raise
            self._client, self.resolved = client, resolved
        if self.settles:
            self.settle()
        return self

    def settle(self, timeout=2.0):
        """Wait (at most ``timeout`` s) until the kernel has done what it still owes the lab:
        every interface's state reported as it is (UP with a carrier, DOWN without), IPv6
        addresses past their duplicate address detection where a node skips it (``quiet_ipv6``;
        with it on, as on Docker's host, an address stays tentative 1 to 2 s after its link
        comes up, and is not waited for), no multicast listener report pending on its timer. A build and every capture's start and stop do it; call it after taking a link
        up or down yourself, before reading states. Returns the seconds waited."""
        return self._engine().call("settle", timeout=timeout)

    rebuild = build

    def close(self):
        """Tear the lab down: its engine ends, and every namespace and process with it."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    teardown = close

    @property
    def closed(self):
        return self._client is None or self._client.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _engine(self):
        if self._client is not None and self._client.broken:
            raise EngineError(f"lab {self.topology.name!r}: {self._client.broken}")
        if self.closed:
            raise EngineError(f"lab {self.topology.name!r} is not built; call build() first")
        return self._client

    # --- commands -----------------------------------------------------------------------

    @property
    def namespaces(self):
        """The lab's namespaces, in build order."""
        return list(self.resolved.namespaces) if self.resolved else self.topology.namespace_names()

    def veth(self, container):
        """The host-side veth of ``container`` (``veth`` + 7 hex characters), on its node.

        >>> lab.veth("c1")  # doctest: +SKIP
        'vethc5b6591'
        """
        resolved = self.resolved or self.topology.resolve()
        if not isinstance(container, str) or container not in resolved.containers:
            raise TopologyError(f"no container {container!r} in lab {self.topology.name!r}; "
                                f"it has {', '.join(resolved.containers) or 'none'}")
        return resolved.containers[container].veth

    def _check_ns(self, ns):
        if not isinstance(ns, str):
            raise UsageError(f"the namespace must be a name (a str), got {type(ns).__name__} {_clip(repr(ns))}")
        if ns not in self.namespaces:
            raise TopologyError(
                f"namespace {ns!r} is not in lab {self.topology.name!r}; "
                f"it has {', '.join(self.namespaces)}"
            )

    @checked_call
    def exec(self, ns: str, command: "str | Sequence[str]", *, input: "str | bytes | None" = None,
             timeout: float = 60, check: bool = False, env: "Optional[dict]" = None, shell: bool = False) -> Result:
        """Run ``command`` (a string or an argv list) in namespace ``ns`` and wait for it.

        Without a shell, a string is split into words as a shell would (quotes work) and run
        directly; if it holds shell syntax (``|``, ``;``, ``&&``, ``>``, ``<``, ``$(...)``,
        backticks, ``$VAR``, unquoted ``*`` or ``?``) a :class:`ShellSyntaxError` says to pass
        ``shell=True``, which runs it with ``sh -c`` in the namespace. ``timeout`` is a positive
        number of seconds (there is always one; use :meth:`spawn` for what runs on).

        Returns a :class:`Result`; with ``check=True`` a non-zero status raises CommandError.

        >>> lab.exec("c1", "ping -c 1 172.17.0.3").ok  # doctest: +SKIP
        True
        >>> lab.exec("c1", "ip -br a | grep eth0", shell=True).stdout  # doctest: +SKIP
        'eth0@if5   UP   172.17.0.2/16 \\n'
        """
        argv = _argv("exec", command, shell)
        _check_timeout(timeout)
        _check_env("exec", env)
        if not isinstance(input, (str, bytes, type(None))):
            raise UsageError(f"exec: input must be str, bytes or None, got {type(input).__name__}")
        self._check_ns(ns)
        if isinstance(input, str):
            input = input.encode()
        reply = self._engine().call("exec", ns=ns, argv=argv, input=input, timeout=timeout, env=env)
        cut = EXEC_CUT_NOTE if reply["cut"] else ""
        result = Result(
            ns, shlex.join(argv), reply["returncode"],
            reply["stdout"].decode(errors="replace") + cut, reply["stderr"].decode(errors="replace"),
            reply["status"],
        )
        if result.status == "timeout":
            raise TimeoutError(f"{ns}: `{result.command}` did not finish in {timeout} s")
        if check and not result.ok:
            raise CommandError(result)
        return result

    @checked_call
    def spawn(self, ns: str, command: "str | Sequence[str]", *, env: "Optional[dict]" = None,
              shell: bool = False) -> "Process":
        """Start ``command`` in the background in ``ns``; returns a :class:`Process`.

        ``command`` and ``shell`` as for :meth:`exec`.
        """
        argv = _argv("spawn", command, shell)
        _check_env("spawn", env)
        self._check_ns(ns)
        pid = self._engine().call("spawn", ns=ns, argv=argv, env=env)
        return Process(self, ns, argv, pid)

    def sysctl(self, ns, key, value=None):
        """Read a ``net.*`` sysctl in ``ns``, or set it when ``value`` is given."""
        command = ["sysctl", "-n", key] if value is None else ["sysctl", "-qw", f"{key}={value}"]
        return self.exec(ns, command, check=True).stdout.strip() if value is None else self.exec(ns, command, check=True) and None

    # --- reading the kernel back ---------------------------------------------------------

    def _json(self, ns, command):
        return state.parse_json(self.exec(ns, command, check=True).stdout)

    def links(self, ns):
        """The interfaces of ``ns`` (``ip -d link``)."""
        return state.links(ns, self._json(ns, "ip -j -d link show"))

    def addresses(self, ns):
        """The IPv4 addresses of ``ns`` (``ip addr``)."""
        return state.addresses(ns, self._json(ns, "ip -j -4 addr show"))

    def routes(self, ns):
        """The main routing table of ``ns`` (``ip route``)."""
        return state.routes(ns, self._json(ns, "ip -j -4 route show"))

    def neighbours(self, ns):
        """The neighbour (ARP) table of ``ns`` (``ip neigh``)."""
        return state.neighbours(ns, self._json(ns, "ip -j -4 neigh show"))

    def bridge_ports(self, ns):
        """Bridge ports in ``ns`` and their bridge (what ``brctl show`` / ``bridge link`` show)."""
        return state.bridge_ports(ns, self._json(ns, "ip -j -d link show"))

    def fdb(self, ns, bridge=None, multicast=False):
        """The bridge forwarding database of ``ns`` (``bridge fdb``), learned entries first;
        multicast entries only when asked for."""
        command = "bridge -j fdb show" + (f" br {bridge}" if bridge else "")
        return state.fdb(ns, self._json(ns, command), multicast)

    def ruleset(self, ns):
        """The nftables rules of ``ns`` with their counters (``nft list ruleset``)."""
        return state.ruleset(ns, self._json(ns, "nft -j list ruleset"))

    def conntrack(self, ns):
        """The connection-tracking entries of ``ns`` (``conntrack -L``)."""
        result = self.exec(ns, "conntrack -L -o extended")
        if not result.ok and "Protocol not supported" not in result.stderr:
            raise CommandError(result)
        return state.conntrack(ns, result.stdout)

    def sysctls(self, ns, keys=("net.ipv4.ip_forward", "net.ipv6.conf.all.disable_ipv6",
                                  "net.bridge.bridge-nf-call-iptables")):
        """A few sysctls of ``ns`` as a table; unknown keys show as absent."""
        result = self.exec(ns, ["sysctl", *keys])
        return state.sysctls(ns, keys, result.stdout)

    def commands(self):
        """The ``ip``/``bridge``/``nft`` commands that build this lab by hand."""
        return self.topology.commands()

    # --- packets ------------------------------------------------------------------------

    def capture(self, points, filter=None, **options):
        """Start capturing at ``points`` (``"ns:ifname"``...); returns a started AsyncCapture.

        >>> cap = lab.capture(["c1:eth0", "c3:eth0"], filter="arp or icmp")  # doctest: +SKIP
        >>> lab.exec("c1", "ping -c 1 172.17.0.3")                            # doctest: +SKIP
        >>> cap.stop().table()                                                # doctest: +SKIP
        """
        from .capture import AsyncCapture

        return AsyncCapture(self, points, filter, **options).start()

    def sniff(self, points, filter=None, **options):
        """Capture at ``points`` until ``while_running()`` returns (or count/timeout); a Capture."""
        from .capture import sniff

        return sniff(self, points, filter, **options)

    def send(self, point, frame, count=1):
        """Send a hand-made frame (scapy, or bytes) out of ``point`` (``"ns:ifname"``)."""
        from .capture import parse_points

        (ns, ifname), = parse_points([point], self.namespaces)
        _, fds = self._engine().call_fds("open_packet_sockets", points=[(ns, ifname)], promisc=False, rcvbuf=None)
        import socket

        with socket.socket(fileno=fds[0]) as sock:
            data = bytes(frame)
            for _ in range(count):
                sock.send(data)
