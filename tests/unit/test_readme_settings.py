"""README's configuration table is what the settings model's descriptions render: every
setting is there, with its default, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from app.settings_table import BEGIN, END, replaced, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_configuration_table_is_rendered_from_the_settings_model() -> None:
    text = README.read_text()
    assert replaced(text) == text, "README's settings table is stale: run `make settings-table`"
    assert settings_table() in text


def test_a_setting_without_a_description_cannot_be_rendered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    field = Settings.model_fields["queue_name"]
    monkeypatch.setattr(field, "description", None)
    with pytest.raises(ValueError, match="the setting queue_name has no description"):
        settings_table()


def test_the_table_sits_between_its_markers_once() -> None:
    text = README.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
