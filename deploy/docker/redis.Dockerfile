# Redis from Debian's package, for compose.local.yml where no registry serves the official
# `redis` image: data in /data, `redis-cli` for the health check.
#   docker build -f deploy/docker/redis.Dockerfile -t agentops-redis:7 deploy/docker
ARG BASE_IMAGE=agentops-base:bookworm-py311
FROM ${BASE_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && install -d -o redis -g redis -m 750 /data
WORKDIR /data
USER redis
EXPOSE 6379
# compose.yml gives the command (with --requirepass); alone it serves loopback only
CMD ["redis-server", "--appendonly", "yes"]
