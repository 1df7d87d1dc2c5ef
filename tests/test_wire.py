"""R6: what crosses between client and engine is plain data; forged frames never run code."""

import os
import pickle
import socket
import struct
import threading

import pytest

from nethelpers import EngineError
from nethelpers.engine import wire
from nethelpers.sandbox import EngineClient


class Boom:
    """A pickle that would create a file if it were ever unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _frame(payload, version=wire.VERSION, magic=wire.MAGIC, length=None, fds=0):
    return wire.HEADER.pack(magic, version, len(payload) if length is None else length, fds) + payload


def _forgeries(path):
    evil = pickle.dumps(Boom(path))
    return {
        "pickle, bare": evil,
        "pickle in a frame": _frame(evil),
        "pickle, old framing": struct.pack("!Q", len(evil)) + evil,
        "garbage": os.urandom(64),
        "oversize": _frame(b"{}", length=wire.MAX_FRAME + 1),
        "wrong version": _frame(b"{}", version=wire.VERSION + 1),
        "NaN": _frame(b'{"seq":1,"ok":true,"value":NaN}'),
        "infinity": _frame(b'{"seq":1,"ok":true,"value":1e999}'),
        "too many fds": _frame(b"{}", fds=wire.MAX_FDS + 1),
        "deep": _frame(b"[" * 100000 + b"]" * 100000),
    }


def test_plain_data_round_trips():
    left, right = socket.socketpair()
    with left, right:
        message = {"seq": 1, "bytes": b"\x00\xff" * 10, "list": [1, 2.5, None, True, "x"], "nested": {"a": [b""]}}
        wire.send(left, message)
        assert wire.recv(right) == (message, [])


def test_code_does_not_cross():
    left, right = socket.socketpair()
    with left, right, pytest.raises(TypeError, match="only plain data"):
        wire.send(left, {"value": Boom("/nonexistent")})


@pytest.mark.parametrize("name", sorted(_forgeries("x")))
def test_forged_frames_raise_frame_error_and_run_nothing(tmp_path, name):
    witness = tmp_path / "ran"
    left, right = socket.socketpair()
    with left, right:
        left.sendall(_forgeries(witness)[name])
        left.shutdown(socket.SHUT_WR)
        with pytest.raises((wire.FrameError, EOFError)):
            wire.recv(right)
    assert not witness.exists()


@pytest.mark.parametrize("name", sorted(_forgeries("x")))
def test_the_client_refuses_forged_replies_with_a_clear_error(tmp_path, name):
    """The client, talking to a forger instead of its engine, raises EngineError and runs nothing."""
    witness = tmp_path / "ran"
    ours, forger = socket.socketpair()
    client = EngineClient.__new__(EngineClient)
    client._attach(ours, None)
    reader = threading.Thread(target=lambda: (wire.recv(forger), forger.sendall(_forgeries(witness)[name])))
    reader.start()
    with forger, pytest.raises(EngineError, match="build the lab again"):
        client.call("spawn", ns="a", argv=["true"], env=None)
    reader.join()
    assert not witness.exists()
    assert client.closed
    with pytest.raises(EngineError, match="build the lab again"):
        client.call("poll", pid=1)


@pytest.mark.parametrize("reply", [
    {"seq": 1, "ok": True, "value": "not a pid"},
    {"seq": 1, "ok": True, "value": 3, "extra": 1},
    {"seq": 1, "ok": False, "error": "KeyError"},
    [1, True, 3],
    {"seq": 1, "ok": True, "value": True},
])
def test_the_client_accepts_only_replies_of_the_expected_shape(reply):
    ours, forger = socket.socketpair()
    client = EngineClient.__new__(EngineClient)
    client._attach(ours, None)
    reader = threading.Thread(target=lambda: (wire.recv(forger), wire.send(forger, reply)))
    reader.start()
    with forger, pytest.raises(EngineError, match="expected shape"):
        client.call("spawn", ns="a", argv=["true"], env=None)
    reader.join()


def test_the_engine_serves_only_its_requests(one_node):
    client = one_node._client
    for name in ("_step_netns", "enter", "create_namespace", "serve", "__init__"):
        with pytest.raises(ValueError, match="no such engine request"):
            client.call(name)
    with client.lock:  # past the client's own check: the engine refuses it too
        client.seq += 1
        wire.send(client.sock, {"seq": client.seq, "request": "create_namespace", "args": {"name": "x"}})
        reply, _ = wire.recv(client.sock)
    assert reply["ok"] is False and "no such request" in reply["message"]
    with client.lock:
        client.seq += 1
        wire.send(client.sock, {"seq": client.seq, "request": "exec", "args": {"ns": "c1", "argv": ["true"], "x": 1}})
        reply, _ = wire.recv(client.sock)
    assert reply["ok"] is False and "unexpected keyword argument 'x'" in reply["message"]
    assert one_node.exec("c1", "true").ok


def test_the_engine_ends_on_a_forged_request_and_the_client_says_so(one_node):
    client = one_node._client
    client.sock.sendall(pickle.dumps(Boom("/tmp/nethelpers-never")))
    with pytest.raises(EngineError, match="build the lab again"):
        one_node.exec("c1", "true")
    assert not os.path.exists("/tmp/nethelpers-never")


def test_wrong_version_at_hello_is_refused(one_node):
    with pytest.raises(EngineError, match="format version 99"):
        one_node._client.call("hello", version=99)
    assert one_node.exec("c1", "true").ok


def test_infinite_or_negative_timeouts_are_refused_before_anything_runs(one_node):
    for timeout in (float("inf"), float("nan"), 0, -1, "10", True):
        with pytest.raises(ValueError, match="finite number of seconds"):
            one_node.exec("c1", "sleep 100", timeout=timeout)
    assert "sleep" not in one_node.exec("c1", "ps -e -o comm").stdout


def test_mangled_frames_are_plain_data_or_a_frame_error():
    """Seeded search over damaged frames (flipped bytes, cuts, splices): each one either decodes
    to plain data or raises FrameError/EOFError; nothing else, and nothing runs."""
    import random

    rng = random.Random(20261203)
    good = [_frame(wire.encode(m)) for m in ({"seq": 1, "ok": True, "value": {"stdout": b"x" * 40}},
                                             {"seq": 2, "request": "exec", "args": {"argv": ["ip", "link"]}})]
    evil = pickle.dumps(Boom("/nonexistent/nethelpers-never"))
    for _ in range(3000):
        data = bytearray(rng.choice(good))
        for _ in range(rng.randint(1, 4)):
            if not data:
                break
            at = rng.randrange(len(data))
            kind = rng.random()
            if kind < 0.5:
                data[at] = rng.randrange(256)
            elif kind < 0.7:
                del data[at:]
            else:
                data[at:at] = evil[: rng.randint(1, len(evil))]
        left, right = socket.socketpair()
        with left, right:
            left.sendall(bytes(data[:100000]))
            left.shutdown(socket.SHUT_WR)
            try:
                message, fds = wire.recv(right)
            except (wire.FrameError, EOFError):
                continue
            assert fds == [] and _plain(message), message


def _plain(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, bytes))
