"""`python -m nethelpers doctor`: what this machine lets a lab do, and what to do about gaps."""

import os
import platform
import shutil

from .errors import PrivilegeError
from .sandbox import ROOT_RUN_IDS, sandbox_mode, userns_available
from .state import Table

TOOLS = {
    "ip": ("iproute2", True), "bridge": ("iproute2", True), "unshare": ("util-linux", True),
    "nft": ("nftables", True), "iptables-nft-restore": ("iptables", True), "ping": ("iputils-ping", True), "sysctl": ("procps", True),
    "conntrack": ("conntrack", False), "tcpdump": ("tcpdump", False), "tshark": ("tshark", False),
    "brctl": ("bridge-utils", False), "ifconfig": ("net-tools", False),
}

# Each probe runs in a bare namespace of a throw-away lab: (feature, command, what to do).
PROBES = [
    ("network namespaces", "ip link set lo up", "enable CONFIG_NET_NS in the kernel"),
    ("veth", "ip link add dv0 type veth peer name dv1", "load the veth module: modprobe veth"),
    ("bridge", "ip link add db0 type bridge", "load the bridge module: modprobe bridge"),
    ("vxlan", "ip link add dx0 type vxlan id 42 dstport 4789", "load the vxlan module: modprobe vxlan"),
    ("nftables", "nft add table ip doctor", "load nf_tables (modprobe nf_tables) and install nftables"),
    ("nat", "nft 'add chain ip doctor post { type nat hook postrouting priority srcnat ; }'",
     "load nft_nat / nft_masq (modprobe nft_masq)"),
    ("iptables (Docker's rules)", "iptables-nft -t nat -N DOCKER",
     "install iptables (the nft backend) and load nft_compat (modprobe nft_compat)"),
    ("conntrack", "conntrack -L", "load nf_conntrack (modprobe nf_conntrack) and install conntrack"),
]


def _sysctl(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def checks():
    """Run every check; returns a Table with check, result and what to do."""
    rows = []

    def row(check, ok, detail, todo=""):
        rows.append({"check": check, "result": ("ok" if ok else "MISSING") if ok is not None else "note",
                     "detail": detail, "what to do": "" if ok else todo})

    row("system", platform.system() == "Linux", f"{platform.system()} {platform.release()}",
        "labs need a Linux kernel")
    root = os.geteuid() == 0
    row("privileges", None, "root" if root else f"ordinary user (uid {os.geteuid()})")
    userns = userns_available()
    hints = []
    if _sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        hints.append("sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 24.04+)")
    if _sysctl("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        hints.append("sudo sysctl kernel.unprivileged_userns_clone=1")
    if _sysctl("/proc/sys/user/max_user_namespaces") == "0":
        hints.append("sudo sysctl user.max_user_namespaces=15000")
    hints.append("in Docker: run with --security-opt seccomp=unconfined, or as root with --cap-add SYS_ADMIN --cap-add NET_ADMIN")
    row("user namespaces", userns,
        "available: labs run rootless, and cannot touch the host's network" if userns else "not available",
        "; or ".join(hints) if not root else "optional as root (labs then run without a user namespace)")
    if not userns and root:
        rows[-1]["result"] = "note"
    mode = "rootless sandbox" if userns else ("root sandbox (no user namespace)" if root else "none")
    row("lab sandbox", userns or root, mode, "you need root or user namespaces; see above")
    if userns or root:
        rows.append(_lab_root_row())
    for tool, (package, needed) in TOOLS.items():
        path = shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        row(f"tool {tool}", bool(path) if needed else (True if path else None),
            path or f"not found ({'needed' if needed else 'optional'})", f"apt-get install {package}")
        if not path and not needed:
            rows[-1]["result"] = "optional"
            rows[-1]["what to do"] = f"apt-get install {package}"
    if userns or root:
        rows += _kernel_rows()
    return Table("nethelpers doctor", ["check", "result", "detail", "what to do"], rows)


UNSAFE_TODO = "unset NETHELPERS_UNSAFE_ROOT and NETHELPERS_USERNS (and enable user namespaces, see above)"


def _lab_root_row():
    """Who a lab's root is on the host: the one row that says whether lab code is contained."""
    try:
        mode = sandbox_mode()
    except PrivilegeError as e:
        return {"check": "lab root on the host", "result": "MISSING", "detail": str(e), "what to do": "see above"}
    detail = {
        "rootless": f"uid {os.geteuid()} (you): lab code has your rights, no more",
        "root": (f"a uid of its own for each lab ({ROOT_RUN_IDS.start} + the pid of its sandbox), an id no account "
                 "has: lab code cannot read /etc/shadow or write /etc"),
        "unsafe root": "UNSAFE (NETHELPERS_UNSAFE_ROOT=1): the host's root; lab code can change host files",
        "root without user namespace": "UNSAFE (no user namespace): the host's root; isolation by discipline only",
    }[mode]
    unsafe = mode in ("unsafe root", "root without user namespace")
    return {"check": "lab root on the host", "result": "UNSAFE" if unsafe else "ok", "detail": detail,
            "what to do": UNSAFE_TODO if unsafe else ""}


def _lab_files_row(root_by):
    """What files lab code sees: its own root, and how the host's tree is kept from it (the
    engine's ``hello`` says which way its lab's init took: see nethelpers/engine/labspace.py)."""
    if root_by == "pivot_root":
        return {"check": "lab's files", "result": "ok", "what to do": "",
                "detail": "a root of its own; the host's tree is detached from it (pivot_root): no home, "
                          "read-only system folders"}
    return {"check": "lab's files", "result": "covered", "what to do": "",
            "detail": "a root of its own; pivot_root is refused here (Docker's default seccomp profile), so the "
                      "host's tree stays under it, covered by a locked mount lab root cannot unmount: no home, "
                      "read-only system folders"}


def _kernel_rows():
    from .lab import Lab
    from .topology import Topology

    topo = Topology("doctor", underlay=None)
    topo.add_namespace("probe")
    rows = []
    try:
        with Lab(topo) as lab:
            rows.append(_lab_files_row(lab._client.info["root_by"]))
            for feature, command, todo in PROBES:
                tool = command.split()[0]
                if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
                    rows.append({"check": f"kernel: {feature}", "result": "skipped", "detail": f"needs `{tool}`",
                                 "what to do": ""})
                    continue
                result = lab.exec("probe", command)
                detail = "works" if result.ok else (result.stderr.strip().splitlines() or ["failed"])[-1]
                rows.append({"check": f"kernel: {feature}", "result": "ok" if result.ok else "MISSING",
                             "detail": detail, "what to do": "" if result.ok else todo})
            # optional: br_netfilter makes bridged IPv4 frames pass the IPv4 netfilter hooks (notebooks 04b, 08b, 11)
            brnf = lab.exec("probe", "test -e /proc/sys/net/bridge/bridge-nf-call-iptables").ok
            rows.append({"check": "kernel: br_netfilter", "result": "ok" if brnf else "optional",
                         "detail": "loaded: bridged IPv4 frames pass the iptables/nft ip hooks "
                                   "(bridge-nf-call-iptables, 1 in each new network namespace)" if brnf
                         else "not loaded: bridged frames skip the IPv4 hooks (notebooks 04b, 08b, 11 show both)",
                         "what to do": "" if brnf else "sudo modprobe br_netfilter (a rootless lab cannot load it)"})
    except Exception as e:  # the doctor reports, it does not crash
        rows.append({"check": "kernel features", "result": "MISSING", "detail": str(e),
                     "what to do": "see the rows above"})
    return rows


def main():
    table = checks()
    print(table)
    missing = [r for r in table.rows if r["result"] == "MISSING"]
    print()
    print("All set: labs can be built here." if not missing else f"{len(missing)} problem(s): see 'what to do'.")
    return 1 if missing else 0


# Ubuntu 24.04+: AppArmor's user-namespace restriction has a narrow fix, a profile that lets only
# `unshare` make them (apparmor/nethelpers-unshare), offered in place of turning the restriction off.
APPARMOR_SYSCTL_HINT = "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 24.04+)"
APPARMOR_PROFILE_HINT = (
    "let only `unshare` make user namespaces (Ubuntu 24.04+): sudo install -m 644 apparmor/nethelpers-unshare "
    "/etc/apparmor.d/ && sudo apparmor_parser -r /etc/apparmor.d/nethelpers-unshare (from the course's folder)")
_all_checks = checks


def checks():
    """Run every check; returns a Table with check, result and what to do."""
    table = _all_checks()
    for row in table.rows:
        row["what to do"] = row["what to do"].replace(APPARMOR_SYSCTL_HINT, APPARMOR_PROFILE_HINT)
    return table
