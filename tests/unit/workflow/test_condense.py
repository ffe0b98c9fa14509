"""Old bulky tool results are condensed; the task, the model's words and edits are not."""

from __future__ import annotations

from app.llm.types import Message, ToolCall
from app.workflow.condense import CONDENSED, condensed_history, history_tokens

FILE = "\n".join(f"line {n}: some code of the file being read" for n in range(300))


def conversation(turns: int) -> tuple[Message, ...]:
    messages = [Message.user("TASK: make add() add.\nPLAN: 1. fix calc.py")]
    for n in range(turns):
        call = ToolCall(f"call_{n}", "read_file", {"path": f"f{n}.py"})
        edit = ToolCall(f"edit_{n}", "apply_edits", {"edits": "x" * 900})
        messages.append(Message.assistant(f"I read f{n}.py and decide {n}.", (call, edit)))
        messages.append(Message.tool_result(call.id, FILE))
        messages.append(Message.tool_result(edit.id, "applied: f.py"))
    return tuple(messages)


def test_within_the_budget_nothing_changes() -> None:
    messages = conversation(8)
    assert condensed_history(messages, history_tokens(messages)) is messages


def test_old_results_are_condensed_and_everything_else_is_kept() -> None:
    messages = conversation(8)
    condensed = condensed_history(messages, budget_tokens=10_000)
    assert history_tokens(condensed) < 0.6 * history_tokens(messages)  # 4 of 8 reads
    assert len(condensed) == len(messages)
    for before, after in zip(messages, condensed, strict=True):
        assert (after.role, after.tool_call_id, after.tool_calls) == (
            before.role,
            before.tool_call_id,
            before.tool_calls,
        )  # every result still answers its call; edits' arguments are whole
        if before.role != "tool" or before.text == "applied: f.py":
            assert after == before  # the task, the model's words, short results
    old_reads = [m for m in condensed[:-12] if m.role == "tool" and m.text != "applied: f.py"]
    assert old_reads and all(m.text.startswith(CONDENSED) for m in old_reads)
    assert 'read_file {"path": "f0.py"}' in old_reads[0].text
    assert "line 0:" in old_reads[0].text and "line 299:" in old_reads[0].text
    recent = [m for m in condensed[-12:] if m.role == "tool"]
    assert all(not m.text.startswith(CONDENSED) for m in recent)  # the last 4 turns


def test_condensing_is_stable_so_the_prefix_stays_cacheable() -> None:
    once = condensed_history(conversation(8), budget_tokens=10_000)
    assert condensed_history(once, budget_tokens=10_000) == once
    grown = (*once, *conversation(9)[-3:])
    again = condensed_history(grown, budget_tokens=10_000)
    assert again[: len(once) - 12] == once[: len(once) - 12]  # the old part unchanged
