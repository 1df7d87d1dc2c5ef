"""Kernel state as tables: what ``ip``, ``bridge``, ``nft`` and ``conntrack`` print, as data.

Each reader takes the JSON the real tool printed inside a lab namespace and returns a
:class:`Table`: rows of plain dicts to assert on, an aligned text form for ``print`` and a
HTML form that Jupyter shows.
"""

import html
import json
import re

from .i18n import column


class Table:
    """Rows (dicts) with named columns; prints as text, shows as HTML in Jupyter.

    >>> t = Table("demo", ["name", "mtu"], [{"name": "eth0", "mtu": 1500}])
    >>> print(t)
    demo
    name  mtu
    ----  ----
    eth0  1500
    >>> t.column("name")
    ['eth0']
    """

    def __init__(self, title, columns, rows):
        self.title, self.columns, self.rows = title, list(columns), list(rows)

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def column(self, name):
        """The values of one column, in row order."""
        return [row.get(name) for row in self.rows]

    def where(self, /, **match):
        """The rows whose columns equal every value given, as a new Table."""
        rows = [r for r in self.rows if all(r.get(k) == v for k, v in match.items())]
        return Table(self.title, self.columns, rows)

    def one(self, /, **match):
        """The single row that matches; raises LookupError unless exactly one does."""
        rows = self.where(**match).rows
        if len(rows) != 1:
            raise LookupError(f"{self.title}: {len(rows)} rows match {match}, expected 1")
        return rows[0]

    def _cells(self):
        return [["" if r.get(c) is None else str(r.get(c)) for c in self.columns] for r in self.rows]

    def __str__(self):
        cells = self._cells()
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(self.columns)]
        line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()
        out = [self.title, line(self.columns), line(["-" * w for w in widths])]
        out += [line(row) for row in cells] or ["(none)"]
        return "\n".join(out)

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        head = "".join(f"<th>{html.escape(column(c))}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in self._cells()
        ) or f'<tr><td colspan="{len(self.columns)}">(none)</td></tr>'
        return (
            f"<table><caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def parse_json(text):
    text = text.strip()
    return json.loads(text) if text else []


def links(ns, data):
    rows = []
    for link in data:
        info = link.get("linkinfo", {})
        rows.append({
            "index": link["ifindex"],
            "name": link["ifname"],
            "peer": f"if{link['link_index']}" if "link_index" in link else link.get("link"),
            "kind": info.get("info_kind", "loopback" if link["ifname"] == "lo" else ""),
            "master": link.get("master"),
            "mac": link.get("address"),
            "mtu": link.get("mtu"),
            "state": link.get("operstate"),
            "flags": ",".join(link.get("flags", [])),
        })
    return Table(f"links in {ns}", ["index", "name", "peer", "kind", "master", "mac", "mtu", "state", "flags"], rows)


def addresses(ns, data):
    rows = [
        {"dev": link["ifname"], "address": f"{a['local']}/{a['prefixlen']}", "scope": a.get("scope"),
         "broadcast": a.get("broadcast")}
        for link in data for a in link.get("addr_info", [])
    ]
    return Table(f"addresses in {ns}", ["dev", "address", "scope", "broadcast"], rows)


def routes(ns, data):
    rows = [
        {"to": r["dst"], "via": r.get("gateway"), "dev": r.get("dev"), "src": r.get("prefsrc"),
         "scope": r.get("scope"), "flags": ",".join(r.get("flags", []))}
        for r in data
    ]
    return Table(f"routes in {ns}", ["to", "via", "dev", "src", "scope", "flags"], rows)


def neighbours(ns, data):
    rows = [
        {"address": n["dst"], "mac": n.get("lladdr"), "dev": n.get("dev"),
         "state": ",".join(n.get("state", []))}
        for n in data
    ]
    return Table(f"neighbours (ARP) in {ns}", ["address", "mac", "dev", "state"], rows)


def bridge_ports(ns, data):
    bridges = {l["ifname"] for l in data if l.get("linkinfo", {}).get("info_kind") == "bridge"}
    rows = []
    for bridge in sorted(bridges):
        ports = [l for l in data if l.get("master") == bridge]
        for port in ports or [None]:
            slave = (port or {}).get("linkinfo", {}).get("info_slave_data", {})
            rows.append({
                "bridge": bridge, "port": port and port["ifname"],
                "state": slave.get("state"), "learning": slave.get("learning"),
                "flood": slave.get("flood"), "hairpin": slave.get("hairpin"),
            })
    return Table(f"bridge ports in {ns}", ["bridge", "port", "state", "learning", "flood", "hairpin"], rows)


def fdb(ns, data, multicast=False):
    rows = []
    for e in data:
        if not multicast and int(e["mac"][:2], 16) & 1:
            continue
        flags = e.get("flags", [])
        rows.append({
            "mac": e["mac"], "dev": e.get("ifname"), "master": e.get("master"), "dst": e.get("dst"),
            "vlan": e.get("vlan"),
            "kind": "permanent" if e.get("state") == "permanent" else ("static" if e.get("state") == "static" else "learned"),
            "self": "self" in flags,
        })
    rows.sort(key=lambda r: (r["kind"] != "learned", r["kind"], r["dev"] or "", r["mac"]))
    return Table(f"bridge FDB in {ns}", ["mac", "dev", "master", "dst", "vlan", "kind", "self"], rows)


def ruleset(ns, data):
    rows = []
    for item in data.get("nftables", []) if isinstance(data, dict) else []:
        rule = item.get("rule")
        if not rule:
            continue
        counter = next((x["counter"] for x in rule.get("expr", []) if isinstance(x, dict) and "counter" in x), None)
        rows.append({
            "family": rule["family"], "table": rule["table"], "chain": rule["chain"],
            "handle": rule.get("handle"), "rule": _describe(rule.get("expr", [])),
            "packets": counter and counter["packets"], "bytes": counter and counter["bytes"],
        })
    return Table(f"nftables rules in {ns}", ["family", "table", "chain", "handle", "rule", "packets", "bytes"], rows)


def _describe(exprs):
    """A short human text for an nft JSON rule (the exact text is in `nft list ruleset`)."""
    parts = []
    for x in exprs:
        if not isinstance(x, dict):
            continue
        (kind, value), = x.items()
        if kind == "match":
            left = value["left"]
            field = left.get("payload", left.get("meta", left.get("fib", {})))
            name = field.get("field") or field.get("key") or ""
            if "payload" in left and field.get("protocol"):
                name = f"{field['protocol']} {name}"
            if "fib" in left:
                name = "fib " + " ".join(left["fib"].get("flags", [])) + " " + left["fib"].get("result", "")
            right = value["right"]
            if isinstance(right, dict) and "prefix" in right:
                right = f"{right['prefix']['addr']}/{right['prefix']['len']}"
            op = "" if value.get("op") in ("==", "in") else value["op"] + " "
            parts.append(f"{name} {op}{right}")
        elif kind in ("masquerade", "accept", "drop", "return"):
            parts.append(kind)
        elif kind in ("dnat", "snat"):
            parts.append(f"{kind} to {value.get('addr')}" + (f":{value['port']}" if "port" in value else ""))
        elif kind == "jump":
            parts.append(f"jump {value['target']}")
        elif kind == "xt":  # an iptables-nft extension (Docker's MASQUERADE, addrtype...)
            parts.append(("xt " if value.get("type") == "target" else "xt match ") + value.get("name", "?"))
    return " ".join(parts)


_CT_FIELD = re.compile(r"(\w+)=(\S+)")


def conntrack(ns, text):
    rows = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 4:
            continue
        proto = words[2]
        fields = _CT_FIELD.findall(line)
        original, reply = {}, {}
        for key, value in fields:
            target = reply if key in original and key in ("src", "dst", "sport", "dport", "type", "code", "id") else original
            target.setdefault(key, value)
        rows.append({
            "proto": proto, "src": original.get("src"), "dst": original.get("dst"),
            "reply src": reply.get("src"), "reply dst": reply.get("dst"),
            "id/ports": original.get("id") or f"{original.get('sport')}->{original.get('dport')}",
            "nat": "yes" if (reply.get("dst") and reply.get("dst") != original.get("src")) or
                            (reply.get("src") and reply.get("src") != original.get("dst")) else "no",
        })
    return Table(f"conntrack in {ns}", ["proto", "src", "dst", "reply src", "reply dst", "id/ports", "nat"], rows)


def sysctls(ns, keys, text):
    found = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    rows = [{"key": k, "value": found.get(k)} for k in keys]
    return Table(f"sysctls in {ns}", ["key", "value"], rows)
