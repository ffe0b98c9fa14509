"""GitLab events (`X-Gitlab-Event`) → RunRequest, LabelCheck or Ignored (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from app.commands import DEFAULT_LABELS, Command
from app.events import Ignored, LabelCheck, PayloadError, RunRequest, TenantKey
from handlers.gitlab import GitLabContext, interpret, project_path

URL = "https://gitlab.example.com"
CTX = GitLabContext(URL + "/", "agentops-bot", DEFAULT_LABELS)
PROJECT = {"id": 5, "path_with_namespace": "team/app", "name": "app"}
ALICE = {"id": 11, "username": "alice", "name": "Alice"}


def note(
    body: str = "/agentops implement",
    *,
    on: str = "Issue",
    action: str | None = "create",
    user: dict[str, Any] | None = None,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {"id": 1244, "note": body, "noteable_type": on}
    if action is not None:
        attributes["action"] = action
    data: dict[str, Any] = {
        "object_kind": "note",
        "user": user or ALICE,
        "project": PROJECT,
        "object_attributes": attributes,
    }
    if on == "Issue":
        data["issue"] = {"iid": 17, "id": 901}
    elif on == "MergeRequest":
        data["merge_request"] = {"iid": 4, "id": 902}
    return data


UPDATED_AT = "2026-12-03 08:00:00 UTC"


def label_hook(
    kind: str,
    previous: list[str],
    current: list[str],
    user: dict[str, Any] | None = None,
    updated_at: str | None = UPDATED_AT,
) -> dict[str, Any]:
    return {
        "object_kind": kind,
        "user": user or ALICE,
        "project": PROJECT,
        "object_attributes": {"iid": 23, "action": "update", "updated_at": updated_at},
        "changes": {
            "labels": {
                "previous": [{"title": t} for t in previous],
                "current": [{"title": t} for t in current],
            }
        },
    }


def test_context_normalises_the_instance_url() -> None:
    assert CTX.instance_url == URL


# --- notes -------------------------------------------------------------------------------


def test_note_on_an_issue_requests_a_run() -> None:
    outcome = interpret("Note Hook", note("/agentops implement carefully"), "del-1", CTX)
    assert outcome == RunRequest(
        tenant=TenantKey("gitlab", f"{URL}#5", "team/app"),
        repo="team/app",
        target_kind="issue",
        target_number=17,
        command=Command("implement", "carefully"),
        requested_by="alice",
        trigger="comment",
        trigger_key=f"gitlab:{URL}:note:team/app:1244",
        comment_id=1244,
        context={"project_id": 5, "instance_url": URL},
    )


def test_note_on_a_merge_request_targets_the_merge_request() -> None:
    outcome = interpret("Note Hook", note("/agentops test", on="MergeRequest"), "d", CTX)
    assert isinstance(outcome, RunRequest)
    assert (outcome.target_kind, outcome.target_number) == ("pull_request", 4)
    assert outcome.command == Command("test")


def test_the_same_note_in_two_deliveries_has_one_trigger_key() -> None:
    first = interpret("Note Hook", note(), "del-1", CTX)
    second = interpret("Note Hook", note(), "del-2", CTX)
    assert isinstance(first, RunRequest) and isinstance(second, RunRequest)
    assert first.trigger_key == second.trigger_key


def test_note_without_an_action_field_counts_as_new() -> None:
    assert isinstance(interpret("Note Hook", note(action=None), "d", CTX), RunRequest)


def test_edited_notes_never_trigger() -> None:
    assert interpret("Note Hook", note(action="update"), "d", CTX) == Ignored(
        "edited notes never trigger"
    )


@pytest.mark.parametrize("on", ["Commit", "Snippet"])
def test_notes_on_commits_and_snippets_are_ignored(on: str) -> None:
    assert interpret("Note Hook", note(on=on), "d", CTX) == Ignored(
        f"notes on {on} are not handled"
    )


def test_note_claiming_an_issue_without_the_issue_is_ignored() -> None:
    data = note()
    del data["issue"]
    assert interpret("Note Hook", data, "d", CTX) == Ignored("notes on Issue are not handled")


def test_note_without_a_command_is_ignored() -> None:
    assert interpret("Note Hook", note("looks good"), "d", CTX) == Ignored(
        "no /agentops command in the note"
    )


def test_quoted_command_in_a_note_is_ignored() -> None:
    assert isinstance(interpret("Note Hook", note("> /agentops implement"), "d", CTX), Ignored)


def test_unknown_command_in_a_note_becomes_help() -> None:
    outcome = interpret("Note Hook", note("/agentops ship-it"), "d", CTX)
    assert isinstance(outcome, RunRequest)
    assert outcome.command == Command("help", unknown="ship-it")


# --- loop safety -------------------------------------------------------------------------


def test_notes_by_the_configured_bot_user_are_ignored() -> None:
    data = note(user={"id": 2, "username": "agentops-bot"})
    assert interpret("Note Hook", data, "d", CTX) == Ignored("sent by a bot")


@pytest.mark.parametrize("username", ["project_5_bot_3f2a1b", "group_9_bot_77aa"])
def test_project_and_group_access_token_bots_are_ignored(username: str) -> None:
    data = note(user={"id": 3, "username": username})
    assert interpret("Note Hook", data, "d", CTX) == Ignored("sent by a bot")


def test_labels_added_by_the_bot_are_ignored() -> None:
    data = label_hook("issue", [], ["agentops"], user={"id": 2, "username": "agentops-bot"})
    assert interpret("Issue Hook", data, "d", CTX) == Ignored("sent by a bot")


def test_without_a_configured_bot_an_ordinary_user_is_not_a_bot() -> None:
    ctx = GitLabContext(URL, None, DEFAULT_LABELS)
    data = note(user={"id": 2, "username": "agentops-bot"})
    assert isinstance(interpret("Note Hook", data, "d", ctx), RunRequest)


# --- labels ------------------------------------------------------------------------------


def test_added_agentops_label_on_an_issue_implements_it() -> None:
    data = label_hook("issue", ["bug"], ["bug", "agentops"])
    outcome = interpret("Issue Hook", data, "del-9", CTX)
    assert outcome == RunRequest(
        tenant=TenantKey("gitlab", f"{URL}#5", "team/app"),
        repo="team/app",
        target_kind="issue",
        target_number=23,
        command=Command("implement"),
        requested_by="alice",
        trigger="label",
        trigger_key=f"gitlab:{URL}:label:team/app:issue:23:agentops:{UPDATED_AT}",
        context={"project_id": 5, "instance_url": URL, "label": "agentops"},
    )


def test_added_test_label_on_a_merge_request_adds_tests() -> None:
    data = label_hook("merge_request", [], ["agentops:test"])
    outcome = interpret("Merge Request Hook", data, "d", CTX)
    assert isinstance(outcome, RunRequest)
    assert (outcome.target_kind, outcome.command) == ("pull_request", Command("test"))


def test_a_label_that_was_already_there_starts_nothing() -> None:
    data = label_hook("issue", ["agentops", "bug"], ["bug", "agentops"])
    assert interpret("Issue Hook", data, "d", CTX) == Ignored(
        "no label that starts a command was added"
    )


def test_other_added_labels_are_left_to_the_repository_config() -> None:
    data = label_hook("issue", ["agentops"], ["agentops", "bug", "bot-please"])
    outcome = interpret("Issue Hook", data, "del-9", CTX)
    assert outcome == LabelCheck(
        tenant=TenantKey("gitlab", f"{URL}#5", "team/app"),
        repo="team/app",
        target_kind="issue",
        target_number=23,
        labels=("bug", "bot-please"),
        requested_by="alice",
        trigger_key=f"gitlab:{URL}:label:team/app:issue:23:bug,bot-please:{UPDATED_AT}",
        context={"project_id": 5, "instance_url": URL},
    )
    on_mr = interpret(
        "Merge Request Hook", label_hook("merge_request", [], ["needs-tests"]), "d", CTX
    )
    assert isinstance(on_mr, LabelCheck) and on_mr.target_kind == "pull_request"


def test_with_repository_labels_off_other_labels_are_ignored() -> None:
    ctx = GitLabContext(URL, "agentops-bot", DEFAULT_LABELS, repository_labels=False)
    data = label_hook("issue", [], ["bug", "bot-please"])
    assert interpret("Issue Hook", data, "d", ctx) == Ignored(
        "no label that starts a command was added"
    )
    both = label_hook("issue", [], ["bot-please", "agentops"])
    assert isinstance(interpret("Issue Hook", both, "d", ctx), RunRequest)


def test_an_operator_label_wins_over_labels_added_with_it() -> None:
    data = label_hook("issue", [], ["bot-please", "agentops"])
    outcome = interpret("Issue Hook", data, "d", CTX)
    assert isinstance(outcome, RunRequest) and outcome.context["label"] == "agentops"


def test_operator_labels_that_fit_nothing_here_are_not_checked_in_the_repository() -> None:
    data = label_hook("merge_request", [], ["AgentOps", "agentops:plan"])
    assert interpret("Merge Request Hook", data, "d", CTX) == Ignored(
        "no label that starts a command was added"
    )
    mixed = interpret(
        "Merge Request Hook", label_hook("merge_request", [], ["agentops", "x"]), "d", CTX
    )
    assert isinstance(mixed, LabelCheck) and mixed.labels == ("x",)


def test_labels_added_by_a_project_bot_are_ignored() -> None:
    data = label_hook("issue", [], ["bot-please"], user={"id": 3, "username": "project_5_bot_x"})
    assert interpret("Issue Hook", data, "d", CTX) == Ignored("sent by a bot")


def test_removing_the_label_starts_nothing() -> None:
    data = label_hook("issue", ["agentops"], [])
    assert isinstance(interpret("Issue Hook", data, "d", CTX), Ignored)


def test_label_for_the_other_kind_of_target_starts_nothing() -> None:
    assert isinstance(
        interpret("Issue Hook", label_hook("issue", [], ["agentops:test"]), "d", CTX), Ignored
    )
    assert isinstance(
        interpret("Merge Request Hook", label_hook("merge_request", [], ["agentops"]), "d", CTX),
        Ignored,
    )


def test_the_first_added_label_that_means_something_wins() -> None:
    data = label_hook("issue", [], ["bug", "agentops:test", "agentops:plan", "agentops"])
    outcome = interpret("Issue Hook", data, "d", CTX)
    assert isinstance(outcome, RunRequest)
    assert outcome.command == Command("plan")
    assert outcome.context["label"] == "agentops:plan"


def test_issue_events_without_label_changes_are_ignored() -> None:
    data = label_hook("issue", [], [])
    del data["changes"]
    assert interpret("Issue Hook", data, "d", CTX) == Ignored(
        "no label that starts a command was added"
    )


def test_configured_labels_are_used() -> None:
    ctx = GitLabContext(URL, None, {"ai": "implement"})
    outcome = interpret("Issue Hook", label_hook("issue", [], ["ai"]), "d", ctx)
    assert isinstance(outcome, RunRequest) and outcome.command == Command("implement")
    # `agentops` is not the operator's here, so the repository may give it a meaning.
    assert isinstance(
        interpret("Issue Hook", label_hook("issue", [], ["agentops"]), "d", ctx), LabelCheck
    )


# --- ignored and malformed ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Push Hook", "event Push Hook is not handled"),
        ("Pipeline Hook", "event Pipeline Hook is not handled"),
        ("", "event (none) is not handled"),
    ],
)
def test_unknown_events_are_ignored_with_a_reason(name: str, reason: str) -> None:
    assert interpret(name, {"object_kind": "push"}, "d", CTX) == Ignored(reason)


@pytest.mark.parametrize("data", [[], "text", 1, None])
def test_payload_must_be_an_object(data: Any) -> None:
    with pytest.raises(PayloadError, match="payload must be a JSON object"):
        interpret("Note Hook", data, "d", CTX)


@pytest.mark.parametrize(
    ("name", "data", "field"),
    [
        ("Note Hook", {"user": ALICE, "project": PROJECT}, "object_attributes"),
        ("Note Hook", {k: v for k, v in note().items() if k != "project"}, "project"),
        (
            "Note Hook",
            {**note(), "object_attributes": {"id": 1, "noteable_type": "Issue"}},
            r"object_attributes\.note",
        ),
        (
            "Issue Hook",
            {"user": ALICE, "project": PROJECT, "object_attributes": {}},
            r"object_attributes\.iid",
        ),
        ("Merge Request Hook", {"project": PROJECT, "object_attributes": {"iid": 1}}, "user"),
        (
            "Issue Hook",
            {**label_hook("issue", [], []), "changes": {"labels": {"current": [{}]}}},
            r"changes\.labels\.current\.0\.title",
        ),
    ],
)
def test_missing_fields_are_payload_errors_naming_the_field(
    name: str, data: Any, field: str
) -> None:
    with pytest.raises(PayloadError, match=rf"payload field {field}: "):
        interpret(name, data, "d", CTX)


# --- replays and the project a payload names ---------------------------------------------


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("Issue Hook", label_hook("issue", [], ["agentops"])),
        ("Issue Hook", label_hook("issue", [], ["bot-please"])),
        ("Merge Request Hook", label_hook("merge_request", [], ["agentops:test"])),
        ("Note Hook", note()),
    ],
)
def test_a_body_sent_again_under_a_new_idempotency_key_has_the_same_key(
    event: str, data: dict[str, Any]
) -> None:
    first = interpret(event, data, "key-1", CTX)
    replay = interpret(event, data, "key-2", CTX)
    assert isinstance(first, RunRequest | LabelCheck) and isinstance(
        replay, RunRequest | LabelCheck
    )
    assert first.trigger_key == replay.trigger_key


def test_a_later_labeling_is_a_new_key_and_without_updated_at_the_delivery_decides() -> None:
    first = interpret("Issue Hook", label_hook("issue", [], ["agentops"]), "d-1", CTX)
    later = label_hook("issue", [], ["agentops"], updated_at="2026-12-03 09:00:00 UTC")
    bare = label_hook("issue", [], ["agentops"], updated_at=None)
    assert isinstance(first, RunRequest)
    relabelled = interpret("Issue Hook", later, "d-1", CTX)
    assert isinstance(relabelled, RunRequest)
    assert relabelled.trigger_key != first.trigger_key
    undated = interpret("Issue Hook", bare, "d-7", CTX)
    assert isinstance(undated, RunRequest)
    assert undated.trigger_key.endswith(":delivery d-7")


def test_project_path_is_the_payloads_project() -> None:
    assert project_path(note()) == "team/app"
    assert project_path({"project": {"path_with_namespace": 5}}) is None
    assert project_path({"object_kind": "note"}) is None
    assert project_path([]) is None
