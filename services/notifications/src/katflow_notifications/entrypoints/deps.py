"""What the HTTP routes need besides the shared runtime, set on the app by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from katflow_shared.treatment_protocols import ProtocolBook

from ..service_layer.inbound import InboundTexts
from ..service_layer.planning import Planner
from ..settings import NotificationsSettings


@dataclass(frozen=True)
class NotificationsDeps:
    settings: NotificationsSettings
    planner: Planner
    inbound: InboundTexts
    protocols: ProtocolBook | None = None  # the patient page's visit instructions


async def _deps(request: Request) -> NotificationsDeps:
    deps: NotificationsDeps = request.app.state.notifications
    return deps


DepsDep = Annotated[NotificationsDeps, Depends(_deps)]
