"""Small helpers: apply model text to in-memory files, without touching the disk."""

from __future__ import annotations

from app.edits import EditPolicy, EditResult, parse_edits, plan_edits


def run(files: dict[str, str], model_text: str, policy: EditPolicy | None = None) -> EditResult:
    raw = {path: text.encode() for path, text in files.items()}
    return plan_edits(parse_edits(model_text), policy or EditPolicy(), raw.get)


def after(result: EditResult, path: str) -> str:
    for change in result.changes:
        if change.path == path:
            return change.after
    raise AssertionError(f"{path} was not changed: {result.feedback()}")


def block(path: str, search: str, replace: str, hint: int | None = None) -> str:
    line = f"@@ line {hint}\n" if hint is not None else ""
    return f"{path}\n{line}<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"
