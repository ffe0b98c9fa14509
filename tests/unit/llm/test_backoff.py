from app.llm.router import RetryPolicy, backoff_delay


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.0)
    assert [backoff_delay(policy, n, None) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_retry_after_is_honoured_and_a_too_long_one_skips_the_model() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0)
    assert backoff_delay(policy, 0, 12.0) == 12.0
    assert backoff_delay(policy, 0, 120.0) is None


def test_jitter_only_lengthens_a_little() -> None:
    policy = RetryPolicy(base_delay=2.0, max_delay=30.0, jitter=0.1)
    assert backoff_delay(policy, 0, None, rand=1.0) == 2.2


def test_no_key_and_a_refused_key_read_differently() -> None:
    from app.llm.errors import ProviderError
    from app.llm.model_ids import ModelId
    from app.llm.router import auth_failure

    model_id = ModelId("openai", "gpt-4.1")
    missing = ProviderError("auth", "no API key: set AGENTOPS_OPENAI_API_KEY")
    assert auth_failure(model_id, missing) == (
        "openai:gpt-4.1: no API key: set AGENTOPS_OPENAI_API_KEY"
    )
    refused = ProviderError("auth", "Incorrect API key provided", status=401)
    assert auth_failure(model_id, refused).endswith(
        "(401): Incorrect API key provided; check AGENTOPS_OPENAI_API_KEY"
    )
