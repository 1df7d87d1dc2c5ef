"""Frames: how captured ones are described, and hand-made ones to send from a lab.

Descriptions are short and stable (no timestamps), in the words of tcpdump::

    ARP who-has 172.17.0.3 tell 172.17.0.2
    ICMP echo-request 172.17.0.2 > 172.17.0.3 id 7 seq 1 ttl 64
    VXLAN vni 42 10.168.0.2 > 10.168.0.3 [ICMP echo-request 172.17.0.2 > 172.17.0.3 ...]

The builders return scapy frames, for :meth:`nethelpers.Lab.send`.
"""

import functools

VXLAN_PORTS = (4789, 8472)  # IANA's, and the Linux kernel's default


@functools.lru_cache(maxsize=None)
def bind_layers():
    """Decode UDP 8472 (the kernel's default VXLAN port) as VXLAN, as well as 4789."""
    from scapy.layers.inet import UDP
    from scapy.layers.vxlan import VXLAN
    from scapy.packet import bind_layers as bind

    bind(UDP, VXLAN, dport=8472)
    return True


def inner(frame):
    """The innermost Ethernet frame: the one a VXLAN packet carries, or the frame itself."""
    from scapy.layers.vxlan import VXLAN

    while frame.haslayer(VXLAN) and frame[VXLAN].payload:
        frame = frame[VXLAN].payload
    return frame


def describe(frame):
    """A one-line description of a frame, as tcpdump would put it."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP
    from scapy.layers.vxlan import VXLAN

    bind_layers()
    if frame.haslayer(VXLAN):
        outer = frame[IP]
        return f"VXLAN vni {frame[VXLAN].vni} {outer.src} > {outer.dst} [{describe(frame[VXLAN].payload)}]"
    if frame.haslayer(ARP):
        arp = frame[ARP]
        if arp.op == 1:
            return f"ARP who-has {arp.pdst} tell {arp.psrc}"
        if arp.op == 2:
            return f"ARP reply {arp.psrc} is-at {arp.hwsrc}"
        return f"ARP op {arp.op} {arp.psrc} > {arp.pdst}"
    if frame.haslayer(IP):
        ip = frame[IP]
        if frame.haslayer(ICMP):
            icmp = frame[ICMP]
            kind = {0: "echo-reply", 8: "echo-request", 3: "unreachable", 11: "time-exceeded"}.get(icmp.type, f"type {icmp.type}")
            extra = f" id {icmp.id} seq {icmp.seq}" if icmp.type in (0, 8) else f" code {icmp.code}"
            return f"ICMP {kind} {ip.src} > {ip.dst}{extra} ttl {ip.ttl}"
        for proto in (TCP, UDP):
            if frame.haslayer(proto):
                seg = frame[proto]
                flags = f" [{seg.flags}]" if proto is TCP else ""
                return f"{proto.__name__} {ip.src}:{seg.sport} > {ip.dst}:{seg.dport}{flags} ttl {ip.ttl}"
        return f"IP proto {ip.proto} {ip.src} > {ip.dst} ttl {ip.ttl}"
    return frame.summary()


# Hand-made frames.


def arp_request(src_mac, src_ip, target_ip):
    """A broadcast ARP request: who has ``target_ip``? tell ``src_ip`` (at ``src_mac``)."""
    from scapy.layers.l2 import ARP, Ether

    return Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=src_mac, psrc=src_ip, pdst=target_ip)


def arp_reply(src_mac, src_ip, dst_mac, dst_ip):
    """A unicast ARP reply: ``src_ip`` is at ``src_mac`` (true or forged), sent to ``dst_mac``."""
    from scapy.layers.l2 import ARP, Ether

    return Ether(src=src_mac, dst=dst_mac) / ARP(op=2, hwsrc=src_mac, psrc=src_ip, hwdst=dst_mac, pdst=dst_ip)


def icmp_echo(src_mac, dst_mac, src_ip, dst_ip, id=0x4242, seq=1, ttl=64, payload=b"nethelpers"):
    """An ICMP echo request."""
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import Ether

    return Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip, ttl=ttl) / ICMP(id=id, seq=seq) / payload


def udp_datagram(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload=b"nethelpers", ttl=64):
    """A UDP datagram."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    return Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip, ttl=ttl) / UDP(sport=sport, dport=dport) / payload
