# AgentOps: one image for the web process and the worker (see Procfile).
FROM python:3.11-slim

# The toolchains repositories' tests run with, read-only in the sandbox (Debian's
# packages): "node" (Node.js, npm; pnpm and yarn through corepack), "php" (PHP, Composer,
# PHPUnit), "go". A smaller image for Python repositories only: --build-arg TOOLCHAINS="".
# More Pythons for `requires-python`: install them and list them in AGENTOPS_SANDBOX_PYTHONS.
ARG TOOLCHAINS="node php go"

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
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
    apt-get install -y --no-install-recommends $packages; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --create-home --uid 10001 agentops

WORKDIR /srv/agentops
COPY pyproject.toml README.md app.yml ./
COPY app ./app
COPY handlers ./handlers
COPY jobs ./jobs
COPY prompts ./prompts
RUN pip install . \
    && python -m venv /opt/sandbox-python \
    && /opt/sandbox-python/bin/pip install pytest

# Repositories' Python tests run with this Python (read-only in the sandbox): the service's
# own environment has no pytest, and its packages are not the repository's business.
ENV AGENTOPS_SANDBOX_PYTHON=/opt/sandbox-python

USER agentops
ENV AGENTOPS_WORKDIR=/home/agentops/runs
EXPOSE 8000
CMD ["agentops", "serve", "--host", "0.0.0.0", "--port", "8000"]
