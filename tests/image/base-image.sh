#!/usr/bin/env bash
# Makes a local base image for the Dockerfile where no registry serves python:3.11-slim:
# Debian bookworm from the mirror apt uses on this machine (debootstrap), with Debian's
# Python 3.11, imported with `docker import`. Usage: base-image.sh [TAG]
set -euo pipefail
tag="${1:-agentops-base:bookworm-py311}"
docker="${DOCKER:-docker}"
if "$docker" image inspect "$tag" >/dev/null 2>&1; then
    echo "base image $tag exists"
    exit 0
fi
# The first Debian mirror apt is configured with (deb822 sources or the one-line format).
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}
               /^deb / && $0 ~ /\/debian\/? / {for (i = 2; i <= NF; i++) if ($i ~ /^http/) {print $i; exit}}' || true)
fi
mirror="${mirror:-http://deb.debian.org/debian}"
rootfs=$(mktemp -d /var/tmp/agentops-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$mirror"
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
SOURCES
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | "$docker" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$tag"
echo "base image $tag made"
