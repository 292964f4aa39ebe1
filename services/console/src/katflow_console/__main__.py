"""Run the staff console: ``python -m katflow_console`` or ``katflow-console``."""

from __future__ import annotations

from katflow_shared.serve import serve

from .bootstrap import build_app
from .settings import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
