"""Email channel over SMTP (aiosmtplib), plain, STARTTLS or implicit TLS. Errors are classified.

Connections are reused: a bounded pool of open sessions to the configured server (``smtp_max_connections``),
each already past connect, TLS, EHLO and AUTH. Every message is still its own mail transaction
(MAIL, RCPT, DATA); a transaction the server refused is reset (RSET) before its session is reused,
and a session in any doubt (timeout, lost connection, unexpected error) is closed, never reused.

A pooled session the server dropped while it sat idle is noticed at MAIL, before anything of the
message was handed over: the message then goes out at once on a new connection. A failure once the
recipient or the content was on the wire is reported as before (transient or permanent), and the
dispatcher retries with the same Message-ID. The name sent in EHLO is ``smtp_local_hostname``, or
this host's fully qualified name looked up once (not on every connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.generator
import email.policy
import functools
import io
import socket
import time
from email.headerregistry import AddressHeader, BaseHeader, HeaderRegistry
from email.message import EmailMessage

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

from ..ports import ChannelPermanent, ChannelTransient, Outbound, Receipt
from ..settings import NotificationsSettings


class _CachedHeaderRegistry(HeaderRegistry):
    """``HeaderRegistry`` builds a new header class (``type(...)``) on every lookup, the bulk of the
    cost of building a message; the classes depend only on the header name, so keep them."""

    @functools.cache  # noqa: B019 - one registry per process, never collected
    def __getitem__(self, name: str) -> type[BaseHeader]:
        cls: type[BaseHeader] = super().__getitem__(name)
        return cls


# email.policy.SMTP (what the message was flattened with before: CRLF, RFC 5322 folding), with the
# cached registry; parsing and rendering of header values are unchanged.
POLICY = email.policy.SMTP.clone(header_factory=_CachedHeaderRegistry())
SERVER_CLOSING = 421  # the server is ending the session


class SmtpEmail:
    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self._from = POLICY.header_factory("From", settings.mail_from)
        self._local_hostname = settings.smtp_local_hostname or None
        self._lookup = asyncio.Lock()
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # most recently used last
        self._slots = asyncio.Semaphore(max(1, settings.smtp_max_connections))
        self._closing: set[asyncio.Task[None]] = set()  # QUITs of sessions retired while idle
        self.connections_opened = 0

    def build(self, outbound: Outbound) -> EmailMessage:
        message = outbound.message
        msg = EmailMessage(policy=POLICY)
        msg["From"] = self._from  # parsed once
        msg["To"] = outbound.to
        msg["Subject"] = message.subject
        msg["Message-ID"] = f"<{outbound.delivery_id}@katflow>"  # stable across retries
        msg.set_content(message.text)
        if message.attachment:
            maintype, subtype = message.attachment.mime_type.split("/")
            method = "CANCEL" if b"METHOD:CANCEL" in message.attachment.content else "REQUEST"
            params = {"method": method} if maintype == "text" and subtype == "calendar" else {}
            msg.add_attachment(
                message.attachment.content,
                maintype=maintype,
                subtype=subtype,
                filename=message.attachment.filename,
                params=params,
            )
        return msg

    async def send(self, outbound: Outbound) -> Receipt:
        """Hand the message to the SMTP server: 'sent' means the server accepted it."""
        msg = self.build(outbound)
        sender, recipients = _addresses(self._from), _addresses(msg["To"])
        if not sender or not recipients:
            raise ValueError("the message has no sender or no recipient address")
        try:
            await self._transfer(msg, sender[0], recipients)
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
        return Receipt(str(msg["Message-ID"]))

    async def aclose(self) -> None:
        """Say goodbye on every idle session (on shutdown)."""
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(client) for client, _ in idle), *self._closing)

    # --- sessions

    async def _transfer(self, msg: EmailMessage, sender: str, recipients: list[str]) -> None:
        async with self._slots:
            client, data = self._checkout(), b""
            if client is not None:
                try:
                    data = await self._mail(client, msg, sender)
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
                    data = await self._mail(client, msg, sender)
                except aiosmtplib.SMTPResponseException:
                    await self._reset_or_close(client)
                    raise
                except BaseException:
                    client.close()
                    raise
            try:
                await self._rcpt_data(client, data, recipients)
            except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
                await self._reset_or_close(client)
                raise
            except BaseException:
                client.close()
                raise
            self._checkin(client)

    async def _mail(self, client: aiosmtplib.SMTP, msg: EmailMessage, sender: str) -> bytes:
        """EHLO if this session has not yet, MAIL FROM with what ``aiosmtplib.send`` would ask for
        (SMTPUTF8, BODY=8BITMIME and SIZE when the server supports them); returns the bytes to send."""
        await client._ehlo_or_helo_if_needed()  # a no-op on a session that already greeted
        utf8 = not (sender + "".join(_addresses(msg["To"]))).isascii()
        if utf8 and not client.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported("a non-ASCII address, and the server lacks SMTPUTF8")
        options = ["SMTPUTF8"] if utf8 else []
        eight_bit = client.supports_extension("8BITMIME")
        if eight_bit:
            options.append("BODY=8BITMIME")
        data = _flatten(msg, utf8, "8bit" if eight_bit else "7bit")
        if client.supports_extension("size"):
            options.insert(0, f"size={len(normalize_message_line_endings(data))}")
        await client.mail(sender, options=options)
        return data

    async def _rcpt_data(self, client: aiosmtplib.SMTP, data: bytes, recipients: list[str]) -> None:
        refused: list[aiosmtplib.SMTPRecipientRefused] = []
        for address in recipients:
            try:
                await client.rcpt(address)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused.append(exc)
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


def _addresses(header: object) -> list[str]:
    if isinstance(header, AddressHeader):
        return [a.addr_spec for a in header.addresses]
    return []


@functools.cache
def _policy(utf8: bool, cte_type: str) -> email.policy.EmailPolicy[EmailMessage]:
    policy = POLICY.clone(utf8=True) if utf8 else POLICY
    return policy.clone(cte_type=cte_type) if cte_type != "8bit" else policy


def _flatten(msg: EmailMessage, utf8: bool, cte_type: str) -> bytes:
    """The bytes aiosmtplib's ``send_message`` would send for this message (it has no Bcc)."""
    with io.BytesIO() as out:
        email.generator.BytesGenerator(out, policy=_policy(utf8, cte_type)).flatten(msg)
        return out.getvalue()
