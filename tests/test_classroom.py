"""A class of ten on one machine: classroom/jupyterhub_config.py run for real.

A private Docker engine (tests/dockerengine.py) builds the image's `classroom` target, then is started
again inside a network namespace that this test makes: the `classroom` Docker network, its bridge and
every learner's container live there, and so do JupyterHub (DummyAuthenticator), its proxy (Debian's
configurable-http-proxy) and this test's HTTP client (threads that setns() into it). No packet leaves
that namespace; the host's network namespace is not touched (its links are compared before and after).

Ten learners' servers are started through the Hub's REST API; then every learner runs notebook 04 at
the same time through the Jupyter Server API (a kernel per learner, each code cell sent as an
execute_request on the kernel's websocket, through the proxy), and every cell must succeed (the
notebook asserts its claims). From inside one learner's container the test tries to see or touch the
others. Servers stopped, nothing is left: no container, no lab process. Figures (time until all ten are
ready, peak memory per learner from each container's cgroup memory.peak) go to build/classroom.txt.
"""

import concurrent.futures
import ctypes
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.dockerengine import ROOT, Engine, build_image, needs_engine

LEARNERS = int(os.environ.get("CLASSROOM_TEST_LEARNERS", "10"))
IMAGE = "container-networking:classroom"
NOTEBOOK = ROOT / "notebooks" / "04-container-to-container.ipynb"
SUBNET, GATEWAY = "10.131.0.0/24", "10.131.0.1"
HUB = "http://127.0.0.1:8000"
REPORT = ROOT / "build" / "classroom.txt"
CHP = shutil.which("configurable-http-proxy")
CLONE_NEWNET = 0x40000000

pytestmark = [*needs_engine, pytest.mark.skipif(
    not CHP or not shutil.which("jupyterhub", path=os.path.dirname(sys.executable)),
    reason="needs JupyterHub and DockerSpawner (pip: the test extra) and configurable-http-proxy "
           "(Debian: node-configurable-http-proxy); ./course test installs them")]


def wait_for(what, check, timeout):
    """Poll check() until it returns a true value; fail naming what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.5)


class Namespace:
    """A network namespace of the test's own, held by a sleeping process, with its loopback up."""

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
        host = os.readlink("/proc/self/ns/net")
        self.path = f"/proc/{self.proc.pid}/ns/net"
        wait_for("the namespace's holder to enter its namespace",
                 lambda: os.path.exists(self.path) and os.readlink(self.path) != host, 10)
        subprocess.run(["nsenter", f"--net={self.path}", "ip", "link", "set", "lo", "up"], check=True)
        self.fd = os.open(self.path, os.O_RDONLY)

    def enter(self):
        """Move the calling thread into the namespace (a thread pool's initializer)."""
        if ctypes.CDLL(None, use_errno=True).setns(self.fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the test's network namespace")

    def close(self):
        os.close(self.fd)
        self.proc.kill()
        self.proc.wait()


def host_links():
    return subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def classroom():
    """The engine in the test's namespace, the classroom network and image; yields (engine, namespace)."""
    links_before = host_links()
    top = Path(tempfile.mkdtemp(prefix="docker-classroom-", dir="/tmp"))
    engine = namespace = None
    try:
        engine = Engine(top)
        build_image(engine, IMAGE, "classroom")
        engine.stop()  # the same data root, started again inside the test's namespace
        namespace = Namespace()
        engine = Engine(top, netns=namespace.path)
        engine.docker("network", "create", "--subnet", SUBNET, "--gateway", GATEWAY, "classroom")
        yield engine, namespace
    finally:
        if engine is not None:
            engine.stop()
        if namespace is not None:
            namespace.close()
        shutil.rmtree(top, ignore_errors=True)
        assert host_links() == links_before, "the host's links changed"


@pytest.fixture(scope="module")
def hub(classroom):
    """JupyterHub with classroom/jupyterhub_config.py, in the test's namespace; yields (api, token)."""
    engine, namespace = classroom
    work = Path(tempfile.mkdtemp(prefix="hub-", dir="/tmp"))
    token = secrets.token_hex(32)
    (work / "jupyterhub_config.py").write_text(
        f"load_subconfig({str(ROOT / 'classroom' / 'jupyterhub_config.py')!r})\n"
        "c.JupyterHub.authenticator_class = 'dummy'\n"
        "c.Authenticator.allow_all = True\n"
        "c.Spawner.start_timeout = c.Spawner.http_timeout = 600\n"
        f"c.ConfigurableHTTPProxy.command = [{CHP!r}]\n"
        f"c.JupyterHub.services.append({{'name': 'classroom-test', 'api_token': {token!r}}})\n"
        "c.JupyterHub.load_roles.append({'name': 'classroom-test', 'services': ['classroom-test'],\n"
        "    'scopes': ['admin:users', 'admin:servers', 'access:servers', 'list:users', 'read:users']})\n")
    env = dict(engine.env, CLASSROOM_URL=HUB, CLASSROOM_HUB_IP=GATEWAY, CLASSROOM_IMAGE=IMAGE,
               CLASSROOM_NETWORK="classroom", PATH=os.path.dirname(sys.executable) + ":" + os.environ["PATH"],
               # Debian's proxy finds its modules there by itself only with Debian's own node.
               NODE_PATH="/usr/share/nodejs:/usr/lib/nodejs")
    log = open(work / "hub.log", "wb")
    proc = subprocess.Popen(["nsenter", f"--net={namespace.path}", "--", sys.executable, "-m", "jupyterhub",
                             "-f", str(work / "jupyterhub_config.py")],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2 * LEARNERS, initializer=namespace.enter)
    api = Api(pool, token)
    try:
        wait_for("the hub's API", lambda: proc.poll() is None and api.call("GET", "/hub/api/", check=False)[0] == 200
                 or (proc.poll() is not None and pytest.fail("jupyterhub exited:\n" + tail(work / "hub.log"))), 60)
        yield api, engine, work
    finally:
        for user in api.users():
            api.call("DELETE", f"/hub/api/users/{user}/server", check=False)
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
        pool.shutdown()
        print(tail(work / "hub.log", 3000))
        shutil.rmtree(work, ignore_errors=True)


def tail(path, n=6000):
    return Path(path).read_text(errors="replace")[-n:]


class Api:
    """HTTP to the hub and, through its proxy, to the learners' servers, from threads in the namespace."""

    def __init__(self, pool, token):
        self.pool, self.token = pool, token

    def _call(self, method, path, body=None, check=True, token=True):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(HUB + path, data=data, method=method)
        if token:
            request.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except OSError as error:
            if check:
                raise
            return 0, str(error)
        if check:
            assert 200 <= status < 300, f"{method} {path}: {status} {raw[:500]!r}"
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def call(self, *args, **kw):
        return self.pool.submit(self._call, *args, **kw).result()

    def users(self):
        status, users = self.call("GET", "/hub/api/users", check=False)
        return [u["name"] for u in users] if status == 200 else []

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)


def code_cells():
    notebook = json.loads(NOTEBOOK.read_text())
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def run_notebook(api, user):
    """Run notebook 04's code cells in a new kernel of `user`'s server; returns (cell count, error or None)."""
    import websocket

    _, kernel = api._call("POST", f"/user/{user}/api/kernels", {"name": "python3"})
    ws = websocket.create_connection(f"ws://127.0.0.1:8000/user/{user}/api/kernels/{kernel['id']}/channels",
                                     header=[f"Authorization: token {api.token}"], timeout=600)
    session = uuid.uuid4().hex
    try:
        for number, code in enumerate(code_cells(), 1):
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "session": session, "username": user, "msg_type": "execute_request",
                           "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            error = None
            while True:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "error":
                    error = f"cell {number}: {msg['content']['ename']}: {msg['content']['evalue']}\n{code[:300]}"
                if msg["msg_type"] == "execute_reply":
                    break
            if error or msg["content"]["status"] != "ok":
                return number, error or f"cell {number}: {msg['content']}"
        return number, None
    finally:
        ws.close()
        api._call("DELETE", f"/user/{user}/api/kernels/{kernel['id']}", check=False)


def container_pid(engine, user):
    return int(engine.docker("inspect", "-f", "{{.State.Pid}}", f"classroom-{user}").stdout)


def cgroups(pid):
    """{controller: path} of a process's cgroups ("" for cgroup v2)."""
    return dict(line.split(":", 2)[1:] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines())


def process_group(pid):
    """The folder whose cgroup.procs lists every process of the container."""
    groups = cgroups(pid)
    return Path("/sys/fs/cgroup/pids") / groups["pids"].lstrip("/") if "pids" in groups else \
        Path("/sys/fs/cgroup") / groups[""].lstrip("/")


def memory_peak(pid):
    """The peak memory of the container's cgroup, in bytes: memory.peak (cgroup v2) or
    memory.max_usage_in_bytes (v1; both count the page cache the container caused)."""
    lines = cgroups(pid)
    if "memory" in lines:
        folder = Path("/sys/fs/cgroup/memory") / lines["memory"].lstrip("/")
        return int((folder / "memory.max_usage_in_bytes").read_text())
    return int((Path("/sys/fs/cgroup") / lines[""].lstrip("/") / "memory.peak").read_text())


def test_a_class_of_ten_runs_notebook_04_at_once_and_nobody_sees_anyone_else(hub):
    api, engine, work = hub
    users = [f"learner{n:02d}" for n in range(1, LEARNERS + 1)]
    for user in users:
        api.call("POST", f"/hub/api/users/{user}")
    started = time.monotonic()
    for user in users:
        api.call("POST", f"/hub/api/users/{user}/server")

    def all_ready():
        states = {u["name"]: u for u in api.call("GET", "/hub/api/users")[1]}
        failed = [n for n in users if not states[n]["servers"] and not states[n].get("pending")]
        assert not failed or time.monotonic() - started < 5, \
            f"servers of {failed} stopped while starting:\n{tail(work / 'hub.log')}"
        return all(states[n]["servers"].get("", {}).get("ready") for n in users)
    wait_for(f"{LEARNERS} learners' servers ready", all_ready, 900)
    ready_seconds = time.monotonic() - started

    runs = {user: api.submit(run_notebook, api, user) for user in users}
    results = {user: run.result(timeout=1800) for user, run in runs.items()}
    failed = {user: error for user, (_, error) in results.items() if error}
    assert not failed, f"notebook 04 failed for {len(failed)} of {LEARNERS}:\n" + \
        "\n".join(f"{user}: {error}" for user, error in failed.items())
    pids = {user: container_pid(engine, user) for user in users}
    peaks = {user: memory_peak(pid) for user, pid in pids.items()}
    groups = {user: process_group(pid) for user, pid in pids.items()}

    # From inside learner01's container: nobody else's processes, files, labs or server.
    first, second = users[0], users[1]
    engine.docker("exec", "-u", "learner", f"classroom-{second}", "sh", "-c",
                  "echo mine > /home/learner/course/notebooks/secret")

    def inside(*command):
        return engine.docker("exec", "-u", "learner", f"classroom-{first}", *command, check=False)
    processes = inside("ps", "-eo", "pid,args").stdout.decode()
    assert processes.count("jupyterhub-singleuser") == 1, processes
    assert inside("test", "-e", "/home/learner/course/notebooks/secret").returncode == 1, \
        f"{first} sees {second}'s notebooks folder"
    assert inside("test", "-e", "/var/run/docker.sock").returncode == 1, "a learner can reach the Docker engine"
    other = engine.docker("inspect", "-f", "{{.NetworkSettings.Networks.classroom.IPAddress}}",
                          f"classroom-{second}").stdout.decode().strip()
    probe = ("import sys, urllib.request, urllib.error\n"
             "try:\n    print(urllib.request.urlopen(sys.argv[1], timeout=10).status)\n"
             "except urllib.error.HTTPError as e:\n    print(e.code)\n")
    answer = inside("python", "-c", probe, f"http://{other}:8888/user/{second}/api/contents").stdout.decode().strip()
    assert answer in ("302", "403"), f"{first} reached {second}'s server without its token: {answer}"
    # learner02 holds a lab (c1 at 172.17.0.2) while learner01 looks for it: not in its processes, not
    # reachable (learner01's packets go no further than the test's namespace, which has no such route).
    holder = ("import time\nfrom pathlib import Path\nfrom nethelpers import Lab, Topology\n"
              "t = Topology('held'); t.add_node('node1'); t.add_container('c1', node='node1')\n"
              "with Lab(t) as lab:\n"
              "    assert lab.exec('c1', 'ping -c 1 -W 2 172.17.0.1').ok\n"
              "    Path('/tmp/lab-ready').write_text('ready')\n"
              "    time.sleep(3600)\n")
    engine.docker("exec", "-d", "-u", "learner", f"classroom-{second}", "python", "-c", holder)
    wait_for(f"{second}'s lab", lambda: engine.docker("exec", f"classroom-{second}", "test", "-e", "/tmp/lab-ready",
                                                       check=False).returncode == 0, 120)
    processes = inside("ps", "-eo", "pid,args").stdout.decode()
    assert "nethelpers" not in processes, f"{first} sees an engine:\n{processes}"
    ping = inside("ping", "-c", "1", "-W", "2", "172.17.0.2")
    assert ping.returncode != 0, f"{first} reached {second}'s lab:\n{ping.stdout.decode()}"

    # Servers stopped, learner02's lab still held: no container, no process left.
    for user in users:
        api.call("DELETE", f"/hub/api/users/{user}/server")
    wait_for("every learner's container to go",
             lambda: not engine.docker("ps", "-aq", "--filter", "name=classroom-").stdout.split(), 120)
    left = {user: (group / "cgroup.procs").read_text().split() for user, group in groups.items() if group.exists()}
    assert not any(left.values()), f"processes left in the learners' containers: {left}"
    volumes = engine.docker("volume", "ls", "-q", "--filter", "name=classroom-").stdout.decode().split()
    assert sorted(volumes) == sorted(f"classroom-{u}-course" for u in users), volumes  # the learners' work stays
    engine.docker("volume", "rm", *volumes)

    report = (f"classroom: {LEARNERS} learners ready {ready_seconds:.0f} s after their servers were requested; "
              f"notebook 04 run by all at once; peak memory per learner "
              f"{min(peaks.values()) / 1e6:.0f}-{max(peaks.values()) / 1e6:.0f} MB "
              f"(mean {sum(peaks.values()) / len(peaks) / 1e6:.0f} MB)\n")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)
    print("\n" + report, end="")
