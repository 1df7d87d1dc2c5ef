#!/bin/bash
# A private, throw-away Docker engine for the x-ray notebook (13) and tests/test_xray.py.
#
#   binder/docker-xray-host.sh start DIR   # prints DOCKER_HOST=unix://DIR/docker.sock and INIT_PID=...
#   binder/docker-xray-host.sh stop DIR
#
# Debian's dockerd (apt-get install -y docker.io debootstrap) runs as root INSIDE network,
# mount and PID namespaces of its own (unshare --net --mount --pid --fork --mount-proc, with a
# tmpfs on /run): its docker0, veths, iptables rules and ip_forward live only there, and the
# host's network namespace is not changed. Its state is under DIR (data root, socket, log).
# The base image cannot be pulled here: it is made once with debootstrap (minbase, bookworm)
# from the Debian mirror of /etc/apt/sources.list.d/, kept in $XRAY_CACHE (/tmp/xray-cache),
# and imported as debian:bookworm-slim. Two containers (c1, c2) run `sleep infinity`.
# INIT_PID is the host PID of the namespaces' first process: its /proc/PID/ns/net is the
# engine's "host" network namespace, and the container PIDs docker inspect prints are
# numbers in its PID namespace (nethelpers.xray translates them).
set -euo pipefail
cmd=${1:?usage: $0 start|stop DIR}; dir=${2:?usage: $0 start|stop DIR}
cache=${XRAY_CACHE:-/tmp/xray-cache}
containers=${XRAY_CONTAINERS:-2}
[ "$(id -u)" = 0 ] || { echo "docker-xray-host: needs root" >&2; exit 77; }

stop() {
    if [ -f "$dir/init.pid" ]; then
        pid=$(cat "$dir/init.pid")
        # the namespaces' init (dockerd): when it dies the kernel kills every process of the
        # PID namespace (containerd, shims, containers); the mount and network namespaces,
        # with docker0, the veths and the rules, go with the last of them. The engine is
        # thrown away, so there is no need to stop it gracefully.
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$dir/init.pid"
    fi
    if [ -f "$dir/unshare.pid" ]; then
        kill -KILL "$(cat "$dir/unshare.pid")" 2>/dev/null || true
        rm -f "$dir/unshare.pid"
    fi
    # mounts were made in the private mount namespace only; the data root is plain files
    if [ -d "$dir/data" ]; then
        grep -q " $dir/" /proc/mounts && { echo "docker-xray-host: mounts left under $dir" >&2; exit 1; }
        rm -rf "$dir/data"
    fi
    rm -f "$dir/docker.sock"
}

rootfs_tar() {
    [ -s "$cache/rootfs.tar" ] && return 0
    command -v debootstrap >/dev/null || { echo "docker-xray-host: debootstrap missing (apt-get install -y debootstrap)" >&2; exit 77; }
    mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/* 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
    mkdir -p "$cache"; rm -rf "$cache/rootfs.tmp"
    debootstrap --variant=minbase bookworm "$cache/rootfs.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1
    tar -C "$cache/rootfs.tmp" -c . >"$cache/rootfs.tar.tmp"
    mv "$cache/rootfs.tar.tmp" "$cache/rootfs.tar"; rm -rf "$cache/rootfs.tmp"
}

start() {
    command -v dockerd >/dev/null || { echo "docker-xray-host: dockerd missing (apt-get install -y docker.io)" >&2; exit 77; }
    rootfs_tar
    mkdir -p "$dir/data"
    # Inside: private mounts, a tmpfs on /run (dockerd's and containerd's sockets, pid files),
    # lo up, then dockerd. setsid: its own session, no terminal.
    setsid unshare --net --mount --pid --fork --mount-proc bash -c '
        set -e
        mount --make-rprivate /
        mount -t tmpfs tmpfs /run
        ip link set lo up
        exec dockerd --data-root "$1/data" --exec-root /run/xray-docker -H "unix://$1/docker.sock" \
            --pidfile /run/xray-docker.pid --storage-driver vfs --log-level warn
    ' xray "$dir" >"$dir/dockerd.log" 2>&1 </dev/null &
    echo $! >"$dir/unshare.pid"
    export DOCKER_HOST="unix://$dir/docker.sock"
    for _ in $(seq 150); do
        docker version >/dev/null 2>&1 && break
        kill -0 "$(cat "$dir/unshare.pid")" 2>/dev/null || { cat "$dir/dockerd.log" >&2; exit 1; }
        sleep 0.1
    done
    docker version >/dev/null || { cat "$dir/dockerd.log" >&2; stop; exit 1; }
    # the unshare process's only child is the namespaces' init (bash, exec'ed into dockerd)
    cat "/proc/$(cat "$dir/unshare.pid")/task/$(cat "$dir/unshare.pid")/children" | awk '{print $1}' >"$dir/init.pid"
    docker import - debian:bookworm-slim <"$cache/rootfs.tar" >/dev/null
    for i in $(seq "$containers"); do
        docker run -d --name "c$i" debian:bookworm-slim sleep infinity >/dev/null
    done
    echo "DOCKER_HOST=$DOCKER_HOST"
    echo "INIT_PID=$(cat "$dir/init.pid")"
}

case $cmd in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
