import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .auth.passwords import PasswordHasher
from .config import Settings
from .database import Database
from .discovery import feature_modules
from .users.service import ensure_first_superuser

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(title=settings.project_name, lifespan=lifespan)
    app.state.settings = settings
    app.state.database = Database(settings)
    app.state.password_hasher = PasswordHasher(settings)
    for module in feature_modules("routes"):
        app.include_router(module.router)
    for error in (OperationalError, InterfaceError, PoolTimeoutError, ConnectionError):
        app.add_exception_handler(error, database_unavailable)
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    database: Database = app.state.database
    try:
        async with database.sessionmaker() as session:
            await ensure_first_superuser(session, app.state.password_hasher, app.state.settings)
    except (OperationalError, ProgrammingError, OSError) as error:
        logger.error(
            "Could not ensure the first superuser (run `alembic upgrade head`?): %s", error
        )
    yield
    await database.dispose()


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    logger.warning("Database unavailable during %s %s: %s", request.method, request.url.path, error)
    return JSONResponse(
        {"detail": "The database is unavailable; try again shortly"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )
