"""System calls the engine needs and Python does not offer: namespaces and mounts."""

import ctypes
import os

CLONE_NEWNET = 0x40000000
MS_BIND, MNT_DETACH = 4096, 2
NETNS_DIR = "/run/netns"
LOG_DIR = "/run/nethelpers"

libc = ctypes.CDLL(None, use_errno=True)


def check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare_net():
    check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")


def setns(fd):
    check(libc.setns(fd, CLONE_NEWNET), "setns")


def mount(source, target, fstype, flags, data=None):
    check(
        libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                    data.encode() if data else None),
        f"mount {target}",
    )


def umount(target):
    check(libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


MS_RDONLY, MS_REC, MS_SLAVE, CLONE_NEWNS, CLONE_NEWUTS = 1, 16384, 1 << 19, 0x00020000, 0x04000000
