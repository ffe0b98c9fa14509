"""An AGENTOPS_* variable close to a setting's name is reported, not silently ignored."""

from __future__ import annotations

from app.config import misspelled_settings


def test_a_near_miss_is_named_with_the_setting_it_was_meant_for() -> None:
    environ = {
        "AGENTOPS_LABLES": "{}",
        "AGENTOPS_REDIS_ULR": "redis://x",
        "AGENTOPS_LABELS": "{}",  # a real setting
        "AGENTOPS_TEST_PG": "postgresql://x",  # the tests' own
        "AGENTOPS_SOMETHING_ELSE": "1",  # close to nothing
        "PATH": "/usr/bin",
    }
    assert misspelled_settings(environ) == [
        "AGENTOPS_LABLES is not a setting (did you mean AGENTOPS_LABELS?)",
        "AGENTOPS_REDIS_ULR is not a setting (did you mean AGENTOPS_REDIS_URL?)",
    ]
