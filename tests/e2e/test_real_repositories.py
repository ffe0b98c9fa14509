"""Real-world-shaped repositories with third-party dependencies, end to end: the real web
and worker processes, the forge simulator, a scripted model, the prepare phase installing
through the egress proxy (PyPI and the npm registry for real; Composer and Go modules
from tests/sim/registries.py), and red → green proof with each language's runner.

`implement` adds a feature with a new test that must fail on the base and pass on the
head (Python with pytest, TypeScript with Vitest, JavaScript with Jest, PHP with PHPUnit,
Go); `/agentops test` adds tests to a pull request (Vitest, Jest, PHPUnit).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e import implement_script as script
from tests.e2e.features import FEATURES, Feature
from tests.e2e.fixture_repos import fixture_files
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, text, tool_call
from tests.sim.registries import Registries, serve_registries

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def registries() -> Iterator[Registries]:
    with serve_registries() as served:
        yield served


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str], registries: Registries) -> dict[str, str]:
    return {**script.llm_env(llm[1]), **registries.env()}


def _git(gh: GitHubSim, repo: str, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=gh.bare_path(repo), capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("feature", FEATURES, ids=lambda f: f.fixture)
def test_implement_proves_a_new_test_with_the_repositorys_own_runner(
    service: Service,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
    feature: Feature,
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = f"acme/{feature.fixture}"
    gh.add_repo(repo, fixture_files(feature.fixture))
    gh.set_permission(repo, "alice", "write")
    sim.script(script.PLANNER, text(f"**Change**\n{feature.issue}.\n\n**Tests**\n- one new test"))
    sim.script(
        script.CODER,
        tool_call("apply_edits", {"edits": feature.edits}),
        tool_call("run_tests", {"test_ids": [feature.test_id]}),
        tool_call("finish", {"summary": feature.issue, "tests": [feature.test_id]}),
    )
    sim.script(script.CHEAP, text(f"feat: {feature.issue.lower()}"))
    number, run_id = script.start_implement(service, gh, repo, body=feature.issue)
    run = wait_for(lambda: service.finished(run_id), 300, what=f"implement on {repo}")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    steps = {s["name"]: s["detail"] for s in run["steps"]}
    installed = steps["install"]
    assert installed["cache"] == "stored" and installed["refused"] == []
    assert feature.registry in installed["from"]
    # the model's own run of its new test went through the runner and passed
    coder = sim.requests_for(script.CODER)[-1].body
    assert feature.runner_words in str(coder["messages"])
    assert feature.conventions in str(coder["system"])  # told how this runner's tests look

    [pull] = gh.pulls(repo)
    assert f"Closes #{number}" in pull["body"]
    # fails on the base (exit 1 or 2), passes on the head
    assert f"| `{feature.test_id}` | proven | exit " in pull["body"], pull["body"]
    assert "| exit 0 |" in pull["body"]
    branch = pull["head"]["ref"]
    assert feature.expect in _git(gh, repo, "show", f"{branch}:{feature.changed}")
    check = gh.check_run_of(repo, run_id)
    assert check["conclusion"] == "success"
    assert "[x] install" in check["output"]["text"]
    assert "### Dependencies" in check["output"]["text"]
    assert f"`{feature.registry}`" in check["output"]["text"]


@dataclass(frozen=True)
class PullTests:
    fixture: str
    changed: str  # the pull request's change: one file, whole
    content: str
    test_file: str  # the tests the model adds
    test_text: str
    test_id: str


PULL_TESTS = [
    PullTests(
        "ts-vitest",
        "src/initials.ts",
        "export function initials(name: string): string {\n"
        '  return name.split(/\\s+/).filter(Boolean).map((w) => w[0].toUpperCase()).join("");\n'
        "}\n",
        "src/initials.test.ts",
        'import { expect, it } from "vitest";\nimport { initials } from "./initials";\n\n'
        'it("takes the first letter of each word", () => {\n'
        '  expect(initials("ada  lovelace")).toBe("AL");\n});\n',
        "src/initials.test.ts",
    ),
    PullTests(
        "js-jest",
        "src/count.js",
        "function itemCount(lines) {\n"
        "  return lines.reduce((n, line) => n + line.quantity, 0);\n}\n\n"
        "module.exports = { itemCount };\n",
        "__tests__/count.test.js",
        'const { itemCount } = require("../src/count");\n\n'
        'test("counts quantities", () => {\n'
        "  expect(itemCount([{ quantity: 2 }, { quantity: 3 }])).toBe(5);\n});\n",
        "__tests__/count.test.js",
    ),
    PullTests(
        "php-phpunit",
        "src/Discount.php",
        "<?php\n\ndeclare(strict_types=1);\n\nnamespace Acme\\Invoice;\n\n"
        "use Acme\\Money\\Money;\n\nfinal class Discount\n{\n"
        "    public static function tenPercent(Money $price): Money\n    {\n"
        "        return Money::ofCents(intdiv($price->cents * 9, 10));\n    }\n}\n",
        "tests/DiscountTest.php",
        "<?php\n\ndeclare(strict_types=1);\n\nnamespace Acme\\Invoice\\Tests;\n\n"
        "use Acme\\Invoice\\Discount;\nuse Acme\\Money\\Money;\n"
        "use PHPUnit\\Framework\\TestCase;\n\nfinal class DiscountTest extends TestCase\n{\n"
        "    public function testTenPercentOff(): void\n    {\n"
        "        $this->assertSame('0.90', Discount::tenPercent(Money::ofCents(100))->format());\n"
        "    }\n}\n",
        "tests/DiscountTest.php::testTenPercentOff",
    ),
]


@pytest.mark.parametrize("case", PULL_TESTS, ids=lambda c: c.fixture)
def test_agentops_test_adds_passing_tests_to_a_pull_request(
    service: Service,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
    case: PullTests,
) -> None:
    gh, _ = github
    sim, _ = llm
    repo, branch = f"acme/{case.fixture}-pull", "feature/more"
    gh.add_repo(repo, fixture_files(case.fixture))
    gh.set_permission(repo, "alice", "write")
    head = gh.push_branch(repo, branch, {case.changed: case.content}, message="the change")
    number = gh.add_pull(repo, branch, title="More", user="alice")
    new_file = f"{case.test_file}\n<<<<<<< NEW FILE\n{case.test_text}>>>>>>> NEW FILE\n"
    sim.script(
        script.CODER,
        tool_call("apply_edits", {"edits": new_file}),
        tool_call("finish", {"summary": "Tests for the change.", "tests": [case.test_id]}),
    )
    run_id = script.comment_command(service, gh, repo, number, "/agentops test", pull_request=True)
    run = wait_for(lambda: service.finished(run_id), 300, what=f"/agentops test on {repo}")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    tip = gh.branch_sha(repo, branch)
    assert tip is not None and tip != head
    assert _git(gh, repo, "diff", "--name-only", head, tip).split() == [case.test_file]
    steps = {s["name"]: s["detail"] for s in run["steps"]}
    assert "pass on the checked-out head" in steps["write-tests"]["verification"]
    assert steps["install"]["cache"] in ("stored", "hit")
    check = gh.check_run_of(repo, run_id)
    assert check["conclusion"] == "success" and "[x] install" in check["output"]["text"]
