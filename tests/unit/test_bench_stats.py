"""The benchmark's arithmetic: percentiles, rates, ratios, exactly-once counting, the py-spy digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.hotpath import errors, failure, top
from bench.report import render, targets
from bench.sink import SinkReader
from bench.stats import (
    Exactness,
    Summary,
    cpu_ms_per_event,
    fmt_ratio,
    fmt_seconds,
    loop_baseline,
    p99_by_window,
    percentile,
    rate,
    ratio,
)


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of input does not matter
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_of_latencies() -> None:
    s = Summary.of([0.1, 0.2, 0.3, 0.4])
    assert (s.count, s.max) == (4, 0.4)
    assert s.p50 == pytest.approx(0.25) and s.mean == pytest.approx(0.25)
    assert Summary.of([]) == Summary(0, None, None, None, None, None)


def test_rate_and_ratio_guard_against_nothing() -> None:
    assert rate(100, 4.0) == 25.0 and rate(5, 0.0) == 0.0
    assert ratio(30.0, 100.0) == pytest.approx(0.3)
    assert ratio(None, 100.0) is None and ratio(1.0, 0.0) is None and ratio(1.0, None) is None


def test_exactness_counts_lost_and_duplicated_per_key() -> None:
    e = Exactness.of(["a", "b", "c", "d"], {"a": 1, "b": 0, "c": 3, "x": 5})
    assert (e.expected, e.delivered, e.lost, e.duplicated) == (4, 2, 2, 2)
    assert not e.exact
    assert Exactness.of(["a"], {"a": 1}).exact


def test_formatting() -> None:
    assert fmt_seconds(0.1234) == "123 ms" and fmt_seconds(12.34) == "12.3 s" and fmt_seconds(None) == "-"
    assert fmt_ratio(0.305) == "30%" and fmt_ratio(None) == "-"


def test_py_spy_digest_by_own_and_inclusive_time() -> None:
    collapsed = "\n".join(
        [
            "process 1:python;main (/x/src/app.py:3);work (/x/site-packages/lib/a.py:10) 6",
            "process 1:python;main (/x/src/app.py:3);work (/x/site-packages/lib/a.py:12) 2",
            "process 1:python;main (/x/src/app.py:4) 2",
            "garbage",
        ]
    )
    samples, own, total = top(collapsed)
    assert samples == 10
    assert (own[0].function, own[0].own) == ("work (lib/a.py)", 0.8)  # lines of one function merged
    assert total[0].function == "main (app.py)" and total[0].total == 1.0


def test_a_profile_py_spy_could_not_take_says_why(tmp_path: Path) -> None:
    out = tmp_path / "saturation-intake-1.txt"
    assert failure(out) == "py-spy wrote no samples"  # nothing said, nothing written
    errors(out).write_text("\nError: Failed to find python version from target process\n   0: anyhow\n")
    assert failure(out) == "Error: Failed to find python version from target process"
    report = _report(p99=0.5, events=40.0, loop=100.0)
    report["hot_path"] = {
        "saturation:intake#1": {"samples": 0, "own": [], "total": [], "error": failure(out)},
        "saturation:scheduling#1": {
            "samples": 10,
            "own": [{"function": "work (lib/a.py)", "own": 0.8, "total": 0.8}],
            "total": [],
        },
    }
    text = render(report)
    assert "saturation:intake#1: no profile — Error: Failed to find python version" in text
    assert "saturation:scheduling#1 (10 samples): work (lib/a.py) 80%" in text


def test_sink_reader_returns_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "mail.tsv"
    reader = SinkReader(path)
    assert reader.poll() == []
    path.write_bytes(b"1.5\ta@example.org\tWe received your request\n2.0\tb@exam")
    mails = reader.poll()
    assert [(m.at, m.rcpt, m.subject) for m in mails] == [(1.5, "a@example.org", "We received your request")]
    with path.open("ab") as f:
        f.write(b"ple.org\tNew\tsubject\n")
    assert [(m.rcpt, m.subject) for m in reader.poll()] == [("b@example.org", "New\tsubject")]
    assert reader.poll() == []


def _report(p99: float, events: float, loop: float, lost: int = 0) -> dict[str, object]:
    latency = {"count": 10, "p50": 0.1, "p95": 0.2, "p99": p99, "max": p99, "mean": 0.1}
    phase = {
        "offered": "50 requests/s, 30 s",
        "requests_per_second": 49.0,
        "events_per_second": events,
        "deliveries_per_second": events,
        "latency_seconds": {
            k: latency
            for k in (
                "request_to_ack_email",
                "request_to_confirmation_email",
                "http_202",
                "request_to_kafka",
                "kafka_to_ack_email",
            )
        },
        "cpu_ms_per_request": {"intake": 5.0, "scheduling": None},
        "lost": lost,
        "duplicated": 0,
    }
    return {
        "profile": {"name": "short", "fixed_rate": 50},
        "started_at": "2026-11-27T00:00:00+00:00",
        "machine": {
            "cpus": 2,
            "cpu_model": "x",
            "memory_gib": 1,
            "os": "linux",
            "python": "3.11",
            "load_average_at_start": [0, 0, 0],
        },
        "infrastructure": {"postgresql": "15", "kafka_bootstrap": "k:1"},
        "baselines": {
            "raw_kafka": {"records": 1, "record_bytes": 600, "records_per_second": 10 * loop},
            "consume_txn_produce": {"records": 1, "record_bytes": 600, "records_per_second": loop},
        },
        "phases": {"fixed": phase, "saturation": phase},
        "timers": {"error": "skipped"},
        "ratios": {"events_vs_consume_txn_produce": ratio(events, loop)},
    }


def test_targets_verdicts() -> None:
    met = {label: ok for label, ok, _ in targets(_report(p99=0.5, events=40.0, loop=100.0))}
    assert list(met.values()) == [True, True, True]
    missed = [ok for _, ok, _ in targets(_report(p99=1.5, events=20.0, loop=100.0, lost=1))]
    assert missed == [False, False, False]


def test_render_names_every_section() -> None:
    text = render(_report(p99=0.5, events=40.0, loop=100.0))
    for section in (
        "BASELINES",
        "PIPELINE",
        "TIMERS",
        "RATIOS",
        "CHECKS",
        "[PASS]",
        "course phase did not run",
    ):
        assert section in text


def test_cpu_per_event_counts_the_stack_but_not_the_harness_over_the_events_of_the_window() -> None:
    used = {"intake": 1.5, "kafka broker": 0.5, "smtp sink": 0.7, "load generator": 0.3}
    phase = {"events_per_second": 50.0, "window_seconds": 20.0, "cpu_seconds_in_window": used}
    assert cpu_ms_per_event(phase) == 2.0  # 2 CPU seconds over 1,000 events; the harness left out
    assert cpu_ms_per_event({"events_per_second": 0, "window_seconds": 20.0}) is None


def test_render_shows_the_cpu_comparison() -> None:
    report = _report(p99=0.5, events=40.0, loop=100.0)
    report["baselines"]["consume_txn_produce"]["cpu_ms_per_record"] = 1.25
    report["phases"]["saturation"] = {
        **report["phases"]["saturation"],
        "events_per_second": 50.0,
        "window_seconds": 20.0,
        "cpu_seconds_in_window": {"intake": 5.0},
    }
    report["ratios"]["cpu_per_record_vs_cpu_per_event"] = 0.25
    text = render(report)
    assert "1.25 ms" in text and "(1.25 ms ÷ 5.00 ms" in text and "25%" in text


def test_p99_by_window_finds_the_stall() -> None:
    steady = [(t / 10, 0.05) for t in range(0, 150)]  # 15 s of 50 ms, ten a second
    stall = [(10 + t / 10, 1.2) for t in range(0, 10)]  # second 10–11: 1.2 s
    windows = p99_by_window(steady + stall + [(-1.0, 9.0)], 5.0)  # before the window: left out
    assert len(windows) == 3
    assert windows[0] == windows[1] == pytest.approx(0.05)
    assert windows[2] == pytest.approx(1.2)
    assert p99_by_window([(12.0, 0.1)], 5.0) == [None, None, 0.1]  # empty windows stay visible
    with pytest.raises(ValueError):
        p99_by_window([], 0)


def test_render_shows_the_worst_window_and_how_many_passed_one_second() -> None:
    report = _report(p99=0.5, events=40.0, loop=100.0)
    report["phases"]["fixed"] = {
        **report["phases"]["fixed"],
        "ack_p99_by_window": {"window_seconds": 5.0, "p99_seconds": [0.1, 0.12, None, 1.08, 0.2]},
    }
    text = render(report)
    assert "ack p99 per 5-second window" in text
    [row] = [line for line in text.splitlines() if "1080 ms (+15 s)" in line]
    assert row.split()[-1] == "1"  # one window at or over a second
    assert "ack p99 per" not in render(_report(p99=0.5, events=40.0, loop=100.0))  # older JSON: no section


def test_the_loop_baseline_is_the_mean_of_its_runs_before_and_after_the_phases() -> None:
    report = _report(p99=0.5, events=40.0, loop=100.0)
    assert loop_baseline(report, "records_per_second") == 100.0  # a run from before the second baseline
    report["baselines_after"] = {
        "consume_txn_produce": {"records": 1, "record_bytes": 600, "records_per_second": 140.0}
    }
    assert loop_baseline(report, "records_per_second") == 120.0
    report["ratios"] = {
        "events_vs_consume_txn_produce": ratio(40.0, 120.0),
        "events_vs_consume_txn_produce_before": ratio(40.0, 100.0),
        "events_vs_consume_txn_produce_after": ratio(40.0, 140.0),
    }
    verdicts = {label: (ok, measured) for label, ok, measured in targets(report)}
    ok, measured = verdicts["throughput ≥ 30% of consume→txn→produce"]
    assert ok is True and "33%" in measured and "40% and 29% against each" in measured
    text = render(report)
    assert "produce, after the run" in text and "before / after: 40% / 29%" in text


def test_render_shows_the_vm_speed_at_each_phase_against_the_baselines() -> None:
    report = _report(p99=0.5, events=40.0, loop=100.0)
    assert "VM speed probe" not in render(report)  # older JSON: no probe
    report["speed_probe_ms"] = {"baselines": 30.0, "saturation": 39.0, "fixed": 33.0, "baselines_after": 30.0}
    [line] = [line for line in render(report).splitlines() if "VM speed probe" in line]
    assert "baselines 30, saturation 39 (+30 %), fixed 33 (+10 %), baselines_after 30" in line


def test_no_throughput_verdict_when_the_baselines_two_runs_disagree() -> None:
    """A stalled or drifting baseline run: the mean of the two decides nothing."""
    report = _report(p99=0.5, events=40.0, loop=50.0)  # the first run stalled at 50 records/s
    report["baselines_after"] = {
        "consume_txn_produce": {"records": 1, "record_bytes": 600, "records_per_second": 130.0}
    }
    report["ratios"] = {"events_vs_consume_txn_produce": ratio(40.0, 90.0)}
    verdicts = {label: (ok, measured) for label, ok, measured in targets(report)}
    ok, measured = verdicts["throughput ≥ 30% of consume→txn→produce"]
    assert ok is None and "differ 2.6×: no verdict" in measured
    report["baselines_after"]["consume_txn_produce"]["records_per_second"] = 60.0  # within the spread
    ok, _ = {label: (ok, m) for label, ok, m in targets(report)}["throughput ≥ 30% of consume→txn→produce"]
    assert ok is True
