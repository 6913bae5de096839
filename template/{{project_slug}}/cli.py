"""Command line of the service: serve, prestart, create-superuser, make-migration, add-resource."""

import argparse
import asyncio
import getpass
import os
import sys

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

    commands.add_parser("prestart", help="migrate the database and create the first superuser")

    create = commands.add_parser("create-superuser", help="create a superuser account")
    create.add_argument("email")
    create.add_argument(
        "--password-env",
        metavar="VARIABLE",
        help="read the password from this environment variable instead of prompting",
    )

    make = commands.add_parser(
        "make-migration",
        help="append a migration that brings the schema from the last migration to the models",
        description=(
            "Compares the models with the schema that every migration so far builds, and writes "
            "the difference as a new migration. Dropped tables and columns, and columns that "
            "become required on tables that may hold rows, are asked about at a terminal and "
            "otherwise refused until decided with the options below."
        ),
    )
    make.add_argument("-m", "--message", help="what the migration does (made up when left out)")
    make.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="TABLE[.COLUMN]",
        help="drop this table or column, and its data, which the models no longer have",
    )
    make.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="TABLE[.COLUMN]=NEW_NAME",
        help="rename this table or column, keeping its data",
    )
    make.add_argument(
        "--default",
        action="append",
        default=[],
        metavar="TABLE.COLUMN=VALUE",
        help="give the rows that already exist this value in a column that becomes required",
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
        _refuse_bad_settings(parser)
        from .config import Settings
        from .request_log import logging_config

        uvicorn.run(
            f"{__package__}.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            reload=args.reload,
            # The app logs each request itself (request_log.py), with its request id.
            access_log=False,
            log_config=logging_config(Settings()),
            # On SIGTERM stop accepting, let requests in flight finish for up to this long.
            timeout_graceful_shutdown=20,
        )
    elif args.command == "make-migration":
        _make_migration(parser, args)
    elif args.command == "add-resource":
        from .scaffold import add_resource

        spec = args.spec
        if spec is None and sys.stdin.isatty():
            spec = input("Resource, e.g. 'category name:str(50):unique': ")
        if not spec or not spec.strip():
            parser.error("add-resource needs a resource, e.g. add-resource 'category name:str(50)'")
        try:
            print(add_resource(spec))
        except ValueError as error:
            parser.exit(2, f"{error}\n")
    elif args.command == "prestart":
        _prestart()
    else:
        from pydantic import ValidationError

        from .errors import DomainError

        password = os.environ[args.password_env] if args.password_env else getpass.getpass()
        try:
            asyncio.run(_create_superuser(args.email, password))
        except ValidationError as error:
            problems = [f"  {problem['loc'][0]}: {problem['msg']}" for problem in error.errors()]
            parser.exit(2, "Cannot create that superuser:\n" + "\n".join(problems) + "\n")
        except DomainError as error:
            parser.exit(1, f"{error.detail}\n")
        print(f"Created superuser {args.email}")


def _refuse_bad_settings(parser: argparse.ArgumentParser) -> None:
    """Stop before serving with settings the app would refuse: one message that names them,
    instead of a traceback from every worker."""
    from pydantic import ValidationError

    from .config import Settings

    try:
        Settings()
    except ValidationError as error:
        # Named as in the environment and .env, where they are set.
        problems = [
            f"  {str(problem['loc'][0]).upper()}: {problem['msg']}" for problem in error.errors()
        ]
        parser.exit(2, "Cannot serve with these settings:\n" + "\n".join(problems) + "\n")


def _make_migration(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    from .config import Settings
    from .revisions.make import Decisions, SchemaChangeError, UndecidedChangesError, make_migration
    from .revisions.scratch import ScratchDatabaseError

    def pairs(option: str, values: list[str]) -> dict[str, str]:
        malformed = [value for value in values if "=" not in value]
        if malformed:
            parser.error(f"{option} takes NAME=VALUE, not {malformed[0]!r}")
        return dict(value.split("=", 1) for value in values)

    decisions = Decisions(
        drops=frozenset(args.drop),
        renames=pairs("--rename", args.rename),
        defaults=pairs("--default", args.default),
    )
    ask = input if sys.stdin.isatty() else None
    try:
        written = asyncio.run(make_migration(Settings(), decisions, message=args.message, ask=ask))
    except UndecidedChangesError as error:
        command = f"uv run {__package__} make-migration"
        parser.exit(1, f"{error}\nThen run: {command} {error.flags}\n")
    except ScratchDatabaseError as error:
        advice = "make-migration builds the schema on that server: start it or set DATABASE_URL"
        parser.exit(1, f"{error}\n{advice}\n")
    except SchemaChangeError as error:
        parser.exit(1, f"{error}\n")
    if written is None:
        print("The migrations already build the schema of the models: nothing to write.")
    else:
        print(f"Wrote {os.path.relpath(written)}: review it, then `alembic upgrade head`.")


def _prestart() -> None:
    """Migrate and add the first superuser: once per deploy, before the workers start."""
    from alembic import command

    from .revisions.history import alembic_config

    command.upgrade(alembic_config(), "head")
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
