"""Line shape and normalisation: what the residue rules and the learned layer key on."""

from __future__ import annotations

from pipeline.extraction.lines import is_sentence_like, line_key, split_lines


def test_split_lines_drops_blank_lines_and_normalises_spaces() -> None:
    lines = split_lines("  First   line \n\n\t\nSecond line\n")
    assert [(line.index, line.text) for line in lines] == [(0, "First line"), (1, "Second line")]


def test_template_lines_with_other_clock_times_share_a_key() -> None:
    assert line_key("Updated 10:42") == line_key("updated 9:05 ")
    assert line_key("Share your story!") == line_key("SHARE YOUR STORY")


def test_other_numbers_keep_lines_apart() -> None:
    one = "The instrument recorded ice at a depth of roughly 806 metres."
    other = "The instrument recorded ice at a depth of roughly 512 metres."
    assert line_key(one) != line_key(other)
    assert line_key("Reaction in Leeds since 2014") != line_key("Reaction in Leeds since 2017")


def test_sentence_like_needs_words_and_a_sentence_ending() -> None:
    assert is_sentence_like('"We will not back down on this point," she said.')
    assert is_sentence_like("Who pays for the new bridge across the river?")
    assert not is_sentence_like("Share your story.")  # too short to be prose
    assert not is_sentence_like("Send your Videos and Photos to us• National")
    assert not is_sentence_like("(Reporting by Jane Doe in Brussels; Editing by Tom Roe)")
