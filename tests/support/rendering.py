"""What notifications renders a message with, for tests of its templates."""

from __future__ import annotations

from katflow_notifications.domain.templates import RenderEnv
from katflow_notifications.settings import NotificationsSettings


def render_env(locale: str, time_zone: str, given_name: str = "") -> RenderEnv:
    """A message in ``locale`` for someone in ``time_zone``, the clinic's details (links, phone,
    sender) those of the default settings; ``given_name`` empty for staff."""
    s = NotificationsSettings()
    return RenderEnv(
        locale=locale,
        time_zone=time_zone,
        portal_url=s.portal_url,
        console_url=s.staff_console_url,
        clinic_phone=s.clinic_phone,
        sender=s.sender_name,
        organizer=s.mail_from,
        given_name=given_name,
    )
