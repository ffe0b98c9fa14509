"""What the prepare phase installs, read from a repository's files."""

from __future__ import annotations

from pathlib import Path

from app.prepare import plan_for
from app.prepare.plan import setup_py_requirements
from app.prepare.run import _short
from app.sandbox import Runner
from tests.integration.sandbox.repos import write_repo


def test_requirements_files_get_a_venv_and_pytest(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path, {"requirements.txt": "requests==2.32.3\n", "requirements-dev.txt": "x\n"}
    )
    plan = plan_for(root, python="/py/bin/python")
    [step] = plan.steps
    assert step.tool == "pip"
    assert step.commands[0] == "/py/bin/python -m venv /deps/venv"
    assert "-r requirements.txt -r requirements-dev.txt" in step.commands[1]
    assert "import pytest" in step.commands[2]
    assert step.inputs == ("requirements.txt", "requirements-dev.txt")
    assert not plan.not_cached


def test_pyproject_dependencies_test_extras_and_lock_pins(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path,
        {
            "pyproject.toml": """
            [project]
            name = "app"
            dependencies = ["pydantic>=2", "requests", "--index-url=http://evil/", "-e ."]
            [project.optional-dependencies]
            test = ["pytest>=8"]
            docs = ["sphinx"]
            """,
            "uv.lock": """
            [[package]]
            name = "pydantic"
            version = "2.9.2"
            source = { registry = "https://pypi.org/simple" }
            [[package]]
            name = "app"
            version = "0.1.0"
            source = { editable = "." }
            """,
        },
    )
    [step] = plan_for(root).steps
    assert step.files["requirements.txt"] == "pydantic>=2\nrequests\npytest>=8\n"
    assert step.files["constraints.txt"] == "pydantic==2.9.2\n"
    assert "-c /deps/.agentops/constraints.txt" in step.commands[1]
    assert step.inputs == ("pyproject.toml", "uv.lock")


def test_poetry_and_setup_cfg(tmp_path: Path) -> None:
    poetry = write_repo(
        tmp_path / "p",
        {
            "pyproject.toml": """
            [tool.poetry.dependencies]
            python = "^3.11"
            httpx = "^0.27"
            [tool.poetry.group.dev.dependencies]
            pytest = "*"
            """
        },
    )
    assert plan_for(poetry).steps[0].files["requirements.txt"] == "httpx\npytest\n"
    cfg = write_repo(
        tmp_path / "c",
        {"setup.cfg": "[options]\ninstall_requires =\n    asgiref>=3.2\n    sqlparse\n"},
    )
    assert plan_for(cfg).steps[0].files["requirements.txt"] == "asgiref>=3.2\nsqlparse\n"


def test_lockfiles_choose_the_javascript_installer(tmp_path: Path) -> None:
    for lock, command in (
        ("package-lock.json", "npm ci"),
        ("pnpm-lock.yaml", "corepack pnpm install --frozen-lockfile"),
        ("yarn.lock", "corepack yarn install --frozen-lockfile"),
    ):
        root = write_repo(tmp_path / lock, {"package.json": "{}", lock: "{}"})
        [step] = plan_for(root).steps
        assert step.commands[0].startswith(command)
        assert step.inputs == ("package.json", lock)
    bare = write_repo(tmp_path / "bare", {"package.json": "{}"})
    assert plan_for(bare).steps[0].commands[0].startswith("npm install")


def test_composer_go_and_several_at_once(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path,
        {
            "composer.json": "{}",
            "composer.lock": "{}",
            "go.mod": "module x\n",
            "go.sum": "",
            "package.json": '{"devDependencies": {"lib": "file:../lib"}}',
        },
    )
    plan = plan_for(root)
    assert [s.tool for s in plan.steps] == ["npm", "composer", "go"]
    assert plan.steps[1].inputs == ("composer.json", "composer.lock")
    assert plan.steps[2].commands == ("go mod download",)
    assert plan.not_cached == "package.json depends on files of the repository"


def test_setup_replaces_detection_and_is_not_cached(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"requirements.txt": "x\n"})
    plan = plan_for(root, ["pip install --target /deps/site -r requirements.txt"])
    assert plan.source == ".agentops.yml"
    assert [s.tool for s in plan.steps] == ["setup"] and plan.not_cached


def test_nothing_to_install_and_a_src_layout(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"src/pkg/__init__.py": "", "tests/test_x.py": ""})
    plan = plan_for(root)
    assert plan.empty and plan.describe() == "nothing to install"
    assert plan.test_env == {"PYTHONPATH": "/workspace/src"}
    flat = write_repo(tmp_path / "flat", {"src/__init__.py": "", "src/a.py": ""})
    assert plan_for(flat).test_env == {}


def test_a_linked_lockfile_is_no_input(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"package.json": "{}"})
    (root / "package-lock.json").symlink_to("/etc/passwd")
    [step] = plan_for(root).steps
    assert step.inputs == ("package.json",)  # the link is neither read nor hashed


def test_cache_key_follows_every_input(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"package.json": "{}", "package-lock.json": "{}"})
    plan = plan_for(root)
    key = plan.cache_key(root, "node=v20")
    assert key == plan.cache_key(root, "node=v20")
    assert key != plan.cache_key(root, "node=v22")
    (root / "package-lock.json").write_text('{"lockfileVersion": 3}')
    assert key != plan.cache_key(root, "node=v20")


def test_failure_names_are_short() -> None:
    assert _short("composer install --no-interaction --prefer-dist") == "composer install"
    assert _short("npm ci --no-audit") == "npm ci"
    assert _short("/deps/venv/bin/python -m pip install -r r.txt") == "python pip install"


def test_only_what_the_tests_runner_needs_is_installed(tmp_path: Path) -> None:
    # Django's own repository: a Python project with a package.json for its JavaScript tests
    root = write_repo(
        tmp_path / "repo",
        {"requirements.txt": "asgiref\n", "package.json": '{"devDependencies": {"qunit": "1"}}'},
    )

    def steps(runner: Runner | None) -> list[str]:
        return [s.tool for s in plan_for(root, runner=runner).steps]

    assert steps(Runner.DJANGO) == steps(Runner.PYTEST) == ["pip"]
    assert steps(Runner.JEST) == ["npm"]
    assert steps(Runner.CUSTOM) == steps(None) == ["pip", "npm"]
    assert steps(Runner.GO) == []


def test_setup_py_is_read_as_literals_never_run(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path / "repo",
        {
            "setup.py": (
                "import os\nfrom setuptools import setup\n"
                "os.system('touch /tmp/ran')\n"
                "setup(name='x', install_requires=['pytz', 'sqlparse >= 0.2.2'],\n"
                "      extras_require={'test': ['pytest-django'], 'argon2': ['argon2-cffi']})\n"
            )
        },
    )
    [step] = plan_for(root).steps
    assert step.inputs == ("setup.py",)
    assert step.files["requirements.txt"] == "pytz\nsqlparse >= 0.2.2\npytest-django\n"
    assert setup_py_requirements("setup(install_requires=deps())\n") == []
    assert setup_py_requirements("setup(install_requires=['-e .', '--index-url=x'])\n") == []
    assert setup_py_requirements("(" * 100_000) == []  # not Python: nothing, no crash
