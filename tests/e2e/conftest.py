"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import RUN_ROOT
from tests.support.course import CourseDriver, course_stack
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack


@pytest.fixture(scope="module")
async def intake(infra: Infra) -> AsyncIterator[Stack]:
    """One intake process for a whole module (its cases must not depend on one another's data)."""
    s = await make_stack(infra, RUN_ROOT)
    s.start("intake")
    yield s
    s.stop()


@pytest.fixture
def course_services() -> tuple[str, ...]:
    """The services ``course`` starts: the back-end ones, unless a module names fewer."""
    return ()


@pytest.fixture
async def course(infra: Infra, course_services: tuple[str, ...]) -> AsyncIterator[CourseDriver]:
    """A fresh stack on a clock the test moves, driving one course (modules that need the console
    or other settings define their own)."""
    async with course_stack(infra, RUN_ROOT, *course_services) as driver:
        yield driver
