from hypothesis import given
from hypothesis import strategies as st

from app.llm.types import (
    LLMRequest,
    LLMResponse,
    Message,
    ToolCall,
    ToolSpec,
    Usage,
    request_fingerprint,
    request_from_json,
    request_to_json,
    response_from_json,
    response_to_json,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
tool_calls = st.builds(
    ToolCall,
    st.text(max_size=10),
    st.text(max_size=10),
    st.dictionaries(st.text(max_size=8), json_values, max_size=3),
)
messages = st.one_of(
    st.builds(Message.user, st.text(max_size=50)),
    st.builds(Message.assistant, st.text(max_size=50), st.tuples() | st.tuples(tool_calls)),
    st.builds(Message.tool_result, st.text(max_size=10), st.text(max_size=50), st.booleans()),
)
requests = st.builds(
    LLMRequest,
    st.sampled_from(["planner", "coder", "reviewer", "cheap"]),
    st.text(max_size=50),
    st.lists(messages, max_size=4).map(tuple),
    context=st.text(max_size=50),
    tools=st.lists(
        st.builds(
            ToolSpec, st.text(max_size=10), st.text(max_size=10), st.just({"type": "object"})
        ),
        max_size=2,
    ).map(tuple),
    max_tokens=st.integers(1, 10_000),
)


@given(requests)
def test_a_stored_request_reads_back_equal_with_the_same_fingerprint(request: LLMRequest) -> None:
    again = request_from_json(request_to_json(request))
    assert again == request
    assert request_fingerprint(again) == request_fingerprint(request)


def test_the_fingerprint_changes_with_what_is_asked() -> None:
    a = LLMRequest("coder", "sys", (Message.user("a"),))
    b = LLMRequest("coder", "sys", (Message.user("b"),))
    assert request_fingerprint(a) != request_fingerprint(b)


def test_a_response_reads_back_equal() -> None:
    response = LLMResponse(
        "t", (ToolCall("1", "f", {"x": [1, 2]}),), "tool_use", Usage(1, 2, 3, 4), "m"
    )
    assert response_from_json(response_to_json(response)) == response
