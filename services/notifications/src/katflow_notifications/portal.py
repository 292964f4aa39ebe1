"""The patient's page alone: ``python -m katflow_notifications.portal``.

The same package and database as notifications, but only the ``/portal/`` router (plus health and
metrics): no consumer, no dispatcher, no timers, no staff or provider endpoints. Deploy it where the
internet can reach it and keep the notifications process internal; links the dispatcher mints open
here because both read the same ``portal_links`` table. Its requests and readiness events leave
through the outbox like any other (its own relay). A process entry, like ``__main__``: the app is
composed in ``bootstrap.build_portal_app``."""

from __future__ import annotations

from katflow_shared.serve import serve

from .bootstrap import build_portal_app
from .settings import NotificationsSettings


def main() -> None:
    settings = NotificationsSettings()
    serve(build_portal_app(settings), settings)


if __name__ == "__main__":
    main()
