"""What one test command's output says beyond pass or fail (pure): nothing ran, the runner
itself could not start, the tests need something the sandbox never gives (the network, a
service, a display), and which single tests passed or failed.

Output is untrusted (a test prints what it likes): these readings only ever make a result
*less* trusted — "not run", "cannot run here", "failed" — never turn a failure into a pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.sandbox.execution import SandboxResult
from app.sandbox.test_commands import Runner

EVIDENCE_LINES = 3
EVIDENCE_CHARS = 200


def nothing_ran(runner: Runner, result: SandboxResult) -> bool:
    """Did the runner find nothing to run? (exit codes and messages of each runner)"""
    out = result.output.text
    if runner is Runner.PYTEST:
        # 5: none collected; 4: usage error (no such file or node). A module that fails
        # to import is reported with 4 too ("ERROR collecting"): that test ran and failed,
        # the usual red of a test for code that does not exist yet.
        if result.exit_code == 5:
            return True
        return result.exit_code == 4 and "ERROR collecting" not in out
    if runner is Runner.GO:
        return "no tests to run" in out
    if runner in (Runner.JEST, Runner.VITEST):
        return "No tests found" in out or "No test files found" in out
    if runner is Runner.CARGO:
        return "running 0 tests" in out and "running 1 test" not in out
    if runner in (Runner.PHPUNIT, Runner.PEST):
        return "No tests executed" in out
    if runner in (Runner.UNITTEST, Runner.DJANGO):
        # unittest (Django's runner is one) says so, and exits 5 from Python 3.12 on
        return re.search(r"^Ran 0 tests\b", out, re.MULTILINE) is not None
    return False


# --- the runner could not start -----------------------------------------------------------

_RUNNER_MISSING = re.compile(
    r"""^(
        \S*python[0-9.]*:\ No\ module\ named\ [\w.]+$            # python -m pytest, no pytest
      | setpriv:\ failed\ to\ execute\ \S+:\ No\ such\ file.*   # the program is absent
      | (/bin/)?(ba)?sh:\ ([0-9]+:\ )?\S+:\ (command\ )?not\ found$  # sh: 1: vitest: not found
      | env:\ \S+:\ No\ such\ file\ or\ directory$                # env A=1 pytest, no pytest
      | npm\ (ERR!|error)\ could\ not\ determine\ executable\ to\ run$  # npx, no package
      | Could\ not\ open\ input\ file:\ \S+$                      # php vendor/bin/phpunit
    )""",
    re.MULTILINE | re.VERBOSE,
)


def environment_error(result: SandboxResult) -> str | None:
    """The line that says the test runner itself is missing from the sandbox, or None.

    Exit 127 is the shell's and setpriv's "no such program"; Python's own message for
    `-m` of a module it does not have ends the run before any test exists.
    """
    if result.exit_code in (0, None):
        return None
    found = _RUNNER_MISSING.search(result.output.text)
    if found is not None and result.exit_code in (1, 126, 127):
        return found.group(0).strip()[:EVIDENCE_CHARS]
    if result.exit_code == 127:
        return "exit 127: the test command's program was not found in the sandbox"
    return None


_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")
# a traceback's frame in the repository (`File "/workspace/x.py", line 3`), or pytest's
# short form (`tests/test_x.py:3: in <module>`)
_FRAME = re.compile(r'File "/workspace/([^"]+)", line \d+|^(\S+\.py):\d+: in ', re.MULTILINE)


@dataclass(frozen=True)
class MissingModule:
    name: str  # the top-level package
    importer: str | None  # the repository's file whose import failed, when it shows


def missing_module(result: SandboxResult) -> MissingModule | None:
    """The package a failed Python run could not import, and which file imported it."""
    if result.passed:
        return None
    text = result.output.text
    found = list(_MISSING_MODULE.finditer(text))
    if not found:
        return None
    error = found[-1]
    frames = [m.group(1) or m.group(2) for m in _FRAME.finditer(text, 0, error.start())]
    return MissingModule(error.group(1).split(".")[0], frames[-1] if frames else None)


_SUITE_UNLOADABLE = re.compile(
    r"^(ImportError while loading conftest '[^']*'\.)\s*$(?:\n.*?)*?^E\s+(.+)$", re.MULTILINE
)


def suite_unloadable(result: SandboxResult) -> str | None:
    """pytest could not load the suite's own conftest.py (exit 4), or failed inside itself
    (exit 3, INTERNALERROR): the error it gave."""
    if result.exit_code == 3:
        errors = [
            line for line in result.output.text.splitlines() if line.startswith("INTERNALERROR>")
        ]
        if errors:
            return f"pytest failed internally: {errors[-1].removeprefix('INTERNALERROR>').strip()}"[
                :EVIDENCE_CHARS
            ]
    if result.exit_code != 4:
        return None
    found = _SUITE_UNLOADABLE.search(result.output.text)
    return f"{found.group(1)} {found.group(2).strip()}"[:EVIDENCE_CHARS] if found else None


# --- the tests need what the sandbox does not give ----------------------------------------


@dataclass(frozen=True)
class OutsideCause:
    """Why a test cannot pass in the sandbox whatever the change: what it needs and the
    output lines that say so."""

    needs: str  # "the network", "a service", "a display"
    evidence: tuple[str, ...]

    def describe(self) -> str:
        lines = "; ".join(f"`{line}`" for line in self.evidence)
        return f"needs {self.needs}, which the sandbox does not give ({lines})"


_CAUSES = (
    (
        "the network",
        re.compile(
            r"gaierror|Temporary failure in name resolution|Name or service not known"
            r"|Network is unreachable|ENETUNREACH|EAI_AGAIN|ENOTFOUND"
            r"|Could not resolve host|NameResolutionError|No address associated with hostname"
            r"|dial tcp: lookup ",
        ),
    ),
    (
        "a service",
        re.compile(
            r"Connection refused|ECONNREFUSED|could not connect to server"
            r"|Is the server running|Can't connect to (local )?MySQL server"
            r"|redis\.exceptions\.ConnectionError|SQLSTATE\[HY000\] \[2002\]",
        ),
    ),
    (
        "a display",
        re.compile(
            r"cannot open display|no display name and no \$DISPLAY|Missing X server"
            r"|couldn't connect to display|Could not connect to any X display"
            r"|_tkinter\.TclError: no display",
        ),
    ),
)


def outside_cause(result: SandboxResult) -> OutsideCause | None:
    """A failed run whose output shows it needs the network, a service or a display."""
    if result.passed:
        return None
    lines = result.output.text.splitlines()
    for needs, pattern in _CAUSES:
        hits = [line.strip()[:EVIDENCE_CHARS] for line in lines if pattern.search(line)]
        # the error lines first: a traceback also quotes the source that raised
        errors = [line for line in hits if _ERROR_LINE.search(line)]
        if hits:
            return OutsideCause(needs, tuple(dict.fromkeys(errors or hits))[:EVIDENCE_LINES])
    return None


_ERROR_LINE = re.compile(r"^E\s|Error|error:|Exception|FAIL", re.IGNORECASE)


# --- single tests' outcomes ----------------------------------------------------------------

_PYTEST_LINE = re.compile(r"^(PASSED|FAILED|ERROR|XPASS|XFAIL|SKIPPED) (\S+::\S+)", re.MULTILINE)
_GO_LINE = re.compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+)", re.MULTILINE)
# `test_y (pkg.mod.Case.test_y) ... ok` (verbose unittest; a docstring may take a line)
_UNITTEST_LINE = re.compile(
    r"^(\w+) \(([\w.]+)\)(?:\n[^\n]*?)? \.\.\. (ok|FAIL|ERROR|skipped|expected failure"
    r"|unexpected success)",
    re.MULTILINE,
)


def per_test_outcomes(runner: Runner, output: str) -> dict[str, bool] | None:
    """{test: passed} from a runner's per-test report (pytest `-rA`, `go test -v`, unittest
    and Django `-v 2`), or None
    when this runner's output names no single tests."""
    found: dict[str, bool] = {}
    if runner is Runner.PYTEST:
        for word, test in _PYTEST_LINE.findall(output):
            if word in ("PASSED", "XFAIL"):
                found.setdefault(test, True)
            elif word in ("FAILED", "ERROR", "XPASS"):
                found[test] = False  # a test ERROR in teardown after PASSED counts as failed
    elif runner is Runner.GO:
        for word, test in _GO_LINE.findall(output):
            if word != "SKIP":
                found[test] = word == "PASS"
    elif runner in (Runner.UNITTEST, Runner.DJANGO):
        for name, where, word in _UNITTEST_LINE.findall(output):
            test = where if where.endswith(f".{name}") else f"{where}.{name}"
            if word != "skipped":
                found[test] = word in ("ok", "expected failure")
    else:
        return None
    return found


def report_flags(runner: Runner) -> tuple[str, ...]:
    """Arguments that make the runner name each test's outcome (see `per_test_outcomes`)."""
    if runner is Runner.PYTEST:
        return ("-rA",)
    if runner is Runner.GO:
        return ("-v",)
    if runner in (Runner.UNITTEST, Runner.DJANGO):
        return ("-v", "2")
    return ()
