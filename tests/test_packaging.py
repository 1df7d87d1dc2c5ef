"""The project's own files agree with each other: dependencies, entry points, lab files."""

import re
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: the same parser, from PyPI
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement):
    return re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {_name(r): r.split(";")[0].replace(" ", "") for r in reqs}  # markers: pip's business


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and _name(dep) not in ("python", "pip"):
            conda[_name(dep)] = dep.replace(" ", "")
    pip = _pyproject_requirements()
    assert {k.replace("pyyaml", "pyyaml") for k in conda} == set(pip)
    for name, requirement in pip.items():
        assert conda[name].lower() == requirement.lower(), f"{name}: environment.yml {conda[name]} vs pyproject {requirement}"


def test_every_dependency_has_a_lower_bound():
    for name, requirement in _pyproject_requirements().items():
        assert ">=" in requirement, f"{name} has no lower bound in pyproject.toml"


def test_ci_runs_the_test_command_the_readme_gives():
    readme = (ROOT / "README.md").read_text()
    assert "./course test" in readme and "./course lab" in readme
    assert "./course test" in (ROOT / ".ci" / "run").read_text()


def test_dockerfile_runs_as_a_user_with_token_auth_and_documents_the_run_command():
    dockerfile = (ROOT / "binder" / "Dockerfile").read_text()
    # The entrypoint starts as root (to mount the lab sandbox's proc and sysfs), then runs the
    # command as learner; the image's tests check it in a running container.
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/course-entrypoint"\]$', dockerfile, re.M)
    entrypoint = (ROOT / "binder" / "entrypoint.sh").read_text()
    assert "exec setpriv --reuid=learner --regid=learner --init-groups -- \"$@\"" in entrypoint
    assert "--cap-add NET_ADMIN --cap-add SYS_ADMIN" in dockerfile and "--privileged" not in dockerfile.replace(
        "no --privileged", "")
    assert "token" in dockerfile and "token=''" not in dockerfile  # JupyterLab's token stays on
    assert "docker build" in (ROOT / "README.md").read_text()


def test_every_notebook_is_listed_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        assert notebook.name in readme, f"README.md does not list {notebook.name}"
