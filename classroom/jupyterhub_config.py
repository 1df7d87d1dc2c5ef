"""JupyterHub for a class: one container of the course image per learner, on one Docker host.

    docker build -t container-networking:classroom --target classroom -f binder/Dockerfile .
    docker network create --subnet 172.31.0.0/24 classroom
    jupyterhub -f classroom/jupyterhub_config.py

The hub runs on the host (pip install jupyterhub dockerspawner jupyterhub-idle-culler, and
configurable-http-proxy) and reaches each learner's server on the `classroom` network. README.md,
"Teaching a class", goes from a bare server to a working class. Settings a teacher may change come
from the environment (CLASSROOM_*); everything else is below.
"""

import os
import sys

c = get_config()  # noqa: F821 (JupyterHub defines it when it loads this file)

env = os.environ.get

# -- Who may log in. PAM (the server's own accounts) is JupyterHub's default; a class usually wants
# its school's login (OAuthenticator) or a list of names with passwords (NativeAuthenticator).
c.Authenticator.allowed_users = set(filter(None, env("CLASSROOM_LEARNERS", "").split(",")))
c.Authenticator.admin_users = set(filter(None, env("CLASSROOM_TEACHERS", "").split(",")))

# -- The hub: public on port 8000 (put it behind HTTPS: c.JupyterHub.ssl_cert/ssl_key, or a reverse
# proxy); its API on the classroom network's gateway, where the learners' servers call back.
c.JupyterHub.bind_url = env("CLASSROOM_URL", "http://:8000")
c.JupyterHub.hub_ip = env("CLASSROOM_HUB_IP", "172.31.0.1")
c.JupyterHub.cleanup_servers = False  # a restart of the hub leaves the learners' servers running

# -- One container per learner.
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = env("CLASSROOM_IMAGE", "container-networking:classroom")
c.DockerSpawner.network_name = env("CLASSROOM_NETWORK", "classroom")
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.name_template = "classroom-{username}"
c.DockerSpawner.remove = True  # a stopped server's container goes; its volume (the learner's work) stays
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.DockerSpawner.notebook_dir = "/home/learner/course/notebooks"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60

# Each learner's own copy of the course: a named volume per learner over the course folder. Docker
# fills an empty named volume from the image on first use, so a new learner starts from the image's
# notebooks and keeps their edits from then on (a new image does not overwrite them).
c.DockerSpawner.volumes = {"classroom-{username}-course": "/home/learner/course"}

# Limits per learner: memory (a lab and its kernel use about 200-300 MB), CPU, and processes.
c.DockerSpawner.mem_limit = env("CLASSROOM_MEM_LIMIT", "1G")
c.DockerSpawner.cpu_limit = float(env("CLASSROOM_CPU_LIMIT", "1.0"))

# What the labs need, and no more (README.md, "In Docker"): each lab's engine runs in user namespaces
# as the non-root user `learner` and needs NET_ADMIN and SYS_ADMIN in the container's bounding set.
# The container starts as root only for the image's entrypoint, which mounts the proc that lets the
# sandbox mount its own /proc, then runs the server as `learner`. Nothing here grants --privileged,
# an unmasked /proc, a host network or the host's /proc.
c.DockerSpawner.extra_host_config = {
    "cap_add": ["NET_ADMIN", "SYS_ADMIN"],
    "pids_limit": int(env("CLASSROOM_PIDS_LIMIT", "512")),
}

# -- Idle culling: a server unused for CLASSROOM_IDLE_TIMEOUT seconds is stopped (its volume stays).
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                f"--timeout={int(env('CLASSROOM_IDLE_TIMEOUT', '3600'))}", "--cull-every=300"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
