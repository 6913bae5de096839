"""Mail from templates (a text and an HTML body each), sent through SMTP with aiosmtplib or,
while `SMTP_HOST` is unset (development, tests), written to the log instead: nothing is lost
and no mail server is needed to try the flows that send one."""

import logging
from email.message import EmailMessage
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from ..config import Settings

if TYPE_CHECKING:
    from jinja2 import Environment

logger = logging.getLogger(__name__)


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # Jinja and aiosmtplib cost 170 ms of start-up between them: they load with the first mail.
    @cached_property
    def templates(self) -> "Environment":
        from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

        return Environment(
            loader=PackageLoader(__package__ or __name__, "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def compose(self, to: str, subject: str, template: str, **context: Any) -> EmailMessage:
        """A mail of `templates/<template>.txt` and `.html`, rendered with `context`."""
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(self.templates.get_template(f"{template}.txt").render(context))
        html = self.templates.get_template(f"{template}.html").render(context)
        message.add_alternative(html, subtype="html")
        return message

    async def send(self, message: EmailMessage) -> None:
        """Send it, or log it while no SMTP server is set; a failure is logged, never raised:
        mail goes out after the response, which must not depend on it."""
        settings = self.settings
        if settings.smtp_host is None:
            text = message.get_body(("plain",))
            body = text.get_content() if isinstance(text, EmailMessage) else ""
            logger.info(
                "Mail not sent (no SMTP_HOST) to %s: %s\n%s",
                message["To"],
                message["Subject"],
                body,
            )
            return
        import aiosmtplib

        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=password,
                use_tls=settings.smtp_security == "tls",
                start_tls=settings.smtp_security == "starttls",
                timeout=settings.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            logger.error("Mail to %s not sent: %s", message["To"], error)


async def get_mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


MailerDep = Annotated[Mailer, Depends(get_mailer)]
