"""Run a command with some system calls refused (EPERM), as Docker's default seccomp profile refuses
``pivot_root`` whatever the container's capabilities: ``python -m tests.refuse pivot_root[,chroot]
-- ARGV...``. A seccomp filter (classic BPF over ``struct seccomp_data``) holds for the command and
everything it starts, engines and labs included, so a host run meets what a container meets.
"""

import ctypes
import errno
import os
import sys

# The calls by number, for the machine's own ABI (audit arch): what the tests refuse.
NUMBERS = {
    "x86_64": (0xC000003E, {"pivot_root": 155, "chroot": 161}),
    "aarch64": (0xC00000B7, {"pivot_root": 41, "chroot": 51}),
}
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


class Instruction(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Instruction))]


def supported():
    return os.uname().machine in NUMBERS


def program(names):
    """Instructions refusing the calls ``names`` of this machine's ABI; other ABIs pass untouched."""
    arch, numbers = NUMBERS[os.uname().machine]
    calls = [numbers[name] for name in names]
    deny = (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)
    code = [(BPF_LD_W_ABS, 0, 0, 4), (BPF_JEQ_K, 0, len(calls) + 1, arch), (BPF_LD_W_ABS, 0, 0, 0)]
    code += [(BPF_JEQ_K, len(calls) - i, 0, number) for i, number in enumerate(calls)]  # to deny
    return code + [(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW), deny]


def refuse(names):
    """Install the filter on this process (with ``no_new_privs``, as an unprivileged process must)."""
    libc = ctypes.CDLL(None, use_errno=True)
    code = program(names)
    instructions = (Instruction * len(code))(*(Instruction(*i) for i in code))
    prog = Program(len(code), instructions)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                                                                  ctypes.byref(prog), 0, 0):
        raise OSError(ctypes.get_errno(), "seccomp filter")


if __name__ == "__main__":
    refuse(sys.argv[1].split(","))
    os.execvp(sys.argv[3], sys.argv[3:])
