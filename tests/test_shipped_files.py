"""What ships beside the code agrees with the code: the config files load, every setting
is documented with its type and default, and the README's metrics are the registered ones.

The settings are read from the pydantic models and the metrics from prometheus_client's
registry after importing every module of ``pipeline`` and ``connectors``, never from a
copy kept here: a setting or metric added, renamed or relabelled without its documentation
fails one of these tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
import yaml
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from pipeline.config import PACKAGE_DIR, Config, FeedConfig, load_config

REPO = Path(__file__).resolve().parents[1]
CONFIG_DOC = REPO / "docs" / "configuration.md"
README = REPO / "README.md"


# -- the shipped config files ----------------------------------------------------------------


def shipped_configs() -> Iterator[tuple[str, str]]:
    """(where, YAML text) of every newsflow config shipped: ``config/*.yaml``, each
    ``newsflow.yaml`` under ``deploy/`` and each such file held by a Kubernetes ConfigMap."""
    for path in sorted([*REPO.glob("config/*.yaml"), *REPO.glob("deploy/**/newsflow.yaml")]):
        yield str(path.relative_to(REPO)), path.read_text(encoding="utf-8")
    for path in sorted(REPO.glob("deploy/**/*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == "ConfigMap":
                for name, text in (document.get("data") or {}).items():
                    if name == "newsflow.yaml":
                        yield f"{path.relative_to(REPO)} ({name})", text


SHIPPED_CONFIGS = dict(shipped_configs())


def test_the_shipped_configs_are_found() -> None:
    """The glob finds them all: an empty or partial list would pass the test below vacuously."""
    assert {
        "config/newsflow.yaml",
        "config/demo.yaml",
        "deploy/systemd/newsflow.yaml",
        "deploy/compose/config/newsflow.yaml",
        "deploy/k8s/configmap.yaml (newsflow.yaml)",
    } <= set(SHIPPED_CONFIGS)


@pytest.mark.parametrize("where", sorted(SHIPPED_CONFIGS))
def test_every_shipped_config_loads_and_validates(where: str, tmp_path: Path) -> None:
    """Loaded as ``--config`` would load it (same directory, so relative paths resolve as
    they do for the user), with no ``NEWSFLOW_*`` variable to hide a bad value."""
    source = REPO / where.split(" (")[0]
    if " (" in where:  # a ConfigMap's file: written where the pods mount it, a directory
        source = tmp_path / "newsflow.yaml"
        source.write_text(SHIPPED_CONFIGS[where], encoding="utf-8")
    load_config(source, environ={})


# -- docs/configuration.md -------------------------------------------------------------------


def settings() -> Iterator[tuple[str, FieldInfo]]:
    """(dotted key, field) of every setting: top-level ones, each section's keys, and a
    feed's keys as ``feeds[].KEY``."""
    for name, field in Config.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            yield from ((f"{name}.{key}", f) for key, f in model.model_fields.items())
        else:
            yield name, field
    yield from ((f"feeds[].{key}", f) for key, f in FeedConfig.model_fields.items())


SETTINGS = dict(settings())

_NAMES = {
    int: "integer",
    float: "number",
    bool: "boolean",
    str: "string",
    Path: "path",
    SecretStr: "secret string",
    FeedConfig: "feed",
}
_PLURAL = {"path": "paths", "string": "strings", "feed": "feeds"}


def type_text(annotation: Any) -> str:
    """How the doc's ``type`` column names a setting's type."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:  # a type with its own check (fetch.allowed_hosts: strings)
        return type_text(args[0])
    if origin in (Union, types.UnionType) and type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        return f"{type_text(inner)} or null"
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is list:
        inner = type_text(args[0])
        return f"list of {_PLURAL.get(inner, inner)}"
    if origin is dict:
        return f"mapping of {type_text(args[0])} to {type_text(args[1])}"
    return _NAMES[annotation]


def bounds_text(field: FieldInfo) -> str:
    """The bounds pydantic checks, as the doc writes them after the type: ``, ≥ 0, ≤ 3600``."""
    signs = ((Ge, "ge", "≥"), (Gt, "gt", ">"), (Le, "le", "≤"), (Lt, "lt", "<"))
    return "".join(
        f", {sign} {getattr(meta, attr)}"
        for meta in field.metadata
        for kind, attr, sign in signs
        if isinstance(meta, kind)
    )


def expected_type(field: FieldInfo) -> str:
    return type_text(field.annotation) + bounds_text(field)


def expected_default(field: FieldInfo) -> Any:
    """The default as YAML would write it: paths relative to the repository (the shipped
    files live in the package), a secret as its value."""
    value = field.get_default(call_default_factory=True)
    if isinstance(value, Path):
        return str(value.relative_to(PACKAGE_DIR.parent)) if value.is_absolute() else str(value)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value


def doc_rows(text: str) -> dict[str, list[str]]:
    """The rows of the doc's ``| key | type | default | meaning |`` tables, by key."""
    rows: dict[str, list[str]] = {}
    in_table = False
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells == ["key", "type", "default", "meaning"]:
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and not set(cells[0]) <= {"-", " "}:
            key = cells[0].strip("`")
            assert key not in rows, f"{key} documented twice"
            rows[key] = [c.replace("\\|", "|") for c in cells[1:]]
    return rows


@pytest.fixture(scope="module")
def documented() -> dict[str, list[str]]:
    return doc_rows(CONFIG_DOC.read_text(encoding="utf-8"))


def test_the_settings_and_the_doc_rows_are_found(documented: dict[str, list[str]]) -> None:
    assert len(SETTINGS) > 100 and "fetch.timeout" in SETTINGS and "feeds[].url" in SETTINGS
    assert "kafka.bootstrap_servers" in documented


def test_every_setting_is_documented_and_every_documented_setting_exists(
    documented: dict[str, list[str]],
) -> None:
    assert sorted(set(SETTINGS) - set(documented)) == [], "settings missing from the doc"
    assert sorted(set(documented) - set(SETTINGS)) == [], "documented settings that do not exist"


@pytest.mark.parametrize("key", sorted(SETTINGS))
def test_the_doc_gives_each_settings_type_default_and_meaning(
    key: str, documented: dict[str, list[str]]
) -> None:
    """``default`` starts with the default as YAML in backticks (a gloss may follow:
    `` `15728640` (15 MiB) ``), or says ``required``; the meaning says more than nothing."""
    field, row = SETTINGS[key], documented.get(key)
    if row is None:
        pytest.skip("not documented: reported by the test above")
    type_cell, default_cell, meaning = row
    assert type_cell == expected_type(field), f"{key}: the doc's type"
    if field.is_required():
        assert default_cell == "required", f"{key}: the doc's default"
    else:
        literal = re.match(r"`([^`]*)`", default_cell)
        assert literal, f"{key}: the default cell {default_cell!r} starts with no `value`"
        assert yaml.safe_load(literal.group(1)) == expected_default(field), f"{key}: default"
    assert len(meaning.split()) >= 3, f"{key}: no meaning"


@pytest.mark.parametrize("key", sorted(SETTINGS))
def test_every_setting_describes_itself_in_the_code(key: str) -> None:
    """The Field description (JSON schema, editors' completion) is there too."""
    assert len((SETTINGS[key].description or "").split()) >= 3, key


# -- README: metrics ---------------------------------------------------------------------------


_LIST_METRICS = """
import importlib, json, pkgutil
import connectors, pipeline
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

for package in (pipeline, connectors):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
found = {}
# prometheus_client has no public list of its collectors, nor of a metric's label names
for collector in list(REGISTRY._collector_to_names):
    if isinstance(collector, MetricWrapperBase):
        (description,) = collector.describe()
        if description.name.startswith("newsflow_"):
            suffix = "_total" if description.type == "counter" else ""
            found[description.name + suffix] = list(collector._labelnames)
print(json.dumps(found))
"""


def registered_metrics() -> dict[str, tuple[str, ...]]:
    """Every ``newsflow_*`` metric the code defines, as exposed (counters with ``_total``),
    with its label names: every module of the two packages imported, the registry read.

    In a process of its own: some modules act when imported (``pipeline.entry`` holds
    SIGINT and SIGTERM, ``pipeline.runtime.preload`` loads the language model), which
    this test process must not undergo."""
    result = subprocess.run(
        [sys.executable, "-c", _LIST_METRICS],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return {name: tuple(labels) for name, labels in json.loads(result.stdout).items()}


def readme_metrics(text: str) -> dict[str, tuple[str, ...]]:
    """The README's ``| metric | labels | meaning |`` rows under ``### Metrics``: the name
    (without ``newsflow_``) and the labels, comma-separated in backticks, or ``—``."""
    section = text.split("\n### Metrics\n", 1)[1].split("\n### ", 1)[0]
    found: dict[str, tuple[str, ...]] = {}
    in_table = False
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().split("|")[1:-1]]
        if cells[:2] == ["metric", "labels"]:
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and not set(cells[0]) <= {"-", " "}:
            name = "newsflow_" + cells[0].strip("`")
            assert name not in found, f"{name} listed twice"
            labels = re.findall(r"`([^`]+)`", cells[1])
            found[name] = tuple(label for cell in labels for label in cell.split(", "))
    return found


@pytest.fixture(scope="module")
def registered() -> dict[str, tuple[str, ...]]:
    return registered_metrics()


@pytest.fixture(scope="module")
def listed() -> dict[str, tuple[str, ...]]:
    return readme_metrics(README.read_text(encoding="utf-8"))


def test_the_metrics_are_found(
    registered: dict[str, tuple[str, ...]], listed: dict[str, tuple[str, ...]]
) -> None:
    assert len(registered) > 60 and registered["newsflow_feed_polls_total"] == ("feed", "status")
    assert listed["newsflow_feed_polls_total"] == ("feed", "status")


def test_every_registered_metric_is_in_the_readme_and_every_listed_one_exists(
    registered: dict[str, tuple[str, ...]], listed: dict[str, tuple[str, ...]]
) -> None:
    assert sorted(set(registered) - set(listed)) == [], "metrics missing from the README"
    assert sorted(set(listed) - set(registered)) == [], "the README lists unknown metrics"


def test_the_readme_gives_each_metrics_labels(
    registered: dict[str, tuple[str, ...]], listed: dict[str, tuple[str, ...]]
) -> None:
    wrong = {
        name: {"readme": listed[name], "code": labels}
        for name, labels in registered.items()
        if name in listed and sorted(listed[name]) != sorted(labels)
    }
    assert wrong == {}


def test_every_metric_the_docs_name_exists(registered: dict[str, tuple[str, ...]]) -> None:
    """A name in prose (``newsflow_feed_unhealthy``, ``feed_polls_total{status=...}``) is
    one a dashboard or an alert would be written with."""
    exposed = {n.removeprefix("newsflow_") for n in registered}
    histograms = {f"{n}{s}" for n in exposed for s in ("_bucket", "_sum", "_count")}
    unknown = set()
    for path in (README, CONFIG_DOC, *REPO.glob("docs/*.md")):
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"\bnewsflow_([a-z_]+[a-z])\b", text):
            if name not in exposed | histograms:
                unknown.add(f"{path.name}: newsflow_{name}")
    assert sorted(unknown) == []


# -- README: the configuration reference ---------------------------------------------------


def test_the_readme_links_the_configuration_reference() -> None:
    assert "(docs/configuration.md)" in README.read_text(encoding="utf-8")
