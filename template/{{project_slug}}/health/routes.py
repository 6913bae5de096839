import asyncio
import logging
from functools import cache

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from ..config import SettingsDep
from ..database import DatabaseDep

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


@router.get("/health")
async def check() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={
        503: {"description": "The database cannot be reached, or its schema is behind this code"}
    },
)
async def check_readiness(database: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """Readiness: the database answers within `READY_TIMEOUT_SECONDS` and is fully migrated."""
    # Alembic takes a third of a second to import: the app loads it at the first check, not at
    # start.
    from ..revisions.history import current_revisions

    try:
        async with (
            asyncio.timeout(settings.ready_timeout_seconds),
            database.read_engine.connect() as connection,
        ):
            current = await connection.run_sync(current_revisions)
    except (TimeoutError, OSError, SQLAlchemyError) as error:
        logger.warning("Not ready: %s", error or type(error).__name__)
        return JSONResponse(
            {"status": "unavailable", "detail": "The database cannot be reached"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    expected = code_revisions()
    if set(current) != set(expected):
        detail = (
            f"The database schema is at revision {', '.join(current) or 'none'} and this code "
            f"needs {', '.join(expected)}: run the migrations (`prestart`)"
        )
        logger.warning("Not ready: %s", detail)
        return JSONResponse(
            {"status": "migrations pending", "detail": detail},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready"})


@cache
def code_revisions() -> tuple[str, ...]:
    """The head revisions of the migrations this code ships; read once, at the first check."""
    from ..revisions.history import head_revisions

    return head_revisions()
