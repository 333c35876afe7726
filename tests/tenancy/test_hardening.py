"""Findings of the tenancy review, each kept fixed: bounded retention, non-rollup admins
and auditors confined to their own tenant, directory identities only for statement
readers, out-of-range input answered 4xx, stricter-only retention below a group."""

from __future__ import annotations

import hashlib
import json

import pytest

from auth import store as auth_store
from auth.service import effective_retention
from lrs.db import create_sessionmaker
from tests.conftest import client_for
from tests.tenancy.conftest import LEARNER, Group, new_credential


async def test_retention_days_are_bounded(group: Group) -> None:
    async with group.admin_client() as admin:
        for days in (0, 36_501, 2**40):
            response = await admin.patch(
                f"/admin/tenants/{group.names['sub-a']}", json={"retention_days": days}
            )
            assert response.status_code == 400, days
            assert response.json()["error"]["field"].endswith("retention_days")
        response = await admin.post("/admin/tenants", json={"name": "x-y", "retention_days": 10**9})
        assert response.status_code == 400


async def test_a_subsidiary_can_only_shorten_the_groups_retention(group: Group) -> None:
    async with group.admin_client() as admin:
        await admin.patch(f"/admin/tenants/{group.names['group']}", json={"retention_days": 30})
        await admin.patch(f"/admin/tenants/{group.names['sub-a']}", json={"retention_days": 900})
        await admin.patch(f"/admin/tenants/{group.names['sub-b']}", json={"retention_days": 7})
    async with create_sessionmaker(group.app.state.engine)() as session:
        policies = await effective_retention(session)
        ids = {}
        for short in ("group", "sub-a", "dept-a1", "sub-b"):
            tenant = await auth_store.tenant_by_name(session, group.names[short])
            assert tenant is not None
            ids[short] = tenant.id
    assert {short: policies[tenant_id] for short, tenant_id in ids.items()} == {
        "group": 30,
        "sub-a": 30,
        "dept-a1": 30,
        "sub-b": 7,
    }


async def test_credentials_without_rollup_administer_their_own_tenant_only(group: Group) -> None:
    async with group.admin_client() as admin:
        await admin.patch(f"/admin/tenants/{group.names['dept-a1']}", json={"retention_days": 9})
        auditor, _ = await new_credential(admin, group.names["sub-a"], role="auditor", rollup=False)
        custom_admin, _ = await new_credential(
            admin, group.names["sub-a"], scopes=["admin"], rollup=False
        )
    async with client_for(group.app, auditor) as client:
        entries = (await client.get("/admin/audit")).json()
    assert entries
    assert {entry["tenant"] for entry in entries} == {group.names["sub-a"]}
    async with client_for(group.app, custom_admin) as client:
        names = {t["name"] for t in (await client.get("/admin/tenants")).json()}
        response = await client.get(f"/admin/directory/{group.names['dept-a1']}")
    assert names == {group.names["sub-a"]}
    assert response.status_code == 404


async def test_directory_identities_only_reach_statement_readers(group: Group) -> None:
    async with group.admin_client() as admin:
        await admin.put(
            f"/admin/directory/{group.names['sub-b']}/p-1",
            json={"name": "Pat Doe", "agents": [{"mbox": LEARNER["mbox"]}]},
        )
    params = {"agent": json.dumps({"mbox": LEARNER["mbox"]})}
    async with group.client("content@sub-b") as content:
        person = (await content.get("/xapi/agents", params=params)).json()
    async with group.client("lms@sub-b") as lms:
        linked = (await lms.get("/xapi/agents", params=params)).json()
    assert person == {"objectType": "Person", "mbox": [LEARNER["mbox"]]}
    assert linked["name"] == ["Pat Doe"]


@pytest.mark.parametrize(
    ("method", "path", "body", "params"),
    [
        (
            "POST",
            "/admin/credentials",
            {"role": "lms", "expires_at": "9999-12-31T20:00:00-10:00"},
            {},
        ),
        ("GET", "/admin/audit", None, {"since": "0001-01-01T00:00:00+05:00"}),
        ("GET", "/admin/credentials/a%00b", None, {}),
        ("GET", "/admin/directory/a%00b", None, {}),
    ],
)
async def test_out_of_range_admin_input_is_a_4xx(
    group: Group, method: str, path: str, body: dict[str, str] | None, params: dict[str, str]
) -> None:
    if body is not None:
        body = {"tenant": group.names["sub-a"], **body}
    async with group.admin_client() as admin:
        response = await admin.request(method, path, json=body, params=params)
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "field"),
    [
        ("GET", "/admin/audit", None, {"since": "0.5"}, "query.since"),
        ("PATCH", "/admin/tenants/{sub-a}", {"retention_days": True}, {}, "body.retention_days"),
        ("PATCH", "/admin/tenants/{sub-a}", {"retention_days": 30.0}, {}, "body.retention_days"),
        ("POST", "/admin/credentials", {"rollup": "yes"}, {}, "body.rollup"),
        ("POST", "/admin/credentials", {"expires_at": 1_900_000_000}, {}, "body.expires_at"),
    ],
)
async def test_admin_input_is_taken_as_typed(
    group: Group,
    method: str,
    path: str,
    body: dict[str, object] | None,
    params: dict[str, str],
    field: str,
) -> None:
    """No coercion (found by make fuzz): a time is ISO 8601 text, not a Unix time; a number
    of days an integer; a flag true or false, not "yes"."""
    if body is not None and path == "/admin/credentials":
        body = {"tenant": group.names["sub-a"], **body}
    async with group.admin_client() as admin:
        response = await admin.request(
            method, path.replace("{sub-a}", group.names["sub-a"]), json=body, params=params
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


async def test_a_nul_in_a_token_request_is_not_a_500(group: Group) -> None:
    async with client_for(group.app, None) as client:
        response = await client.post(
            "/oauth/token",
            content="grant_type=client_credentials&client_id=a%00b&client_secret=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code in (400, 401), response.text


async def test_erasure_by_an_mbox_finds_directory_people_listed_by_its_sha1(group: Group) -> None:
    sha1 = hashlib.sha1(LEARNER["mbox"].encode()).hexdigest()  # noqa: S324 - xAPI's hash
    async with group.admin_client() as admin:
        await admin.put(
            f"/admin/directory/{group.names['sub-b']}/p-2",
            json={"agents": [{"mbox_sha1sum": sha1}]},
        )
        response = await admin.post(
            "/admin/erasure",
            json={"agent": {"mbox": LEARNER["mbox"]}, "tenant": group.names["sub-b"]},
        )
    assert response.json()["people_deleted"] == 1
