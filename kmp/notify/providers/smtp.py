"""E-mail over SMTP with STARTTLS (``KMP_SMTP_*``), as before the providers existed.

A refused recipient and other 5xx answers are permanent (the fallback chain goes on); a
missing host, a connection problem and 4xx answers are retried with backoff.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from kmp.notify.models import Channel
from kmp.notify.providers import OutgoingMessage, ProviderError, SendResult


class SmtpProvider:
    name = "smtp"
    channel = Channel.EMAIL

    def __init__(self, *, host, port=587, user="", password="", sender="", coop_name="KMP", rate=0):
        self.host = host
        self.port = int(port or 587)
        self.user = user
        self.password = password
        self.sender = sender or user or "kmp@localhost"
        self.coop_name = coop_name
        self.rate_per_second = float(rate or 0)

    @classmethod
    def from_config(cls, config: dict) -> SmtpProvider:
        return cls(
            host=config.get("KMP_SMTP_HOST") or "",
            port=config.get("KMP_SMTP_PORT") or 587,
            user=config.get("KMP_SMTP_USER") or "",
            password=config.get("KMP_SMTP_PASSWORD") or "",
            sender=config.get("KMP_SMTP_FROM") or "",
            coop_name=config.get("KMP_COOP_NAME") or "KMP",
            rate=config.get("KMP_EMAIL_RATE") or 0,
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        if not self.host:
            raise ProviderError("KMP_SMTP_HOST is not set")
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject or self.coop_name
        email["Message-ID"] = message_id = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        email.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=15) as smtp:
                smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            raise ProviderError(f"SMTP refused {message.to}", permanent=True) from error
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused) as error:
            # Our account or sender address: an operator fixes it, the message waits.
            raise ProviderError(f"SMTP {error.smtp_code}: login or sender refused") from error
        except smtplib.SMTPResponseException as error:
            raise ProviderError(
                f"SMTP {error.smtp_code}", permanent=500 <= error.smtp_code < 600
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            raise ProviderError(f"SMTP {type(error).__name__}: {error}"[:300]) from error
        return SendResult(message_id.strip("<>")[:128])
