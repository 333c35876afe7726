"""Credentials: hashed secrets, scopes, the authority a credential writes as."""

from __future__ import annotations

import asyncio
import base64

import pytest
from fastapi import FastAPI

from auth import service as auth_service
from auth.models import Principal, Scope
from auth.service import Authenticator, authority_for, hash_secret, parse_scopes, verify_secret
from lrs import cli
from lrs.db import create_sessionmaker
from lrs.errors import BadRequest, Unauthorized
from tests.conftest import make_credential


def test_secret_is_stored_hashed_and_verifies() -> None:
    hashed = hash_secret("s3cret-value")
    assert "s3cret-value" not in hashed
    assert hashed.startswith("scrypt$")
    assert verify_secret("s3cret-value", hashed)
    assert not verify_secret("other", hashed)
    assert hash_secret("s3cret-value") != hashed  # salted


def test_scopes_parse_and_unknown_is_refused() -> None:
    """Communication 4.2 table 1 names the scopes."""
    assert parse_scopes("statements/write,state define") == [
        Scope.STATEMENTS_WRITE,
        Scope.STATE,
        Scope.DEFINE,
    ]
    with pytest.raises(BadRequest, match="unknown scope"):
        parse_scopes("statements/everything")


def test_authority_is_an_account_agent() -> None:
    """Data 2.4.9: the authority is an Agent identified by an account on this LRS."""
    assert authority_for("k", "Name", "https://lrs.example.com") == {
        "objectType": "Agent",
        "name": "Name",
        "account": {"homePage": "https://lrs.example.com", "name": "k"},
    }


def test_cli_creates_credential_once(cli_database: str) -> None:
    url = cli_database
    arguments = ["credentials", "create", "--key", "k1", "--secret", "s1-secret", "--role", "lms"]
    cli.main([*arguments, "--database-url", url])
    with pytest.raises(SystemExit, match="already exists"):
        cli.main([*arguments, "--database-url", url])
    with pytest.raises(SystemExit, match="at least 8 characters"):
        cli.main(["credentials", "create", "--secret", "short", "--role", "lms"])


async def test_concurrent_first_requests_hash_the_secret_once(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client opening with many concurrent requests pays the slow hash once, not once per
    request (each costs ~40 ms of CPU); a wrong secret still fails every time."""
    header, key = await make_credential(app, [Scope.ALL])
    secret = base64.b64decode(header.split()[1]).decode().split(":", 1)[1]
    hashed: list[str] = []

    def counting_verify(candidate: str, secret_hash: str) -> bool:
        hashed.append(candidate)
        return verify_secret(candidate, secret_hash)

    monkeypatch.setattr(auth_service, "verify_secret", counting_verify)
    authenticator: Authenticator = app.state.authenticator
    authenticator.forget()

    async def verify(candidate: str) -> Principal:
        async with create_sessionmaker(app.state.engine)() as session:
            return await authenticator.verify_basic(session, key, candidate)

    principals = await asyncio.gather(*(verify(secret) for _ in range(8)))
    assert {principal.key for principal in principals} == {key}
    assert hashed == [secret]
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await verify("wrong")
    assert hashed == [secret, "wrong", "wrong"]


async def test_a_verification_overtaken_by_forget_is_not_trusted_later(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revocation (forget) while a credential's slow hash is being checked must not leave
    the credential trusted afterwards: the next request checks it again."""
    header, key = await make_credential(app, [Scope.ALL])
    secret = base64.b64decode(header.split()[1]).decode().split(":", 1)[1]
    authenticator: Authenticator = app.state.authenticator
    authenticator.forget()
    hashed: list[str] = []

    def verify_while_revoked(candidate: str, secret_hash: str) -> bool:
        hashed.append(candidate)
        if len(hashed) == 1:
            authenticator.forget()  # what a revocation elsewhere in this process does
        return verify_secret(candidate, secret_hash)

    monkeypatch.setattr(auth_service, "verify_secret", verify_while_revoked)
    for _ in range(2):
        async with create_sessionmaker(app.state.engine)() as session:
            await authenticator.verify_basic(session, key, secret)
    assert len(hashed) == 2  # the first answer was not cached
