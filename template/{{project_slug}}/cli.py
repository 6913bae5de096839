"""Command line of the service: `serve`, `prestart`, `create-superuser` and `add-resource`."""

import argparse
import asyncio
import getpass
import os

import uvicorn

# Every `serve --workers` process imports this module again before it answers uvicorn's health
# checks, which kill a worker that stays silent for 5 s: the app and its dependencies are
# imported by the commands that use them, not here.


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=__package__, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve the API with uvicorn",
        description="In production: `serve --host 0.0.0.0 --workers N` after `prestart`.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to listen on every interface")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (production; each has its own database pool)",
    )
    serve.add_argument(
        "--reload", action="store_true", help="restart on code changes (development)"
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")

    commands.add_parser("prestart", help="migrate the database and create the first superuser")

    create = commands.add_parser("create-superuser", help="create a superuser account")
    create.add_argument("email")
    create.add_argument(
        "--password-env",
        metavar="VARIABLE",
        help="read the password from this environment variable instead of prompting",
    )

    add = commands.add_parser("add-resource", help="add a CRUD resource (needs a clean git tree)")
    add.add_argument(
        "spec",
        nargs="?",
        help="as in the template's resources answer, e.g. 'category name:str(50):unique'",
    )

    args = parser.parse_args(argv)
    if args.command == "serve":
        if args.reload and args.workers > 1:
            parser.error("--reload runs a single process; drop --workers")
        uvicorn.run(
            f"{__package__}.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            reload=args.reload,
            access_log=args.access_log,
            # On SIGTERM stop accepting, let requests in flight finish for up to this long.
            timeout_graceful_shutdown=20,
        )
    elif args.command == "add-resource":
        from .scaffold import add_resource

        spec = args.spec or input("Resource, e.g. 'category name:str(50):unique': ")
        try:
            print(add_resource(spec))
        except ValueError as error:
            parser.exit(2, f"{error}\n")
    elif args.command == "prestart":
        _prestart()
    else:
        password = os.environ[args.password_env] if args.password_env else getpass.getpass()
        asyncio.run(_create_superuser(args.email, password))
        print(f"Created superuser {args.email}")


def _prestart() -> None:
    """Migrate and add the first superuser: once per deploy, before the workers start."""
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config("alembic.ini"), "head")
    asyncio.run(_ensure_first_superuser())


async def _ensure_first_superuser() -> None:
    from .auth.passwords import PasswordHasher
    from .config import Settings
    from .database import Database
    from .users.service import ensure_first_superuser

    settings = Settings()
    database = Database(settings)
    async with database.sessionmaker() as session:
        await ensure_first_superuser(session, PasswordHasher(settings), settings)
    await database.dispose()


async def _create_superuser(email: str, password: str) -> None:
    from .auth.passwords import PasswordHasher
    from .config import Settings
    from .database import Database
    from .users.schemas import UserCreate
    from .users.service import create_user

    settings = Settings()
    database = Database(settings)
    user = UserCreate(email=email, password=password, is_superuser=True)
    async with database.sessionmaker() as session:
        await create_user(session, PasswordHasher(settings), user)
    await database.dispose()
