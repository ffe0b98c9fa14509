"""A Composer repository and a Go module proxy on loopback, built from fixture packages.

These machines reach neither Packagist nor proxy.golang.org, so the prepare phase's
Composer and Go installs are tested against this server, reached through the egress
proxy like a company mirror (`AGENTOPS_PREPARE_RESOLVE` maps the names in the URLs below
to the port): `http://composer.registry.test` (the Composer repository protocol:
`/packages.json` and dist zips) and `http://goproxy.registry.test` (the GOPROXY protocol:
`/<module>/@v/list`, `.info`, `.mod`, `.zip`). Both names are served by one server.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "registry"
COMPOSER_HOST = "composer.registry.test"
GOPROXY_HOST = "goproxy.registry.test"
COMPOSER_URL = f"http://{COMPOSER_HOST}"
GOPROXY_URL = f"http://{GOPROXY_HOST}"
TIME = "2024-01-01T00:00:00Z"


def _zip(root: Path, prefix: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(
                prefix + path.relative_to(root).as_posix(), (2024, 1, 1, 0, 0, 0)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def composer_files(version: str = "1.0.0") -> dict[str, bytes]:
    """`/packages.json` and the dist zips of every package under fixtures/registry/composer."""
    packages: dict[str, dict[str, object]] = {}
    files: dict[str, bytes] = {}
    for folder in sorted((FIXTURES / "composer").iterdir()):
        meta = json.loads((folder / "composer.json").read_text())
        name = meta["name"]
        dist = f"/dists/{name}/{version}.zip"
        files[dist] = _zip(folder, "")
        packages[name] = {
            version: {
                **meta,
                "version": version,
                "dist": {"type": "zip", "url": COMPOSER_URL + dist, "reference": version},
            }
        }
    files["/packages.json"] = json.dumps({"packages": packages}).encode()
    return files


def goproxy_files(version: str = "v1.0.0") -> dict[str, bytes]:
    """The GOPROXY answers for every module under fixtures/registry/go."""
    files: dict[str, bytes] = {}
    for folder in sorted((FIXTURES / "go").iterdir()):
        module = (folder / "go.mod").read_text().split()[1]
        base = f"/{module}/@v"
        files[f"{base}/list"] = f"{version}\n".encode()
        files[f"{base}/{version}.info"] = json.dumps({"Version": version, "Time": TIME}).encode()
        files[f"{base}/{version}.mod"] = (folder / "go.mod").read_bytes()
        files[f"{base}/{version}.zip"] = _zip(folder, f"{module}@{version}/")
        files[f"/{module}/@latest"] = files[f"{base}/{version}.info"]
    return files


@dataclass
class Registries:
    port: int = 0
    requests: list[str] = field(default_factory=list)  # "host path" of each request

    @property
    def resolve(self) -> str:
        """The `AGENTOPS_PREPARE_RESOLVE` value that sends both names here."""
        return f"{COMPOSER_HOST}:80=127.0.0.1:{self.port},{GOPROXY_HOST}:80=127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Settings of a worker whose prepare phase uses these registries as mirrors."""
        from app.prepare.egress import DEFAULT_REGISTRIES

        return {
            "AGENTOPS_PREPARE_REGISTRIES": ",".join(
                [*DEFAULT_REGISTRIES, COMPOSER_HOST, GOPROXY_HOST]
            ),
            "AGENTOPS_PREPARE_RESOLVE": self.resolve,
            "AGENTOPS_PREPARE_COMPOSER_REPOSITORY": COMPOSER_URL,
            "AGENTOPS_PREPARE_GOPROXY": GOPROXY_URL,
        }


@contextmanager
def serve_registries() -> Iterator[Registries]:
    by_host = {COMPOSER_HOST: composer_files(), GOPROXY_HOST: goproxy_files()}
    state = Registries()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").split(":")[0]
            state.requests.append(f"{host} {self.path}")
            body = by_host.get(host, {}).get(self.path.split("?")[0])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
