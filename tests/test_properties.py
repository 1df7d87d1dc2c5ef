"""Properties over generated lab descriptions (tests/strategies.py), valid, broken and hostile:

* every description read from a dict, YAML text, bytes or Python calls either validates or raises
  the package's own error with a message, never another exception, and the message stays short;
* ``python -m nethelpers check`` answers any file with a verdict, never a traceback;
* a description that validates builds a lab whose discovered topology is the description, and
  its printed commands, run by bash in a fresh sandbox, give the same state and nothing else.

Budget: see ``strategies.budget`` (NETHELPERS_FUZZ multiplies it).
"""

import contextlib
import io
import json
import os
import subprocess
import tempfile

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from nethelpers import Lab, Topology, state
from nethelpers.__main__ import main
from nethelpers.discover import discover
from nethelpers.errors import NetHelpersError, TopologyError
from nethelpers.sandbox import sandbox_prefix
from strategies import (PAYLOAD_TARGET, api_calls, budget, buildable_labs, hostile_valid_labs, lab_dicts,
                        nearly_valid_labs, yaml_texts)

MAX_MESSAGE = 25_000  # 50 problems of at most 400 characters, and their framing


def valid_or_our_error(make):
    """Run ``make``; it returns, or raises a NetHelpersError with a short, non-empty message."""
    try:
        topo = make()
        topo = topo.validate()
        event("valid")
        return topo
    except NetHelpersError as e:
        event(f"refused: {type(e).__name__}")
        message = str(e)
        assert message.strip() and len(message) < MAX_MESSAGE, message[:500]
        if isinstance(e, TopologyError):
            assert e.problems and all(p.strip() for p in e.problems)
        return None


@budget(200)
@given(lab_dicts())
def test_lab_data_validates_or_says_why(data):
    valid_or_our_error(lambda: Topology.from_dict(data))


@budget(200)
@given(yaml_texts())
def test_yaml_text_validates_or_says_why(text):
    valid_or_our_error(lambda: Topology.from_yaml_text(text))


@budget(200)
@given(api_calls())
def test_python_calls_validate_or_say_why(description):
    name, options, calls = description

    def make():
        topo = Topology(name, **options)
        for method, args, kwargs in calls:
            getattr(topo, method)(*args, **kwargs)
        return topo

    valid_or_our_error(make)


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as d:
        yield d


@budget(100)
@given(data=st.one_of(st.binary(max_size=400), yaml_texts().map(lambda t: t.encode("utf-8", "surrogatepass")),
                      lab_dicts().map(lambda d: json.dumps(d).encode())),
       suffix=st.sampled_from([".yml", ".json", ""]))
def test_check_answers_any_file_without_a_traceback(scratch, data, suffix):
    path = os.path.join(scratch, "lab" + suffix)
    with open(path, "wb") as f:
        f.write(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", path])  # any exception other than a verdict fails the test
    assert (code, bool(out.getvalue()), bool(err.getvalue())) in ((0, True, False), (2, False, True))
    assert "Traceback" not in err.getvalue() and len(err.getvalue()) < MAX_MESSAGE


# --- on the kernel --------------------------------------------------------------------------------


def dump_script(namespaces):
    return "\n".join(
        f"echo '=== {ns}'; ip -n {ns} -j -d link show; ip -n {ns} -4 -j addr show; ip -n {ns} -j route show"
        for ns in namespaces
    )


def run_by_hand(script, namespaces, strict=True):
    shell = ("set -e\n" if strict else "") + "export PATH=$PATH:/usr/sbin:/sbin\nmount -t tmpfs tmpfs /run\n" \
        f"mkdir -p /run/netns\n{script}\n" + dump_script(namespaces) + "\n"
    return subprocess.run([*sandbox_prefix(), "bash", "-c", shell], capture_output=True, text=True, timeout=120)


def kernel_state(ns, links, addrs, routes):
    keep = [c for c in links.columns if c not in ("state", "flags")]  # carrier settles with time
    return ([{k: r[k] for k in keep} for r in links], [dict(r) for r in addrs], [dict(r) for r in routes])


@pytest.fixture(scope="module")
def target_dir():
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o777)  # writable by the sandbox's user too, so a payload that ran would show
        yield d


def aimed(lab, target_dir):
    return json.loads(json.dumps(lab).replace(PAYLOAD_TARGET, os.path.join(target_dir, "pwned")))


@budget(30)
@given(nearly_valid_labs())
def test_any_lab_data_builds_what_it_says_or_says_why(data):
    """Lab(data): a lab whose discovered topology is the description, or the package's own error
    (a TopologyError before the kernel; an EngineError naming the step the kernel refused)."""
    try:
        lab = Lab(data)
    except NetHelpersError as e:
        event(f"refused: {type(e).__name__}")
        assert str(e).strip() and len(str(e)) < MAX_MESSAGE
        return
    with lab:
        event("built")
        assert discover(lab).differences(lab) == []


def _node_kind(data):
    if "nodes" not in data:
        return "no node"
    return "a quiet node" if data["nodes"]["node1"].get("quiet_ipv6") else "a node"


@budget(20)
@given(buildable_labs())
def test_a_valid_description_builds_what_it_says(target_dir, data):
    data = aimed(data, target_dir)
    event(f"{len(data.get('namespaces', []))} namespaces, {len(data.get('links', []))} links, "
          f"{_node_kind(data)}, {'nft' if 'nftables' in data else 'no nft'}")
    with Lab(data) as lab:
        found = discover(lab)
        assert found.differences(lab) == []
        by_hand = run_by_hand(lab.commands(), lab.namespaces)
        assert by_hand.returncode == 0, by_hand.stderr
        sections = by_hand.stdout.split("=== ")[1:]
        assert [s.split("\n", 1)[0] for s in sections] == lab.namespaces
        for section in sections:
            ns, links, addrs, routes = section.split("\n")[:4]
            ours = kernel_state(ns, lab.links(ns), lab.addresses(ns), lab.routes(ns))
            theirs = kernel_state(ns, state.links(ns, json.loads(links)), state.addresses(ns, json.loads(addrs)),
                                  state.routes(ns, json.loads(routes)))
            assert ours == theirs, ns
    assert not os.path.exists(os.path.join(target_dir, "pwned"))


@budget(15)
@given(hostile_valid_labs())
def test_printed_commands_run_nothing_but_commands(target_dir, data):
    """Scripts full of payloads (and lines "EOF"), when they validate, print commands that bash runs
    without running a payload: the file they aim at never appears."""
    data = aimed(data, target_dir)
    try:
        topo = Topology.from_dict(data).validate()
    except TopologyError:
        event("refused by validation")
        return
    event("validated: commands run by bash")
    script = topo.commands()
    by_hand = run_by_hand(script, topo.namespace_names(), strict=False)
    assert "=== n0" in by_hand.stdout, by_hand.stderr  # bash read the whole script
    assert not os.path.exists(os.path.join(target_dir, "pwned")), script
