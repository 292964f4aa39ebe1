"""Prometheus metrics of the messaging backbone."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HANDLER_SECONDS = Histogram("katflow_handler_seconds", "Event handler latency", ["group"])
RETRIES = Counter("katflow_handler_retries_total", "Handler retries", ["group", "kind"])
DUPLICATES = Counter("katflow_duplicates_skipped_total", "Redelivered events skipped", ["group"])
DEAD_LETTERS = Counter("katflow_dead_letters_total", "Messages dead-lettered", ["group", "error"])
OUTBOX_PUBLISHED = Counter("katflow_outbox_published_total", "Outbox rows published")
OUTBOX_BACKLOG = Gauge("katflow_outbox_backlog", "Unpublished outbox rows")
OUTBOX_OLDEST_AGE = Gauge("katflow_outbox_oldest_age_seconds", "Age of the oldest unpublished row")
CONSUMER_LAG = Gauge(
    "katflow_consumer_lag", "Records not yet handled per partition", ["group", "topic", "partition"]
)
HTTP_REQUESTS = Counter("katflow_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_SECONDS = Histogram("katflow_http_request_seconds", "HTTP request latency", ["method", "route"])
