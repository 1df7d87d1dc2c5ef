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
is built. ``schema/lab.schema.json`` is where the format is written down: the key tables
below are read from it, so the schema editors check and the reader cannot drift apart.
"""

import json
import os
import re
import stat
from importlib import resources
from pathlib import Path

import yaml

from .errors import TopologyError, UsageError

# The format is described in one place, schema/lab.schema.json (editors read it too): each key
# table below is read from it, key -> (type or types, what to call it in a message): the JSON
# types, and the property's "title".
SCHEMA = json.loads(resources.files(__package__).joinpath("schema/lab.schema.json").read_text(encoding="utf-8"))
_JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list, "null": type(None)}


def _level(*where):
    node = SCHEMA
    for part in where:
        node = node[part]
    return node


def _table(*where):
    """The key table of the schema's object at ``where``: key -> (types, title)."""
    table = {}
    for key, prop in _level(*where)["properties"].items():
        kinds = [prop["type"]] if isinstance(prop["type"], str) else prop["type"]
        types = tuple(_JSON_TYPES[k] for k in kinds)
        table[key] = (types[0] if len(types) == 1 else types, prop["title"])
    return table


_TOP = _table()
_NODE = _table("$defs", "node")
_BRIDGE = _table("$defs", "bridge")
_CONTAINER = _table("$defs", "container")
_LINK = _table("$defs", "link")
_ADDRESS = _table("$defs", "address")
_ROUTE = _table("$defs", "route")
_PUBLISH = _table("$defs", "publish")
_VXLAN = _table("$defs", "vxlan")
_FDB = _table("$defs", "fdb")
_NEIGH = _table("$defs", "neighbour")
_REQUIRED = {
    key: tuple(_level("$defs", definition).get("required", ()))
    for key, definition in (("links", "link"), ("addresses", "address"), ("routes", "route"), ("publish", "publish"),
                            ("vxlan", "vxlan"), ("fdb", "fdb"), ("neighbours", "neighbour"))
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
    shown = f"{type(value).__name__} {_clip(repr(value))}"
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
    for read in (_read_nodes, _read_namespaces, _read_links, _read_lists, _read_sysctls, _read_nftables):
        read(r, topo, top)
    if r.problems:
        raise TopologyError(r.problems)
    return topo


def _add(r, path, method, *args, **options):
    """Call a Topology method; a UsageError becomes a problem at ``path`` of the file."""
    try:
        method(*args, **options)
    except UsageError as e:
        r.fail(path, str(e))


def _read_nodes(r, topo, top):
    for name, node in (top.get("nodes") or {}).items():
        path = f"nodes.{name}"
        if not isinstance(name, str):
            r.fail(path, f"a node's name must be a string, got {_shown(name)}")
            continue
        node = r.mapping(node, path, _NODE)
        if node is None:
            continue
        containers = node.pop("containers", None) or {}
        pods = node.pop("pods", None) or {}
        if "bridge" in node and node["bridge"] is not None:
            node["bridge"] = r.mapping(node["bridge"], f"{path}.bridge", _BRIDGE)
            if node["bridge"] is None:
                continue
        _add(r, path, topo.add_node, name, **node)
        for kind, entries in (("containers", containers), ("pods", pods)):
            for cname, ctr in entries.items():
                ctr = r.mapping(ctr, f"{path}.{kind}.{cname}", _CONTAINER)
                if ctr is not None:
                    _add(r, f"{path}.{kind}.{cname}", topo.add_container, cname, name, pod=(kind == "pods"), **ctr)


def _read_namespaces(r, topo, top):
    for i, name in enumerate(top.get("namespaces") or []):
        if isinstance(name, str):
            topo.add_namespace(name)
        else:
            r.fail(f"namespaces[{i}]", f"expected a name, got {_shown(name)}")


def _read_links(r, topo, top):
    for i, link in enumerate(top.get("links") or []):
        path = f"links[{i}]"
        link = r.mapping(link, path, _LINK, _REQUIRED["links"])
        if link is None:
            continue
        endpoints = link.pop("endpoints")
        if len(endpoints) != 2 or not all(isinstance(e, str) for e in endpoints):
            r.fail(f"{path}.endpoints", f"expected two 'namespace:interface', got {_clip(repr(endpoints))}")
            continue
        for key in ("addresses", "macs"):
            if key in link and len(link[key]) != 2:
                r.fail(f"{path}.{key}", f"expected two, one for each end (null for none), got {_clip(repr(link[key]))}")
                link.pop(key)
        _add(r, path, topo.add_veth, *endpoints, **link)


def _read_lists(r, topo, top):
    lists = (
        ("addresses", _ADDRESS, lambda e: (topo.add_address, e.pop("ns"), e.pop("dev"), e.pop("address"))),
        ("routes", _ROUTE, lambda e: (topo.add_route, e.pop("ns"), e.pop("to"))),
        ("publish", _PUBLISH, lambda e: (topo.add_publish, e.pop("container"), e.pop("port"))),
        ("vxlan", _VXLAN, lambda e: (topo.add_vxlan, e.pop("ns"), e.pop("name"), e.pop("vni"))),
        ("fdb", _FDB, lambda e: (topo.add_fdb, e.pop("ns"), e.pop("dev"), e.pop("mac"))),
        ("neighbours", _NEIGH, lambda e: (topo.add_neighbour, e.pop("ns"), e.pop("dev"), e.pop("address"),
                                          e.pop("mac"))),
    )
    for key, spec, call in lists:
        for i, entry in enumerate(top.get(key) or []):
            entry = r.mapping(entry, f"{key}[{i}]", spec, _REQUIRED[key])
            if entry is not None:
                method, *args = call(entry)
                _add(r, f"{key}[{i}]", method, *args, **entry)


def _read_sysctls(r, topo, top):
    for ns, values in (top.get("sysctls") or {}).items():
        if not isinstance(values, dict):
            r.fail(f"sysctls.{ns}", f"expected a mapping of key: value, got {_shown(values)}")
            continue
        for key, value in values.items():
            if isinstance(value, (dict, list)) or value is None:
                r.fail(f"sysctls.{ns}.{key}", f"expected a number or string, got {_shown(value)}")
            else:
                _add(r, f"sysctls.{ns}.{key}", topo.add_sysctl, ns, key, int(value) if isinstance(value, bool) else value)


def _read_nftables(r, topo, top):
    for ns, rules in (top.get("nftables") or {}).items():
        if isinstance(rules, str):
            topo.add_nftables(ns, rules)
        else:
            r.fail(f"nftables.{ns}", f"expected an nft script (a string), got {_shown(rules)}")


# --- reading the bytes and the YAML -----------------------------------------------------------

MAX_BYTES = 256 * 1024  # a lab file is a few kilobytes; 256 KiB is far beyond any real one (parsed in ~1 s)
MAX_DEPTH = 32  # mappings and lists nested deeper than any lab file needs
YAML_SUFFIXES = (".yml", ".yaml")
LAB_SUFFIXES = YAML_SUFFIXES + (".json",)


def read_file(path):
    """The text of the lab file at ``path``: a regular file, at most MAX_BYTES, UTF-8."""
    source = os.fspath(path)
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise TopologyError(f"{source}: cannot read the lab file: {e.strerror}; give the path of a "
                            ".yml, .yaml or .json file (YAML text goes to Topology.from_yaml_text)") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TopologyError(f"{source}: not a regular file (a device, a pipe or a directory); "
                                "give the path of a lab file")
        data = os.read(fd, MAX_BYTES + 1)
        while len(data) <= MAX_BYTES:
            more = os.read(fd, MAX_BYTES + 1 - len(data))
            if not more:
                break
            data += more
    except OSError as e:
        raise TopologyError(f"{source}: cannot read the lab file: {e.strerror}") from None
    finally:
        os.close(fd)
    return decode(data, source)


def decode(data, source="lab file"):
    """``data`` (bytes) as text: at most MAX_BYTES, UTF-8; a TopologyError otherwise."""
    if len(data) > MAX_BYTES:
        raise TopologyError(f"{source}: larger than {MAX_BYTES} bytes; a lab file is a few kilobytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise TopologyError(f"{source}: byte {e.start} (line {line}) is {data[e.start]:#04x}, not UTF-8; "
                            "save the file as UTF-8") from None


class _Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2's core schema: ``true``/``false``, ``null``/``~``/empty, decimal, 0o and 0x
    integers, floats; everything else is a string (no YAML 1.1 ``yes``, base 60 or dates)."""


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
):
    _Resolver.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))


class _Constructor(yaml.constructor.SafeConstructor):
    """Keys are the text written, and written once."""

    def construct_yaml_bool(self, node):
        if node.value.lower() not in ("true", "false"):
            raise _Refused(f"line {node.start_mark.line + 1}: {_clip(node.value)!r} is not true or false")
        return node.value.lower() == "true"

    def construct_yaml_int(self, node):
        value = node.value
        if value.startswith(("0o", "0x")):
            return int(value[2:], 8 if value[1] == "o" else 16)
        return int(value)

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep)
        result, lines = {}, {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(f"line {line}: a key must be a name, not a list or mapping")
            key = key_node.value
            if key in lines:
                raise _Refused(f"line {line}: key {_clip(key)!r} is written twice (lines {lines[key]} "
                               f"and {line}); keep one")
            lines[key] = line
            result[key] = self.construct_object(value_node, deep=deep)
        return result


_Constructor.add_constructor("tag:yaml.org,2002:bool", _Constructor.construct_yaml_bool)
_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
_Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_yaml_map)
for _tag in ("timestamp", "binary", "set", "omap", "pairs"):  # YAML 1.1 only: refuse, not guess
    _Constructor.add_constructor(f"tag:yaml.org,2002:{_tag}", _Constructor.construct_undefined)


class StrictLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                   _Constructor, _Resolver):
    """A safe YAML loader for lab files.

    * YAML 1.2 scalars: only ``true``/``false`` are booleans and only ``null``/``~``/empty are
      null; ``on``, ``yes``, ``no``, ``off`` stay strings, as do ``12:34:...`` (no base 60) and
      dates;
    * a mapping key is always the text written: ``on:`` is the name ``"on"``, ``~:`` the name
      ``"~"`` (which validation then refuses as a name);
    * a key written twice is refused, naming both lines;
    * aliases (``*name``) are refused, so a few hundred bytes cannot expand into gigabytes;
    * nesting deeper than MAX_DEPTH is refused.
    """

    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)
        self.depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            line = self.peek_event().start_mark.line + 1
            raise _Refused(f"line {line}: aliases (*name) are not allowed in a lab file; write the value out")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _Refused(f"line {line}: nested more than {MAX_DEPTH} levels deep; a lab file needs a few")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Refused(Exception):
    """A lab file the strict loader refuses; the message says where and why."""


def _clip(text, limit=60):
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def parse_yaml(text, source="lab file"):
    """The data of a YAML lab file's ``text``, read strictly (see :class:`StrictLoader`)."""

    if len(text) > MAX_BYTES:
        raise TopologyError(f"{source}: larger than {MAX_BYTES} characters; a lab file is a few kilobytes")
    loader = None
    try:
        loader = StrictLoader(text)  # the reader already refuses control characters
        return loader.get_single_data()
    except _Refused as e:
        raise TopologyError(f"{source}: {e}") from None
    except yaml.YAMLError as e:
        raise TopologyError(f"{source}: not valid YAML: {_clip(e, 600)}") from None
    except (ValueError, OverflowError, RecursionError) as e:  # e.g. an integer of 5,000 digits
        raise TopologyError(f"{source}: a value cannot be read ({_clip(e, 70)}); write a shorter one") from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_json(text, source="lab file"):
    """The data of a JSON lab file's ``text``: duplicate keys, NaN and deep nesting refused."""
    import json

    def pairs(items):
        seen = {}
        for key, value in items:
            if key in seen:
                raise _Refused(f"key {_clip(key)!r} is written twice in one object{_json_lines(text, key)}; keep one")
            seen[key] = value
        return seen

    def constant(name):
        raise _Refused(f"{name} is not a number a lab file can hold")

    depth = max_depth_json(text)
    if depth > MAX_DEPTH:
        raise TopologyError(f"{source}: nested more than {MAX_DEPTH} levels deep; a lab file needs a few")
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except _Refused as e:
        raise TopologyError(f"{source}: {e}") from None
    except json.JSONDecodeError as e:
        raise TopologyError(f"{source}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        raise TopologyError(f"{source}: a value cannot be read: {_clip(e, 200)}") from None


def _json_lines(text, key):
    """Where ``"key":`` appears in ``text``, for a message: " (lines 3 and 7)"."""
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    lines = [n for n, line in enumerate(text.split("\n"), 1) if pattern.search(line)][:5]
    return f" (it is on lines {', '.join(map(str, lines))})" if len(lines) > 1 else ""


def max_depth_json(text):
    """How deeply ``text``'s brackets nest, outside strings (an upper bound good enough to refuse)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def is_path(value):
    """Whether ``value`` (given for a lab) is a file's path rather than YAML text.

    A path-like object is a path; a string is a path when it names an existing file, ends in
    .yml, .yaml or .json, or is one line; only text of several lines is read as YAML text.
    """
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str):
        return False
    if value.strip().lower().endswith(LAB_SUFFIXES) or "\n" not in value:
        return True
    try:
        return os.path.isfile(value)
    except (OSError, ValueError):
        return False


def load_path(cls, path):
    """Read the lab file at ``path`` (YAML, or JSON when it ends in .json)."""
    source = os.fspath(path)
    text = read_file(source)
    data = parse_json(text, source) if source.lower().endswith(".json") else parse_yaml(text, source)
    return topology_from_dict(cls, data, source)


def load_text(cls, text, source="lab text"):
    """Read a lab from YAML ``text`` (JSON is YAML too)."""
    if not isinstance(text, str):
        raise UsageError(f"{source}: expected the YAML text of a lab (a str), got {type(text).__name__}")
    return topology_from_dict(cls, parse_yaml(text, source), source)


def load(cls, text_or_path):
    """Read a lab file: a path (see :func:`is_path`), or the YAML text itself (several lines)."""
    if isinstance(text_or_path, bytes):
        return load_text(cls, decode(text_or_path))
    if is_path(text_or_path):
        return load_path(cls, text_or_path)
    if isinstance(text_or_path, str):
        return load_text(cls, text_or_path, "lab file")
    raise UsageError(f"expected a lab file's path or YAML text, got {type(text_or_path).__name__} "
                        f"{_clip(repr(text_or_path))}")


def course_lab(name):
    """The path of one of the course's lab files (``labs/<name>``), wherever the notebook runs.

    A notebook that wrote ``../labs/overlay.yml`` would work only from ``notebooks/``; the
    editions run the same code from ``notebooks/zh/``. The course's ``labs/`` is looked for next
    to this package (a checkout, or an editable install), then in the working directory and
    each of its parents (the image installs the package apart from the course's files).

    >>> Lab(course_lab("overlay.yml"))      # from notebooks/ or notebooks/zh/ alike
    """
    here = Path.cwd()
    for folder in (Path(__file__).resolve().parent.parent, here, *here.parents):
        path = folder / "labs" / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"course lab {name!r}: no labs/{name} next to nethelpers or above {here}; "
                            "run the notebook from the course's folder")
