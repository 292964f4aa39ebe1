"""Deployment files checked without a Docker engine or a cluster.

- Dockerfiles (services/Dockerfile, one for the four services, and the tools image's): parsed with
  the official BuildKit parser (``dockerfile``) and linted by hadolint.
- docker-compose.yml: validated against the compose-spec JSON schema that check-jsonschema ships,
  then held to katflow's own rules (health checks, start order, loopback ports, non-root images).
- deploy/k8s: rendered by the small kustomize renderer below (only the kustomization fields katflow
  uses; any other field fails the test instead of being ignored), validated against the Kubernetes
  OpenAPI schemas that kubernetes-validate ships, then held to katflow's rules.
- Every KATFLOW_* variable a deployment sets must be a field of that service's settings class, and
  the values must pass the class's own validation (prod refuses placeholder secrets).

All tools come from the dev dependencies; nothing is fetched or installed at test time.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dockerfile
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from katflow_console.settings import ConsoleSettings
from katflow_intake.settings import IntakeSettings
from katflow_notifications.settings import NotificationsSettings
from katflow_scheduling.settings import SchedulingSettings
from katflow_shared.roles import DEV_API_KEY, Role, hash_api_key
from katflow_shared.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
K8S_BASE = REPO / "deploy" / "k8s" / "base"
K8S_EXAMPLE = REPO / "deploy" / "k8s" / "overlays" / "example"
SECRETS_EXAMPLE = K8S_EXAMPLE / "secrets.example.yaml"

SERVICES: dict[str, int] = {"intake": 8001, "scheduling": 8002, "notifications": 8003, "console": 8004}
BACKEND = ("intake", "scheduling", "notifications")  # the APIs; the console calls them as the person
# The patient's page deployed alone: the notifications image, database and Secret, its own port.
PORTAL = {"portal": 8005}
HTTP_WORKLOADS = SERVICES | PORTAL
IMAGE_OF = {name: name for name in SERVICES} | {"portal": "notifications"}
SETTINGS: dict[str, type[ServiceSettings]] = {
    "console": ConsoleSettings,
    "intake": IntakeSettings,
    "scheduling": SchedulingSettings,
    "notifications": NotificationsSettings,
    "portal": NotificationsSettings,
    "topic-init": ServiceSettings,
}
SERVICE_DOCKERFILE = REPO / "services" / "Dockerfile"  # --build-arg SERVICE=<service>
TOOLS_DOCKERFILE = REPO / "deploy" / "compose" / "Dockerfile.tools"
DOCKERFILES = {"services": SERVICE_DOCKERFILE, "tools": TOOLS_DOCKERFILE}
IMAGES = [*SERVICES, "tools"]  # the images built from them
APP_UID = 10001
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def _venv_tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is a dev dependency: run `uv sync`"
    return found


SettingsFromEnv = Callable[[type[ServiceSettings], dict[str, str]], ServiceSettings]


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch) -> SettingsFromEnv:
    """Build a settings class from exactly these variables, through its real environment source.

    Fails on a KATFLOW_* name the class has no field for: pydantic-settings ignores such typos.
    """

    def build(cls: type[ServiceSettings], env: dict[str, str]) -> ServiceSettings:
        unknown = sorted(k for k in env if k.removeprefix("KATFLOW_").lower() not in cls.model_fields)
        assert not unknown, f"{cls.__name__} has no field for {unknown}"
        for key in list(os.environ):
            if key.startswith("KATFLOW_"):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return cls()

    return build


# ---------------------------------------------------------------- Dockerfiles


@dataclass
class Stage:
    base: str
    name: str
    commands: list[dockerfile.Command]

    def all(self, cmd: str) -> list[dockerfile.Command]:
        return [c for c in self.commands if c.cmd == cmd]


def _stages(path: Path, build_args: dict[str, str] | None = None) -> list[Stage]:
    """The stages, with the global build arguments (their defaults, or ``build_args``) put into
    FROM lines and into the COPY and RUN instructions of stages that declare them."""
    commands = dockerfile.parse_file(str(path))
    global_args = {}
    for command in commands:
        if command.cmd == "FROM":
            break
        if command.cmd == "ARG":
            name, _, default = command.value[0].partition("=")
            global_args[name] = (build_args or {}).get(name, default)

    def expand(text: str, known: dict[str, str]) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: known.get(m.group(1), m.group(0)), text)

    stages: list[Stage] = []
    declared: dict[str, str] = {}
    for command in commands:
        if command.cmd == "FROM":
            base = expand(command.value[0], global_args)
            name = command.value[2] if len(command.value) == 3 else ""
            stages.append(Stage(base, name, []))
            declared = {}
        elif stages:
            if command.cmd == "ARG" and command.value[0] in global_args:
                declared[command.value[0]] = global_args[command.value[0]]
            if command.cmd in ("COPY", "RUN") and declared:
                value = tuple(expand(v, declared) for v in command.value)
                command = command._replace(value=value, original=expand(command.original, declared))
            stages[-1].commands.append(command)
    return stages


def _image(path: Path, build_args: dict[str, str] | None = None) -> tuple[Stage, Stage]:
    """(builder, runtime) of the image built from ``path``: the builder is the first stage; the
    runtime is the last stage with the stages it is built FROM, their instructions in order."""
    stages = _stages(path, build_args)
    by_name = {stage.name: stage for stage in stages if stage.name}
    chain = [stages[-1]]
    while chain[0].base in by_name:
        chain.insert(0, by_name[chain[0].base])
    runtime = Stage(chain[0].base, chain[-1].name, [c for stage in chain for c in stage.commands])
    return stages[0], runtime


def _image_file(name: str) -> tuple[Path, dict[str, str]]:
    """The Dockerfile and build arguments of an image: a service's, or the tools image's."""
    return (TOOLS_DOCKERFILE, {}) if name == "tools" else (SERVICE_DOCKERFILE, {"SERVICE": name})


def _copy_sources(path: Path, build_args: dict[str, str] | None = None) -> list[str]:
    """What a Dockerfile COPYs from the build context (not from other stages)."""
    return [
        source
        for stage in _stages(path, build_args)
        for command in stage.all("COPY")
        if not any(flag.startswith("--from") for flag in command.flags)
        for source in command.value[:-1]
    ]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dockerfile_passes_hadolint(name: str) -> None:
    result = subprocess.run(
        [_venv_tool("hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILES[name])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_dockerfile_for_the_services() -> None:
    assert not list(REPO.glob("services/*/Dockerfile")), "services/Dockerfile builds every service"
    stages = _stages(SERVICE_DOCKERFILE, {"SERVICE": "intake"})
    assert stages[-1].base == "intake" and not stages[-1].commands, "the last stage picks the service's"
    assert {s.name for s in stages} >= set(SERVICES)


@pytest.mark.parametrize("name", IMAGES)
def test_dockerfile_is_multi_stage_slim_and_non_root(name: str) -> None:
    builder, runtime = _image(*_image_file(name))
    package = f"katflow-{name}"
    assert runtime.name != builder.name, "a builder stage and a runtime stage"
    assert runtime.base == "python:3.11-slim"
    assert builder.base == runtime.base, "the venv's interpreter path must exist in the runtime image"
    syncs = [c.value[0].replace('"', "") for c in builder.all("RUN") if "uv sync" in c.value[0]]
    assert syncs and all("--frozen" in s and "--no-dev" in s and f"--package {package}" in s for s in syncs)
    assert "--no-editable" in syncs[-1], "the venv must not point back into the builder's /src"
    assert [c.flags for c in runtime.all("COPY")] == [("--from=builder",)], "runtime gets the venv only"
    users = runtime.all("USER")
    assert users, "the runtime stage must switch to an unprivileged user"
    uid, _, gid = users[-1].value[0].partition(":")
    assert uid == str(APP_UID) and gid == str(APP_UID), "numeric uid so runAsNonRoot can verify it"
    assert runtime.commands.index(users[-1]) > max(runtime.commands.index(c) for c in runtime.all("RUN"))


@pytest.mark.parametrize("name", IMAGES)
def test_dockerfile_copies_only_its_package_and_shared(name: str) -> None:
    """The builder gets katflow_shared, katflow_tools (the console's dead-letter replay is the CLI's
    code; the others do not depend on it, so it stays out of their virtualenv) and its own code."""
    own = {"tools/src"} if name == "tools" else {f"services/{name}/src"}
    code = {
        s.rstrip("/")
        for s in _copy_sources(*_image_file(name))
        if not s.endswith(("pyproject.toml", "uv.lock"))
    }
    assert code == {"shared/src", "tools/src", *own}
    for source in _copy_sources(*_image_file(name)):
        assert (REPO / source).exists(), f"{source} is COPYed but missing from the repository"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_dockerfile_runs_the_service(name: str) -> None:
    _, runtime = _image(SERVICE_DOCKERFILE, {"SERVICE": name})
    port = SERVICES[name]
    assert [c.value for c in runtime.all("EXPOSE")] == [(str(port),)]
    (cmd,) = runtime.all("CMD")
    assert cmd.json and list(cmd.value) == ["python", "-m", f"katflow_{name}"]
    (check,) = runtime.all("HEALTHCHECK")
    probe = " ".join(check.value)
    assert check.value[0] == "CMD" and "/healthz" in probe and "KATFLOW_HTTP_PORT" in probe
    env = " ".join(" ".join(c.value) for c in runtime.all("ENV"))
    assert "KATFLOW_HTTP_HOST 0.0.0.0" in env, "the service must listen beyond the container's loopback"
    assert f"KATFLOW_HTTP_PORT {port}" in env


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.removeprefix("!").strip("/")
        regex = (
            re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        )
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


def test_dockerignore_sends_only_what_the_images_copy() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for source in {s.rstrip("/") for name in IMAGES for s in _copy_sources(*_image_file(name))}:
        root = REPO / source
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(REPO).as_posix()
            if "__pycache__" not in relative:
                assert not _dockerignored(relative, patterns), (
                    f"{relative} is COPYed but .dockerignore drops it"
                )
    for local in (
        ".venv/bin/python",
        ".run/pids/intake.pid",
        ".git/HEAD",
        ".env",
        "tests/conftest.py",
        "deploy/local/infra.sh",
        "services/intake/src/katflow_intake/__pycache__/x.pyc",
    ):
        assert _dockerignored(local, patterns), f"{local} would enter the build context"


# ---------------------------------------------------------------- docker compose


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = _check_compose_schema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["intake"]["depends_on"]["kafka"]["condition"] = "service_happy"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    assert _check_compose_schema(path).returncode != 0, "the schema check must be able to fail"


def _one_shot(services: dict[str, Any], name: str) -> bool:
    return services[name].get("restart") == "no" and any(
        (svc.get("depends_on") or {}).get(name, {}).get("condition") == "service_completed_successfully"
        for svc in services.values()
    )


def test_compose_stack_has_the_infrastructure_and_the_services() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "kafka", "mailpit", "keycloak", "topic-init", *HTTP_WORKLOADS}
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    keycloak_sh = (REPO / "deploy" / "local" / "keycloak.sh").read_text()
    version = re.search(r"^KC_VERSION=(\S+)$", keycloak_sh, re.M)
    assert version and services["keycloak"]["image"] == f"quay.io/keycloak/keycloak:{version[1]}"
    assert re.fullmatch(r"postgres:16(\.\d+)?(-\w+)?", services["postgres"]["image"])
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    assert services["topic-init"]["command"] == ["katflow", "topics"]
    assert services["topic-init"]["build"]["dockerfile"] == "deploy/compose/Dockerfile.tools"
    for name in HTTP_WORKLOADS:
        assert services[name]["image"] == f"katflow/{IMAGE_OF[name]}:dev"
        args = {"SERVICE": IMAGE_OF[name]}
        assert services[name]["build"] == {"context": ".", "dockerfile": "services/Dockerfile", "args": args}
    assert "command" not in services["notifications"]
    assert services["portal"]["command"] == ["python", "-m", "katflow_notifications.portal"]


def test_compose_messages_link_to_the_portal_service() -> None:
    """The patient's page deployed alone: notifications and the portal share the database and the
    configuration, and the links in messages name the portal's published address."""
    services = _compose()["services"]
    notifications, portal = services["notifications"]["environment"], services["portal"]["environment"]
    assert notifications["KATFLOW_PORTAL_URL"] == "http://127.0.0.1:8005/portal"
    assert services["portal"]["ports"] == ["127.0.0.1:8005:8005"]
    assert portal["KATFLOW_HTTP_PORT"] == "8005" and "KATFLOW_API_KEYS" not in portal
    mine = {"KATFLOW_HTTP_PORT", "KATFLOW_API_KEYS"}
    assert {k: v for k, v in notifications.items() if k not in mine} == {
        k: v for k, v in portal.items() if k not in mine
    }


def test_compose_services_validate_keycloak_tokens_as_in_production() -> None:
    """Issue 27: staff log in through the realm in compose too; tokens are checked against its keys,
    issuer, audience and katflow's client roles, the issuer being Keycloak's published address."""
    services = _compose()["services"]
    keycloak = services["keycloak"]
    assert "--import-realm" in keycloak["command"]
    assert any(v.startswith("./deploy/local/keycloak/clinic-realm.json:") for v in keycloak["volumes"])
    hostname = next(a.split("=", 1)[1] for a in keycloak["command"] if a.startswith("--hostname="))
    for name in HTTP_WORKLOADS:
        env = services[name]["environment"]
        assert env["KATFLOW_AUTH_ISSUER"] == f"{hostname}/realms/clinic"
        assert env["KATFLOW_AUTH_JWKS_URL"].startswith("http://keycloak:8080/realms/clinic/")
        assert env["KATFLOW_AUTH_AUDIENCE"] == "katflow"
        assert env["KATFLOW_AUTH_ROLES_CLAIM"] == "resource_access.katflow.roles"


def test_compose_kafka_is_a_single_kraft_node_without_topic_auto_creation() -> None:
    env = {k: str(v) for k, v in _compose()["services"]["kafka"]["environment"].items()}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    factors = {k: v for k, v in env.items() if k.endswith(("REPLICATION_FACTOR", "MIN_ISR"))}
    assert len(factors) >= 5 and set(factors.values()) == {"1"}
    cluster_id = env["CLUSTER_ID"]
    raw = base64.urlsafe_b64decode(cluster_id + "==")
    assert len(raw) == 16 and str(uuid.UUID(bytes=raw)), "CLUSTER_ID must be a base64url UUID"
    assert base64.urlsafe_b64encode(raw).decode().rstrip("=") == cluster_id
    listeners = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "PLAINTEXT://kafka:9092" in listeners


def test_compose_postgres_init_creates_each_services_database() -> None:
    services = _compose()["services"]
    mounts = [v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    (mount,) = mounts
    init_dir = REPO / mount.split(":")[0]
    sql = " ".join(p.read_text() for p in sorted(init_dir.glob("*.sql")))
    created = set(re.findall(r"CREATE DATABASE (\w+)", sql))
    used = {services[n]["environment"]["KATFLOW_DATABASE_URL"].rsplit("/", 1)[-1] for n in SERVICES}
    assert used == {f"katflow_{n}" for n in SERVICES} and created == used


def test_every_compose_service_has_a_healthcheck() -> None:
    services = _compose()["services"]
    for name, svc in services.items():
        check = svc.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if check.get("disable"):
            assert _one_shot(services, name), f"{name} disables its healthcheck but is not a one-shot job"
        else:
            assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    for name, port in HTTP_WORKLOADS.items():
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in probe, name


def test_compose_start_order_uses_conditions() -> None:
    services = _compose()["services"]
    for name, svc in services.items():
        for dependency, spec in (svc.get("depends_on") or {}).items():
            assert isinstance(spec, dict) and "condition" in spec, f"{name} -> {dependency} needs a condition"
            if spec["condition"] == "service_healthy":
                assert not services[dependency]["healthcheck"].get("disable"), dependency
            elif spec["condition"] == "service_completed_successfully":
                assert _one_shot(services, dependency), dependency
            else:
                pytest.fail(f"{name} -> {dependency}: {spec['condition']} does not wait for readiness")
    for name in HTTP_WORKLOADS:
        conditions = {d: s["condition"] for d, s in services[name]["depends_on"].items()}
        assert conditions["postgres"] == conditions["kafka"] == "service_healthy"
        assert conditions["topic-init"] == "service_completed_successfully"
    assert services["notifications"]["depends_on"]["mailpit"]["condition"] == "service_healthy"
    assert services["topic-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_publishes_ports_on_loopback_only() -> None:
    for name, svc in _compose()["services"].items():
        for port in svc.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond 127.0.0.1"
        assert "network_mode" not in svc, name
    services = _compose()["services"]
    for name, port in HTTP_WORKLOADS.items():
        assert services[name]["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert services["mailpit"]["ports"] == ["127.0.0.1:8025:8025"]


def test_compose_built_images_run_as_non_root_with_a_read_only_filesystem() -> None:
    for name, svc in _compose()["services"].items():
        if "build" not in svc:
            continue
        build = svc["build"]
        _, runtime = _image(REPO / build["context"] / build["dockerfile"], build.get("args"))
        users = runtime.all("USER")
        assert users and users[-1].value[0].split(":")[0] not in ("0", "root"), name
        assert svc.get("user") in (None, f"{APP_UID}:{APP_UID}"), name
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name


@pytest.mark.parametrize("name", [*sorted(HTTP_WORKLOADS), "topic-init"])
def test_compose_environment_is_valid_service_settings(name: str, settings_from: SettingsFromEnv) -> None:
    env = {k: str(v) for k, v in _compose()["services"][name]["environment"].items()}
    settings = settings_from(SETTINGS[name], env)
    assert settings.environment == "dev"
    assert settings.kafka_bootstrap == "kafka:9092"
    if name in HTTP_WORKLOADS:
        assert settings.http_host == "0.0.0.0" and settings.http_port == HTTP_WORKLOADS[name]
        database = f"@postgres:5432/katflow_{IMAGE_OF[name]}"
        assert settings.database_url.get_secret_value().endswith(database)
    if name in BACKEND:
        dev_key = settings.api_keys[hash_api_key(DEV_API_KEY)]  # the key `make up` gives its services
        assert set(dev_key.roles) == set(Role), "the development key has every role"
    if isinstance(settings, NotificationsSettings):
        assert (settings.smtp_host, settings.smtp_port) == ("mailpit", 1025)


# ---------------------------------------------------------------- Kubernetes (kustomize)

KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "configMapGenerator",
    "patches",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
Resource = dict[str, Any]


@dataclass
class Build:
    resources: list[Resource]
    generated: set[str]  # ConfigMaps from configMapGenerator: named with a content hash at the end


def _build(directory: Path) -> Build:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - KUSTOMIZATION_FIELDS
    assert not unsupported, f"{directory}: teach the test's kustomize renderer {sorted(unsupported)}"
    resources: list[Resource] = []
    generated: set[str] = set()
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            sub = _build(path)
            resources += sub.resources
            generated |= sub.generated
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for generator in kustomization.get("configMapGenerator", []):
        assert set(generator) <= {"name", "behavior", "literals"}, generator
        data = dict(literal.split("=", 1) for literal in generator.get("literals", []))
        behavior = generator.get("behavior", "create")
        if behavior == "create":
            metadata = {"name": generator["name"]}
            resources.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})
            generated.add(generator["name"])
            continue
        assert generator["name"] in generated, f"{behavior} of a ConfigMap no base generates"
        (target,) = [
            r for r in resources if r["kind"] == "ConfigMap" and r["metadata"]["name"] == generator["name"]
        ]
        target["data"] = {**target["data"], **data} if behavior == "merge" else data
    for patch in kustomization.get("patches", []):
        _apply_json6902(resources, patch)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for container in _containers(resources):
            name, tag = _split_image(container["image"])
            if name == image["name"]:
                tag = image.get("newTag", tag)
                container["image"] = image.get("newName", name) + (f":{tag}" if tag else "")
    return Build(resources, generated)


def _apply_json6902(resources: list[Resource], patch: Resource) -> None:
    """An inline JSON 6902 patch of one resource named by kind and name: ``replace`` ops only, each
    path must exist (kustomize fails on a missing one too)."""
    assert set(patch) == {"target", "patch"} and set(patch["target"]) == {"kind", "name"}, patch
    (target,) = [
        r
        for r in resources
        if r["kind"] == patch["target"]["kind"] and r["metadata"]["name"] == patch["target"]["name"]
    ]
    for op in yaml.safe_load(patch["patch"]):
        assert op["op"] == "replace", op
        *parents, last = [int(p) if p.isdigit() else p for p in op["path"].strip("/").split("/")]
        node: Any = target
        for key in parents:
            node = node[key]
        assert (last in node) if isinstance(node, dict) else (last < len(node)), op["path"]
        node[last] = op["value"]


def _split_image(image: str) -> tuple[str, str]:
    name, colon, tag = image.rpartition(":")
    return (name, tag) if colon and "/" not in tag else (image, "")


def _config_map_hash(config_map: Resource) -> str:
    """kustomize's name suffix: sha256 of Go's JSON of {data, kind, name}, 10 hex digits, some swapped.

    kustomize 5 hashes the generated ConfigMap before it has a name (``"name": ""``); checked against
    ``kubectl kustomize`` (kustomize v5.5.0) on these manifests.
    """
    encoded = json.dumps(
        {"data": config_map.get("data", {}), "kind": "ConfigMap", "name": ""},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        encoded = encoded.replace(char, escaped)
    return hashlib.sha256(encoded.encode()).hexdigest()[:10].translate(str.maketrans("013ae", "ghkmt"))


def _pod_specs(resources: list[Resource]) -> Iterator[Resource]:
    for resource in resources:
        if resource["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield resource["spec"]["template"]["spec"]


def _containers(resources: list[Resource]) -> Iterator[Resource]:
    for spec in _pod_specs(resources):
        yield from spec.get("initContainers", [])
        yield from spec["containers"]


def render(directory: Path) -> list[Resource]:
    """``kustomize build`` for the fields katflow uses (the test fails on any other field)."""
    build = _build(directory)
    renamed: dict[str, str] = {}
    for resource in build.resources:
        name = resource["metadata"]["name"]
        if resource["kind"] == "ConfigMap" and name in build.generated:
            resource["metadata"]["name"] = renamed[name] = f"{name}-{_config_map_hash(resource)}"
    for container in _containers(build.resources):
        refs = [source["configMapRef"] for source in container.get("envFrom", []) if "configMapRef" in source]
        refs += [
            e["valueFrom"]["configMapKeyRef"]
            for e in container.get("env", [])
            if "configMapKeyRef" in e.get("valueFrom", {})
        ]
        for ref in refs:
            ref["name"] = renamed.get(ref["name"], ref["name"])
    for spec in _pod_specs(build.resources):
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                volume["configMap"]["name"] = renamed.get(
                    volume["configMap"]["name"], volume["configMap"]["name"]
                )
    return build.resources


VARIANTS = {"base": K8S_BASE, "example": K8S_EXAMPLE}


@functools.cache
def rendered(variant: str) -> list[Resource]:
    return render(VARIANTS[variant])


def _get(resources: list[Resource], kind: str, name: str) -> Resource:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _selects(selector: Resource, labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, "only matchLabels selectors are used"
    return bool(selector["matchLabels"]) and selector["matchLabels"].items() <= labels.items()


def _env_of(container: Resource, resources: list[Resource]) -> tuple[dict[str, str], dict[str, Resource]]:
    """(plain values incl. ConfigMap envFrom, secretKeyRefs) a container gets."""
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values |= _get(resources, "ConfigMap", source["configMapRef"]["name"])["data"]
    secrets = {}
    for entry in container.get("env", []):
        if "value" in entry:
            values[entry["name"]] = entry["value"]
        else:
            secrets[entry["name"]] = entry["valueFrom"]["secretKeyRef"]
    return values, secrets


def _secrets_example() -> dict[str, dict[str, str]]:
    docs = [d for d in yaml.safe_load_all(SECRETS_EXAMPLE.read_text()) if d]
    assert {d["kind"] for d in docs} == {"Secret"}
    return {d["metadata"]["name"]: d["stringData"] for d in docs}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_manifests_match_the_kubernetes_schemas(variant: str, version: str) -> None:
    for resource in rendered(variant):
        try:
            kubernetes_validate.validate(copy.deepcopy(resource), version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{resource['kind']}/{resource['metadata']['name']} (k8s {version}): {exc.message}")


def test_example_secrets_match_the_kubernetes_schema() -> None:
    for doc in yaml.safe_load_all(SECRETS_EXAMPLE.read_text()):
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)


def test_base_is_namespace_agnostic_and_the_overlay_sets_katflow() -> None:
    assert all("namespace" not in r["metadata"] for r in rendered("base"))
    example = rendered("example")
    assert {r["metadata"].get("namespace") for r in example if r["kind"] != "Namespace"} == {"katflow"}
    labels = _get(example, "Namespace", "katflow")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_no_secret_values_in_kustomize_output() -> None:
    for variant, resources in ((v, rendered(v)) for v in VARIANTS):
        assert not [r for r in resources if r["kind"] == "Secret"], variant
    for directory in (K8S_BASE, K8S_EXAMPLE):
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        assert "secretGenerator" not in kustomization
        assert SECRETS_EXAMPLE.name not in kustomization.get("resources", [])


def test_every_secret_reference_is_documented_in_the_example() -> None:
    example = _secrets_example()
    for container in _containers(rendered("example")):
        for variable, ref in _env_of(container, rendered("example"))[1].items():
            assert ref["key"] in example.get(ref["name"], {}), f"{variable}: {ref} missing from the example"


def test_config_maps_carry_a_content_hash_and_references_resolve() -> None:
    for resources in map(rendered, VARIANTS):
        names = {r["metadata"]["name"] for r in resources if r["kind"] == "ConfigMap"}
        assert {n.rsplit("-", 1)[0] for n in names} == {
            "katflow-config",
            "katflow-notifications-config",
            "katflow-console-config",
        }
        for container in _containers(resources):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in names
    base, example = (_get(rendered(v), "Deployment", "katflow-intake") for v in VARIANTS)
    refs = [c["spec"]["template"]["spec"]["containers"][0]["envFrom"] for c in (base, example)]
    assert refs[0] != refs[1], "the overlay changes the configuration, so the name (and the rollout) changes"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(HTTP_WORKLOADS))
def test_deployment_probes_resources_and_security(name: str, variant: str) -> None:
    resources = rendered(variant)
    deployment = _get(resources, "Deployment", f"katflow-{name}")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 2
    assert _selects(spec["selector"], spec["template"]["metadata"]["labels"])
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == APP_UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False, "service links inject KATFLOW_<SERVICE>_* variables"
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": HTTP_WORKLOADS[name]}
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports.get(get["port"], get["port"]) == HTTP_WORKLOADS[name], probe
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, (
        "room for DB/Kafka retries + migrations"
    )
    assert container["readinessProbe"]["timeoutSeconds"] > 5, "/readyz may take 2 s (database) + 3 s (Kafka)"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    assert _split_image(container["image"])[0].endswith(f"katflow/{IMAGE_OF[name]}")
    if variant == "example":
        assert container["image"] == f"registry.example.com/katflow/{IMAGE_OF[name]}:0.1.0"
    assert container.get("command") == (
        ["python", "-m", "katflow_notifications.portal"] if name in PORTAL else None
    )
    values, secrets = _env_of(container, resources)
    assert (
        values["KATFLOW_HTTP_PORT"] == str(HTTP_WORKLOADS[name]) and values["KATFLOW_HTTP_HOST"] == "0.0.0.0"
    )
    secret = f"katflow-{IMAGE_OF[name]}"  # the portal: notifications' database, so its Secret
    assert secrets["KATFLOW_DATABASE_URL"] == {"name": secret, "key": "database-url"}
    assert secrets["KATFLOW_KAFKA_SASL_PASSWORD"]["name"] == secret
    if name in BACKEND:
        assert secrets["KATFLOW_API_KEYS"] == {"name": secret, "key": "api-keys", "optional": True}
    elif name in PORTAL:  # no staff endpoints; of notifications' credentials only what settings need
        assert set(secrets) == {
            "KATFLOW_DATABASE_URL",
            "KATFLOW_MIGRATION_DATABASE_URL",
            "KATFLOW_KAFKA_SASL_USERNAME",
            "KATFLOW_KAFKA_SASL_PASSWORD",
            "KATFLOW_PORTAL_LINK_SECRET",
            "KATFLOW_SMS_WEBHOOK_SECRET",
        }
    else:  # the console holds no keys: it calls the services with the signed-in person's token
        assert "KATFLOW_API_KEYS" not in secrets
        assert secrets["KATFLOW_CONSOLE_OIDC_CLIENT_SECRET"] == {
            "name": "katflow-console",
            "key": "oidc-client-secret",
        }
    assert secrets["KATFLOW_MIGRATION_DATABASE_URL"] == {"name": secret, "key": "migration-database-url"}
    assert "KATFLOW_DATABASE_URL" not in values and "KATFLOW_KAFKA_SASL_PASSWORD" not in values
    assert "KATFLOW_API_KEYS" not in values


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(HTTP_WORKLOADS))
def test_service_pdb_and_network_policy_per_deployment(name: str, variant: str) -> None:
    resources = rendered(variant)
    labels = _get(resources, "Deployment", f"katflow-{name}")["spec"]["template"]["metadata"]["labels"]
    service = _get(resources, "Service", f"katflow-{name}")["spec"]
    assert service["selector"].items() <= labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(HTTP_WORKLOADS[name], "http")]
    pdb = _get(resources, "PodDisruptionBudget", f"katflow-{name}")["spec"]
    assert pdb["minAvailable"] == 1 and _selects(pdb["selector"], labels)
    policy = _get(resources, "NetworkPolicy", f"katflow-{name}")["spec"]
    assert _selects(policy["podSelector"], labels)
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    ingress_ports = [(p["protocol"], p["port"]) for rule in policy["ingress"] for p in rule["ports"]]
    assert ingress_ports == [("TCP", HTTP_WORKLOADS[name])], "ingress to the HTTP port only"
    admitted = {
        (_namespace_of(peer), _workload(peer["podSelector"]))
        for rule in policy["ingress"]
        for peer in rule["from"]
    }
    console = {("(this namespace)", "katflow-console")} if name in BACKEND else set()  # not the portal
    assert admitted == {("ingress-nginx", "ingress-nginx"), ("monitoring", "prometheus"), *console}
    egress = {
        (p["protocol"], p["port"], p.get("endPort")) for rule in policy["egress"] for p in rule["ports"]
    }
    assert {("UDP", 53, None), ("TCP", 53, None), ("TCP", 5432, None), ("TCP", 9092, 9096)} <= egress
    smtp = {("TCP", 25, None), ("TCP", 465, None), ("TCP", 587, None)}
    assert (smtp <= egress) == (name == "notifications"), "only notifications talks SMTP"
    # every HTTP service fetches the identity provider's JWKS over HTTPS to verify staff JWTs; the
    # patient's page, internet-facing, has no staff endpoints and reaches only PostgreSQL and Kafka
    if name in PORTAL:
        assert egress == {("UDP", 53, None), ("TCP", 53, None), ("TCP", 5432, None), ("TCP", 9092, 9096)}
    else:
        assert ("TCP", 443, None) in egress, "HTTPS egress for the JWKS"


def _namespace_of(peer: Resource) -> str:
    """The namespace a NetworkPolicy peer names; a podSelector alone is the policy's own namespace."""
    if "namespaceSelector" not in peer:
        return "(this namespace)"
    return str(peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])


def _workload(selector: Resource) -> str:
    (labels,) = [selector["matchLabels"]]
    assert set(selector) == {"matchLabels"}
    return str(labels.get("app.kubernetes.io/name") or labels["k8s-app"])


DOCUMENTATION_NETWORKS = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_network_policies_admit_named_workloads_and_reach_only_configured_destinations(variant: str) -> None:
    """Issue 27: the policies admitted any pod and let egress reach anywhere (rules with ports only).
    Every ingress rule names its peers (namespace and workload); every egress rule names where it
    goes: the cluster DNS by selector, else an address block no wider than a /16. The base's blocks
    are documentation ranges that reach nothing; the example overlay replaces every one of them."""
    policies = [r for r in rendered(variant) if r["kind"] == "NetworkPolicy"]
    names = {f"katflow-{n}" for n in [*HTTP_WORKLOADS, "topic-init"]}
    assert {p["metadata"]["name"] for p in policies} == names
    for policy in policies:
        spec, name = policy["spec"], policy["metadata"]["name"]
        for rule in spec.get("ingress", []):
            assert rule.get("from"), f"{name}: an ingress rule without from admits every pod"
            for peer in rule["from"]:
                if set(peer) == {"podSelector"}:  # a katflow workload of this namespace: the console
                    assert _workload(peer["podSelector"]) == "katflow-console", (name, peer)
                    continue
                assert set(peer) == {"namespaceSelector", "podSelector"}, (name, peer)
                assert _workload(peer["podSelector"]) and peer["namespaceSelector"]["matchLabels"]
        for rule in spec["egress"]:
            assert rule.get("to"), f"{name}: an egress rule without to reaches anywhere"
            assert rule["ports"], f"{name}: an egress rule without ports opens every port"
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    assert set(peer["ipBlock"]) == {"cidr"}, (name, peer)
                    network = ipaddress.ip_network(peer["ipBlock"]["cidr"])
                    assert network.prefixlen >= 16, f"{name}: {network} is not a configured destination"
                    documentation = any(
                        network.subnet_of(d) for d in DOCUMENTATION_NETWORKS if d.version == network.version
                    )
                    assert documentation == (variant == "base"), f"{name}: {network} in {variant}"
                elif set(peer) == {
                    "podSelector"
                }:  # the console to a service of this namespace, its port only
                    assert name == "katflow-console", f"{name}: only the console calls the services"
                    target = _workload(peer["podSelector"]).removeprefix("katflow-")
                    assert [p["port"] for p in rule["ports"]] == [SERVICES[target]], (name, peer)
                else:
                    assert set(peer) == {"namespaceSelector", "podSelector"}, (name, peer)
                    assert _workload(peer["podSelector"]) == "kube-dns"
                    assert {p["port"] for p in rule["ports"]} == {53}, (
                        "only DNS goes to the cluster's namespaces"
                    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_topic_init_job(variant: str) -> None:
    resources = rendered(variant)
    job = _get(resources, "Job", "katflow-topic-init")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["katflow", "topics"]
    assert _split_image(container["image"])[0].endswith("katflow/tools")
    assert pod["restartPolicy"] in ("Never", "OnFailure") and job["spec"]["backoffLimit"] > 0
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    policy = _get(resources, "NetworkPolicy", "katflow-topic-init")["spec"]
    assert _selects(policy["podSelector"], job["spec"]["template"]["metadata"]["labels"])
    assert "Ingress" in policy["policyTypes"] and not policy.get("ingress"), "no ingress at all"
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53, 9092}


def _workload_env(name: str) -> tuple[dict[str, str], dict[str, Resource]]:
    resources = rendered("example")
    kind, workload = (
        ("Job", "katflow-topic-init") if name == "topic-init" else ("Deployment", f"katflow-{name}")
    )
    (container,) = _get(resources, kind, workload)["spec"]["template"]["spec"]["containers"]
    return _env_of(container, resources)


def _example_secret_values(secrets: dict[str, Resource]) -> dict[str, str]:
    example = _secrets_example()
    return {variable: example[ref["name"]][ref["key"]] for variable, ref in secrets.items()}


PLACEHOLDER_KEY_HASH = hash_api_key("changeme")
REAL_KEY_HASH = hash_api_key("kfk_s3cr3t-example-key")


def _replace_placeholders(example: dict[str, str]) -> dict[str, str]:
    """The example Secrets' values as an operator fills them in: real passwords, real key hashes."""
    return {
        variable: f"s3cr3t-{variable.lower()}"
        if value == "changeme"
        else value.replace(":changeme@", ":s3cr3t@").replace(PLACEHOLDER_KEY_HASH, REAL_KEY_HASH)
        for variable, value in example.items()
    }


@pytest.mark.parametrize("name", [*sorted(HTTP_WORKLOADS), "topic-init"])
def test_example_overlay_configures_prod_with_sasl_ssl(name: str, settings_from: SettingsFromEnv) -> None:
    """ConfigMaps + the example Secrets with their placeholders replaced make valid prod settings."""
    values, secrets = _workload_env(name)
    real = _replace_placeholders(_example_secret_values(secrets))
    cls = SETTINGS[name]
    settings = settings_from(cls, values | real)
    assert settings.environment == "prod"
    assert settings.auth_jwks_url.startswith("https://") and settings.auth_issuer.startswith("https://")
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_replication_factor == 3
    assert settings.kafka_sasl_password.get_secret_value() == "s3cr3t-katflow_kafka_sasl_password"
    if name in HTTP_WORKLOADS:
        assert settings.http_port == HTTP_WORKLOADS[name]
        assert "sslmode=verify-full" in settings.database_url.get_secret_value()
        owner = settings.migration_database_url.get_secret_value()  # a role that owns the tables
        assert f"katflow_{IMAGE_OF[name]}_owner:" in owner and "sslmode=verify-full" in owner
        assert list(settings.api_keys) == ([REAL_KEY_HASH] if name in BACKEND else [])
    if isinstance(settings, NotificationsSettings):
        assert settings.smtp_security == "starttls" and settings.smtp_port == 587
        assert settings.portal_url.startswith("https://"), "links in messages open the portal"


@pytest.mark.parametrize("name", [*sorted(HTTP_WORKLOADS), "topic-init"])
def test_unreplaced_example_secrets_are_refused_in_prod(name: str, settings_from: SettingsFromEnv) -> None:
    values, secrets = _workload_env(name)
    cls = SETTINGS[name]
    example = _example_secret_values(secrets)
    with pytest.raises(ValidationError):
        settings_from(cls, values | example)
    if "KATFLOW_API_KEYS" in example:  # the placeholder key hash alone is refused too
        unreplaced_keys = {"KATFLOW_API_KEYS": example["KATFLOW_API_KEYS"]}
        with pytest.raises(ValidationError, match="KATFLOW_API_KEYS"):
            settings_from(cls, values | _replace_placeholders(example) | unreplaced_keys)


# ---------------------------------------------------------------- operator documentation


def test_operations_doc_covers_both_ways_to_run_katflow() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    for needle in (
        "docker compose up",
        "kubectl apply -k deploy/k8s/overlays/example",
        "secrets.example.yaml",
        "configuration.md",
        "/healthz",
        "/readyz",
        "advisory lock",
        "SASL_SSL",
        "sslmode=verify-full",
        "KATFLOW_SMTP_SECURITY",
        "KATFLOW_API_KEYS",
        "KATFLOW_AUTH_JWKS_URL",
        "Authorization: Bearer",
    ):
        assert needle in text, f"docs/operations.md does not mention {needle!r}"
