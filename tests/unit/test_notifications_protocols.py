"""Inbound keywords, webhook signatures, backoff and provider status transitions (pure)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from katflow_notifications.domain import status as st_
from katflow_notifications.domain.backoff import retry_delay
from katflow_notifications.domain.keywords import Keyword, classify
from katflow_notifications.domain.signing import SignatureError, sign, signed_headers, verify

SECRET = "whsec_" + base64.b64encode(b"unit-test-secret").decode()
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", " Stop! ", "QUIT", "END", "REVOKE", "OPT OUT", "opt-out", "CANCEL", "UNSUBSCRIBE"],
)
def test_opt_out_words(text: str) -> None:
    assert classify(text) == Keyword.OPT_OUT


def test_opt_in_help_and_other() -> None:
    assert classify("start") == Keyword.OPT_IN
    assert classify("Help") == Keyword.HELP
    assert classify("please stop calling after 5") == Keyword.OTHER
    assert classify("") == Keyword.OTHER


def test_standard_webhooks_known_vector() -> None:
    # Example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_verify_accepts_fresh_signed_requests() -> None:
    body = b'{"status": "delivered"}'
    headers = signed_headers(SECRET, "wh_1", int(NOW.timestamp()), body)
    assert verify(SECRET, headers, body, NOW, TOLERANCE) == "wh_1"
    rotated = {**headers, "webhook-signature": "v1,bm90LWl0 " + headers["webhook-signature"]}
    assert verify(SECRET, rotated, body, NOW, TOLERANCE) == "wh_1"


@pytest.mark.parametrize("case", ["tampered", "stale", "future", "wrong-secret", "missing", "bad-stamp"])
def test_verify_rejects(case: str) -> None:
    body = b'{"status": "delivered"}'
    stamp = int(NOW.timestamp())
    headers = signed_headers(SECRET, "wh_1", stamp, body)
    if case == "tampered":
        body = b'{"status": "failed"}'
    elif case == "stale":
        headers = signed_headers(SECRET, "wh_1", stamp - 301, body)
    elif case == "future":
        headers = signed_headers(SECRET, "wh_1", stamp + 301, body)
    elif case == "wrong-secret":
        headers = signed_headers("whsec_" + base64.b64encode(b"other").decode(), "wh_1", stamp, body)
    elif case == "missing":
        headers.pop("webhook-signature")
    else:
        headers["webhook-timestamp"] = "yesterday"
    with pytest.raises(SignatureError):
        verify(SECRET, headers, body, NOW, TOLERANCE)


@given(st.integers(1, 40), st.floats(0.1, 10), st.floats(1, 600), st.none() | st.floats(0, 10_000))
def test_backoff_grows_and_is_capped(
    attempt: int, base: float, cap: float, retry_after: float | None
) -> None:
    delay = retry_delay(attempt, base, cap, retry_after)
    assert 0 <= delay <= cap
    assert delay >= min(cap, retry_delay(max(1, attempt - 1), base, cap))
    if retry_after is not None:
        assert delay >= min(cap, retry_after)


def test_backoff_sequence() -> None:
    assert [retry_delay(a, 2, 300) for a in range(1, 11)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_callbacks_move_forward_only() -> None:
    assert st_.callback_transition("sent", "delivered") == st_.DELIVERED
    assert st_.callback_transition("sending", "delivered") == st_.DELIVERED  # overtook our own mark
    assert st_.callback_transition("sent", "undelivered") == st_.FAILED
    assert st_.callback_transition("delivered", "failed") is None
    assert st_.callback_transition("failed", "delivered") is None
    assert st_.callback_transition("sent", "sent") is None
    assert st_.callback_transition("queued", "delivered") is None
    assert st_.callback_transition("sent", "weird") is None
