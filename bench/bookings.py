"""``python -m bench.bookings``: how many bookings per second the calendar lock lets through.

Bookings are scheduling's one serial section (``service_layer/booking.book``: every change to
reserved time takes the calendar lock). This drives that section alone, on a scratch database of
the real schema, with no Kafka and no other service: ``--workers`` concurrent units of work (as
scheduling's partition workers run them), each creating a course and booking its consultation
with AppointmentScheduled written to the outbox, as the consumer does. It prints bookings/s for
each of ``--rounds`` rounds and their median. Run it at two commits to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import uvloop

from katflow_scheduling.adapters.postgres_courses import ensure_course, load_plan
from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.service_layer import booking
from katflow_scheduling.service_layer.clinics import Clinics
from katflow_scheduling.service_layer.deps import Deps
from katflow_scheduling.settings import SchedulingSettings
from katflow_shared.clock import SystemClock
from katflow_shared.db import create_pool, migrate
from katflow_shared.logging import configure_logging
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.timers import CHANNEL
from katflow_shared.treatment_protocols import load_protocols
from katflow_shared.unit_of_work import Units
from katflow_shared.wakeup import Announcer
from katflow_tools import databases

from .stack import bench_clinic


async def _book_one(units: Units, deps: Deps) -> None:
    course_id = uuid.uuid4()
    async with units.start() as uow:  # AppointmentScheduled goes with the booking
        await ensure_course(uow.conn, course_id, uuid.uuid4(), "America/New_York")
        plan = await load_plan(uow.conn, course_id)
        reserved = await booking.book_consultation(uow, deps, plan, str(uuid.uuid4()))
        if reserved is None:
            raise RuntimeError("the calendar is full: fewer --workers x --bookings")


async def one_round(admin_dsn: str, workers: int, bookings: int) -> float:
    """Bookings/s of ``workers`` concurrent bookers, ``bookings`` each, on a fresh database."""
    async with databases.scratch_database(admin_dsn, "bench_bookings") as db:
        pool = await create_pool(db.dsn, max(workers, 2))
        try:
            await migrate(pool, ["katflow_shared", "katflow_scheduling"])
            with tempfile.TemporaryDirectory() as folder:  # the benchmark's clinic: 24 consultants
                clinic = load_clinic(bench_clinic(Path(folder) / "clinic.json"))
            deps = Deps(Clinics(clinic), load_protocols(), SystemClock())
            await deps.clinics.start(pool)  # the seed imported: the clinic is data
            emitter = Emitter(
                SchedulingSettings(environment="test", database_url=db.dsn), Announcer(outbox.CHANNEL)
            )
            units = Units(pool, SystemClock(), emitter, Announcer(CHANNEL))
            for _ in range(5):  # warm the connections and the plans
                await _book_one(units, deps)

            async def booker() -> None:
                for _ in range(bookings):
                    await _book_one(units, deps)

            started = time.monotonic()
            await asyncio.gather(*(booker() for _ in range(workers)))
            return workers * bookings / (time.monotonic() - started)
        finally:
            await pool.close()


async def main(admin_dsn: str, workers: int, bookings: int, rounds: int) -> None:
    rates = []
    for n in range(1, rounds + 1):
        rates.append(await one_round(admin_dsn, workers, bookings))
        print(f"round {n}: {rates[-1]:.1f} bookings/s ({workers} workers x {bookings})", flush=True)
    print(f"median {statistics.median(rates):.1f} bookings/s over {rounds} rounds")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.bookings", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg-admin-dsn",
        default=databases.admin_dsn(),
    )
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--bookings", type=int, default=40, help="per worker and round")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    configure_logging("bench-bookings", "WARNING")  # no migration lines between the rounds
    uvloop.run(main(args.pg_admin_dsn, args.workers, args.bookings, args.rounds))
