"""A third-party client: the MCP Inspector from the npm registry, in its CLI mode, lists
and calls the tools of a real `agentops mcp --repo PATH` over stdio.

The Inspector is installed (once) with npm into a directory outside the repository
(`AGENTOPS_MCP_INSPECTOR_DIR`, else /tmp/agentops-mcp-inspector); the test is skipped only
where node is absent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ROOT
from tests.e2e.test_mcp_stdio import make_repo

pytestmark = pytest.mark.e2e
PACKAGE = "@modelcontextprotocol/inspector"


@pytest.fixture(scope="module")
def inspector() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node is not installed")
    where = Path(os.environ.get("AGENTOPS_MCP_INSPECTOR_DIR", "/tmp/agentops-mcp-inspector"))
    binary = where / "node_modules" / ".bin" / "mcp-inspector"
    if not binary.exists():
        where.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(where), "--no-audit", "--no-fund", PACKAGE],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return binary


def inspect(inspector: Path, repo: Path, cache: Path, *method: str) -> dict[str, Any]:
    server = [sys.executable, "-m", "app", "mcp", "--repo", str(repo), "--cache", str(cache)]
    done = subprocess.run(
        [str(inspector), "--cli", *server, "--method", *method],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_the_inspector_lists_and_calls_the_tools(inspector: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", tmp_path / "outside")
    cache = tmp_path / "cache"

    listed = inspect(inspector, repo, cache, "tools/list")
    names = {tool["name"] for tool in listed["tools"]}
    assert names == {"locate", "find_symbol", "outline", "context", "index_status"}
    assert all("outputSchema" in tool for tool in listed["tools"])

    issue = "issue_text=Invoice vat_total is wrong: the VAT of an invoice is too high"
    located = inspect(
        inspector, repo, cache, "tools/call", "--tool-name", "locate", "--tool-arg", issue
    )
    assert not located.get("isError")
    assert located["structuredContent"]["files"][0]["path"] == "billing/invoice.py"
    assert located["structuredContent"]["tests"][0]["path"] == "tests/test_invoice.py"
    assert located["structuredContent"]["tests"][0]["reasons"]

    outline = inspect(
        inspector, repo, cache, "tools/call", "--tool-name", "outline", "--tool-arg", "path=leak.py"
    )
    assert outline["isError"] is True
    assert "is a link" in outline["content"][0]["text"]
    assert "do-not-read-me" not in json.dumps(outline)
