"""docs/configuration.md: every ``KATFLOW_*`` environment variable of the services' settings."""

from __future__ import annotations

import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from katflow_shared.settings import ServiceSettings

from .common import GENERATED_NOTE, cell


def settings_classes() -> dict[str, type[ServiceSettings]]:
    from katflow_console.settings import ConsoleSettings
    from katflow_intake.settings import IntakeSettings
    from katflow_notifications.settings import NotificationsSettings
    from katflow_scheduling.settings import SchedulingSettings

    return {
        "intake": IntakeSettings,
        "scheduling": SchedulingSettings,
        "notifications": NotificationsSettings,
        "console": ConsoleSettings,
    }


def env_var(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    return (alias if isinstance(alias, str) else f"KATFLOW_{name}").upper()


def _type_text(annotation: Any) -> str:
    if typing.get_origin(annotation) is Literal:
        return " \\| ".join(f"`{v}`" for v in typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "unset"
    if annotation is SecretStr:
        return "secret"
    return getattr(annotation, "__name__", str(annotation)).lower()


def _default_text(settings: type[ServiceSettings], field: FieldInfo) -> str:
    default = field.get_default(call_default_factory=True)
    if isinstance(default, SecretStr):
        return "(secret)"
    if default is None:
        return "(unset)"
    if isinstance(default, Path):
        package_dir = Path(__import__(settings.__module__.split(".")[0]).__file__ or "").parent
        if default.is_absolute() and default.is_relative_to(package_dir):
            return f"`{package_dir.name}/{default.relative_to(package_dir).as_posix()}` (bundled)"
    if isinstance(default, Enum):
        default = default.value
    return f"`{default}`" if default != "" else '`""` (empty)'


def configuration_markdown() -> str:
    services = settings_classes()
    shared = ServiceSettings.model_fields
    out = [
        GENERATED_NOTE,
        "",
        "# Configuration",
        "",
        "Every service reads its settings from the environment, prefix `KATFLOW_` (names are not case "
        "sensitive; unknown variables are ignored). `KATFLOW_ENVIRONMENT=prod` refuses placeholder "
        "secrets. The `katflow` command line reads the shared variables too (Kafka connection, "
        "`KATFLOW_TOPIC_PREFIX`). Secrets' defaults are shown as `(secret)`.",
        "",
        "## Shared by every service",
        "",
        "| Variable | Default | Type | Used by | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, base_field in shared.items():
        per_service = {
            service: _default_text(cls, cls.model_fields[name])
            for service, cls in services.items()
            if name in cls.model_fields
        }
        users = ", ".join(per_service)
        distinct = set(per_service.values())
        if len(distinct) == 1:
            default = distinct.pop()
        else:
            default = "<br>".join(f"{service}: {text}" for service, text in per_service.items())
        out.append(
            f"| `{env_var(name, base_field)}` | {default} | {_type_text(base_field.annotation)} | {users} "
            f"| {cell(base_field.description or '')} |"
        )
    for service, cls in services.items():
        own = {name: field for name, field in cls.model_fields.items() if name not in shared}
        out += [
            "",
            f"## {service}",
            "",
            f"`{cls.__module__}.{cls.__name__}`: the shared variables above, with these defaults changed: "
            + (
                ", ".join(
                    f"`{env_var(n, f)}`={_default_text(cls, f)}"
                    for n, f in cls.model_fields.items()
                    if n in shared and _default_text(cls, f) != _default_text(ServiceSettings, shared[n])
                )
                or "none"
            )
            + ".",
            "",
        ]
        if not own:
            out.append("No variables of its own.")
            continue
        out += [
            "| Variable | Default | Type | Used by | Description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, field in own.items():
            users = ", ".join(s for s, other in services.items() if name in other.model_fields)
            out.append(
                f"| `{env_var(name, field)}` | {_default_text(cls, field)} | {_type_text(field.annotation)} "
                f"| {users} | {cell(field.description or '')} |"
            )
    return "\n".join(out) + "\n"
