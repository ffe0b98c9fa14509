"""The sandbox's network: its own loopback only, and for the prepare phase one way out.

Every sandbox gets a network namespace of its own (`--unshare-net`). A prepare-phase
command (`SandboxPolicy.egress` set) also gets the directory of the worker's egress
proxy socket (app/prepare/egress.py) at `EGRESS_DIR`, and starts behind a forwarder:
socat listens on 127.0.0.1:`INSIDE_PORT` of the sandbox's loopback and carries each
connection to that socket, and `proxy_env` points every package manager at it. The
forwarder runs inside the sandbox like the command: what it could be made to do is what
the proxy outside allows. An unsandboxed run (allowed by configuration) uses the host's
network (`HOST`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class NetworkMode(StrEnum):
    NONE = "none"  # loopback of its own only
    EGRESS = "egress"  # and the egress proxy's socket (the prepare phase)
    HOST = "host"  # the host's network namespace (unsandboxed runs only)


EGRESS_DIR = "/run/agentops-egress"  # inside: the proxy socket's directory
SOCKET_NAME = "proxy.sock"
INSIDE_PORT = 3128  # the forwarder's port on the sandbox's loopback


def network_mode(egress: bool) -> NetworkMode:
    return NetworkMode.EGRESS if egress else NetworkMode.NONE


def behind_forwarder(argv: Sequence[str]) -> tuple[str, ...]:
    """`argv`, started once socat forwards 127.0.0.1:INSIDE_PORT to the proxy's socket (pure)."""
    port_hex = f"{INSIDE_PORT:04X}"
    script = (
        f"socat TCP-LISTEN:{INSIDE_PORT},bind=127.0.0.1,reuseaddr,fork "
        f"UNIX-CONNECT:{EGRESS_DIR}/{SOCKET_NAME} </dev/null >/dev/null 2>&1 & i=0; "
        f"while ! grep -q ':{port_hex} 00000000:0000 0A' /proc/net/tcp; do i=$((i+1)); "
        'if [ "$i" -gt 200 ]; then echo "agentops: the egress forwarder did not start" >&2; '
        'exit 125; fi; sleep 0.05; done; "$@"; status=$?; kill $! 2>/dev/null; exit $status'
    )
    return ("/bin/sh", "-c", script, "agentops-egress", *argv)


def proxy_env() -> dict[str, str]:
    """Variables that send pip, npm, Composer, Go and curl through the forwarder."""
    url = f"http://127.0.0.1:{INSIDE_PORT}"
    return {
        "HTTP_PROXY": url,
        "HTTPS_PROXY": url,
        "http_proxy": url,
        "https_proxy": url,
        "npm_config_proxy": url,
        "npm_config_https_proxy": url,
        "NO_PROXY": "",
        "no_proxy": "",
    }
