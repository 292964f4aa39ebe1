"""A minimal HTTP/1.1 keep-alive client for the load generator's JSON POSTs.

The load generator shares the two cores with the system it measures, so what it spends per request
is taken from the pipeline. httpx cost ~5 ms of CPU per request here; this client writes the request
bytes and reads the status line, headers and a Content-Length body, nothing more.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

IDLE_SECONDS = 4.0  # reuse an idle connection only this long (uvicorn's keep-alive timeout is 5 s)


class TransportError(Exception):
    """The connection failed or closed before a whole response arrived (safe to retry with the
    same Idempotency-Key)."""


class Http1Pool:
    """Up to ``size`` keep-alive connections to one ``host:port``."""

    def __init__(self, host: str, port: int, size: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._slots = asyncio.Semaphore(size)

    async def post_json(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        """POST ``body`` as JSON; (status, decoded JSON body or None)."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{head}\r\n"
        ).encode() + payload
        async with self._slots:
            while True:
                reused, reader, writer = await self._connection()
                try:
                    writer.write(request)
                    status, keep, data = await asyncio.wait_for(_response(reader), self.timeout)
                    break
                except asyncio.IncompleteReadError as exc:
                    writer.close()
                    if reused and not exc.partial:
                        continue  # the server had closed the idle connection: a fresh one
                    raise TransportError(type(exc).__name__) from exc
                except (OSError, EOFError, TimeoutError, ValueError) as exc:
                    writer.close()
                    raise TransportError(type(exc).__name__) from exc
            if keep:
                self._idle.append((reader, writer, time.monotonic()))
            else:
                writer.close()
        return status, (json.loads(data) if data else None)

    async def _connection(self) -> tuple[bool, asyncio.StreamReader, asyncio.StreamWriter]:
        """(reused, reader, writer): an idle connection the server has not timed out yet (uvicorn
        closes one after 5 s), else a new one."""
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < IDLE_SECONDS:
                return True, reader, writer
            writer.close()
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise TransportError(type(exc).__name__) from exc
        return False, reader, writer

    async def close(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """(status, whether the connection stays open, body) of one response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" not in fields:
        raise ValueError("response without Content-Length")
    body = await reader.readexactly(int(fields["content-length"]))
    return status, fields.get("connection", "").lower() != "close", body
