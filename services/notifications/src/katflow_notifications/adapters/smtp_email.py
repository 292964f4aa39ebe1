"""Email channel over SMTP (aiosmtplib). Errors are classified for the dispatcher."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from katflow_shared.messaging.errors import PermanentError, TransientError

from ..domain.templates import Rendered
from ..settings import NotificationsSettings


class SmtpEmail:
    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings

    async def send(self, to: str, message: Rendered, message_id: str) -> str:
        """Hand the message to the SMTP server; returns the Message-ID it was accepted with."""
        msg = EmailMessage()
        msg["From"] = self.settings.mail_from
        msg["To"] = to
        msg["Subject"] = message.subject
        msg["Message-ID"] = f"<{message_id}@katflow>"  # stable across retries
        msg.set_content(message.text)
        if message.attachment:
            name, mime, content = message.attachment
            maintype, subtype = mime.split("/")
            msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
        s = self.settings
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.smtp_host,
                port=s.smtp_port,
                timeout=15,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                username=s.smtp_username or None,
                password=s.smtp_password.get_secret_value() or None,
            )
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise TransientError(f"SMTP {exc.code}") from exc
            raise PermanentError(f"SMTP {exc.code}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientError(type(exc).__name__) from exc
        return str(msg["Message-ID"])
