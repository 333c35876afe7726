"""The `lrs` command: serve, migrate, tenants, credentials, directory, erasure, retention,
openapi. Administrative commands act with full authority and are written to the audit log
as `cli:<user>`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from analytics.service import Analytics
from auth import service as auth_service
from auth import store as auth_store
from auth.store import TenantRow
from cmi5.service import SAMPLE_COURSE_ID, Cmi5
from lrs.db import create_engine, create_sessionmaker, migrate
from lrs.errors import BadRequest, XAPIError
from lrs.logs import log_config
from lrs.settings import Settings
from statements.service import StatementHooks
from tenancy import service as tenancy
from tenancy.retention import run_retention
from tenancy.service import Actor, CredentialRequest, ErasureRequest


async def _prepare_database(settings: Settings, *, demo: bool = False) -> None:
    """Migrate to head and make sure the configured admin credential exists; with `demo`,
    the sample cmi5 course too."""
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
        if demo:
            async with create_sessionmaker(engine)() as session:
                tenant = await auth_service.ensure_tenant(session, settings.default_tenant)
                await Cmi5.configured(settings, StatementHooks()).import_sample(session, tenant.id)
                await session.commit()
    finally:
        await engine.dispose()


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "database_url", None):
        # Through the environment, so that every uvicorn worker process sees it too.
        os.environ["LRS_DATABASE_URL"] = args.database_url
    return Settings()


def _administer(
    args: argparse.Namespace, action: Callable[[AsyncSession, Actor, Settings], Awaitable[Any]]
) -> Any:
    """Runs one administrative action in one transaction on a migrated database."""
    settings = _settings(args)

    async def run() -> Any:
        await _prepare_database(settings)
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                result = await action(
                    session, Actor(f"cli:{getpass.getuser()}", "cli", None), settings
                )
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = _settings(args)
    demo = settings.environment == "development"
    asyncio.run(_prepare_database(settings, demo=demo))
    print(f"xAPI endpoint: http://{args.host}:{args.port}/xapi/")
    if demo:
        print(f"cmi5 demo:     course {SAMPLE_COURSE_ID} (see README, cmi5)")
    if settings.admin_key and settings.admin_secret:
        scopes = "all, admin, cmi5/launch"
        print(f"credential:    {settings.admin_key} / {settings.admin_secret} ({scopes})")
    uvicorn.run(
        "lrs.app:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=log_config("info"),
        access_log=False,  # RequestMiddleware writes the access log, with request ids
        proxy_headers=True,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def _migrate(args: argparse.Namespace) -> None:
    asyncio.run(_prepare_database(_settings(args)))
    print("database is at the newest schema")


def _tenants_create(args: argparse.Namespace) -> None:
    async def action(session: AsyncSession, actor: Actor, _settings: Settings) -> None:
        await tenancy.create_tenant(session, actor, args.name, args.parent, args.retention_days)

    _administer(args, action)
    print(f"tenant {args.name} created")


def _tenants_list(args: argparse.Namespace) -> None:
    async def action(session: AsyncSession, actor: Actor, _settings: Settings) -> Any:
        tenants = await tenancy.list_tenants(session, actor)
        names = {tenant.id: tenant.name for tenant in tenants}
        return [tenancy.tenant_json(tenant, names) for tenant in tenants]

    _print_json(_administer(args, action))


def _tenants_retention(args: argparse.Namespace) -> None:
    days = None if args.days == "none" else int(args.days)

    async def action(session: AsyncSession, actor: Actor, _settings: Settings) -> None:
        await tenancy.set_retention(session, actor, args.name, days)

    _administer(args, action)
    print(f"tenant {args.name}: retention {args.days}")


def _credentials_create(args: argparse.Namespace) -> None:
    request = CredentialRequest(
        tenant=args.tenant,
        role=auth_service.parse_role(args.role) if args.role else None,
        scopes=auth_service.parse_scopes(args.scopes or ""),
        rollup=args.rollup,
        key=args.key,
        secret=args.secret,
        name=args.name,
        expires_at=datetime.fromisoformat(args.expires_at) if args.expires_at else None,
    )

    async def action(session: AsyncSession, actor: Actor, _settings: Settings) -> Any:
        # The command line makes a tenant it is told about, as a root tenant.
        await auth_service.ensure_tenant(session, args.tenant)
        return await tenancy.create_credential(session, actor, request)

    made = _administer(args, action)
    print(f"credential {made.row.key} created on tenant {args.tenant}")
    if args.secret is None:
        print(f"secret: {made.secret}  (shown this once)")


def _credentials_list(args: argparse.Namespace) -> None:
    async def action(session: AsyncSession, actor: Actor, _settings: Settings) -> Any:
        return [
            tenancy.credential_json(row, tenant)
            for row, tenant in await tenancy.list_credentials(session, actor)
        ]

    _print_json(_administer(args, action))


def _credentials_revoke(args: argparse.Namespace) -> None:
    async def action(session: AsyncSession, actor: Actor, _settings: Settings) -> None:
        await tenancy.revoke_credential(session, actor, args.key)

    _administer(args, action)
    print(f"credential {args.key} revoked")


def _directory_import(args: argparse.Namespace) -> None:
    path = Path(args.file)
    content_type = {".csv": "text/csv", ".json": "application/json"}.get(path.suffix.lower())
    if content_type is None:
        raise BadRequest("a directory file ends in .csv or .json", "FILE")
    entries = tenancy.parse_directory(content_type, path.read_bytes())

    async def action(session: AsyncSession, actor: Actor, _settings: Settings) -> int:
        return await tenancy.import_people(session, actor, args.tenant, entries)

    print(f"{_administer(args, action)} people imported into {args.tenant}")


def _directory_list(args: argparse.Namespace) -> None:
    async def action(session: AsyncSession, actor: Actor, _settings: Settings) -> Any:
        people = await tenancy.list_people(
            session, actor, args.tenant, org_unit=args.org_unit, audience=args.audience
        )
        return [tenancy.person_json(person, args.tenant) for person in people]

    _print_json(_administer(args, action))


def _audit(args: argparse.Namespace) -> None:
    async def action(session: AsyncSession, actor: Actor, _settings: Settings) -> Any:
        return await tenancy.audit(session, actor, since=None, action=args.action, limit=args.limit)

    _print_json(_administer(args, action))


def _analytics_hooks(settings: Settings) -> StatementHooks:
    """The learner models hear of the command line's erasures and retention (whether or not
    the server keeps them current: what is kept of a learner must go either way)."""
    hooks = StatementHooks()
    Analytics.configured(settings).install(hooks)
    return hooks


def _erase(args: argparse.Namespace) -> None:
    request = ErasureRequest(agent=json.loads(args.agent), tenant=args.tenant, mode=args.mode)

    async def action(session: AsyncSession, actor: Actor, settings: Settings) -> Any:
        hooks = _analytics_hooks(settings)
        return await tenancy.erase(
            session, actor, request, settings.token_secret, settings.public_url, hooks
        )

    _print_json(_administer(args, action))


def _retention_apply(args: argparse.Namespace) -> None:
    async def action(session: AsyncSession, actor: Actor, settings: Settings) -> Any:
        return await run_retention(session, actor, _analytics_hooks(settings))

    _print_json(_administer(args, action))


def _cmi5_import(args: argparse.Namespace) -> None:
    path = Path(args.package)
    content_type = "application/zip" if path.suffix.lower() == ".zip" else "application/xml"
    package = path.read_bytes()

    async def action(session: AsyncSession, _actor: Actor, settings: Settings) -> Any:
        tenant = await auth_service.tenant_named(session, args.tenant)
        cmi5 = Cmi5.configured(settings, StatementHooks())
        course = await cmi5.import_course(
            session, cmi5.tenant_principal(tenant.id), content_type, package
        )
        return cmi5.describe_course(course)

    _print_json(_administer(args, action))


async def _tenants_for(session: AsyncSession, name: str | None) -> list[TenantRow]:
    """The tenant named and those below it; every tenant when none is named."""
    if name is None:
        return await auth_store.all_tenants(session)
    return await auth_store.subtree(session, (await auth_service.tenant_named(session, name)).path)


def _analytics_rebuild(args: argparse.Namespace) -> None:
    async def action(session: AsyncSession, _actor: Actor, settings: Settings) -> Any:
        analytics = Analytics.configured(settings)
        done = {}
        for tenant in await _tenants_for(session, args.tenant):
            done[tenant.name] = asdict(await analytics.rebuild(session, tenant.id))
        return done

    _print_json(_administer(args, action))


def _analytics_fit(args: argparse.Namespace) -> None:
    async def action(session: AsyncSession, _actor: Actor, settings: Settings) -> Any:
        analytics = Analytics.configured(settings)
        done = {}
        tenants = await _tenants_for(session, args.tenant)
        # Every answer stored counts: what is queued is folded first, as the server folds it.
        await session.commit()
        sessionmaker = create_sessionmaker(cast(AsyncEngine, session.bind))  # _administer's
        await analytics.drain(sessionmaker, [t.id for t in tenants], wait=True)
        for tenant in tenants:
            fitted = await analytics.fit(session, tenant.id)
            curve = fitted.forgetting
            done[tenant.name] = {
                "mastery": {
                    skill or "(tenant default)": {
                        **fit.parameters.as_dict(),
                        "sequences": fit.sequences,
                        "answers": fit.observations,
                        "iterations": fit.iterations,
                    }
                    for skill, fit in fitted.mastery.items()
                },
                "forgetting": {
                    "verdict": curve.verdict,
                    "parameters": curve.parameters,  # null: FSRS's defaults
                    "spaced_reviews": curve.reviews,
                    "held_out_reviews": curve.held_out,
                    "held_out_log_loss": curve.log_loss,
                    "held_out_default_log_loss": curve.default_log_loss,
                },
            }
        return done

    _print_json(_administer(args, action))


def _openapi(_args: argparse.Namespace) -> None:
    from lrs.app import create_app

    print(json.dumps(create_app().openapi(), indent=2, sort_keys=True))


def _command(
    group: Any, name: str, help_text: str, run: Callable[[argparse.Namespace], None]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text)
    parser.add_argument("--database-url")
    parser.set_defaults(run=run)
    return parser


def console() -> None:
    """The installed `lrs` command: `main` with the collector tuned as a served worker's (a
    rebuild folds a million statements: 15 % less CPU for 20,000 in a throwaway A/B)."""
    from lrs.app import tune_collector

    tune_collector()
    main()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lrs", description="xAPI Learning Record Store")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = _command(commands, "serve", "migrate, then serve the LRS", _serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    _command(commands, "migrate", "bring the database to the newest schema", _migrate)

    tenants = commands.add_parser("tenants", help="the tenant tree").add_subparsers(
        dest="action", required=True
    )
    create_tenant = _command(tenants, "create", "create a tenant", _tenants_create)
    create_tenant.add_argument("name")
    create_tenant.add_argument("--parent", help="parent tenant (default: a root tenant)")
    create_tenant.add_argument("--retention-days", type=int)
    _command(tenants, "list", "list every tenant", _tenants_list)
    retention = _command(tenants, "retention", "set a tenant's retention", _tenants_retention)
    retention.add_argument("name")
    retention.add_argument("days", help="days, or 'none' to inherit the parent's")

    credentials = commands.add_parser("credentials", help="manage credentials").add_subparsers(
        dest="action", required=True
    )
    create = _command(credentials, "create", "create a key/secret credential", _credentials_create)
    create.add_argument("--key", help="default: generated")
    create.add_argument("--secret", help="default: generated and printed once")
    create.add_argument("--role", help="content, lms, analyst, admin or auditor")
    create.add_argument("--scopes", help="comma-separated scopes, added to the role's")
    create.add_argument("--rollup", action=argparse.BooleanOptionalAction, default=None)
    create.add_argument("--tenant", default=Settings().default_tenant)
    create.add_argument("--name")
    create.add_argument("--expires-at", help="ISO 8601 with offset")
    _command(credentials, "list", "list credentials (never their secrets)", _credentials_list)
    revoke = _command(credentials, "revoke", "revoke a credential", _credentials_revoke)
    revoke.add_argument("key")

    directory = commands.add_parser("directory", help="the learner directory").add_subparsers(
        dest="action", required=True
    )
    directory_import = _command(directory, "import", "import a CSV or JSON file", _directory_import)
    directory_import.add_argument("file")
    directory_import.add_argument("--tenant", required=True)
    directory_list = _command(directory, "list", "list a tenant's directory", _directory_list)
    directory_list.add_argument("--tenant", required=True)
    directory_list.add_argument("--org-unit")
    directory_list.add_argument("--audience", choices=["employee", "customer", "partner"])

    audit = _command(commands, "audit", "the audit log, newest first", _audit)
    audit.add_argument("--action", help="only this action, e.g. credential.revoke")
    audit.add_argument("--limit", type=int, default=100)

    erase = _command(commands, "erase", "erase everything stored of one learner", _erase)
    erase.add_argument("--agent", required=True, help="the learner's Agent, as JSON")
    erase.add_argument("--tenant", required=True, help="erases in it and the tenants below")
    erase.add_argument("--mode", choices=["delete", "pseudonymise"], default="delete")

    retention_commands = commands.add_parser("retention", help="retention policies").add_subparsers(
        dest="action", required=True
    )
    _command(retention_commands, "apply", "apply every tenant's retention now", _retention_apply)

    cmi5_commands = commands.add_parser("cmi5", help="cmi5 courses").add_subparsers(
        dest="action", required=True
    )
    cmi5_import = _command(
        cmi5_commands, "import", "import a cmi5.xml or a zip course package", _cmi5_import
    )
    cmi5_import.add_argument("package")
    cmi5_import.add_argument("--tenant", default=Settings().default_tenant)

    analytics_commands = commands.add_parser("analytics", help="learner models").add_subparsers(
        dest="action", required=True
    )
    rebuild = _command(
        analytics_commands, "rebuild", "make learner models again from stored statements",
        _analytics_rebuild,
    )  # fmt: skip
    rebuild.add_argument("--tenant", help="this tenant and those below it (default: all)")
    fit = _command(
        analytics_commands, "fit", "fit mastery parameters to the answers, then refold",
        _analytics_fit,
    )  # fmt: skip
    fit.add_argument("--tenant", help="this tenant and those below it (default: all)")

    openapi = commands.add_parser("openapi", help="print the OpenAPI document")
    openapi.set_defaults(run=_openapi)

    args = parser.parse_args(argv)
    try:
        args.run(args)
    except XAPIError as error:
        sys.exit(
            f"lrs: {error.message} ({error.field})" if error.field else f"lrs: {error.message}"
        )
    except ValueError as error:
        sys.exit(f"lrs: {error}")
    except KeyboardInterrupt:
        sys.exit(130)
