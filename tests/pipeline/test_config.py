"""Config: validated once, one readable line per problem, env overrides."""

import os
import re
import resource
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

import pipeline
from pipeline.config import (
    MAX_YAML_BYTES,
    SHIPPED_ENTITIES,
    SHIPPED_RESIDUE_RULES,
    Config,
    FeedConfig,
    KafkaConfig,
    load_config,
    parse_config,
    read_yaml_mapping,
)
from pipeline.errors import ConfigError
from pipeline.extraction import load_rules
from pipeline.tagging.lexicon import load_lexicon
from pipeline.tagging.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsflow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_embedded_sqlite_pipeline(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "feeds: []\n"), environ={})
    assert config.transport == "embedded"
    assert config.kafka.topic_prefix == "news"
    assert config.storage.url == f"sqlite:///{tmp_path / 'data/newsflow.db'}"
    assert config.fetch.allow_private_networks is False


def test_each_problem_is_one_line_naming_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "feeds:\n  - {name: a, url: 'ftp://example.com/feed'}\n  - {url: 'http://x.example/'}\n"
        "transport: pigeon\nfetch: {timeout: -1}\nbogus: 1\n",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    problems = err.value.problems
    assert len(problems) == 5
    assert any(p.startswith("feeds.0 (a).url: only http(s) URLs") for p in problems)
    assert "feeds.1.name: Field required" in problems
    assert any(p.startswith("transport:") for p in problems)
    assert any(p.startswith("fetch.timeout:") for p in problems)
    assert "bogus: unknown key" in problems


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2024-13-01", "'2024-13-01': month must be in 1..12"),
        ('!!int "abc"', "'abc': invalid literal for int()"),
        ("9" * 5000, "'99999999999999999999...(5000 characters)': Exceeds the limit (4300 digits)"),
    ],
)
def test_a_value_yaml_reads_but_python_cannot_hold_names_the_line(
    tmp_path: Path, value: str, words: str
) -> None:
    """A bare ValueError left load_config: the command ended as an internal error."""
    text = f"feeds:\n  - name: {value}\n    url: https://example.com/feed\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), environ={})
    [line] = err.value.lines()
    assert "invalid YAML (line 2, column 11): cannot read the value " + words in line
    assert "set_int_max_str_digits" not in line


@pytest.mark.parametrize("tagged", ["!!bool abc", "!!set [a]", "!!map a"])
def test_a_tag_yaml_cannot_apply_is_a_config_problem(tmp_path: Path, tagged: str) -> None:
    """KeyError, TypeError and ValueError from PyYAML's own constructors left load_config."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"transport: {tagged}\n"), environ={})
    [line] = err.value.lines()
    assert "invalid YAML: a tagged value cannot be read" in line


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "feeds: [\n  - name: a\n"), environ={})
    assert err.value.problems[0].startswith("invalid YAML (line")


@pytest.mark.parametrize(
    "text",
    [
        "feeds:\n  - {name: a, url: 'http://a.example/'}\nstorage: {url: 'sqlite:///x.db'}\n"
        "feeds: []\n",
        "fetch:\n  timeout: 5\n  deadline: 20\n  timeout: 50\n",
    ],
    ids=["top-level", "nested"],
)
def test_a_key_given_twice_is_an_error_naming_its_line(tmp_path: Path, text: str) -> None:
    """YAML would keep the last silently: the second feeds: would drop the feed above it."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), environ={})
    [problem] = err.value.problems
    assert problem.startswith("invalid YAML (line") and "appears twice" in problem


def test_a_key_next_to_a_merge_still_overrides_it(tmp_path: Path) -> None:
    text = (
        "feeds:\n"
        "  - &base {name: a, url: 'http://a.example/', interval_seconds: 600}\n"
        "  - <<: *base\n"
        "    name: b\n"
    )
    config = load_config(write(tmp_path, text), environ={})
    assert [(f.name, f.interval_seconds) for f in config.feeds] == [("a", 600), ("b", 600)]


@pytest.mark.parametrize(
    ("name", "words"),
    [("nul\x00name", "control characters"), ("a\nb", "control characters"),
     ("   ", "blank"), ("x" * 201, "at most 200")],
)  # fmt: skip
def test_a_feed_name_must_be_printable_and_short(name: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"feeds": [{"name": name, "url": "http://a.example/"}]})
    [problem] = err.value.problems
    assert problem.startswith("feeds.0.name:") and words in problem


@pytest.mark.parametrize(
    "url", ["/srv/feeds/a\x00b.xml", "https://example.com/\x00x", "https://example.com/a\x7f"]
)
def test_a_feed_url_with_a_control_character_is_a_config_problem(url: str) -> None:
    """A NUL in a local feed's path passed the config and failed every command that read
    the feeds (ValueError: embedded null byte, 'internal error ... this is a bug')."""
    with pytest.raises(ConfigError) as err:
        parse_config({"feeds": [{"name": "f", "url": url}]})
    [problem] = err.value.problems
    assert problem.startswith("feeds.0 (f).url:") and "control characters" in problem


@pytest.mark.parametrize(
    "url",
    [
        "http://example.123/rss",
        "https://xn--zz-.example/feed",
        "http://a%2Fb.example/",
        "http://example.com:0/rss",
        "https://example.com:65536/feed",
    ],
)
def test_a_feed_url_whose_host_the_fetcher_refuses_is_a_config_problem(url: str) -> None:
    """Host and port are read as the fetcher reads them: such a feed was accepted and then
    failed at every poll (invalid_url)."""
    with pytest.raises(ConfigError) as err:
        parse_config({"feeds": [{"name": "f", "url": url}]})
    [problem] = err.value.problems
    assert problem.startswith("feeds.0 (f).url:") and "no valid host or port" in problem


def test_allowed_hosts_are_kept_as_the_guard_matches_them() -> None:
    """Read as URL hosts are, so an entry exempts the host a URL naming it is fetched from."""
    entries = ["Bücher.Intranet.", " 127.1", "0:0::1", "[::2]", "*.CORP.Example.", "10.0.0.5"]
    config = parse_config({"fetch": {"allowed_hosts": entries}})
    assert config.fetch.allowed_hosts == [
        "xn--bcher-kva.intranet",
        "127.0.0.1",
        "::1",
        "::2",
        "*.corp.example",
        "10.0.0.5",
    ]


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("http://intranet.example", "invalid host"),
        ("https://intranet.example/feeds", "invalid host"),
        ("intranet.example/feeds", "invalid host"),
        ("intranet.example:8080", "invalid host"),
        ("[::1]:8080", "IPv6"),
        ("", "empty host"),
        ("xn--zz-.example", "international"),
        ("10.0.0.0/8", "invalid host"),
        ("*.10.0.0.1", "not an address"),
        ("*.", "empty host"),
        ("*", "invalid host"),
        ("example.123", "ends in a number"),
        ("-a.example", "no DNS name"),
    ],
)
def test_an_allowed_host_no_url_could_name_is_a_config_problem(entry: str, why: str) -> None:
    """Such an entry was kept as written, lower case, and never matched anything."""
    with pytest.raises(ConfigError) as err:
        parse_config({"fetch": {"allowed_hosts": ["ok.example", entry]}})
    [problem] = err.value.problems
    assert problem.startswith(f"fetch.allowed_hosts.1: {entry!r} is not a host name, an IP")
    assert "*.domain (no scheme, port or path)" in problem and why in problem


def test_a_feed_problem_names_the_feed_and_a_yaml_boolean_is_explained(tmp_path: Path) -> None:
    text = (
        "feeds:\n"
        "  - {name: bbc-world, url: 'http://a.example/rss', interval_seconds: -4}\n"
        "  - {name: off, url: 'http://b.example/rss'}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), environ={})
    assert err.value.problems == [
        "feeds.0 (bbc-world).interval_seconds: Input should be greater than 0",
        "feeds.1.name: Input should be a valid string"
        " (YAML reads unquoted yes, no, on, off as true or false: quote it)",
    ]


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", environ={})
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"), environ={})


def test_an_empty_config_path_is_refused_not_replaced_by_the_default() -> None:
    with pytest.raises(ConfigError) as err:
        load_config("", environ={})
    assert err.value.lines() == ["--config: empty; give the path of a YAML config file"]


def test_environment_overrides_secrets_and_endpoints(tmp_path: Path) -> None:
    env = {
        "NEWSFLOW_STORAGE__URL": "postgresql://news@db/news",
        "NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS": "b1:9092, b2:9092",
        "NEWSFLOW_KAFKA__SASL_PASSWORD": "s3cret",
    }
    config = load_config(write(tmp_path, "transport: kafka\n"), environ=env)
    assert config.storage.url == "postgresql://news@db/news"
    assert config.kafka.bootstrap_servers == ["b1:9092", "b2:9092"]
    assert config.kafka.sasl_password is not None
    assert "s3cret" not in repr(config.kafka)


def test_config_file_chosen_by_env_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka: {topic_prefix: wire}\n")
    assert load_config(None, environ={"NEWSFLOW_CONFIG": str(path)}).kafka.topic_prefix == "wire"


def test_local_feed_paths_resolve_against_the_project(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    path = tmp_path / "config" / "x.yaml"
    path.write_text("feeds: [{name: local, url: demo/feeds/a.xml}]\n", encoding="utf-8")
    assert load_config(path, environ={}).feeds[0].url == str(tmp_path / "demo/feeds/a.xml")


def test_feed_names_must_be_unique() -> None:
    with pytest.raises(ConfigError, match="unique"):
        parse_config({"feeds": [{"name": "a", "url": "http://x.example/"}] * 2})


def test_rules_left_at_default_are_the_packaged_ones_and_named_paths_are_the_configs(
    tmp_path: Path,
) -> None:
    """The defaults come with the package, wherever it is installed; a file the config
    names is relative to the config, as every other path."""
    (tmp_path / "config").mkdir()
    path = tmp_path / "config" / "newsflow.yaml"
    path.write_text("tagging: {taxonomy: my/taxonomy.yaml}\n", encoding="utf-8")
    config = load_config(path, environ={})
    assert config.extract.residue_rules == SHIPPED_RESIDUE_RULES
    assert SHIPPED_RESIDUE_RULES.is_relative_to(Path(pipeline.__file__).parent)
    assert config.tagging.entities == SHIPPED_ENTITIES
    assert config.tagging.taxonomy == tmp_path / "my/taxonomy.yaml"


def test_a_copy_of_a_shipped_file_named_in_the_config_is_the_one_read(tmp_path: Path) -> None:
    """How a user changes the rules: copy, edit, name the copy."""
    shipped = SHIPPED_RESIDUE_RULES.read_text(encoding="utf-8")
    assert "  teaser_lines: 2 " in shipped
    (tmp_path / "rules.yaml").write_text(
        shipped.replace("  teaser_lines: 2 ", "  teaser_lines: 3 "), encoding="utf-8"
    )
    config = load_config(write(tmp_path, "extract: {residue_rules: rules.yaml}\n"), environ={})
    assert config.extract.residue_rules == tmp_path / "rules.yaml"
    assert load_rules(config.extract.residue_rules).teaser_lines == 3


NO_CONFIG = (
    "no config file found: no --config, no NEWSFLOW_CONFIG and no {where};"
    " give one with --config FILE or NEWSFLOW_CONFIG=FILE"
)


def test_without_a_config_file_one_line_says_where_it_looked_and_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the repository's config/newsflow.yaml from elsewhere: an installed package has
    none, and a checkout's would have run on the checkout's feeds and store."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ={})
    assert caught.value.lines() == [NO_CONFIG.format(where=tmp_path / "config/newsflow.yaml")]


def test_config_newsflow_yaml_in_the_working_directory_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "newsflow.yaml").write_text("kafka: {topic_prefix: here}\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_config(None, environ={}).kafka.topic_prefix == "here"


def test_missing_ok_gives_the_built_in_defaults_with_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, environ={"NEWSFLOW_EXTRACT__MIN_TEXT_CHARS": "7"}, missing_ok=True)
    assert config.extract.min_text_chars == 7
    assert config.extract.residue_rules == SHIPPED_RESIDUE_RULES
    assert config.storage.url == f"sqlite:///{tmp_path / 'data/newsflow.db'}"
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "named.yaml", environ={}, missing_ok=True)  # named: must exist


def newsflow_limited(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of at most 1 GiB of memory, given 30 s: reading without a
    bound fails or times out instead of taking the machine's memory."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=limit_memory,
    )


def assert_refused(result: subprocess.CompletedProcess[str], expect: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("newsflow: ") and expect in line


def test_a_fifo_as_config_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    result = newsflow_limited("--config", "pipe", "export", cwd=tmp_path)
    assert_refused(result, "config file is not a regular file: pipe")


def test_a_device_as_config_is_refused_not_read_without_end(tmp_path: Path) -> None:
    """``--config /dev/zero`` read 8.5 GB in 10 s; a node of our own with its numbers."""
    if os.getuid() != 0:
        pytest.fail("creating a device node needs root (CI runs as root)")
    os.mknod(tmp_path / "zero", stat.S_IFCHR | 0o444, os.makedev(1, 5))
    result = newsflow_limited("--config", "zero", "export", cwd=tmp_path)
    assert_refused(result, "config file is not a regular file: zero")


def test_a_fifo_as_residue_rules_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    write(tmp_path, "extract: {residue_rules: pipe}\n")
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>Hello.</p></body></html>", encoding="utf-8")
    result = newsflow_limited("--config", "newsflow.yaml", "extract", "page.html", cwd=tmp_path)
    assert_refused(result, "residue rules file is not a regular file")


@pytest.mark.parametrize(
    "read",
    [
        read_yaml_mapping,
        lambda path: load_config(path, environ={}),
        load_rules,
        lambda path: load_taxonomy([path]),
        load_lexicon,
    ],
    ids=["read_yaml_mapping", "config", "residue_rules", "taxonomy", "entities"],
)
def test_every_yaml_file_is_refused_over_the_size_cap(
    tmp_path: Path, read: Callable[[Path], Any]
) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as out:  # a sparse file: no disk space taken
        out.truncate(MAX_YAML_BYTES + 1)
    with pytest.raises(ConfigError, match="is larger than 16 MiB"):
        read(big)


def test_a_file_at_the_size_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "padded.yaml"
    text = "a: 1\n"
    path.write_text(text + "#" * (MAX_YAML_BYTES - len(text)), encoding="utf-8")
    assert read_yaml_mapping(path) == {"a": 1}


def _float_settings() -> list[tuple[str, str]]:
    """(section, key) of every float setting of every section, feeds included."""
    found = [("feeds", name) for name, f in FeedConfig.model_fields.items() if _is_float(f)]
    for section, field in Config.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            found += [(section, name) for name, f in model.model_fields.items() if _is_float(f)]
    return found


def _is_float(field: FieldInfo) -> bool:
    return float in (field.annotation, *get_args(field.annotation))


def _section_text(section: str, key: str, value: str) -> str:
    if section == "feeds":
        return f"feeds: [{{name: a, url: /tmp/feed.xml, {key}: {value}}}]\n"
    return f"{section}: {{{key}: {value}}}\n"


FLOAT_SETTINGS = _float_settings()


def test_the_float_settings_are_found() -> None:
    assert ("fetch", "deadline") in FLOAT_SETTINGS and (
        "feeds",
        "interval_seconds",
    ) in FLOAT_SETTINGS
    assert len(FLOAT_SETTINGS) > 30


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
@pytest.mark.parametrize(("section", "key"), FLOAT_SETTINGS)
def test_no_float_setting_takes_inf_or_nan_from_the_file(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, _section_text(section, key, value)), environ={})
    assert any(key in p and "finite number" in p for p in caught.value.problems), caught.value


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity"])
@pytest.mark.parametrize(("section", "key"), [s for s in FLOAT_SETTINGS if s[0] != "feeds"])
def test_no_float_setting_takes_inf_or_nan_from_the_environment(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    env = {f"NEWSFLOW_{section.upper()}__{key.upper()}": value}
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, ""), environ=env)
    assert any(f"{section}.{key}" in p and "finite number" in p for p in caught.value.problems)


DURATION = re.compile(
    r"(_seconds|_hours|_days|_minutes|_ms|timeout|deadline|_interval|retry_after\w*)$"
)
DURATIONS = [(section, key) for section, key in FLOAT_SETTINGS if DURATION.search(key)] + [
    ("kafka", key) for key in KafkaConfig.model_fields if key.endswith("_ms")
]


@pytest.mark.parametrize(("section", "key"), DURATIONS)
def test_every_duration_has_an_upper_bound_below_an_overflow(
    tmp_path: Path, section: str, key: str
) -> None:
    """1e10 s is past threading.TIMEOUT_MAX (and 2**31 ms past Kafka's int32): a timer
    given it raises OverflowError in whatever thread it runs."""
    value = "2147483648" if key.endswith("_ms") else "1e10"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, _section_text(section, key, value)), environ={})
    assert any(key in p and "less than or equal" in p for p in caught.value.problems)


def export_with(tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    """``newsflow export`` as a process, on an empty config, with ``environ`` added."""
    write(tmp_path, "")
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--config", "newsflow.yaml", "export"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_deadline_of_inf_from_the_environment_is_one_clear_line(tmp_path: Path) -> None:
    result = export_with(tmp_path, NEWSFLOW_FETCH__DEADLINE="inf")
    assert_refused(result, "fetch.deadline: Input should be a finite number")


def test_a_bad_value_from_the_environment_names_the_variable_not_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "fetch: {deadline: -1}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"NEWSFLOW_FETCH__TIMEOUT": "abc"})
    assert set(caught.value.lines()) == {
        "NEWSFLOW_FETCH__TIMEOUT: fetch.timeout: Input should be a valid number,"
        " unable to parse string as a number",
        f"{path}: fetch.deadline: Input should be greater than 0",
    }


@pytest.mark.parametrize(
    ("name", "expect"),
    [
        ("NEWSFLOW___", "NEWSFLOW___: not a setting: give NEWSFLOW_SECTION__KEY"),
        ("NEWSFLOW_FETCH__", "NEWSFLOW_FETCH__: not a setting"),
        ("NEWSFLOW_FETCH__TIMEOT", "NEWSFLOW_FETCH__TIMEOT: fetch.timeot: unknown key"),
        ("NEWSFLOW_STORAGE", "NEWSFLOW_STORAGE: storage is a section: set its keys"),
        ("NEWSFLOW_FEEDS", "NEWSFLOW_FEEDS: feeds cannot be set from the environment"),
        ("NEWSFLOW_FEEDS__0__URL", "NEWSFLOW_FEEDS__0__URL: feeds cannot be set from the"),
        ("NEWSFLOW_FETCH__USER_AGENT__X", "NEWSFLOW_FETCH__USER_AGENT__X: fetch.user_agent: In"),
    ],
)
def test_a_variable_that_names_no_setting_is_named(tmp_path: Path, name: str, expect: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, ""), environ={name: "1"})
    [line] = caught.value.lines()
    assert line.startswith(expect)


def test_a_top_level_setting_comes_from_the_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={"NEWSFLOW_TRANSPORT": "kafka"})
    assert config.transport == "kafka"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, ""), environ={"NEWSFLOW_TRANSPORT": "kafak"})
    assert caught.value.lines()[0].startswith("NEWSFLOW_TRANSPORT: transport: Input should be")


def test_other_newsflow_variables_are_left_alone(tmp_path: Path) -> None:
    """Scripts and tests keep their own NEWSFLOW_* names (no ``__``, not a setting)."""
    env = {"NEWSFLOW_TEST_POSTGRES_URL": "postgresql://x/y", "NEWSFLOW_RUN_DIR": "/tmp"}
    assert load_config(write(tmp_path, ""), environ=env).transport == "embedded"


def test_the_cli_blames_the_variable(tmp_path: Path) -> None:
    result = export_with(tmp_path, NEWSFLOW_FETCH__TIMEOUT="abc")
    assert_refused(result, "newsflow: NEWSFLOW_FETCH__TIMEOUT: fetch.timeout: Input should be")
    assert "newsflow.yaml" not in result.stderr


@pytest.mark.parametrize("url", ["http://127.0.0.1:18555/x.warc.gz", "HTTPS://a.example/x.warc"])
def test_a_warc_feed_at_an_http_url_is_refused_naming_the_feed(url: str) -> None:
    """It passed, then failed at poll time reading the path 'http:/127.0.0.1:18555/x.warc.gz'."""
    with pytest.raises(ConfigError) as err:
        parse_config({"feeds": [{"name": "cc-news", "url": url, "kind": "warc"}]})
    [problem] = err.value.problems
    assert problem.startswith("feeds.0: feed 'cc-news': kind warc reads local WARC files")
    assert url in problem


def test_a_warc_feed_at_a_local_glob_is_accepted(tmp_path: Path) -> None:
    feed = {"name": "cc-news", "url": "warc/CC-NEWS-*.warc.gz", "kind": "warc"}
    config = parse_config({"feeds": [feed]}, base=tmp_path)
    assert config.feeds[0].url == str(tmp_path / "warc/CC-NEWS-*.warc.gz")
