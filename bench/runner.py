"""One benchmark run: baselines, then the stack under a fixed rate, at saturation, and scaled out."""

from __future__ import annotations

import asyncio
import os
import platform
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from katflow_shared.contracts.topics import DEAD_LETTER_TOPICS
from katflow_shared.settings import ServiceSettings
from katflow_tools.databases import scratch_database

from . import baselines, cpu, hotpath
from .course import CoursePhase, CourseResult
from .load import (
    WINDOW_SECONDS,
    Client,
    IntakeTap,
    PhaseResult,
    Request,
    Tracker,
    ack_p99_windows,
    completed_between,
    drain,
    exactness,
    fixed_rate,
    latencies,
    quiesce,
    saturate,
)
from .profiles import Profile
from .stack import BenchStack, make_bench_stack
from .stats import Exactness, Summary, cpu_ms_per_event, loop_baseline, loop_runs, ratio

SCALED = ("scheduling", "notifications")


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        mem_gib = pages * size / 2**30
    except (ValueError, OSError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_gib, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


async def postgres_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def run_baselines(
    profile: Profile, kafka: str, pg_admin_dsn: str, raw_too: bool = True
) -> dict[str, baselines.BaselineResult]:
    """Both baselines; only consume → transaction → produce when not ``raw_too`` (the run's end)."""
    settings = ServiceSettings(kafka_bootstrap=kafka)
    tag = f"bb{uuid.uuid4().hex[:8]}"
    out: dict[str, baselines.BaselineResult] = {}
    if raw_too:
        say(f"baseline 1/2: raw aiokafka produce→consume, {profile.raw_records:,} records")
        out["raw_kafka"] = raw = await baselines.raw_kafka(settings, f"{tag}.", profile.raw_records)
        say(f"  {raw.per_second:,.0f} records/s")
    say(f"baseline 2/2: consume → PostgreSQL transaction → produce, {profile.loop_records:,} records")
    async with scratch_database(pg_admin_dsn, f"{tag}_baseline") as db:

        def cpu_now() -> float:  # as the pipeline's CPU is counted: this process, broker, its backends
            return sum(cpu.snapshot({}, None, db.name).values())

        loop = await baselines.consume_txn_produce(
            settings, f"{tag}.", db.dsn, profile.loop_records, cpu_now=cpu_now
        )
    say(f"  {loop.per_second:,.0f} records/s")
    out["consume_txn_produce"] = loop
    return out


async def measured_phase(
    stack: BenchStack,
    client: Client,
    tracker: Tracker,
    intake_tap: IntakeTap,
    profile: Profile,
    phase: str,
    per_second: float | None,
    spy_dir: Path | None = None,
) -> tuple[PhaseResult, dict[str, Any]]:
    """Run one load phase (closed loop when ``per_second`` is None, else open loop at that rate);
    snapshot topic offsets and CPU at the window's edges; wait (bounded) for its last emails."""
    saturated = per_second is None
    warmup = profile.warmup_seconds if saturated else 0.0
    length = profile.saturation_seconds if saturated else profile.fixed_seconds
    snapshots: dict[str, tuple[float, int, int]] = {}
    cpus: dict[str, dict[str, float]] = {}
    spies: dict[str, Any] = {}

    async def snapshot(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        cpus[name] = cpu.snapshot(stack.pids(), stack.sink.pid, stack.cfg.db_prefix)
        snapshots[name] = (time.monotonic(), await stack.end_offsets(), await stack.committed())
        if name == "start" and spy_dir is not None:
            for service, pids in stack.pids().items():
                for i, pid in enumerate(pids):
                    out = spy_dir / f"{phase}-{service}-{i + 1}.txt"
                    proc = hotpath.record(pid, length - warmup - 1, out)
                    if proc is not None:
                        spies[f"{service}#{i + 1}"] = (proc, out)

    window_start = asyncio.create_task(snapshot("start", warmup))
    if per_second is None:
        start, sent_until, cut_off = await saturate(client, phase, profile.in_flight, length)
    else:
        backlog = max(50, int(per_second * profile.max_backlog_seconds))
        start, sent_until, cut_off = await fixed_rate(client, phase, per_second, length, backlog)
    await window_start
    await snapshot("end", 0)
    (t0, events0, delivered0), (t1, events1, delivered1) = snapshots["start"], snapshots["end"]
    drained = await drain(tracker, phase, profile.drain_seconds)
    requests = tracker.of(phase)
    censor_at = time.monotonic()
    lat = latencies(requests, intake_tap.published, censor_at)
    result = PhaseResult(
        phase=phase,
        offered=(
            f"{profile.in_flight} open requests, {length:g} s"
            if saturated
            else f"{per_second:g} requests/s, {length:g} s"
        ),
        requests=len(requests),
        seconds=t1 - t0,
        completed_in_window=completed_between(requests, t0, t1),
        ack_latency=lat["ack"],
        confirmation_latency=lat["confirmation"],
        http_latency=lat["http"],
        relay_latency=lat["relay"],
        notify_latency=lat["notify"],
        events=events1 - events0,
        deliveries=delivered1 - delivered0,
        drained=drained,
        incomplete=sum(1 for r in requests if not r.complete),
        cut_off=cut_off,
        replicas={name: len(pids) for name, pids in stack.pids().items()},
        cpu_seconds=cpu.delta(cpus["start"], cpus["end"]),
        ack_p99_windows=ack_p99_windows(requests, t0, censor_at),
    )
    profiles: dict[str, Any] = {}
    for label, (proc, out) in spies.items():
        try:
            proc.wait(30)
            finished = True
        except Exception:  # py-spy did not finish: no profile for this process, and the report says so
            proc.kill()
            finished = False
        samples, own, total = hotpath.top(out.read_text()) if finished and out.exists() else (0, [], [])
        profiles[label] = {
            "samples": samples,
            "file": str(out),
            "own": [h.__dict__ for h in own],
            "total": [h.__dict__ for h in total],
        }
        if samples == 0:
            profiles[label]["error"] = hotpath.failure(out) if finished else "py-spy did not finish"
    del sent_until, start
    if not await quiesce(tracker, profile.drain_seconds):
        say("  the pipeline still had staff alerts to send when the next phase began")
    return result, profiles


async def appointment_counts(stack: BenchStack, requests: list[Request]) -> Exactness:
    conn = await stack.db("scheduling")
    try:
        rows = await conn.fetch(
            "SELECT course_id::text AS c, count(*) AS n FROM appointments"
            " WHERE kind = 'consultation' GROUP BY 1"
        )
    finally:
        await conn.close()
    per_course = {r["c"]: int(r["n"]) for r in rows}
    return Exactness.of([r.course_id or f"unaccepted-{r.email}" for r in requests], per_course)


async def dead_letters(stack: BenchStack) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.cfg.kafka_bootstrap)
    await consumer.start()
    try:
        tps = [
            TopicPartition(stack.prefix + t.name, p) for t in DEAD_LETTER_TOPICS for p in range(t.partitions)
        ]
        return int(sum((await consumer.end_offsets(tps)).values()))
    finally:
        await consumer.stop()


def phase_json(result: PhaseResult, exact: dict[str, Exactness]) -> dict[str, Any]:
    return {
        "offered": result.offered,
        "replicas": result.replicas,
        "requests": result.requests,
        "window_seconds": round(result.seconds, 2),
        "completed_in_window": result.completed_in_window,
        "requests_per_second": round(result.requests_per_second, 2),
        "events_per_second": round(result.events_per_second, 1),
        "deliveries_per_second": round(result.deliveries_per_second, 1),
        "latency_seconds": {
            "request_to_ack_email": _summary(result.ack_latency),
            "request_to_confirmation_email": _summary(result.confirmation_latency),
            "http_202": _summary(result.http_latency),
            "request_to_kafka": _summary(result.relay_latency),
            "kafka_to_ack_email": _summary(result.notify_latency),
        },
        "cpu_seconds_in_window": {k: round(v, 2) for k, v in result.cpu_seconds.items()},
        "cpu_ms_per_request": {
            k: round(1000 * v / result.completed_in_window, 2) if result.completed_in_window else None
            for k, v in result.cpu_seconds.items()
        },
        "drained": result.drained,
        "incomplete_after_drain": result.incomplete,
        "overload_cut_off_after_seconds": round(result.cut_off, 1) if result.cut_off is not None else None,
        "ack_p99_by_window": {
            "window_seconds": WINDOW_SECONDS,
            "p99_seconds": [None if v is None else round(v, 4) for v in result.ack_p99_windows],
        },
        "exactly_once": {k: v.__dict__ for k, v in exact.items()},
        "lost": sum(v.lost for v in exact.values()),
        "duplicated": sum(v.duplicated for v in exact.values()),
    }


def _summary(s: Summary) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.__dict__.items()}


def course_json(result: CourseResult | None, error: str | None) -> dict[str, Any]:
    if result is None:
        return {"error": error}
    return {
        "courses": result.courses,
        "staff_steps": result.steps,
        "seconds": round(result.seconds, 2),
        "steps_per_second": round(result.steps / result.seconds, 1) if result.seconds else None,
        "integration_due_lateness_seconds": _summary(result.lateness),
        "session_administered_to_integration_due_seconds": _summary(result.session_to_due),
        "integration_due_events": result.integration_due_events,
        "duplicated": result.duplicates,
        "lost": result.courses - result.lateness.count,
    }


async def idle_cpu(stack: BenchStack, seconds: float) -> dict[str, Any]:
    """CPU per second of wall time, by component, while the stack has nothing to do (consumers
    polling empty topics, dispatcher, timer and relay polls; the broker's and the run's database
    backends' share). The course phase's stack is gone by now; the SMTP sink and the load generator
    are left out."""
    before = cpu.snapshot(stack.pids(), None, stack.cfg.db_prefix)
    t = time.monotonic()
    await asyncio.sleep(seconds)
    used = cpu.delta(before, cpu.snapshot(stack.pids(), None, stack.cfg.db_prefix))
    elapsed = time.monotonic() - t
    per = {k: round(v * 1000 / elapsed, 1) for k, v in used.items() if k != "load generator"}
    return {
        "seconds": round(elapsed, 1),
        "ms_per_second": per,
        "total_ms_per_second": round(sum(per.values()), 1),
    }


async def run(
    profile: Profile,
    kafka: str,
    pg_admin_dsn: str,
    run_root: Path,
    spy: bool = False,
    keep: bool = False,
    skip: frozenset[str] = frozenset(),
    service_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The whole run; ``skip`` leaves out parts (baselines, courses, fixed, saturation, scale-out);
    ``service_env`` is set in every service process (settings to compare, e.g. KATFLOW_...)."""
    started = time.monotonic()
    report: dict[str, Any] = {
        "profile": profile.as_json(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "infrastructure": {"kafka_bootstrap": kafka, "postgresql": await postgres_version(pg_admin_dsn)},
        "service_env": dict(service_env or {}),
    }
    probes: dict[str, float] = {}  # the VM's speed at each phase's edge (cpu.speed_probe)
    report["speed_probe_ms"] = probes
    if "baselines" in skip:
        report["baselines"] = {}
    else:
        probes["baselines"] = cpu.speed_probe()
        base = await run_baselines(profile, kafka, pg_admin_dsn)
        report["baselines"] = {k: v.as_json() for k, v in base.items()}

    say("starting the stacks: intake, scheduling, notifications as processes, a stamping SMTP sink")
    stack = await make_bench_stack(kafka, pg_admin_dsn, run_root, extra_env=service_env)
    # the course phase moves service time, so it gets its own stack on a movable clock
    course_stack = (
        None
        if "courses" in skip
        else await make_bench_stack(kafka, pg_admin_dsn, run_root, movable_clock=True, extra_env=service_env)
    )
    report["run_dir"] = str(stack.cfg.run_dir)
    spy_dir = stack.cfg.run_dir / "py-spy" if spy else None
    if spy_dir is not None:
        spy_dir.mkdir(parents=True, exist_ok=True)
        if hotpath.py_spy() is None:
            say("py-spy not found (uv sync --dev): no profiles")
            spy_dir = None
    tracker = Tracker(stack.mail)
    intake_tap = IntakeTap(stack)
    phases: dict[str, dict[str, Any]] = {}
    hot: dict[str, Any] = {}
    try:
        t = time.monotonic()
        await asyncio.gather(
            asyncio.to_thread(stack.start), *([asyncio.to_thread(course_stack.start)] if course_stack else [])
        )
        say(f"  ready in {time.monotonic() - t:.1f} s")
        tracker.start()
        await intake_tap.start()
        client = Client(stack, tracker)
        try:
            # consumer groups join a few seconds after start (the broker's initial rebalance delay):
            # a handful of requests carried end to end first, so no phase measures that
            t = time.monotonic()
            await fixed_rate(client, "warmup", 5, 2)
            warmed = await drain(tracker, "warmup", 60)
            say(f"  warm-up: 10 requests end to end in {time.monotonic() - t:.1f} s (complete: {warmed})")
            course: CourseResult | None = None
            error: str | None = None
            say(f"courses: {profile.courses} IV courses through the staff APIs to their first discharge")
            try:
                if course_stack is None:
                    raise RuntimeError("skipped (--skip courses)")
                async with httpx.AsyncClient(timeout=30) as http:
                    course = await CoursePhase(course_stack, http, profile.courses).run()
                say(f"  IntegrationDue lateness p50 {course.lateness.p50} s, p99 {course.lateness.p99} s")
            except Exception as exc:  # the course workflow may be unavailable: report, carry on
                error = f"{type(exc).__name__}: {exc}"
                say(f"  course phase failed: {error}")
            finally:
                if course_stack is not None:
                    await asyncio.to_thread(course_stack.stop)
                    if not keep:
                        await course_stack.destroy()
                    course_stack = None
            report["timers"] = course_json(course, error)
            report["idle"] = await idle_cpu(stack, profile.idle_seconds)
            say(f"idle: {report['idle']['total_ms_per_second']} ms of CPU per second with nothing to do")

            async def run_phase(name: str, per_second: float | None) -> None:
                if tracker.calendar_full:
                    say(f"{name}: skipped — the bench clinic's calendar is full")
                    return
                loop = "closed loop" if per_second is None else f"open loop at {per_second:g} requests/s"
                say(f"{name}: {loop}")
                probes[name] = cpu.speed_probe()  # the stack idle: the last phase drained
                result, profiled = await measured_phase(
                    stack, client, tracker, intake_tap, profile, name, per_second, spy_dir
                )
                phases[name] = phase_json(result, exactness(tracker, tracker.of(name)))
                hot.update({f"{name}:{k}": v for k, v in profiled.items()})
                _say_phase(phases[name])
                if tracker.calendar_full:
                    say(
                        f"  the bench clinic's calendar filled up in {name}: {tracker.calendar_full}"
                        " bookings waitlisted; from then on no request completes"
                    )

            # saturation first: it finds the capacity the sustainable-rate phase is set from
            if "saturation" not in skip:
                await run_phase("saturation", None)
            if "fixed" not in skip:
                await run_phase("fixed", profile.fixed_rate)
                capacity = phases.get("saturation", {}).get("requests_per_second")
                fixed = phases["fixed"]
                if capacity and (fixed["overload_cut_off_after_seconds"] is not None or not fixed["drained"]):
                    await run_phase("sustainable", round(max(1.0, 0.7 * capacity), 1))
            if profile.scale_out and "scale-out" not in skip:
                say("scale-out: a second replica of scheduling and of notifications (same groups)")
                for name in SCALED:
                    stack.add_replica(name)
                for name in SCALED:
                    await asyncio.to_thread(stack.processes[name][-1].wait_ready)
                for name in SCALED:
                    deadline = time.monotonic() + 45
                    while time.monotonic() < deadline:
                        if await stack.group_members(name) >= 2:
                            break
                        await asyncio.sleep(0.5)
                await asyncio.sleep(2)  # let the rebalance settle
                await run_phase("saturation_2_replicas", None)
            say("final count: waiting for every request's emails, then for any duplicate")
            all_drained = await drain_all(tracker, list(phases), profile.final_drain_seconds)
            report["all_delivered_before_count"] = all_drained
            report["calendar_full"] = tracker.calendar_full
            await asyncio.sleep(3)  # anything sent twice would arrive now
            await tracker.stop()
            for phase in phases:
                reqs = tracker.of(phase)
                exact = exactness(tracker, reqs)
                exact["consultation appointments"] = await appointment_counts(stack, reqs)
                phases[phase]["exactly_once"] = {k: v.__dict__ for k, v in exact.items()}
                phases[phase]["lost"] = sum(v.lost for v in exact.values())
                phases[phase]["duplicated"] = sum(v.duplicated for v in exact.values())
                phases[phase]["incomplete_at_count"] = sum(1 for r in reqs if not r.complete)
            all_requests = len(tracker.by_email)
            report["staff_alerts"] = {"expected": all_requests, "received": tracker.staff_alerts}
            report["dead_letters"] = await dead_letters(stack)
            report["services_alive"] = stack.all_alive()
            report["http_errors"] = dict(client.errors)
        finally:
            await client.close()
    finally:
        await tracker.stop()
        await intake_tap.stop()
        if course_stack is not None:  # the run failed before the course phase ended
            await asyncio.to_thread(course_stack.stop)
            if not keep:
                await course_stack.destroy()
        await asyncio.to_thread(stack.stop)
        if not keep:
            await stack.destroy()
    if "baselines" not in skip:
        # again at the end, the stacks gone: the VM's speed drifts over minutes, and the phases ran
        # between the two; the ratio is taken against their mean, and against each (report)
        say("the consume → transaction → produce baseline again, after the run")
        probes["baselines_after"] = cpu.speed_probe()
        after = await run_baselines(profile, kafka, pg_admin_dsn, raw_too=False)
        report["baselines_after"] = {k: v.as_json() for k, v in after.items()}
    report["phases"] = phases
    report["hot_path"] = hot
    report["ratios"] = ratios(report)
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["duration_seconds"] = round(time.monotonic() - started, 1)
    return report


async def drain_all(tracker: Tracker, names: list[str], within: float) -> bool:
    deadline = time.monotonic() + within
    for name in names:
        if not await drain(tracker, name, max(0.0, deadline - time.monotonic())):
            return False
    return True


def ratios(report: dict[str, Any]) -> dict[str, float | None]:
    phases = report.get("phases", {})
    base = report["baselines"]
    sat = phases.get("saturation", {})
    scaled = phases.get("saturation_2_replicas", {})
    loop = loop_baseline(report, "records_per_second")
    raw = base.get("raw_kafka", {}).get("records_per_second")
    events = sat.get("events_per_second")
    before, after = loop_runs(report, "records_per_second")
    out = {
        "events_vs_consume_txn_produce": ratio(events, loop),
        "events_vs_consume_txn_produce_before": ratio(events, before),
        "events_vs_consume_txn_produce_after": ratio(events, after),
        "events_vs_raw_kafka": ratio(sat.get("events_per_second"), raw),
        "deliveries_vs_consume_txn_produce": ratio(sat.get("deliveries_per_second"), loop),
        "scaled_events_vs_consume_txn_produce": ratio(scaled.get("events_per_second"), loop),
        "scale_out_requests": ratio(scaled.get("requests_per_second"), sat.get("requests_per_second")),
        "cpu_per_record_vs_cpu_per_event": ratio(
            loop_baseline(report, "cpu_ms_per_record"), cpu_ms_per_event(sat)
        ),
    }
    return {k: (round(v, 4) if v is not None else None) for k, v in out.items()}


def _say_phase(p: dict[str, Any]) -> None:
    ack = p["latency_seconds"]["request_to_ack_email"]
    say(
        f"  {p['requests_per_second']} requests/s, {p['events_per_second']} events/s; ack email p50 "
        f"{ack['p50']} s p99 {ack['p99']} s; lost {p['lost']} duplicated {p['duplicated']}"
    )
