"""Email channel over SMTP (aiosmtplib), plain, STARTTLS or implicit TLS. Errors are classified."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from ..ports import ChannelPermanent, ChannelTransient, Outbound, Receipt
from ..settings import NotificationsSettings


class SmtpEmail:
    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings

    def build(self, outbound: Outbound) -> EmailMessage:
        message = outbound.message
        msg = EmailMessage()
        msg["From"] = self.settings.mail_from
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
        s = self.settings
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.smtp_host,
                port=s.smtp_port,
                timeout=s.smtp_timeout_seconds,
                use_tls=s.smtp_security == "tls",
                start_tls=True if s.smtp_security == "starttls" else False,
                username=s.smtp_username or None,
                password=s.smtp_password.get_secret_value() or None,
            )
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
