"""Loading the protocol files: every file validated at start-up, or the service refuses to start."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from ..contracts.common import Route
from .models import Protocol, ScreeningRules

PACKAGED = "katflow_shared.treatment_protocols"
M = TypeVar("M", Protocol, ScreeningRules)


class ProtocolConfigError(ValueError):
    """A protocol file is missing, unreadable or breaks a rule; the message names file and field."""


@dataclass(frozen=True)
class ProtocolBook:
    """Every protocol version on file, by id ('iv@1'), and the clinic's screening rules."""

    protocols: dict[str, Protocol]
    screening: ScreeningRules

    def get(self, protocol_id: str) -> Protocol:
        try:
            return self.protocols[protocol_id]
        except KeyError:
            raise KeyError(f"protocol {protocol_id!r} is not on file") from None

    def current(self, route: Route) -> Protocol:
        """The highest version on file for ``route``."""
        return max((p for p in self.protocols.values() if p.route is route), key=lambda p: p.version)

    def first(self, route: Route) -> Protocol:
        """The lowest version on file for ``route``: what new courses are pinned to until an admin
        activates another (intake's ``POST /v1/admin/protocols/{id}/activate``)."""
        return min((p for p in self.protocols.values() if p.route is route), key=lambda p: p.version)


def default_directory() -> Path:
    return Path(str(resources.files(PACKAGED).joinpath("files")))


def load_protocols(directory: Path | None = None) -> ProtocolBook:
    """Read ``<route>@<version>.json`` files and ``screening@<version>.json`` from ``directory``."""
    folder = directory or default_directory()
    if not folder.is_dir():
        raise ProtocolConfigError(f"protocol directory {folder} does not exist")
    protocols: dict[str, Protocol] = {}
    screening: list[ScreeningRules] = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("screening@"):
            screening.append(_parse(path, ScreeningRules))
            continue
        protocol = _parse(path, Protocol)
        if path.stem != protocol.id:
            raise ProtocolConfigError(f"{path.name}: file name must be {protocol.id}.json")
        protocols[protocol.id] = protocol
    missing = sorted(r.value for r in Route if not any(p.route is r for p in protocols.values()))
    if missing:
        raise ProtocolConfigError(f"{folder}: no protocol for route(s) {', '.join(missing)}")
    if not screening:
        raise ProtocolConfigError(f"{folder}: no screening@<version>.json")
    return ProtocolBook(protocols, max(screening, key=lambda s: s.version))


def _parse(path: Path, model: type[M]) -> M:
    try:
        return model.model_validate(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProtocolConfigError(f"{path.name}: cannot read: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise ProtocolConfigError(f"{path.name}: {problems}") from exc
