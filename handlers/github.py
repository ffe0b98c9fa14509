"""GitHub webhook events → `RunRequest`, `LabelCheck`, `TenantChange` or `Ignored`.

One function per event kind, chosen by (event, action). gidgethub's `Router` is not
used: it calls every matching callback for its effects, and these handlers return a
value instead. Payloads are validated into
small pydantic models holding only what we read; a missing field is a `PayloadError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gidgethub import sansio
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
    TenantChange,
    TenantKey,
    parse_payload,
)
from app.forges.github.spec import KIND


class GitHubContext:
    """What the handlers need to know of this service's own GitHub App."""

    def __init__(
        self,
        app_id: int | None,
        bot_login: str | None,
        labels: Mapping[str, str],
        repository_labels: bool = True,
    ) -> None:
        self.app_id = app_id
        self.bot_login = bot_login
        self.labels = labels
        self.repository_labels = repository_labels  # other labels go to .agentops.yml


class _User(BaseModel):
    login: str
    type: str = "User"


class _Repo(BaseModel):
    full_name: str
    id: int


class _Installation(BaseModel):
    id: int


class _InstallationWithAccount(BaseModel):
    id: int
    account: _User


class _Comment(BaseModel):
    id: int
    body: str | None = None
    user: _User
    performed_via_github_app: dict[str, Any] | None = None


class _Issue(BaseModel):
    number: int
    pull_request: dict[str, Any] | None = None
    updated_at: str | None = None


class _PullRequest(BaseModel):
    updated_at: str | None = None


class _Label(BaseModel):
    name: str


class _CheckRunApp(BaseModel):
    id: int


class _CheckRun(BaseModel):
    id: int
    head_sha: str
    external_id: str | None = None
    app: _CheckRunApp | None = None


class _RequestedAction(BaseModel):
    identifier: str


def label_event_key(
    repo_id: int, number: int, label: str, updated_at: str | None, delivery_id: str
) -> str:
    """A label event's content: GitHub never sends a new labeling of the same issue with
    the same label and the same `updated_at` (which the labeling itself moves), so a
    replayed body has the key of the event it copies, whatever its delivery id. Without
    `updated_at` (never in GitHub's own payloads) the delivery id stands in."""
    when = updated_at or f"delivery {delivery_id}"
    return f"github:label:{repo_id}:{number}:{label}:{when}"


def check_run_event_key(check_run_id: int, action: str, identifier: str) -> str:
    """A click on a check run's button (or its re-run): once per check run and action. A
    retried run shows its own, new check run, whose buttons have their own key."""
    return f"github:check_run:{check_run_id}:{action}:{identifier}"


class _Base(BaseModel):
    action: str
    sender: _User


class _RepoEvent(_Base):
    repository: _Repo
    installation: _Installation


class _IssueComment(_RepoEvent):
    comment: _Comment
    issue: _Issue


class _IssueLabeled(_RepoEvent):
    issue: _Issue
    label: _Label


class _PullRequestLabeled(_RepoEvent):
    number: int
    label: _Label
    pull_request: _PullRequest = _PullRequest()


class _CheckRunEvent(_RepoEvent):
    check_run: _CheckRun
    requested_action: _RequestedAction | None = None


class _InstallationEvent(_Base):
    installation: _InstallationWithAccount


def interpret_delivery(event_name: str, data: Any, delivery_id: str, ctx: GitHubContext) -> Outcome:
    """The meaning of one verified delivery, given its event name and parsed body."""
    return interpret(sansio.Event(data, event=event_name, delivery_id=delivery_id), ctx)


def interpret(event: sansio.Event, ctx: GitHubContext) -> Outcome:
    """The meaning of one verified GitHub delivery."""
    if not isinstance(event.data, dict):
        raise PayloadError("payload must be a JSON object")
    action = event.data.get("action")
    key = (event.event, action if isinstance(action, str) else None)
    handler = _HANDLERS.get(key) or _HANDLERS.get((event.event, None))
    if handler is None:
        what = f"{event.event}.{action}" if isinstance(action, str) else event.event
        return Ignored(f"event {what} is not handled")
    sender = event.data.get("sender")
    if isinstance(sender, dict) and _is_bot(sender, ctx):
        return Ignored("sent by a bot")
    return handler(event, ctx)


def _is_bot(sender: Mapping[str, Any], ctx: GitHubContext) -> bool:
    login = sender.get("login")
    return sender.get("type") == "Bot" or (ctx.bot_login is not None and login == ctx.bot_login)


def _tenant(installation_id: int, account: str = "") -> TenantKey:
    return TenantKey(KIND, str(installation_id), account)


def on_issue_comment(event: sansio.Event, ctx: GitHubContext) -> Outcome:
    data = parse_payload(_IssueComment, event.data)
    if data.comment.performed_via_github_app is not None or data.comment.user.type == "Bot":
        return Ignored("comment written by an app")
    command = parse_comment(data.comment.body or "")
    if command is None:
        return Ignored("no /agentops command in the comment")
    kind: TargetKind = "pull_request" if data.issue.pull_request is not None else "issue"
    return RunRequest(
        tenant=_tenant(data.installation.id),
        repo=data.repository.full_name,
        target_kind=kind,
        target_number=data.issue.number,
        command=command,
        requested_by=data.sender.login,
        trigger="comment",
        trigger_key=f"github:comment:{data.comment.id}",
        comment_id=data.comment.id,
        context={"installation_id": data.installation.id, "repo_id": data.repository.id},
    )


def on_issues_labeled(event: sansio.Event, ctx: GitHubContext) -> Outcome:
    data = parse_payload(_IssueLabeled, event.data)
    kind: TargetKind = "pull_request" if data.issue.pull_request is not None else "issue"
    return _labeled(event, ctx, data, data.issue.number, kind, data.issue.updated_at)


def on_pull_request_labeled(event: sansio.Event, ctx: GitHubContext) -> Outcome:
    data = parse_payload(_PullRequestLabeled, event.data)
    return _labeled(event, ctx, data, data.number, "pull_request", data.pull_request.updated_at)


def _labeled(
    event: sansio.Event,
    ctx: GitHubContext,
    data: _IssueLabeled | _PullRequestLabeled,
    number: int,
    kind: TargetKind,
    updated_at: str | None,
) -> Outcome:
    trigger_key = label_event_key(
        data.repository.id, number, data.label.name, updated_at, str(event.delivery_id)
    )
    context = {"installation_id": data.installation.id, "repo_id": data.repository.id}
    command = command_for_label(data.label.name, kind, ctx.labels)
    if command is None:
        if ctx.repository_labels and not operator_owns_label(data.label.name, ctx.labels):
            return LabelCheck(
                _tenant(data.installation.id),
                data.repository.full_name,
                kind,
                number,
                (data.label.name,),
                data.sender.login,
                trigger_key,
                context,
            )
        where = "an issue" if kind == "issue" else "a pull request"
        return Ignored(f"label {data.label.name!r} starts nothing on {where}")
    return RunRequest(
        tenant=_tenant(data.installation.id),
        repo=data.repository.full_name,
        target_kind=kind,
        target_number=number,
        command=command,
        requested_by=data.sender.login,
        trigger="label",
        trigger_key=trigger_key,
        context={**context, "label": data.label.name},
    )


def on_check_run(event: sansio.Event, ctx: GitHubContext) -> Outcome:
    data = parse_payload(_CheckRunEvent, event.data)
    check = data.check_run
    if ctx.app_id is not None and (check.app is None or check.app.id != ctx.app_id):
        return Ignored("check run belongs to another app")
    external_id = check.external_id or ""
    if not (external_id.isascii() and external_id.isdigit()):  # not "²", which int() refuses
        return Ignored("check run is not one of ours")
    if data.action == "rerequested":
        command = Command("retry")
    else:
        identifier = data.requested_action.identifier if data.requested_action else ""
        if identifier not in ("retry", "cancel"):
            return Ignored(f"check run action {identifier!r} is not handled")
        command = Command(identifier)  # type: ignore[arg-type]
    return RunRequest(
        tenant=_tenant(data.installation.id),
        repo=data.repository.full_name,
        target_kind="issue",  # replaced by the referred run's target at intake
        target_number=0,
        command=command,
        requested_by=data.sender.login,
        trigger="check_run",
        trigger_key=check_run_event_key(check.id, data.action, command.name),
        context={
            "installation_id": data.installation.id,
            "repo_id": data.repository.id,
            "check_run_id": check.id,
        },
        refers_to_run=int(external_id),
    )


def on_installation(event: sansio.Event, ctx: GitHubContext) -> Outcome:
    data = parse_payload(_InstallationEvent, event.data)
    tenant = _tenant(data.installation.id, data.installation.account.login)
    if data.action in ("created", "deleted", "suspend", "unsuspend"):
        return TenantChange(tenant, data.action)  # type: ignore[arg-type]
    return Ignored(f"installation.{data.action} changes nothing here")


def on_installation_repositories(event: sansio.Event, ctx: GitHubContext) -> Outcome:
    data = parse_payload(_InstallationEvent, event.data)
    return TenantChange(
        _tenant(data.installation.id, data.installation.account.login), "repositories"
    )


_HANDLERS = {
    ("issue_comment", "created"): on_issue_comment,
    ("issues", "labeled"): on_issues_labeled,
    ("pull_request", "labeled"): on_pull_request_labeled,
    ("check_run", "rerequested"): on_check_run,
    ("check_run", "requested_action"): on_check_run,
    ("installation", None): on_installation,
    ("installation_repositories", None): on_installation_repositories,
}
