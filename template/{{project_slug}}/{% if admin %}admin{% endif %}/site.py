import logging

from fastapi import FastAPI
from sqladmin import Admin
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from ..config import Settings
from ..database import Database
from ..errors import DomainError
from ..responses import domain_error
from .authentication import SuperuserAuthentication
from .refusals import SQLADMIN_LOGGER, not_a_refusal
from .views import ADMIN_VIEWS


def build_admin(app: FastAPI, settings: Settings, *, base_url: str) -> Admin:
    """The admin panel of `app`, with the views of admin/views.py, for admin/mount.py to serve
    at `base_url`."""
    database: Database = app.state.database
    # The API's engine, but a session factory of its own: sqladmin switches autoflush off on the
    # factory it is given, and the API's sessions should not change because the admin is on.
    sessionmaker = async_sessionmaker(database.engine, expire_on_commit=False)
    admin = Admin(
        # sqladmin mounts its app on the one it is given: admin/mount.py serves it instead.
        Starlette(),
        session_maker=sessionmaker,
        base_url=base_url,
        title=f"{settings.project_name} admin",
        authentication_backend=SuperuserAuthentication(settings, sessionmaker, base_url=base_url),
    )
    # The admin is a Starlette app of its own: sharing the API's state gives its requests the
    # same settings, database and password hasher through `request.app.state`.
    admin.admin.state = app.state
    # Refusals that sqladmin does not catch (it would answer 500), such as too many logins (with
    # a `Retry-After`), answered as the API answers them.
    admin.admin.add_exception_handler(DomainError, domain_error)
    for view in ADMIN_VIEWS:
        admin.add_view(view)
    # The logger is the process's: adding the same filter again, for another app, changes nothing.
    logging.getLogger(SQLADMIN_LOGGER).addFilter(not_a_refusal)
    return admin
