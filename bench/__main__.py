"""``python -m bench --profile short``: benchmark katflow on real Kafka and PostgreSQL.

Infrastructure comes from KATFLOW_KAFKA_BOOTSTRAP and KATFLOW_PG_ADMIN_DSN (what
``deploy/local/infra.sh env`` exports; `make bench` sets them), or --kafka / --pg-admin-dsn.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from katflow_tools.databases import admin_dsn

from .profiles import PROFILES
from .report import render
from .runner import run

PARTS = frozenset({"baselines", "courses", "fixed", "saturation", "scale-out"})
REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="short")
    parser.add_argument("--kafka", default=os.environ.get("KATFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument(
        "--pg-admin-dsn",
        default=admin_dsn(),
    )
    parser.add_argument("--run-dir", type=Path, default=REPO / ".run" / "bench")
    parser.add_argument("--json", type=Path, help="where to write the JSON (default: under --run-dir)")
    parser.add_argument("--py-spy", action="store_true", help="sample the services with py-spy at saturation")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to leave out: baselines, courses, fixed, saturation, scale-out",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and databases")
    parser.add_argument(
        "--in-flight", type=int, help="saturation: requests kept open (default: the profile's)"
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for every service process (repeatable), e.g. KATFLOW_CONSUMER_FETCH_WAIT_MS=100",
    )
    parser.add_argument("--render", type=Path, help="print the table of an earlier run's JSON and exit")
    args = parser.parse_args(argv)
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return 0
    profile = PROFILES[args.profile]
    if args.in_flight is not None:
        if args.in_flight < 1:
            parser.error("--in-flight must be at least 1")
        profile = replace(profile, in_flight=args.in_flight)
    skip = frozenset(s.strip() for s in args.skip.split(",") if s.strip())
    if unknown := skip - PARTS:
        parser.error(f"unknown part(s) to skip: {', '.join(sorted(unknown))}")
    service_env: dict[str, str] = {}
    for item in args.service_env:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("KATFLOW_"):
            parser.error(f"--service-env wants KATFLOW_NAME=VALUE, got {item!r}")
        service_env[name] = value
    report = uvloop.run(
        run(profile, args.kafka, args.pg_admin_dsn, args.run_dir, args.py_spy, args.keep, skip, service_env)
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.json or args.run_dir / f"{profile.name}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print()
    print(render(report))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
