"""A real SMTP server that stamps each accepted message, run in its own process.

The sink runs apart from the load generator so that neither steals the other's event loop (or GIL):
it appends ``<monotonic seconds>\\t<recipient>\\t<subject>`` to a file the moment it answers 250, and
the benchmark tails that file. ``time.monotonic()`` is CLOCK_MONOTONIC, one clock for every process
on the machine, so the sink's stamps and the load generator's 202 stamps compare directly.

Its SMTP is its own (``SinkSession``, an ``asyncio.Protocol``) rather than aiosmtpd's, because the
sink shares the two cores with what it measures, and in production the relay is another machine:
aiosmtpd took 0.34–0.40 ms of CPU per message here (a coroutine, a stream read and a drained write
per command line), a protocol that parses the bytes it is handed and answers with one write
0.06–0.08 ms (twelfth round; docs/benchmarks.md). It speaks what a relay speaks to the services'
client (aiosmtplib, unchanged): the greeting, EHLO/HELO with the extensions aiosmtpd advertised
here (SIZE, 8BITMIME; not HELP), MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT, and 5xx
replies to commands out of order or unknown; commands sent ahead (pipelined) are answered in order.
Like ``katflow_tools.smtp_sink`` (aiosmtpd, whose semantics are untouched and which the tests use),
but it keeps only what a benchmark needs: no message is parsed beyond its Subject and nothing is
written per message but one line.
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
from typing import IO, cast

import uvloop

REPO = Path(__file__).resolve().parents[1]


HOSTNAME = "127.0.0.1"
MAX_SIZE = 33_554_432  # what aiosmtpd advertised
MAX_LINE = 4096  # a command line longer than this is refused (RFC 5321 asks for 512 at least)
GREETING = f"220 {HOSTNAME} katflow bench sink ESMTP\r\n".encode()
EHLO = f"250-{HOSTNAME}\r\n250-SIZE {MAX_SIZE}\r\n250 8BITMIME\r\n".encode()
OK = b"250 OK\r\n"
END_OF_DATA = b"\r\n.\r\n"


class SinkSession(asyncio.Protocol):
    """One SMTP session: parses what arrives, answers every complete command (all of a pipelined
    batch in one write), and stamps a message to ``out`` the moment it answers its DATA with 250."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.greeted = False
        self.mail_from: bytes | None = None
        self.rcpt_tos: list[str] = []
        self.in_data = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(GREETING)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies: list[bytes] = []
        closing = False
        while not closing:
            if self.in_data:
                reply = self._message()
                if reply is None:
                    break
            else:
                end = self.buffer.find(b"\n")
                if end < 0:
                    if len(self.buffer) > MAX_LINE:
                        del self.buffer[:]
                        replies.append(b"500 Line too long\r\n")
                    break
                line = bytes(self.buffer[:end]).rstrip(b"\r")
                del self.buffer[: end + 1]
                reply, closing = self._command(line)
            replies.append(reply)
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))
        if closing and self.transport is not None:
            self.transport.close()

    def _command(self, line: bytes) -> tuple[bytes, bool]:
        """The reply to one command line, and whether the session ends after it."""
        verb, _, arg = line.partition(b" ")
        verb = verb.upper()
        if len(line) > MAX_LINE:
            return b"500 Line too long\r\n", False
        if verb == b"EHLO" or verb == b"HELO":
            if not arg.strip():
                return b"501 Syntax: " + verb + b" hostname\r\n", False
            self.greeted = True
            self._reset()
            return (EHLO if verb == b"EHLO" else f"250 {HOSTNAME}\r\n".encode()), False
        if verb == b"MAIL":
            if not self.greeted:
                return b"503 Error: send HELO first\r\n", False
            if self.mail_from is not None:
                return b"503 Error: nested MAIL command\r\n", False
            if not arg.upper().startswith(b"FROM:"):
                return b"501 Syntax: MAIL FROM: <address>\r\n", False
            path, _, params = arg[5:].strip().partition(b" ")
            for param in params.split():
                name, _, value = param.partition(b"=")
                if name.upper() == b"SIZE" and (not value.isdigit() or int(value) > MAX_SIZE):
                    return b"552 Error: message size exceeds fixed maximum message size\r\n", False
            self.mail_from = path
            return OK, False
        if verb == b"RCPT":
            if self.mail_from is None:
                return b"503 Error: need MAIL command\r\n", False
            if not arg.upper().startswith(b"TO:"):
                return b"501 Syntax: RCPT TO: <address>\r\n", False
            path = arg[3:].strip().partition(b" ")[0]
            self.rcpt_tos.append(path.strip(b"<>").decode("utf-8", "replace"))
            return OK, False
        if verb == b"DATA":
            if not self.rcpt_tos:
                return b"503 Error: need RCPT command\r\n", False
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n", False
        if verb == b"RSET":
            self._reset()
            return OK, False
        if verb == b"NOOP":
            return OK, False
        if verb == b"QUIT":
            return b"221 Bye\r\n", True
        return b'500 Error: command "' + verb[:32] + b'" not recognized\r\n', False

    def _message(self) -> bytes | None:
        """The reply to the message being received once its end arrived (None until then)."""
        if self.buffer.startswith(b".\r\n"):  # an empty message
            raw, rest = b"", 3
        else:
            end = self.buffer.find(END_OF_DATA)
            if end < 0:
                if len(self.buffer) > MAX_SIZE + MAX_LINE:
                    self._reset()
                    del self.buffer[:]
                    return b"552 Error: message too large\r\n"
                return None
            raw, rest = bytes(self.buffer[: end + 2]), end + len(END_OF_DATA)
        del self.buffer[:rest]
        raw = raw.replace(b"\r\n..", b"\r\n.")
        if raw.startswith(b".."):
            raw = raw[1:]
        subject = _clean(subject_of(raw))
        stamp = time.monotonic()
        for rcpt in self.rcpt_tos:
            self.out.write(f"{stamp:.6f}\t{_clean(rcpt)}\t{subject}\n")
        self.out.flush()
        self._reset()
        return b"250 Message accepted for delivery\r\n"

    def _reset(self) -> None:
        self.mail_from, self.rcpt_tos, self.in_data = None, [], False


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
        uvloop.run(serve(out, args.port))


async def serve(out: IO[str], port: int, stop: asyncio.Event | None = None) -> None:
    """The SMTP server on this process's event loop until SIGTERM or SIGINT (or ``stop``)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkSession(out), HOSTNAME, port)
    if stop is None:
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
