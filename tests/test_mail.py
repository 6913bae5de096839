"""Password recovery end to end: a served project mails its reset link through a real SMTP server
(aiosmtpd, run by this test on 127.0.0.1), and the link's token resets the password once."""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from .conftest import Project, sample_project, sqlite_env
from .fuzz import ARTIFACTS
from .samples import sample
from .server import free_port, served
from .walk import login

pytestmark = pytest.mark.slow

RESET_URL = "https://app.example.com/reset-password?token={token}"
# Long enough for the first link to be used, short enough to watch the second expire.
LINK_MINUTES = 0.05


class Inbox:
    """An aiosmtpd handler that keeps every mail it is given."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, seconds: float = 10) -> EmailMessage:
        deadline = time.monotonic() + seconds
        while len(self.mails) < count:
            assert time.monotonic() < deadline, f"{count} mails expected, {len(self.mails)} came"
            time.sleep(0.05)
        return self.mails[count - 1]


@contextmanager
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def reset_token(mail: EmailMessage) -> str:
    text = mail.get_body(("plain",))
    assert isinstance(text, EmailMessage)
    match = re.search(
        r"https://app\.example\.com/reset-password\?token=([\w.-]+)", text.get_content()
    )
    assert match, text.get_content()
    return match[1]


@pytest.fixture(scope="module")
def project(shared_samples: Path) -> Project:
    return sample_project(shared_samples, sample("defaults"))


def test_a_mailed_reset_link_resets_the_password_once(project: Project, tmp_path: Path) -> None:
    email, password = project.env["FIRST_SUPERUSER_EMAIL"], project.env["FIRST_SUPERUSER_PASSWORD"]
    database = sqlite_env(tmp_path / "mail.db")
    project.run("alembic", "upgrade", "head", env=database)
    with smtp_server() as (port, inbox):
        env = {
            **database,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_SECURITY": "none",
            "PASSWORD_RESET_URL": RESET_URL,
            "PASSWORD_RESET_EXPIRE_MINUTES": str(LINK_MINUTES),
        }
        with (
            served(project, env=env, log=tmp_path / "server.log") as base_url,
            httpx.Client(base_url=base_url, timeout=10) as client,
        ):
            old_session = login(client, email, password)
            unknown = client.post("/auth/password-recovery", json={"email": "no@example.com"})
            recovery = client.post("/auth/password-recovery", json={"email": email})
            assert unknown.status_code == recovery.status_code == 202
            assert unknown.json() == recovery.json()

            mail = inbox.wait_for(1)
            token = reset_token(mail)
            body = {"token": token, "new_password": "a new password, mailed for"}
            used = client.post("/auth/reset-password", json=body)
            reused = client.post("/auth/reset-password", json=body)
            refreshed = client.post(
                "/auth/refresh", json={"refresh_token": old_session["refresh_token"]}
            )
            login(client, email, body["new_password"])

            client.post("/auth/password-recovery", json={"email": email})
            late_token = reset_token(inbox.wait_for(2))
            time.sleep(LINK_MINUTES * 60 + 1.5)
            late = client.post("/auth/reset-password", json={**body, "token": late_token})

    assert (used.status_code, reused.status_code, late.status_code) == (204, 400, 400)
    assert refreshed.status_code == 401
    # The unknown email got no mail: only the two asked for by the account's owner came.
    assert [mail["To"] for mail in inbox.mails] == [email, email]
    assert mail["Subject"] == "Reset your password"
    html = mail.get_body(("html",))
    assert isinstance(html, EmailMessage)
    assert f'href="{RESET_URL.format(token=token)}"' in html.get_content()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reset-mail.eml").write_bytes(mail.as_bytes())
