"""A private Docker engine for the tests that build and run the course image.

Debian's ``docker.io``: a ``dockerd`` with its own data root, exec root and socket, and no bridge,
iptables, forwarding or masquerading, so nothing changes in the host's network namespace. Nothing
can be pulled from Docker Hub: the base image is made here with debootstrap (``binder/base-image.sh``;
its tarball is cached in ``build/docker-base/`` for the day).
"""

import os
import shutil
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERD, DOCKER, DEBOOTSTRAP = "/usr/sbin/dockerd", "/usr/bin/docker", shutil.which("debootstrap")
BASE_CACHE = ROOT / "build" / "docker-base"
# The run options of binder/Dockerfile, README.md, .devcontainer/devcontainer.json and classroom/, less
# the published port. No systempaths=unconfined: the image's entrypoint (binder/entrypoint.sh) lets the
# sandbox mount its own /proc under Docker's masked paths. Docker's default seccomp profile is fine.
CAPABILITIES = ["NET_ADMIN", "SYS_ADMIN"]
SECURITY_OPTIONS = []
# What the image tests start dockerd with: nothing in any network namespace changes.
NETWORK_OFF = ["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"]
RUN_OPTIONS = [arg for cap in CAPABILITIES for arg in ("--cap-add", cap)] + \
              [arg for opt in SECURITY_OPTIONS for arg in ("--security-opt", opt)]

needs_engine = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("NETHELPERS_ROOTLESS_RUN")), reason="run once, by the outer suite"),
    pytest.mark.skipif(os.geteuid() != 0, reason="starting a Docker engine needs root"),
    pytest.mark.skipif(not (os.path.exists(DOCKERD) and os.path.exists(DOCKER) and DEBOOTSTRAP),
                       reason="Debian's docker.io and debootstrap are not installed (./course test installs them)"),
]


def ca_certs():
    return sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))


class Engine:
    """A private dockerd, driven by Debian's docker client.

    With ``netns`` (a path such as /proc/PID/ns/net), dockerd runs in that network namespace, so the
    bridges of user-defined networks are made there and not in the host's. ``network``: dockerd's
    networking options (default: all off; ``[]`` for Docker's defaults, only ever with ``netns``).
    """

    def __init__(self, top, netns=None, network=NETWORK_OFF):
        self.top = top
        self.sock = top / "docker.sock"
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_CONFIG=str(top / "client"),
                        DOCKER_BUILDKIT="1")
        config = top / "daemon.json"
        config.write_text("{}")
        self.log = open(top / "dockerd.log", "wb")
        prefix = ["nsenter", f"--net={netns}"] if netns else []
        self.proc = subprocess.Popen(
            [*prefix, DOCKERD, f"--config-file={config}", f"--data-root={top / 'data'}",
             f"--exec-root={top / 'exec'}", f"--pidfile={top / 'dockerd.pid'}", "-H", f"unix://{self.sock}",
             *network],
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


def base_tarball():
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


def build_image(engine, name, target):
    """Import the base image and build binder/Dockerfile's ``target`` as ``name``; returns (size, seconds)."""
    if engine.docker("image", "inspect", "debian:bookworm-slim", check=False).returncode != 0:
        with open(base_tarball(), "rb") as tarball:
            engine.docker("import", "-", "debian:bookworm-slim", stdin=tarball)
    ca = "".join(crt.read_text() for crt in ca_certs())
    started = time.monotonic()
    engine.docker("build", "--network", "host", "--build-arg", f"EXTRA_CA_CERTS={ca}", "--target", target,
                  "-t", name, "-f", "binder/Dockerfile", ".", cwd=ROOT)
    seconds = time.monotonic() - started
    size = int(engine.docker("image", "inspect", "-f", "{{.Size}}", name).stdout)
    return size, seconds
