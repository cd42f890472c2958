"""docker-compose.yml and the Dockerfile, checked against fcplan's own settings.

No Docker engine is needed: the file is parsed with PyYAML and compose's
``${VAR:-default}`` interpolation is done here, so a typo in a variable name, a
KRaft listener that does not line up or a database URL that names another user
fails a unit test instead of a deployment.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
FCPLAN_SERVICES = ("worker", "retrainer", "dashboard")

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(LookupError):
    pass


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: ``${V}``, ``${V:-default}``, ``${V-default}``,
    ``${V:?error}``, ``${V?error}``; ``$$`` is a literal ``$``."""

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        value = env.get(name)
        unset_or_empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset_or_empty else str(value)
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {arg}")
            return str(value)
        return value or ""

    placeholder = "\x00"
    return _VAR.sub(sub, text.replace("$$", placeholder)).replace(placeholder, "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment`` as a dict (compose allows a list of ``K=V`` too)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def kafka_map(value: str) -> dict[str, str]:
    """``A:B,C:D`` -> ``{"A": "B", "C": "D"}``."""
    return dict(part.split(":", 1) for part in value.split(","))


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` -> ``{NAME: (host, port)}`` (empty host: every interface)."""
    out = {}
    for part in value.split(","):
        name, rest = part.split("://", 1)
        host, port = rest.rsplit(":", 1)
        out[name] = (host, int(port))
    return out


OPERATOR_ENV = {"POSTGRES_PASSWORD": "s3cret-pw"}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No FCPLAN_* variable from the machine running the tests leaks in."""
    for var in list(os.environ):
        if var.startswith("FCPLAN_"):
            monkeypatch.delenv(var)
    return monkeypatch


def test_compose_has_kafka_postgres_and_the_three_fcplan_services(services: dict[str, Any]) -> None:
    assert {"kafka", "postgres", *FCPLAN_SERVICES} <= set(services)


def test_every_fcplan_variable_in_compose_is_one_the_settings_read(services: dict[str, Any]) -> None:
    from fcplan.core.settings import environment_variables

    known = environment_variables()
    used = {
        (name, var)
        for name, svc in services.items()
        for var in environment(svc)
        if var.startswith("FCPLAN_")
    }
    unknown = sorted(f"{name}: {var}" for name, var in used if var not in known)
    assert used, "no FCPLAN_* variable found: the x-fcplan-env anchor is not applied"
    assert unknown == [], f"compose sets variables fcplan never reads: {unknown}"


def test_the_check_above_would_catch_a_misspelled_variable() -> None:
    from fcplan.core.settings import environment_variables

    known = environment_variables()
    assert "FCPLAN_DATABASE_URL" in known
    assert "FCPLAN_DATABASE_URI" not in known
    assert "FCPLAN_KAFKA_BOOTSTRAP_SERVERS" not in known


def test_fcplan_services_share_one_environment_from_the_anchor(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    shared = {str(k): str(v) for k, v in compose["x-fcplan-env"].items()}
    for name in FCPLAN_SERVICES:
        env = environment(services[name])
        assert {k: env.get(k) for k in shared} == shared, f"{name} does not use the x-fcplan-env anchor"
    assert shared["FCPLAN_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert "FCPLAN_TIMEZONE" in shared
    assert "FCPLAN_CENTERS" in shared


def test_compose_environment_builds_a_valid_settings_object(
    services: dict[str, Any], clean_env: pytest.MonkeyPatch
) -> None:
    from fcplan.core.settings import Settings

    for name in FCPLAN_SERVICES:
        for var, raw in environment(services[name]).items():
            clean_env.setenv(var, interpolate(raw, OPERATOR_ENV))
        settings = Settings()
        assert settings.kafka.bootstrap == "kafka:9092"
        assert not settings.kafka.embedded
        assert settings.database.url.startswith("postgresql+psycopg://")
        assert settings.timezone == "Asia/Seoul"
        assert settings.centers == ()


def test_compose_environment_with_operator_overrides_parses(
    services: dict[str, Any], clean_env: pytest.MonkeyPatch
) -> None:
    from fcplan.core.settings import Settings

    operator = {**OPERATOR_ENV, "FCPLAN_TIMEZONE": "Europe/London", "FCPLAN_CENTERS": "LHR1,MAN2"}
    for var, raw in environment(services["worker"]).items():
        clean_env.setenv(var, interpolate(raw, operator))
    settings = Settings()
    assert settings.timezone == "Europe/London"
    assert settings.centers == ("LHR1", "MAN2")


def test_compose_refuses_to_start_without_a_database_password(services: dict[str, Any]) -> None:
    url = environment(services["worker"])["FCPLAN_DATABASE_URL"]
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        interpolate(url, {})


def test_database_url_matches_the_postgres_service_user_db_and_password(services: dict[str, Any]) -> None:
    from sqlalchemy.engine import make_url

    pg = {k: interpolate(v, OPERATOR_ENV) for k, v in environment(services["postgres"]).items()}
    for name in FCPLAN_SERVICES:
        url = make_url(interpolate(environment(services[name])["FCPLAN_DATABASE_URL"], OPERATOR_ENV))
        assert url.drivername == "postgresql+psycopg"
        assert url.host == "postgres", "the host must be the postgres service name"
        assert url.port in (None, 5432)
        assert url.username == pg["POSTGRES_USER"]
        assert url.password == pg["POSTGRES_PASSWORD"] == OPERATOR_ENV["POSTGRES_PASSWORD"]
        assert url.database == pg["POSTGRES_DB"]


def test_postgres_is_version_16_with_a_volume_and_a_pg_isready_healthcheck(services: dict[str, Any]) -> None:
    pg = services["postgres"]
    assert pg["image"].split(":")[1].startswith("16")
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in pg["volumes"])
    test = pg["healthcheck"]["test"]
    assert "pg_isready" in (test if isinstance(test, str) else " ".join(test))


def test_kafka_is_one_combined_kraft_node(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    env = environment(kafka)
    image, tag = kafka["image"].split(":")
    assert image == "apache/kafka"
    assert tag.startswith(("3.9.", "4."))
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env


def test_kafka_listeners_line_up(services: dict[str, Any]) -> None:
    env = {k: interpolate(v, OPERATOR_ENV) for k, v in environment(services["kafka"]).items()}
    protocols = kafka_map(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"])
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    inter_broker = env["KAFKA_INTER_BROKER_LISTENER_NAME"]

    assert controller in protocols, "the controller listener needs a security protocol"
    assert controller in bound, "the controller listener must be bound"
    assert controller not in advertised, "a combined node does not advertise its controller listener"
    assert set(bound) <= set(protocols)
    assert inter_broker in bound and inter_broker in advertised
    for name, (host, port) in advertised.items():
        assert host == "kafka", f"{name} advertises {host}: clients in the network resolve the service name"
        assert bound[name][1] == port


def test_kafka_quorum_voters_name_this_node_and_its_controller_listener(services: dict[str, Any]) -> None:
    env = environment(services["kafka"])
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 1
    node, address = voters[0].split("@")
    host, port = address.rsplit(":", 1)
    assert node == str(env["KAFKA_NODE_ID"])
    assert host == "kafka"
    assert listeners(env["KAFKA_LISTENERS"])[env["KAFKA_CONTROLLER_LISTENER_NAMES"]][1] == int(port)


def test_kafka_single_node_replication_and_no_auto_create(services: dict[str, Any]) -> None:
    env = environment(services["kafka"])
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"


def test_kafka_cluster_id_is_a_base64_uuid(services: dict[str, Any]) -> None:
    cluster_id = interpolate(environment(services["kafka"])["CLUSTER_ID"], {})
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_kafka_has_a_healthcheck_and_a_data_volume(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    test = kafka["healthcheck"]["test"]
    text = test if isinstance(test, str) else " ".join(test)
    assert "localhost:9092" in text
    log_dir = environment(kafka)["KAFKA_LOG_DIRS"]
    assert any(str(v).endswith(f":{log_dir}") for v in kafka["volumes"])


@pytest.mark.parametrize("name", ["worker", "retrainer"])
def test_stream_services_wait_for_healthy_kafka_and_postgres(services: dict[str, Any], name: str) -> None:
    deps = services[name]["depends_on"]
    assert deps["kafka"]["condition"] == "service_healthy"
    assert deps["postgres"]["condition"] == "service_healthy"


def test_dashboard_waits_for_healthy_postgres_and_publishes_its_port(services: dict[str, Any]) -> None:
    dash = services["dashboard"]
    assert dash["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert dash["command"] == ["dashboard", "--port", "8501"]
    assert any(interpolate(str(p), {}).endswith(":8501") for p in dash["ports"])


def test_fcplan_services_are_built_from_the_dockerfile_and_restart(services: dict[str, Any]) -> None:
    for name in FCPLAN_SERVICES:
        svc = services[name]
        build = svc["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        assert (COMPOSE.parent / context / "Dockerfile").exists()
        assert svc["restart"] in ("always", "unless-stopped", "on-failure")
    for name in ("kafka", "postgres"):
        assert services[name]["restart"] in ("always", "unless-stopped")


def test_worker_runs_fcplan_worker(services: dict[str, Any]) -> None:
    assert services["worker"]["command"] == ["worker"]
    assert "entrypoint" not in services["worker"]


def test_the_worker_ends_its_own_stop_inside_the_grace_period_compose_gives_it(services: dict[str, Any]) -> None:
    from fcplan.core.settings import StreamsSettings

    grace = services["worker"]["stop_grace_period"]
    assert re.fullmatch(r"\d+s", grace), f"stop_grace_period {grace!r}: write whole seconds, e.g. 30s"
    assert int(grace[:-1]) >= StreamsSettings().stop_timeout_s + 5


def test_retrainer_loops_retrain_then_plan(services: dict[str, Any]) -> None:
    svc = services["retrainer"]
    script = " ".join(svc["command"]) if isinstance(svc["command"], list) else svc["command"]
    assert svc["entrypoint"][0].endswith("sh")
    assert re.search(r"while true; do\s+fcplan retrain && fcplan plan", script)
    assert "sleep" in script
    assert svc["init"] is True, "without an init, sh as PID 1 ignores SIGTERM"
    # compose turns $$ into $: the shell, not compose, expands the interval.
    assert "$RETRAIN_EVERY_S" not in script.replace("$$", "")
    assert "RETRAIN_EVERY_S" in environment(svc)


def test_interpolation_helper_follows_compose_rules() -> None:
    assert interpolate("${A:-x}", {}) == "x"
    assert interpolate("${A:-x}", {"A": ""}) == "x"
    assert interpolate("${A-x}", {"A": ""}) == ""
    assert interpolate("${A}-$${B}", {"A": "1"}) == "1-${B}"
    with pytest.raises(MissingVariable):
        interpolate("${A:?need A}", {"A": ""})


def test_dockerfile_installs_cpu_torch_then_fcplan_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0].startswith("FROM python:3.11-slim")
    torch_at = next(i for i, line in enumerate(lines) if "torch==" in line and "pip install" in line)
    fcplan_at = next(i for i, line in enumerate(lines) if re.search(r"pip install \.(\s|$)", line))
    assert torch_at < fcplan_at
    assert "download.pytorch.org/whl/cpu" in lines[torch_at]
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["fcplan"]' in lines


def test_dockerfile_pins_the_same_torch_as_pyproject() -> None:
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = next(d for d in deps if d.replace(" ", "").startswith("torch=="))
    version = pinned.split("==")[1]
    assert f"TORCH_VERSION={version}" in DOCKERFILE.read_text()


def test_dockerignore_keeps_the_virtualenv_and_local_state_out_of_the_image() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git", "var"} <= ignored
    assert "fcplan" not in ignored and ".streamlit" not in ignored
