"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives: for local runs and tests."""

from __future__ import annotations

import email
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_to: tuple[str, ...]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class _Handler:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw: bytes = envelope.original_content or envelope.content
        item = Received(
            envelope.mail_from, tuple(envelope.rcpt_tos), email.message_from_bytes(raw, policy=default)
        )
        with self.lock:
            self.received.append(item)
            count = len(self.received)
        if self.folder is not None:  # named by time, process and sequence: a restart overwrites nothing
            path = self.folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{os.getpid()}-{count:06d}.eml"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(raw)
            tmp.rename(path)
        return "250 Message accepted for delivery"


class SmtpSink:
    """Start with ``start()``; ``messages()`` returns everything received so far."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, folder: Path | None = None) -> None:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self.handler = _Handler(folder)
        self.controller = Controller(self.handler, hostname=host, port=port or _free_port())

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)


def read_folder(folder: Path) -> list[Message]:
    """The messages kept in ``folder``, oldest first (by name: time, then sequence)."""
    return [email.message_from_bytes(p.read_bytes(), policy=default) for p in sorted(folder.glob("*.eml"))]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
