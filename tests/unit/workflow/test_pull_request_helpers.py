"""The pure parts of `/agentops test` and `/agentops fix`: what a finished test-writing
is refused for, the commit messages, the stacked pull request, clipping."""

from __future__ import annotations

from app.forges.github.spec import WORDING as GITHUB
from app.forges.gitlab.spec import WORDING as GITLAB
from app.step_records import Changed, ChangedFileName, Head
from app.workflow.pr_checkout import is_fork
from app.workflow.pr_fix import fix_commit_message
from app.workflow.pr_tests import (
    message_for_tests,
    new_tests_problem,
    stacked_branch,
    stacked_pull_body,
)
from app.workflow.pr_work import changed_files_markdown, clip

HEAD = Head(head_sha="a" * 40, ref="patch-1", base="main", head_repo="bob/calc")


def test_new_tests_are_accepted_when_only_test_files_changed_and_named() -> None:
    problem = new_tests_problem(
        ["tests/test_x.py::test_a", "tests/test_x.py::test_b"],
        ["tests/test_x.py", "tests/conftest.py"],
    )
    assert problem is None


def test_finishing_without_naming_a_test_is_refused() -> None:
    assert "No test was named" in (new_tests_problem([], ["tests/test_x.py"]) or "")


def test_changing_code_that_is_not_a_test_is_refused_and_named() -> None:
    problem = new_tests_problem(["tests/test_x.py::test_a"], ["tests/test_x.py", "calc.py"])
    assert problem is not None
    assert "`calc.py`" in problem and "`tests/test_x.py`" not in problem


def test_naming_a_test_in_a_file_that_was_not_written_is_refused() -> None:
    problem = new_tests_problem(
        ["tests/test_old.py::test_a", "tests/test_x.py::test_b"], ["tests/test_x.py"]
    )
    assert problem is not None
    assert "`tests/test_old.py`" in problem and "test_x" not in problem


def test_test_ids_without_a_file_are_taken_as_named() -> None:
    # go and cargo ids name no file: nothing to compare them with
    assert new_tests_problem(["TestMultiply"], ["calc_test.go"]) is None


def test_a_fork_is_a_head_in_another_repository_or_a_deleted_one() -> None:
    assert is_fork("acme/calc", HEAD)
    assert not is_fork("acme/calc", HEAD.model_copy(update={"head_repo": "acme/calc"}))
    assert is_fork("acme/calc", HEAD.model_copy(update={"head_repo": ""}))


def test_clip_keeps_short_text_and_cuts_long_text_at_a_line_end() -> None:
    assert clip("abc\n", 10) == "abc\n"
    text = "".join(f"line {n}\n" for n in range(100))
    clipped = clip(text, 50)
    kept, note = clipped.rsplit("\n", 1)
    assert text.startswith(kept + "\n") and len(kept) < 50
    assert note == f"… ({len(text) - len(kept)} more characters not shown)"


def test_clip_without_a_line_end_cuts_at_the_limit() -> None:
    assert clip("x" * 30, 10).startswith("x" * 10 + "\n… (20 more")


def test_files_markdown_lists_paths_with_their_status() -> None:
    files = [
        ChangedFileName(path="calc.py", status="modified"),
        ChangedFileName(path="new.py", status="added"),
    ]
    assert changed_files_markdown(files) == "- `calc.py` (modified)\n- `new.py` (added)"
    assert changed_files_markdown([]) == "(no files)"


def test_the_tests_commit_message_has_a_conventional_subject_and_lists_the_tests() -> None:
    message = message_for_tests("#7", "Cover multiply().", ["tests/test_m.py::test_a"])
    subject, body = message.split("\n\n", 1)
    assert subject == "test: cover the changes of #7"
    assert "Cover multiply()." in body and "- tests/test_m.py::test_a" in body
    assert "Tests for the changed code." in message_for_tests("#7", "  ", [])


WRITTEN = Changed(
    diff="",
    summary="Tests.",
    verification="passed",
    test_command="pytest -q",
    turns=3,
    cost_usd=0.0125,
)


def test_a_stacked_pull_request_on_the_forks_head_says_to_merge_the_original_first() -> None:
    assert stacked_branch(12) == "agentops/tests-for-12"
    body = stacked_pull_body(12, HEAD, WRITTEN, run_id=5, on_head=True, words=GITHUB)
    assert body.startswith("Tests for #12, stacked on it.")
    assert "`bob/calc`" in body and "`patch-1`" in body and "`aaaaaaaaaaaa`" in body
    assert "targets `main`" in body and "Merge #12 first" in body
    assert "run 5 in 3 model turns, cost $0.0125" in body


def test_a_stacked_pull_request_of_tests_only_says_why_and_that_they_fail_until_merged() -> None:
    body = stacked_pull_body(
        12, HEAD.model_copy(update={"head_repo": ""}), WRITTEN, 5, on_head=False, words=GITHUB
    )
    assert "a deleted fork" in body
    assert "does not copy its commits here" in body and "only the tests, on `main`" in body
    assert "fail until #12 is merged" in body
    assert "on #12's head `aaaaaaaaaaaa`" in body  # where the tests were shown to pass


def test_on_gitlab_the_stacked_merge_request_names_the_original_as_gitlab_links_it() -> None:
    # `#12` on GitLab is issue 12: a merge request is `!12`
    body = stacked_pull_body(12, HEAD, WRITTEN, run_id=5, on_head=False, words=GITLAB)
    assert body.startswith("Tests for !12, stacked on it.")
    assert "This merge request holds only the tests" in body and "Merge !12 first" in body
    assert "#12" not in body and "pull request" not in body
    assert message_for_tests(GITLAB.change_ref(12), "", []).startswith(
        "test: cover the changes of !12\n"
    )
    assert fix_commit_message(GITLAB.change_ref(4), "rename x", "").endswith(
        "Requested in !4: rename x"
    )


def test_fix_commit_message_takes_its_subject_from_the_summary() -> None:
    message = fix_commit_message("#4", "make it\n  faster", "perf: use sum()\n\nNo loop.")
    assert message == "perf: use sum()\n\nNo loop.\n\nRequested in #4: make it faster"


def test_fix_commit_message_without_a_summary_says_what_it_is() -> None:
    message = fix_commit_message("#4", "rename x", "")
    assert message == "Apply the requested change\n\nRequested in #4: rename x"


def test_fix_commit_message_keeps_a_long_subject_and_request_short() -> None:
    message = fix_commit_message("#4", "y" * 1000, "x" * 200)
    subject, request = message.split("\n\n")
    assert subject == "x" * 72
    assert request == "Requested in #4: " + "y" * 300
