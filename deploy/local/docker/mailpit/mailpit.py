#!/usr/bin/python3
"""A stand-in for Mailpit where its image can't be pulled (see Dockerfile).

`mailpit` serves SMTP on :1025 and the HTTP API on :8025; `mailpit readyz` exits 0 when that API
answers. Messages live in memory, newest first, as Mailpit lists them.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import signal
import sys
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SMTP_PORT, HTTP_PORT = 1025, 8025
MESSAGES: list[dict[str, Any]] = []
LOCK = threading.Lock()


def _address(value: str) -> dict[str, str]:
    name, addr = email.utils.parseaddr(value)
    return {"Name": name, "Address": addr}


class Handler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw: bytes = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        item = {
            "ID": uuid.uuid4().hex,
            "MessageID": str(msg.get("Message-ID", "")).strip("<>"),
            "From": _address(envelope.mail_from),
            "To": [_address(r) for r in envelope.rcpt_tos],
            "Subject": str(msg.get("Subject", "")),
            "Created": datetime.now(UTC).isoformat(),
            "Snippet": " ".join(text.split())[:250],
            "Text": text,
        }
        with LOCK:
            MESSAGES.insert(0, item)
        print(f"received {item['MessageID']} for {envelope.rcpt_tos}", flush=True)
        return "250 Message accepted for delivery"


class Api(BaseHTTPRequestHandler):
    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        with LOCK:
            messages = list(MESSAGES)
        if path == "/readyz":
            self._send(200, {"status": "ok"})
        elif path == "/api/v1/messages":
            listed = [{k: v for k, v in m.items() if k != "Text"} for m in messages]
            self._send(200, {"total": len(listed), "messages_count": len(listed), "messages": listed})
        elif path.startswith("/api/v1/message/"):
            found = [m for m in messages if m["ID"] == path.rsplit("/", 1)[1]]
            self._send(200, found[0]) if found else self._send(404, {"error": "not found"})
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def serve() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def accept_any(*_: Any) -> AuthResult:
        return AuthResult(success=True)

    smtp = Controller(
        Handler(),
        hostname="0.0.0.0",
        port=SMTP_PORT,
        server_hostname="mailpit",
        authenticator=accept_any,
        auth_require_tls=False,
    )
    smtp.start()
    print(f"SMTP on :{SMTP_PORT}, HTTP API on :{HTTP_PORT}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), Api).serve_forever()


def _stop(signum: int, frame: Any) -> None:
    sys.exit(0)  # as PID 1 a signal without a handler is ignored: `docker stop` would wait it out


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    if sys.argv[1:] == ["readyz"]:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/readyz", timeout=2)
        except OSError:
            sys.exit(1)
    else:
        serve()
