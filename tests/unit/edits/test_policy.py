from __future__ import annotations

import pytest

from app.edits import EditPolicy, PathRefused, matches_glob
from app.edits.policy import checked_path
from tests.unit.edits.helpers import block, run


@pytest.mark.parametrize(
    ("path", "normal"),
    [("src/a.py", "src/a.py"), ("./src//a.py", "src/a.py"), (" src/a.py ", "src/a.py")],
)
def test_normal_form(path: str, normal: str) -> None:
    assert checked_path(path, EditPolicy()) == normal


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("../x", "leaves the repository"),
        ("src/../../x", "leaves the repository"),
        ("/etc/passwd", "absolute"),
        ("~/.bashrc", "absolute"),
        ("C:/x.py", "absolute"),
        ("src\\a.py", "`/`"),
        ("a\x00b", "control"),
        ("", "empty"),
        ("./", "names no file"),
        (".git/hooks/pre-commit", ".git"),
        ("sub/.GIT/config", ".git"),
        (".agentops.yml", "own settings"),
        ("a/" + "x" * 256, "too long"),
    ],
)
def test_refused_paths(path: str, needle: str) -> None:
    with pytest.raises(PathRefused, match=needle):
        checked_path(path, EditPolicy())


@pytest.mark.parametrize(
    "path",
    [
        ".github/workflows/ci.yml",
        ".github/workflows/sub/x.yaml",
        ".GitHub/Workflows/a.yml",
        ".gitlab-ci.yml",
        ".github/actions/setup/action.yml",
        ".github/actions/run.sh",
        "ci/deploy.gitlab-ci.yml",
        "templates/.gitlab-ci.yml",
        ".gitmodules",
        ".gitattributes",
        "src/.gitattributes",
    ],
)
def test_ci_definitions_only_when_allowed(path: str) -> None:
    with pytest.raises(PathRefused, match="CI definition"):
        checked_path(path, EditPolicy())
    assert checked_path(path, EditPolicy(allow_workflows=True)) == path


def test_other_github_files_are_fine() -> None:
    assert checked_path(".github/CODEOWNERS", EditPolicy()) == ".github/CODEOWNERS"
    assert checked_path("docs/workflows/x.md", EditPolicy()) == "docs/workflows/x.md"
    assert checked_path("docs/actions/x.md", EditPolicy()) == "docs/actions/x.md"
    assert checked_path("gitlab-ci.md", EditPolicy()) == "gitlab-ci.md"
    assert checked_path("src/.gitmodules.py", EditPolicy()) == "src/.gitmodules.py"


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("*.lock", ["poetry.lock", "a/b/yarn.lock"], ["lock.py"]),
        ("vendor/", ["vendor/x.py", "vendor/a/b.c"], ["src/vendor.py"]),
        ("vendor", ["vendor/x.py", "lib/vendor/y"], ["vendored/x"]),
        ("docs/**", ["docs/a.md", "docs/x/y.md"], ["src/docs/a.md"]),
        ("/setup.py", ["setup.py"], ["pkg/setup.py"]),
        (
            "src/**/generated/*.py",
            ["src/generated/a.py", "src/a/b/generated/c.py"],
            ["src/generated.py"],
        ),
        ("migrations/*.py", ["migrations/0001.py"], ["app/migrations/0001.py"]),
        ("**/migrations/**", ["app/migrations/0001.py", "migrations/x"], ["app/migrationsx/1"]),
        ("secret?.txt", ["secret1.txt"], ["secret12.txt", "secret/.txt"]),
        ("[ab].py", ["a.py", "x/b.py"], ["c.py"]),
    ],
)
def test_forbidden_globs(pattern: str, yes: list[str], no: list[str]) -> None:
    for path in yes:
        assert matches_glob(path, pattern), (pattern, path)
    for path in no:
        assert not matches_glob(path, pattern), (pattern, path)


def test_forbidden_glob_refusal_names_the_pattern() -> None:
    policy = EditPolicy(forbidden=("*.lock", "vendor/"))
    with pytest.raises(PathRefused, match=r"`vendor/` in `\.agentops\.yml`"):
        checked_path("vendor/lib.py", policy)


def test_refused_paths_become_refusals_and_other_blocks_still_apply() -> None:
    text = block("../evil.py", "x\n", "y\n") + block("a.py", "x = 1\n", "x = 2\n")
    text += block("vendor/v.py", "x\n", "y\n")
    result = run(
        {"a.py": "x = 1\n", "vendor/v.py": "x\n"}, text, EditPolicy(forbidden=("vendor/",))
    )
    assert [(r.number, r.reason) for r in result.refusals] == [(1, "path"), (3, "path")]
    assert result.files == ("a.py",)
    assert result.refusals[0].message.startswith("Block 1 (../evil.py): the path leaves")
