"""Run the scheduling service: ``python -m katflow_scheduling`` or ``katflow-scheduling``."""

from __future__ import annotations

from katflow_shared.serve import serve

from .bootstrap import build_app
from .settings import SchedulingSettings


def main() -> None:
    settings = SchedulingSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
