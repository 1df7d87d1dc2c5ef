"""Ladder (sequence) diagrams of a capture: who passed each packet to whom, in time order.

One column per capture point, time downward, one arrow per hop of each packet's journey
(:mod:`nethelpers.journey`): from the point that sent it, or first saw it, to the next
point that saw it; a bridge flooding an ARP request is a fan of arrows from the port it
entered by. Two forms of the same picture:

- :func:`ladder`, a matplotlib Figure (a PNG in a notebook, ``fig.savefig("ping.png")``);
- :func:`mermaid`, Mermaid text, which JupyterLab 4 renders in Markdown (:func:`markdown`).

>>> cap = lab.capture(points, filter="arp or icmp")   # doctest: +SKIP
>>> lab.exec("c1", "ping -c 1 172.17.0.3")             # doctest: +SKIP
>>> cap.stop().ladder()                                # doctest: +SKIP
"""

import re

from .i18n import tr, use_fonts
from .journey import Journeys, encapsulation, journeys, story

COLOURS = {"ARP": "#d9730d", "ICMP": "#1f5fbf", "VXLAN": "#2e8b3a", "other": "#6b6b6b"}
LABEL_WIDTH = 46  # characters of an arrow's label before it is cut


# --- shared ---------------------------------------------------------------------------------------


def _select(capture, points):
    """The journeys of ``capture`` restricted to ``points`` (default: the capture's), and the points."""
    if isinstance(capture, Journeys):
        trips = capture
        points = list(points) if points else _points_of(trips)
        keep = set(points)
        if not all(p.point in keep for j in trips for p in j):
            raise ValueError("give a capture, not journeys, to draw a subset of its points")
        return trips, points
    points = list(points) if points else (list(getattr(capture, "points", ())) or
                                          sorted({p.point for p in capture}))
    unknown = [point for point in points if ":" not in point]
    if unknown:
        raise ValueError(f"points {unknown!r} must be written 'namespace:interface', like 'c1:eth0'")
    from .capture import Capture

    keep = set(points)
    return journeys(Capture([p for p in capture if p.point in keep], points)), points


def _points_of(trips):
    seen = []
    for j in trips:
        for p in j:
            if p.point not in seen:
                seen.append(p.point)
    return seen


def kind(hop_or_packet):
    """The colour class of a hop (or a sighting): VXLAN when it travels in (or leaves) a
    VXLAN packet, else the innermost protocol: ARP, ICMP or other."""
    from .journey import protocol

    packet = getattr(hop_or_packet, "after", hop_or_packet)
    if encapsulation(packet.frame) or getattr(hop_or_packet, "vxlan", None):
        return "VXLAN"
    name = protocol(packet.frame)
    return name if name in ("ARP", "ICMP") else "other"


def short(description, width=LABEL_WIDTH):
    """A packet's description made short enough for an arrow:
    ``"ICMP echo-request 172.17.0.2 > 172.17.0.3 id 7 seq 1 ttl 64"`` becomes
    ``"ICMP req 172.17.0.2>172.17.0.3 seq 1 ttl 64"``.

    >>> short("ARP who-has 172.17.0.3 tell 172.17.0.2")
    'ARP who-has 172.17.0.3'
    """
    text = description
    text = re.sub(r"^VXLAN vni (\d+) \S+ > \S+ \[(.*)\]$",
                  lambda m: f"VXLAN {m.group(1)} [{short(m.group(2), 10**6)}]", text)
    text = re.sub(r"^ARP who-has (\S+) tell \S+$", r"ARP who-has \1", text)
    text = re.sub(r"^ARP reply (\S+) is-at (\S+)$", r"ARP \1 is-at \2", text)
    text = text.replace("ICMP echo-request", "ICMP req").replace("ICMP echo-reply", "ICMP reply")
    text = re.sub(r" id \d+ seq", " seq", text)
    text = text.replace(" > ", ">")
    if len(text) > width:
        text = text[: width - 1] + "\u2026"
    return text


def _change_text(hop):
    """What changed, short: MACs as 'MAC rewritten', the rest as Hop.changes says."""
    out = []
    for change in hop.changes:
        if change.startswith("MAC "):
            if "MAC rewritten" not in out:
                out.append("MAC rewritten")
        elif change[0] in "+-":
            out.append(" ".join(change.split()[:3]))  # "+VXLAN vni 42"
        else:
            out.append(change)
    return ", ".join(out)


def _ms(packet, t0):
    return f"{(packet.time - t0) * 1000:.3f}"


# --- matplotlib ---------------------------------------------------------------------------------


def _rows(trips, keep):
    """Rank order of sightings: ``[(journey, index, row)]`` and the number of rows.

    A sighting shares the row of the one drawn just before it when both are one receive:
    the same journey, the earlier one its predecessor, both received (``in``) in the same
    namespace at the same encapsulation depth, byte for byte the same frame, at another
    point (a bridge port and the bridge, seeing one frame enter). Decided from the journey,
    never from timestamps: equal times are chance (the kernel stamps a received frame once
    or at each tap, depending on what else on the machine asked for timestamps).
    """
    placed = []
    row = -1
    previous = None
    used = set()
    for journey, i in story(trips):
        packet = journey.packets[i]
        if packet.point not in keep:
            continue
        if not (previous is not None and previous[0] is journey and packet.point not in used
                and _one_receive(journey, previous[1], i)):
            row += 1
            used = set()
        used.add(packet.point)
        placed.append((journey, i, row))
        previous = (journey, i)
    return placed, row + 1


def _one_receive(journey, before, after):
    """True when sighting ``after`` is sighting ``before`` going on up the same receive path."""
    a, b = journey.packets[before], journey.packets[after]
    return (journey.parents[after] == before and a.direction == b.direction == "in"
            and a.namespace == b.namespace and a.raw == b.raw)


def ladder(capture, points=None, title=None, ax=None, max_rows=60, times=True):
    """Draw a capture as a ladder diagram; returns the matplotlib Figure.

    Args:
        capture: a :class:`~nethelpers.capture.Capture` (or its :class:`~nethelpers.journey.Journeys`).
        points: the columns, ``"ns:ifname"``, left to right (default: the capture's points);
            packets at other points are left out.
        title: the figure's title (default: how many packets, at how many points).
        ax: a matplotlib Axes to draw on (default: a new figure, sized for the points and rows).
        max_rows: rows drawn at most; later sightings are counted in a note, not drawn.
        times: label rows with ms since the first packet (False: no labels, for figures
            that repeat from run to run).

    The figure's ``ladder_arrows`` attribute is the number of arrows drawn (one per hop
    drawn), ``ladder_rows`` the number of rows, ``ladder_hidden`` the sightings left out.

    >>> fig = cap.ladder(points=["c1:eth0", "node1:docker0", "c2:eth0"])  # doctest: +SKIP
    >>> fig.savefig("ping.png")                                          # doctest: +SKIP
    """
    use_fonts()
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    trips, points = _select(capture, points)
    column = {point: x for x, point in enumerate(points)}
    placed, nrows = _rows(trips, column)
    shown = [(j, i, r) for j, i, r in placed if r < max_rows]
    hidden = len(placed) - len(shown)
    nrows_shown = min(nrows, max_rows)
    where = {(id(j), i): r for j, i, r in shown}
    t0 = min((p.time for j in trips for p in j), default=0.0)

    if ax is None:
        # No pyplot: the figure belongs to no backend, so nothing is shown twice in
        # Jupyter and nothing needs a display; savefig() renders with Agg.
        width = max(6.0, 1.75 * len(points) + 1.4)
        height = max(3.0, 0.36 * nrows_shown + 1.9)
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure

    top, bottom = -0.9, nrows_shown - 0.4
    for x, point in enumerate(points):
        ax.plot([x, x], [top + 0.35, bottom], color="#b0b0b0", lw=1, ls=(0, (4, 3)), zorder=0)
        ax.text(x, top, point, ha="center", va="bottom", fontsize=8, fontweight="bold",
                bbox={"boxstyle": "round,pad=0.3", "fc": "#f2f2f2", "ec": "#909090"}, zorder=3)

    arrows = 0
    drawn_hops = []
    for journey in trips:
        parents = journey.parents
        for i, packet in enumerate(journey.packets):
            r = where.get((id(journey), i))
            if r is None:
                continue
            x = column[packet.point]
            colour = COLOURS[kind(packet)]
            ax.plot([x], [r], marker="o" if packet.direction == "out" else "s", ms=3.5, color=colour, zorder=4)
            parent = parents[i]
            if parent is None:
                if len(journey) == 1:  # seen at one point only: a dot and its label
                    ax.text(x + 0.06, r, short(packet.summary()), fontsize=6.5, va="center", color=colour, zorder=5,
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
                continue
            r0 = where.get((id(journey), parent))
            if r0 is None:
                continue
            x0 = column[journey.packets[parent].point]
            hop = next(h for h in journey.hops() if h.after is packet)
            colour = COLOURS[kind(hop)]
            ax.annotate("", xy=(x, r), xytext=(x0, r0), zorder=2,
                        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.3, "shrinkA": 2, "shrinkB": 2,
                                        "mutation_scale": 9})
            arrows += 1
            drawn_hops.append(hop)
            label = short(packet.summary())
            changed = _change_text(hop)
            if changed:
                label += "\n" + changed
            # Just above the arrow: half-way, or nearer its start when it is long; the
            # other arrows of a fan-out nearer their tips, so that the labels stay apart.
            fan = sum(1 for p in journey.parents[:i] if p == parent)
            f = 0.5 if abs(x - x0) <= 1 and not fan else (0.35 if not fan else 0.7)
            ax.annotate(label, (x0 + (x - x0) * f, r0 + (r - r0) * f), xytext=(0, 1.5),
                        textcoords="offset points", fontsize=6.5, ha="center", va="bottom", color=colour,
                        zorder=5, fontweight="bold" if changed else "normal", linespacing=1.1,
                        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})

    ax.set_xlim(-0.7, len(points) - 0.3)
    ax.set_ylim(bottom + 0.2, top - 0.9)  # time runs downward
    ticks, labels, last = [], [], None
    for j, i, r in shown:
        if r != last:
            ticks.append(r)
            labels.append(f"{_ms(j.packets[i], t0)} ms" if times else "")
            last = r
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=2)
    ax.set_ylabel(tr("time since the first packet (rank order, not to scale)"), fontsize=7.5)
    if title is None:
        title = tr("{n} packets at {m} points", n=len(trips), m=len(points))
    ax.set_title(title, fontsize=10)
    used = []
    for j in trips:
        for p in j:
            if kind(p) not in used:
                used.append(kind(p))
        for h in j.hops():
            if kind(h) not in used:
                used.append(kind(h))
    handles = [Line2D([], [], color=COLOURS[k], lw=2, label=k) for k in COLOURS if k in used]
    handles += [Line2D([], [], color="#444444", marker="o", ms=4, lw=0, label=tr("sent (out)")),
                Line2D([], [], color="#444444", marker="s", ms=4, lw=0, label=tr("received (in)"))]
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=7.5, frameon=True, framealpha=0.9)
    if hidden:
        ax.text(0.5, bottom + 0.1, tr("... {hidden} more sightings not drawn (max_rows={max_rows})", hidden=hidden, max_rows=max_rows),
                ha="center", va="top", fontsize=7.5, style="italic", transform=ax.transData)
    fig.ladder_arrows, fig.ladder_rows, fig.ladder_hidden = arrows, nrows_shown, hidden
    fig.ladder_hops = drawn_hops
    if not hasattr(fig, "_repr_png_"):
        # Jupyter shows a figure made without pyplot only once the inline backend is
        # loaded (by importing pyplot); this shows it as a PNG in any case.
        fig._repr_png_ = lambda: _png(fig)
    return fig


def _png(fig):
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# --- Mermaid --------------------------------------------------------------------------------------

# Words Mermaid's sequence lexer takes as keywords when an identifier starts with them.
_KEYWORDS = ("participant", "actor", "create", "destroy", "box", "loop", "rect", "opt", "alt", "else", "par",
             "and", "critical", "option", "break", "end", "left", "right", "links", "link", "properties",
             "details", "over", "note", "activate", "deactivate", "title", "accTitle", "accDescr",
             "sequenceDiagram", "autonumber", "off")


def mermaid_id(point, taken=()):
    """A Mermaid participant id for a point: letters, digits and ``_`` only
    (``"node1:veth6e2daa2"`` becomes ``node1_veth6e2daa2``), not starting with a keyword.

    >>> mermaid_id("c1:eth0")
    'c1_eth0'
    """
    ident = re.sub(r"[^A-Za-z0-9_]", "_", point)
    if not ident or ident[0].isdigit() or ident.lower().startswith(tuple(k.lower() for k in _KEYWORDS)):
        ident = "p_" + ident
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    return ident


_ESCAPES = {"#": "#35;", ";": "#59;", ":": "#58;", "\n": " ", "\r": " "}


def escape(text, keep=""):
    """Text that Mermaid shows as is: ``#``, ``;`` and ``:`` as entity codes (but those in
    ``keep``), no newlines. A participant's alias may hold ``:``, a message's text may not.

    >>> escape("ARP 172.17.0.3 is-at 02:42:ac:11:00:03; #1")
    'ARP 172.17.0.3 is-at 02#58;42#58;ac#58;11#58;00#58;03#59; #35;1'
    """
    return "".join(c if c in keep else _ESCAPES.get(c, c) for c in text)


def mermaid(capture, points=None, max_rows=60, times=True):
    """A capture's ladder diagram as Mermaid ``sequenceDiagram`` text.

    One participant per point (aliased to its ``ns:ifname``), a ``Note`` with each
    journey's time, one message per hop (a flood is several messages from one point), at
    most ``max_rows`` messages (``times=False`` leaves the times out of the notes, for
    output that repeats from run to run). Show it in JupyterLab with :func:`markdown`.

    >>> print(cap.mermaid())  # doctest: +SKIP
    sequenceDiagram
        participant c1_eth0 as c1:eth0
        ...
        Note over c1_eth0: #1 at 0.000 ms
        c1_eth0->>node1_vethe19d006: ARP who-has 172.17.0.3
    """
    trips, points = _select(capture, points)
    t0 = min((p.time for j in trips for p in j), default=0.0)
    ids = {}
    for point in points:
        ids[point] = mermaid_id(point, set(ids.values()))
    lines = ["sequenceDiagram"]
    lines += [f"    participant {ids[point]} as {escape(point, keep=':')}" for point in points]
    messages = hidden = 0
    for journey in trips:
        first = journey.packets[0]
        hops = journey.hops()
        if messages >= max_rows:
            hidden += len(hops)
            continue
        note = f"journey {journey.number}" + (f" at {_ms(first, t0)} ms" if times else "")
        if not hops:
            note += f" {short(first.summary())} ({first.direction})"
        lines.append(f"    Note over {ids[first.point]}: {escape(note)}")
        for hop in hops:
            if messages >= max_rows:
                hidden += 1
                continue
            label = short(hop.after.summary())
            changed = _change_text(hop)
            if changed:
                label += f" ({changed})"
            lines.append(f"    {ids[hop.before.point]}->>{ids[hop.after.point]}: {escape(label)}")
            messages += 1
    if hidden:
        note = escape(f"{hidden} more hops not shown (max_rows={max_rows})")
        lines.append(f"    Note over {ids[points[0]]},{ids[points[-1]]}: {note}")
    return "\n".join(lines) + "\n"


def markdown(text):
    """Mermaid text in a ```` ```mermaid ```` fence: an ``IPython.display.Markdown`` (JupyterLab 4
    draws it) when IPython is there, else the fenced string."""
    fenced = f"```mermaid\n{text.rstrip()}\n```\n"
    try:
        from IPython.display import Markdown
    except ImportError:
        return fenced
    return Markdown(fenced)
