"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import RUN_ROOT
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack


@pytest.fixture(scope="module")
async def intake(infra: Infra) -> AsyncIterator[Stack]:
    """One intake process for a whole module (its cases must not depend on one another's data)."""
    s = await make_stack(infra, RUN_ROOT)
    s.start("intake")
    yield s
    s.stop()
