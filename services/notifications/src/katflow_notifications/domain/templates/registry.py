"""Every template, by id and version. A delivery records the id and version it was queued with
and is rendered with exactly that version, even after a newer one is published."""

from __future__ import annotations

from collections.abc import Iterable

from . import patient_en, patient_es, staff_en
from .model import Template

ALL: tuple[Template, ...] = (
    *patient_en.TEMPLATES,
    *patient_es.TEMPLATES,
    *staff_en.TEMPLATES,
    *staff_en.INTEGRATOR_TEMPLATES,
)


class TemplateRegistry:
    def __init__(self, templates: Iterable[Template], default_locale: str = "en") -> None:
        self.by_version: dict[tuple[str, int], Template] = {}
        for t in templates:
            if (t.id, t.version) in self.by_version:
                raise ValueError(f"template {t.id} v{t.version} defined twice")
            self.by_version[(t.id, t.version)] = t
        self.default_locale = default_locale

    def get(self, template_id: str, version: int) -> Template:
        return self.by_version[(template_id, version)]

    def latest(self, notification: str, audience: str, channel: str, locale: str) -> Template | None:
        """Newest version for the locale, else for the default locale (then English)."""
        for loc in dict.fromkeys((locale, self.default_locale, "en")):
            versions = [
                t
                for (tid, _), t in self.by_version.items()
                if tid == f"{notification}.{audience}.{channel}.{loc}"
            ]
            if versions:
                return max(versions, key=lambda t: t.version)
        return None

    def all(self) -> list[Template]:
        return list(self.by_version.values())


def default_registry(default_locale: str = "en") -> TemplateRegistry:
    return TemplateRegistry(ALL, default_locale)
