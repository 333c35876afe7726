"""The `lrs` command: serve, migrate, credentials, openapi."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from auth import service as auth_service
from lrs.db import create_engine, create_sessionmaker, migrate
from lrs.errors import XAPIError
from lrs.settings import Settings


async def _prepare_database(settings: Settings) -> None:
    """Migrate to head and make sure the configured admin credential exists."""
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        if settings.admin_key and settings.admin_secret:
            async with create_sessionmaker(engine)() as session:
                await auth_service.ensure_admin_credential(
                    session,
                    tenant=settings.default_tenant,
                    key=settings.admin_key,
                    secret=settings.admin_secret,
                )
                await session.commit()
    finally:
        await engine.dispose()


async def _create_credential(settings: Settings, args: argparse.Namespace) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            await auth_service.create_credential(
                session,
                tenant=args.tenant,
                key=args.key,
                secret=args.secret,
                scopes=auth_service.parse_scopes(args.scopes),
                name=args.name or args.key,
            )
            await session.commit()
    finally:
        await engine.dispose()


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "database_url", None):
        # Through the environment, so that every uvicorn worker process sees it too.
        os.environ["LRS_DATABASE_URL"] = args.database_url
    return Settings()


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = _settings(args)
    asyncio.run(_prepare_database(settings))
    print(f"xAPI endpoint: http://{args.host}:{args.port}/xapi/")
    if settings.admin_key and settings.admin_secret:
        print(f"credential:    {settings.admin_key} / {settings.admin_secret} (scope all)")
    uvicorn.run(
        "lrs.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        proxy_headers=True,
    )


def _migrate(args: argparse.Namespace) -> None:
    asyncio.run(_prepare_database(_settings(args)))
    print("database is at the newest schema")


def _credentials_create(args: argparse.Namespace) -> None:
    settings = _settings(args)
    asyncio.run(_prepare_database(settings))
    asyncio.run(_create_credential(settings, args))
    print(f"credential {args.key} created on tenant {args.tenant}")


def _openapi(_args: argparse.Namespace) -> None:
    from lrs.app import create_app

    print(json.dumps(create_app().openapi(), indent=2, sort_keys=True))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lrs", description="xAPI Learning Record Store")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve the LRS")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--database-url")
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=_serve)

    migrate_command = commands.add_parser("migrate", help="bring the database to the newest schema")
    migrate_command.add_argument("--database-url")
    migrate_command.set_defaults(run=_migrate)

    credentials = commands.add_parser("credentials", help="manage credentials")
    credential_commands = credentials.add_subparsers(dest="action", required=True)
    create = credential_commands.add_parser("create", help="create a Basic credential")
    create.add_argument("--key", required=True)
    create.add_argument("--secret", required=True)
    create.add_argument("--scopes", default="all", help="comma-separated xAPI scopes")
    create.add_argument("--tenant", default=Settings().default_tenant)
    create.add_argument("--name")
    create.add_argument("--database-url")
    create.set_defaults(run=_credentials_create)

    openapi = commands.add_parser("openapi", help="print the OpenAPI document")
    openapi.set_defaults(run=_openapi)

    args = parser.parse_args(argv)
    try:
        args.run(args)
    except XAPIError as error:
        sys.exit(f"lrs: {error.message}")
    except KeyboardInterrupt:
        sys.exit(130)
