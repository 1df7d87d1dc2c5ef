"""Which IPv4 netfilter hooks a packet passed in each namespace, and which of the lab's rules it met.

The kernel calls netfilter at five points of an IPv4 packet's way through a namespace: PREROUTING
(every packet that arrives), then after the routing decision INPUT (for this namespace) or FORWARD
(to be routed on), OUTPUT (every packet this namespace makes) and POSTROUTING (every packet that
leaves). A :func:`probe` watches them: in each namespace it adds one table ``ip nethelpers_hooks``
with a chain on each hook, at priority -400 (before any chain of the lab), policy accept, and one
rule ``MATCH counter``. It changes no verdict and needs no connection tracking; it is deleted on
exit, so the lab's ruleset is as before. The lab's own rules that say ``counter`` are read before
and after: the ones whose counters moved are the rules the packets met. Notebooks 08 and 12 draw it.

>>> syn = "tcp sport 40001 tcp flags & (syn | ack) == syn"
>>> with hooks.probe(lab, ["node2", "node1"], syn) as seen:  # doctest: +SKIP
...     lab.exec("node2", client)
>>> seen.table()      # namespace, hook, packets, the lab's chains there      # doctest: +SKIP
>>> seen.figure()     # one panel per namespace, the hooks passed in red      # doctest: +SKIP
"""

import io
import json
from contextlib import contextmanager

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .i18n import families, tr, use_fonts
from .state import Table

HOOKS = ("prerouting", "input", "forward", "output", "postrouting")
TABLE = "nethelpers_hooks"
PRIORITY = -400
COLOURS = {"seen": "#d62728", "seen_fill": "#fde0dc", "quiet": "#999999", "quiet_fill": "#f3f3f3",
           "text": "#222222", "rule": "#1f5fbf"}


def _probe_table(match):
    chains = "\n".join(
        f"  chain {hook} {{\n    type filter hook {hook} priority {PRIORITY}; policy accept;\n    {match} counter\n  }}"
        for hook in HOOKS)
    return f"table ip {TABLE} {{\n{chains}\n}}\n"


def base_chains(lab, ns):
    """The lab's own base chains of ``ns`` per hook: ``{hook: ["ip nat PREROUTING (dstnat)", ...]}``
    (IPv4 and inet families, in priority order; the probe's table left out)."""
    data = json.loads(lab.exec(ns, "nft -j list chains", check=True).stdout or "{}")
    found = {hook: [] for hook in HOOKS}
    for item in data.get("nftables", []):
        chain = item.get("chain")
        if not chain or chain.get("hook") not in found or chain.get("family") not in ("ip", "inet"):
            continue
        if chain["table"] == TABLE:
            continue
        found[chain["hook"]].append((chain.get("prio", 0), f"{chain['family']} {chain['table']} {chain['name']}"))
    return {hook: [name for _, name in sorted(chains)] for hook, chains in found.items()}


def _counters(lab, ns):
    return {(r["family"], r["table"], r["chain"], r["handle"]): r for r in lab.ruleset(ns)
            if r["packets"] is not None and r["table"] != TABLE}


class Passage:
    """What a :func:`probe` saw. ``counts[(ns, hook)]``: packets that matched at that hook;
    ``chains[ns][hook]``: the lab's base chains there; ``matched``: a Table of the lab's rules
    whose counters moved (only rules that say ``counter`` can tell)."""

    def __init__(self, namespaces, match):
        self.namespaces, self.match = list(namespaces), match
        self.counts, self.chains = {}, {}
        self.matched = Table(tr("the lab's rules the packets met"), ["namespace", "table", "chain", "rule", "packets"], [])

    def passed(self, ns):
        """The hooks of ``ns`` where the packets were counted, in the kernel's order."""
        return [hook for hook in HOOKS if self.counts.get((ns, hook), 0) > 0]

    def table(self, title=None):
        """One row per namespace and hook: packets counted, and the lab's chains at that hook."""
        rows = [{"namespace": ns, "hook": hook.upper(), "packets": self.counts.get((ns, hook), 0),
                 "the lab's chains there": ", ".join(self.chains.get(ns, {}).get(hook, []))}
                for ns in self.namespaces for hook in HOOKS]
        return Table(title or tr("netfilter hooks passed by: {match}", match=self.match),
                     ["namespace", "hook", "packets", "the lab's chains there"], rows)

    def figure(self, title=None):
        """One panel per namespace: the five hooks, red where the packets passed, with the lab's
        chains under each hook and the rules whose counters moved. Returns a matplotlib Figure."""
        return figure(self, title)


@contextmanager
def probe(lab, namespaces, match="meta l4proto { tcp, udp, icmp }"):
    """Count the packets that ``match`` (an nft match, e.g. ``"icmp type echo-request"``) at
    each IPv4 hook of ``namespaces`` while the ``with`` block runs; yields a :class:`Passage`,
    filled when the block ends.

    >>> with probe(lab, ["node1"], "icmp type echo-request") as seen:   # doctest: +SKIP
    ...     lab.exec("c1", "ping -c 1 10.168.0.3")
    >>> seen.passed("node1")                                            # doctest: +SKIP
    ['prerouting', 'forward', 'postrouting']
    """
    passage = Passage(namespaces, match)
    before = {}
    added = []
    try:
        for ns in passage.namespaces:
            passage.chains[ns] = base_chains(lab, ns)
            before[ns] = _counters(lab, ns)
            lab.exec(ns, ["nft", "-f", "-"], input=_probe_table(match), check=True)
            added.append(ns)
        yield passage
        for ns in passage.namespaces:
            for rule in lab.ruleset(ns).where(table=TABLE):
                passage.counts[(ns, rule["chain"])] = rule["packets"] or 0
            for key, rule in _counters(lab, ns).items():
                old = before[ns].get(key)
                moved = rule["packets"] - (old["packets"] if old else 0)
                if moved > 0:
                    passage.matched.rows.append({"namespace": ns, "table": f"{rule['family']} {rule['table']}",
                                                 "chain": rule["chain"], "rule": rule["rule"], "packets": moved})
    finally:
        for ns in added:
            lab.exec(ns, f"nft delete table ip {TABLE}")


# --- the picture ----------------------------------------------------------------------------------

class HooksFigure(Figure):
    """A Figure that Jupyter shows as a PNG even when pyplot was never imported."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=110)
        return buffer.getvalue()


# Where each hook sits in a panel (inches): the forwarding path on top, the local path below.
PLACES = {"prerouting": (0.75, 2.3), "forward": (2.25, 2.3), "postrouting": (3.75, 2.3),
          "input": (1.25, 1.05), "output": (3.25, 1.05)}
LOCAL = (2.25, 0.55)
PANEL_W, PANEL_H, BOX_W, BOX_H = 4.6, 3.3, 1.2, 0.42
PATHS = [("in", "prerouting"), ("prerouting", "forward"), ("forward", "postrouting"), ("postrouting", "out"),
         ("prerouting", "input"), ("input", "local"), ("local", "output"), ("output", "postrouting")]


def _short(rule, width=36):
    """A rule's text cut to ``width`` characters from its end, where its action is."""
    return rule if len(rule) <= width else "..." + rule[-(width - 3):]


def _panel(ax, x0, ns, passage):
    seen = set(passage.passed(ns))
    ax.add_patch(FancyBboxPatch((x0 + 0.05, 0.1), PANEL_W - 0.2, PANEL_H - 0.2, boxstyle="round,pad=0.02",
                                fc="#fbfbfb", ec="#555555", lw=0.8))
    ax.text(x0 + 0.15, PANEL_H - 0.22, ns, fontsize=10, weight="bold", va="top", color=COLOURS["text"])
    ax.text(x0 + PANEL_W / 2 - 0.1, PLACES["forward"][1] + 0.36, tr("routing decision: to this namespace (down) or onwards (right)"), fontsize=6, ha="center", color="#666666")
    centre = {"in": (x0 + 0.12, PLACES["prerouting"][1]), "out": (x0 + PANEL_W - 0.17, PLACES["postrouting"][1]),
              "local": (x0 + LOCAL[0], LOCAL[1])}
    boxes = {}
    matched = [r for r in passage.matched if r["namespace"] == ns]
    for hook, (x, y) in PLACES.items():
        hot = hook in seen
        centre[hook] = (x0 + x, y)
        boxes[hook] = FancyBboxPatch((x0 + x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.02",
                                     fc=COLOURS["seen_fill"] if hot else COLOURS["quiet_fill"],
                                     ec=COLOURS["seen"] if hot else COLOURS["quiet"], lw=1.4 if hot else 0.8)
        ax.add_patch(boxes[hook])
        count = passage.counts.get((ns, hook), 0)
        colour = COLOURS["text"] if hot else COLOURS["quiet"]
        ax.text(x0 + x, y + 0.07, hook.upper(), fontsize=7.5, ha="center", va="center", weight="bold", color=colour)
        ax.text(x0 + x, y - 0.11, tr("{n} packet", n=count) if count == 1 else tr("{n} packets", n=count), fontsize=6.5, ha="center",
                va="center", color=colour)
        lines = []
        for chain in passage.chains.get(ns, {}).get(hook, []):
            _, table_name, chain_name = chain.split(" ", 2)
            lines.append(f"{table_name} {chain_name}")
            lines += [f" {_short(r['rule'])}: {r['packets']}" for r in matched
                      if r["table"].split(" ", 1)[1] == table_name and r["chain"] == chain_name]
        if lines:
            ax.text(x0 + x, y - BOX_H / 2 - 0.05, "\n".join(lines), fontsize=5.8, ha="center", va="top",
                    family=families("DejaVu Sans Mono"), color=COLOURS["rule"], zorder=3,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.9, "pad": 1})
    ax.text(*centre["local"], tr("local processes"), fontsize=7, ha="center", va="center", style="italic",
            color=COLOURS["text"])
    for a, b in PATHS:
        hot = all(h in seen for h in (a, b) if h in PLACES)
        ax.add_patch(FancyArrowPatch(centre[a], centre[b], patchA=boxes.get(a), patchB=boxes.get(b),
                                     shrinkA=2 if a in boxes else 0, shrinkB=2 if b in boxes else 6,
                                     arrowstyle="-|>", mutation_scale=9,
                                     color=COLOURS["seen"] if hot else COLOURS["quiet"], lw=1.6 if hot else 0.8))


def figure(passage, title=None):
    """Draw a :class:`Passage`: one panel per namespace, in the order given to :func:`probe`."""
    use_fonts()
    n = max(1, len(passage.namespaces))
    fig = HooksFigure(figsize=(PANEL_W * n, PANEL_H + 0.45))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, PANEL_W * n)
    ax.set_ylim(0, PANEL_H + 0.45)
    ax.axis("off")
    for i, ns in enumerate(passage.namespaces):
        _panel(ax, i * PANEL_W, ns, passage)
    ax.text(0.1, PANEL_H + 0.3, title or tr("netfilter hooks passed by: {match}", match=passage.match), fontsize=10.5,
            va="center", color=COLOURS["text"])
    fig.hooks_seen = {ns: passage.passed(ns) for ns in passage.namespaces}
    return fig
