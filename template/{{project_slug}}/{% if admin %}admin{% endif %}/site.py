from fastapi import FastAPI, HTTPException
from fastapi.exception_handlers import http_exception_handler
from sqladmin import Admin
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from ..auth.throttle import TooManyFailedLoginsError
from ..config import Settings
from ..database import Database
from ..discovery import feature_modules
from .authentication import SuperuserAuthentication

BASE_URL = "/admin"


def mount_admin(app: FastAPI, settings: Settings) -> Admin:
    """Serve the admin panel at /admin, with a view from every feature's `admin` module."""
    database: Database = app.state.database
    # The API's engine, but a session factory of its own: sqladmin switches autoflush off on the
    # factory it is given, and the API's sessions should not change because the admin is on.
    sessionmaker = async_sessionmaker(database.engine, expire_on_commit=False)
    admin = Admin(
        app,
        session_maker=sessionmaker,
        base_url=BASE_URL,
        title=f"{settings.project_name} admin",
        authentication_backend=SuperuserAuthentication(
            settings,
            app.state.password_hasher,
            app.state.login_throttle,
            sessionmaker,
            base_url=BASE_URL,
        ),
    )
    # The admin is a Starlette app of its own: sharing the API's state gives its requests the
    # same settings, database and password hasher through `request.app.state`.
    admin.admin.state = app.state
    admin.admin.add_exception_handler(TooManyFailedLoginsError, refuse_with_headers)
    for module in feature_modules("admin"):
        for view in module.views:
            admin.add_view(view)
    return admin


async def refuse_with_headers(request: Request, error: Exception) -> Response:
    """sqladmin shows HTTP errors as a page without their headers: keep `Retry-After`."""
    if not isinstance(error, HTTPException):
        raise error
    return await http_exception_handler(request, error)
