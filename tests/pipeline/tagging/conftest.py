"""Fixtures for the tagging tests: the project's tagger and a YAML file writer."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from tagging_fixtures import project_config

from pipeline.tagging import KeywordTagger


@pytest.fixture(scope="session")
def tagger() -> KeywordTagger:
    return KeywordTagger.from_config(project_config())


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented YAML text to a file in the test's directory."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
