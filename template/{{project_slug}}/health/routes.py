import asyncio

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..config import SettingsDep
from ..database import SessionDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "The database cannot be reached"}})
async def ready(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """Readiness: the database answers within `READY_TIMEOUT_SECONDS`."""
    try:
        async with asyncio.timeout(settings.ready_timeout_seconds):
            await session.execute(text("SELECT 1"))
    except (TimeoutError, OSError, SQLAlchemyError):
        return JSONResponse(
            {"status": "unavailable", "detail": "The database cannot be reached"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return JSONResponse({"status": "ready"})
