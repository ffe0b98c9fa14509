"""The image's HEALTHCHECK: the web process answers `/healthz`; a worker reaches Redis.

Which one runs is read from PID 1's command line (`agentops serve --port N` or
`agentops worker`), so one image serves both without a per-container setting.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path


def main() -> int:
    argv = Path("/proc/1/cmdline").read_bytes().decode(errors="replace").split("\0")
    if "worker" in argv:
        from redis import Redis  # the service's own dependency, in its virtualenv

        url = os.environ.get("AGENTOPS_REDIS_URL", "redis://127.0.0.1:6379/0")
        return 0 if Redis.from_url(url, socket_timeout=3).ping() else 1
    port = argv[argv.index("--port") + 1] if "--port" in argv[:-1] else "8000"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
        return 0 if answer.status == 200 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # any failure is "unhealthy", with the reason in `docker inspect`
        print(f"unhealthy: {exc}", file=sys.stderr)
        sys.exit(1)
