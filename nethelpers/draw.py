"""Drawing a lab as the kernel has it, and a packet's path through it.

:func:`topology` draws what :func:`nethelpers.discover.discover` reads from the kernel, in
the way the write-up's figures do: each node a large box holding its containers (``eth0``
with its address and MAC), the node's bridge (``docker0``) with the host ends of the veth
pairs (``vethXXXXXXX``) plugged into it, the bridge's own interface (the node's address on
it), VXLAN devices hanging from the bridge, and the node's ``eth0`` plugged into the underlay
switch drawn below the nodes. VTEPs of the same VNI are joined by a dashed tunnel line. Bare
namespaces are plain boxes with their interfaces, joined by their veth pairs.

``highlight`` draws a packet's path: give it a :class:`nethelpers.capture.Capture` (the
interfaces where packets were seen turn red, the links between them thicken, and arrows
follow the packets' direction; points that were captured but saw nothing are dashed) or a
list of ``"ns:ifname"`` points.

The result is a :class:`matplotlib.figure.Figure` made without pyplot (no global backend is
touched); it shows itself in Jupyter as a PNG, and ``savefig`` writes it.

>>> fig = topology(lab, highlight=capture, title="c1 pings c2")   # doctest: +SKIP
>>> fig.savefig("path.png")                                       # doctest: +SKIP
"""

import io
import ipaddress
import textwrap

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from .discover import Discovered, discover
from .i18n import families, tr, use_fonts

# Sizes are in inches: one data unit is one inch, so fonts stay fixed whatever the lab's size.
FONT = 8  # points, every interface label
TITLE_FONT = 9  # namespace names
HEADING_FONT = 11  # the figure's title
MONO = "DejaVu Sans Mono"  # ships with matplotlib: label widths are predictable
EM = 0.602  # a DejaVu Sans Mono character is this many font sizes wide
LINE = 1.3 * FONT / 72  # height of one text line
PAD = 0.07  # inside a chip
GAP = 0.28  # between neighbouring boxes
MARGIN = 0.14  # inside a namespace box
NS_TITLE = 0.26  # the namespace name row
VETH_GAP = 0.42  # vertical room for a veth line
STUB = 0.12  # a port's stub to its bridge
BAR = 0.2  # a bridge's bar
UNDERLAY_GAP = 0.6  # between the nodes and the underlay switch
TUNNEL_GAP = 1.5  # between two nodes joined by a tunnel (room for its label)
MIN_WIDTH = 6.5  # a figure narrower than this wraps its title too much

COLOURS = {
    "node": "#f3f3f3", "container": "#e6f0fa", "switch": "#efe8f6", "namespace": "#f7f3e6",
    "chip": "#ffffff", "edge": "#555555", "bridge": "#bcd9b2", "switch_bar": "#cdbce2",
    "line": "#777777", "tunnel": "#2a6fb0", "seen": "#d62728", "seen_fill": "#fde0dc", "quiet": "#999999",
}


class TopologyFigure(Figure):
    """A Figure that Jupyter shows as a PNG even when pyplot was never imported."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=110)
        return buffer.getvalue()


class _Box:
    """A rectangle, top-left based (the y axis points down while laying out)."""

    def __init__(self, x, y, w, h):
        self.x, self.y, self.w, self.h = x, y, w, h

    left = property(lambda self: self.x)
    right = property(lambda self: self.x + self.w)
    top = property(lambda self: self.y)
    bottom = property(lambda self: self.y + self.h)
    cx = property(lambda self: self.x + self.w / 2)
    cy = property(lambda self: self.y + self.h / 2)


def _text_width(lines, font=FONT):
    return max((len(line) for line in lines), default=0) * EM * font / 72


class _Chip:
    """An interface drawn as a small box of text lines."""

    def __init__(self, iface, lines):
        self.iface, self.lines = iface, lines
        self.w = _text_width(lines) + 2 * PAD
        self.h = len(lines) * LINE + 1.6 * PAD
        self.box = None

    def place(self, x, y):
        self.box = _Box(x, y, self.w, self.h)
        return self.box


class _Highlight:
    """Where packets were seen: point -> set of (direction, pkttype); and the quiet points."""

    def __init__(self, highlight):
        self.seen, self.captured, self.ips = {}, set(), {}
        self.wrapped, self.plain = set(), set()  # points that saw VXLAN packets / plain ones
        if highlight is None:
            return
        items = [highlight] if isinstance(highlight, str) or hasattr(highlight, "point") else list(highlight)
        for item in items:
            if hasattr(item, "point"):  # a captured Packet
                self.seen.setdefault(item.point, set()).add((item.direction, item.pkttype))
                (self.wrapped if _wrapped(item) else self.plain).add(item.point)
                ip = _outer_ip(item)
                if ip is not None:
                    self.ips.setdefault(item.point, set()).add(ip)
            else:
                point = item if isinstance(item, str) else ":".join(item)
                self.seen.setdefault(point, set())
        self.captured = set(getattr(highlight, "points", ()))

    def __bool__(self):
        return bool(self.seen or self.captured)

    def has(self, point):
        return point in self.seen

    def quiet(self, point):
        return point in self.captured and point not in self.seen

    def directions(self, point):
        return {d for d, _ in self.seen.get(point, ())}

    def to_host(self, point):
        """Did a bridge's own interface carry the packet to or from the host's IP stack?"""
        if point not in self.seen:
            return False
        kinds = {k for _, k in self.seen[point]}
        return not kinds or bool(kinds - {"otherhost"})  # a bare point, or not only the promiscuous copy

    def arrow(self, a, b):
        """+1 when packets went from a to b only, -1 from b to a only, 0 when unknown or both."""
        da, db = self.directions(a), self.directions(b)
        forward = "out" in da and "in" in db
        backward = "out" in db and "in" in da
        return 1 if forward and not backward else -1 if backward and not forward else 0


def _wrapped(packet):
    """True when a captured packet is a VXLAN packet (an outer header around a frame)."""
    from .journey import encapsulation

    try:
        return bool(encapsulation(packet.frame))
    except Exception:
        return False


def _outer_ip(packet):
    """(source, destination) of a captured packet's outer IPv4 header, or None."""
    from scapy.layers.inet import IP

    try:
        ip = packet.frame.getlayer(IP)
    except Exception:  # a frame scapy cannot decode is still a packet seen
        return None
    return None if ip is None else (ip.src, ip.dst)


def _iface_lines(iface, show_addresses, with_mac=True):
    if not show_addresses:
        return [iface.name]
    first = " ".join([iface.name, *iface.addresses[:1]])
    lines = [first] + list(iface.addresses[1:])
    if with_mac and iface.mac:
        lines.append(iface.mac)
    return lines


def _bridge_lines(iface, show_addresses):
    lines = _iface_lines(iface, show_addresses, with_mac=False)
    if not show_addresses:
        return lines + ["bridge"]
    return lines + [f"bridge {iface.mac}" if iface.mac else "bridge"]


def _vxlan_lines(iface, show_addresses):
    vx = iface.vxlan
    lines = [" ".join([f"{iface.name} VNI {vx.vni}", *iface.addresses[:1]])]
    if show_addresses:
        lines.append(f"UDP {vx.port} dev {vx.dev or '-'}")
    return lines


def topology(lab, highlight=None, title=None, ax=None, show_addresses=True):
    """Draw ``lab``'s topology as read from the kernel; returns a matplotlib Figure.

    Args:
        lab: a built Lab (or a :class:`~nethelpers.discover.Discovered` already read).
        highlight: a Capture (or a list of Packets), or ``"ns:ifname"`` points: where a
            packet was seen, drawn in red, with the links it took thickened.
        title: the figure's title (default: the lab's name).
        ax: a matplotlib Axes to draw into (default: a new figure sized to the lab).
        show_addresses: label interfaces with their addresses and MACs (else names only).

    >>> topology(lab, highlight=["c1:eth0", "c2:eth0"])  # doctest: +SKIP
    <TopologyFigure ...>
    """
    use_fonts()
    found = lab if isinstance(lab, Discovered) else discover(lab)
    hl = _Highlight(highlight)
    known = {i.point for i in found.interfaces()}
    unknown = sorted(set(hl.seen) - known)
    if unknown:
        raise ValueError(f"highlight point {unknown[0]!r} is no interface of this lab; "
                         f"write 'namespace:interface', one of: {', '.join(sorted(known - {p for p in known if p.endswith(':lo')}))}")
    if title is None:
        name = getattr(getattr(lab, "topology", None), "name", None)
        title = tr("lab {name!r}, as the kernel holds it", name=name) if name else tr("the lab, as the kernel holds it")
    drawing = _Drawing(found, hl, show_addresses)
    drawing.layout()
    return drawing.render(title, ax)


class _Drawing:
    def __init__(self, found, highlight, show_addresses):
        self.found, self.hl, self.show = found, highlight, show_addresses
        self.chips = {}  # "ns:ifname" -> _Chip
        self.frames = []  # (box, role, title)
        self.bars = []  # (box, bridge Interface, colour)
        self.stubs = []  # (x, y0, y1, port point, bridge point)
        self.width = self.height = 0.0

    # --- layout -----------------------------------------------------------------------------

    def chip(self, iface, lines):
        c = _Chip(iface, lines)
        self.chips[iface.point] = c
        return c

    def layout(self):
        f = self.found
        nodes = f.names("node")
        tunnels = bool(f.vxlans())
        y = 0.0
        if nodes:
            y = self.layout_nodes(nodes, tunnels)
        switches = f.names("switch")
        if switches:
            y = self.layout_switches(switches, y + (UNDERLAY_GAP if nodes else 0))
        rest = f.names("namespace") + [c for c in f.names("container") if f.interface(c, "eth0").peer[0] not in nodes]
        if rest:
            y = self.layout_bare(rest, y + (UNDERLAY_GAP if y else 0))
        self.height = y

    def layout_nodes(self, nodes, tunnels):
        plans = [self.plan_node(n, i < len(nodes) / 2 or len(nodes) == 1) for i, n in enumerate(nodes)]
        # Rows are shared by all nodes, so that their bridges and eth0s line up.
        h_cont = max((c["h"] for p in plans for s in p["sections"] for c in s["containers"]), default=0)
        h_port = max((c.h for p in plans for s in p["sections"] for c in s["ports"]), default=0)
        h_low = max((c.h for p in plans for s in p["sections"] for c in s["lower"]), default=0)
        h_eth = max((c.h for p in plans for c in p["bottom"]), default=0)
        has_bridge = any(p["sections"] for p in plans)
        rows = {"title": MARGIN / 2}
        rows["cont"] = rows["title"] + NS_TITLE
        rows["port"] = rows["cont"] + (h_cont + VETH_GAP if h_cont else 0)
        rows["bar"] = rows["port"] + h_port + STUB
        rows["low"] = rows["bar"] + BAR + STUB
        rows["eth"] = rows["low"] + (h_low + VETH_GAP if has_bridge else 0)
        height = rows["eth"] + h_eth + MARGIN
        x = 0.0
        for i, (node, plan) in enumerate(zip(nodes, plans)):
            width = plan["w"] + 2 * MARGIN
            self.frames.append((_Box(x, 0, width, height), "node", node))
            sx = x + MARGIN + (plan["w"] - plan["sections_w"]) / 2
            for s in plan["sections"]:
                self.place_section(s, sx, rows, h_cont)
                sx += s["w"] + GAP
            bx = x + MARGIN + (plan["w"] - plan["bottom_w"]) / 2
            for c in plan["bottom"]:
                c.place(bx, rows["eth"])
                bx += c.w + GAP
            gap = GAP
            if tunnels and i + 1 < len(nodes):
                gap = TUNNEL_GAP
            x += width + gap
        self.width = max(self.width, x - gap)
        return height

    def plan_node(self, node, faces_right):
        f = self.found
        ns = f.namespaces[node]
        used = {"lo"}
        sections = []
        containers = {f.interface(c, "eth0").peer[1]: c for c in f.containers_of(node)}
        for bridge in ns.bridges():
            used.add(bridge)
            ports = ns.ports(bridge)
            used.update(ports)
            vxlans = [p for p in ports if ns.interfaces[p].kind == "vxlan"]
            with_container = sorted((p for p in ports if p in containers), key=lambda p: containers[p])
            others = [p for p in ports if p not in containers and p not in vxlans]
            slots = []
            for port in with_container + others:
                iface = ns.interfaces[port]
                chip = self.chip(iface, [port])
                slot = {"port": chip, "container": None}
                if port in containers:
                    slot["container"] = self.plan_container(containers[port])
                slot["w"] = max(chip.w, slot["container"]["w"] if slot["container"] else 0)
                slots.append(slot)
            bridge_chip = self.chip(ns.interfaces[bridge], _bridge_lines(ns.interfaces[bridge], self.show))
            vx_chips = [self.chip(ns.interfaces[v], _vxlan_lines(ns.interfaces[v], self.show)) for v in vxlans]
            lower = [bridge_chip] + vx_chips if faces_right else vx_chips + [bridge_chip]
            slots_w = sum(s["w"] for s in slots) + GAP * max(len(slots) - 1, 0)
            lower_w = sum(c.w for c in lower) + GAP * (len(lower) - 1)
            sections.append({
                "bridge": ns.interfaces[bridge], "slots": slots, "lower": lower, "slots_w": slots_w,
                "lower_w": lower_w, "w": max(slots_w, lower_w, _text_width([bridge]) + 0.3),
                "ports": [s["port"] for s in slots], "containers": [s["container"] for s in slots if s["container"]],
                "faces_right": faces_right,
            })
        # the bridge with VTEPs goes to the side facing the tunnel
        sections.sort(key=lambda s: bool(len(s["lower"]) > 1) == faces_right)
        bottom = []
        eth0 = ns.interfaces.get("eth0")
        if eth0 is not None:
            used.add("eth0")
            bottom.append(self.chip(eth0, _iface_lines(eth0, self.show)))
        vteps = []
        for name, iface in ns.interfaces.items():
            if name not in used:
                lines = _vxlan_lines(iface, self.show) if iface.vxlan else _iface_lines(iface, self.show)
                if iface.kind and iface.kind not in ("veth", "vxlan") and self.show:
                    lines[0] += f" ({iface.kind})"
                (vteps if iface.vxlan else bottom).append(self.chip(iface, lines))
        # VTEPs outside any bridge go to the side facing the tunnel, as bridged ones do
        bottom = bottom + vteps if faces_right else vteps + bottom
        sections_w = sum(s["w"] for s in sections) + GAP * max(len(sections) - 1, 0)
        bottom_w = sum(c.w for c in bottom) + GAP * max(len(bottom) - 1, 0)
        title_w = _text_width([node], TITLE_FONT) + 0.2
        return {"sections": sections, "bottom": bottom, "sections_w": sections_w, "bottom_w": bottom_w,
                "w": max(sections_w, bottom_w, title_w)}

    def plan_container(self, name):
        eth0 = self.found.interface(name, "eth0")
        chip = self.chip(eth0, _iface_lines(eth0, self.show))
        w = max(chip.w, _text_width([name], TITLE_FONT)) + 2 * MARGIN
        return {"name": name, "chip": chip, "w": w, "h": NS_TITLE + chip.h + MARGIN}

    def place_section(self, s, x, rows, h_cont):
        sx = x + (s["w"] - s["slots_w"]) / 2
        for slot in s["slots"]:
            cx = sx + slot["w"] / 2
            container = slot["container"]
            if container:
                box = _Box(cx - container["w"] / 2, rows["cont"], container["w"], h_cont)
                self.frames.append((box, "container", container["name"]))
                chip = container["chip"]
                chip.place(cx - chip.w / 2, box.bottom - MARGIN - chip.h)
            port = slot["port"]
            port.place(cx - port.w / 2, rows["port"])
            sx += slot["w"] + GAP
        bar = _Box(x, rows["bar"], s["w"], BAR)
        self.bars.append((bar, s["bridge"], COLOURS["bridge"]))  # its chip below, in its colour, names it
        for slot in s["slots"]:
            port = slot["port"]
            self.stubs.append((port.box.cx, port.box.bottom, bar.top, port.iface.point, s["bridge"].point))
        lx = x + (s["w"] - s["lower_w"]) / 2
        if len(s["lower"]) > 1:  # VTEPs go to the side facing the tunnel
            lx = x + s["w"] - s["lower_w"] if s["faces_right"] else x
        for chip in s["lower"]:
            chip.place(lx, rows["low"])
            self.stubs.append((chip.box.cx, chip.box.top, bar.bottom, chip.iface.point, s["bridge"].point))
            lx += chip.w + GAP

    def layout_switches(self, switches, y):
        f = self.found
        x0 = 0.0
        for sw in switches:
            ns = f.namespaces[sw]
            chips = []
            for bridge in ns.bridges():
                for port in ns.ports(bridge):
                    chips.append((bridge, self.chip(ns.interfaces[port], [port])))
            # under the eth0 they lead to when that is drawn; the others after, in name order
            placed, extra = [], []
            for bridge, chip in chips:
                peer = chip.iface.peer and self.chips.get(f"{chip.iface.peer[0]}:{chip.iface.peer[1]}")
                (placed if peer and peer.box else extra).append((bridge, chip, peer))
            top = y + MARGIN
            right = x0 + MARGIN
            for bridge, chip, peer in sorted(placed, key=lambda t: t[2].box.cx):
                chip.place(max(peer.box.cx - chip.w / 2, right), top)
                right = chip.box.right + GAP
            for bridge, chip, _ in extra:
                chip.place(right, top)
                right = chip.box.right + GAP
            subnets = sorted({str(ipaddress.IPv4Interface(a).network) for _, _, peer in placed
                              for a in peer.iface.addresses})
            title = f"{sw}: the underlay switch, bridge {', '.join(ns.bridges()) or 'none'}"
            title += f", {', '.join(subnets)}" if subnets else ""
            h_port = max((c.h for _, c in chips), default=0)
            width = max(right - GAP + MARGIN - x0, self.width - x0 if x0 == 0 else 0,
                        _text_width([title], TITLE_FONT) + 0.3)
            bar_y = top + h_port + STUB
            for bridge in ns.bridges():
                bar = _Box(x0 + MARGIN, bar_y, width - 2 * MARGIN, BAR)
                self.bars.append((bar, ns.interfaces[bridge], COLOURS["switch_bar"]))  # the title names it
                for b, chip in chips:
                    if b == bridge:
                        self.stubs.append((chip.box.cx, chip.box.bottom, bar.top, chip.iface.point,
                                           ns.interfaces[bridge].point))
                bar_y += BAR + GAP
            bottom = bar_y - GAP if ns.bridges() else top + h_port
            height = bottom + NS_TITLE + MARGIN / 2 - y
            self.frames.append((_Box(x0, y, width, height), "switch", title))
            x0 += width + GAP
            self.width = max(self.width, x0 - GAP)
            next_y = y + height
        return next_y

    def layout_bare(self, names, y):
        f = self.found
        x = 0.0
        boxes = []
        for name in names:
            ns = f.namespaces[name]
            chips = []
            for iface in ns.interfaces.values():
                if iface.kind == "loopback":
                    continue
                lines = _vxlan_lines(iface, self.show) if iface.vxlan else _iface_lines(iface, self.show)
                if iface.kind and iface.kind != "veth" and not iface.vxlan and self.show:
                    lines[0] += f" ({iface.kind})"
                chips.append(self.chip(iface, lines))
            inner_w = max([c.w for c in chips] + [_text_width([name], TITLE_FONT), _text_width(["(only lo)"])])
            inner_h = sum(c.h for c in chips) + GAP * max(len(chips) - 1, 0) if chips else LINE
            box = _Box(x, y, inner_w + 2 * MARGIN, NS_TITLE + inner_h + MARGIN * 1.5)
            boxes.append((box, name, chips))
            x = box.right + 1.2  # room for the veth lines between neighbours
        height = max(b.h for b, _, _ in boxes)
        for box, name, chips in boxes:
            box.h = height
            self.frames.append((box, "namespace", name))
            cy = box.top + NS_TITLE + MARGIN / 2
            for chip in chips:
                chip.place(box.cx - chip.w / 2, cy)
                cy += chip.h + GAP
            if not chips:
                self.frames.append((_Box(box.x, box.top + NS_TITLE, box.w, LINE), "note", tr("(only lo)")))
        self.width = max(self.width, x - 1.2)
        return y + height

    # --- drawing ------------------------------------------------------------------------------

    def legend_items(self):
        if not self.hl:
            return []
        items = [("seen", tr("a packet was seen here"))]
        if self.hl.captured - set(self.hl.seen):
            items.append(("quiet", tr("captured, nothing seen")))
        if any(self.hl.directions(p) for p in self.hl.seen):
            items.append(("arrow", tr("the way it went")))
        return items

    def render(self, title, ax):
        hl = self.hl
        margin = 0.2
        width = max(self.width, MIN_WIDTH - 2 * margin)
        x0 = -(width - self.width) / 2  # the lab stays centred in a wider figure
        items = self.legend_items()
        rows, row_w = [[]], 0.0
        for item in items:  # legend entries, wrapped to the figure's width
            w = 0.55 + _text_width([item[1]]) + 0.25
            if rows[-1] and row_w + w > width + 2 * margin:
                rows.append([])
                row_w = 0.0
            rows[-1].append(item)
            row_w += w
        legend_h = 0.3 * len(rows) + 0.05 if items else 0.0
        wrap = max(40, int(width * 72 / (0.62 * HEADING_FONT)))
        heading = textwrap.wrap(title, wrap) if title else []
        title_h = (len(heading) * 1.3 * HEADING_FONT / 72 + 0.2) if heading else 0.0
        fig_w, fig_h = width + 2 * margin, self.height + title_h + legend_h + 2 * margin
        if ax is None:
            fig = TopologyFigure(figsize=(fig_w, fig_h))
            ax = fig.add_axes([0, 0, 1, 1])
        fig = ax.figure
        ax.set_xlim(x0 - margin, x0 + width + margin)
        ax.set_ylim(self.height + margin + legend_h, -margin - title_h)  # y points down
        ax.set_aspect("equal")
        ax.axis("off")
        if heading:
            ax.text(self.width / 2, -title_h, "\n".join(heading), ha="center", va="top", fontsize=HEADING_FONT,
                    fontweight="bold", linespacing=1.2)
        for box, role, name in self.frames:
            self.draw_frame(ax, box, role, name)
        for bar, bridge, colour in self.bars:
            self.draw_bar(ax, bar, bridge, colour)
        for x, y0, y1, port, bridge in self.stubs:
            if port == bridge:  # the bridge's own interface: the way up to the host's IP stack
                on = hl.to_host(bridge) and self.bridge_active(bridge)
            else:
                on = hl.has(port) and self.bridge_active(bridge)
            ax.plot([x, x], [y0, y1], color=COLOURS["seen"] if on else COLOURS["line"],
                    lw=3 if on else 1.2, zorder=2, solid_capstyle="butt", gid=f"{'path' if on else 'port'}:{port}--{bridge}")
        self.draw_links(ax)
        self.draw_tunnels(ax)
        self.draw_routing(ax)
        for chip in self.chips.values():
            if chip.box is not None:
                self.draw_chip(ax, chip)
        for i, row in enumerate(rows):
            self.draw_legend(ax, row, x0 - margin / 2, self.height + margin / 2 + 0.05 + 0.3 * i)
        return fig

    def bridge_active(self, bridge_point):
        """A bridge carried the packet when at least two of its ports (or one and itself) saw it."""
        ns, name = bridge_point.split(":", 1)
        ports = [f"{ns}:{p}" for p in self.found.namespaces[ns].ports(name)]
        return sum(self.hl.has(p) for p in ports) + self.hl.to_host(bridge_point) >= 2

    def draw_frame(self, ax, box, role, name):
        if role == "note":
            ax.text(box.cx, box.cy, name, ha="center", va="center", fontsize=FONT, color=COLOURS["quiet"],
                    family=MONO)
            return
        ax.add_patch(FancyBboxPatch((box.x, box.y), box.w, box.h, boxstyle="round,pad=0,rounding_size=0.08",
                                    facecolor=COLOURS[role], edgecolor=COLOURS["edge"], lw=1.2 if role == "node" else 1,
                                    zorder=0 if role in ("node", "switch", "namespace") else 1))
        y = box.bottom - NS_TITLE if role == "switch" else box.y + MARGIN / 2  # the switch's ports are on top
        ax.text(box.x + MARGIN, y + 0.02, name, ha="left", va="top", fontsize=TITLE_FONT, fontweight="bold", zorder=3)

    def draw_bar(self, ax, bar, bridge, colour):
        hl = self.hl
        ax.add_patch(Rectangle((bar.x, bar.y), bar.w, bar.h, facecolor=colour, edgecolor=COLOURS["edge"], lw=0.8,
                               zorder=1))
        ns, name = bridge.ns, bridge.name
        anchors = [self.chips[f"{ns}:{p}"].box.cx for p in self.found.namespaces[ns].ports(name)
                   if hl.has(f"{ns}:{p}") and self.chips.get(f"{ns}:{p}") and self.chips[f"{ns}:{p}"].box]
        own = self.chips.get(bridge.point)
        if own is not None and own.box is not None and hl.to_host(bridge.point):
            anchors.append(own.box.cx)
        if len(anchors) >= 2:  # the stretch of the bridge the packet travelled along
            x0, x1 = min(anchors) - 0.06, max(anchors) + 0.06
            ax.add_patch(Rectangle((x0, bar.y + 0.05), x1 - x0, bar.h - 0.1,
                                   facecolor=COLOURS["seen"], lw=0, zorder=1.5, gid=f"path:{bridge.point}"))

    def draw_chip(self, ax, chip):
        point = chip.iface.point
        seen, quiet = self.hl.has(point), self.hl.quiet(point)
        if chip.iface.kind == "bridge":  # a promiscuous bridge sees what it forwards: not the host's
            seen = self.hl.to_host(point)
        box = chip.box
        ax.add_patch(FancyBboxPatch(
            (box.x, box.y), box.w, box.h, boxstyle="round,pad=0,rounding_size=0.04",
            facecolor=COLOURS["seen_fill"] if seen else COLOURS["bridge"] if chip.iface.kind == "bridge" else COLOURS["chip"],
            edgecolor=COLOURS["seen"] if seen else COLOURS["edge"], lw=2 if seen else 0.9,
            linestyle="--" if quiet else "-", zorder=4,
            gid=f"{'seen' if seen else 'quiet' if quiet else 'iface'}:{point}"))  # SVG ids; tests read them too
        for i, line in enumerate(chip.lines):
            ax.text(box.cx, box.y + 0.8 * PAD + (i + 0.5) * LINE, line, ha="center", va="center", fontsize=FONT,
                    family=MONO, zorder=5, color="#000000" if i == 0 else "#333333",
                    fontweight="bold" if (i == 0 and seen) else "normal")

    def _arrow(self, ax, start, end, on, direction, style="-", colour=None, lw=None, label=None, rad=0.0,
               label_side="above", gid=None):
        colour = colour or (COLOURS["seen"] if on else COLOURS["line"])
        lw = lw or (3 if on else 1.3)
        if direction < 0:
            start, end = end, start
        arrowstyle = "-|>,head_length=0.45,head_width=0.25" if on and direction else "-"
        patch = FancyArrowPatch(start, end, arrowstyle=arrowstyle, mutation_scale=12, color=colour, lw=lw,
                                linestyle=style, shrinkA=0, shrinkB=0, zorder=3, connectionstyle=f"arc3,rad={rad}")
        patch.set_gid(gid)
        ax.add_patch(patch)
        if label:
            mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
            where = dict(x=mx, y=my - 0.08, ha="center", va="bottom") if label_side == "above" else \
                dict(x=max(start[0], end[0]) + 0.12, y=my, ha="left", va="center")
            ax.text(s=label, fontsize=FONT, family=families(MONO), color=colour, zorder=6,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.9), **where)

    def draw_links(self, ax):
        for ns_a, if_a, ns_b, if_b in self.found.links():
            a, b = self.chips.get(f"{ns_a}:{if_a}"), self.chips.get(f"{ns_b}:{if_b}")
            if a is None or b is None or a.box is None or b.box is None:
                continue
            start, end, rad = _ends(a.box, b.box)
            pa, pb = a.iface.point, b.iface.point
            on = self.hl.has(pa) and self.hl.has(pb)
            self._arrow(ax, start, end, on, self.hl.arrow(pa, pb) if on else 0, rad=rad,
                        gid=f"{'path' if on else 'link'}:{pa}--{pb}")

    def draw_tunnels(self, ax):
        by_vni = {}
        for iface in self.found.vxlans():
            if iface.point in self.chips and self.chips[iface.point].box is not None:
                by_vni.setdefault(iface.vxlan.vni, []).append(self.chips[iface.point])
            dev = iface.vxlan.dev and self.chips.get(f"{iface.ns}:{iface.vxlan.dev}")
            chip = self.chips.get(iface.point)
            if dev and dev.box and chip and chip.box:  # the VTEP sends through its underlying device
                both = self.hl.has(iface.point) and self.hl.has(dev.iface.point)
                da, db = self.hl.directions(iface.point), self.hl.directions(dev.iface.point)
                direction = 1 if "out" in da and "out" in db else -1 if "in" in da and "in" in db else 0
                start, end, rad = _ends(chip.box, dev.box)
                self._arrow(ax, start, end, both, direction if both else 0, style=":", lw=3 if both else 1.2,
                            gid=f"{'path' if both else 'dev'}:{iface.point}--{dev.iface.point}")
        for vni, chips in sorted(by_vni.items()):
            chips.sort(key=lambda c: (c.box.cx, c.iface.point))
            for a, b in zip(chips, chips[1:]):
                pa, pb = a.iface.point, b.iface.point
                on = self.hl.has(pa) and self.hl.has(pb)
                start, end, rad = _ends(a.box, b.box)
                self._arrow(ax, start, end, on, self.hl.arrow(pa, pb) if on else 0, style="--",
                            colour=COLOURS["seen"] if on else COLOURS["tunnel"], lw=3 if on else 1.8,
                            label=tr("VXLAN tunnel\nVNI {vni}", vni=vni), gid=f"{'path' if on else 'tunnel'}:{pa}--{pb}")

    def draw_routing(self, ax):
        """The host's IP stack between two of its addressed interfaces, when a packet crossed it."""
        for ns in self.found.names():
            vtep_devs = {i.vxlan.dev for i in self.found.namespaces[ns].interfaces.values()
                         if i.vxlan and self.hl.has(i.point)}
            seen = [i for i in self.found.namespaces[ns].interfaces.values()
                    if i.addresses and i.kind != "loopback" and i.master is None and self.hl.has(i.point)
                    and (i.kind != "bridge" or self.hl.to_host(i.point)) and i.point in self.chips
                    and not (i.point in self.hl.wrapped and i.point not in self.hl.plain
                             and i.name in vtep_devs)]
            if len(seen) != 2:
                continue
            a, b = (self.chips[i.point] for i in seen)
            if a.box is None or b.box is None:
                continue
            da, db = self.hl.directions(a.iface.point), self.hl.directions(b.iface.point)
            forward, backward = "in" in da and "out" in db, "in" in db and "out" in da
            direction = 1 if forward and not backward else -1 if backward and not forward else 0
            start, end, rad = _ends(a.box, b.box)
            label = tr("routed")
            if direction:  # the addresses on the way in and out say whether it was NATed
                into, out = (a, b) if direction > 0 else (b, a)
                ips_in, ips_out = self.hl.ips.get(into.iface.point, set()), self.hl.ips.get(out.iface.point, set())
                for i, what in ((0, "src"), (1, "dst")):
                    before, after = {p[i] for p in ips_in}, {p[i] for p in ips_out}
                    if len(before) == 1 and len(after) == 1 and before != after:
                        label += f", {'SNAT' if i == 0 else 'DNAT'}\n{what} {before.pop()}\n  → {after.pop()}"
            self._arrow(ax, start, end, True, direction, style=":", label=label, label_side="right",
                        gid="routed:" + "--".join(sorted((a.iface.point, b.iface.point))))

    def draw_legend(self, ax, items, x, y):
        for kind, text in items:
            if kind == "arrow":
                ax.add_patch(FancyArrowPatch((x, y + 0.09), (x + 0.4, y + 0.09), arrowstyle="-|>", mutation_scale=12,
                                             color=COLOURS["seen"], lw=3, shrinkA=0, shrinkB=0))
            else:
                ax.add_patch(FancyBboxPatch((x, y), 0.4, 0.18, boxstyle="round,pad=0,rounding_size=0.04",
                                            facecolor=COLOURS["seen_fill"] if kind == "seen" else COLOURS["chip"],
                                            edgecolor=COLOURS["seen"] if kind == "seen" else COLOURS["edge"],
                                            lw=2 if kind == "seen" else 0.9, linestyle="--" if kind == "quiet" else "-"))
            ax.text(x + 0.5, y + 0.09, text, ha="left", va="center", fontsize=FONT, family=families(MONO))
            x += 0.55 + _text_width([text]) + 0.25


def _ends(a, b):
    """Where a line from box a to box b starts and ends, and its curvature."""
    if a.bottom <= b.top:  # a above b
        return (a.cx, a.bottom), (b.cx, b.top), 0.0
    if b.bottom <= a.top:
        return (a.cx, a.top), (b.cx, b.bottom), 0.0
    if a.right <= b.left:  # side by side
        return (a.right, a.cy), (b.left, b.cy), 0.0
    if b.right <= a.left:
        return (a.left, a.cy), (b.right, b.cy), 0.0
    return (a.right, a.cy), (b.right, b.cy), -0.6  # overlapping: loop out to the right
