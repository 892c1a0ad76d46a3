"""The residue filter: three explainable layers over trafilatura's text lines.

1. Generic rules (data in ``residue_rules.yaml``) and metadata: lines
   that look like prompts, teasers, credits, or repeat the title/byline.
2. Learned boilerplate: lines the same source repeats across many articles.
3. Guard rails: the article's only sentence-like paragraph is never removed,
   an article is never emptied, and when the filter would remove more than
   ``max_removed_share`` of the text the original is kept and flagged
   ``residue_guard``.

Context rules ("shape:...") then extend the verdicts: a run of short
non-sentence lines at the top or bottom edge that contains residue is residue
as a whole ("Titre Aval" next to "Share your story"); a short line between two
residue lines is residue; the short lines after a bare "Related" label are
teaser titles. Every dropped line is a :class:`RemovedLine` with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from pipeline.extraction.learned import LearnedBoilerplate
from pipeline.extraction.lines import Line, line_key
from pipeline.extraction.rules import ResidueRules, SourceRules, load_rules
from pipeline.models import RemovedLine

__all__ = ["FilterResult", "MetadataHints", "filter_residue", "load_rules"]

KEEP = "keep"  # verdict of a protected line (allow lists)


@dataclass(frozen=True)
class MetadataHints:
    """What the page's metadata says, to recognise lines that merely repeat it."""

    title: str | None = None
    authors: Sequence[str] = ()
    site_name: str | None = None

    @cached_property
    def title_key(self) -> str | None:
        return line_key(self.title) if self.title else None

    @cached_property
    def site_key(self) -> str | None:
        return line_key(self.site_name) if self.site_name else None

    @cached_property
    def author_names(self) -> tuple[str, ...]:
        """Casefolded author names long enough to be a name, not an initial."""
        return tuple(a.casefold() for a in self.authors if len(a) > 3)


@dataclass(frozen=True)
class FilterResult:
    kept: list[Line]
    removed: list[RemovedLine]
    flags: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.kept)


def filter_residue(
    lines: Sequence[Line],
    *,
    rules: ResidueRules,
    learned: LearnedBoilerplate | None,
    hints: MetadataHints,
    source: str,
    max_removed_share: float,
) -> FilterResult:
    """Split ``lines`` into kept lines and removed lines with their reasons."""
    own = rules.for_source(source)
    verdicts = {
        line.index: reason
        for position, line in enumerate(lines)
        if (reason := _line_verdict(line, position, rules, own, learned, hints))
    }
    _extend_edge_runs(lines, verdicts, rules)
    _extend_residue_runs(lines, verdicts, rules)
    _extend_teasers(lines, verdicts, rules)
    return _guarded(lines, verdicts, max_removed_share)


def _line_verdict(
    line: Line,
    position: int,
    rules: ResidueRules,
    own: SourceRules,
    learned: LearnedBoilerplate | None,
    hints: MetadataHints,
) -> str | None:
    """The verdict on one line alone: KEEP, a removal reason, or None (content so far)."""
    if own.allow is not None and own.allow.hit(line.text):
        return KEEP
    learned_verdict = learned.verdict(line.key) if learned is not None else None
    if learned_verdict == "allow":
        return KEEP
    if learned_verdict == "deny":
        return "learned:deny"
    if own.deny is not None and own.deny.hit(line.text):
        return "rule:source"
    if (reason := _metadata_verdict(line, position, hints, rules)) is not None:
        return reason
    if (category := rules.category(line, position)) is not None:
        return f"rule:{category.name}"
    if learned_verdict == "template":
        return "learned:template"
    return None


def _metadata_verdict(
    line: Line, position: int, hints: MetadataHints, rules: ResidueRules
) -> str | None:
    if line.sentence_like or line.words > rules.edge_max_words + 4:
        return None
    if hints.title_key and line.key == hints.title_key:
        return KEEP  # the headline is the article's own, not residue (and bounds edge runs)
    if hints.site_key and line.key == hints.site_key:
        return "metadata:site_name"
    if hints.author_names:
        folded = line.text.casefold()
        if any(name in folded for name in hints.author_names):
            return "metadata:byline"
    return None


def _removable(verdicts: dict[int, str], line: Line) -> bool:
    return line.index in verdicts and verdicts[line.index] != KEEP


def _extend_edge_runs(lines: Sequence[Line], verdicts: dict[int, str], rules: ResidueRules) -> None:
    """At each edge, a run of residue and short lines that holds residue is residue as a whole."""
    for run in (_edge_run(lines, verdicts, rules), _edge_run(lines[::-1], verdicts, rules)):
        if any(_removable(verdicts, line) for line in run):
            for line in run:
                verdicts.setdefault(line.index, "shape:edge_run")


def _edge_run(lines: Sequence[Line], verdicts: dict[int, str], rules: ResidueRules) -> list[Line]:
    run = []
    for line in lines:
        if verdicts.get(line.index) == KEEP:
            break
        if not (_removable(verdicts, line) or rules.is_short(line)):
            break
        run.append(line)
    return run


def _extend_residue_runs(
    lines: Sequence[Line], verdicts: dict[int, str], rules: ResidueRules
) -> None:
    """A short line with residue directly on both sides is part of that residue block."""
    for before, line, after in zip(lines, lines[1:], lines[2:], strict=False):
        if (
            line.index not in verdicts
            and rules.is_short(line)
            and _removable(verdicts, before)
            and _removable(verdicts, after)
        ):
            verdicts[line.index] = "shape:residue_run"


def _extend_teasers(lines: Sequence[Line], verdicts: dict[int, str], rules: ResidueRules) -> None:
    """After a bare label such as "Related" or "Lesen Sie auch", short lines are teaser titles."""
    for position, line in enumerate(lines):
        reason = verdicts.get(line.index, "")
        if not (reason.removeprefix("rule:") in rules.label_names and line.words <= 4):
            continue
        for follower in lines[position + 1 : position + 1 + rules.teaser_lines]:
            if follower.index in verdicts and not _removable(verdicts, follower):
                break
            if not rules.is_short(follower):
                break
            verdicts.setdefault(follower.index, "shape:teaser")


def _guarded(
    lines: Sequence[Line], verdicts: dict[int, str], max_removed_share: float
) -> FilterResult:
    kept = [line for line in lines if not _removable(verdicts, line)]
    removed = [
        RemovedLine(text=line.text, reason=verdicts[line.index])
        for line in lines
        if _removable(verdicts, line)
    ]
    if not removed:
        return FilterResult(kept=list(lines), removed=[])
    total = sum(len(line.text) for line in lines)
    dropped = sum(len(r.text) for r in removed)
    had_prose = any(line.sentence_like for line in lines)
    if (
        not kept
        or dropped > max_removed_share * total
        or (had_prose and not any(line.sentence_like for line in kept))
    ):
        return FilterResult(kept=list(lines), removed=[], flags=["residue_guard"])
    return FilterResult(kept=kept, removed=removed)
