"""Running only some tests: test ids → the argv of the command's runner (pure).

Test ids follow pytest's `path::name` shape in every ecosystem; Python runners that take
dotted labels accept those too:

| runner   | a test id                     | runs as                                        |
|----------|-------------------------------|------------------------------------------------|
| pytest   | `tests/test_x.py::test_y`     | `python -m pytest tests/test_x.py::test_y`     |
| unittest | `tests/test_x.py::C::test_y`  | `python -m unittest tests.test_x.C.test_y`     |
| django   | `tests/app/tests.py::C::test` | `python tests/runtests.py app.tests.C.test`    |
| jest     | `src/a.test.js` or `…::name`  | `npx jest src/a.test.js -t name`               |
| vitest   | `src/a.test.ts` or `…::name`  | `npx vitest run src/a.test.ts -t name`         |
| go       | `pkg/dir::TestName`, `Test…`  | `go test ./pkg/dir -run '^TestName$'`          |
| cargo    | `module::test_name`           | `cargo test -- --exact module::test_name`      |
| phpunit  | `tests/XTest.php::testY`      | `vendor/bin/phpunit --filter testY tests/XTest.php` |
| pest     | same as phpunit               | `vendor/bin/pest --filter testY tests/XTest.php` |
| other    | as the repository names them  | `test_select:` with `{tests}` (`.agentops.yml`) |

unittest and Django also take dotted labels as ids (`app.tests.C.test`). Django's labels
start where its runner looks for them: `tests/` for Django's own
`tests/runtests.py`, the project's root for `manage.py test`. A command of another runner
without `test_select:` cannot select tests: `select_tests` raises `SelectionUnsupported`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from app.sandbox.test_commands import (
    PLACEHOLDER,
    Runner,
    SelectionUnsupported,
    TestCommand,
    django_label_root,
    env_prefix,
)

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def select_tests(command: TestCommand, test_ids: Sequence[str]) -> tuple[str, ...]:
    """argv that runs only `test_ids` with this command's runner (see the module table)."""
    if not test_ids:
        raise ValueError("no test ids to select")
    for test_id in test_ids:
        if not test_id or test_id.startswith("-") or "\n" in test_id:
            raise ValueError(f"not a test id: {test_id!r}")
    if command.select:
        return _from_template(command.select, test_ids)
    runner = command.runner
    if runner is Runner.PYTEST:
        return (*command.argv, *test_ids)
    if runner is Runner.UNITTEST:
        return (*command.argv, *(dotted_label(t, ".") for t in test_ids))
    if runner is Runner.DJANGO:
        root = django_label_root(command.argv) or "."
        return (*command.argv, *(dotted_label(t, root) for t in test_ids))
    # these runners get an argv of their own; the command's `env NAME=value` stays in front
    prefix = env_prefix(command.argv)
    if runner in (Runner.JEST, Runner.VITEST):
        return (*prefix, *_select_js(command, test_ids))
    if runner is Runner.GO:
        return (*prefix, *_select_go(test_ids))
    if runner is Runner.CARGO:
        return (*prefix, "cargo", "test", "--", "--exact", *test_ids)
    if runner in (Runner.PHPUNIT, Runner.PEST):
        return _select_php(command, test_ids)
    raise SelectionUnsupported(
        f"cannot run single tests with {command.display()!r} (set `test_select:` in "
        ".agentops.yml); the whole command runs instead"
    )


def split_id(test_id: str) -> tuple[str, str]:
    path, sep, name = test_id.partition("::")
    return (path, name) if sep else (test_id, "")


def dotted_label(test_id: str, root: str) -> str:
    """`tests/app/tests.py::C::test_y` → `app.tests.C.test_y` for labels starting at
    `root` (`tests`); a dotted label stays as it is."""
    path, name = split_id(test_id)
    if not name and not path.endswith(".py") and "/" not in path:
        label = path
    else:
        file = PurePosixPath(path.split("[", 1)[0])
        if root not in ("", "."):
            if not file.is_relative_to(root):
                raise ValueError(f"{test_id!r} is not under {root}/, where the labels start")
            file = file.relative_to(root)
        parts = file.with_suffix("").parts if file.suffix == ".py" else file.parts
        label = ".".join([*parts, *(n for n in name.split("::") if n)])
    if not _LABEL.fullmatch(label):
        raise ValueError(f"not a test label: {test_id!r}")
    return label


def _from_template(template: tuple[str, ...], test_ids: Sequence[str]) -> tuple[str, ...]:
    argv: list[str] = []
    for word in template:
        if word == PLACEHOLDER:
            argv += test_ids
        else:
            argv.append(word.replace(PLACEHOLDER, " ".join(test_ids)))
    return tuple(argv)


def _select_js(command: TestCommand, test_ids: Sequence[str]) -> tuple[str, ...]:
    base = ("npx", "vitest", "run") if command.runner is Runner.VITEST else ("npx", "jest")
    paths = [p for p, _ in map(split_id, test_ids)]
    names = [n for _, n in map(split_id, test_ids) if n]
    argv = [*base, *dict.fromkeys(paths)]
    if names:
        argv += ["-t", "|".join(f"^{re.escape(n)}$" for n in names)]
    return tuple(argv)


def _select_go(test_ids: Sequence[str]) -> tuple[str, ...]:
    packages: list[str] = []
    names: list[str] = []
    for test_id in test_ids:
        path, name = split_id(test_id)
        if not name:  # a bare TestName
            path, name = "", path
        packages.append("./" + path.strip("/") if path not in ("", ".") else ".")
        names.append(re.escape(name))
    pattern = "^(" + "|".join(names) + ")$"
    return ("go", "test", *dict.fromkeys(packages), "-run", pattern)


def _select_php(command: TestCommand, test_ids: Sequence[str]) -> tuple[str, ...]:
    paths = [p for p, _ in map(split_id, test_ids) if p.endswith(".php")]
    names = [n or p for p, n in map(split_id, test_ids) if n or not p.endswith(".php")]
    argv = list(command.argv)
    if names:
        argv += ["--filter", "|".join(re.escape(n) for n in names)]
    argv += list(dict.fromkeys(paths))[:1]  # phpunit takes one path argument
    return tuple(argv)
