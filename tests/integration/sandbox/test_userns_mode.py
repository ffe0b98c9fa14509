"""The other mode: a service that is not root gets an unprivileged user namespace.

The test suite runs as root here, so this drops to uid 65534 with `setpriv` and runs a
small script with the system Python (app.sandbox needs only the standard library).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from tests.integration.sandbox.repos import REPO_ROOT, SYSTEM_PYTHON, run_as_nobody

SCRIPT = """
import asyncio, json, os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from app.sandbox import SandboxLimits, SandboxPolicy, probe_sandbox, run_sandboxed

async def main():
    repo = Path({repo!r})
    policy = SandboxPolicy(limits=SandboxLimits(wall_seconds=15, processes=32))
    attack = (
        "import os, socket\\n"
        "print('uid', os.getuid())\\n"
        "print('secret', os.environ.get('AGENTOPS_GITHUB_WEBHOOK_SECRET'))\\n"
        "for target in [('127.0.0.1', {port}), ('1.1.1.1', 443)]:\\n"
        "    try:\\n"
        "        socket.create_connection(target, timeout=2); print('connected', target)\\n"
        "    except OSError as exc:\\n"
        "        print('blocked', target, exc)\\n"
        "for path in [{outside!r}, '/etc/shadow']:\\n"
        "    try:\\n"
        "        print('read', path, open(path).read())\\n"
        "    except OSError as exc:\\n"
        "        print('denied', path, exc)\\n"
        "open('inside.txt', 'w').write('ok')\\n"
    )
    result = await run_sandboxed(["python3", "-c", attack], repo, policy)
    print(json.dumps({{"mode": probe_sandbox().mode, "code": result.exit_code,
                      "out": result.output.text}}))

asyncio.run(main())
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_unprivileged_service() -> None:
    if not SYSTEM_PYTHON.exists() or shutil.which("setpriv") is None:
        pytest.skip("needs /usr/bin/python3 and setpriv")
    # not tmp_path: its parents are root's 0700 directories
    with tempfile.TemporaryDirectory(prefix="agentops-userns-") as tmp:
        _run_as_nobody(Path(tmp))


def _run_as_nobody(base: Path) -> None:
    repo = base / "repo"
    repo.mkdir()
    outside = base / "secret.txt"
    outside.write_text("fake-secret-userns")
    for path in (base, repo, outside):
        os.chown(path, 65534, 65534)  # what the service user owns
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        script = SCRIPT.format(
            root=str(REPO_ROOT), repo=str(repo), outside=str(outside), port=server.getsockname()[1]
        )
        report = run_as_nobody(
            script, base, {"AGENTOPS_GITHUB_WEBHOOK_SECRET": "fake-secret-userns"}
        )
    assert isinstance(report, dict)
    out = report["out"]
    assert report["mode"] == "userns"
    assert report["code"] == 0, out
    assert "uid 65534" in out
    assert "secret None" in out
    assert "connected" not in out
    assert out.count("blocked") == 2
    assert "fake-secret-userns" not in out
    assert out.count("denied") == 2
    assert (repo / "inside.txt").read_text() == "ok"


BUDGET_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from app.sandbox import SandboxLimits, SandboxPolicy, run_sandboxed

BOMB = (
    "import os, time\\n"
    "deadline, refused = time.monotonic() + 2.5, False\\n"
    "while time.monotonic() < deadline:\\n"
    "    try:\\n"
    "        os.fork()\\n"
    "    except OSError as exc:\\n"
    "        if not refused:\\n"
    "            print('fork refused:', exc, flush=True)\\n"
    "        refused = True\\n"
    "        time.sleep(0.01)\\n"
    "os._exit(1 if refused else 0)\\n"
)
CALM = (
    "import subprocess, time\\n"
    "time.sleep(1)\\n"
    "for _ in range(15):\\n"
    "    subprocess.run(['true'], check=True)\\n"
    "print('calm: fifteen processes started')\\n"
)

async def main():
    repo = Path({repo!r})
    policy = SandboxPolicy(limits=SandboxLimits(wall_seconds=20, processes=32))
    calm = asyncio.ensure_future(run_sandboxed(["python3", "-c", CALM], repo, policy))
    await asyncio.sleep(0.2)  # the calm run starts first, then the bomb goes off
    bomb = await run_sandboxed(["python3", "-c", BOMB], repo, policy)
    other = await calm
    print(json.dumps({{"calm_code": other.exit_code, "calm_out": other.output.text,
                      "bomb": bomb.summary()}}))

asyncio.run(main())
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_each_run_has_its_own_process_budget_under_one_uid() -> None:
    """Every sandbox of a non-root service runs as the service's uid: one run's fork bomb
    must not use up the process budget of another run that is going on at the time."""
    if not SYSTEM_PYTHON.exists() or shutil.which("setpriv") is None:
        pytest.skip("needs /usr/bin/python3 and setpriv")
    with tempfile.TemporaryDirectory(prefix="agentops-userns-") as tmp:
        base = Path(tmp)
        repo = base / "repo"
        repo.mkdir()
        for path in (base, repo):
            os.chown(path, 65534, 65534)
        report = run_as_nobody(BUDGET_SCRIPT.format(root=str(REPO_ROOT), repo=str(repo)), base)
    assert isinstance(report, dict)
    assert "processes" in report["bomb"], report  # the bomb hit its own budget ...
    assert report["calm_code"] == 0, report  # ... and the other run did not notice
    assert "calm: fifteen processes started" in report["calm_out"]
