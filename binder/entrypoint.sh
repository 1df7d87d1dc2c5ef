#!/bin/sh
# The image's entrypoint: started as root, it mounts a proc and a sysfs of the container's own where
# only root can reach them (/run/nethelpers/, a 0700 folder), then runs the command as `learner`.
#
# Why: each lab's sandbox (`unshare --user ... --pid --mount-proc`) mounts a /proc for its PID namespace,
# and a lab command's child mounts a sysfs of its lab's network namespace (as `ip netns exec` does).
# Inside a user namespace the kernel allows either only if the mount namespace already shows one of that
# type with nothing mounted over it (fs/namespace.c, mount_too_revealing), and Docker mounts its masked
# and read-only paths over /proc and /sys. Root in the container is not in a user namespace and may
# mount clean ones; with them in place the sandbox's own mounts are allowed, and Docker's masks stay on
# the /proc and /sys that learner's processes see. This replaces `--security-opt systempaths=unconfined`.
# README.md, "In Docker", has the details.
set -eu
if [ "$(id -u)" = 0 ]; then
    mkdir -p -m 700 /run/nethelpers
    for fs in proc sysfs; do
        if ! awk -v m="/run/nethelpers/$fs" '$5 == m {found=1} END {exit !found}' /proc/self/mountinfo; then
            mkdir -p "/run/nethelpers/$fs"
            mount -t "$fs" -o nosuid,nodev,noexec "$fs" "/run/nethelpers/$fs" \
                || echo "entrypoint: cannot mount $fs (run with --cap-add SYS_ADMIN): labs will not start" >&2
        fi
    done
    HOME=/home/learner USER=learner LOGNAME=learner
    export HOME USER LOGNAME
    exec setpriv --reuid=learner --regid=learner --init-groups -- "$@"
fi
exec "$@"
