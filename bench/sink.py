"""A real SMTP server (aiosmtpd) that stamps each accepted message, run in its own process.

The sink runs apart from the load generator so that neither steals the other's event loop (or GIL):
it appends ``<monotonic seconds>\\t<recipient>\\t<subject>`` to a file the moment it answers 250, and
the benchmark tails that file. ``time.monotonic()`` is CLOCK_MONOTONIC, one clock for every process
on the machine, so the sink's stamps and the load generator's 202 stamps compare directly.

Like ``katflow_tools.smtp_sink`` (whose semantics are untouched) but keeps only what a benchmark
needs: no message bodies are parsed beyond their headers and nothing is written per message but
one line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from email.header import decode_header, make_header
from pathlib import Path
from typing import IO, Any

import uvloop
from aiosmtpd.smtp import SMTP

REPO = Path(__file__).resolve().parents[1]


class StampingHandler:
    """aiosmtpd handler: one line per accepted message, stamped when the server accepts it."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw: bytes = envelope.original_content or envelope.content
        subject = subject_of(raw)
        stamp = time.monotonic()
        for rcpt in envelope.rcpt_tos:
            self.out.write(f"{stamp:.6f}\t{_clean(rcpt)}\t{_clean(subject)}\n")
        self.out.flush()
        return "250 Message accepted for delivery"


def subject_of(raw: bytes) -> str:
    """The Subject header of a message, unfolded and decoded (RFC 2047), without parsing the rest:
    the sink shares the CPUs with what it measures."""
    head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    lines = head.split(b"\n")
    for i, line in enumerate(lines):
        if line[:8].lower() == b"subject:":
            value = line[8:]
            for more in lines[i + 1 :]:
                if not more[:1].isspace():
                    break
                value += more
            text = value.decode("utf-8", "replace").strip()
            return str(make_header(decode_header(text))) if "=?" in text else text
    return ""


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


@dataclass(frozen=True)
class Mail:
    at: float  # time.monotonic() when the server accepted it
    rcpt: str
    subject: str


class SinkReader:
    """Reads the lines the sink process appended since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[Mail]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        mails = []
        for line in lines:
            at, rcpt, subject = line.decode().split("\t", 2)
            mails.append(Mail(float(at), rcpt, subject))
        return mails


class SinkProcess:
    """Starts ``python -m bench.sink`` on a port; stamps go to ``out``."""

    def __init__(self, port: int, out: Path) -> None:
        self.port, self.out = port, out
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_bytes(b"")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sink", "--port", str(self.port), "--out", str(self.out)],
            cwd=REPO,
            start_new_session=True,
        )
        return self

    async def wait_ready(self, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"SMTP sink exited with {self.proc.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise TimeoutError("SMTP sink did not start")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark SMTP sink: stamps accepted messages.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with args.out.open("a", buffering=1) as out:
        uvloop.run(_serve(StampingHandler(out), args.port))


async def _serve(handler: StampingHandler, port: int) -> None:
    """The SMTP server on this process's own event loop (aiosmtpd's Controller would run it in a
    second thread, and every message would cross between the two)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="127.0.0.1"), "127.0.0.1", port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()


if __name__ == "__main__":
    main()
