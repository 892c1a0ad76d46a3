"""The usage examples in the extraction and corpus docstrings run as written."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

import corpus.prose
import pipeline.extraction.learned
import pipeline.extraction.lines
import pipeline.extraction.urls

MODULES = [
    pipeline.extraction.lines,
    pipeline.extraction.learned,
    pipeline.extraction.urls,
    corpus.prose,
]


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
