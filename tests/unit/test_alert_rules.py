"""The alert rules (deploy/prometheus/alerts.yml) are valid and fire on the series their
tests feed them, and only there (deploy/prometheus/alerts_test.yml), by promtool itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    program = shutil.which("promtool")
    assert program, "promtool is missing: .ci/system-deps installs Debian's prometheus"
    return subprocess.run(
        [program, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_rules_are_valid() -> None:
    done = promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 8 rules found" in done.stdout


def test_each_alert_fires_where_its_test_says_and_nowhere_else() -> None:
    done = promtool("test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
