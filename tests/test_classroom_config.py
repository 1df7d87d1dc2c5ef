"""classroom/: the JupyterHub configuration, loaded as JupyterHub loads it, and the Zero to JupyterHub
values, checked against the chart's own values schema merged with its defaults as Helm does
(tests/data/z2jh/: values.schema.json and values.yaml of the jupyterhub chart, BSD-3-Clause, see LICENSE
there)."""

import json
import os
import re
import runpy

import jsonschema
import pytest
import yaml
from traitlets.config import Config

from tests.dockerengine import CAPABILITIES, ROOT, SECURITY_OPTIONS

CONFIG = ROOT / "classroom" / "jupyterhub_config.py"
VALUES = ROOT / "classroom" / "z2jh-values.yaml"
CHART = ROOT / "tests" / "data" / "z2jh"


def load_config():
    """The hub's config as `jupyterhub -f classroom/jupyterhub_config.py` would see it."""
    c = Config()
    runpy.run_path(str(CONFIG), init_globals={"get_config": lambda: c})
    return c


@pytest.fixture
def config(monkeypatch):
    for name in [n for n in os.environ if n.startswith("CLASSROOM_")]:
        monkeypatch.delenv(name)
    return load_config()


def test_each_learner_gets_the_course_image_in_a_container_of_their_own(config):
    assert config.JupyterHub.spawner_class == "dockerspawner.DockerSpawner"
    assert config.DockerSpawner.image == "container-networking:classroom"
    stages = re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "binder" / "Dockerfile").read_text(), re.M)
    assert "classroom" in stages, stages
    assert config.DockerSpawner.cmd == ["jupyterhub-singleuser"]
    assert "{username}" in config.DockerSpawner.name_template
    assert config.DockerSpawner.remove is True


def test_each_learner_keeps_a_copy_of_the_course_in_a_volume_of_their_own(config):
    volumes = config.DockerSpawner.volumes
    assert list(volumes.values()) == ["/home/learner/course"], volumes
    assert all("{username}" in name and "/" not in name for name in volumes), \
        f"{volumes}: a named volume per learner (Docker fills it from the image), not a host folder"
    assert config.DockerSpawner.notebook_dir.startswith("/home/learner/course/")


def test_limits_per_learner(config):
    assert config.DockerSpawner.mem_limit == "1G"
    assert config.DockerSpawner.cpu_limit == 1.0
    assert config.DockerSpawner.extra_host_config["pids_limit"] == 512


def test_limits_follow_the_environment(monkeypatch):
    monkeypatch.setenv("CLASSROOM_MEM_LIMIT", "2G")
    monkeypatch.setenv("CLASSROOM_CPU_LIMIT", "0.5")
    monkeypatch.setenv("CLASSROOM_PIDS_LIMIT", "256")
    c = load_config()
    assert (c.DockerSpawner.mem_limit, c.DockerSpawner.cpu_limit) == ("2G", 0.5)
    assert c.DockerSpawner.extra_host_config["pids_limit"] == 256


def test_the_run_options_are_the_images_and_no_more(config):
    host = config.DockerSpawner.extra_host_config
    assert host["cap_add"] == CAPABILITIES
    assert host.get("security_opt", []) == SECURITY_OPTIONS
    assert set(host) <= {"cap_add", "security_opt", "pids_limit"}, f"{sorted(host)}: no privileged, no host namespaces"
    assert config.DockerSpawner.network_name not in ("host", "bridge")


def test_idle_servers_are_culled_by_jupyterhub_idle_culler(config):
    (service,) = config.JupyterHub.services
    assert service["command"][1:3] == ["-m", "jupyterhub_idle_culler"]
    assert "--timeout=3600" in service["command"]
    (role,) = config.JupyterHub.load_roles
    assert role["services"] == [service["name"]]
    assert {"list:users", "read:users:activity", "read:servers", "delete:servers"} <= set(role["scopes"])


def merged(defaults, values):
    """Helm's merge of a values file over the chart's defaults: maps merge, null deletes, the rest replaces."""
    out = dict(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture(scope="module")
def chart():
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    return schema, defaults


def test_the_values_pass_the_charts_schema(chart):
    schema, defaults = chart
    jsonschema.validate(merged(defaults, yaml.safe_load(VALUES.read_text())), schema)


def test_the_schema_check_catches_a_misspelt_key(chart):
    schema, defaults = chart
    with pytest.raises(jsonschema.ValidationError, match="limt"):
        jsonschema.validate(merged(defaults, {"singleuser": {"memory": {"limt": "1G"}}}), schema)


def test_a_learners_pod_gets_what_the_labs_need():
    values = yaml.safe_load(VALUES.read_text())
    single = values["singleuser"]
    assert single["image"]["tag"] == "classroom"
    assert single["cmd"] == "jupyterhub-singleuser"
    assert (single["memory"]["limit"], single["cpu"]["limit"]) == ("1G", 1)
    context = values["hub"]["config"]["KubeSpawner"]["container_security_context"]
    assert context["capabilities"]["add"] == CAPABILITIES
    assert context["runAsNonRoot"] is True and not context.get("privileged")
    # Kubernetes' equivalent of systempaths=unconfined, and the pod user namespace it requires.
    assert context["procMount"] == "Unmasked"
    assert single["extraPodConfig"]["hostUsers"] is False
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == 3600
