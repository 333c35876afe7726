"""POST /oauth/token: the client-credentials grant (RFC 6749 4.4) and bearer tokens."""

from __future__ import annotations

import base64
import json

import httpx
from fastapi import FastAPI

from auth import store, tokens
from auth.models import Principal, Scope
from auth.service import revoke_credential
from lrs.db import create_sessionmaker
from tests.conftest import client_for, make_credential
from tests.factories import statement

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def token_for(
    app: FastAPI, authorization: str | None, body: str = "grant_type=client_credentials"
) -> httpx.Response:
    async with client_for(app, authorization) as client:
        return await client.post("/oauth/token", content=body, headers=FORM)


def bearer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return f"Bearer {response.json()['access_token']}"


async def test_a_token_acts_with_its_credentials_scopes(app: FastAPI) -> None:
    authorization, _ = await make_credential(app, [Scope.STATEMENTS_WRITE, Scope.STATEMENTS_READ])
    response = await token_for(app, authorization)
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == app.state.settings.token_seconds
    assert body["scope"] == "statements/read statements/write"
    async with client_for(app, bearer(response)) as client:
        posted = await client.post("/xapi/statements", json=statement())
        assert posted.status_code == 200
        fetched = await client.get("/xapi/statements", params={"statementId": posted.json()[0]})
    assert fetched.status_code == 200
    assert fetched.json()["authority"]["account"]["name"].startswith("key-")


async def test_client_id_and_secret_may_come_in_the_form(app: FastAPI) -> None:
    authorization, key = await make_credential(app, [Scope.ALL])
    secret = base64.b64decode(authorization.split()[1]).decode().split(":", 1)[1]
    response = await token_for(
        app, None, f"grant_type=client_credentials&client_id={key}&client_secret={secret}"
    )
    assert response.status_code == 200


async def test_a_token_may_narrow_but_never_widen_scopes(app: FastAPI) -> None:
    authorization, _ = await make_credential(app, [Scope.STATEMENTS_WRITE, Scope.STATEMENTS_READ])
    narrowed = await token_for(
        app, authorization, "grant_type=client_credentials&scope=statements/read"
    )
    async with client_for(app, bearer(narrowed)) as client:
        assert (await client.get("/xapi/statements")).status_code == 200
        refused = await client.post("/xapi/statements", json=statement())
    assert refused.status_code == 403
    widened = await token_for(app, authorization, "grant_type=client_credentials&scope=all")
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_scope"
    unknown = await token_for(app, authorization, "grant_type=client_credentials&scope=everything")
    assert unknown.json()["error"] == "invalid_scope"


async def test_oauth_errors_follow_rfc_6749(app: FastAPI) -> None:
    authorization, key = await make_credential(app, [Scope.ALL])
    grant = await token_for(app, authorization, "grant_type=password")
    assert grant.status_code == 400
    assert grant.json()["error"] == "unsupported_grant_type"
    wrong = await token_for(
        app, None, f"grant_type=client_credentials&client_id={key}&client_secret=wrong-secret"
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    # A token does not buy another token.
    token = bearer(await token_for(app, authorization))
    again = await token_for(app, token)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"


async def test_forged_and_expired_tokens_are_401(app: FastAPI) -> None:
    authorization, key = await make_credential(app, [Scope.STATEMENTS_READ])
    token = bearer(await token_for(app, authorization)).split()[1]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "all admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    settings = app.state.settings
    holder = Principal(
        tenant_id=0, credential_id=claims["cid"], key=key, scopes=frozenset(), authority={}
    )
    expired = tokens.issue(
        holder, frozenset({Scope.STATEMENTS_READ}), settings.token_secret, settings.public_url, -5
    )
    other_issuer = tokens.issue(
        holder, frozenset({Scope.STATEMENTS_READ}), settings.token_secret, "https://evil", 60
    )
    cases = {
        f"Bearer {header}.{forged_payload}.{signature}": "not valid",
        f"Bearer {expired}": "expired",
        f"Bearer {other_issuer}": "not valid",
        "Bearer x": "not valid",
    }
    for bad, reason in cases.items():
        async with client_for(app, bad) as client:
            response = await client.get("/xapi/statements")
        assert response.status_code == 401, bad
        assert reason in response.json()["error"]["message"]


async def test_revoking_the_credential_ends_its_tokens(app: FastAPI) -> None:
    authorization, key = await make_credential(app, [Scope.STATEMENTS_READ])
    token = bearer(await token_for(app, authorization))
    async with client_for(app, token) as client:
        assert (await client.get("/xapi/statements")).status_code == 200
        async with create_sessionmaker(app.state.engine)() as session:
            row = await store.credential_by_key(session, key)
            assert row is not None
            await revoke_credential(session, row)
            await session.commit()
        app.state.authenticator.forget()
        response = await client.get("/xapi/statements")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
