"""Framing between a client and its engine: pickled messages, length-prefixed, with fds.

Both ends are this package's own processes, started by the same user, over a socketpair that
nobody else holds, so pickle is safe here. File descriptors (capture sockets) travel as
SCM_RIGHTS ancillary data with a frame's header.
"""

import array
import pickle
import socket
import struct

HEADER = struct.Struct("!Q")
MAX_FDS = 64


class WithFds:
    """A reply value together with file descriptors to pass to the client."""

    def __init__(self, value, fds):
        self.value, self.fds = value, list(fds)


def send(sock, message, fds=()):
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    header = HEADER.pack(len(payload))
    if fds:
        sock.sendmsg([header], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        sock.sendall(payload)
    else:
        sock.sendall(header + payload)


def recv(sock):
    """Receive one message; returns ``(message, fds)``. Raises EOFError when the peer is gone."""
    fds = array.array("i")
    header, ancdata, _, _ = sock.recvmsg(HEADER.size, socket.CMSG_SPACE(MAX_FDS * fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not header:
        raise EOFError("the other end closed the connection")
    header += _exactly(sock, HEADER.size - len(header))
    (length,) = HEADER.unpack(header)
    return pickle.loads(_exactly(sock, length)), list(fds)


def _exactly(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the connection mid-message")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
