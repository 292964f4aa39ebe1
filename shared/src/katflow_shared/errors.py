"""Errors the domain raises, free of any framework: the HTTP edge (``http.py``) answers them."""

from __future__ import annotations

from collections.abc import Sequence


class RuleViolation(Exception):
    """A request that is well-formed but breaks a rule; answered 422 (or ``status``)."""

    def __init__(self, field: Sequence[str], rule: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = list(field)
        self.rule = rule
        self.message = message
        self.status = status
