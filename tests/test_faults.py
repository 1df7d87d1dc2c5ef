"""Faults, one test each: deadlines, a stopped or killed engine, Ctrl-C, zombies, big captures."""

import os
import signal

import pytest

from nethelpers import EngineError, Lab, Topology
from nethelpers.engine import wire
from nethelpers.errors import CaptureError
from tests.labs import bridge_lab


@pytest.fixture
def lab():
    with bridge_lab("faults") as lab:
        lab._client.wait = 10  # the client gives up 10 s past a request's own timeout
        yield lab


def _lab_processes(lab, ns="c1"):
    rows = lab.exec(ns, "ps -e -o stat=,comm=").stdout.split("\n")
    return [row.split() for row in rows if row.strip() and not row.split()[1] == "ps"]


@pytest.mark.parametrize("command", ["exec >&- 2>&-; sleep 30", "exec >&- 2>&-; sleep infinity",
                                     "sleep infinity & sleep infinity"])
def test_exec_returns_by_its_deadline_and_kills_the_group(lab, command):
    """The client's deadline (timeout + 10 s) would raise EngineError if the engine overran."""
    with pytest.raises(TimeoutError, match="did not finish in 1 s"):
        lab.exec("c1", ["sh", "-c", command], timeout=1)
    assert [p for p in _lab_processes(lab) if p[1] in ("sh", "sleep") and p[0][0] != "Z"] == []
    assert lab.exec("c1", "true").ok


def test_orphans_are_reaped(lab):
    for _ in range(5):
        lab.exec("c1", ["sh", "-c", "sleep 0.1 &"])  # sh exits; sleep is the orphan of the lab's init
    zombies = None
    for _ in range(50):  # the kernel reaps them for the lab's init (it ignores SIGCHLD); a few turns at most
        zombies = [p for p in _lab_processes(lab) if p[0].startswith("Z")]
        if not zombies:
            break
    assert not zombies, f"zombies left in the lab after 50 requests: {zombies}"


def _host_engine_pid(lab):
    return lab._client._engine_pid()


def test_a_stopped_engine_gives_a_clear_error_at_the_deadline(lab):
    lab._client.wait = 1
    os.kill(_host_engine_pid(lab), signal.SIGSTOP)
    with pytest.raises(EngineError, match=r"is stopped \(SIGSTOP\?\).*build the lab again"):
        lab.exec("c1", "true", timeout=1)
    assert lab.closed or lab._client.broken
    with pytest.raises(EngineError, match="build the lab again"):
        lab.exec("c1", "true")
    lab.build()
    assert lab.exec("c1", "true").ok


def test_a_killed_engine_gives_a_clear_error_and_leaves_nothing(lab):
    engine = _host_engine_pid(lab)
    pidns = os.readlink(f"/proc/{engine}/ns/pid")
    server = lab.spawn("c1", "sleep infinity")
    os.kill(engine, signal.SIGKILL)
    with pytest.raises(EngineError, match=r"ended unexpectedly during `exec`.*build the lab again") as info:
        lab.exec("c1", "true")
    assert "sigprocmask" not in str(info.value)
    left = None
    for _ in range(1000):  # bounded: the kernel ends a PID namespace's processes when its init dies
        left = [pid for pid in os.listdir("/proc") if pid.isdigit() and _pidns(pid) == pidns]
        if not left:
            break
        os.sched_yield()
    assert not left, f"processes left in the killed lab's PID namespace: {left} (the spawned one was {server.pid})"


def _pidns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def test_ctrl_c_in_the_middle_of_a_frame_gives_the_connection_up(lab, monkeypatch):
    real = wire._exactly

    def interrupted(sock, n):
        real(sock, min(n, 3))  # part of the frame is read, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(wire, "_exactly", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lab.exec("c1", "echo hello")
    monkeypatch.setattr(wire, "_exactly", real)
    with pytest.raises(EngineError, match="interrupted in the middle of a message.*build the lab again"):
        lab.exec("c1", "true")
    lab.build()
    assert lab.exec("c1", "echo again").stdout == "again\n"


def test_ctrl_c_between_frames_keeps_the_channel(lab, monkeypatch):
    client = lab._client
    real = client._wait_readable
    calls = []

    def interrupted(deadline, method):
        if not calls:
            calls.append(method)
            raise KeyboardInterrupt
        return real(deadline, method)

    monkeypatch.setattr(client, "_wait_readable", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lab.exec("c1", "sleep 30", timeout=60)
    assert lab.exec("c1", "echo next").stdout == "next\n"  # the stale reply is skipped, not misread


def test_capture_at_hundreds_of_points(tmp_path):
    """More points than one SCM_RIGHTS message carries (253): every point really captures."""
    with bridge_lab("wide", 300) as lab:
        points = [f"c{i}:eth0" for i in range(1, 301)] + ["node1:docker0"]
        cap = lab.capture(points, filter="arp", promisc=False)
        lab.exec("c1", "ping -c 1 -W 1 172.17.0.250")  # its ARP request is flooded to every port
        packets = cap.stop()
        silent = [point for point, count in packets.count_at().items() if count == 0]
        assert not silent, f"{len(silent)} points saw nothing: {silent[:5]}"


def test_a_capture_nobody_stops_keeps_a_bounded_number_of_packets(lab):
    cap = lab.capture(["c1:eth0"], filter="icmp", limit=10)
    lab.exec("c1", "ping -c 30 -i 0.002 -W 1 172.17.0.3")
    packets = cap.stop()
    assert len(packets) == 10
    assert packets.overflow["c1:eth0"] == 50  # 30 requests and 30 replies, 10 kept
    assert packets.drops["c1:eth0"] >= 50
    assert "dropped" in repr(packets)


def test_sniff_lets_the_callers_exception_through(lab):
    def fails():
        raise ZeroDivisionError("in while_running")

    with pytest.raises(ZeroDivisionError, match="in while_running"):
        lab.sniff(["c1:eth0"], while_running=fails)


def test_a_failing_reader_reaches_the_caller(lab):
    def broken(packet):
        raise ValueError("prn failed")

    cap = lab.capture(["c1:eth0"], filter="icmp", prn=broken)
    lab.exec("c1", "ping -c 1 -W 1 172.17.0.3")
    with pytest.raises(CaptureError, match="prn failed") as info:
        cap.stop()
    assert isinstance(info.value.__cause__, ValueError)


def test_too_many_points_for_the_fd_limit_is_a_clear_error_before_anything_starts(lab, monkeypatch):
    import resource

    from nethelpers import capture

    monkeypatch.setattr(capture, "SPARE_FDS", resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    with pytest.raises(CaptureError, match=r"capture at 2 points needs \d+ file descriptors"):
        lab.capture(["c1:eth0", "c2:eth0"])
    assert lab.exec("c1", "true").ok


@pytest.mark.slow
def test_a_thousand_containers_with_a_logins_fd_limit():
    """Two fds a namespace: past 507 containers an engine with a 1024 soft limit failed (EMFILE)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))  # a login's default
    try:
        with bridge_lab("thousand", 1000) as lab:
            assert lab.exec("c1000", "ping -c 1 -W 2 172.17.0.2").ok
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


SUBREAPER = """
import ctypes, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER, as systemd --user is
client = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
engine, worker = client.stdout.readline().split()
client.kill()  # the client dies; its forked worker keeps a copy of the engine's socket
client.wait()
print(engine, worker, flush=True)
sys.stdin.readline()
"""

FORKING_CLIENT = """
import os, sys
from nethelpers import Lab, Topology
topo = Topology("forked", underlay=None)
topo.add_namespace("a")
lab = Lab(topo)
worker = os.fork()
if worker == 0:
    sys.stdin.readline()  # a worker that lives on, holding the client's fds
    os._exit(0)
print(lab._client.process.pid, worker, flush=True)
sys.stdin.readline()
"""


def test_clean_finds_an_engine_orphaned_under_a_subreaper():
    import subprocess
    import sys

    from nethelpers.clean import clean, engines

    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    reaper = subprocess.Popen([sys.executable, "-c", SUBREAPER, FORKING_CLIENT], env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        engine, worker = map(int, reaper.stdout.readline().split())
        assert dict(engines()).get(engine) == reaper.pid  # adopted by the subreaper, not by init
        assert engine in clean()
    finally:
        reaper.kill()
        reaper.wait()
        for pid in (locals().get("worker"),):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.mark.parametrize("command", [
    ["ip", "link", "add", "x", "type", "dummy"], ["ip", "-b", "file", "link", "show"], ["nft", "-f", "x", "list"],
    ["nft", "flush", "ruleset"], ["sysctl", "-n", "net.ipv4.ip_forward=1"], ["sh", "-c", "ip link show"],
    ["ip", "-n", "other", "link", "show"], ["bridge", "fdb", "add", "show"],
])
def test_the_xray_refuses_every_command_that_could_write(command):
    from nethelpers.xray import check_read_only

    with pytest.raises(ValueError, match="the x-ray only reads"):
        check_read_only(command)


def test_the_xray_reads():
    from nethelpers.xray import check_read_only

    for command in (["ip", "-j", "-d", "link", "show"], ["bridge", "-j", "fdb", "show"],
                    ["nft", "-j", "list", "ruleset"], ["sysctl", "-n", "net.ipv4.ip_forward"]):
        check_read_only(command)


def test_background_output_past_the_engines_log_space_says_it_was_cut(lab):
    process = lab.spawn("c1", "head -c 20000000 /dev/zero")
    for _ in range(500):  # bounded: head ends at once when the log space is full
        if process.poll() is not None:
            break
        lab.exec("c1", "true")
    output = process.stop()
    assert "output cut here" in output
    assert len(output) < 20000000


def test_a_failed_spawn_leaves_no_log(lab):
    before = lab.exec("c1", "ls /run/nethelpers").stdout
    with pytest.raises(EngineError):
        lab.spawn("c1", "/nonexistent/command")
    assert lab.exec("c1", "ls /run/nethelpers").stdout == before


def test_two_threads_building_one_lab_name_keep_one_engine():
    import threading

    from nethelpers.clean import engines

    labs, start = [], threading.Barrier(2)

    def build():
        topo = Topology("racing", underlay=None)
        topo.add_namespace("a")
        start.wait()
        labs.append(Lab(topo))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(lab.closed for lab in labs) == [False, True]
        ours = [pid for pid, ppid in engines() if ppid == os.getpid()]
        assert len(ours) == 1, ours
    finally:
        for lab in labs:
            lab.close()


def test_a_command_printing_more_than_a_frame_holds_is_cut_and_says_so(lab):
    result = lab.exec("c1", "head -c 100000000 /dev/zero", timeout=120)
    assert result.ok
    assert result.stdout.endswith("output cut here: a command's output is kept up to 16 MB a stream; "
                                  "write big output to a file in the lab instead]\n")
    assert lab.exec("c1", "echo still here").stdout == "still here\n"
