"""Consumer lag, read off each service's /metrics (what Prometheus scrapes)."""

from __future__ import annotations

import httpx

LAG = "katflow_consumer_lag{"


async def consumer_lag(url: str) -> dict[str, float] | None:
    """Records not yet handled, summed per consumer group; None when the service does not answer."""
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(f"{url}/metrics")).text
    except httpx.HTTPError:
        return None
    lag: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(LAG):
            labels, value = line[len(LAG) :].rsplit("} ", 1)
            group = dict(p.split("=", 1) for p in labels.split(",") if "=" in p).get("group", '""').strip('"')
            lag[group] = lag.get(group, 0.0) + float(value)
    return lag
