"""Credentials: roles mapped onto scopes, 403 naming the missing scope, 401 once expired or
revoked, last-used time, and the audit log of admin actions."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from auth.models import Scope
from lrs import cli
from tests.conftest import client_for, make_credential
from tests.tenancy.conftest import Group, new_credential


async def test_each_role_gets_its_scopes(group: Group) -> None:
    async with group.admin_client() as admin:
        credentials = {c["key"]: c for c in (await admin.get("/admin/credentials")).json()}
    by_role = {c["role"]: c for c in credentials.values() if c["role"]}
    assert set(by_role["content"]["scopes"]) == {"statements/write", "state"}
    assert set(by_role["lms"]["scopes"]) == {
        "statements/write",
        "statements/read",
        "state",
        "profile",
        "define",
        "cmi5/launch",
    }
    assert set(by_role["analyst"]["scopes"]) == {"statements/read", "reports/read"}
    assert set(by_role["auditor"]["scopes"]) == {"all/read", "reports/read", "audit/read"}
    assert by_role["analyst"]["rollup"]
    assert by_role["auditor"]["rollup"]
    assert not by_role["lms"]["rollup"]
    assert not by_role["content"]["rollup"]
    assert all("secret" not in c and "secret_hash" not in c for c in credentials.values())


async def test_a_missing_scope_is_a_403_naming_it(group: Group) -> None:
    async with group.client("content@sub-b") as content:
        response = await content.get("/xapi/statements")
        assert response.status_code == 403
        assert "statements/read" in response.json()["error"]["message"]
        response = await content.get("/admin/tenants")
        assert response.status_code == 403
        assert "admin" in response.json()["error"]["message"]
    async with group.client("analyst@group") as analyst:
        response = await analyst.post(
            "/xapi/statements",
            json={
                "actor": {"mbox": "mailto:a@b.c"},
                "verb": {"id": "http://v.example/x"},
                "object": {"id": "http://a.example/x"},
            },
        )
        assert response.status_code == 403
        assert "statements/write" in response.json()["error"]["message"]
        response = await analyst.get("/admin/audit")
        assert response.status_code == 403
        assert "audit/read" in response.json()["error"]["message"]


async def test_all_does_not_grant_the_lrs_own_scopes(app: FastAPI) -> None:
    """`all` is every xAPI scope (Communication 4.2); admin rights are granted by name."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        assert (await client.get("/xapi/statements")).status_code == 200
        assert (await client.get("/admin/tenants")).status_code == 403


async def test_an_expired_credential_is_a_401(app: FastAPI) -> None:
    """Expiry holds even while the verified credential is cached."""
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    authorization, _ = await make_credential(app, [Scope.ALL], expires_at=expires_at)
    async with client_for(app, authorization) as client:
        assert (await client.get("/xapi/statements")).status_code == 200
        await asyncio.sleep((expires_at - datetime.now(UTC)).total_seconds() + 0.05)
        response = await client.get("/xapi/statements")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


async def test_a_revoked_credential_is_a_401_at_once(group: Group) -> None:
    async with group.admin_client() as admin:
        authorization, made = await new_credential(admin, group.names["sub-a"], role="lms")
        async with client_for(group.app, authorization) as client:
            assert (await client.get("/xapi/statements")).status_code == 200
            response = await admin.post(f"/admin/credentials/{made['key']}/revoke")
            assert response.status_code == 200
            assert response.json()["revoked_at"]
            response = await client.get("/xapi/statements")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


async def test_last_use_is_recorded(group: Group) -> None:
    async with group.admin_client() as admin:
        authorization, made = await new_credential(admin, group.names["sub-b"], role="content")
        assert made["last_used_at"] is None
        async with client_for(group.app, authorization) as client:
            await client.get("/xapi/about")  # unauthenticated: not a use
            unused = (await admin.get(f"/admin/credentials/{made['key']}")).json()
            assert unused["last_used_at"] is None
            await client.put(
                "/xapi/activities/state",
                params={
                    "activityId": "http://example.com/a",
                    "agent": '{"mbox": "mailto:a@example.com"}',
                    "stateId": "s",
                },
                content=b"x",
            )
        used = (await admin.get(f"/admin/credentials/{made['key']}")).json()
    assert used["last_used_at"] is not None


async def test_generated_secrets_are_shown_once(group: Group) -> None:
    async with group.admin_client() as admin:
        _, made = await new_credential(admin, group.names["sub-b"], role="lms")
        again = (await admin.get(f"/admin/credentials/{made['key']}")).json()
    assert len(made["secret"]) >= 24
    assert "secret" not in again


async def test_bad_credential_requests_name_the_field(group: Group) -> None:
    async with group.admin_client() as admin:
        cases = [
            ({"tenant": group.names["sub-a"]}, "scopes"),
            ({"tenant": group.names["sub-a"], "role": "owner"}, "role"),
            ({"tenant": group.names["sub-a"], "scopes": ["statements/all"]}, "scopes"),
            ({"tenant": group.names["sub-a"], "role": "lms", "secret": "short"}, "secret"),
            (
                {"tenant": group.names["sub-a"], "role": "lms", "expires_at": "2001-01-01T00:00Z"},
                "expires_at",
            ),
            ({"tenant": group.names["sub-a"], "role": "lms", "colour": "red"}, "colour"),
        ]
        for body, field in cases:
            response = await admin.post("/admin/credentials", json=body)
            assert response.status_code == 400, (body, response.text)
            assert field in response.json()["error"]["field"], (body, response.json())


async def test_admin_actions_are_audited_and_auditors_read_them(group: Group) -> None:
    """Who, what, when and from where; the auditor of sub-a reads sub-a's subtree only."""
    async with group.admin_client() as admin:
        await admin.patch(f"/admin/tenants/{group.names['dept-a1']}", json={"retention_days": 30})
    async with group.client("auditor@sub-a") as auditor:
        response = await auditor.get("/admin/audit")
    assert response.status_code == 200
    entries = response.json()
    assert {e["tenant"] for e in entries} <= {group.names["sub-a"], group.names["dept-a1"]}
    retention = next(e for e in entries if e["action"] == "tenant.retention")
    assert retention["target"] == group.names["dept-a1"]
    assert retention["detail"] == {"retention_days": 30}
    assert retention["source"] == "127.0.0.1"
    assert retention["actor"].startswith("key-")
    assert datetime.fromisoformat(retention["at"]) <= datetime.now(UTC)
    actions = {e["action"] for e in entries}
    assert {"tenant.create", "credential.create", "tenant.retention"} <= actions


async def test_tenant_names_are_checked(group: Group) -> None:
    async with group.admin_client() as admin:
        response = await admin.post("/admin/tenants", json={"name": "has space"})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "name"
        response = await admin.post("/admin/tenants", json={"name": group.names["sub-a"]})
        assert response.status_code == 409
        name = f"new-{uuid.uuid4().hex[:6]}"
        response = await admin.post("/admin/tenants", json={"name": name})
        assert response.status_code == 201
        assert response.json()["parent"] == group.names["group"]


def test_the_cli_administers_tenants_and_credentials(
    cli_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["tenants", "create", "holding"])
    cli.main(["tenants", "create", "plant", "--parent", "holding", "--retention-days", "90"])
    cli.main(["credentials", "create", "--tenant", "plant", "--role", "content", "--key", "p1"])
    assert "secret:" in capsys.readouterr().out
    cli.main(["credentials", "revoke", "p1"])
    capsys.readouterr()
    cli.main(["credentials", "list"])
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["key"] == "p1"
    assert listed["revoked_at"]
    assert listed["tenant"] == "plant"
    cli.main(["tenants", "list"])
    tenants = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert tenants["plant"]["parent"] == "holding"
    assert tenants["plant"]["retention_days"] == 90
    with pytest.raises(SystemExit, match="no tenant named 'nowhere'"):
        cli.main(["tenants", "create", "x", "--parent", "nowhere"])
