"""Kafka client exceptions translated into :class:`~pipeline.errors.TransportError`.

Every call into kafka-python from newsflow runs inside :func:`kafka_errors`, so
the runtime sees one exception type with a stable ``reason`` (a metric label)
and the user reads one sentence naming the operation that failed::

    with kafka_errors("commit offsets"):
        consumer.commit(offsets)

The reasons, most specific first:

- ``kafka_fenced``: another producer with our transactional id, or a newer
  group generation, took over; this instance must stop writing (fatal).
- ``kafka_rebalanced``: the group moved on while a batch was in flight; the
  batch is not committed and its new owner processes it again.
- ``kafka_too_large``: a message exceeds the broker's or producer's size cap.
- ``kafka_auth``: authentication or authorisation refused (fatal).
- ``kafka_config``: the client configuration is invalid (fatal).
- ``kafka_timeout`` / ``kafka_unavailable``: the broker did not answer in
  time or could not be reached (transient).
- ``kafka``: anything else the broker or client reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import kafka.errors as kerrors
from prometheus_client import Counter

from pipeline.errors import TransportError

KAFKA_ERRORS = Counter(
    "newsflow_kafka_errors_total",
    "Kafka client errors translated at the boundary, by reason.",
    ["reason"],
)

# (exception classes, reason) in order: the first match wins.
_REASONS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    (
        (
            kerrors.ProducerFencedError,
            kerrors.InvalidProducerEpochError,
            kerrors.TransactionCoordinatorFencedError,
            kerrors.FencedInstanceIdError,
        ),
        "kafka_fenced",
    ),
    (
        (
            kerrors.CommitFailedError,
            kerrors.IllegalGenerationError,
            kerrors.UnknownMemberIdError,
            kerrors.RebalanceInProgressError,
        ),
        "kafka_rebalanced",
    ),
    ((kerrors.MessageSizeTooLargeError, kerrors.RecordListTooLargeError), "kafka_too_large"),
    (
        (
            kerrors.AuthorizationError,
            kerrors.SaslAuthenticationFailedError,
            kerrors.UnsupportedSaslMechanismError,
        ),
        "kafka_auth",
    ),
    ((kerrors.KafkaConfigurationError, kerrors.InvalidConfigurationError), "kafka_config"),
    ((kerrors.KafkaTimeoutError, kerrors.RequestTimedOutError), "kafka_timeout"),
    (
        (
            kerrors.KafkaConnectionError,
            kerrors.NodeNotReadyError,
            kerrors.BrokerNotAvailableError,
            kerrors.CoordinatorNotAvailableError,
        ),
        "kafka_unavailable",
    ),
)

GROUP_FORMING = (kerrors.CoordinatorNotAvailableError, kerrors.CoordinatorLoadInProgressError)
"""The broker's answer while a group's coordinator is not yet elected or loaded: the first
seconds after a broker starts or a group is made. The broker answered; it is not down."""

FATAL_REASONS = frozenset({"kafka_fenced", "kafka_auth", "kafka_config"})
UNREACHABLE_REASONS = frozenset({"kafka_unavailable", "kafka_timeout"})
"""The broker could not be reached or did not answer: an outage (or a wrong address), not a
refusal of what was asked."""


def reason_for(error: BaseException) -> str:
    """The stable reason code of a kafka-python exception."""
    if isinstance(error, kerrors.KafkaTimeoutError) and "bootstrap" in str(error):
        return "kafka_unavailable"  # kafka-python reports an unreachable broker as a timeout
    for classes, reason in _REASONS:
        if isinstance(error, classes):
            return reason
    return "kafka"


def translate(error: BaseException, action: str) -> TransportError:
    """A :class:`TransportError` saying which ``action`` failed and why."""
    reason = reason_for(error)
    KAFKA_ERRORS.labels(reason).inc()
    detail = str(error) or type(error).__name__
    return TransportError(f"Kafka: cannot {action}: {detail}", reason=reason)


def is_fatal(error: TransportError) -> bool:
    """True when retrying cannot help: this process must stop (and be restarted)."""
    return error.reason in FATAL_REASONS


@contextmanager
def kafka_errors(action: str) -> Iterator[None]:
    """Translate kafka-python exceptions raised inside the block."""
    try:
        yield
    except kerrors.KafkaError as exc:
        raise translate(exc, action) from exc
    except (OSError, ValueError) as exc:  # sockets; invalid topic names from the client
        raise translate(exc, action) from exc
