"""The deliveries gauge Prometheus scrapes (/metrics): deliveries by channel and status."""

from __future__ import annotations

import asyncpg
from prometheus_client import Gauge

DELIVERIES_BY_STATUS = Gauge("katflow_deliveries", "Deliveries by channel and status", ["channel", "status"])


async def refresh_delivery_gauges(pool: asyncpg.Pool) -> None:
    """Scrape hook for /metrics: deliveries by channel and status."""
    for row in await pool.fetch("SELECT channel, status, count(*) AS n FROM deliveries GROUP BY 1, 2"):
        DELIVERIES_BY_STATUS.labels(row["channel"], row["status"]).set(row["n"])
