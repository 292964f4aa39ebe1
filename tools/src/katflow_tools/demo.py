"""``katflow demo``: one consultation request through the running stack, printed as a timeline."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from katflow_shared.contracts import topics
from katflow_shared.messaging.cloudevents import header_map
from katflow_shared.roles import DEV_API_KEY

from .stack import StackConfig
from .topic_reader import Records, read_topics

REQUEST: dict[str, Any] = {
    "patient": {
        "given_name": "Demo",
        "family_name": "Patient",
        "date_of_birth": "1985-04-12",
        "email": "demo.patient@example.org",
        "time_zone": "America/Chicago",
    },
    "consent": {"email": True, "sms": False},
    "indication": "persistent low mood",
    "preferred_route": "iv",
}


async def course_events(
    cfg: StackConfig, course_id: str, want: int, wait: float = 20
) -> list[dict[str, str]]:
    def mine(records: Records) -> Records:
        return [r for r in records if r.key and r.key.decode() == course_id]

    names = [cfg.topic_prefix + topics.INTAKE, cfg.topic_prefix + topics.SCHEDULING]
    records = await read_topics(
        cfg.kafka_bootstrap, names, lambda rs: len(mine(rs)) >= want, wait, "katflow-demo"
    )
    return [{"topic": r.topic, **header_map(r.headers)} for r in mine(records)]


async def run_demo(cfg: StackConfig) -> int:
    headers = {"Authorization": f"Bearer {DEV_API_KEY}"}  # the stack's development key
    async with httpx.AsyncClient(timeout=10, headers=headers) as http:
        started = time.monotonic()
        resp = await http.post(f"{cfg.url('intake')}/v1/consultation-requests", json=REQUEST)
        print(f"POST /v1/consultation-requests -> {resp.status_code} {resp.json()}")
        resp.raise_for_status()
        course_id = resp.json()["course_id"]
        deliveries: list[dict[str, Any]] = []
        appointments: list[dict[str, Any]] = []
        while time.monotonic() - started < 30:
            appointments = (
                await http.get(f"{cfg.url('scheduling')}/v1/courses/{course_id}/appointments")
            ).json()
            deliveries = (
                await http.get(f"{cfg.url('notifications')}/v1/courses/{course_id}/deliveries")
            ).json()
            if appointments and len([d for d in deliveries if d["status"] == "sent"]) >= 3:
                break
            await asyncio.sleep(0.3)
    print("\nevents on Kafka (key = course id):")
    for e in sorted(await course_events(cfg, course_id, want=2), key=lambda e: e["ce_time"]):
        print(f"  {e['ce_time']}  {e['topic']:28} {e['ce_type']}")
    print("\nappointments:")
    for a in appointments:
        print(f"  {a['kind']:13} {a['starts_at']} with {a['clinician_id']} ({a['status']})")
    print("\nmessages:")
    for d in deliveries:
        template = f"{d['template_id']} v{d['template_version']}"
        print(f"  {d['audience']:8} {d['channel']:6} {template:30} {d['status']}")
    print(f"\ndone in {time.monotonic() - started:.1f}s; emails are in {cfg.run_dir / 'mail'}")
    return 0 if appointments and deliveries else 1
