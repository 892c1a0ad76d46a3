"""The store's dead letters: one letter per failed message, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.storage import Database, DeadLetterRepository
from connectors.storage.dead_letters import MIGRATIONS
from connectors.storage.migrations import migrate


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    yield database
    database.close()


def add(
    letters: DeadLetterRepository, *, stage: str = "fetch", key: str | None, error: str
) -> None:
    letters.add(
        stage=stage, topic="items", error_class="HttpStatusError", reason="http_404",
        error=error, payload=f'{{"url": "{error}"}}', letter_key=key,
    )  # fmt: skip


def all_letters(letters: DeadLetterRepository) -> list[tuple[int, str, str, int]]:
    found = [letters.get(i) for i in letters.ids()]
    return [(x.id, x.stage, x.error, x.attempts) for x in found if x is not None]


def test_the_same_message_failing_again_updates_its_letter(db: Database) -> None:
    letters = DeadLetterRepository(db)
    add(letters, key="feed-a http://x/1", error="first")
    add(letters, key="feed-a http://x/2", error="other")
    [first] = [x for x in (letters.get(i) for i in letters.ids()) if x and x.error == "first"]

    add(letters, key="feed-a http://x/1", error="second")

    assert all_letters(letters) == [(first.id, "fetch", "second", 2), (2, "fetch", "other", 1)]
    again = letters.get(first.id)
    assert again is not None
    assert again.created_at == first.created_at
    assert again.last_failed_at >= first.last_failed_at
    assert again.payload == '{"url": "second"}'


def test_a_failure_at_another_stage_replaces_the_letter_of_the_stage_it_got_past(
    db: Database,
) -> None:
    """The page was fetched at last and now fails extraction: one message, one letter."""
    letters = DeadLetterRepository(db)
    add(letters, stage="fetch", key="k", error="a")
    add(letters, stage="fetch", key="k", error="a")
    add(letters, stage="fetch", key="other", error="c")

    add(letters, stage="extract", key="k", error="b")

    assert sorted((s, e, a) for _, s, e, a in all_letters(letters)) == [
        ("extract", "b", 3),
        ("fetch", "c", 1),
    ]


def test_claim_finds_a_letter_until_it_is_removed(db: Database) -> None:
    letters = DeadLetterRepository(db)
    add(letters, key="k", error="a")
    [letter_id] = letters.ids()
    with db.transaction():
        assert letters.claim(letter_id)
        letters.remove(letter_id)
    with db.transaction():
        assert not letters.claim(letter_id)


def test_letters_without_a_key_are_never_merged(db: Database) -> None:
    letters = DeadLetterRepository(db)
    add(letters, key=None, error="a")
    add(letters, key=None, error="a")
    assert [a for *_, a in all_letters(letters)] == [1, 1]


def test_letters_written_before_keys_existed_are_kept_as_they_were(db: Database) -> None:
    migrate(db, "dead_letters", MIGRATIONS[:1])
    db.execute(
        "INSERT INTO dead_letters (stage, topic, error_class, reason, error, payload, created_at)"
        " VALUES ('fetch', 'items', 'E', 'r', 'old', '{}', '2026-01-01T00:00:00+00:00')"
    )

    letters = DeadLetterRepository(db)  # applies step 2

    [old] = [letters.get(i) for i in letters.ids()]
    assert old is not None
    assert (old.error, old.letter_key, old.attempts) == ("old", None, 1)
    assert old.last_failed_at == old.created_at
    add(letters, key="k", error="new")
    assert len(letters.ids()) == 2


def test_remove_matching_removes_only_the_chosen_letters(db: Database) -> None:
    letters = DeadLetterRepository(db)
    add(letters, stage="fetch", key="a", error="a")
    add(letters, stage="extract", key="b", error="b")
    add(letters, stage="fetch", key="c", error="c")

    assert letters.remove_matching(stage="fetch", reason="http_410") == 0
    assert letters.remove_matching(stage="fetch", reason=None) == 2
    assert [s for _, s, _, _ in all_letters(letters)] == ["extract"]
    assert letters.remove_matching(stage=None, reason=None) == 1
    assert letters.count() == 0


def test_a_letter_is_scheduled_from_its_attempts_and_a_new_failure_clears_the_schedule(
    db: Database,
) -> None:
    letters = DeadLetterRepository(db)
    soon = datetime(2030, 1, 1, tzinfo=UTC)
    seen: list[int] = []

    def schedule(attempts: int) -> datetime:
        seen.append(attempts)
        return soon + timedelta(minutes=attempts)

    letters.add(stage="fetch", topic="items", error_class="FetchTimeout", reason="timeout",
                error="slow", payload="{}", letter_key="k", retry=schedule)  # fmt: skip
    letters.add(stage="fetch", topic="items", error_class="FetchTimeout", reason="timeout",
                error="slow", payload="{}", letter_key="k", retry=schedule)  # fmt: skip
    [letter] = [letters.get(i) for i in letters.ids()]
    assert seen == [1, 2]
    assert letter is not None and letter.retry_at is not None
    assert datetime.fromisoformat(letter.retry_at) == soon + timedelta(minutes=2)

    add(letters, key="k", error="now gone")  # no schedule: left to a replay

    assert (letters.get(letter.id) or letter).retry_at is None
    assert letters.next_retry() is None


def test_due_letters_are_leased_and_settled_only_when_they_did_not_fail_again(
    db: Database,
) -> None:
    letters = DeadLetterRepository(db)
    now = datetime.now(UTC)
    for key, wait in (("due-1", -60), ("due-2", -1), ("later", 3600)):
        letters.add(stage="fetch", topic="items", error_class="FetchTimeout", reason="timeout",
                    error=key, payload="{}", letter_key=key,
                    retry=lambda _, wait=wait: now + timedelta(seconds=wait))  # fmt: skip
    add(letters, key="manual", error="manual")
    assert letters.next_retry() == now - timedelta(seconds=60)

    lease = now + timedelta(minutes=15)
    taken = letters.take_due(now, lease_until=lease, limit=10)

    assert [x.error for x in taken] == ["due-1", "due-2"]
    assert letters.take_due(now, lease_until=lease, limit=10) == []  # leased: not taken twice
    assert letters.next_retry() == lease  # the leased ones, before the one due in an hour
    first, second = taken
    add(letters, key="due-2", error="failed again")  # attempts 1 -> 2
    assert letters.settle(first.id, first.attempts) is True
    assert letters.settle(second.id, second.attempts) is False
    remaining = sorted(x.error for x in (letters.get(i) for i in letters.ids()) if x)
    assert remaining == ["failed again", "later", "manual"]


def test_a_leased_letter_whose_service_died_comes_due_again_when_the_lease_ends(
    db: Database,
) -> None:
    """The service took the letter and was killed before its article was stored: no
    settle, no new failure. The letter is not lost: it is taken again after the lease."""
    letters = DeadLetterRepository(db)
    now = datetime.now(UTC)
    letters.add(stage="fetch", topic="items", error_class="FetchTimeout", reason="timeout",
                error="slow", payload="{}", letter_key="k", retry=lambda _: now)  # fmt: skip
    lease = now + timedelta(minutes=15)
    [taken] = letters.take_due(now, lease_until=lease, limit=1)

    assert letters.take_due(lease - timedelta(seconds=1), lease_until=lease, limit=1) == []
    [again] = letters.take_due(lease, lease_until=lease + timedelta(minutes=15), limit=1)
    assert (again.id, again.attempts) == (taken.id, taken.attempts)
    assert letters.settle(again.id, again.attempts) is True
    assert letters.count() == 0


def age(db: Database, key: str, days: float) -> None:
    """Make the letter of ``key`` look as if it last failed ``days`` ago."""
    then = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    db.execute("UPDATE dead_letters SET last_failed_at = ? WHERE letter_key = ?", (then, key))


def test_expire_removes_letters_not_failed_again_within_the_retention_unless_scheduled(
    db: Database,
) -> None:
    letters = DeadLetterRepository(db)
    add(letters, key="old", error="old")
    add(letters, key="recent", error="recent")
    letters.add(
        stage="fetch", topic="items", error_class="FetchTimeout", reason="timeout",
        error="scheduled", payload="{}", letter_key="old but scheduled",
        retry=lambda _: datetime.now(UTC) + timedelta(hours=1),
    )  # fmt: skip
    age(db, "old", days=40)
    age(db, "recent", days=2)
    age(db, "old but scheduled", days=40)

    assert letters.expire(datetime.now(UTC) - timedelta(days=30)) == 1

    assert sorted(error for _, _, error, _ in all_letters(letters)) == ["recent", "scheduled"]


def test_a_letter_failing_again_is_young_again(db: Database) -> None:
    letters = DeadLetterRepository(db)
    add(letters, key="k", error="first")
    age(db, "k", days=40)
    add(letters, key="k", error="again")

    assert letters.expire(datetime.now(UTC) - timedelta(days=30)) == 0
    assert letters.count() == 1


def test_a_letter_from_before_last_failed_at_existed_ages_from_its_first_failure(
    db: Database,
) -> None:
    letters = DeadLetterRepository(db)
    add(letters, key="k", error="old")
    then = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    db.execute("UPDATE dead_letters SET last_failed_at = NULL, created_at = ?", (then,))

    assert letters.expire(datetime.now(UTC) - timedelta(days=30)) == 1


def test_remove_matching_can_choose_by_age(db: Database) -> None:
    letters = DeadLetterRepository(db)
    add(letters, stage="fetch", key="old fetch", error="a")
    add(letters, stage="extract", key="old extract", error="b")
    add(letters, stage="fetch", key="new fetch", error="c")
    age(db, "old fetch", days=10)
    age(db, "old extract", days=10)
    week_ago = datetime.now(UTC) - timedelta(days=7)

    assert letters.remove_matching(stage="fetch", reason=None, failed_before=week_ago) == 1
    assert letters.remove_matching(stage=None, reason=None, failed_before=week_ago) == 1
    assert [error for _, _, error, _ in all_letters(letters)] == ["c"]
