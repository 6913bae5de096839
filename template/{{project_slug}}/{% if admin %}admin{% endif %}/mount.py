"""The admin panel at /admin, built at its first request.

sqladmin, its templates and forms and every view take memory and start-up time that a worker
which never serves the admin would spend for nothing: only this module is imported at start.
"""

from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.datastructures import QueryParams
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from ..config import Settings

if TYPE_CHECKING:
    from sqladmin import Admin

BASE_URL = "/admin"


class DeferredAdmin:
    """Mounted where the admin app goes; builds it (admin/site.py) when first needed."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        self._sqladmin: Admin | None = None

    @property
    def sqladmin(self) -> "Admin":
        if self._sqladmin is None:
            from .site import build_admin

            self._sqladmin = build_admin(self._app, self._settings, base_url=BASE_URL)
        return self._sqladmin

    @property
    def routes(self) -> list[BaseRoute]:
        """The admin's routes, through which `url_for("admin:...")` finds its pages."""
        return self.sqladmin.admin.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = _refusal(scope)
        if reason is not None:
            await PlainTextResponse(reason, status_code=400)(scope, receive, send)
            return
        await self.sqladmin.admin(scope, receive, send)


def _refusal(scope: Scope) -> str | None:
    """Why a request that sqladmin would fail on (500) is refused, if it is one."""
    query = scope["query_string"]
    # A search or a filter for NUL finds nothing (no row holds it: PostgreSQL's text cannot), and
    # PostgreSQL fails on it.
    if b"%00" in query:
        return "The query must not contain NUL (%00)"
    if scope["method"] == "DELETE" and "pks" not in QueryParams(query):
        return "Name the rows to delete: ?pks=1,2"
    return None


def mount_admin(app: FastAPI, settings: Settings) -> DeferredAdmin:
    """Serve the admin panel at /admin, with the views of admin/views.py."""
    admin = DeferredAdmin(app, settings)
    app.mount(BASE_URL, app=admin, name="admin")
    return admin
