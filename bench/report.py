"""The table printed at the end of a run, rendered from the JSON the run writes."""

from __future__ import annotations

from typing import Any

from .stats import (
    cpu_ms_per_event,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    loop_baseline,
    loop_runs,
    percentile,
    ratio,
)

TARGET_P99_SECONDS = 1.0
TARGET_FIXED_RATE = 50
TARGET_LOOP_SHARE = 0.30
# The baseline's two runs (before and after the phases) further apart than this: no throughput verdict
BASELINE_SPREAD = 1.5

PHASE_TITLES = {
    "fixed": "fixed rate",
    "saturation": "saturation",
    "sustainable": "70% of capacity",
    "saturation_2_replicas": "saturation, 2× sched+notif",
}


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _windows(report: dict[str, Any]) -> list[str]:
    """Each phase's acknowledgement p99 over short windows: whether its tail is a stall or all along."""
    rows = []
    width = None
    for name, ph in report.get("phases", {}).items():
        by_window = ph.get("ack_p99_by_window")
        if not by_window:
            continue  # a run from before the windows were recorded (--render)
        width = by_window["window_seconds"]
        values = [v for v in by_window["p99_seconds"] if v is not None]
        if not values:
            continue
        worst = max(values)
        at = by_window["p99_seconds"].index(worst) * width
        rows.append(
            [
                "  " + PHASE_TITLES.get(name, name),
                str(len(values)),
                fmt_seconds(percentile(values, 50)),
                f"{fmt_seconds(worst)} (+{at:g} s)",
                str(sum(1 for v in values if v >= 1.0)),
            ]
        )
    if not rows:
        return []
    title = f"  ack p99 per {width:g}-second window (requests by when they were accepted)"
    return ["", title, *_table(["  phase", "windows", "median", "worst (from the start)", "≥ 1 s"], rows)]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [_row(header, widths), _row(["-" * w for w in widths], widths), *(_row(r, widths) for r in rows)]


def targets(report: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """(target, met?, what was measured); None when the run could not measure it."""
    phases = report.get("phases", {})
    fixed = phases.get("fixed")
    out: list[tuple[str, bool | None, str]] = []
    if fixed:
        p99 = fixed["latency_seconds"]["request_to_ack_email"]["p99"]
        rate_ok = report["profile"]["fixed_rate"] >= TARGET_FIXED_RATE
        cut = fixed.get("overload_cut_off_after_seconds")
        met = None if p99 is None or not rate_ok else (p99 < TARGET_P99_SECONDS and cut is None)
        measured = f"p99 {_bound(fixed)}{fmt_seconds(p99)}"
        if cut is not None:
            capacity = phases.get("saturation", {}).get("requests_per_second")
            measured += (
                f"; the rate was not carried (backlog cut-off after {cut:g} s; "
                f"capacity at saturation {fmt_rate(capacity)})"
            )
        out.append((f"p99 request→email < 1 s at {TARGET_FIXED_RATE} requests/s", met, measured))
    r = report.get("ratios", {})
    share = r.get("events_vs_consume_txn_produce")
    measured = f"{fmt_ratio(share)} (events/s at saturation ÷ baseline records/s"
    if report.get("baselines_after"):
        before, after = (
            r.get("events_vs_consume_txn_produce_before"),
            r.get("events_vs_consume_txn_produce_after"),
        )
        measured += (
            f", the mean of its runs before and after; {fmt_ratio(before)} and {fmt_ratio(after)}"
            " against each"
        )
    met = None if share is None else share >= TARGET_LOOP_SHARE
    runs = [v for v in loop_runs(report, "records_per_second") if v]
    if len(runs) == 2 and max(runs) > BASELINE_SPREAD * min(runs):
        met = None  # a run stalled, or the VM changed speed between them: the mean decides nothing
        measured += f"; the baseline's two runs differ {max(runs) / min(runs):.1f}×: no verdict, run again"
    out.append(("throughput ≥ 30% of consume→txn→produce", met, measured + ")"))
    sat = [p for name, p in phases.items() if name.startswith("saturation")]
    if sat:
        lost = sum(p["lost"] for p in sat)
        dup = sum(p["duplicated"] for p in sat)
        drained = report.get("all_delivered_before_count", True)
        verdict: bool | None = lost == 0 and dup == 0
        if lost and drained is False and dup == 0:
            verdict = None  # late, not shown lost: the backlog had not drained when counting
        out.append(
            (
                "0 lost, 0 duplicated at saturation",
                verdict,
                f"undelivered {lost}, duplicated {dup}"
                + ("" if drained is not False else " (the backlog had not drained when counted)"),
            )
        )
    return out


def _bound(phase: dict[str, Any]) -> str:
    """'≥' when some requests were still open: their latency counts as time waited so far."""
    return "≥" if phase.get("incomplete_after_drain") else ""


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    p = report["profile"]
    lines = [
        f"katflow benchmark — profile {p['name']} — {report['started_at']} — "
        f"{report.get('duration_seconds', '?')} s",
        f"machine: {m['cpus']} CPUs ({m['cpu_model'] or 'unknown model'}), {m['memory_gib']} GiB, {m['os']}, "
        f"Python {m['python']}; PostgreSQL {report['infrastructure']['postgresql']}, Kafka at "
        f"{report['infrastructure']['kafka_bootstrap']}",
        f"load average at start {m['load_average_at_start']}, at end {report.get('load_average_at_end')} — "
        "Kafka, PostgreSQL, the services, the SMTP sink and this load generator share these CPUs; "
        "anything else running skews every number below.",
        "",
        "BASELINES (same broker, same database; records the size of a pipeline event)",
    ]
    b = report["baselines"]
    lines += (
        ["  (skipped)"]
        if not b
        else _table(
            ["baseline", "records", "bytes", "throughput", "CPU per record"],
            [
                [
                    "raw aiokafka produce → consume",
                    f"{b['raw_kafka']['records']:,}",
                    str(b["raw_kafka"]["record_bytes"]),
                    fmt_rate(b["raw_kafka"]["records_per_second"]),
                    "-",
                ],
                *(
                    [
                        f"consume → 1 PostgreSQL txn → produce{when}",
                        f"{loop['records']:,}",
                        str(loop["record_bytes"]),
                        fmt_rate(loop["records_per_second"]),
                        _ms(loop.get("cpu_ms_per_record")),
                    ]
                    for when, loop in _loop_runs(report)
                ),
            ],
        )
    )
    lines += ["", "PIPELINE (HTTP 202 → acknowledgement email accepted by the SMTP server)"]
    rows = []
    for name, ph in report.get("phases", {}).items():
        ack = ph["latency_seconds"]["request_to_ack_email"]
        conf = ph["latency_seconds"]["request_to_confirmation_email"]
        ge = _bound(ph)
        cut = ph.get("overload_cut_off_after_seconds")
        rows.append(
            [
                PHASE_TITLES.get(name, name),
                ph["offered"] + (f", cut off at {cut:g} s" if cut is not None else ""),
                fmt_rate(ph["requests_per_second"]),
                fmt_rate(ph["events_per_second"]),
                fmt_rate(ph["deliveries_per_second"]),
                ge + fmt_seconds(ack["p50"]),
                ge + fmt_seconds(ack["p95"]),
                ge + fmt_seconds(ack["p99"]),
                ge + fmt_seconds(conf["p99"]),
                str(ph["lost"]),
                str(ph["duplicated"]),
            ]
        )
    if rows:
        lines += _table(
            [
                "phase",
                "offered",
                "requests",
                "events",
                "deliveries",
                "ack p50",
                "ack p95",
                "ack p99",
                "confirm p99",
                "undelivered",
                "dup",
            ],
            rows,
        )
        lines += ["", "  where the acknowledgement's time goes (p50 / p99)"]
        split = []
        for name, ph in report.get("phases", {}).items():
            lat = ph["latency_seconds"]
            split.append(
                [PHASE_TITLES.get(name, name)]
                + [
                    f"{fmt_seconds(lat[k]['p50'])} / {fmt_seconds(lat[k]['p99'])}"
                    for k in ("http_202", "request_to_kafka", "kafka_to_ack_email")
                ]
            )
        lines += _table(
            ["  phase", "POST → 202", "202 → event on Kafka", "on Kafka → email accepted"],
            [["  " + r[0], *r[1:]] for r in split],
        )
        lines += _windows(report)
        lines += ["", "  CPU per completed request (ms), by component, in the measurement window"]
        names = list(next(iter(report["phases"].values())).get("cpu_ms_per_request", {}))
        cpu_rows = []
        for name, ph in report.get("phases", {}).items():
            per = ph.get("cpu_ms_per_request", {})
            cells = [f"{per[n]:.1f}" if per.get(n) is not None else "-" for n in names]
            known = [per[n] for n in names if per.get(n) is not None]
            cpu_rows.append(["  " + PHASE_TITLES.get(name, name), *cells, f"{sum(known):.1f}"])
        lines += _table(["  phase", *names, "total"], cpu_rows)
    else:
        lines.append("  (no phase completed)")
    idle = report.get("idle")
    if idle:
        per = idle["ms_per_second"]
        lines += ["", f"IDLE (nothing to do for {idle['seconds']:g} s): CPU ms per second, by component"]
        lines += _table(
            [*per, "total"], [[f"{v:.1f}" for v in per.values()] + [f"{idle['total_ms_per_second']:.1f}"]]
        )
    t = report.get("timers", {})
    lines += [
        "",
        "TIMERS (SessionAdministered → IntegrationDue, due at discharge; lateness = Kafka time − due time)",
    ]
    if "error" in t:
        lines.append(f"  course phase did not run: {t['error']}")
    else:
        late = t["integration_due_lateness_seconds"]
        lines += _table(
            ["courses", "staff steps", "lateness p50", "p95", "p99", "max", "IntegrationDue", "lost", "dup"],
            [
                [
                    str(t["courses"]),
                    f"{t['staff_steps']} ({t['steps_per_second']}/s)",
                    fmt_seconds(late["p50"]),
                    fmt_seconds(late["p95"]),
                    fmt_seconds(late["p99"]),
                    fmt_seconds(late["max"]),
                    str(t["integration_due_events"]),
                    str(t["lost"]),
                    str(t["duplicated"]),
                ]
            ],
        )
    r = {k: fmt_ratio(v) for k, v in report.get("ratios", {}).items()}
    per_record = loop_baseline(report, "cpu_ms_per_record")
    per_event = cpu_ms_per_event(report.get("phases", {}).get("saturation", {}))  # recomputed: --render
    lines += [
        "",
        "RATIOS",
        f"  pipeline events/s ÷ consume→txn→produce records/s   {r.get('events_vs_consume_txn_produce')}"
        f"   (2 replicas: {r.get('scaled_events_vs_consume_txn_produce')})"
        + (
            f"   against the baseline's run before / after: {r.get('events_vs_consume_txn_produce_before')}"
            f" / {r.get('events_vs_consume_txn_produce_after')}"
            if report.get("baselines_after")
            else ""
        ),
        f"  pipeline events/s ÷ raw Kafka records/s             {r.get('events_vs_raw_kafka')}",
        f"  consumer deliveries/s ÷ consume→txn→produce         {r.get('deliveries_vs_consume_txn_produce')}",
        f"  scale-out: requests/s with 2 replicas ÷ 1 replica    {r.get('scale_out_requests')}",
        f"  CPU per baseline record ÷ CPU per pipeline event    {fmt_ratio(ratio(per_record, per_event))}"
        f"   ({_ms(per_record)} ÷ {_ms(per_event)}, saturation, harness aside)",
        *_speed(report),
        "",
        "CHECKS",
        f"  staff alerts {report.get('staff_alerts')}, dead letters {report.get('dead_letters')}, "
        f"services alive {report.get('services_alive')}, HTTP errors {report.get('http_errors') or 'none'}",
        f"  every request's emails arrived before the final count: {report.get('all_delivered_before_count')}"
        " (undelivered = still missing then: late, or lost; a drained run tells them apart)",
    ]
    if full := report.get("calendar_full"):
        lines.append(
            f"  [FAIL] the bench clinic's calendar filled up: {full} bookings waitlisted, so requests"
            " stopped completing (undelivered counts them); enlarge bench.stack.bench_clinic"
        )
    for label, met, measured in targets(report):
        verdict = "n/a " if met is None else ("PASS" if met else "FAIL")
        lines.append(f"  [{verdict}] {label}: {measured}")
    hot = report.get("hot_path") or {}
    if hot:
        lines += ["", "HOT PATH (py-spy, share of each process's CPU samples, own time)"]
        for label, prof in hot.items():
            if prof.get("error"):
                lines.append(f"  {label}: no profile — {prof['error']}")
                continue
            tops = ", ".join(f"{h['function']} {h['own'] * 100:.0f}%" for h in prof["own"][:5])
            lines.append(f"  {label} ({prof['samples']} samples): {tops}")
    lines += [
        "",
        "≥: some requests were still open when the phase ended; their latency is counted as the time "
        "waited so far, so the percentile is a lower bound. "
        "requests = requests/s whose acknowledgement and confirmation both arrived inside the window; "
        "events = records published on the workflow topics per second; deliveries = records the services' "
        "consumer groups handled and committed per second. Saturation keeps a fixed number of requests "
        "open end to end (closed loop); the fixed rate is open loop.",
    ]
    return "\n".join(lines)


def _loop_runs(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The consume → transaction → produce baseline's runs: before the phases, and after them."""
    after = report.get("baselines_after", {}).get("consume_txn_produce")
    runs = [("", report["baselines"]["consume_txn_produce"])]
    return runs + [(", after the run", after)] if after else runs


def _speed(report: dict[str, Any]) -> list[str]:
    """The VM's speed probe at each phase's edge, each against the baselines' (runs from before the
    twelfth round have none): a ratio between a baseline and a phase that ran at different speeds
    says as much about the VM as about the pipeline."""
    probes: dict[str, float] = report.get("speed_probe_ms") or {}
    if not probes:
        return []
    base = [v for k, v in probes.items() if k in ("baselines", "baselines_after")]
    ref = sum(base) / len(base) if base else None

    def cell(name: str, ms: float) -> str:
        if ref is None or name in ("baselines", "baselines_after"):
            return f"{name} {ms:g}"
        return f"{name} {ms:g} ({100 * (ms / ref - 1):+.0f} %)"

    cells = ", ".join(cell(k, v) for k, v in probes.items())
    label = "VM speed probe, ms of a fixed Python loop (lower is faster; % against the baselines')"
    return [f"  {label}: {cells}"]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"
