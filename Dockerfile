# AgentOps: one image for the web process and the worker (see Procfile).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends git bubblewrap ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 agentops

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
