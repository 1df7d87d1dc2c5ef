"""R1-R5: nothing touches the host, nothing outlives its owner, labs never collide."""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from nethelpers import Lab, PrivilegeError, Topology
from nethelpers.clean import clean, engines
from nethelpers.sandbox import sandbox_prefix, userns_available

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_USER = "nethelpers-test"


def _python(code):
    """Run ``code`` in a new Python process that can import nethelpers from this checkout."""
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _processes_in(namespace_link, kind):
    """Pids of every process whose ``kind`` namespace is ``namespace_link``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/{kind}") == namespace_link:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


BIG_BUILD = """
    from nethelpers import Lab, Topology
    topo = Topology("big", underlay=None)
    topo.add_node("node1")
    for i in range(600):
        topo.add_container(f"c{i}", node="node1")
    print("building", flush=True)
    lab = Lab(topo)
    print("built", flush=True)
"""


def test_sigkill_mid_build_leaves_nothing():
    owner = _python(BIG_BUILD)
    assert owner.stdout.readline().strip() == "building"
    sandbox = _wait_for(lambda: [pid for pid, ppid in engines() if ppid == owner.pid])
    assert sandbox, "the owner started no engine"
    engine = _wait_for(lambda: _children(sandbox[0]))[0]
    namespaces = {kind: os.readlink(f"/proc/{engine}/ns/{kind}") for kind in ("user", "pid", "net", "mnt")}
    # Mid-build: some of the 600 namespaces exist (the engine's mount table shows them).
    assert _wait_for(lambda: _netns_mounts(engine) >= 20), "the build made no namespaces"
    owner.kill()
    owner.wait()
    assert "built" not in owner.stdout.read(), "the build finished before the kill; make the lab bigger"
    for kind, link in namespaces.items():
        if kind == "user" and link == os.readlink("/proc/self/ns/user"):
            continue  # root without user namespaces shares ours
        assert _wait_for(lambda: not _processes_in(link, kind)), f"processes still in the lab's {kind} namespace"
    assert not [pid for pid, _ in engines() if pid == sandbox[0]]


def _netns_mounts(pid):
    """How many lab namespaces process ``pid`` has bind-mounted under /run/netns so far."""
    try:
        with open(f"/proc/{pid}/mountinfo") as f:
            return sum(" /run/netns/" in line for line in f)
    except OSError:
        return 0


def test_owner_exit_without_close_leaves_nothing():
    owner = _python("""
        import os
        from nethelpers import Lab, Topology
        topo = Topology("forgotten", underlay=None)
        topo.add_namespace("a")
        lab = Lab(topo)
        print(lab._client.process.pid, flush=True)
        os._exit(0)  # no close, no atexit, no garbage collection
    """)
    sandbox = int(owner.stdout.readline())
    owner.wait()
    assert _wait_for(lambda: not os.path.exists(f"/proc/{sandbox}") or _zombie(sandbox))


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


TWIN = """
    import sys
    from nethelpers import Lab, Topology
    topo = Topology("twin", underlay=None)
    topo.add_node("node1")
    topo.add_container("c1", node="node1")
    topo.add_container("c2", node="node1")
    with Lab(topo) as lab:
        print("ready", flush=True)
        sys.stdin.readline()
        ok = all(lab.exec("c1", "ping -c 1 -W 2 172.17.0.3").ok for _ in range(3))
        print("pinged" if ok else "failed", len(lab.fdb("node1").where(kind="learned")), flush=True)
"""


def test_two_labs_with_the_same_names_in_two_processes():
    twins = []
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(TWIN)], env=dict(os.environ, PYTHONPATH=REPO),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        twins.append(proc)
    for proc in twins:  # both built, same names, at the same time
        assert proc.stdout.readline().strip() == "ready"
    for proc in twins:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=60)[0].split() for proc in twins]
    assert outputs == [["pinged", "2"], ["pinged", "2"]]  # each bridge learned only its own two MACs


def test_clean_ends_orphaned_engines_only():
    marker = "nethelpers.engine"
    # An orphaned engine sandbox (its owner gone), a foreign unshare, and a live lab of ours.
    spawn = ("import subprocess, sys; "
             "p = subprocess.Popen(sys.argv[1:], start_new_session=True, stdout=subprocess.DEVNULL, "
             "stderr=subprocess.DEVNULL); print(p.pid)")
    orphan = int(subprocess.run([sys.executable, "-c", spawn, "unshare", "--fork", "--kill-child", "sh", "-c", "sleep 60", marker],
                                capture_output=True, text=True).stdout)
    foreign = int(subprocess.run([sys.executable, "-c", spawn, "unshare", "--fork", "sleep", "60"],
                                 capture_output=True, text=True).stdout)
    topo = Topology("alive", underlay=None)
    topo.add_namespace("a")
    try:
        with Lab(topo) as lab:
            assert orphan in dict(engines())
            ended = clean()
            assert orphan in ended
            assert lab._client.process.pid not in ended
            assert lab.exec("a", "true").ok  # the live lab is untouched
            assert _alive(foreign)  # not ours: left alone
    finally:
        for pid in (orphan, foreign):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _alive(pid):
    return os.path.exists(f"/proc/{pid}") and not _zombie(pid)


SBIN = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def _run_as(user, argv, **kwargs):
    """Run ``argv`` as ``user`` with exactly the environment given (-p: runuser would set HOME to
    the account's, which a system user may not have, and IPython would then write to /tmp)."""
    runuser = shutil.which("runuser", path=SBIN)
    return subprocess.run([runuser, "-p", "-u", user, "--", *argv], capture_output=True, text=True, **kwargs)


def _user_environment(home, user):
    """A Python environment under ``home`` that ``user`` can run: a venv on this venv's base
    interpreter, holding a copy of this venv's packages (hard links where the filesystem
    allows). The checkout may sit where ``user`` cannot go (under /root, a mktemp -d)."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    probe = _run_as(user, [base, "-c", "import sys"], env={"PATH": "/usr/bin:/bin"})
    assert probe.returncode == 0, (
        f"{base} (this venv's interpreter) cannot run as {user!r}: {probe.stderr.strip()[-300:]}; "
        "make the venv with a Python every user can run (./course test uses the system Python)")
    venv = os.path.join(home, "venv")
    subprocess.run([base, "-m", "venv", "--without-pip", venv], check=True)
    site = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    target = subprocess.run([os.path.join(venv, "bin", "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    shutil.rmtree(target)
    # Not the editable install (it points into this checkout), nor the browser driver (the
    # browser test runs once, in the outer run).
    skip = shutil.ignore_patterns("__editable__*", "nethelpers-*.dist-info", "playwright", "__pycache__")
    shutil.copytree(site, target, symlinks=True, ignore=skip, copy_function=_link_or_copy)
    return os.path.join(venv, "bin", "python")


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="runs as an ordinary user already: the whole suite is this test")
@pytest.mark.skipif(bool(os.environ.get("NETHELPERS_ROOTLESS_RUN")), reason="the inner, rootless run")
def test_the_suite_passes_as_an_ordinary_user():
    """R1: the same suite, notebooks included, run by a fresh ordinary user from a copy of the
    checkout, wherever this checkout is; nothing of it is left in /tmp."""
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run([shutil.which("useradd", path=SBIN), "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
                       check=True)
    before = _owned_by(TEST_USER, "/tmp")
    with tempfile.TemporaryDirectory(prefix="nethelpers-rootless-", dir="/tmp") as home:
        os.chmod(home, 0o755)
        python = _user_environment(home, TEST_USER)
        checkout = os.path.join(home, "course")
        shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(".venv", ".git", "build", "__pycache__", "*.egg-info"))
        tmp = os.path.join(home, "tmp")
        os.mkdir(tmp)
        # The user owns its home, checkout and tmp; the venv stays root's (its files may be
        # hard links to this venv's: read-only for the user).
        for top in (checkout, tmp):
            for root, dirs, files in os.walk(top):
                for name in dirs + files:
                    os.chown(os.path.join(root, name), pwd.getpwnam(TEST_USER).pw_uid, -1, follow_symlinks=False)
            shutil.chown(top, TEST_USER)
        shutil.chown(home, TEST_USER)
        run = _run_as(
            TEST_USER, [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                        "--nbval-sanitize-with", "tests/sanitize.cfg", "tests", "notebooks"],
            cwd=checkout, timeout=1200,
            env={"HOME": home, "TMPDIR": tmp, "PATH": f"{os.path.dirname(python)}:/usr/bin:/bin",
                 "PYTHONPATH": checkout, "PYTHONDONTWRITEBYTECODE": "1", "NETHELPERS_ROOTLESS_RUN": "1"},
        )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-500:]
    assert run.returncode == 0 and " passed" in summary and "failed" not in summary, run.stdout[-3000:] + run.stderr[-2000:]
    left = _owned_by(TEST_USER, "/tmp") - before
    assert not left, f"the ordinary user's run left {sorted(left)} in /tmp"


def _owned_by(user, directory):
    uid = pwd.getpwnam(user).pw_uid
    found = set()
    for entry in os.scandir(directory):
        try:
            if entry.stat(follow_symlinks=False).st_uid == uid:
                found.add(entry.path)
        except OSError:
            pass
    return found


@pytest.mark.skipif(not userns_available(), reason="no user namespaces: the sandbox is root's, isolation by discipline")
def test_the_sandbox_cannot_enter_the_hosts_network_namespace():
    """R2: even handed a file descriptor of the host's namespace, the engine's sandbox gets EPERM."""
    host = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        probe = subprocess.run(
            [*sandbox_prefix(), sys.executable, "-c",
             f"import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
             f"print(libc.setns({host}, 0x40000000), ctypes.get_errno())"],
            pass_fds=[host], capture_output=True, text=True, timeout=30,
        )
    finally:
        os.close(host)
    assert probe.stdout.split() == ["-1", "1"], probe  # setns failed with EPERM


@pytest.mark.skipif(os.geteuid() == 0, reason="root always has a sandbox; the ordinary-user run checks this")
def test_no_privileges_and_no_user_namespaces_points_to_the_doctor(monkeypatch):
    monkeypatch.setenv("NETHELPERS_USERNS", "0")  # as if the kernel refused user namespaces
    topo = Topology("refused", underlay=None)
    topo.add_namespace("a")
    with pytest.raises(PrivilegeError, match=r"python -m nethelpers doctor"):
        Lab(topo)
