"""Topic tagging: word boundaries, case rules, languages, scores, evidence, rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st
from tagging_fixtures import ENTITIES, TAXONOMY, project_config

from pipeline.models import TopicTag
from pipeline.tagging import KeywordTagger, TagResult, load_lexicon, load_taxonomy

Writer = Callable[[str, str], Path]


def top_level(result: TagResult) -> set[str]:
    return {label for label in result.labels if "/" not in label}


def tag_of(result: TagResult, label: str) -> TopicTag:
    return next(t for t in result.topics if t.label == label)


def test_sport_and_economy_articles_in_four_languages(tagger: KeywordTagger) -> None:
    cases = {
        "en": ("The striker scored twice as the champions won the league title.", "sport"),
        "de": ("Der Trainer lobte die Mannschaft nach dem Sieg im Halbfinale.", "sport"),
        "fr": ("L'entraîneur a salué son équipe après la victoire en demi-finale.", "sport"),
        "es": ("El entrenador elogió a su equipo tras la victoria en la semifinal.", "sport"),
    }
    economy = {
        "en": "The central bank raised interest rates as inflation hit the economy.",
        "de": "Die Zentralbank hob die Leitzinsen an, die Inflation belastet die Konjunktur.",
        "fr": "La banque centrale relève ses taux d'intérêt face à l'inflation et la récession.",
        "es": "El banco central subió los tipos de interés por la inflación y la recesión.",
    }
    for language, (text, label) in cases.items():
        assert top_level(tagger.tag(text, language=language)) == {label}, language
    for language, text in economy.items():
        result = tagger.tag(text, language=language)
        assert top_level(result) == {"economy-business-finance"}, language


def test_evidence_lists_the_matched_words_as_written(tagger: KeywordTagger) -> None:
    result = tagger.tag("Voters went to the polls; turnout in the elections was high.")
    elections = tag_of(result, "politics/elections")
    assert elections.evidence == ["Voters", "turnout", "elections"]
    assert tag_of(result, "politics").evidence[:3] == ["Voters", "turnout", "elections"]
    assert elections.score >= 2


def test_words_inside_other_words_do_not_match(tagger: KeywordTagger) -> None:
    # "war" in "award"/"toward", "strike" in "strikers", "pet" in "petition"
    result = tagger.tag("The award went toward a petition about warehouse strikers.")
    assert result.topics == []


def test_a_single_weak_term_stays_under_the_threshold(tagger: KeywordTagger) -> None:
    assert tagger.tag("The season starts in May.").topics == []


def test_repeats_count_less_than_new_terms_and_the_title_counts_double(
    tagger: KeywordTagger,
) -> None:
    once = tag_of(tagger.tag("A ceasefire was agreed."), "conflict-war-peace").score
    thrice = tag_of(
        tagger.tag("A ceasefire. The ceasefire. Another ceasefire."), "conflict-war-peace"
    ).score
    titled = tag_of(tagger.tag("It was agreed.", title="Ceasefire"), "conflict-war-peace").score
    assert once < thrice <= 2 * once
    assert titled == 1.5 * once


def test_terms_count_only_in_their_language(tagger: KeywordTagger) -> None:
    german = "Das Wetter war schön, und es war ein ruhiger Tag mit Sonnenschein."
    assert "conflict-war-peace" not in top_level(tagger.tag(german, language="de"))
    english = "The war went on; the war killed thousands as troops advanced."
    assert "conflict-war-peace" in top_level(tagger.tag(english, language="en"))
    assert "conflict-war-peace" in top_level(tagger.tag(english, language=None))


def test_sub_topic_brings_its_parent(tagger: KeywordTagger) -> None:
    result = tagger.tag("The ambassador and the envoy discussed bilateral relations.")
    assert {"politics", "politics/international-relations"} <= set(result.labels)


def test_a_passing_mention_in_a_long_story_is_not_a_topic(tagger: KeywordTagger) -> None:
    story = (
        "Troops and tanks advanced as artillery shelling hit the front line. Rebels fired "
        "missiles; the army offensive and the fighting went on despite the ceasefire talks. "
    )
    mention = "The economy suffers."
    assert top_level(tagger.tag(story + mention)) == {"conflict-war-peace"}
    assert "economy-business-finance" in top_level(tagger.tag(mention + " Inflation rises."))


def test_user_rule_topic_with_required_entities(write_yaml: Writer) -> None:
    rules = write_yaml(
        "rules.yaml",
        """
        topics:
          iran-russia:
            name: Iran-Russia relations
            require_entities: [Iran, Russia]
            min_score: 1
            terms: {en: [relations, partnership, cooperation]}
        """,
    )
    tagger = KeywordTagger.from_config(project_config(extra_taxonomies=[rules]))
    both = tagger.tag("Tehran seeks closer cooperation with Moscow, officials said.")
    one = tagger.tag("Tehran seeks closer cooperation with its neighbours.")
    assert tag_of(both, "iran-russia").evidence == ["cooperation"]
    assert "iran-russia" not in one.labels


def test_negative_weight_counts_against_a_topic(write_yaml: Writer) -> None:
    rules = write_yaml(
        "rules.yaml",
        "topics:\n  fruit:\n    min_score: 1\n    terms: {en: [apple, {Apple Inc: -5}]}\n",
    )
    tagger = KeywordTagger(load_taxonomy([rules]), load_lexicon(ENTITIES))
    assert "fruit" in tagger.tag("An apple a day.").labels
    assert "fruit" not in tagger.tag("Apple Inc said the apple logo stays.").labels


def test_overlapping_terms_keep_the_longest(write_yaml: Writer) -> None:
    rules = write_yaml(
        "rules.yaml",
        "topics:\n  med:\n    min_score: 0.1\n    terms: {en: [trial, clinical trial]}\n",
    )
    tagger = KeywordTagger(load_taxonomy([rules]), load_lexicon(ENTITIES))
    [tag] = tagger.tag("A clinical trial began.").topics
    assert tag.evidence == ["clinical trial"]


def test_text_beyond_max_chars_is_not_read() -> None:
    tagger = KeywordTagger(load_taxonomy([TAXONOMY]), load_lexicon(ENTITIES), max_chars=1000)
    text = "x " * 600 + "The ceasefire and the peace talks and the troops."
    assert tagger.tag(text).topics == []
    assert tagger.tag(text[-60:]).topics != []


def test_the_tagger_is_built_once_per_process_for_the_same_files() -> None:
    assert KeywordTagger.from_config(project_config()) is KeywordTagger.from_config(
        project_config()
    )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.text(max_size=40))
@example(text="\u2110", title="")  # a capital with no lower case: an empty run, IndexError
@example(text="Talks with \u2110 \u13e3 in \u2110's office", title="")
def test_any_text_is_tagged_without_error(text: str, title: str) -> None:
    result = _shared_tagger().tag(text, title=title, language="en")
    assert all(t.evidence for t in result.topics)
    assert len({(e.name, e.type) for e in result.entities}) == len(result.entities)


def _shared_tagger() -> KeywordTagger:
    return KeywordTagger.from_config(project_config())
