"""Quality gate: topic tagging on the labelled set may not drop below its floor.

The floor is the issue's target (top-level micro-F1 >= 0.85); ``python -m
bench.tagging_eval`` prints the per-topic figures behind it.
"""

from bench.tagging_eval import F1_FLOOR, evaluate, keyword_tagger, load_items


def test_top_level_micro_f1_stays_above_the_floor() -> None:
    items = load_items()
    assert len(items) >= 150
    assert len({item.language for item in items}) >= 4
    counts = evaluate(keyword_tagger(), items)
    assert F1_FLOOR >= 0.85
    assert counts["*"].f1 >= F1_FLOOR, f"micro-F1 {counts['*'].f1:.3f} < {F1_FLOOR}"
