"""Capturing packets at many points of a lab at once, and replaying saved captures.

A capture point is an interface in a lab namespace, written ``"namespace:interface"``
(``"c1:eth0"``, ``"node1:docker0"``, ``"node1:vxlan0"``). The engine opens one AF_PACKET
socket per point, already filtered and bound, and passes it to this process: the capture is
ready when :meth:`AsyncCapture.start` returns, and it never misses the first packet, whatever
the reader thread is doing, since the kernel queues packets in the socket (4 MiB each).

The two forms take the same arguments, as scapy's ``AsyncSniffer`` and ``sniff`` do::

    cap = lab.capture(["c1:eth0", "c3:eth0"], filter="arp or icmp")   # AsyncCapture, started
    lab.exec("c1", "ping -c 1 172.17.0.3")
    packets = cap.stop()                                              # a Capture

    packets = lab.sniff(["c1:eth0"], filter="icmp", while_running=lambda: lab.exec(...))

``sniff(offline="capture.pcapng")`` replays a saved capture through the same API.
"""

import array
import errno
import os
import select
import socket
import struct
import threading
import time

from .errors import CaptureError, TopologyError

SOL_PACKET, PACKET_STATISTICS = 263, 6
SO_TIMESTAMPNS, SCM_TIMESTAMPNS = 35, 35
PKTTYPE = {0: "in", 1: "in", 2: "in", 3: "in", 4: "out"}  # host, broadcast, multicast, otherhost, outgoing
PKTTYPE_NAME = {0: "host", 1: "broadcast", 2: "multicast", 3: "otherhost", 4: "outgoing"}
DLT_EN10MB = 1
LIMIT = 200_000  # packets a capture keeps by default: a few hundred MB at most
SPARE_FDS = 64  # file descriptors a process needs besides its capture sockets
PCAPNG_DIRECTION = {"in": 1, "out": 2}  # epb_flags bits 0-1


def compile_bpf(expression):
    """Compile a tcpdump filter expression to classic BPF bytecode (``struct sock_filter[]``).

    >>> len(compile_bpf("arp")) % 8
    0
    """
    from scapy.arch.common import compile_filter

    try:
        program = compile_filter(expression, linktype=DLT_EN10MB)
    except Exception as e:  # scapy raises its own exception types for libpcap's complaints
        raise ValueError(f"filter {expression!r} is not a valid capture filter: {e}") from None
    return b"".join(
        struct.pack("HBBI", program.bf_insns[i].code, program.bf_insns[i].jt, program.bf_insns[i].jf,
                    program.bf_insns[i].k)
        for i in range(program.bf_len)
    )


class Packet:
    """One frame seen at one capture point.

    Attributes: ``point`` (``"ns:ifname"``), ``time`` (kernel timestamp, seconds since the
    epoch), ``direction`` (``"out"``: the interface sent it; ``"in"``: it received it),
    ``pkttype`` (host, broadcast, multicast, otherhost, outgoing) and ``raw`` (the bytes).
    ``frame`` is the frame decoded by scapy.
    """

    __slots__ = ("point", "time", "direction", "pkttype", "raw", "_frame")

    def __init__(self, point, time_, direction, pkttype, raw):
        self.point, self.time, self.direction, self.pkttype, self.raw = point, time_, direction, pkttype, raw
        self._frame = None

    @property
    def frame(self):
        if self._frame is None:
            from scapy.layers.l2 import Ether

            from . import packets  # registers VXLAN on the kernel's default port too

            packets.bind_layers()
            self._frame = Ether(self.raw)
            self._frame.time = self.time
        return self._frame

    @property
    def namespace(self):
        return self.point.split(":", 1)[0]

    @property
    def interface(self):
        return self.point.split(":", 1)[1]

    def summary(self):
        from .packets import describe

        return describe(self.frame)

    def __repr__(self):
        return f"<Packet {self.point} {self.direction} {self.summary()}>"


def parse_points(points, namespaces=None):
    """Normalise capture points to ``[(namespace, interface)]``; check namespaces if known."""
    if isinstance(points, str):
        points = [points]
    parsed = []
    for point in points:
        if isinstance(point, str):
            if point.count(":") != 1:
                raise TopologyError(f"capture point {point!r} must be written 'namespace:interface', like 'c1:eth0'")
            point = tuple(point.split(":"))
        ns, ifname = point
        if namespaces is not None and ns not in namespaces:
            raise TopologyError(f"capture point {ns}:{ifname}: no namespace {ns!r}; the lab has {', '.join(namespaces)}")
        parsed.append((ns, ifname))
    if len(set(parsed)) != len(parsed):
        raise TopologyError(f"capture points repeat: {points!r}")
    return parsed


class AsyncCapture:
    """Capture at several points in the background; :meth:`stop` returns a :class:`Capture`.

    Packets seen at the same instant are ordered as the points are given: list a bridge's
    ports before the bridge, so that a frame reads as entering the port, then the bridge.

    Args:
        lab: the Lab whose namespaces hold the points (None with ``offline``).
        points: ``"ns:ifname"`` strings or ``(ns, ifname)`` pairs.
        filter: a tcpdump/BPF expression (``"arp or icmp"``, ``"udp port 4789"``), applied in
            the kernel before the socket sees a packet.
        count: stop after this many packets in all (0: no limit).
        timeout: stop after this many seconds (None: no limit).
        promisc: put the interfaces in promiscuous mode (a bridge shows only what is for the
            host without it); it ends with the capture.
        prn: a function called with each Packet as it arrives.
        stop_filter: a function of a Packet; the capture stops when it returns True.
        offline: a saved capture (pcap or pcapng) to replay instead of a lab.
        limit: keep at most this many packets (a capture nobody stops has bounded memory);
            packets past it are counted, per point, in ``overflow`` and in the result's ``drops``.
    """

    def __init__(self, lab=None, points=(), filter=None, count=0, timeout=None, promisc=True, prn=None,
                 stop_filter=None, offline=None, limit=LIMIT):
        self.lab, self.filter, self.count, self.timeout = lab, filter, count, timeout
        self.limit, self.overflow, self._error = limit, {}, None
        self.promisc, self.prn, self.stop_filter, self.offline = promisc, prn, stop_filter, offline
        if offline is None:
            if lab is None:
                raise ValueError("capture needs a lab, or offline= a saved capture")
            self.points = parse_points(points, lab.namespaces)
            if not self.points:
                raise ValueError("capture needs at least one point, like 'c1:eth0'")
        else:
            self.points = parse_points(points) if points else []
        self.bpf = compile_bpf(filter) if filter else None
        self.packets = []
        self.socks = []
        self.drops = {}
        self._stop = threading.Event()
        self._thread = None
        self.running = False

    # life cycle

    def start(self):
        """Open every point; returns once all are ready, so traffic sent after it is seen."""
        if self.offline is not None:
            self._thread = threading.Thread(target=self._replay, daemon=True)
            self.running = True
            self._thread.start()
            return self
        _make_room_for(len(self.points))
        self.lab.settle()  # nothing the kernel still owes the lab (a link event, a listener report) falls in by timing
        count, fds = self.lab._engine().call_fds(
            "open_packet_sockets", points=self.points, bpf=self.bpf, promisc=self.promisc
        )
        self.socks = [socket.socket(fileno=fd) for fd in fds]
        for sock in self.socks:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setblocking(False)
        self.started = time.time()
        self.running = True
        self._thread = threading.Thread(target=self._read, name="nethelpers-capture", daemon=True)
        self._thread.start()
        return self

    def stop(self, settle=0.05):
        """Stop (after ``settle`` seconds for packets still in flight); return the Capture.

        Before that, the lab settles (see :meth:`nethelpers.Lab.settle`): what the kernel does
        after a command in the capture (an interface's state, IPv6's listener reports) is in it
        whatever the timing."""
        if self.running and not self._stop.is_set():
            if settle and self.offline is None:
                self.lab.settle()
            time.sleep(settle)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.results()

    def join(self, timeout=None):
        """Wait until the capture ends by itself (count, timeout or stop_filter)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.results()

    def results(self):
        """The Capture so far; raises CaptureError if the reader failed (with its exception as cause)."""
        if self._error is not None:
            raise CaptureError(f"the capture's reader failed: {self._error!r}; packets before it: "
                               f"{len(self.packets)}") from self._error
        drops = {point: self.drops.get(point, 0) + self.overflow.get(point, 0)
                 for point in set(self.drops) | set(self.overflow)}
        return Capture(self.packets, [f"{ns}:{ifname}" for ns, ifname in self.points], drops, self.overflow)

    def __enter__(self):
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # reading

    def _done(self, packet):
        if self.prn is not None:
            self.prn(packet)
        if self.stop_filter is not None and self.stop_filter(packet):
            return True
        return bool(self.count) and len(self.packets) >= self.count

    def _read(self):
        try:
            self._read_sockets()
        except BaseException as e:  # handed to the caller by stop()/join()/results()
            self._error = e

    def _keep(self, packet):
        """Keep ``packet`` unless the capture holds ``limit`` already; then count it as dropped."""
        if self.limit and len(self.packets) >= self.limit:
            self.overflow[packet.point] = self.overflow.get(packet.point, 0) + 1
            return False
        self.packets.append(packet)
        return True

    def _read_sockets(self):
        names = {sock.fileno(): f"{ns}:{ifname}" for sock, (ns, ifname) in zip(self.socks, self.points)}
        by_fd = {sock.fileno(): sock for sock in self.socks}
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        ancsize = socket.CMSG_SPACE(16)
        try:
            while True:
                stopping = self._stop.is_set() or (deadline is not None and time.monotonic() >= deadline)
                ready = poller.poll(0 if stopping else 20)
                if not ready and stopping:
                    break  # drained
                for fd, _ in ready:
                    sock = by_fd[fd]
                    while True:
                        try:
                            raw, anc, _, address = sock.recvmsg(65535, ancsize)
                        except BlockingIOError:
                            break
                        except OSError as e:
                            if e.errno != errno.ENETDOWN:  # the interface went down: reported once
                                raise
                            break
                        stamp = time.time()
                        for level, kind, data in anc:
                            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
                                sec, nsec = struct.unpack("qq", data[:16])
                                stamp = sec + nsec / 1e9
                        pkttype = address[2]
                        packet = Packet(names[fd], stamp, PKTTYPE.get(pkttype, "in"), PKTTYPE_NAME.get(pkttype), raw)
                        if self._keep(packet) and self._done(packet):
                            self._stop.set()
                            deadline = time.monotonic()
        finally:
            # Time order; a bridge port and its bridge share a timestamp, so ties go by
            # direction (the sender first), then by the order the points were given: the
            # same capture always reads the same way, whichever socket was read first.
            order = {name: i for i, name in enumerate(names.values())}
            self.packets.sort(key=lambda p: (p.time, p.direction != "out", order[p.point]))
            if self.count:  # packets that arrived with the last one counted, read as it was: not kept
                del self.packets[self.count:]
            for sock, point in zip(self.socks, names.values()):
                stats = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
                self.drops[point] = struct.unpack("II", stats)[1]
                sock.close()  # and promiscuous mode ends with it
            self.running = False

    def _replay(self):
        try:
            for packet in read_pcap(self.offline):
                if self.points and (packet.namespace, packet.interface) not in self.points:
                    continue
                if self.filter and not _matches(self.bpf, packet.raw):
                    continue
                if (self._keep(packet) and self._done(packet)) or self._stop.is_set():
                    break
        except BaseException as e:
            self._error = e
        finally:
            self.running = False


def _matches(bpf, raw):
    """Run a compiled filter on one frame, in the kernel: a socketpair with the filter attached."""
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        program = array.array("B", bpf)
        address, _ = program.buffer_info()
        right.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(bpf) // 8, address))
        left.send(raw)
        right.setblocking(False)
        try:
            return bool(right.recv(65535))
        except BlockingIOError:
            return False
    finally:
        left.close()
        right.close()


def sniff(lab=None, points=(), filter=None, count=0, timeout=None, promisc=True, prn=None, stop_filter=None,
          offline=None, while_running=None):
    """Capture and wait: until ``while_running()`` returns, or count/timeout/stop_filter.

    Same arguments as :class:`AsyncCapture`, plus ``while_running``: a function to call once
    the capture is ready (the traffic to observe). Returns a :class:`Capture`.
    """
    if offline is None and while_running is None and not (count or timeout or stop_filter):
        raise ValueError("sniff would wait for ever: give while_running, count, timeout or stop_filter")
    capture = AsyncCapture(lab, points, filter, count, timeout, promisc, prn, stop_filter, offline).start()
    if while_running is not None:
        try:
            while_running()
        except BaseException:
            try:
                capture.stop(settle=0)  # close the sockets; the caller's exception goes on
            except CaptureError:
                pass
            raise
        return capture.stop()
    return capture.join()


def _make_room_for(count):
    """Raise this process's soft fd limit if ``count`` more sockets need it; CaptureError if the
    hard limit is too low, before anything starts."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = len(os.listdir("/proc/self/fd")) + count + SPARE_FDS
    if needed <= soft:
        return
    if hard != resource.RLIM_INFINITY and needed > hard:
        raise CaptureError(f"a capture at {count} points needs {needed} file descriptors and this process may "
                           f"open {hard} (ulimit -Hn); capture at fewer points, or raise the limit")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Capture(list):
    """The packets of a capture, in time order, with ways to look at them."""

    def __init__(self, packets, points=(), drops=None, overflow=None):
        super().__init__(packets)
        self.points = list(points) or sorted({p.point for p in packets}, key=lambda p: p)
        self.drops = drops or {}  # point -> packets lost: by the kernel (buffer full) or past the limit
        self.overflow = overflow or {}  # point -> packets past the capture's limit

    def at(self, point):
        """The packets seen at one point."""
        return Capture([p for p in self if p.point == point], [point], {point: self.drops.get(point, 0)})

    def where(self, predicate):
        """The packets for which ``predicate(packet)`` is true."""
        return Capture([p for p in self if predicate(p)], self.points, self.drops)

    def count_at(self):
        """``{point: number of packets}`` for every point, zeros included."""
        counts = {point: 0 for point in self.points}
        for p in self:
            counts[p.point] = counts.get(p.point, 0) + 1
        return counts

    def table(self, title="capture", times=True):
        """One row per packet: time since the first (unless ``times=False``, for output that
        repeats from run to run), point, direction, what it is."""
        from .state import Table

        t0 = self[0].time if self else 0
        rows = [
            {"#": i + 1, "ms": f"{(p.time - t0) * 1000:.3f}", "point": p.point, "dir": p.direction,
             "packet": p.summary()}
            for i, p in enumerate(self)
        ]
        columns = ["#", "ms", "point", "dir", "packet"] if times else ["#", "point", "dir", "packet"]
        return Table(title, columns, rows)

    def journeys(self):
        """The same packet recognised across points: see :func:`nethelpers.journey.journeys`."""
        from .journey import journeys

        return journeys(self)

    def ladder(self, **options):
        """A ladder (sequence) diagram as a matplotlib figure: see :mod:`nethelpers.ladder`."""
        from .ladder import ladder

        return ladder(self, **options)

    def mermaid(self, **options):
        """The ladder diagram as Mermaid text, which JupyterLab renders in Markdown."""
        from .ladder import mermaid

        return mermaid(self, **options)

    def to_pcap(self, path, merged=True):
        """Write a pcapng file with interface names (``merged``), or one pcap per point into
        the directory ``path``. Returns the path(s) written."""
        if merged:
            write_pcapng(self, path)
            return path
        os.makedirs(path, exist_ok=True)
        written = []
        for point in self.points:
            file = os.path.join(path, point.replace(":", "-") + ".pcap")
            write_pcap(self.at(point), file)
            written.append(file)
        return written

    @classmethod
    def from_pcap(cls, path):
        """Read a capture written by :meth:`to_pcap` (or any pcap/pcapng file)."""
        return cls(list(read_pcap(path)))

    def __repr__(self):
        lost = sum(self.drops.values())
        return f"<Capture: {len(self)} packets at {len(self.points)} points" + (f", {lost} dropped>" if lost else ">")

    def _repr_html_(self):
        return self.table()._repr_html_()

    def __str__(self):
        return str(self.table())


# pcap files: written here (a few fixed blocks), read back with scapy.


def _option(code, value):
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(kind, body):
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def write_pcapng(packets, path):
    """pcapng with one interface per capture point, named ``ns:ifname``, nanosecond times
    and each packet's direction (inbound/outbound), as Wireshark shows them."""
    interfaces = {}
    with open(path, "wb") as f:
        f.write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        for p in packets:
            if p.point not in interfaces:
                interfaces[p.point] = len(interfaces)
                options = _option(2, p.point.encode()) + _option(9, bytes([9])) + _option(0, b"")
                f.write(_block(1, struct.pack("<HHI", DLT_EN10MB, 0, 262144) + options))
            stamp = int(round(p.time * 1e9))
            flags = _option(2, struct.pack("<I", PCAPNG_DIRECTION[p.direction])) + _option(0, b"")
            data = p.raw + b"\0" * (-len(p.raw) % 4)
            head = struct.pack("<IIIII", interfaces[p.point], stamp >> 32, stamp & 0xFFFFFFFF, len(p.raw), len(p.raw))
            f.write(_block(6, head + data + flags))


def write_pcap(packets, path):
    """Classic pcap (nanosecond variant) of one capture point."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, DLT_EN10MB))
        for p in packets:
            stamp = int(round(p.time * 1e9))
            f.write(struct.pack("<IIII", stamp // 10**9, stamp % 10**9, len(p.raw), len(p.raw)) + p.raw)


def read_pcap(path):
    """Yield Packets from a pcap or pcapng file; points come from pcapng interface names."""
    from scapy.utils import PcapReader

    path = os.fspath(path)
    default = os.path.splitext(os.path.basename(path))[0].replace("-", ":", 1)
    with PcapReader(path) as reader:
        for frame in reader:
            point = getattr(frame, "sniffed_on", None) or default
            direction = {1: "in", 2: "out"}.get(getattr(frame, "direction", None), "in")
            packet = Packet(point, float(frame.time), direction, None, bytes(frame))
            yield packet
