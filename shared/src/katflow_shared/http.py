"""HTTP edge helpers shared by the services: rule violations (``errors.RuleViolation``) and invalid
requests as 422s naming the field and the rule, never the submitted value; a staff action's route."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse
from fastapi.types import DecoratedCallable

from .errors import RuleViolation


async def rule_violation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RuleViolation)
    detail = [{"loc": ["body", *exc.field], "msg": exc.message, "type": exc.rule}]
    return JSONResponse({"detail": detail}, status_code=exc.status)


RULES = "Breaking a rule answers 409/422 with the rule's name in `detail[0].type`."


def staff_action(
    router: APIRouter,
    path: str,
    out: type[object],
    summary: str,
    about: str = "",
    *,
    who: Sequence[DependsParam],
    status_code: int = 200,
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A staff action's POST route: who may take it, what it answers, what it does (``about``), and
    that breaking a rule answers 409/422 naming it."""
    return router.post(
        path,
        dependencies=who,
        status_code=status_code,
        response_model=out,
        summary=summary,
        description=f"{about} {RULES}".strip(),
    )


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 without the ``input`` (and ``ctx``) it echoes: a form's values are PHI. A message
    that quotes the value (a validator's own words) gives way to the rule's name."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": e["loc"], "msg": e["type"] if _quotes_input(e) else e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


def _quotes_input(error: dict[str, object]) -> bool:
    value = error.get("input")
    return isinstance(value, str) and len(value) >= 3 and value in str(error["msg"])


async def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.runtime.pool
    return pool


PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
