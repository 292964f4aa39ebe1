"""What scheduling's routers are given (``Annotated`` aliases), as ``bootstrap.py`` composed it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service_layer.deps import Deps


async def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(_deps)]
