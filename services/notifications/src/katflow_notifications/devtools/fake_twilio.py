"""A local server that speaks Twilio's Messages API, for tests and ``make up`` (no account, no network).

    fake = FakeTwilio(account_sid, auth_token).start()
    ... KATFLOW_SMS_PROVIDER=twilio KATFLOW_TWILIO_API_BASE_URL=fake.url ...
    fake.texts_to("+15551230000")                 # what was "sent"
    fake.send_status(sid, "delivered")            # a signed status callback, as Twilio sends it
    fake.send_inbound(url, "+15551230000", "STOP") # a signed inbound text

It answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (HTTP basic auth with the
account SID and auth token, form-encoded To/From/Body/StatusCallback) with a message resource as
Twilio's JSON, and refuses what Twilio refuses: wrong credentials (401, code 20003), a ``To`` that is
not E.164 (400, code 21211), a recipient who texted STOP (400, code 21610). Answers can be scripted
(``script(429, 500)``). Callbacks are form-encoded and signed with ``X-Twilio-Signature`` computed
by the official library's ``RequestValidator``, with an ``I-Twilio-Idempotency-Token``. With
``auto_callbacks`` every accepted text is reported ``sent`` then ``delivered`` to its StatusCallback.

Run alone: ``python -m katflow_notifications.devtools.fake_twilio --port 8090``.
"""

from __future__ import annotations

import argparse
import base64
import re
import threading
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from .loopback import LoopbackServer

DEV_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEV_AUTH_TOKEN = "dev-twilio-auth-token-not-secret"
MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "YES", "UNSTOP"}


@dataclass
class Message:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    statuses: list[str] = field(default_factory=lambda: ["queued"])


@dataclass(frozen=True)
class Callback:
    url: str
    params: dict[str, str]
    status: int  # what katflow answered
    answer: str
    headers: dict[str, str]  # of the answer (lower-case names)


class FakeTwilio(LoopbackServer):
    def __init__(
        self,
        account_sid: str = DEV_ACCOUNT_SID,
        auth_token: str = DEV_AUTH_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        auto_callbacks: bool = False,
        log_texts: bool = False,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.auto_callbacks = auto_callbacks
        self.log_texts = log_texts  # print each accepted text (development: the local stack's log)
        self.validator = RequestValidator(auth_token)
        self.messages: dict[str, Message] = {}
        self.callbacks: list[Callback] = []
        self.opted_out: set[str] = set()  # numbers that texted STOP (Twilio blocks them: 21610)
        self.requests = 0
        self._script: deque[int] = deque()
        self._lock = threading.Lock()
        super().__init__(host, port)

    def script(self, *statuses: int) -> None:
        """Answer the next message creations with these HTTP statuses (then as Twilio would)."""
        with self._lock:
            self._script.extend(statuses)

    def texts(self) -> list[Message]:
        with self._lock:
            return list(self.messages.values())

    def texts_to(self, phone: str) -> list[str]:
        return [m.body for m in self.texts() if m.to == phone]

    # --- callbacks, signed as Twilio signs them ------------------------------------------------
    def post_signed(
        self,
        url: str,
        params: dict[str, str],
        token: str | None = None,
        idempotency_token: str | None = None,
    ) -> Callback:
        """POST ``params`` form-encoded to ``url`` with X-Twilio-Signature (over ``url``, as given;
        ``token`` signs with another auth token, as a forger would)."""
        signature = RequestValidator(token or self.auth_token).compute_signature(url, params)
        request = urllib.request.Request(
            url,
            data=urlencode(params).encode(),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
                "I-Twilio-Idempotency-Token": idempotency_token or str(uuid.uuid4()),
                "User-Agent": "TwilioProxy/1.1",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http(s) URLs we were given
                answer = response.read().decode()
                callback = Callback(url, params, response.status, answer, _lower(response.headers))
        except urllib.error.HTTPError as exc:
            callback = Callback(url, params, exc.code, exc.read().decode(), _lower(exc.headers))
        with self._lock:
            self.callbacks.append(callback)
        return callback

    def send_status(
        self, sid: str, status: str, error_code: str | None = None, idempotency_token: str | None = None
    ) -> Callback:
        """A status callback for message ``sid`` to the StatusCallback it was created with."""
        with self._lock:
            message = self.messages[sid]
            message.statuses.append(status)
        assert message.status_callback, "the message was created without a StatusCallback"
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.from_,
            "To": message.to,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
        }
        if error_code:
            params["ErrorCode"] = error_code
        return self.post_signed(message.status_callback, params, idempotency_token=idempotency_token)

    def send_inbound(self, url: str, from_: str, body: str, to: str = "+15550100000") -> Callback:
        """A text from ``from_`` to the inbound webhook ``url``; STOP/START change what Twilio lets
        through to that number afterwards, as Twilio's default opt-out handling does."""
        word = body.strip().upper()
        with self._lock:
            if word in STOP_WORDS:
                self.opted_out.add(from_)
            elif word in START_WORDS:
                self.opted_out.discard(from_)
        sid = "SM" + uuid.uuid4().hex
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "SmsStatus": "received",
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
        }
        if word in STOP_WORDS | START_WORDS | {"HELP", "INFO"}:
            params["OptOutType"] = {"HELP": "HELP", "INFO": "HELP"}.get(
                word, "STOP" if word in STOP_WORDS else "START"
            )
        return self.post_signed(url, params)

    # --- the Messages API ----------------------------------------------------------------------
    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        match = MESSAGES.match(path)
        if match is None:
            return 404, _error(20404, "The requested resource was not found", 404)
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        return self._create(match[1], headers.get("authorization"), form)

    def _create(self, account: str, auth: str | None, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if account != self.account_sid or auth != expected:
            return 401, _error(20003, "Authenticate", 401)
        with self._lock:
            self.requests += 1
            if self._script:
                status = self._script.popleft()
                return status, _error({429: 20429, 400: 21211}.get(status, 20500), "Scripted failure", status)
            to = form.get("To", "")
            if not E164.fullmatch(to):
                return 400, _error(21211, f"The 'To' number {to} is not a valid phone number.", 400)
            if to in self.opted_out:
                return 400, _error(21610, "Attempt to send to unsubscribed recipient", 400)
            if not form.get("Body"):
                return 400, _error(21602, "Message body is required.", 400)
            message = Message(
                "SM" + uuid.uuid4().hex, to, form.get("From", ""), form["Body"], form.get("StatusCallback")
            )
            self.messages[message.sid] = message
        if self.log_texts:
            print(f"{message.sid} to {message.to} from {message.from_}: {message.body}", flush=True)
        if self.auto_callbacks and message.status_callback:
            threading.Thread(target=self._report, args=(message.sid,), daemon=True).start()
        return 201, self._resource(message)

    def _report(self, sid: str) -> None:
        for status in ("sent", "delivered"):
            try:
                self.send_status(sid, status)
            except OSError:
                return

    def _resource(self, message: Message) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": message.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message.sid,
            "status": "queued",
            "subresource_uris": {},
            "to": message.to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}.json",
        }


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--account-sid", default=DEV_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEV_AUTH_TOKEN)
    parser.add_argument("--log-texts", action="store_true", help="print every text accepted")
    args = parser.parse_args()
    fake = FakeTwilio(
        args.account_sid, args.auth_token, args.host, args.port, auto_callbacks=True, log_texts=args.log_texts
    ).start()
    print(f"fake Twilio on {fake.url} (account {args.account_sid}); texts are reported delivered", flush=True)
    try:
        fake._thread.join()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
