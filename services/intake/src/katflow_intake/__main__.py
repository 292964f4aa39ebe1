"""Run the intake service: ``python -m katflow_intake`` or ``katflow-intake``."""

from __future__ import annotations

from katflow_shared.serve import serve

from .bootstrap import build_app
from .settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
