"""Email channel over SMTP (aiosmtplib), plain, STARTTLS or implicit TLS. Errors are classified.

Connections are reused: a bounded pool of open sessions to the configured server (``smtp_max_connections``),
each already past connect, TLS, EHLO and AUTH. Every message is still its own mail transaction
(MAIL, RCPT, DATA); a transaction the server refused is reset (RSET) before its session is reused,
and a session in any doubt (timeout, lost connection, unexpected error) is closed, never reused.

A pooled session the server dropped while it sat idle is noticed at MAIL, before anything of the
message was handed over: the message then goes out at once on a new connection. A failure once the
recipient or the content was on the wire is reported as before (transient or permanent), and the
dispatcher retries with the same Message-ID. The name sent in EHLO is ``smtp_local_hostname``, or
this host's fully qualified name looked up once (not on every connection). The message's bytes are
written by ``mime``, for the session's extensions (8BITMIME, SMTPUTF8).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import aiosmtplib
import aiosmtplib.email

from ..ports import ChannelPermanent, ChannelTransient, Outbound, Receipt
from ..settings import NotificationsSettings
from . import mime

SERVER_CLOSING = 421  # the server is ending the session


class SmtpEmail:
    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self._from = settings.mail_from
        self._sender = _checked(mime.addr_spec(settings.mail_from))  # at start: a bad one stops the service
        self._local_hostname = settings.smtp_local_hostname or None
        self._lookup = asyncio.Lock()
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # most recently used last
        self._slots = asyncio.Semaphore(max(1, settings.smtp_max_connections))
        self._closing: set[asyncio.Task[None]] = set()  # QUITs of sessions retired while idle
        self.connections_opened = 0

    def build(self, outbound: Outbound, eight_bit: bool = True, utf8: bool = False) -> bytes:
        """The message's bytes (``mime``); the Message-ID is the delivery's, stable across retries."""
        m = outbound.message
        message_id = f"<{outbound.delivery_id}@katflow>"
        return mime.message(
            self._from,
            outbound.to,
            m.subject,
            message_id,
            m.text,
            m.attachment,
            eight_bit=eight_bit,
            utf8=utf8,
            unsubscribe_url=outbound.unsubscribe_url,
        )

    async def send(self, outbound: Outbound) -> Receipt:
        """Hand the message to the SMTP server: 'sent' means the server accepted it."""
        recipient = _checked(mime.addr_spec(outbound.to))  # ValueError: unclassified, nothing sent
        try:
            await self._transfer(outbound, recipient)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [e.code for e in exc.recipients]
            if all(500 <= c < 600 for c in codes):
                raise ChannelPermanent(f"smtp_{codes[0]}") from exc
            raise ChannelTransient(f"smtp_{codes[0] if codes else 'refused'}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise ChannelPermanent(f"smtp_{exc.code}") from exc
            raise ChannelTransient(f"smtp_{exc.code}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ChannelTransient(f"smtp_{type(exc).__name__}") from exc
        return Receipt(f"<{outbound.delivery_id}@katflow>")

    async def aclose(self) -> None:
        """Say goodbye on every idle session (on shutdown)."""
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(client) for client, _ in idle), *self._closing)

    # --- sessions

    async def _transfer(self, outbound: Outbound, recipient: str) -> None:
        async with self._slots:
            client, data = self._checkout(), b""
            if client is not None:
                try:
                    data = await self._mail(client, outbound, recipient)
                except ConnectionError:  # dropped while idle: nothing of this message was handed over
                    client.close()
                    client = None
                except aiosmtplib.SMTPResponseException as exc:
                    if exc.code != SERVER_CLOSING:
                        await self._reset_or_close(client)
                        raise
                    client.close()  # the server ends this session: nothing was handed over
                    client = None
                except BaseException:
                    client.close()
                    raise
            if client is None:
                client = await self._connect()
                try:
                    data = await self._mail(client, outbound, recipient)
                except aiosmtplib.SMTPResponseException:
                    await self._reset_or_close(client)
                    raise
                except BaseException:
                    client.close()
                    raise
            try:
                await self._rcpt_data(client, data, [recipient])
            except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
                await self._reset_or_close(client)
                raise
            except BaseException:
                client.close()
                raise
            self._checkin(client)

    async def _mail(self, client: aiosmtplib.SMTP, outbound: Outbound, recipient: str) -> bytes:
        """EHLO if this session has not yet, MAIL FROM with what ``aiosmtplib.send`` would ask for
        (SMTPUTF8, BODY=8BITMIME and SIZE when the server supports them); returns the bytes to send."""
        await client._ehlo_or_helo_if_needed()  # a no-op on a session that already greeted
        utf8 = not (self._sender + recipient).isascii()
        if utf8 and not client.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported("a non-ASCII address, and the server lacks SMTPUTF8")
        options = ["SMTPUTF8"] if utf8 else []
        eight_bit = client.supports_extension("8BITMIME")
        if eight_bit:
            options.append("BODY=8BITMIME")
        data = self.build(outbound, eight_bit, utf8)
        if client.supports_extension("size"):
            options.insert(0, f"size={len(data)}")
        response = await client.execute_command(
            b"MAIL", b"FROM:" + _path(self._sender), *(option.encode("ascii") for option in options)
        )
        if response.code != aiosmtplib.SMTPStatus.completed:
            raise aiosmtplib.SMTPSenderRefused(response.code, response.message, self._sender)
        return data

    async def _rcpt_data(self, client: aiosmtplib.SMTP, data: bytes, recipients: list[str]) -> None:
        refused: list[aiosmtplib.SMTPRecipientRefused] = []
        for address in recipients:
            response = await client.execute_command(b"RCPT", b"TO:" + _path(address))
            if response.code not in (aiosmtplib.SMTPStatus.completed, aiosmtplib.SMTPStatus.will_forward):
                refused.append(aiosmtplib.SMTPRecipientRefused(response.code, response.message, address))
        if len(refused) == len(recipients):
            raise aiosmtplib.SMTPRecipientsRefused(refused)
        await client.data(data)

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        if self._local_hostname is None:
            async with self._lookup:
                if self._local_hostname is None:  # looked up once, not per connection
                    self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            local_hostname=self._local_hostname,
            timeout=s.smtp_timeout_seconds,
            use_tls=s.smtp_security == "tls",
            start_tls=True if s.smtp_security == "starttls" else False,
            username=s.smtp_username or None,
            password=s.smtp_password.get_secret_value() or None,
        )
        try:
            await client.connect()
        except BaseException:
            client.close()
            raise
        self.connections_opened += 1
        return client

    async def _reset_or_close(self, client: aiosmtplib.SMTP) -> None:
        """After a refused transaction: RSET, and keep the session only if that worked."""
        if not client.is_connected:
            return
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
            return
        self._checkin(client)

    def _checkout(self) -> aiosmtplib.SMTP | None:
        """The most recently used open session, if one has not been idle too long."""
        oldest = time.monotonic() - self.settings.smtp_idle_seconds
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and since >= oldest:
                return client
            self._discard(client)
        return None

    def _checkin(self, client: aiosmtplib.SMTP) -> None:
        if not client.is_connected:
            return
        now = time.monotonic()
        self._idle.append((client, now))
        oldest = now - self.settings.smtp_idle_seconds
        while self._idle and (self._idle[0][1] < oldest or not self._idle[0][0].is_connected):
            self._discard(self._idle.pop(0)[0])

    def _discard(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            task = asyncio.get_running_loop().create_task(self._quit(client))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        else:
            client.close()

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await client.quit(timeout=5)
        client.close()


def _checked(address: str) -> str:
    """The address to put on an SMTP command line: a plain address as it is (nothing in it can end
    the path or start a parameter); any other as ``aiosmtplib``'s ``mail`` and ``rcpt`` would send
    it — parsed again and refused (ValueError) when the result could smuggle parameters or commands
    (spaces, angle brackets outside a quoted local part)."""
    if mime.PLAIN_ADDRESS.fullmatch(address):
        return address
    return aiosmtplib.email.parse_address(address)


def _path(address: str) -> bytes:
    """``<address>`` for MAIL FROM and RCPT TO (UTF-8 is only ever non-ASCII in an SMTPUTF8 session)."""
    return f"<{address}>".encode()
