"""YAML lab files: a small, containerlab-like way to write a Topology down.

::

    name: two-nodes
    underlay: 10.168.0.0/24          # optional; null for none
    nodes:
      node1:
        ip_forward: true
        masquerade: true
        bridge: {name: docker0, subnet: 172.17.0.0/16, mtu: 1500}
        containers:
          c1: {address: 172.17.0.2}
          c2: {}
        pods:
          web: {}
      node2: {}
    namespaces: [ns1, ns2]
    links:
      - endpoints: [ns1:veth0, ns2:veth0]
        addresses: [10.0.0.1/24, 10.0.0.2/24]
    routes:     [{ns: node1, to: 172.18.0.0/16, via: 10.168.0.3}]
    sysctls:    {node2: {net.ipv4.ip_forward: 1}}
    nftables:   {node2: "table ip filter { ... }"}
    publish:    [{container: c1, port: 8080, to_port: 80}]
    vxlan:      [{ns: node1, name: vxlan0, vni: 42, dstport: 4789, dev: eth0, master: docker0}]
    fdb:        [{ns: node1, dev: vxlan0, mac: "00:00:00:00:00:00", dst: 10.168.0.3}]
    neighbours: [{ns: node1, dev: vxlan0, address: 172.17.0.3, mac: "02:42:ac:11:00:03"}]

Every key is checked: an unknown key or a value of the wrong type is reported with its path
(``nodes.node1.containers.c1: unknown key 'adress'``), all problems at once, before anything
is built. ``schema/lab.schema.json`` describes the same format for editors.
"""

import os

from .errors import TopologyError

# key -> (type or types, what to call it in a message)
_TOP = {
    "name": (str, "a string"), "underlay": ((str, type(None)), "a subnet or null"),
    "switch": (str, "a string"), "ipv6": (bool, "true or false"), "nodes": (dict, "a mapping"),
    "namespaces": (list, "a list of names"), "links": (list, "a list"), "addresses": (list, "a list"),
    "routes": (list, "a list"), "sysctls": (dict, "a mapping"), "nftables": (dict, "a mapping"),
    "publish": (list, "a list"), "vxlan": (list, "a list"), "fdb": (list, "a list"),
    "neighbours": (list, "a list"),
}
_NODE = {
    "address": (str, "an IPv4 address"), "bridge": ((dict, type(None)), "a mapping or null"),
    "ip_forward": (bool, "true or false"), "masquerade": (bool, "true or false"),
    "underlay": (bool, "true or false"), "containers": ((dict, type(None)), "a mapping"),
    "pods": ((dict, type(None)), "a mapping"),
}
_BRIDGE = {
    "name": (str, "a string"), "subnet": (str, "a subnet"), "address": (str, "an IPv4 address"),
    "mtu": (int, "an integer"), "mac": (str, "a MAC address"), "ageing": (int, "an integer (seconds)"),
}
_CONTAINER = {"address": (str, "an IPv4 address"), "mac": (str, "'docker', 'random' or a MAC")}
_LINK = {
    "endpoints": (list, "a list of two 'namespace:interface'"), "addresses": (list, "a list of two addresses"),
    "macs": (list, "a list of two MACs"), "mtu": (int, "an integer"), "up": (bool, "true or false"),
}
_ADDRESS = {"ns": (str, "a namespace"), "dev": (str, "an interface"), "address": (str, "an address/prefix")}
_ROUTE = {
    "ns": (str, "a namespace"), "to": (str, "a subnet or 'default'"), "via": (str, "an IPv4 address"),
    "dev": (str, "an interface"), "onlink": (bool, "true or false"),
}
_PUBLISH = {
    "container": (str, "a container"), "port": (int, "a port number"), "to_port": (int, "a port number"),
    "proto": (str, "'tcp' or 'udp'"),
}
_VXLAN = {
    "ns": (str, "a namespace"), "name": (str, "an interface name"), "vni": (int, "an integer"),
    "dstport": ((int, type(None)), "a port number or null"), "local": (str, "an IPv4 address"),
    "remote": (str, "an IPv4 address"), "dev": (str, "an interface"), "learning": (bool, "true or false"),
    "master": (str, "a bridge"), "mtu": (int, "an integer"), "address": (str, "an address/prefix"),
    "mac": (str, "a MAC address"),
}
_FDB = {"ns": (str, "a namespace"), "dev": (str, "an interface"), "mac": (str, "a MAC"), "dst": (str, "an IPv4 address")}
_NEIGH = {"ns": (str, "a namespace"), "dev": (str, "an interface"), "address": (str, "an IPv4 address"),
          "mac": (str, "a MAC")}
_REQUIRED = {
    "links": ("endpoints",), "addresses": ("ns", "dev", "address"), "routes": ("ns", "to"),
    "publish": ("container", "port"), "vxlan": ("ns", "name", "vni"), "fdb": ("ns", "dev", "mac"),
    "neighbours": ("ns", "dev", "address", "mac"),
}


class _Reader:
    def __init__(self, source):
        self.source, self.problems = source, []

    def fail(self, path, message):
        self.problems.append(f"{self.source}: {path}: {message}")

    def mapping(self, value, path, spec, required=()):
        """Check keys and types of a mapping; returns only the valid entries."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_shown(value)}")
            return None
        good = {}
        for key, item in value.items():
            if key not in spec:
                self.fail(path, f"unknown key {key!r}; known keys: {', '.join(spec)}")
                continue
            types, what = spec[key]
            if not _is(item, types):
                self.fail(f"{path}.{key}", f"expected {what}, got {_shown(item)}")
                continue
            good[key] = item
        for key in required:
            if key not in value:
                self.fail(path, f"missing key {key!r}")
                return None
        if any(key not in good for key in required):
            return None  # a required key of the wrong type, reported above
        return good


def _is(value, types):
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _shown(value):
    shown = f"{type(value).__name__} {value!r}"
    if isinstance(value, int) and not isinstance(value, bool) and value > 2**32:
        shown += " (a MAC must be quoted in YAML: mac: \"02:42:ac:11:00:02\")"
    return shown


def topology_from_dict(cls, data, source="lab"):
    """Turn a lab file's data into a Topology; raise TopologyError listing every problem."""
    r = _Reader(source)
    top = r.mapping(data, "(top level)", _TOP, required=("name",))
    if top is None:
        raise TopologyError(r.problems)
    options = {k: top[k] for k in ("underlay", "switch", "ipv6") if k in top}
    topo = cls(top["name"], **options) if "name" in top else cls("?", **options)

    for name, node in (top.get("nodes") or {}).items():
        path = f"nodes.{name}"
        node = r.mapping(node, path, _NODE)
        if node is None:
            continue
        containers = node.pop("containers", None) or {}
        pods = node.pop("pods", None) or {}
        if "bridge" in node and node["bridge"] is not None:
            node["bridge"] = r.mapping(node["bridge"], f"{path}.bridge", _BRIDGE)
            if node["bridge"] is None:
                continue
        topo.add_node(str(name), **node)
        for kind, entries in (("containers", containers), ("pods", pods)):
            if not isinstance(entries, dict):
                r.fail(f"{path}.{kind}", f"expected a mapping, got {_shown(entries)}")
                continue
            for cname, ctr in entries.items():
                ctr = r.mapping(ctr, f"{path}.{kind}.{cname}", _CONTAINER)
                if ctr is not None:
                    topo.add_container(str(cname), str(name), pod=(kind == "pods"), **ctr)

    for i, name in enumerate(top.get("namespaces") or []):
        if isinstance(name, str):
            topo.add_namespace(name)
        else:
            r.fail(f"namespaces[{i}]", f"expected a name, got {_shown(name)}")

    for i, link in enumerate(top.get("links") or []):
        link = r.mapping(link, f"links[{i}]", _LINK, _REQUIRED["links"])
        if link is not None:
            endpoints = link.pop("endpoints")
            if len(endpoints) != 2:
                r.fail(f"links[{i}].endpoints",
                       f"expected two 'namespace:interface', got {len(endpoints)}: {endpoints!r}")
                continue
            a, b = endpoints
            for key in ("addresses", "macs"):
                if key in link:
                    link[key] = tuple(link[key])
            topo.add_veth(a, b, **link)

    simple = (
        ("addresses", _ADDRESS, lambda e: topo.add_address(e.pop("ns"), e.pop("dev"), e.pop("address"))),
        ("routes", _ROUTE, lambda e: topo.add_route(e.pop("ns"), e.pop("to"), **e)),
        ("publish", _PUBLISH, lambda e: topo.add_publish(e.pop("container"), e.pop("port"), **e)),
        ("vxlan", _VXLAN, lambda e: topo.add_vxlan(e.pop("ns"), e.pop("name"), e.pop("vni"), **e)),
        ("fdb", _FDB, lambda e: topo.add_fdb(e.pop("ns"), e.pop("dev"), e.pop("mac"), e.get("dst"))),
        ("neighbours", _NEIGH, lambda e: topo.add_neighbour(e["ns"], e["dev"], e["address"], e["mac"])),
    )
    for key, spec, add in simple:
        for i, entry in enumerate(top.get(key) or []):
            entry = r.mapping(entry, f"{key}[{i}]", spec, _REQUIRED[key])
            if entry is not None:
                add(entry)

    for ns, values in (top.get("sysctls") or {}).items():
        if not isinstance(values, dict):
            r.fail(f"sysctls.{ns}", f"expected a mapping of key: value, got {_shown(values)}")
            continue
        for key, value in values.items():
            if isinstance(value, (dict, list)) or value is None:
                r.fail(f"sysctls.{ns}.{key}", f"expected a number or string, got {_shown(value)}")
            else:
                topo.add_sysctl(ns, key, int(value) if isinstance(value, bool) else value)
    for ns, rules in (top.get("nftables") or {}).items():
        if isinstance(rules, str):
            topo.add_nftables(ns, rules)
        else:
            r.fail(f"nftables.{ns}", f"expected an nft script (a string), got {_shown(rules)}")

    if r.problems:
        raise TopologyError(r.problems)
    return topo


def load(cls, text_or_path):
    """Read a lab file: a path to a ``.yml``/``.yaml`` file, or the YAML text itself."""
    import yaml

    source = "lab file"
    text = text_or_path
    looks_like_path = isinstance(text_or_path, str) and "\n" not in text_or_path and ":" not in text_or_path
    if isinstance(text_or_path, os.PathLike) or looks_like_path:
        source = os.fspath(text_or_path)
        try:
            with open(source) as f:
                text = f.read()
        except OSError as e:
            raise TopologyError(
                f"{source}: cannot read the lab file: {e.strerror}; give a path to a .yml file, or the YAML text"
            ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise TopologyError(f"{source}: not valid YAML: {e}") from None
    topo = topology_from_dict(cls, data, source)
    return topo
