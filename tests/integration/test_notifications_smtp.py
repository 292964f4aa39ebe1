"""The email channel against a real SMTP server (aiosmtpd) that counts connections and can refuse or
drop them: sessions are reused, bounded, reset after a refused transaction and replaced when the
server dropped them, without losing or doubling a message. Plus the dispatcher waking on a queued
delivery (LISTEN/NOTIFY) rather than waiting for its poll."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import replace
from email import message_from_bytes
from email.message import Message
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from katflow_notifications.adapters import postgres_queue as deliveries
from katflow_notifications.adapters.smtp_email import SmtpEmail
from katflow_notifications.domain.templates import Rendered
from katflow_notifications.ports import ChannelPermanent, ChannelTransient, Outbound
from katflow_notifications.settings import NotificationsSettings
from katflow_shared.wakeup import Announcer
from tests.integration.test_notifications_delivery import EMAIL, make_harness
from tests.support.infra import Infra
from tests.support.stack import free_port


class CountingServer:
    """An SMTP server recording every session (by client port), greeting, reset and message."""

    def __init__(self, smtputf8: bool = False) -> None:
        self.lock = threading.Lock()
        self.ehlo_names: list[str] = []
        self.peers: set[tuple[str, int]] = set()
        self.messages: list[tuple[tuple[str, int], str, tuple[str, ...], Message]] = []
        self.resets = 0
        self.quits = 0
        self.refuse: dict[str, str] = {}  # recipient → reply
        self.rcpt_options: list[list[str]] = []  # ESMTP parameters each RCPT carried
        self.close_at_next_mail = 0  # sessions to end with 421 at MAIL (an idle timeout)
        self.servers: list[Any] = []
        self.controller = controller(self, smtputf8)

    def start(self) -> CountingServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def drop_all(self) -> None:
        """The server closes every open session (as on an idle timeout or a restart)."""
        with self.lock:
            servers = list(self.servers)
        done = threading.Event()

        def close() -> None:
            for server in servers:
                if server.transport is not None:
                    server.transport.close()
            done.set()

        self.controller.loop.call_soon_threadsafe(close)
        assert done.wait(5)

    # --- aiosmtpd hooks
    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:  # noqa: N802 E501
        session.host_name = hostname  # what aiosmtpd does when there is no hook
        with self.lock:
            self.ehlo_names.append(hostname)
            self.peers.add(session.peer)
            self.servers.append(server)
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:  # noqa: N802 E501
        with self.lock:
            closing = self.close_at_next_mail > 0
            self.close_at_next_mail -= int(closing)
        if closing:
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.4.2 idle too long, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:  # noqa: N802 E501
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        with self.lock:
            self.rcpt_options.append(list(options))
        return "250 OK"

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.resets += 1
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.quits += 1
        return "221 Bye"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.messages.append((session.peer, envelope.mail_from, tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def received(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for _, _, _, m in self.messages]

    def connections(self) -> int:
        with self.lock:
            return len(self.peers)


def controller(handler: CountingServer, smtputf8: bool = False) -> Controller:
    return Controller(
        handler, hostname="127.0.0.1", port=free_port(), server_hostname="smtp.test", enable_SMTPUTF8=smtputf8
    )


@pytest.fixture
def server() -> Any:
    s = CountingServer().start()
    yield s
    s.stop()


def channel(server: CountingServer, **settings: Any) -> SmtpEmail:
    defaults: dict[str, Any] = {"smtp_local_hostname": "notifications.katflow.test"}
    return SmtpEmail(
        NotificationsSettings(environment="test", smtp_port=server.port, **{**defaults, **settings})
    )


def email(to: str = "pat@example.org", subject: str = "We received your request") -> Outbound:
    return Outbound(uuid.uuid4(), to, Rendered(subject, "Hello Ana,\n\nWe have your request.\n"))


async def test_one_session_carries_many_emails_each_its_own_transaction(server: CountingServer) -> None:
    smtp = channel(server)
    sent = [email(f"p{i}@example.org") for i in range(5)]
    receipts = [await smtp.send(m) for m in sent]
    assert [r.provider_id for r in receipts] == [f"<{m.delivery_id}@katflow>" for m in sent]
    assert server.received() == [r.provider_id for r in receipts]  # each once, in order
    assert server.connections() == 1 and smtp.connections_opened == 1
    assert server.ehlo_names == ["notifications.katflow.test"]  # one greeting, the configured name
    assert [(frm, to) for _, frm, to, _ in server.messages] == [
        ("care@clinic.example", (f"p{i}@example.org",)) for i in range(5)
    ]
    await smtp.aclose()
    assert server.quits == 1


async def test_without_a_configured_name_the_host_name_is_looked_up_once(
    server: CountingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    lookups: list[int] = []
    monkeypatch.setattr(socket, "getfqdn", lambda *_: lookups.append(1) or "host.example")
    smtp = channel(server, smtp_local_hostname="", smtp_max_connections=2)
    await asyncio.gather(*(smtp.send(email(f"p{i}@example.org")) for i in range(6)))
    server.drop_all()
    await asyncio.sleep(0.2)
    await smtp.send(email())  # a new session: still no second lookup
    assert len(server.received()) == 7
    assert server.connections() == 3 and set(server.ehlo_names) == {"host.example"}
    assert len(lookups) == 1
    await smtp.aclose()


async def test_concurrent_sends_share_a_bounded_number_of_sessions(server: CountingServer) -> None:
    smtp = channel(server, smtp_max_connections=2)
    sent = [email(f"p{i}@example.org") for i in range(12)]
    await asyncio.gather(*(smtp.send(m) for m in sent))
    assert sorted(server.received()) == sorted(f"<{m.delivery_id}@katflow>" for m in sent)
    assert server.connections() == 2
    await smtp.aclose()
    assert server.quits == 2


async def test_a_session_the_server_dropped_is_replaced_without_losing_the_email(
    server: CountingServer,
) -> None:
    smtp = channel(server)
    first = await smtp.send(email())
    server.drop_all()  # closed while idle; the client has seen the connection go
    await asyncio.sleep(0.2)
    second = await smtp.send(email())
    server.close_at_next_mail = 1  # closed while idle; the client only learns it at MAIL (421)
    third = await smtp.send(email())
    fourth = await smtp.send(email())
    assert server.received() == [r.provider_id for r in (first, second, third, fourth)]  # each once
    assert server.connections() == 3 and smtp.connections_opened == 3
    await smtp.aclose()


async def test_a_refused_transaction_is_reset_and_the_session_kept(server: CountingServer) -> None:
    server.refuse = {
        "gone@example.org": "550 5.1.1 no such user",
        "full@example.org": "452 4.2.2 mailbox full",
    }
    smtp = channel(server)
    ok = await smtp.send(email())
    with pytest.raises(ChannelPermanent, match="smtp_550"):
        await smtp.send(email("gone@example.org"))
    with pytest.raises(ChannelTransient, match="smtp_452"):
        await smtp.send(email("full@example.org"))
    after = await smtp.send(email("next@example.org"))
    assert server.resets == 2
    assert server.received() == [ok.provider_id, after.provider_id]
    assert server.messages[-1][2] == ("next@example.org",)  # nothing left over from the refused ones
    assert server.connections() == 1
    await smtp.aclose()


async def test_a_non_ascii_address_goes_out_in_an_smtputf8_transaction() -> None:
    server = CountingServer(smtputf8=True).start()
    try:
        smtp = channel(server)
        receipt = await smtp.send(email("josé@ejemplo.es"))
        assert server.received() == [receipt.provider_id]
        _, sender, recipients, _ = server.messages[0]
        assert (sender, recipients) == ("care@clinic.example", ("josé@ejemplo.es",))  # the envelope, in UTF-8
        await smtp.aclose()
    finally:
        server.stop()


async def test_an_address_that_would_break_the_command_line_is_refused_before_anything_is_sent(
    server: CountingServer,
) -> None:
    smtp = channel(server)
    with pytest.raises(ValueError):
        await smtp.send(email("ana maria@example.org"))  # a space: the rest would be read as parameters
    ok = await smtp.send(email())
    assert server.received() == [ok.provider_id]
    assert server.connections() == 1 and server.resets == 0
    await smtp.aclose()


async def test_parameters_smuggled_into_an_address_never_reach_the_rcpt_line(server: CountingServer) -> None:
    """Python's ``email.utils.parseaddr`` reads this unbalanced quote differently from one 3.11
    patch release to another: 3.11.7 finds 'victim@example.org' (sent, with a bare RCPT), 3.11.2
    keeps the whole string (refused before anything is sent). Either way no parameter reaches the
    RCPT line."""
    smtp = channel(server)
    try:
        receipt = await smtp.send(email('"victim@example.org> NOTIFY=SUCCESS ORCPT=rfc822;x@y'))
    except ValueError:
        assert server.received() == [] and server.rcpt_options == []
    else:
        assert server.received() == [receipt.provider_id]
        _, _, recipients, _ = server.messages[0]
        assert recipients == ("victim@example.org",) and server.rcpt_options == [[]]
    await smtp.aclose()


async def test_an_idle_session_past_its_time_is_not_reused(server: CountingServer) -> None:
    smtp = channel(server, smtp_idle_seconds=0.2)
    await smtp.send(email())
    await asyncio.sleep(0.4)
    await smtp.send(email())
    await asyncio.sleep(0.1)  # the retired session's QUIT
    assert len(server.received()) == 2 and server.connections() == 2 and server.quits == 1
    await smtp.aclose()


async def test_an_unreachable_server_is_a_transient_failure(server: CountingServer) -> None:
    smtp = channel(server)
    server.stop()
    with pytest.raises(ChannelTransient):
        await smtp.send(email())
    server.controller = controller(server)
    server.start()  # the fixture stops it again


@pytest.mark.parametrize("queued_by", ["this replica", "another replica"])
async def test_a_queued_delivery_wakes_the_dispatcher_without_waiting_for_the_poll(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, queued_by: str
) -> None:
    """Queued by this process's consumer, the delivery wakes the running dispatcher in-process once
    committed: claimed at once, and no NOTIFY goes through PostgreSQL. Queued by another replica (its
    own announcer: no dispatcher of its process here), a NOTIFY naming that replica wakes the
    dispatcher, which claims after the peer wait (that replica's dispatcher would have first)."""
    async with make_harness(infra, dispatch_poll_seconds=60.0, dispatch_peer_wait_seconds=1.5) as h:
        await h.contact(email=True, sms=False)
        heard: list[str] = []
        listener = await asyncpg.connect(h.settings.database_url.get_secret_value())
        await listener.add_listener(deliveries.DELIVERIES_CHANNEL, lambda *args: heard.append(args[3]))
        runner = asyncio.create_task(h.dispatcher.run())
        try:
            await asyncio.sleep(0.5)  # the first (empty) claim done; now waiting on the 60 s poll
            if queued_by == "another replica":
                monkeypatch.setattr(deliveries, "ORIGIN", "another-replica")
                elsewhere = replace(h.handlers.planner, dispatching=Announcer(deliveries.DELIVERIES_CHANNEL))
                h.handlers = replace(h.handlers, planner=elsewhere)
            started = time.monotonic()
            await h.handle(h.consultation_requested())
            for _ in range(500):  # up to 10 s
                if len(h.mail()) >= 2:
                    break
                await asyncio.sleep(0.02)
            elapsed = time.monotonic() - started
        finally:
            await h.dispatcher.stop()
            await asyncio.wait_for(runner, 10)
            await listener.close()
        assert sorted(m.subject for m in h.mail()) == ["New consultation request", "We received your request"]
        assert [m.rcpt_to for m in h.mail() if m.subject == "We received your request"] == [(EMAIL,)]
        if queued_by == "this replica":
            assert elapsed < 1.0, elapsed
            assert heard == []
        else:
            assert 1.5 <= elapsed < 5, elapsed
            assert heard == ["another-replica"]
        sent = await h.deliveries(status="sent")
        assert len(sent) == 2 and all(d["attempts"] == 1 for d in sent)
