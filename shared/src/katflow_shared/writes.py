"""Writes that go in one statement (``db.composed``), and the loops they wake once committed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from . import db
from .db import Part
from .wakeup import Wake, resolved


@dataclass(frozen=True)
class Writes:
    """Writes that go in one statement (``db.composed``): data-modifying ``parts``, the expressions
    selected after them (``results``), and the loops to wake once they committed (``wakes``: the
    relay, a dispatcher, timer workers; ``wakeup.resolved`` says NOTIFY or in-process)."""

    parts: Sequence[Part]
    results: Sequence[Part] = ()
    wakes: Sequence[Wake] = ()

    def __add__(self, other: Writes) -> Writes:
        """These writes and ``other``'s, in one statement."""
        return Writes(
            [*self.parts, *other.parts], [*self.results, *other.results], [*self.wakes, *other.wakes]
        )

    async def run(self, target: asyncpg.Connection | asyncpg.Pool, head: Part | None = None) -> Any:
        """Run them as one statement (with ``head``: see ``db.composed``) and return the first result:
        in the transaction open on ``target``, or on its own (on a pool, always). The wakes go
        in-process once committed where they can (on its own, or in a ``db.transaction``), by NOTIFY
        at commit otherwise."""
        alone = isinstance(target, asyncpg.Pool) or not target.is_in_transaction()
        later = None if alone else db.after_commit(target)
        notify, then = resolved(self.wakes, in_process=alone or later is not None)
        first = None
        if self.parts or self.results or notify or head:  # else nothing for the database to do
            first = await db.fetchval_composed(target, self.parts, [*self.results, *notify], head)
        if later is not None:
            later.extend(then)
        else:
            for call in then:  # empty unless alone
                call()
        return first
