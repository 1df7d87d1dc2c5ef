"""Packet sockets for captures and hand-made frames, opened inside a lab namespace."""

import ctypes
import socket
import struct

ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 263, 1, 1
SO_ATTACH_FILTER = 26


def packet_socket(ifname, bpf=None, promisc=False, rcvbuf=None):
    """An AF_PACKET socket on ``ifname`` of the current namespace, filtered before it is bound.

    It is made with protocol 0 (it receives nothing), gets its BPF filter, then is bound to
    the interface for every protocol: no packet slips in unfiltered or from another
    interface. Promiscuous mode is a membership of this socket: it ends when the socket
    closes, whoever holds it.
    """
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if bpf:
            program = ctypes.create_string_buffer(bpf)
            fprog = struct.pack("HL", len(bpf) // 8, ctypes.addressof(program))
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        sock.bind((ifname, ETH_P_ALL))
        if promisc:
            index = socket.if_nametoindex(ifname)
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b""))
    except BaseException:
        sock.close()
        raise
    return sock
