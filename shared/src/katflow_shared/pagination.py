"""Keyset pagination of list endpoints: ``limit`` (1 to ``MAX_LIMIT``, a 422 above) and an opaque
``cursor``. A page that is not the last carries the next page's cursor in the ``X-Next-Cursor``
response header; a client passes it back as ``?cursor=`` with the same filters. A cursor names the
last row of the page (its sort time and id), so rows added meanwhile neither repeat nor shift pages.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Query, Response

MAX_LIMIT = 200
NEXT_CURSOR = "X-Next-Cursor"
K = TypeVar("K")
PageResponse = Response  # a route's parameter type: the response the next cursor is set on

Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (at most {MAX_LIMIT}; more is a 422).")
]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description=f"Where the page starts: the {NEXT_CURSOR} header of the page before."),
]
PAGINATED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            NEXT_CURSOR: {
                "description": "The cursor of the next page; absent on the last page.",
                "schema": {"type": "string"},
            }
        }
    }
}


def encode(at: datetime, key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), str(key)]).encode()).decode().rstrip("=")


def decode(cursor: str | None, key: Callable[[str], K]) -> tuple[datetime, K] | tuple[None, None]:
    """(time, key) of the row the page starts after; (None, None) for the first page. A cursor this
    service did not give is a 422 naming the parameter."""
    if cursor is None:
        return None, None
    try:
        at, raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive time")
        return when, key(raw)
    except (ValueError, TypeError) as exc:
        detail = [{"loc": ["query", "cursor"], "msg": "not a cursor this endpoint gave", "type": "cursor"}]
        raise HTTPException(422, detail) from exc


def page(
    rows: Sequence[K], limit: int, response: Response, last: Callable[[K], tuple[datetime, object]]
) -> list[K]:
    """The first ``limit`` of ``rows`` (fetched with ``limit + 1``), the next cursor set when more."""
    if len(rows) > limit:
        response.headers[NEXT_CURSOR] = encode(*last(rows[limit - 1]))
    return list(rows[:limit])
