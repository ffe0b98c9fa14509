"""GitHub events → RunRequest, LabelCheck, TenantChange or Ignored (pure, no I/O)."""

from __future__ import annotations

import copy
from typing import Any, Literal

import pytest
from gidgethub import sansio

from app.commands import DEFAULT_LABELS, Command, CommandName
from app.events import (
    Ignored,
    LabelCheck,
    PayloadError,
    RunRequest,
    TenantChange,
    TenantKey,
)
from handlers.github import GitHubContext, interpret

APP_ID = 4242
CTX = GitHubContext(APP_ID, "agentops-app[bot]", DEFAULT_LABELS)
REPO = {"id": 99, "full_name": "octo/widgets"}
INSTALLATION = {"id": 777}
ALICE = {"login": "alice", "type": "User"}


def event(name: str, data: Any, delivery_id: str = "d-1") -> sansio.Event:
    return sansio.Event(data, event=name, delivery_id=delivery_id)


def issue_comment(
    body: str | None = "/agentops implement",  # None: GitHub sends null for an empty one
    *,
    pull_request: bool = False,
    action: str = "created",
    **overrides: Any,
) -> dict[str, Any]:
    issue: dict[str, Any] = {"number": 12}
    if pull_request:
        issue["pull_request"] = {"url": "https://api.github.com/repos/octo/widgets/pulls/12"}
    data: dict[str, Any] = {
        "action": action,
        "sender": ALICE,
        "repository": REPO,
        "installation": INSTALLATION,
        "issue": issue,
        "comment": {"id": 5001, "body": body, "user": ALICE, "performed_via_github_app": None},
    }
    data.update(overrides)
    return data


LABELED_AT = "2026-12-03T08:00:00Z"


def labeled(kind: str, label: str, updated_at: str | None = LABELED_AT) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": "labeled",
        "sender": ALICE,
        "repository": REPO,
        "installation": INSTALLATION,
        "label": {"name": label},
    }
    if kind == "issues":
        data["issue"] = {"number": 3, "updated_at": updated_at}
    else:
        data["number"] = 8
        data["pull_request"] = {"number": 8, "updated_at": updated_at}
    return data


def check_run(
    action: str,
    *,
    identifier: str | None = None,
    external_id: str | None = "41",
    app_id: int | None = APP_ID,
) -> dict[str, Any]:
    run: dict[str, Any] = {"id": 3003, "head_sha": "a" * 40, "external_id": external_id}
    if app_id is not None:
        run["app"] = {"id": app_id}
    data: dict[str, Any] = {
        "action": action,
        "sender": ALICE,
        "repository": REPO,
        "installation": INSTALLATION,
        "check_run": run,
    }
    if identifier is not None:
        data["requested_action"] = {"identifier": identifier}
    return data


def installation(event_action: str) -> dict[str, Any]:
    return {
        "action": event_action,
        "sender": ALICE,
        "installation": {"id": 777, "account": {"login": "octo", "type": "Organization"}},
    }


# --- issue_comment -----------------------------------------------------------------------


def test_comment_on_an_issue_requests_a_run() -> None:
    outcome = interpret(event("issue_comment", issue_comment("/agentops implement now")), CTX)
    assert outcome == RunRequest(
        tenant=TenantKey("github", "777", ""),
        repo="octo/widgets",
        target_kind="issue",
        target_number=12,
        command=Command("implement", "now"),
        requested_by="alice",
        trigger="comment",
        trigger_key="github:comment:5001",
        comment_id=5001,
        context={"installation_id": 777, "repo_id": 99},
    )


def test_comment_on_a_pull_request_targets_the_pull_request() -> None:
    outcome = interpret(
        event("issue_comment", issue_comment("/agentops review", pull_request=True)), CTX
    )
    assert isinstance(outcome, RunRequest)
    assert outcome.target_kind == "pull_request"
    assert outcome.target_number == 12
    assert outcome.command == Command("review")


def test_the_same_comment_in_two_deliveries_has_one_trigger_key() -> None:
    first = interpret(event("issue_comment", issue_comment(), "d-1"), CTX)
    second = interpret(event("issue_comment", issue_comment(), "d-2"), CTX)
    assert isinstance(first, RunRequest) and isinstance(second, RunRequest)
    assert first.trigger_key == second.trigger_key


def test_unknown_command_becomes_help() -> None:
    outcome = interpret(event("issue_comment", issue_comment("/agentops frobnicate")), CTX)
    assert isinstance(outcome, RunRequest)
    assert outcome.command == Command("help", unknown="frobnicate")


def test_comment_without_a_command_is_ignored() -> None:
    outcome = interpret(event("issue_comment", issue_comment("LGTM")), CTX)
    assert outcome == Ignored("no /agentops command in the comment")


def test_comment_with_a_null_body_is_ignored() -> None:
    outcome = interpret(event("issue_comment", issue_comment(None)), CTX)
    assert outcome == Ignored("no /agentops command in the comment")


@pytest.mark.parametrize("action", ["edited", "deleted"])
def test_edited_and_deleted_comments_never_trigger(action: str) -> None:
    outcome = interpret(event("issue_comment", issue_comment(action=action)), CTX)
    assert outcome == Ignored(f"event issue_comment.{action} is not handled")


# --- loop safety -------------------------------------------------------------------------


def test_bot_senders_are_ignored() -> None:
    data = issue_comment(sender={"login": "dependabot[bot]", "type": "Bot"})
    assert interpret(event("issue_comment", data), CTX) == Ignored("sent by a bot")


def test_our_own_bot_login_is_ignored_even_if_typed_user() -> None:
    data = issue_comment(sender={"login": "agentops-app[bot]", "type": "User"})
    assert interpret(event("issue_comment", data), CTX) == Ignored("sent by a bot")


def test_comments_written_through_an_app_are_ignored() -> None:
    data = issue_comment()
    data["comment"]["performed_via_github_app"] = {"id": APP_ID, "slug": "agentops-app"}
    assert interpret(event("issue_comment", data), CTX) == Ignored("comment written by an app")


def test_comment_authored_by_a_bot_is_ignored() -> None:
    data = issue_comment()
    data["comment"]["user"] = {"login": "ci[bot]", "type": "Bot"}
    assert interpret(event("issue_comment", data), CTX) == Ignored("comment written by an app")


def test_bot_labels_are_ignored() -> None:
    data = labeled("issues", "agentops")
    data["sender"] = {"login": "renovate[bot]", "type": "Bot"}
    assert interpret(event("issues", data), CTX) == Ignored("sent by a bot")


def test_without_a_configured_slug_only_the_sender_type_counts() -> None:
    ctx = GitHubContext(None, None, DEFAULT_LABELS)
    data = issue_comment(sender={"login": "agentops-app[bot]", "type": "User"})
    assert isinstance(interpret(event("issue_comment", data), ctx), RunRequest)


# --- labels ------------------------------------------------------------------------------


def test_agentops_label_on_an_issue_implements_it() -> None:
    outcome = interpret(event("issues", labeled("issues", "agentops"), "d-lab"), CTX)
    assert outcome == RunRequest(
        tenant=TenantKey("github", "777", ""),
        repo="octo/widgets",
        target_kind="issue",
        target_number=3,
        command=Command("implement"),
        requested_by="alice",
        trigger="label",
        trigger_key=f"github:label:99:3:agentops:{LABELED_AT}",
        context={"installation_id": 777, "repo_id": 99, "label": "agentops"},
    )


def test_test_label_on_a_pull_request_adds_tests() -> None:
    outcome = interpret(event("pull_request", labeled("pull_request", "agentops:test")), CTX)
    assert isinstance(outcome, RunRequest)
    assert (outcome.target_kind, outcome.target_number) == ("pull_request", 8)
    assert outcome.command == Command("test")
    assert outcome.trigger == "label"


def test_issues_labeled_on_a_pull_request_counts_as_pull_request() -> None:
    data = labeled("issues", "agentops:test")
    data["issue"]["pull_request"] = {"url": "x"}
    outcome = interpret(event("issues", data), CTX)
    assert isinstance(outcome, RunRequest)
    assert outcome.target_kind == "pull_request"


def test_label_on_the_wrong_target_is_ignored() -> None:
    outcome = interpret(event("pull_request", labeled("pull_request", "agentops")), CTX)
    assert outcome == Ignored("label 'agentops' starts nothing on a pull request")
    outcome = interpret(event("issues", labeled("issues", "agentops:test")), CTX)
    assert outcome == Ignored("label 'agentops:test' starts nothing on an issue")


def test_other_labels_are_left_to_the_repository_config() -> None:
    outcome = interpret(event("issues", labeled("issues", "bot-please"), "d-lab"), CTX)
    assert outcome == LabelCheck(
        tenant=TenantKey("github", "777", ""),
        repo="octo/widgets",
        target_kind="issue",
        target_number=3,
        labels=("bot-please",),
        requested_by="alice",
        trigger_key=f"github:label:99:3:bot-please:{LABELED_AT}",  # as an operator label's
        context={"installation_id": 777, "repo_id": 99},
    )
    on_pull = interpret(event("pull_request", labeled("pull_request", "needs-review")), CTX)
    assert isinstance(on_pull, LabelCheck)
    assert (on_pull.target_kind, on_pull.target_number) == ("pull_request", 8)


def test_with_repository_labels_off_other_labels_are_ignored() -> None:
    ctx = GitHubContext(APP_ID, "agentops-app[bot]", DEFAULT_LABELS, repository_labels=False)
    outcome = interpret(event("issues", labeled("issues", "bot-please")), ctx)
    assert outcome == Ignored("label 'bot-please' starts nothing on an issue")
    assert isinstance(interpret(event("issues", labeled("issues", "agentops")), ctx), RunRequest)


def test_a_label_check_becomes_the_run_an_operator_label_would_make() -> None:
    check = interpret(event("issues", labeled("issues", "bot-please"), "d-lab"), CTX)
    assert isinstance(check, LabelCheck)
    request = check.run_request("bot-please", Command("implement"))
    operator = interpret(event("issues", labeled("issues", "agentops"), "d-lab"), CTX)
    assert isinstance(operator, RunRequest)
    assert request.trigger == operator.trigger
    assert request.trigger_key == check.trigger_key
    assert (request.tenant, request.repo, request.target_kind, request.target_number) == (
        operator.tenant,
        operator.repo,
        operator.target_kind,
        operator.target_number,
    )
    assert request.context == {
        "installation_id": 777,
        "repo_id": 99,
        "label": "bot-please",
        "label_source": "repository",
    }


def test_operator_labels_in_any_case_never_reach_the_repository_config() -> None:
    # `agentops` fits no pull request, and `AgentOps:Test` no issue: the operator's
    # labels mean that or nothing, whatever a repository's `labels:` says.
    outcome = interpret(event("pull_request", labeled("pull_request", "AgentOps")), CTX)
    assert outcome == Ignored("label 'AgentOps' starts nothing on a pull request")
    outcome = interpret(event("issues", labeled("issues", "AgentOps:Test")), CTX)
    assert isinstance(outcome, Ignored)


def test_labels_added_by_a_bot_are_ignored() -> None:
    data = labeled("issues", "bot-please") | {"sender": {"login": "ci", "type": "Bot"}}
    assert interpret(event("issues", data), CTX) == Ignored("sent by a bot")


def test_configured_labels_are_used() -> None:
    ctx = GitHubContext(APP_ID, None, {"robot": "plan"})
    outcome = interpret(event("issues", labeled("issues", "robot")), ctx)
    assert isinstance(outcome, RunRequest) and outcome.command == Command("plan")
    # `agentops` is not the operator's here, so the repository may give it a meaning.
    assert isinstance(interpret(event("issues", labeled("issues", "agentops")), ctx), LabelCheck)


def test_unlabeled_is_not_handled() -> None:
    data = labeled("issues", "agentops") | {"action": "unlabeled"}
    assert interpret(event("issues", data), CTX) == Ignored("event issues.unlabeled is not handled")


# --- check runs --------------------------------------------------------------------------


def test_rerequested_check_run_retries_the_run_it_names() -> None:
    outcome = interpret(event("check_run", check_run("rerequested"), "d-cr"), CTX)
    assert isinstance(outcome, RunRequest)
    assert outcome.command == Command("retry")
    assert outcome.refers_to_run == 41
    assert outcome.trigger == "check_run"
    assert outcome.trigger_key == "github:check_run:3003:rerequested:retry"
    assert outcome.context["check_run_id"] == 3003


# --- replays: the same event's content is the same key, whatever the delivery id --------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("issues", labeled("issues", "agentops")),
        ("issues", labeled("issues", "bot-please")),
        ("pull_request", labeled("pull_request", "agentops:test")),
        ("check_run", check_run("rerequested")),
        ("check_run", check_run("requested_action", identifier="retry")),
        ("issue_comment", issue_comment()),
    ],
)
def test_a_body_sent_again_under_a_new_delivery_id_has_the_same_key(
    name: str, data: dict[str, Any]
) -> None:
    first = interpret(event(name, data, "delivery-1"), CTX)
    replay = interpret(event(name, copy.deepcopy(data), "delivery-2"), CTX)
    assert isinstance(first, RunRequest | LabelCheck) and isinstance(
        replay, RunRequest | LabelCheck
    )
    assert first.trigger_key == replay.trigger_key
    assert "delivery" not in first.trigger_key


def test_a_new_labeling_of_the_same_label_is_a_new_key() -> None:
    first = interpret(event("issues", labeled("issues", "agentops")), CTX)
    again = interpret(
        event("issues", labeled("issues", "agentops", updated_at="2026-12-03T09:30:00Z")), CTX
    )
    other = interpret(event("issues", labeled("issues", "agentops:plan")), CTX)
    keys = {o.trigger_key for o in (first, again, other) if isinstance(o, RunRequest)}
    assert len(keys) == 3


def test_a_label_event_without_updated_at_falls_back_to_its_delivery_id() -> None:
    outcome = interpret(event("issues", labeled("issues", "agentops", None), "d-9"), CTX)
    assert isinstance(outcome, RunRequest)
    assert outcome.trigger_key == "github:label:99:3:agentops:delivery d-9"


def test_the_same_button_clicked_on_another_check_run_is_a_new_key() -> None:
    retry = check_run("requested_action", identifier="retry")
    other = copy.deepcopy(retry)
    other["check_run"]["id"] = 3004
    cancel = check_run("requested_action", identifier="cancel")
    keys = {
        o.trigger_key
        for o in (interpret(event("check_run", d), CTX) for d in (retry, other, cancel))
        if isinstance(o, RunRequest)
    }
    assert len(keys) == 3


@pytest.mark.parametrize("identifier", ["retry", "cancel"])
def test_requested_action_buttons(identifier: CommandName) -> None:
    outcome = interpret(
        event("check_run", check_run("requested_action", identifier=identifier)), CTX
    )
    assert isinstance(outcome, RunRequest)
    assert outcome.command == Command(identifier)


def test_unknown_requested_action_is_ignored() -> None:
    outcome = interpret(event("check_run", check_run("requested_action", identifier="deploy")), CTX)
    assert outcome == Ignored("check run action 'deploy' is not handled")


def test_check_run_of_another_app_is_ignored() -> None:
    outcome = interpret(event("check_run", check_run("rerequested", app_id=1)), CTX)
    assert outcome == Ignored("check run belongs to another app")
    outcome = interpret(event("check_run", check_run("rerequested", app_id=None)), CTX)
    assert outcome == Ignored("check run belongs to another app")


@pytest.mark.parametrize("external_id", [None, "", "abc", "-3", "4.5", "²", "१२"])
def test_check_run_without_our_run_id_is_ignored(external_id: str | None) -> None:
    outcome = interpret(event("check_run", check_run("rerequested", external_id=external_id)), CTX)
    assert outcome == Ignored("check run is not one of ours")


@pytest.mark.parametrize("action", ["created", "completed"])
def test_other_check_run_actions_are_not_handled(action: str) -> None:
    outcome = interpret(event("check_run", check_run(action)), CTX)
    assert outcome == Ignored(f"event check_run.{action} is not handled")


# --- installations -----------------------------------------------------------------------


@pytest.mark.parametrize("action", ["created", "deleted", "suspend", "unsuspend"])
def test_installation_changes_the_tenant(
    action: Literal["created", "deleted", "suspend", "unsuspend"],
) -> None:
    outcome = interpret(event("installation", installation(action)), CTX)
    assert outcome == TenantChange(TenantKey("github", "777", "octo"), action)


def test_other_installation_actions_change_nothing() -> None:
    outcome = interpret(event("installation", installation("new_permissions_accepted")), CTX)
    assert outcome == Ignored("installation.new_permissions_accepted changes nothing here")


@pytest.mark.parametrize("action", ["added", "removed"])
def test_installation_repositories(action: str) -> None:
    outcome = interpret(event("installation_repositories", installation(action)), CTX)
    assert outcome == TenantChange(TenantKey("github", "777", "octo"), "repositories")


# --- ignored and malformed ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("push", {"ref": "refs/heads/main"}, "event push is not handled"),
        ("star", {"action": "created"}, "event star.created is not handled"),
        ("issues", {"action": "opened"}, "event issues.opened is not handled"),
        ("issues", {"action": 5}, "event issues is not handled"),
        (
            "pull_request",
            {"action": "synchronize"},
            "event pull_request.synchronize is not handled",
        ),
    ],
)
def test_unknown_events_and_actions_are_ignored_with_a_reason(
    name: str, data: Any, reason: str
) -> None:
    assert interpret(event(name, data), CTX) == Ignored(reason)


@pytest.mark.parametrize("data", [[], "text", 3, None])
def test_payload_must_be_an_object(data: Any) -> None:
    with pytest.raises(PayloadError, match="payload must be a JSON object"):
        interpret(event("issue_comment", data), CTX)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("comment",), "comment"),
        (("comment", "id"), "comment.id"),
        (("installation",), "installation"),
        (("repository", "full_name"), "repository.full_name"),
        (("issue", "number"), "issue.number"),
        (("sender",), "sender"),
    ],
)
def test_missing_fields_are_payload_errors_naming_the_field(
    path: tuple[str, ...], field: str
) -> None:
    data = copy.deepcopy(issue_comment())
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    with pytest.raises(PayloadError, match=rf"payload field {field}: field required"):
        interpret(event("issue_comment", data), CTX)


def test_wrong_field_type_is_a_payload_error() -> None:
    data = issue_comment()
    data["issue"]["number"] = "twelve"
    with pytest.raises(PayloadError, match=r"payload field issue\.number"):
        interpret(event("issue_comment", data), CTX)


@pytest.mark.parametrize(
    "name,data",
    [
        ("issues", {"action": "labeled", "sender": ALICE}),
        (
            "pull_request",
            {
                "action": "labeled",
                "sender": ALICE,
                "repository": REPO,
                "installation": INSTALLATION,
                "label": {"name": "agentops:test"},
            },
        ),
        ("check_run", {"action": "rerequested", "sender": ALICE}),
        ("installation", {"action": "created", "sender": ALICE, "installation": {"id": 1}}),
        ("installation_repositories", {"action": "added", "sender": ALICE}),
    ],
)
def test_every_handled_event_reports_missing_fields(name: str, data: Any) -> None:
    with pytest.raises(PayloadError, match="payload field"):
        interpret(event(name, data), CTX)
