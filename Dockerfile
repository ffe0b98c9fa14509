# AgentOps: one image for the web process and the worker (see Procfile and README,
# "Deploying"). Build:
#   docker build -t agentops .
# Where no registry serves python:3.11-slim, any Debian-based image with Python 3.11 and
# its venv module will do (tests/image/base-image.sh makes one with debootstrap):
#   docker build --build-arg BASE_IMAGE=agentops-base:bookworm-py311 -t agentops .
# Behind a TLS-intercepting proxy, hand pip the proxy's CA bundle as a build secret; it is
# mounted only while pip runs and is in no layer of the image:
#   DOCKER_BUILDKIT=1 docker build --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt .
# (HTTP_PROXY/HTTPS_PROXY build args pass through to pip and are kept out of the image too.)
ARG BASE_IMAGE=python:3.11-slim

# --- builder: two virtualenvs, made where pip may reach the index -------------------------
FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/agentops && python3 -m venv /opt/sandbox-python

# Repositories' Python tests run with this one (read-only in the sandbox): pytest and
# nothing of ours.
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    /opt/sandbox-python/bin/pip install pytest

# The service's dependencies before its code, so that a code change reuses this layer.
WORKDIR /src
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && /opt/agentops/bin/pip install -r /tmp/requirements.txt

COPY README.md ./
COPY app ./app
COPY handlers ./handlers
COPY jobs ./jobs
# app/resources links to these: the wheel carries copies (importlib.resources)
COPY prompts ./prompts
COPY app.yml ./
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    /opt/agentops/bin/pip install --no-deps .

# --- the image: no compilers, no pip caches, no build secrets -----------------------------
FROM ${BASE_IMAGE}

# The toolchains repositories' tests run with, read-only in the sandbox (Debian's
# packages): "node" (Node.js, npm), "php" (PHP, Composer, PHPUnit), "go" (the Go
# toolchain: repositories' `go test` needs its compiler; no C compiler is installed).
# A smaller image for Python repositories only: --build-arg TOOLCHAINS="".
# More Pythons for `requires-python`: install them and list them in AGENTOPS_SANDBOX_PYTHONS.
ARG TOOLCHAINS="node php go"

RUN set -eu; \
    packages="git bubblewrap socat ca-certificates"; \
    for toolchain in $TOOLCHAINS; do \
      case "$toolchain" in \
        node) packages="$packages nodejs npm" ;; \
        php) packages="$packages php-cli php-xml php-mbstring php-curl php-zip unzip composer phpunit" ;; \
        go) packages="$packages golang-go" ;; \
        *) echo "unknown toolchain: $toolchain (node, php, go)" >&2; exit 1 ;; \
      esac; \
    done; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log; \
    useradd --create-home --uid 10001 --user-group agentops

COPY --from=builder /opt/sandbox-python /opt/sandbox-python
COPY --from=builder /opt/agentops /opt/agentops
COPY deploy/docker/healthcheck.py /usr/local/lib/agentops/healthcheck.py
# The seccomp profile the sandbox needs (README, "Deploying"), to copy out of the image:
#   docker run --rm agentops cat /usr/local/share/agentops/seccomp-bwrap.json
COPY deploy/seccomp-bwrap.json /usr/local/share/agentops/seccomp-bwrap.json

WORKDIR /srv/agentops

# AGENTOPS_IN_CONTAINER: the worker's refusal, when the sandbox cannot start, names the
# container settings it needs (README, "Deploying") instead of host packages.
# AGENTOPS_LOG_FORMAT=json: one JSON object per log line, for a log collector.
ENV PATH=/opt/agentops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AGENTOPS_IN_CONTAINER=1 \
    AGENTOPS_LOG_FORMAT=json \
    AGENTOPS_SANDBOX_PYTHON=/opt/sandbox-python \
    AGENTOPS_WORKDIR=/home/agentops/runs

# Last: a build argument changes the cache key of every RUN after it, and the revision
# changes with every commit.
ARG BASE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="AgentOps" \
      org.opencontainers.image.description="Self-hosted AI engineering bot for GitHub and GitLab: web process and worker" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/agentops/bin/python", "/usr/local/lib/agentops/healthcheck.py"]
CMD ["agentops", "serve", "--host", "0.0.0.0", "--port", "8000"]
