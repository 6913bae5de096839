import asyncio
import logging

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..config import SettingsDep
from ..database import DatabaseDep

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "The database cannot be reached"}})
async def ready(database: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """Readiness: a pooled connection answers `SELECT 1` within `READY_TIMEOUT_SECONDS`."""
    try:
        async with (
            asyncio.timeout(settings.ready_timeout_seconds),
            database.engine.connect() as connection,
        ):
            await connection.execute(text("SELECT 1"))
    except (TimeoutError, OSError, SQLAlchemyError) as error:
        logger.warning("Not ready: %s", error or type(error).__name__)
        return JSONResponse(
            {"status": "unavailable", "detail": "The database cannot be reached"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready"})
