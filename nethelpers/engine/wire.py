"""Framing between a client and its engine: plain data, length-prefixed, with fds.

Nothing read from the other end ever becomes code. A message is JSON: None, booleans,
numbers (no NaN or infinity), strings, lists and string-keyed dicts; bytes travel in the
tagged form ``{"$bytes": "<base64>"}``. A frame is a header (``b"NH"``, the format version,
the payload's length, the number of file descriptors that come with it), then the file
descriptors (capture sockets) as SCM_RIGHTS ancillary data, at most 253 per message (the
kernel's SCM_MAX_FD), each further batch on a one-byte message of its own, then the payload.

A frame that is not this format (another version, garbage, a pickle, a length over
:data:`MAX_FRAME`) raises :class:`FrameError` before its payload is read or decoded.
"""

import array
import base64
import json
import os
import socket
import struct

MAGIC = b"NH"
VERSION = 1
HEADER = struct.Struct("!2sHII")  # magic, version, payload length, fd count
MAX_FRAME = 64 << 20  # a 16 MB output in base64, with room to spare
SCM_MAX_FD = 253
MAX_FDS = 8192
FD_BATCH = b"+"
START_FAILED = "nethelpers engine could not start: "  # the one line an engine that failed to start writes to stderr


class FrameError(Exception):
    """Bytes on the socket that are not a frame of this format: the connection is unusable."""


class WithFds:
    """A reply value together with file descriptors to pass to the client."""

    def __init__(self, value, fds):
        self.value, self.fds = value, list(fds)


def _tag(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"a {type(value).__name__} cannot cross to the engine: only plain data does")


def _untag(obj):
    if len(obj) == 1 and "$bytes" in obj and isinstance(obj["$bytes"], str):
        return base64.b64decode(obj["$bytes"], validate=True)
    return obj


def _no_constant(name):
    raise ValueError(f"{name} is not plain data")


def _finite(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def encode(message):
    """``message`` as a frame's payload (bytes); TypeError/ValueError for what is not plain data."""
    return json.dumps(message, default=_tag, allow_nan=False, separators=(",", ":")).encode()


def decode(payload):
    """The message in a frame's payload; FrameError if it is not plain JSON."""
    try:
        return json.loads(payload.decode("utf-8"), object_hook=_untag, parse_constant=_no_constant,
                          parse_float=_finite)
    except (ValueError, RecursionError) as e:
        raise FrameError(f"a frame's payload is not a message of this format ({e})") from None


def send(sock, message, fds=()):
    payload = encode(message)
    if len(payload) > MAX_FRAME:
        raise FrameError(f"a message of {len(payload)} bytes is over the {MAX_FRAME}-byte frame limit")
    fds = list(fds)
    if len(fds) > MAX_FDS:
        raise FrameError(f"{len(fds)} file descriptors are over the limit of {MAX_FDS} per message")
    header = HEADER.pack(MAGIC, VERSION, len(payload), len(fds))
    batches = [fds[i:i + SCM_MAX_FD] for i in range(0, len(fds), SCM_MAX_FD)]
    if not batches:
        sock.sendall(header + payload)
        return
    for data, batch in zip([header] + [FD_BATCH] * (len(batches) - 1), batches):
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", batch))]
        sent = sock.sendmsg([data], rights)
        if sent < len(data):
            sock.sendall(data[sent:])
    sock.sendall(payload)


def recv(sock):
    """Receive one message; returns ``(message, fds)``. Raises EOFError when the peer is gone,
    FrameError for bytes that are not a frame (any fds they carried are closed)."""
    fds = []
    try:
        header = _recv_with_fds(sock, HEADER.size, fds)
        if not header:
            raise EOFError("the other end closed the connection")
        header += _exactly(sock, HEADER.size - len(header))
        length, count = _check_header(header)
        while len(fds) < count:
            if _recv_with_fds(sock, 1, fds) != FD_BATCH:
                raise FrameError(f"a frame announced {count} file descriptors and sent {len(fds)}")
        if len(fds) != count:
            raise FrameError(f"a frame announced {count} file descriptors and sent {len(fds)}")
        return decode(_exactly(sock, length)), fds
    except BaseException:
        close_fds(fds)
        raise


def _check_header(header):
    magic, version, length, count = HEADER.unpack(header)
    if magic != MAGIC:
        raise FrameError(f"a frame starts with {header[:8]!r}, not {MAGIC!r}: not a message of this format")
    if version != VERSION:
        raise FrameError(f"a frame of format version {version}; this end speaks version {VERSION}")
    if length > MAX_FRAME:
        raise FrameError(f"a frame announces {length} bytes, over the {MAX_FRAME}-byte limit")
    if count > MAX_FDS:
        raise FrameError(f"a frame announces {count} file descriptors, over the limit of {MAX_FDS}")
    return length, count


def _recv_with_fds(sock, size, fds):
    data, ancdata, flags, _ = sock.recvmsg(size, socket.CMSG_SPACE(SCM_MAX_FD * 4))
    for level, kind, cdata in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            batch = array.array("i")
            batch.frombytes(cdata[: len(cdata) - (len(cdata) % batch.itemsize)])
            fds.extend(batch)
    if flags & socket.MSG_CTRUNC:
        raise FrameError("file descriptors were cut off in transit (MSG_CTRUNC)")
    return data


def close_fds(fds):
    """Close file descriptors received with a frame that nobody will use."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _exactly(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the connection mid-message")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
