"""Timer kind -> what it does when it fires (``service_layer.timer_actions``), each guarded."""

from __future__ import annotations

import structlog

from katflow_shared.messaging.errors import TRANSIENT_TYPES
from katflow_shared.timers import Timer, TimerContext, TimerHandler

from ..domain import timer_keys
from ..service_layer.deps import Deps
from ..service_layer.timer_actions import TimerActions

log = structlog.get_logger()


def handlers(deps: Deps) -> dict[str, TimerHandler]:
    """The timer worker's table."""
    act = TimerActions(deps)
    return {
        timer_keys.NO_SHOW: _guarded(act.on_no_show),
        timer_keys.MONITORING_CHECK: _guarded(act.on_monitoring_check),
        timer_keys.INTEGRATION_DUE: _guarded(act.on_integration_due),
        timer_keys.INTEGRATION_OVERDUE: _guarded(act.on_integration_overdue),
        timer_keys.BOOKING_RETRY: _guarded(act.on_booking_retry),
    }


def _guarded(handler: TimerHandler) -> TimerHandler:
    """Transient errors roll the batch back to retry; any other error is logged loudly and the timer
    is consumed, so one bad timer can neither block the others nor crash the service.
    (TimerWorker marks every handled timer 'fired'; a 'failed' status would be better: see docs.)"""

    async def run(timer: Timer, ctx: TimerContext) -> None:
        try:
            async with ctx.conn.transaction():
                await handler(timer, ctx)
        except TRANSIENT_TYPES:
            raise
        except Exception as exc:  # not swallowed silently: logged as an error with the timer's identity
            log.error("timer_handler_failed", timer_id=timer.id, kind=timer.kind, error=repr(exc))

    return run
