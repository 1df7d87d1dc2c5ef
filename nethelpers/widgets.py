"""Jupyter UIs over a built lab: send traffic and see it (:class:`PacketExplorer`), and read one
namespace's kernel tables (:class:`LabInspector`).

Each is a plain object holding ipywidgets: ``.widget`` is the top container, and putting the
object last in a cell shows it. Every button has a method doing the same thing
(:meth:`PacketExplorer.run`, :meth:`LabInspector.refresh`), so a notebook or a test drives the
UI without a browser, and what a click shows is what the method stored::

    explorer = PacketExplorer(lab)
    explorer                                     # the UI, in JupyterLab
    explorer.run(source="c1", destination="172.17.0.3", protocol="icmp")
    explorer.capture.at("c2:eth0")               # the packets of the last run

    inspector = LabInspector(lab)
    inspector.dropdown.value = "node1"           # as if picked in the UI
    inspector.views["links"].value               # the HTML the links tab shows
"""

import base64
import contextlib
import html
import importlib.util
import io
import ipaddress
import shlex
import time
import traceback

from .i18n import tr
from .lab import LAB_PYTHON

PROTOCOLS = {
    "icmp": "ping (ICMP echo)",
    "arp": "ARP only",
    "udp": "UDP: one datagram",
    "tcp": "TCP: connect",
}
VXLAN_FILTER = "udp port 4789 or udp port 8472"  # so encapsulated packets show on an underlay


class _Shown:
    """Showing the object shows its ``.widget``."""

    widget = None

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# Outputs for an ipywidgets Output, built as data: they work with or without a kernel.


def _stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text if text.endswith("\n") else text + "\n"}


def _display(obj):
    data = {"text/plain": str(obj)}
    if hasattr(obj, "_repr_html_"):
        data["text/html"] = obj._repr_html_()
    return {"output_type": "display_data", "data": data, "metadata": {}}


def _figure(fig, title):
    """A matplotlib figure as a PNG output; the figure is closed (no second inline copy)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"output_type": "display_data", "data": {"image/png": png, "text/plain": f"<{title}>"}, "metadata": {}}


def _have(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _python(code, **values):
    """argv running ``code`` in this Python, ``{name}`` placeholders filled in (strings quoted
    with double quotes: the code holds no single quote, so the shell form stays readable)."""
    return [LAB_PYTHON, "-c", code.format(**{k: f'"{v}"' if isinstance(v, str) else v for k, v in values.items()})]


def _shown(argv):
    """The command as a learner would type it: ``python3`` for this Python."""
    return shlex.join(["python3", *argv[1:]] if argv[0] == LAB_PYTHON else argv)


_UDP_CLIENT = (
    "import socket\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.connect(({address}, {port}))\n"
    "s.send(b\"nethelpers\")\n"
    "print(\"sent 10 bytes from %s:%d to %s:%d\" % (s.getsockname() + s.getpeername()))\n"
)
_TCP_CLIENT = (
    "import socket, sys\n"
    "try:\n"
    "    s = socket.create_connection(({address}, {port}), timeout=3)\n"
    "except OSError as e:\n"
    "    sys.exit(\"connect to %s:%d failed: %s\" % ({address}, {port}, e))\n"
    "print(\"connected %s:%d -> %s:%d\" % (s.getsockname() + s.getpeername()))\n"
    "s.close()\n"
)
_UDP_SERVER = (
    "import socket\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.bind(({address}, {port}))\n"
    "print(\"ready\", flush=True)\n"
    "data, peer = s.recvfrom(65535)\n"
    "print(\"received %r from %s:%d\" % ((data,) + peer), flush=True)\n"
)
_TCP_SERVER = (
    "import socket\n"
    "s = socket.socket()\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(({address}, {port}))\n"
    "s.listen(1)\n"
    "print(\"ready\", flush=True)\n"
    "c, peer = s.accept()\n"
    "print(\"accepted %s:%d\" % peer, flush=True)\n"
    "c.close()\n"
)


class PacketExplorer(_Shown):
    """Send one exchange between lab namespaces and show what every capture point saw.

    Pick a source (a container, node or bare namespace), a destination (an address of the
    lab, a namespace's name, or any address typed in), a protocol and the capture points, then
    Run: the capture starts, the traffic runs with :meth:`Lab.exec`, and the Output shows the
    command and its result, the packets (:meth:`Capture.table`), the FDB/neighbour/conntrack
    entries the exchange changed (:func:`nethelpers.snapshot.watch`), the ladder diagram
    (:mod:`nethelpers.ladder`) and the topology with the path highlighted
    (:mod:`nethelpers.draw`) where those modules exist.

    The capture points default to the path's interfaces: the source's and destination's
    ``eth0`` and every interface of their nodes; they follow the source and destination.

    Args:
        lab: a built :class:`~nethelpers.Lab`.
        port: the UDP/TCP port to use (editable in the UI).

    >>> explorer = PacketExplorer(lab)                              # doctest: +SKIP
    >>> capture = explorer.run(source="c1", destination="c2")       # doctest: +SKIP
    >>> capture.at("c3:eth0").table()                               # doctest: +SKIP
    """

    def __init__(self, lab, port=8080):
        import ipywidgets as w

        self.lab = lab
        self.capture = self.result = self.changes = self.server_output = self.command = self.argv = None
        self.figures = {}
        self._arping = None
        self.interfaces = {}  # ns -> interface names, lo left out
        self.addresses = []  # (address, ns, dev)
        self._kinds = {}  # "ns:ifname" -> kind (veth, bridge, vxlan...)
        for ns in lab.namespaces:
            links = [row for row in lab.links(ns) if row["name"] != "lo"]
            self.interfaces[ns] = [row["name"] for row in links]
            self._kinds.update({f"{ns}:{row['name']}": row["kind"] for row in links})
            for row in lab.addresses(ns):
                if row["dev"] != "lo":
                    self.addresses.append((row["address"].split("/")[0], ns, row["dev"]))

        resolved = lab.resolved
        self.containers = dict(resolved.containers) if resolved else {}
        self.nodes = list(resolved.nodes) if resolved else []
        switch = lab.topology.switch if lab.topology._has_underlay() else None
        bare = [ns for ns in lab.namespaces if ns not in self.containers and ns not in self.nodes and ns != switch]
        sources = [(tr("{name} (container)", name=c), c) for c in self.containers]
        sources += [(tr("{name} (node)", name=n), n) for n in self.nodes]
        sources += [(ns, ns) for ns in bare]
        if not sources:
            raise ValueError(f"lab {lab.topology.name!r} has no container, node or namespace to send from")

        wide = {"description_width": "90px"}
        self.source = w.Dropdown(options=sources, description=tr("source"), style=wide)
        self.destination = w.Combobox(
            options=[f"{a} {ns}:{dev}" for a, ns, dev in self.addresses], ensure_option=False,
            placeholder=tr("an address, or a namespace"), description=tr("destination"), style=wide,
        )
        self.protocol = w.Dropdown(options=[(label, key) for key, label in PROTOCOLS.items()],
                                   description=tr("protocol"), style=wide)
        self.port = w.BoundedIntText(value=port, min=1, max=65535, description=tr("port"), style=wide,
                                     layout=w.Layout(width="180px"))
        self.serve = w.Checkbox(value=True, description=tr("server at the destination (UDP/TCP)"), indent=False)
        self.watch_tables = w.Checkbox(value=True, description=tr("FDB/neighbour/conntrack changes"), indent=False)
        self.show_figures = w.Checkbox(value=True, description=tr("ladder and topology figures"), indent=False)
        self.filter = w.Text(description=tr("filter"), style=wide, layout=w.Layout(width="520px"))
        self.points = {}  # "ns:ifname" -> Checkbox
        rows = []
        for ns, names in self.interfaces.items():
            boxes = []
            for name in names:
                box = w.Checkbox(value=False, description=name, indent=False, layout=w.Layout(width="auto"))
                self.points[f"{ns}:{name}"] = box
                boxes.append(box)
            if boxes:
                rows.append(w.HBox([w.Label(ns, layout=w.Layout(width="90px")), *boxes],
                                   layout=w.Layout(flex_flow="row wrap")))
        self.button = w.Button(description=tr("Run"), button_style="primary", icon="play")
        self.status = w.HTML()
        self.output = w.Output()
        self.widget = w.VBox([
            w.HBox([self.source, self.destination]),
            w.HBox([self.protocol, self.port, self.serve]),
            self.filter,
            w.HTML(f"<b>{tr('capture points')}</b>"),
            w.VBox(rows),
            w.HBox([self.watch_tables, self.show_figures, self.button, self.status]),
            self.output,
        ])

        self.source.value = sources[0][1]
        self.destination.value = self._default_destination()
        self.source.observe(self._path_changed, names="value")
        self.destination.observe(self._path_changed, names="value")
        self.protocol.observe(self._protocol_changed, names="value")
        self.port.observe(self._protocol_changed, names="value")
        self.button.on_click(self._clicked)
        self._path_changed()
        self._protocol_changed()

    def __repr__(self):
        return f"<PacketExplorer of lab {self.lab.topology.name!r}>"

    # --- what the widgets say ----------------------------------------------------------------

    def _default_destination(self):
        source = self.source.value
        others = [a for a in self.addresses if a[1] != source]
        preferred = [a for a in others if a[1] in self.containers] or others
        return f"{preferred[0][0]} {preferred[0][1]}:{preferred[0][2]}" if preferred else ""

    def destination_address(self):
        """``(address, namespace)`` the destination field names; namespace None if not in the lab.

        The field takes an address (``172.17.0.3``, or an option such as
        ``172.17.0.3 c2:eth0``) or a namespace's name (its first address, ``eth0``'s if any).
        """
        words = self.destination.value.split()
        if not words:
            raise ValueError("destination: empty; type an address (172.17.0.3) or a namespace (c2)")
        text = words[0]
        if text in self.interfaces:
            mine = sorted((dev != "eth0", a) for a, ns, dev in self.addresses if ns == text)
            if not mine:
                raise ValueError(f"destination {text!r}: that namespace has no IPv4 address; give an address")
            text = mine[0][1]
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError(
                f"destination {text!r} is neither an IPv4 address nor a namespace of lab "
                f"{self.lab.topology.name!r}; type e.g. 172.17.0.3 or c2"
            ) from None
        owner = next((ns for a, ns, _ in self.addresses if a == text), None)
        return text, owner

    def path_namespaces(self):
        """The namespaces of the path: source, destination, and the nodes they are on."""
        try:
            _, owner = self.destination_address()
        except ValueError:
            owner = None
        path = []
        for ns in (self.source.value, owner):
            if ns is None:
                continue
            for each in (ns, self.containers[ns].node if ns in self.containers else None):
                if each is not None and each not in path:
                    path.append(each)
        return path

    def default_points(self):
        """The capture points ticked by default: the source's and destination's eth0 (all their
        interfaces if they have no eth0) and every interface of their nodes."""
        points = []
        for ns in self.path_namespaces():
            names = self.interfaces.get(ns, [])
            if ns in self.containers and "eth0" in names:
                names = ["eth0"]
            points += [f"{ns}:{name}" for name in names]
        return points

    def selected_points(self):
        """The capture points ticked now."""
        return [point for point, box in self.points.items() if box.value]

    def along_the_path(self, points):
        """``points`` in the order a packet meets them from the source to the destination, so
        that a ladder diagram reads left to right: the source; its node (its veth, the bridge,
        the uplink); the underlay switch; the destination's node (uplink, bridge, veth); the
        destination; then the other interfaces and namespaces, in the lab's order."""
        try:
            _, owner = self.destination_address()
        except ValueError:
            owner = None
        src = self.source.value

        def node_of(ns):
            return self.containers[ns].node if ns in self.containers else ns if ns in self.nodes else None

        src_node, dst_node = node_of(src), node_of(owner)
        switch = self.lab.topology.switch
        crossing = bool(src_node and dst_node and src_node != dst_node)
        order = []
        for ns in (src, src_node, switch if crossing else None, dst_node, owner, *self.lab.namespaces):
            if ns is not None and ns not in order:
                order.append(ns)
        bridges = {n: rn.bridge.name for n, rn in (self.lab.resolved.nodes.items() if self.lab.resolved else [])
                   if rn.bridge is not None}
        veths = {self.containers[ns].veth: role for ns, role in ((src, "src"), (owner, "dst")) if ns in self.containers}
        known = list(self.points)

        def rank(point):
            ns, ifname = point.split(":", 1)
            if ns == switch:  # its ports are named after the nodes
                role = {src_node: "src", dst_node: "dst"}.get(ifname, "bridge")
            else:
                role = veths.get(ifname) or ("bridge" if ifname == bridges.get(ns) else
                                             "tunnel" if self._kinds.get(point) == "vxlan" else
                                             "uplink" if ifname == "eth0" else "other")
            if crossing and ns == dst_node:  # entered by its uplink
                sequence = ("uplink", "tunnel", "bridge", "dst", "other", "src")
            elif crossing and ns == src_node:
                sequence = ("src", "bridge", "tunnel", "uplink", "other", "dst")
            else:
                sequence = ("src", "bridge", "dst", "other", "tunnel", "uplink")
            return order.index(ns), sequence.index(role), known.index(point) if point in known else 0

        return sorted(points, key=rank)

    def default_filter(self):
        """The capture filter for the protocol: its packets, ARP, ICMP errors and VXLAN."""
        port = self.port.value
        kind = {"icmp": "arp or icmp", "arp": "arp", "udp": f"arp or icmp or udp port {port}",
                "tcp": f"arp or icmp or tcp port {port}"}[self.protocol.value]
        return f"{kind} or {VXLAN_FILTER}"

    def _path_changed(self, _change=None):
        ticked = set(self.default_points())
        for point, box in self.points.items():
            box.value = point in ticked

    def _protocol_changed(self, _change=None):
        self.filter.value = self.default_filter()

    # --- running ------------------------------------------------------------------------------

    def _has_iputils_arping(self, ns):
        if self._arping is None:
            found = self.lab.exec(ns, ["sh", "-c", "command -v arping >/dev/null && arping -V 2>&1"])
            self._arping = found.ok and "iputils" in found.stdout
        return self._arping

    def traffic(self, source, address):
        """The argv that sends the chosen protocol's traffic from ``source`` to ``address``."""
        protocol, port = self.protocol.value, self.port.value
        if protocol == "icmp":
            return ["ping", "-c", "1", "-W", "2", address]
        if protocol == "udp":
            return _python(_UDP_CLIENT, address=address, port=port)
        if protocol == "tcp":
            return _python(_TCP_CLIENT, address=address, port=port)
        # ARP only: resolve the next hop afresh (the gateway's address if the route has one)
        route = self.lab.exec(source, ["ip", "-j", "route", "get", address])
        if not route.ok:
            return ["ip", "route", "get", address]  # shows the kernel's reason: no route...
        from .state import parse_json

        (hop,) = parse_json(route.stdout)[:1] or [{}]
        nexthop, dev = hop.get("gateway", address), hop.get("dev", "eth0")
        if self._has_iputils_arping(source):
            return ["arping", "-c", "1", "-w", "2", "-I", dev, nexthop]
        script = (f"ip neigh flush to {shlex.quote(nexthop)} dev {shlex.quote(dev)}; "
                  f"ping -c 1 -W 2 {shlex.quote(address)}")
        return ["sh", "-c", script]

    def _start_server(self, owner, address):
        code = _UDP_SERVER if self.protocol.value == "udp" else _TCP_SERVER
        server = self.lab.spawn(owner, _python(code, address=address, port=self.port.value))
        deadline = time.monotonic() + 5
        while "ready" not in server.output():
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stop()
                raise RuntimeError(f"{owner}: the {self.protocol.value.upper()} server on {address}:"
                                   f"{self.port.value} did not start: {output.strip() or 'no output'}")
            time.sleep(0.02)
        return server

    def run(self, source=None, destination=None, protocol=None, points=None):
        """Capture, send the traffic, stop, and show it all in the Output; returns the Capture.

        Arguments set the widgets first (``points``: a list of ``"ns:ifname"``); without them
        it runs what the UI shows, as the Run button does. The results stay on the object:
        ``capture``, ``result`` (the command's :class:`~nethelpers.lab.Result`), ``changes``
        (the table changes, or None), ``server_output`` and ``figures``.
        """
        if source is not None:
            self.source.value = source
        if destination is not None:
            self.destination.value = destination
        if protocol is not None:
            if protocol not in PROTOCOLS:
                raise ValueError(f"protocol {protocol!r}: choose among {', '.join(PROTOCOLS)}")
            self.protocol.value = protocol
        if points is not None:
            unknown = [p for p in points if p not in self.points]
            if unknown:
                raise ValueError(f"capture point {unknown[0]!r} is not an interface of the lab; "
                                 f"known points: {', '.join(self.points)}")
            for point, box in self.points.items():
                box.value = point in points
        source = self.source.value
        address, owner = self.destination_address()
        points = self.along_the_path(self.selected_points())
        self.argv = argv = self.traffic(source, address)
        self.command = _shown(argv)
        self.capture = self.result = self.changes = self.server_output = None
        self.figures = {}
        self.output.outputs = ()
        self.status.value = "running..."

        from .capture import Capture
        from .snapshot import watch

        serve = self.serve.value and self.protocol.value in ("udp", "tcp") and owner is not None
        server = self._start_server(owner, address) if serve else None
        try:
            path = [ns for ns in self.lab.namespaces if ns in self.path_namespaces()]
            watching = watch(self.lab, path) if self.watch_tables.value else contextlib.nullcontext()
            with watching as watched:
                running = self.lab.capture(points, filter=self.filter.value or None) if points else None
                try:
                    self.result = self.lab.exec(source, argv, timeout=30)
                finally:
                    self.capture = running.stop() if running else Capture([], [])
        finally:
            if server is not None:
                self.server_output = server.stop()
        self.changes = watched.diff if watched is not None else None
        self._show(source, owner)
        self.status.value = tr("{n} packets at {m} points", n=len(self.capture), m=len(points))
        return self.capture

    def _show(self, source, owner):
        outputs = [_stream(f"$ {self.command}    # in {source}\n{self.result}\n(exit status {self.result.returncode})")]
        if self.server_output is not None:
            outputs.append(_stream(f"server in {owner}:\n{self.server_output.replace('ready', '', 1).strip()}"))
        outputs.append(_display(self.capture.table(f"capture, filter {self.filter.value!r}")))
        if self.changes is not None:
            outputs.append(_display(self.changes))
        if self.show_figures.value:
            title = f"{PROTOCOLS[self.protocol.value]}: {source} -> {self.destination.value.split()[0]}"
            if _have("nethelpers.ladder") and len(self.capture):
                outputs.append(self._figure("ladder", lambda: self.capture.ladder(title=title)))
            if _have("nethelpers.draw"):
                outputs.append(self._figure("topology", self._topology))
        self.output.outputs = tuple(outputs)

    def _topology(self):
        from .draw import topology

        return topology(self.lab, highlight=self.capture)

    def _figure(self, name, make):
        try:
            self.figures[name] = fig = make()
            return _figure(fig, f"{name} figure")
        except Exception:  # an optional figure must not hide the capture: show why it failed
            return _stream(f"{name} figure failed:\n{traceback.format_exc()}", "stderr")

    def _clicked(self, _button):
        self.button.disabled = True
        try:
            self.run()
        except Exception:
            self.status.value = "failed"
            self.output.outputs += (_stream(traceback.format_exc(), "stderr"),)
        finally:
            self.button.disabled = False


def _tab_title(name):
    """The title a tab of :class:`LabInspector` shows for its tables ``name``."""
    return {"links": tr("links"), "addresses": tr("addresses"), "routes": tr("routes"),
            "neighbours": tr("neighbours"), "bridge": tr("bridge"), "nftables": tr("nftables"),
            "conntrack": tr("conntrack"), "sysctls": tr("sysctls")}[name]


class LabInspector(_Shown):
    """One namespace's kernel tables, a tab each: links, addresses, routes, neighbours, the
    bridge (ports and FDB, where the namespace has a bridge or VXLAN device), nftables,
    conntrack and sysctls.

    Pick a namespace in the dropdown, or set ``inspector.dropdown.value``; Refresh (or
    :meth:`refresh`) reads the kernel again. ``tables`` holds the :class:`Table` objects shown,
    ``views`` the HTML widget of each tab.

    >>> inspector = LabInspector(lab)                  # doctest: +SKIP
    >>> inspector.dropdown.value = "node1"             # doctest: +SKIP
    >>> inspector.tables["bridge"][1]                  # the FDB   # doctest: +SKIP
    """

    def __init__(self, lab, namespace=None):
        import ipywidgets as w

        self.lab = lab
        containers = list(lab.resolved.containers) if lab.resolved else []
        namespace = namespace or (containers[0] if containers else lab.namespaces[0])
        lab._check_ns(namespace)
        self.dropdown = w.Dropdown(options=list(lab.namespaces), value=namespace, description=tr("namespace"))
        self.refresh_button = w.Button(description=tr("Refresh"), icon="refresh")
        self.tabs = w.Tab()
        self.tables, self.views = {}, {}
        self._html = {}  # title -> HTML widget, kept across refreshes (no new widget per click)
        self.widget = w.VBox([w.HBox([self.dropdown, self.refresh_button]), self.tabs])
        self.dropdown.observe(lambda _change: self.refresh(), names="value")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.refresh()

    def __repr__(self):
        return f"<LabInspector of lab {self.lab.topology.name!r}: {self.dropdown.value}>"

    @property
    def namespace(self):
        return self.dropdown.value

    def _readers(self, ns, links):
        lab = self.lab
        readers = [("links", [lambda: links]), ("addresses", [lambda: lab.addresses(ns)]),
                   ("routes", [lambda: lab.routes(ns)]), ("neighbours", [lambda: lab.neighbours(ns)])]
        if any(kind in ("bridge", "vxlan") for kind in links.column("kind")):
            readers.append(("bridge", [lambda: lab.bridge_ports(ns), lambda: lab.fdb(ns)]))
        readers += [("nftables", [lambda: lab.ruleset(ns)]), ("conntrack", [lambda: lab.conntrack(ns)]),
                    ("sysctls", [lambda: lab.sysctls(ns)])]
        return readers

    def refresh(self):
        """Read the selected namespace's tables again and show them."""
        import ipywidgets as w

        ns = self.dropdown.value
        chosen = self.tabs.selected_index
        chosen = list(self.views)[chosen] if chosen is not None and chosen < len(self.views) else None
        tables, views = {}, {}
        for title, readers in self._readers(ns, self.lab.links(ns)):
            tables[title], parts = [], []
            for read in readers:
                try:
                    table = read()
                except Exception as e:  # one unreadable table (no nft, say) must not hide the others
                    parts.append(f"<pre>{html.escape(f'{type(e).__name__}: {e}')}</pre>")
                    continue
                tables[title].append(table)
                parts.append(table._repr_html_())
            views[title] = self._html.setdefault(title, w.HTML())
            views[title].value = "".join(parts)
        self.tables, self.views = tables, views
        titles = [_tab_title(title) for title in views]  # self.tables keeps the English names
        if list(self.tabs.titles) != titles:
            self.tabs.children = list(views.values())
            self.tabs.titles = titles
        self.tabs.selected_index = list(views).index(chosen) if chosen in views else 0

    @property
    def html(self):
        """The HTML of every tab, one after the other."""
        return "".join(view.value for view in self.views.values())
