"""R6: a hostile lab. From inside a lab, as its root, every way out we know of is tried; none works.

The attempts live in ``hostile_probe.py``, run as a lab command. Each test then checks that the
lab still works where it can, and that nothing reached the client or the host.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from nethelpers.sandbox import ROOT_RUN_IDS, sandbox_mode
from tests.labs import bridge_lab

PROBE = (Path(__file__).parent / "hostile_probe.py").read_text()


@pytest.fixture
def hostile():
    with bridge_lab("hostile") as lab:
        yield lab


def _probe(lab, witness, ns="c1"):
    result = lab.exec(ns, ["python3", "-c", PROBE, str(witness)], timeout=120)
    assert result.ok, result
    found = json.loads(result.stdout)
    assert all(found["controls"].values()), f"the probe's calls fail even on a lab process: {found['controls']}"
    return found["attempts"]


def test_nothing_in_a_lab_reaches_the_engine(hostile, tmp_path):
    witness = tmp_path / "ran"
    results = _probe(hostile, witness)
    escapes = {k: v for k, v in results.items() if not v.startswith("held")}
    assert not escapes, escapes
    assert len(results) > 40, results  # the attempts really ran
    assert not witness.exists()
    assert hostile.exec("c1", "ping -c 1 -W 2 172.17.0.3").ok  # and the lab works on


def test_lab_commands_lack_the_rights_that_reach_the_engine(hostile):
    status = dict(line.split(":\t") for line in hostile.exec("c1", "cat /proc/self/status").stdout.splitlines()
                  if line.startswith("Cap"))
    for kind in ("CapEff", "CapPrm", "CapBnd"):
        assert not int(status[kind], 16) & (1 << 19), f"{kind} has CAP_SYS_PTRACE"
        assert int(status[kind], 16) & (1 << 12), f"{kind} lacks CAP_NET_ADMIN"
    assert "NoNewPrivs:\t1" in hostile.exec("c1", "cat /proc/self/status").stdout
    assert hostile.exec("c1", "ip link add x0 type veth peer name x1").ok  # networking still works


def test_the_engine_survives_signals_from_its_lab(hostile):
    for sig in ("KILL", "TERM", "STOP", "HUP", "CHLD"):
        hostile.exec("c1", f"kill -{sig} 1")
    assert hostile.exec("c2", "ping -c 1 -W 2 172.17.0.2").ok


def test_a_lab_cannot_reach_another_lab(hostile):
    with bridge_lab("other", 1) as other:
        other.exec("c1", "ip link add secret0 type veth peer name secret1", check=True)
        search = hostile.exec("c1", ["python3", "-c", FIND_SECRET], timeout=60)
        assert search.ok, search
        assert "secret0" not in search.stdout and "found" not in search.stdout, search.stdout
        assert other.exec("c1", "ip link show secret0").ok


FIND_SECRET = r"""
import ctypes, glob, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
seen = set()
for path in glob.glob("/proc/[0-9]*/ns/net") + glob.glob("/run/netns/*") + glob.glob("/proc/[0-9]*/task/*/ns/net"):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        continue
    links = subprocess.run(["nsenter", f"--net={path}", "ip", "-br", "link"], capture_output=True, text=True).stdout
    if "secret0" in links:
        print("found via", path)
    os.close(fd)
print("searched")
"""


def test_lab_root_cannot_touch_host_files_beyond_the_users_rights(hostile):
    """Root runs too: the lab's root is an unprivileged id on the host, not root."""
    assert not hostile.exec("c1", "cat /etc/shadow").ok
    assert not hostile.exec("c1", "touch /etc/nethelpers-x").ok
    assert not os.path.exists("/etc/nethelpers-x")
    outside = hostile.exec("c1", "cat /proc/self/uid_map").stdout.split()
    assert outside[:1] == ["0"] and outside[1] != "0", f"lab root is host root: uid_map {outside}"
    if os.geteuid() == 0:
        assert int(outside[1]) in ROOT_RUN_IDS


@pytest.mark.skipif(os.geteuid() != 0, reason="root runs only")
def test_the_unsafe_root_mode_is_only_there_when_asked(monkeypatch):
    monkeypatch.setenv("NETHELPERS_UNSAFE_ROOT", "1")
    assert sandbox_mode() == "unsafe root"
    with bridge_lab("unsafe", 1) as lab:
        assert lab.exec("c1", "cat /proc/self/uid_map").stdout.split()[:2] == ["0", "0"]
    monkeypatch.delenv("NETHELPERS_UNSAFE_ROOT")
    assert sandbox_mode() == "root"


def test_a_labs_shared_memory_is_its_own(hostile):
    """Files a lab leaves in /dev/shm stay in it: not in the host's, not in another lab's."""
    name = f"nethelpers-hostile-{os.getpid()}"
    for shared in ("/dev/shm",):
        assert hostile.exec("c1", ["sh", "-c", f"echo planted > {shared}/{name}"]).ok
        assert not os.path.exists(f"{shared}/{name}")
        assert hostile.exec("c2", ["cat", f"{shared}/{name}"]).stdout == "planted\n"  # one lab, one /tmp
        with bridge_lab("neighbour", 1) as other:
            assert not other.exec("c1", ["test", "-e", f"{shared}/{name}"]).ok


# What a lab command can name and reach of what is not its lab: the engine's process, the
# homes of the host's users, another lab's files and ids. Each attempt runs from inside a lab.

ENGINE_MARKER = "nethelpers.engine"  # in the engine's command line (see nethelpers.sandbox.MARKER)

LIST_PROCESSES = r"""
import json, os, resource
me, found = os.getpid(), {}
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    seen = {}
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            seen["cmdline"] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        continue  # gone
    for name, action in (("fds", lambda: os.listdir(f"/proc/{pid}/fd")),
                         ("prlimit", lambda: resource.prlimit(pid, resource.RLIMIT_NOFILE)),
                         ("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid))),
                         ("kill 0", lambda: os.kill(pid, 0))):
        try:
            seen[name] = repr(action())
        except OSError as e:
            seen[name] = f"refused: {e.strerror}"
    found[pid] = seen
print(json.dumps(found))
"""


def test_no_process_a_lab_can_name_is_the_engine(hostile):
    """The engine is not among the processes a lab sees: no /proc entry of it to list, no pid to
    prlimit, setpriority or signal. What a lab sees is its own: its init, which holds no file
    descriptor, and its commands."""
    spawned = hostile.spawn("c2", ["sleep", "3600"])
    try:
        found = json.loads(hostile.exec("c1", ["python3", "-c", LIST_PROCESSES], check=True).stdout)
    finally:
        spawned.stop()
    engines = {pid: seen for pid, seen in found.items() if ENGINE_MARKER in seen["cmdline"]}
    assert not engines, f"a lab command sees the engine: {engines}"
    others = {pid: seen for pid, seen in found.items() if int(pid) != spawned.pid}
    assert {seen["cmdline"] for seen in others.values()} == {"nethelpers-lab-init"}, others
    assert all(seen["fds"] == "[]" for seen in others.values()), f"a lab sees a file descriptor of its init: {others}"
    assert found[str(spawned.pid)]["kill 0"] == "None"  # the lab's own processes: a lab may signal them


def _home():
    return os.path.realpath(os.path.expanduser("~"))


def test_a_lab_sees_no_home_even_after_unmounting(hostile):
    """Lab root has nobody's home (/root, /home, the user's $HOME wherever it is): not to read,
    not to write (a .pth or .bashrc written there would run in the user's next Python or shell),
    and no unmount, remount or fresh mount brings them back."""
    home = _home()
    planted = f"{home}/nethelpers-hostile-{os.getpid()}.pth"
    attempts = ["umount -l /", "umount /usr", "umount /etc", "umount /tmp", "umount -l /proc", "umount /run",
                "mount -o remount,rw /", "mount -o remount,rw,bind /usr", "mount -o remount,rw,bind /etc",
                "mount -t proc proc /proc", "mount -t tmpfs none /mnt"]
    try:
        for attempt in attempts:
            hostile.exec("c1", attempt)
        look = hostile.exec("c1", ["sh", "-c", f"ls -A /home /root {home}; ls -A /proc/*/root/{home.lstrip('/')}; "
                                   f"echo 'import os' > {planted}"])
        assert not os.path.exists(planted), "a lab wrote into the user's home"
        listed = [line for line in look.stdout.splitlines() if line and not line.endswith(":")]
        assert not listed, f"a lab sees into a home: {look.stdout}"
        assert not hostile.exec("c1", ["touch", "/usr/nethelpers-hostile"]).ok  # the system's folders: read-only
        assert not hostile.exec("c1", ["touch", "/etc/nethelpers-hostile"]).ok
    finally:
        if os.path.exists(planted):
            os.unlink(planted)
    assert hostile.exec("c1", "ping -c 1 -W 2 172.17.0.3").ok  # and the lab works on


def test_a_lab_cannot_reach_another_labs_files_processes_or_ipc(hostile):
    """Labs of one user (and root runs' labs) share nothing: not /tmp, not System V IPC, not a
    process table; a root run gives each lab a host uid of its own."""
    name = f"/tmp/nethelpers-hostile-{os.getpid()}"
    shm = None
    try:
        assert hostile.exec("c1", ["sh", "-c", f"umask 077; echo secret > {name}"]).ok
        shm = hostile.exec("c1", ["ipcmk", "-M", "4096"]).stdout.split()[-1]
        sleeper = hostile.spawn("c1", ["sleep", "3601"])
        with bridge_lab("neighbour", 1) as other:
            assert other.exec("c1", ["cat", name]).stdout == "", "a lab reads another lab's /tmp"
            assert shm not in other.exec("c1", ["ipcs", "-m"]).stdout, "a lab sees another lab's shared memory"
            assert "3601" not in other.exec("c1", ["ps", "-eo", "args"]).stdout, "a lab sees another lab's processes"
            ids = [lab.exec("c1", "cat /proc/self/uid_map").stdout.split()[1] for lab in (hostile, other)]
            if os.geteuid() == 0:
                assert ids[0] != ids[1], f"two root-run labs share the host uid {ids[0]}"
        sleeper.stop()
    finally:
        if os.path.exists(name):
            os.unlink(name)
        if shm and shm.isdigit():
            subprocess.run(["ipcrm", "-m", shm], capture_output=True)
    assert not os.path.exists(name)
