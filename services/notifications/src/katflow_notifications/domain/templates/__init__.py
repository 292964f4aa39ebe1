"""Message templates per notification × audience × channel × locale, versioned."""

from __future__ import annotations

from .model import Attachment, Rendered, RenderEnv, Template, TemplateError
from .registry import TemplateRegistry, default_registry

__all__ = [
    "Attachment",
    "RenderEnv",
    "Rendered",
    "Template",
    "TemplateError",
    "TemplateRegistry",
    "default_registry",
]
