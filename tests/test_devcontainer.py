""".devcontainer/devcontainer.json: valid JSON with comments, and the same image and run options as
binder/Dockerfile, README.md and the Docker tests (tests/dockerengine.py)."""

import json
import re

from tests.dockerengine import CAPABILITIES, ROOT, RUN_OPTIONS, SECURITY_OPTIONS

DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"


def strip_jsonc(text):
    """JSON with // and /* */ comments and trailing commas (the devcontainer format) as plain JSON."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def load():
    return json.loads(strip_jsonc(DEVCONTAINER.read_text()))


def test_strip_jsonc_keeps_strings_and_drops_comments():
    text = '{"a": "x // not a comment", /* c */ "b": [1, 2,], // end\n}'
    assert json.loads(strip_jsonc(text)) == {"a": "x // not a comment", "b": [1, 2]}


def test_it_builds_a_stage_of_binder_dockerfile():
    config = load()
    dockerfile = (DEVCONTAINER.parent / config["build"]["dockerfile"]).resolve()
    assert dockerfile == ROOT / "binder" / "Dockerfile", dockerfile
    assert (DEVCONTAINER.parent / config["build"]["context"]).resolve() == ROOT
    stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile.read_text(), re.M)
    assert config["build"]["target"] in stages, f"target {config['build']['target']!r} not in {stages}"


def test_its_run_options_are_the_images():
    config = load()
    assert config["capAdd"] == CAPABILITIES
    assert config.get("securityOpt", []) == SECURITY_OPTIONS
    assert config["containerUser"] == "root" and config["remoteUser"] == "learner", \
        "the entrypoint starts as root, mounts its proc and runs everything as learner"
    assert not config.get("privileged"), "the labs need no --privileged"
    run_args = config.get("runArgs", [])
    assert not any("privileged" in a or "cap-add" in a or "security-opt" in a for a in run_args), run_args


def test_readme_and_dockerfile_give_the_same_run_command():
    options = " ".join(RUN_OPTIONS)
    for path in (ROOT / "README.md", ROOT / "binder" / "Dockerfile"):
        text = re.sub(r"\\\n[#\s]*", " ", path.read_text())
        runs = [line for line in text.splitlines() if "docker run" in line and "container-networking" in line]
        assert runs, f"{path.name}: no `docker run ... container-networking` command"
        for run in runs:
            assert options in re.sub(r"\s+", " ", run), f"{path.name}: {run.strip()!r} lacks {options!r}"


def test_it_forwards_the_port_the_image_serves():
    exposed = re.findall(r"^EXPOSE (\d+)", (ROOT / "binder" / "Dockerfile").read_text(), re.M)
    assert load()["forwardPorts"] == [int(p) for p in exposed]
    assert load()["overrideCommand"] is False, "the image's own command starts JupyterLab"
