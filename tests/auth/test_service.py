"""Credentials: hashed secrets, scopes, the authority a credential writes as."""

from __future__ import annotations

import pytest

from auth.models import Scope
from auth.service import authority_for, hash_secret, parse_scopes, verify_secret
from lrs import cli
from lrs.errors import BadRequest


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
