"""Kernel state beside packets: the lab's FDB, neighbour and conntrack tables before and after.

A :class:`Snapshot` reads, in each namespace of a lab, the tables that traffic changes by
itself: the bridge forwarding database (``bridge fdb``), the neighbour (ARP) table
(``ip neigh``) and connection tracking (``conntrack -L``). :func:`diff` compares two snapshots
and returns a :class:`~nethelpers.state.Table` with one row per entry added (``+``), removed
(``-``) or changed (``~``); :func:`watch` takes both around a block of code::

    with watch(lab) as w:
        lab.exec("c1", "ping -c 1 172.17.0.3")
    print(w.diff)     # node1 fdb + 02:42:ac:11:00:02 ...; c1 neighbours + 172.17.0.3 ...

Each row holds the namespace, the table, the change, and the entry's fields:

============  =======================================  ==================================
table         identified by                            shown
============  =======================================  ==================================
fdb           bridge (or device for ``self``), MAC,    mac, dev (dst on VXLAN entries)
              VLAN, dst
neighbours    device, address                          address, mac, dev, state
conntrack     protocol, original src, dst, id/ports    proto, src, dst, reply src/dst
============  =======================================  ==================================

A ``~`` row shows the new values and, in ``was``, the old values of the fields that changed.
A neighbour entry's state moves with time alone (REACHABLE, then STALE some 30 s later), so
state changes count only when asked for (``states=True``); a change of MAC always counts.
"""

from .state import Table

TABLES = ("fdb", "neighbours", "conntrack")


class _Kind:
    """How one table is compared: what identifies an entry, what is compared, what is shown."""

    def __init__(self, key, values, shown, optional=()):
        self.key, self.values, self.shown, self.optional = key, values, shown, optional

    def row(self, entry):
        """The fields a diff row shows for ``entry`` (optional ones only when set)."""
        row = {name: entry.get(name) for name in self.shown}
        row.update({name: entry[name] for name in self.optional if entry.get(name) is not None})
        return row


def _fdb_key(entry):
    if entry.get("self"):  # the device's own table (a VXLAN's remote VTEPs), not the bridge's
        return ("self", entry.get("dev"), entry["mac"], entry.get("vlan"), entry.get("dst"))
    return ("master", entry.get("master"), entry["mac"], entry.get("vlan"))


_KINDS = {
    "fdb": _Kind(_fdb_key, ("dev", "dst", "kind"), ("mac", "dev"), optional=("vlan", "dst")),
    "neighbours": _Kind(lambda e: (e.get("dev"), e["address"]), ("mac",), ("address", "mac", "dev", "state")),
    "conntrack": _Kind(
        lambda e: (e.get("proto"), e.get("src"), e.get("dst"), e.get("id/ports")),
        ("reply src", "reply dst"), ("proto", "src", "dst", "reply src", "reply dst"),
    ),
}

# The diff table's columns, in this order, where some row has a value.
_COLUMNS = ["address", "mac", "dev", "vlan", "state", "proto", "src", "dst", "reply src", "reply dst"]


class Snapshot:
    """The FDB, neighbour and conntrack tables of some namespaces of a lab, at one moment.

    ``snapshot[ns, "fdb"]`` is one :class:`Table`; ``snapshot.tables`` holds them all, keyed
    by ``(namespace, table)``. Compare two with :func:`diff` (or ``before.diff(after)``).

    >>> before = Snapshot.take(lab)                        # doctest: +SKIP
    >>> lab.exec("c1", "ping -c 1 172.17.0.3")             # doctest: +SKIP
    >>> print(diff(before, Snapshot.take(lab)))            # doctest: +SKIP
    """

    def __init__(self, tables, namespaces, what):
        self.tables, self.namespaces, self.what = dict(tables), list(namespaces), tuple(what)

    @classmethod
    def take(cls, lab, namespaces=None, what=TABLES):
        """Read the tables now.

        Args:
            lab: a built :class:`~nethelpers.Lab`.
            namespaces: the namespaces to read (a name or a list); default every namespace
                of the lab.
            what: which tables: any of ``"fdb"``, ``"neighbours"``, ``"conntrack"``. The FDB is
                read only where the namespace has a bridge or a VXLAN device (the two kinds of
                device that keep one); conntrack is empty where nothing asked for tracking.
        """
        namespaces = _namespaces(lab, namespaces)
        what = _what(what)
        tables = {}
        for ns in namespaces:
            if "fdb" in what and any(k in ("bridge", "vxlan") for k in lab.links(ns).column("kind")):
                tables[ns, "fdb"] = lab.fdb(ns)
            if "neighbours" in what:
                tables[ns, "neighbours"] = lab.neighbours(ns)
            if "conntrack" in what:
                tables[ns, "conntrack"] = lab.conntrack(ns)
        return cls(tables, namespaces, what)

    def __getitem__(self, key):
        return self.tables[key]

    def diff(self, after, states=False):
        """What changed from this snapshot to ``after``: see :func:`diff`."""
        return diff(self, after, states=states)

    def __repr__(self):
        return f"<Snapshot of {', '.join(self.what)} in {len(self.namespaces)} namespaces>"

    def __str__(self):
        return "\n\n".join(str(table) for table in self.tables.values())

    def _repr_html_(self):
        return "".join(table._repr_html_() for table in self.tables.values())


def diff(before, after, states=False):
    """The entries added (``+``), removed (``-``) or changed (``~``) from ``before`` to ``after``.

    Returns a :class:`Table`, one row per entry, in namespace order, then table, then entry.
    Args:
        before, after: two :class:`Snapshot` of the same lab.
        states: count a neighbour entry whose state alone changed (REACHABLE -> STALE...);
            off by default, as states change with time and would make outputs vary.

    >>> print(diff(before, after))                        # doctest: +SKIP
    kernel table changes
    namespace  table       change  address     mac                dev          state
    ---------  ----------  ------  ----------  -----------------  -----------  ---------
    node1      fdb         +                   02:42:ac:11:00:02  veth5d0c5e4
    c1         neighbours  +       172.17.0.3  02:42:ac:11:00:03  eth0         REACHABLE
    """
    namespaces = before.namespaces + [ns for ns in after.namespaces if ns not in before.namespaces]
    what = before.what + tuple(w for w in after.what if w not in before.what)
    rows = []
    for ns in namespaces:
        for table in what:
            old, new = before.tables.get((ns, table)), after.tables.get((ns, table))
            if old is None and new is None:
                continue
            rows += _diff_table(ns, table, old or [], new or [], states)
    present = [c for c in _COLUMNS if any(row.get(c) is not None for row in rows)]
    was = ["was"] if any("was" in row for row in rows) else []
    return Table("kernel table changes", ["namespace", "table", "change", *present, *was], rows)


def _keyed(kind, entries):
    """``{key: entry}``; an entry whose key repeats gets the next occurrence number."""
    keyed = {}
    for entry in entries:
        key, n = kind.key(entry), 0
        while (key, n) in keyed:
            n += 1
        keyed[key, n] = entry
    return keyed


def _diff_table(ns, table, old, new, states):
    kind = _KINDS[table]
    values = kind.values + (("state",) if table == "neighbours" and states else ())
    old, new = _keyed(kind, old), _keyed(kind, new)
    rows = []
    for key in sorted(set(old) | set(new), key=lambda k: [str(part) for part in k[0]] + [k[1]]):
        head = {"namespace": ns, "table": table}
        if key not in new:
            rows.append({**head, "change": "-", **kind.row(old[key])})
        elif key not in old:
            rows.append({**head, "change": "+", **kind.row(new[key])})
        else:
            changed = [v for v in values if old[key].get(v) != new[key].get(v)]
            if changed:
                was = ", ".join(f"{v} {old[key].get(v)}" for v in changed)
                rows.append({**head, "change": "~", **kind.row(new[key]), "was": was})
    return rows


class Watch:
    """Snapshots taken around a ``with`` block; made by :func:`watch`.

    Attributes: ``before`` and ``after`` (:class:`Snapshot`), ``diff`` (a :class:`Table`, set
    when the block ends without an exception).
    """

    def __init__(self, lab, namespaces=None, what=TABLES, states=False):
        self.lab, self.namespaces, self.what, self.states = lab, namespaces, _what(what), states
        self.before = self.after = self.diff = None

    def __enter__(self):
        self.before = Snapshot.take(self.lab, self.namespaces, self.what)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.after = Snapshot.take(self.lab, self.namespaces, self.what)
            self.diff = diff(self.before, self.after, states=self.states)
        return False

    def __repr__(self):
        return f"<Watch: {'no diff yet' if self.diff is None else f'{len(self.diff)} changes'}>"


def watch(lab, namespaces=None, what=TABLES, states=False):
    """Snapshot the tables before and after a ``with`` block; ``.diff`` says what changed.

    Arguments as :meth:`Snapshot.take` and :func:`diff`.

    >>> with watch(lab) as w:                              # doctest: +SKIP
    ...     lab.exec("c1", "ping -c 1 172.17.0.3")
    >>> w.diff.where(table="fdb").column("mac")            # doctest: +SKIP
    ['02:42:ac:11:00:02', '02:42:ac:11:00:03']
    """
    return Watch(lab, namespaces, what, states)


def _namespaces(lab, namespaces):
    if namespaces is None:
        return list(lab.namespaces)
    namespaces = [namespaces] if isinstance(namespaces, str) else list(namespaces)
    for ns in namespaces:
        lab._check_ns(ns)
    return namespaces


def _what(what):
    what = (what,) if isinstance(what, str) else tuple(what)
    unknown = [w for w in what if w not in TABLES]
    if unknown:
        raise ValueError(f"snapshot: unknown table {unknown[0]!r}; choose among {', '.join(TABLES)}")
    return what
