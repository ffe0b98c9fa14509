from app.llm.providers.tool_ids import ANTHROPIC_IDS, MISTRAL_IDS, OPENAI_IDS


def test_an_id_that_fits_is_kept_and_others_are_mapped_the_same_way_every_time() -> None:
    assert MISTRAL_IDS("Ab3dE6gH9") == "Ab3dE6gH9"
    mapped = MISTRAL_IDS("toolu_01A09q90qw90lq917835lq9")
    assert len(mapped) == 9 and mapped.isalnum()
    assert MISTRAL_IDS("toolu_01A09q90qw90lq917835lq9") == mapped  # call and result agree
    assert MISTRAL_IDS("call_abc") != MISTRAL_IDS("call_abd")
    assert ANTHROPIC_IDS("call_0001") == "call_0001"
    assert ANTHROPIC_IDS("call:0/1").startswith("toolu_")
    assert OPENAI_IDS("x" * 41).startswith("call_") and len(OPENAI_IDS("x" * 41)) <= 40
    assert OPENAI_IDS("Ab3dE6gH9") == "Ab3dE6gH9"
