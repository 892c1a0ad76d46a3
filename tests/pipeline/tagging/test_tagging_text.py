"""Folding keeps offsets, so case rules can be checked against the original text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.tagging._text import fold


@given(st.text(max_size=200))
def test_fold_never_changes_the_length(text: str) -> None:
    assert len(fold(text)) == len(text)


@given(st.text(alphabet=st.characters(max_codepoint=0x2FFF), max_size=50))
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


def test_fold_strips_accents_and_case_but_keeps_enye() -> None:
    assert fold("Téhéran ÉTATS-UNIS Straße") == "teheran etats-unis straße"
    assert fold("AÑO año") == "año año"


def test_fold_unifies_apostrophes_dashes_and_line_breaks() -> None:
    assert fold("Iran\u2019s Cold War\u2013era\nprime\tminister") == (
        "iran's cold war-era prime minister"
    )


def test_fold_of_dotted_capital_i_keeps_the_length() -> None:
    assert fold("İstanbul") == "istanbul"
