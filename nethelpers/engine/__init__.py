"""The lab engine: the other side of the trust boundary.

Everything in this folder runs inside a lab's sandbox, next to code the lab runs, and imports
only the standard library: it is started from a copy of itself (a zip in memory, see
:mod:`nethelpers.sandbox`), never from the rest of the package. It owns a lab's namespaces
(:mod:`.server`), writes and reads them with rtnetlink (:mod:`.netlink`), opens packet
sockets in them (:mod:`.packet`), runs lab commands with fewer rights than itself
(:mod:`.labproc`), and speaks plain data to its client (:mod:`.wire`).
"""

from .kernel import MS_BIND, NETNS_DIR, mount, setns, umount, unshare_net
from .packet import packet_socket

__all__ = ["MS_BIND", "NETNS_DIR", "mount", "packet_socket", "setns", "umount", "unshare_net"]
