"""Timer kind -> what it does when it fires (``service_layer.timer_actions``), each guarded."""

from __future__ import annotations

import structlog

from katflow_shared.messaging.errors import TRANSIENT_TYPES
from katflow_shared.timers import OnTimer, Timer
from katflow_shared.unit_of_work import UnitOfWork, Units

from ..domain import timer_keys
from ..service_layer.deps import Deps
from ..service_layer.timer_actions import TimerActions

log = structlog.get_logger()


def handlers(deps: Deps, units: Units) -> dict[str, OnTimer]:
    """The timer worker's table."""
    act = TimerActions(deps)
    return {
        timer_keys.NO_SHOW: _guarded(units, act.on_no_show),
        timer_keys.MONITORING_CHECK: _guarded(units, act.on_monitoring_check),
        timer_keys.INTEGRATION_DUE: _guarded(units, act.on_integration_due),
        timer_keys.INTEGRATION_OVERDUE: _guarded(units, act.on_integration_overdue),
        timer_keys.BOOKING_RETRY: _guarded(units, act.on_booking_retry),
    }


def _guarded(units: Units, action: OnTimer) -> OnTimer:
    """Transient errors roll the batch back to retry; any other error is logged loudly and the timer
    is consumed, so one bad timer can neither block the others nor crash the service. The action
    runs in a unit of its own inside a savepoint of the worker's: a failed one writes nothing, not
    even what it had pending. (TimerWorker marks every handled timer 'fired'; a 'failed' status
    would be better: see docs.)"""

    async def run(timer: Timer, uow: UnitOfWork) -> None:
        try:
            async with uow.conn.transaction(), units.on(uow.conn, now=uow.now) as guarded:
                await action(timer, guarded)
        except TRANSIENT_TYPES:
            raise
        except Exception as exc:  # not swallowed silently: logged as an error with the timer's identity
            log.error("timer_handler_failed", timer_id=timer.id, kind=timer.kind, error=repr(exc))

    return run
