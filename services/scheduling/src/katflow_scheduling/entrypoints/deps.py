"""What scheduling's routers are given (``Annotated`` aliases), as ``bootstrap.py`` composed it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from katflow_shared.unit_of_work import Units

from ..service_layer.deps import Deps


async def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


async def _units(request: Request) -> Units:
    units: Units = request.app.state.units
    return units


DepsDep = Annotated[Deps, Depends(_deps)]
UnitsDep = Annotated[Units, Depends(_units)]
