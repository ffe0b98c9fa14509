"""GitLab webhook events (`X-Gitlab-Event`) → `RunRequest`, `LabelCheck` or `Ignored`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from app.commands import (
    Command,
    TargetKind,
    command_for_label,
    operator_owns_label,
    parse_comment,
)
from app.events import (
    Ignored,
    LabelCheck,
    Outcome,
    PayloadError,
    RunRequest,
    TenantKey,
    parse_payload,
)
from app.forges.gitlab.spec import KIND


class GitLabContext:
    def __init__(
        self,
        instance_url: str,
        bot_username: str | None,
        labels: Mapping[str, str],
        repository_labels: bool = True,
    ) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.bot_username = bot_username
        self.labels = labels
        self.repository_labels = repository_labels  # other labels go to .agentops.yml


class _User(BaseModel):
    username: str
    id: int | None = None


class _Project(BaseModel):
    id: int
    path_with_namespace: str


class _NoteAttributes(BaseModel):
    id: int
    note: str
    noteable_type: str
    action: str | None = None


class _Numbered(BaseModel):
    iid: int


class _NoteHook(BaseModel):
    user: _User
    project: _Project
    object_attributes: _NoteAttributes
    issue: _Numbered | None = None
    merge_request: _Numbered | None = None


class _LabelRef(BaseModel):
    title: str


class _LabelChange(BaseModel):
    previous: list[_LabelRef] = []
    current: list[_LabelRef] = []


class _Changes(BaseModel):
    labels: _LabelChange | None = None


class _Attributes(BaseModel):
    iid: int
    action: str | None = None
    updated_at: str | None = None


class _LabelHook(BaseModel):
    user: _User
    project: _Project
    object_attributes: _Attributes
    changes: _Changes = _Changes()


def interpret(event_name: str, data: Any, delivery_id: str, ctx: GitLabContext) -> Outcome:
    """The meaning of one verified GitLab delivery."""
    if not isinstance(data, dict):
        raise PayloadError("payload must be a JSON object")
    handler = _HANDLERS.get(event_name)
    if handler is None:
        return Ignored(f"event {event_name or '(none)'} is not handled")
    user = data.get("user")
    if isinstance(user, dict) and _is_bot(user, ctx):
        return Ignored("sent by a bot")
    return handler(data, delivery_id, ctx)


def project_path(data: Any) -> str | None:
    """The project a payload names (`project.path_with_namespace`), whose hook token it
    must carry; None when there is none."""
    project = data.get("project") if isinstance(data, dict) else None
    path = project.get("path_with_namespace") if isinstance(project, dict) else None
    return path if isinstance(path, str) else None


def _is_bot(user: Mapping[str, Any], ctx: GitLabContext) -> bool:
    username = user.get("username")
    if ctx.bot_username is not None and username == ctx.bot_username:
        return True
    # Project and group access tokens act as users named project_<id>_bot_<hash>.
    return (
        isinstance(username, str)
        and username.startswith(("project_", "group_"))
        and ("_bot" in username)
    )


def _tenant(ctx: GitLabContext, project: _Project) -> TenantKey:
    return TenantKey(KIND, f"{ctx.instance_url}#{project.id}", project.path_with_namespace)


def _context(ctx: GitLabContext, project: _Project) -> dict[str, Any]:
    return {"project_id": project.id, "instance_url": ctx.instance_url}


def on_note(data: Any, delivery_id: str, ctx: GitLabContext) -> Outcome:
    hook = parse_payload(_NoteHook, data)
    note = hook.object_attributes
    if note.action not in (None, "create"):
        return Ignored("edited notes never trigger")
    kind: TargetKind
    if note.noteable_type == "Issue" and hook.issue is not None:
        kind, number = "issue", hook.issue.iid
    elif note.noteable_type == "MergeRequest" and hook.merge_request is not None:
        kind, number = "pull_request", hook.merge_request.iid
    else:
        return Ignored(f"notes on {note.noteable_type} are not handled")
    command = parse_comment(note.note)
    if command is None:
        return Ignored("no /agentops command in the note")
    return RunRequest(
        tenant=_tenant(ctx, hook.project),
        repo=hook.project.path_with_namespace,
        target_kind=kind,
        target_number=number,
        command=command,
        requested_by=hook.user.username,
        trigger="comment",
        trigger_key=note_event_key(ctx, hook.project, note.id),
        comment_id=note.id,
        context=_context(ctx, hook.project),
    )


def _key_path(project: _Project) -> str:
    # The path, which the hook token proved, not the payload's numeric id: a project's
    # token cannot claim the keys of another project's notes or labels ahead of them.
    return project.path_with_namespace.strip("/").lower()


def note_event_key(ctx: GitLabContext, project: _Project, note_id: int) -> str:
    """A note's content: its id, which GitLab never gives another note."""
    return f"gitlab:{ctx.instance_url}:note:{_key_path(project)}:{note_id}"


def label_event_key(
    ctx: GitLabContext, hook: _LabelHook, kind: TargetKind, added: list[str], delivery_id: str
) -> str:
    """A label event's content: the project, the issue or merge request, the labels added
    and the `updated_at` the change gave it, so that a body sent again under a new
    Idempotency-Key starts nothing. Without `updated_at` the delivery id stands in."""
    when = hook.object_attributes.updated_at or f"delivery {delivery_id}"
    number = hook.object_attributes.iid
    labels = ",".join(added)
    project = _key_path(hook.project)
    return f"gitlab:{ctx.instance_url}:label:{project}:{kind}:{number}:{labels}:{when}"


def _labels_added(hook: _LabelHook) -> list[str]:
    change = hook.changes.labels
    if change is None:
        return []
    before = {label.title for label in change.previous}
    return [label.title for label in change.current if label.title not in before]


def _on_labels(kind: TargetKind) -> Callable[[Any, str, GitLabContext], Outcome]:
    def handle(data: Any, delivery_id: str, ctx: GitLabContext) -> Outcome:
        hook = parse_payload(_LabelHook, data)
        added = _labels_added(hook)
        trigger_key = label_event_key(ctx, hook, kind, added, delivery_id)
        command: Command | None = None
        label = ""
        for label in added:
            command = command_for_label(label, kind, ctx.labels)
            if command is not None:
                break
        if command is None:
            unknown = tuple(a for a in added if not operator_owns_label(a, ctx.labels))
            if unknown and ctx.repository_labels:
                return LabelCheck(
                    _tenant(ctx, hook.project),
                    hook.project.path_with_namespace,
                    kind,
                    hook.object_attributes.iid,
                    unknown,
                    hook.user.username,
                    trigger_key,
                    _context(ctx, hook.project),
                )
            return Ignored("no label that starts a command was added")
        return RunRequest(
            tenant=_tenant(ctx, hook.project),
            repo=hook.project.path_with_namespace,
            target_kind=kind,
            target_number=hook.object_attributes.iid,
            command=command,
            requested_by=hook.user.username,
            trigger="label",
            trigger_key=trigger_key,
            context={**_context(ctx, hook.project), "label": label},
        )

    return handle


_HANDLERS: dict[str, Callable[[Any, str, GitLabContext], Outcome]] = {
    "Note Hook": on_note,
    "Issue Hook": _on_labels("issue"),
    "Merge Request Hook": _on_labels("pull_request"),
}
