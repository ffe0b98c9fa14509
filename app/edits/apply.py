"""Applying parsed edits: a pure planner over a file reader, and the thin layer that writes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from app.codemap.syntax import syntax_errors
from app.edits.diff import FileChange, render_diff
from app.edits.edit import Edit
from app.edits.files import read_repository_file, write_repository_file
from app.edits.matching import NotSpliced, body, splice, split_lines
from app.edits.policy import EditPolicy, PathRefused, checked_path

Reader = Callable[[str], bytes | None]
RefusalReason = Literal[
    "path",  # outside the repository, through a link, forbidden, or not a regular file
    "missing",  # a SEARCH in a file that does not exist
    "exists",  # a new-file block for a file that exists
    "encoding",  # not UTF-8 text
    "no match",
    "ambiguous",
    "empty",  # a SEARCH of blank lines only
    "no change",  # REPLACE equal to SEARCH
    "syntax",  # the file would no longer parse
]


@dataclass(frozen=True)
class Refusal:
    """An edit that was not applied, with a message that tells the model what to fix."""

    number: int
    path: str
    reason: RefusalReason
    message: str


@dataclass(frozen=True)
class EditResult:
    changes: tuple[FileChange, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    diff: str = ""
    applied: tuple[int, ...] = ()  # block numbers whose change is in `changes`
    forgiven: tuple[tuple[int, str], ...] = ()  # (block, what was forgiven) when not exact

    @property
    def files(self) -> tuple[str, ...]:
        """The paths written (or, from plan_edits, to be written)."""
        return tuple(change.path for change in self.changes)

    def feedback(self) -> str:
        """What to tell the model: every refusal, and which blocks need no resending."""
        if not self.refusals:
            return ""
        parts = [refusal.message for refusal in self.refusals]
        if self.applied:
            done = ", ".join(str(number) for number in self.applied)
            if len(self.applied) > 1:
                parts.append(f"Blocks {done} were applied; do not send them again.")
            else:
                parts.append(f"Block {done} was applied; do not send it again.")
        else:
            parts.append("No block was applied.")
        return "\n\n".join(parts)


@dataclass
class _FilePlan:
    before: str | None
    after: str | None
    applied: list[int] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    forgiven: list[tuple[int, str]] = field(default_factory=list)


def plan_edits(edits: Sequence[Edit], policy: EditPolicy, read: Reader) -> EditResult:
    """What the edits would make of the files `read` returns (None: no such file); no writes.

    Edits are applied in order; edits of one file see the changes of the ones before, and
    their line hints are read as lines of the file before any of them.
    """
    edits = numbered(edits)
    refusals: list[Refusal] = []
    by_path: dict[str, list[Edit]] = {}
    for edit in edits:
        try:
            path = checked_path(edit.path, policy)
        except PathRefused as refused:
            refusals.append(_refusal(edit, edit.path, "path", str(refused)))
            continue
        by_path.setdefault(path, []).append(edit)
    changes: list[FileChange] = []
    applied: list[int] = []
    forgiven: list[tuple[int, str]] = []
    for path, file_edits in by_path.items():
        try:
            raw = read(path)
        except PathRefused as refused:
            refusals.extend(_refusal(edit, path, "path", str(refused)) for edit in file_edits)
            continue
        plan = _plan_file(path, raw, file_edits, policy)
        refusals.extend(plan.refusals)
        if plan.applied and plan.after is not None and plan.after != plan.before:
            changes.append(FileChange(path, plan.before, plan.after))
        applied.extend(plan.applied)
        forgiven.extend(plan.forgiven)
    refusals.sort(key=lambda refusal: refusal.number)
    if refusals and policy.all_or_nothing:
        return EditResult(refusals=tuple(refusals))
    return EditResult(
        tuple(changes),
        tuple(refusals),
        render_diff(changes),
        tuple(sorted(applied)),
        tuple(sorted(forgiven)),
    )


def apply_edits(repo_root: Path, edits: Sequence[Edit], policy: EditPolicy) -> EditResult:
    """Apply the edits to the checkout at repo_root; refused edits write nothing.

    Each file is replaced atomically. Paths are checked against the policy, and a path
    through a symbolic link is refused.
    """
    root = Path(repo_root)
    edits = numbered(edits)
    planned = plan_edits(edits, policy, lambda path: read_repository_file(root, path))
    written: list[FileChange] = []
    refusals = list(planned.refusals)
    withdrawn: set[int] = set()
    for change in planned.changes:
        try:
            write_repository_file(root, change.path, change.after.encode("utf-8"))
        except PathRefused as refused:
            for edit in edits:
                if edit.number in planned.applied and _same_path(edit.path, change.path):
                    refusals.append(_refusal(edit, change.path, "path", str(refused)))
                    withdrawn.add(edit.number)
            continue
        written.append(change)
    if not withdrawn:
        return planned
    refusals.sort(key=lambda refusal: refusal.number)
    applied = tuple(number for number in planned.applied if number not in withdrawn)
    forgiven = tuple(item for item in planned.forgiven if item[0] not in withdrawn)
    return EditResult(tuple(written), tuple(refusals), render_diff(written), applied, forgiven)


def numbered(edits: Sequence[Edit]) -> list[Edit]:
    """The edits, renumbered 1, 2, … by position when their numbers are not distinct
    (edits built in code rather than parsed all default to number 1)."""
    if len({edit.number for edit in edits}) == len(edits):
        return list(edits)
    return [replace(edit, number=position) for position, edit in enumerate(edits, 1)]


def _same_path(raw: str, normal: str) -> bool:
    return "/".join(part for part in raw.strip().split("/") if part not in ("", ".")) == normal


def _refusal(edit: Edit, path: str, reason: RefusalReason, detail: str) -> Refusal:
    return Refusal(edit.number, path, reason, f"Block {edit.number} ({path}): {detail}")


def _plan_file(path: str, raw: bytes | None, edits: list[Edit], policy: EditPolicy) -> _FilePlan:
    before: str | None = None
    if raw is not None:
        try:
            before = raw.decode("utf-8")
        except UnicodeDecodeError:
            before = None
        if before is None or "\x00" in before:
            return _FilePlan(
                None,
                None,
                refusals=[
                    _refusal(
                        e, path, "encoding", "the file is not UTF-8 text; it cannot be edited."
                    )
                    for e in edits
                ],
            )
    plan = _FilePlan(before, before)
    bom = "\ufeff" if before is not None and before.startswith("\ufeff") else ""
    lines = file_lines(before[len(bom) :]) if before is not None else None
    eol = _dominant_eol(lines or [])
    shifts: list[tuple[int, int, int]] = []
    for edit in edits:
        search, replace = split_lines(edit.search), split_lines(edit.replace)
        if edit.whole_file or not search:
            if lines is not None and "".join(lines).strip():
                plan.refusals.append(
                    _refusal(
                        edit,
                        path,
                        "exists",
                        (
                            "the file already exists; change it with SEARCH/REPLACE blocks "
                            "(a NEW FILE block, or an empty SEARCH, only creates a file)."
                        ),
                    )
                )
                continue
            lines = [line + eol for line in replace]
            plan.applied.append(edit.number)
            continue
        if lines is None:
            plan.refusals.append(
                _refusal(
                    edit,
                    path,
                    "missing",
                    (
                        "there is no such file. Check the path; to create the file, give its whole "
                        "content in a NEW FILE block."
                    ),
                )
            )
            continue
        hint = _shifted(edit.line_hint, shifts)
        spliced = splice(lines, search, replace, hint, eol)
        if isinstance(spliced, NotSpliced):
            plan.refusals.append(_refusal(edit, path, spliced.reason, spliced.detail))
            continue
        lines[spliced.start : spliced.end] = spliced.lines
        shifts.append((spliced.start, spliced.end - spliced.start, len(spliced.lines)))
        plan.applied.append(edit.number)
        if spliced.tier != "exact":
            plan.forgiven.append((edit.number, spliced.tier))
    if lines is not None:
        plan.after = bom + "".join(lines)
    if policy.check_syntax and plan.applied and plan.after != before and plan.after is not None:
        broken = _syntax_refusal(
            path, before, plan.after, [e for e in edits if e.number in plan.applied]
        )
        if broken:
            plan.refusals.extend(broken)
            plan.applied = []
            plan.forgiven = []
            plan.after = before
    return plan


def file_lines(text: str) -> list[str]:
    """The lines of a file with their endings ("\\n" or "\\r\\n"); only "\\n" splits."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def _dominant_eol(lines: list[str]) -> str:
    crlf = sum(1 for line in lines if line.endswith("\r\n"))
    return "\r\n" if crlf * 2 > len(lines) else "\n"


def _shifted(hint: int | None, shifts: list[tuple[int, int, int]]) -> int | None:
    """A line number of the original file, moved by the edits already applied above it."""
    if hint is None:
        return None
    for start, old, new in shifts:
        if hint - 1 >= start + old:
            hint += new - old
        elif hint - 1 >= start:
            hint = start + 1
    return hint


def _syntax_refusal(path: str, before: str | None, after: str, edits: list[Edit]) -> list[Refusal]:
    errors = syntax_errors(path, after.encode("utf-8"))
    if not errors:
        return []
    if before is not None and syntax_errors(path, before.encode("utf-8")):
        return []  # it did not parse before either: nothing to blame on these edits
    shown = "; ".join(
        f"line {line}, column {column}: {message}" for line, column, message in errors[:3]
    )
    lines = file_lines(after)
    first = errors[0][0]
    excerpt = "\n".join(
        f"{n:>5}| {body(lines[n - 1])}"
        for n in range(max(1, first - 3), min(len(lines), first + 3) + 1)
    )
    numbers = ", ".join(str(edit.number) for edit in edits)
    blocks = f"blocks {numbers}" if len(edits) > 1 else f"block {numbers}"
    undone = f"None of {blocks} was applied" if len(edits) > 1 else "It was not applied"
    state = "would not parse" if before is None else "would no longer parse"
    first_block = edits[0].number
    message = (
        f"with {blocks} applied the file {state}: {shown}. The lines around line "
        f"{first} would be:\n{excerpt}\n{undone} to {path}; fix and send again."
    )
    return [
        _refusal(
            edit,
            path,
            "syntax",
            message
            if edit.number == first_block
            else (
                f"not applied, because with {blocks} the file {state} (see block {first_block})."
            ),
        )
        for edit in edits
    ]
