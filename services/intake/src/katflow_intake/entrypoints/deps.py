"""What intake's routers are given (``Annotated`` aliases), as ``bootstrap.py`` composed it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from katflow_shared.treatment_protocols import ProtocolBook

from ..domain.consultation import FormRules


async def _book(request: Request) -> ProtocolBook:
    book: ProtocolBook = request.app.state.protocols
    return book


async def _form_rules(request: Request) -> FormRules:
    rules: FormRules = request.app.state.form_rules
    return rules


BookDep = Annotated[ProtocolBook, Depends(_book)]
FormRulesDep = Annotated[FormRules, Depends(_form_rules)]
