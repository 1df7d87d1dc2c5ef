#!/bin/sh
# Make a debian:bookworm-slim-like root filesystem (documentation, manual pages, translations and apt
# caches left out, as in Debian's official -slim images) tarball without Docker Hub:
#   binder/base-image.sh OUT.tar [MIRROR]
# then: docker import OUT.tar debian:bookworm-slim
# debootstrap's minbase variant from this machine's Debian mirror (or MIRROR), with this machine's
# extra CA certificates (/usr/local/share/ca-certificates/*.crt) copied in for HTTPS behind a proxy.
# Needs root and debootstrap.
set -eu
out=${1:?usage: $0 OUT.tar [MIRROR]}
mirror=${2:-}
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
             | awk 'tolower($1)=="uris:" && $2 !~ /security/ {print $2; exit}')
fi
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
             | awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}')
fi
mirror=${mirror:-http://deb.debian.org/debian}
rootfs=$(mktemp -d "${TMPDIR:-/tmp}/rootfs.XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >&2
for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$crt" ] || continue
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp "$crt" "$rootfs/usr/local/share/ca-certificates/"
done
# As Debian's official -slim images: no documentation, manual pages or translations, no apt caches.
cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
echo 'Acquire::Languages "none";' > "$rootfs/etc/apt/apt.conf.d/docker-no-languages"
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/groff/* "$rootfs"/usr/share/info/* \
       "$rootfs"/usr/share/lintian/* "$rootfs"/usr/share/linda/* "$rootfs"/usr/share/locale/* \
       "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/var/cache/debconf/*-old
tar -C "$rootfs" --numeric-owner -cf "$out.part" .
mv "$out.part" "$out"
