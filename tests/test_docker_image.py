"""The Docker image (binder/Dockerfile), built and run by a real Docker engine that this test starts.

The engine is a private ``dockerd`` (tests/dockerengine.py). The learner image (target ``course``)
and the test image (target ``test``: the same plus pytest and nbval) are built with ``--network host``;
the test image runs with ``--network none`` and the README's run options (no systempaths=unconfined:
the image's entrypoint makes it unneeded). Inside it the container-to-container notebook runs under
nbval as ``learner``, and JupyterLab, started by the image's own command, answers with its token and
refuses without. Build time, image size and the time from ``docker run`` to JupyterLab serving are
written to ``build/docker-image.txt``.
"""

import inspect
import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.dockerengine import RUN_OPTIONS, ROOT, Engine, build_image, needs_engine
from tests import test_hostile
from tests.test_hostile import _assert_walls_hold

NOTEBOOK = "notebooks/04-container-to-container.ipynb"
REPORT = ROOT / "build" / "docker-image.txt"
IMAGE, TEST_IMAGE = "container-networking:course", "container-networking:test"

pytestmark = needs_engine


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


@pytest.fixture(scope="module")
def image(engine):
    """binder/Dockerfile's learner image (target `course`) and test image (`test`), built on the local base
    image; yields the test image's name and the learner image's size."""
    size, seconds = build_image(engine, IMAGE, "course")
    test_size, test_seconds = build_image(engine, TEST_IMAGE, "test")
    report = (f"docker image {IMAGE}: {size / 1e6:.0f} MB ({size} bytes), build {seconds:.0f} s; "
              f"{TEST_IMAGE} (with pytest and nbval): {test_size / 1e6:.0f} MB, {test_seconds:.0f} s more\n")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)
    print("\n" + report, end="")
    return TEST_IMAGE, size


@pytest.fixture(scope="module")
def container(engine, image):
    name = "course-under-test"
    started = time.monotonic()
    engine.docker("run", "-d", "--name", name, "--network", "none", *RUN_OPTIONS, image[0])
    try:
        # JupyterLab prints its address once it serves: the start time a learner waits for.
        deadline = time.monotonic() + 120
        while b"/lab?token=" not in engine.docker("logs", name, check=False).stderr:
            assert time.monotonic() < deadline, "JupyterLab printed no address in 120 s:\n" + \
                engine.docker("logs", name, check=False).stderr.decode(errors="replace")[-2000:]
            time.sleep(0.2)
        line = f"container start to JupyterLab serving: {time.monotonic() - started:.1f} s\n"
        with open(REPORT, "a") as report:
            report.write(line)
        print(line, end="")
        yield name
    finally:
        logs = engine.docker("logs", name, check=False)
        print(logs.stderr.decode(errors="replace")[-1500:])
        engine.docker("rm", "-f", name, check=False)


def test_the_learner_image_is_under_470_mb(image):
    # 438 MB with the course alone; the Chinese edition's font and JupyterLab language pack (about 6 MB)
    # and iptables for Docker-faithful nodes (about 3 MB) brought it to 450 MB.
    assert image[1] < 470e6, f"the learner image is {image[1] / 1e6:.0f} MB: see what binder/Dockerfile installs"


def test_the_learner_image_holds_no_answer_key(engine, container):
    # Exercises there run as a learner's would: "Not yet" until the learner predicts.
    found = engine.docker("exec", "-u", "learner", container, "find", ".", "-name", "answers.json").stdout
    assert found == b"", f"the learner image holds {found.decode()!r}: binder/Dockerfile removes the answer key"


def test_the_container_runs_as_learner_under_dockers_masked_proc(engine, container):
    # The entrypoint starts as root, mounts its clean proc out of learner's reach, and runs JupyterLab as learner.
    assert engine.docker("exec", container, "ps", "-o", "user=", "-p", "1").stdout.decode().strip() == "learner"
    mounts = engine.docker("exec", "-u", "learner", container, "cat", "/proc/self/mountinfo").stdout.decode()
    assert any(line.split()[4] == "/proc/sys" and line.split()[5].startswith("ro") for line in mounts.splitlines()), \
        "Docker's read-only /proc/sys is gone: was the container run with systempaths=unconfined?"
    reach = engine.docker("exec", "-u", "learner", container, "ls", "/run/nethelpers/proc", "/run/nethelpers/sysfs",
                          check=False)
    assert reach.returncode != 0 and b"Permission denied" in reach.stderr, reach


def test_the_notebook_runs_under_nbval_in_the_container_as_learner(engine, container):
    assert engine.docker("exec", "-u", "learner", container, "id", "-un").stdout.decode().strip() == "learner"
    result = engine.docker("exec", "-u", "learner", container, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--nbval", NOTEBOOK, "--nbval-sanitize-with", "tests/sanitize.cfg", check=False)
    out = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    assert result.returncode == 0, out[:6000] + "\n[...]\n" + out[-1500:]
    assert " passed" in out


def _jail_probe():
    """tests/test_hostile.py's walls() and tests/labs.py as one program: the image holds no tests/*.py."""
    parts = [(ROOT / "tests" / "labs.py").read_text(), "import json, os",
             *(f"{name} = {getattr(test_hostile, name)!r}" for name in ("ESCAPES", "ESCAPE", "ATTEMPTS")),
             inspect.getsource(test_hostile._home), inspect.getsource(test_hostile.walls),
             "with bridge_lab('jail') as lab:\n    print(json.dumps(walls(lab)))\n"]
    return "\n\n".join(parts)


def test_lab_code_in_the_container_reaches_no_home_though_pivot_root_is_refused(engine, container):
    # Docker's default seccomp profile refuses pivot_root: the lab's root covers the container's tree.
    result = engine.docker("exec", "-u", "learner", container, "python", "-c", _jail_probe(), check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    found = json.loads(result.stdout.decode().splitlines()[-1])
    assert found["root_by"] == "chroot", found
    _assert_walls_hold(found)


def test_jupyterlab_in_the_container_answers_with_its_token_and_refuses_without(engine, container):
    deadline = time.monotonic() + 60
    while True:
        listed = engine.docker("exec", "-u", "learner", container, "jupyter", "server", "list", "--json",
                               check=False)
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
        return int(engine.docker("exec", "-u", "learner", container, "python", "-c", probe,
                                 f"http://127.0.0.1:8888{path}").stdout.decode().strip())

    deadline = time.monotonic() + 60
    while (code := status(f"/api/status?token={token}")) != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert code == 200
    assert status("/api/contents") == 403
