"""Run the notifications service: ``python -m katflow_notifications`` or ``katflow-notifications``."""

from __future__ import annotations

from katflow_shared.serve import serve

from .bootstrap import build_app
from .settings import NotificationsSettings


def main() -> None:
    settings = NotificationsSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
