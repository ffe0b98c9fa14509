#!/usr/bin/env bash
# Builds the image for `make image-test`: a local base when no registry serves one, and
# the CA bundle pip's configuration names passed as a build secret (never in a layer).
# Usage: build.sh [TAG]; DOCKER, BASE_IMAGE, TOOLCHAINS may be set.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag="${1:-agentops:test}"
docker="${DOCKER:-docker}"
base="${BASE_IMAGE:-agentops-base:bookworm-py311}"
if [ "$base" = "agentops-base:bookworm-py311" ]; then
    DOCKER="$docker" bash tests/image/base-image.sh "$base"
fi
# The CA bundle pip trusts here (a TLS-intercepting proxy's): PIP_CERT, pip's own
# configuration (`pip config get global.cert`), else REQUESTS_CA_BUNDLE.
ca="${PIP_CERT:-}"
if [ -z "$ca" ]; then
    ca=$({ .venv/bin/pip config get global.cert || python3 -m pip config get global.cert; } \
        2>/dev/null | tr -d "'\"" || true)
fi
ca="${ca:-${REQUESTS_CA_BUNDLE:-}}"
secret=()
if [ -n "$ca" ] && [ -s "$ca" ]; then
    secret=(--secret "id=pip_ca,src=$ca")
    echo "pip trusts $ca (build secret pip_ca)"
fi
args=(--build-arg "BASE_IMAGE=$base" --build-arg "REVISION=$(git rev-parse HEAD)")
if [ -n "${TOOLCHAINS+set}" ]; then
    args+=(--build-arg "TOOLCHAINS=$TOOLCHAINS")
fi
start=$(date +%s)
DOCKER_BUILDKIT=1 "$docker" build --progress=plain "${secret[@]}" "${args[@]}" -t "$tag" .
echo "built $tag in $(( $(date +%s) - start )) s"
