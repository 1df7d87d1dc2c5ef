"""The Docker image (binder/Dockerfile), built and run by a real Docker engine that this test starts.

The engine is Debian's ``docker.io``, a private ``dockerd`` with its own data root, exec root and
socket, and no bridge, iptables, forwarding or masquerading: nothing changes in the host's network
namespace. Nothing can be pulled from Docker Hub, so the base image is made here with debootstrap
(``binder/base-image.sh``; its tarball is cached in ``build/docker-base/`` for the day). The image is
built with ``--network host``, run with ``--network none`` and the README's capabilities; inside it
the container-to-container notebook runs under nbval as ``learner``, and JupyterLab, started by the
image's own command, answers with its token and refuses without. Build time and image size are
written to ``build/docker-image.txt``.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/04-container-to-container.ipynb"
DOCKERD, DOCKER, DEBOOTSTRAP = "/usr/sbin/dockerd", "/usr/bin/docker", shutil.which("debootstrap")
BASE_CACHE = ROOT / "build" / "docker-base"
REPORT = ROOT / "build" / "docker-image.txt"
IMAGE = "container-networking:test"
# The run command of binder/Dockerfile, less the published port (--network none here). Without
# systempaths=unconfined, Docker's masked /proc paths make the sandbox's `unshare --mount-proc` fail
# ("mount /proc failed: Operation not permitted"); Docker's default seccomp profile is fine.
RUN_OPTIONS = ["--cap-add", "NET_ADMIN", "--cap-add", "SYS_ADMIN", "--security-opt", "systempaths=unconfined"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("NETHELPERS_ROOTLESS_RUN")), reason="run once, by the outer suite"),
    pytest.mark.skipif(os.geteuid() != 0, reason="starting a Docker engine needs root"),
    pytest.mark.skipif(not (os.path.exists(DOCKERD) and os.path.exists(DOCKER) and DEBOOTSTRAP),
                       reason="Debian's docker.io and debootstrap are not installed (./course test installs them)"),
]


def _ca_certs():
    return sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))


class Engine:
    """A private dockerd, driven by Debian's docker client."""

    def __init__(self, top):
        self.top = top
        self.sock = top / "docker.sock"
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_CONFIG=str(top / "client"),
                        DOCKER_BUILDKIT="1")
        config = top / "daemon.json"
        config.write_text("{}")
        self.log = open(top / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            [DOCKERD, f"--config-file={config}", f"--data-root={top / 'data'}", f"--exec-root={top / 'exec'}",
             f"--pidfile={top / 'dockerd.pid'}", "-H", f"unix://{self.sock}", "--bridge=none",
             "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while self.docker("version", check=False).returncode != 0:
            assert self.proc.poll() is None, "dockerd exited:\n" + self.tail()
            assert time.monotonic() < deadline, "dockerd did not answer in 60 s:\n" + self.tail()
            time.sleep(0.3)

    def tail(self):
        return (self.top / "dockerd.log").read_text(errors="replace")[-3000:]

    def docker(self, *args, check=True, input=None, timeout=600, **kw):
        result = subprocess.run([DOCKER, *args], env=self.env, input=input, capture_output=True,
                                timeout=timeout, **kw)
        if check and result.returncode != 0:
            pytest.fail(f"docker {' '.join(map(str, args))[:200]} failed ({result.returncode}):\n"
                        f"{result.stdout.decode(errors='replace')[-3000:]}\n"
                        f"{result.stderr.decode(errors='replace')[-3000:]}")
        return result

    def stop(self):
        try:
            if self.proc.poll() is None:
                ids = self.docker("ps", "-aq", check=False, timeout=60).stdout.split()
                if ids:
                    self.docker("rm", "-f", *ids, check=False, timeout=120)
        finally:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(10)
            self.log.close()
            # Whatever dockerd left mounted under its roots (netns files, overlays, shm).
            top = str(self.top)
            with open("/proc/self/mounts") as mounts:
                points = [line.split()[1] for line in mounts if line.split()[1].startswith(top)]
            for point in sorted(points, key=len, reverse=True):
                subprocess.run(["umount", "-l", point], check=False)


@pytest.fixture(scope="module")
def engine():
    top = Path(tempfile.mkdtemp(prefix="docker-", dir="/tmp"))
    engine = None
    try:
        engine = Engine(top)
        yield engine
    finally:
        if engine is not None:
            engine.stop()
        shutil.rmtree(top, ignore_errors=True)


def _base_tarball():
    """The debootstrapped root filesystem, made at most once a day."""
    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    tarball = BASE_CACHE / f"bookworm-minbase-{date.today():%Y%m%d}.tar"
    if not tarball.exists():
        for old in BASE_CACHE.glob("bookworm-minbase-*.tar*"):
            old.unlink()
        made = subprocess.run([str(ROOT / "binder" / "base-image.sh"), str(tarball)], capture_output=True,
                              timeout=600)
        assert made.returncode == 0, made.stderr.decode(errors="replace")[-3000:]
    return tarball


@pytest.fixture(scope="module")
def image(engine):
    """binder/Dockerfile built on the local base image; yields its name."""
    started = time.monotonic()
    with open(_base_tarball(), "rb") as tarball:
        engine.docker("import", "-", "debian:bookworm-slim", stdin=tarball)
    base_seconds = time.monotonic() - started
    ca = "".join(crt.read_text() for crt in _ca_certs())
    started = time.monotonic()
    engine.docker("build", "--network", "host", "--build-arg", f"EXTRA_CA_CERTS={ca}", "-t", IMAGE,
                  "-f", "binder/Dockerfile", ".", cwd=ROOT)
    build_seconds = time.monotonic() - started
    size = int(engine.docker("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout)
    report = (f"docker image {IMAGE}: {size / 1e6:.0f} MB ({size} bytes); build {build_seconds:.0f} s "
              f"(base image from debootstrap/cache + import {base_seconds:.0f} s)\n")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)
    print("\n" + report, end="")
    return IMAGE, size


@pytest.fixture(scope="module")
def container(engine, image):
    name = "course-under-test"
    engine.docker("run", "-d", "--name", name, "--network", "none", *RUN_OPTIONS, image[0])
    try:
        yield name
    finally:
        logs = engine.docker("logs", name, check=False)
        print(logs.stderr.decode(errors="replace")[-1500:])
        engine.docker("rm", "-f", name, check=False)


def test_the_image_is_at_most_700_mb(image):
    assert image[1] <= 700e6, f"{image[1] / 1e6:.0f} MB"


def test_the_notebook_runs_under_nbval_in_the_container_as_learner(engine, container):
    assert engine.docker("exec", container, "id", "-un").stdout.decode().strip() == "learner"
    result = engine.docker("exec", container, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--nbval", NOTEBOOK, "--nbval-sanitize-with", "tests/sanitize.cfg", check=False)
    out = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    assert result.returncode == 0, out[:6000] + "\n[...]\n" + out[-1500:]
    assert " passed" in out


def test_jupyterlab_in_the_container_answers_with_its_token_and_refuses_without(engine, container):
    deadline = time.monotonic() + 60
    while True:
        listed = engine.docker("exec", container, "jupyter", "server", "list", "--json", check=False)
        servers = [json.loads(line) for line in listed.stdout.decode().splitlines() if line.startswith("{")]
        if servers:
            break
        assert time.monotonic() < deadline, "JupyterLab did not start in 60 s"
        time.sleep(0.5)
    token = servers[0]["token"]
    assert token, "the image's JupyterLab runs without a token"
    probe = ("import sys, urllib.request, urllib.error\n"
             "try:\n"
             "    print(urllib.request.urlopen(sys.argv[1], timeout=10).status)\n"
             "except urllib.error.HTTPError as e:\n"
             "    print(e.code)\n")

    def status(path):
        return int(engine.docker("exec", container, "python", "-c", probe,
                                 f"http://127.0.0.1:8888{path}").stdout.decode().strip())

    deadline = time.monotonic() + 60
    while (code := status(f"/api/status?token={token}")) != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert code == 200
    assert status("/api/contents") == 403
