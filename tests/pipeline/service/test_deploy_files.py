"""The deployment files under ``deploy/``, checked without Docker, Kubernetes or Grafana.

They cannot run here, so what can go wrong with them is checked instead:
they parse, every stage has its service / Deployment / budget, probes use
paths the endpoint serves on the configured port, the configs they ship are
valid newsflow configs, and the systemd unit passes ``systemd-analyze
verify``. (That every metric the dashboard uses exists is checked against
live processes: ``test_service_process.py`` and ``test_service_kafka.py``.)
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from service_support import DASHBOARD, REPO, dashboard_metrics

from pipeline.config import (
    SHIPPED_ENTITIES,
    SHIPPED_RESIDUE_RULES,
    SHIPPED_TAXONOMY,
    Config,
    load_config,
)
from pipeline.service import ServiceEndpoints, metrics
from pipeline.topology import WORKERS

DEPLOY = REPO / "deploy"
STAGES = ("poll", *(w.name for w in WORKERS))


def _yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _config_from_text(text: str, tmp_path: Path) -> Config:
    path = tmp_path / "newsflow.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ={})


def _uses_the_packaged_data(config: Config) -> bool:
    """The rules, taxonomy and entities installed with the package: a copy of the repository's
    files at an absolute path (``/app/config/...``) only worked where someone put it."""
    return (config.extract.residue_rules, config.tagging.taxonomy, config.tagging.entities) == (
        SHIPPED_RESIDUE_RULES,
        SHIPPED_TAXONOMY,
        SHIPPED_ENTITIES,
    )


def _served_paths() -> set[str]:
    config = Config.model_validate({"service": {"http_enabled": False}})
    return set(ServiceEndpoints(config, role="test", store=False).routes())


# -- docker compose ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose" / "docker-compose.yml").read_text(encoding="utf-8"))


PROMETHEUS_CONFIG = Path("/etc/prometheus/prometheus.yml")
"""Where the prom/prometheus image's default command reads its config."""


def _mount_sources(volumes: list[str]) -> dict[str, Path]:
    """A compose service's bind mounts: container path -> host path."""
    mounts = (m.split(":") for m in volumes)
    return {target: DEPLOY / "compose" / source for source, target, *_ in mounts}


def _assert_mounted_as_its_directory(volumes: list[str], config: Path) -> None:
    """A file bind mount keeps the inode it started with: after an editor saves by writing a
    new file and renaming it over the old (vim, ``sed -i``), the container goes on reading
    the old file, and no reload ever sees the change."""
    source = _mount_sources(volumes).get(str(config.parent))
    assert source is not None, f"no mount of {config.parent}"
    assert source.is_dir() and (source / config.name).is_file()


def test_compose_runs_kafka_in_kraft_mode_and_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "ZOOKEEPER" not in json.dumps(env).upper()
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["postgres"]["image"].startswith("postgres:")
    assert "healthcheck" in kafka and "healthcheck" in services["postgres"]


def test_compose_has_one_service_per_stage_built_from_the_dockerfile(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for stage in STAGES:
        service = services[stage]
        assert service["command"] == ["stage", stage]
        build = service["build"]
        assert (DEPLOY / "compose" / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        )
        assert service["stop_grace_period"] == "15s"
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
    assert services["topics"]["command"] == ["topics", "create"]
    assert services.get("poll", {}).get("deploy", {}).get("replicas", 1) == 1


def test_compose_migrates_the_schema_once_before_any_stage_starts(
    compose: dict[str, Any],
) -> None:
    """One one-shot ``newsflow store migrate``: the stages (``migrate_on_start: false``,
    below) would refuse to start on a store with migrations pending."""
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["store", "migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for stage in STAGES:
        assert services[stage]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_compose_config_is_a_valid_newsflow_config_on_kafka(tmp_path: Path) -> None:
    text = (DEPLOY / "compose" / "config" / "newsflow.yaml").read_text(encoding="utf-8")
    config = _config_from_text(text, tmp_path)
    assert config.transport == "kafka"
    assert not config.storage.migrate_on_start
    assert config.kafka.bootstrap_servers == ["kafka:9092"]
    assert config.service.http_host == "0.0.0.0" and config.service.http_port == 8088
    assert _uses_the_packaged_data(config)


def test_compose_mounts_the_config_directory_not_the_file(compose: dict[str, Any]) -> None:
    """Saving the config reloads the poller's feeds only if the save reaches the container."""
    service = compose["x-newsflow"]
    config = Path(service["environment"]["NEWSFLOW_CONFIG"])
    _assert_mounted_as_its_directory(service["volumes"], config)
    for stage in STAGES:
        assert compose["services"][stage]["volumes"] == service["volumes"]


def test_compose_mounts_the_prometheus_config_directory_not_the_file(
    compose: dict[str, Any],
) -> None:
    """Same as the newsflow config: after a save that replaces prometheus.yml, a reload
    (SIGHUP) of a file mount re-read the old inode."""
    _assert_mounted_as_its_directory(
        compose["services"]["prometheus"]["volumes"], PROMETHEUS_CONFIG
    )


def test_prometheus_scrapes_every_stage_on_the_metrics_port(compose: dict[str, Any]) -> None:
    mounts = compose["services"]["prometheus"]["volumes"]
    source = _mount_sources(mounts)[str(PROMETHEUS_CONFIG.parent)] / PROMETHEUS_CONFIG.name
    scrape = yaml.safe_load(source.read_text(encoding="utf-8"))
    (job,) = scrape["scrape_configs"]
    assert job["metrics_path"] in _served_paths()
    (discovery,) = job["dns_sd_configs"]
    assert set(discovery["names"]) == set(STAGES)
    assert discovery["port"] == 8088


def test_grafana_is_provisioned_with_the_dashboard(compose: dict[str, Any]) -> None:
    """The dashboard is mounted as its directory, which the file provider reads: a file
    mount would keep showing the old dashboard after an edit that replaces the file."""
    mounts = compose["services"]["grafana"]["volumes"]
    sources = {(DEPLOY / "compose" / m.split(":")[0]).resolve() for m in mounts}
    assert (DEPLOY / "grafana" / "provisioning") in sources
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/newsflow.yml").read_text(encoding="utf-8")
    )
    read_from = Path(provider["providers"][0]["options"]["path"])
    _assert_mounted_as_its_directory(mounts, read_from / DASHBOARD.name)
    assert _mount_sources(mounts)[str(read_from)].resolve() == DASHBOARD.parent
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    )
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_the_dockerfile_installs_newsflow_from_what_it_copies() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    copied = re.findall(r"^COPY (\S+) ", dockerfile, flags=re.M)
    for source in copied:
        assert (REPO / source).exists(), source
    assert "RUN pip install ." in dockerfile
    assert 'ENTRYPOINT ["newsflow"]' in dockerfile
    assert "STOPSIGNAL SIGTERM" in dockerfile
    assert re.search(r"^USER newsflow$", dockerfile, flags=re.M)


# -- Kubernetes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "k8s/kustomization.yaml").read_text("utf-8"))
    documents: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        documents.extend(_yaml_documents(DEPLOY / "k8s" / resource))
    return documents


def _of_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in manifests if d["kind"] == kind}


def test_every_stage_has_a_deployment_with_probes_on_served_paths(
    manifests: list[dict[str, Any]], tmp_path: Path
) -> None:
    deployments = _of_kind(manifests, "Deployment")
    assert set(deployments) == {f"newsflow-{s}" for s in STAGES}
    config_text = _of_kind(manifests, "ConfigMap")["newsflow-config"]["data"]["newsflow.yaml"]
    port = _config_from_text(config_text, tmp_path).service.http_port
    served = _served_paths()
    for stage in STAGES:
        spec = deployments[f"newsflow-{stage}"]["spec"]
        assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
        (container,) = spec["template"]["spec"]["containers"]
        assert container["args"] == ["stage", stage]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == port
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["path"] in served
            assert container[probe]["httpGet"]["port"] == "http"
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
        assert spec["template"]["spec"]["terminationGracePeriodSeconds"] >= 10
    assert deployments["newsflow-poll"]["spec"]["replicas"] == 1
    assert deployments["newsflow-poll"]["spec"]["strategy"]["type"] == "Recreate"


def test_the_configmap_holds_a_valid_config_the_pods_mount(
    manifests: list[dict[str, Any]], tmp_path: Path
) -> None:
    configmap = _of_kind(manifests, "ConfigMap")["newsflow-config"]
    config = _config_from_text(configmap["data"]["newsflow.yaml"], tmp_path)
    assert config.transport == "kafka" and config.service.http_host == "0.0.0.0"
    assert _uses_the_packaged_data(config)
    assert not config.storage.migrate_on_start  # the Job migrates (below)
    workloads = [*_of_kind(manifests, "Deployment").values(), *_of_kind(manifests, "Job").values()]
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        config_dir = str(Path(env["NEWSFLOW_CONFIG"]).parent)
        assert volumes[mounts[config_dir]]["configMap"]["name"] == "newsflow-config"
        assert "subPath" not in json.dumps(container["volumeMounts"]), "subPath gets no updates"


def test_a_job_migrates_the_schema_as_a_user_of_its_own(manifests: list[dict[str, Any]]) -> None:
    job = _of_kind(manifests, "Job")["newsflow-migrate"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["store", "migrate"]
    assert pod["restartPolicy"] in ("OnFailure", "Never")
    images = {
        c["image"]
        for d in _of_kind(manifests, "Deployment").values()
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {container["image"]}
    (source,) = container["envFrom"]
    secret = _of_kind(manifests, "Secret")[source["secretRef"]["name"]]
    assert secret["metadata"]["name"] != "newsflow-secrets"  # the stages' user needs no DDL
    assert secret["stringData"]["NEWSFLOW_STORAGE__URL"].startswith("postgresql://")


def test_every_deployment_has_a_disruption_budget(manifests: list[dict[str, Any]]) -> None:
    budgets = _of_kind(manifests, "PodDisruptionBudget")
    for name, deployment in _of_kind(manifests, "Deployment").items():
        budget = budgets[name]
        assert (
            budget["spec"]["selector"]["matchLabels"]
            == (deployment["spec"]["selector"]["matchLabels"])
        )
        assert "maxUnavailable" in budget["spec"] or "minAvailable" in budget["spec"]


def test_a_service_exposes_the_metrics_port_of_every_pod(manifests: list[dict[str, Any]]) -> None:
    service = _of_kind(manifests, "Service")["newsflow-metrics"]
    selector = service["spec"]["selector"]
    for deployment in _of_kind(manifests, "Deployment").values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http" and port["port"] == 8088


def test_prometheus_discovers_each_pod_once(manifests: list[dict[str, Any]]) -> None:
    """Scrape annotations on the pods and on their Service: the usual annotation-based
    config (jobs kubernetes-pods and kubernetes-service-endpoints) scrapes each pod twice,
    and every sum the dashboard draws (messages, ready processes, lag) doubles."""
    scraped_pods = [
        name
        for name, deployment in _of_kind(manifests, "Deployment").items()
        if _scraped(deployment["spec"]["template"]["metadata"])
    ]
    assert scraped_pods == [f"newsflow-{stage}" for stage in STAGES]
    services = _of_kind(manifests, "Service")
    assert not [name for name, service in services.items() if _scraped(service["metadata"])]


def _scraped(metadata: dict[str, Any]) -> bool:
    return str(metadata.get("annotations", {}).get("prometheus.io/scrape")).lower() == "true"


# -- systemd ------------------------------------------------------------------------------


UNIT = DEPLOY / "systemd" / "newsflow.service"


def test_the_systemd_unit_reloads_with_hup_and_stops_in_time() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT, encoding="utf-8")
    service = unit["Service"]
    assert service["ExecStart"].endswith("newsflow run")
    assert service["ExecStartPre"].endswith("newsflow store migrate")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    assert 10 <= int(service["TimeoutStopSec"]) <= 60
    assert service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing in CI (Debian package systemd)")
        pytest.skip("systemd-analyze is not installed (the INI checks above still ran)")
    newsflow = shutil.which("newsflow") or str(Path(REPO / ".venv/bin/newsflow"))
    unit = tmp_path / "newsflow.service"
    unit.write_text(
        UNIT.read_text(encoding="utf-8").replace("/opt/newsflow/.venv/bin/newsflow", newsflow),
        encoding="utf-8",
    )
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if "newsflow.service" in line]  # fmt: skip
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_the_single_machine_config_is_valid(tmp_path: Path) -> None:
    text = (DEPLOY / "systemd" / "newsflow.yaml").read_text(encoding="utf-8")
    config = _config_from_text(text, tmp_path)
    assert config.transport == "embedded"
    assert config.storage.url == "sqlite:////var/lib/newsflow/newsflow.db"
    assert not config.storage.migrate_on_start  # the unit's ExecStartPre migrates
    assert _uses_the_packaged_data(config)


# -- Grafana ------------------------------------------------------------------------------


def test_the_dashboard_is_grafana_json_with_a_prometheus_query_in_every_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] == "newsflow"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 20
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["targets"], panel["title"]
        assert all(t["expr"].count("(") == t["expr"].count(")") for t in panel["targets"])
    rows = dashboard_metrics()
    assert {"Pipeline", "Feeds", "Fetch", "Service", "Kafka"} <= set(rows)


def test_the_dashboard_draws_every_metric_of_the_service() -> None:
    """What only a service reports (pipeline.service.metrics) is on the dashboard: the age
    of the DLQ size, which tells a stale count from a current one, was not."""
    drawn = set().union(*dashboard_metrics().values())
    defined = [
        value.describe()[0].name
        for value in vars(metrics).values()
        if isinstance(value, MetricWrapperBase)
    ]  # fmt: skip
    assert defined and [n for n in defined if not any(d.startswith(n) for d in drawn)] == []
