"""Erasure on request and retention per tenant: what is deleted, what is pseudonymised,
what stays, and the audit entries they leave."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from auth import store as auth_store
from lrs.db import create_sessionmaker
from statements.attachments import AttachmentPart, build_multipart_mixed
from statements.tables import attachments
from tenancy.service import Actor, apply_retention
from tests.factories import agent, statement
from tests.tenancy.conftest import LEARNER, Group, state_params

ACCOUNT = {"homePage": "https://hr.example.com", "name": "pat.doe"}
ATTACHMENT = b"pat's certificate"


async def ids_for(client: httpx.AsyncClient, who: dict[str, Any], related: bool) -> list[str]:
    params = {"agent": json.dumps(who), "related_agents": str(related).lower()}
    response = await client.get("/xapi/statements", params=params)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["statements"]]


async def stored_attachments(group: Group) -> int:
    async with create_sessionmaker(group.app.state.engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(attachments)) or 0)


async def record_more_of_pat(group: Group) -> dict[str, str]:
    """In sub-a: a statement where pat instructs, one by pat's HR account (linked to pat
    by the directory), one by pat with an attachment, and pat's Agent Profile."""
    async with group.admin_client() as admin:
        response = await admin.put(
            f"/admin/directory/{group.names['sub-a']}/hr-1",
            json={"name": "Pat", "agents": [{"mbox": LEARNER["mbox"]}, {"account": ACCOUNT}]},
        )
        assert response.status_code == 200
    sha2 = hashlib.sha256(ATTACHMENT).hexdigest()
    with_attachment = statement(
        actor=LEARNER,
        attachments=[
            {
                "usageType": "http://id.tincanapi.com/attachment/certificate",
                "display": {"en-US": "certificate"},
                "contentType": "text/plain",
                "length": len(ATTACHMENT),
                "sha2": sha2,
            }
        ],
    )
    content_type, body = build_multipart_mixed(
        json.dumps(with_attachment).encode(), [AttachmentPart(sha2, "text/plain", ATTACHMENT)]
    )
    ids = {}
    async with group.client("lms@sub-a") as client:
        for name, sent in (
            ("instructed", statement(actor=agent("coach"), context={"instructor": LEARNER})),
            ("by_account", statement(actor={"account": ACCOUNT})),
        ):
            ids[name] = (await client.post("/xapi/statements", json=sent)).json()[0]
        response = await client.post(
            "/xapi/statements", content=body, headers={"Content-Type": content_type}
        )
        assert response.status_code == 200, response.text
        ids["attached"] = response.json()[0]
        response = await client.put(
            "/xapi/agents/profile",
            params={"agent": json.dumps({"mbox": LEARNER["mbox"]}), "profileId": "prefs"},
            content=b"{}",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 204, response.text
    return ids


async def test_erasure_deletes_the_learners_records_in_the_subtree(group: Group) -> None:
    ids = await record_more_of_pat(group)
    assert await stored_attachments(group) == 1
    async with group.admin_client() as admin:
        response = await admin.post(
            "/admin/erasure",
            json={"agent": {"mbox": LEARNER["mbox"]}, "tenant": group.names["sub-a"]},
        )
        assert response.status_code == 200, response.text
        # sub-a and dept-a1 each had pat's statement; sub-a three more of pat as actor or
        # instructor; the State documents of both and the Agent Profile.
        assert response.json() == {
            "statements_deleted": 4,
            "statements_pseudonymised": 1,
            "documents_deleted": 3,
            "people_deleted": 1,
        }
        audit = (await admin.get("/admin/audit", params={"action": "learner.erase"})).json()
    assert "pat" not in json.dumps(audit)
    assert audit[0]["detail"]["mode"] == "delete"
    assert await stored_attachments(group) == 0
    for reader in ("lms@sub-a", "lms@dept-a1"):
        async with group.client(reader) as client:
            assert await ids_for(client, {"mbox": LEARNER["mbox"]}, related=True) == []
            assert await ids_for(client, {"account": ACCOUNT}, related=True) == []
            state = await client.get("/xapi/activities/state", params=state_params())
            assert state.status_code == 404
    async with group.client("lms@sub-a") as client:
        kept = (
            await client.get("/xapi/statements", params={"statementId": ids["instructed"]})
        ).json()
    assert kept["actor"]["mbox"] == "mailto:coach@example.com"
    assert kept["context"]["instructor"]["account"]["homePage"].endswith("/pseudonym")
    assert "mbox" not in kept["context"]["instructor"]
    # Outside the subtree nothing changed.
    async with group.client("lms@sub-b") as client:
        assert await ids_for(client, {"mbox": LEARNER["mbox"]}, related=False) == [
            group.statement_ids["sub-b"]
        ]


async def test_pseudonymisation_keeps_statements_under_a_stable_pseudonym(group: Group) -> None:
    async with group.admin_client() as admin:
        response = await admin.post(
            "/admin/erasure",
            json={
                "agent": {"mbox": LEARNER["mbox"]},
                "tenant": group.names["sub-b"],
                "mode": "pseudonymise",
            },
        )
        assert response.json()["statements_pseudonymised"] == 1
        assert response.json()["statements_deleted"] == 0
    async with group.client("lms@sub-b") as client:
        assert await ids_for(client, {"mbox": LEARNER["mbox"]}, related=True) == []
        kept = (
            await client.get(
                "/xapi/statements", params={"statementId": group.statement_ids["sub-b"]}
            )
        ).json()
        pseudonym = kept["actor"]
        assert set(pseudonym) == {"objectType", "account"}
        assert await ids_for(client, pseudonym, related=False) == [group.statement_ids["sub-b"]]
    # The same learner erased elsewhere gets the same pseudonym.
    async with group.admin_client() as admin:
        await admin.post(
            "/admin/erasure",
            json={
                "agent": {"mbox": LEARNER["mbox"]},
                "tenant": group.names["dept-a1"],
                "mode": "pseudonymise",
            },
        )
    async with group.client("lms@dept-a1") as client:
        assert await ids_for(client, pseudonym, related=False) == [group.statement_ids["dept-a1"]]


async def test_erasure_requests_are_validated(group: Group) -> None:
    async with group.admin_client() as admin:
        for body, field in (
            ({"agent": {"mbox": "pat@example.com"}}, "agent.mbox"),
            ({"agent": {"mbox": LEARNER["mbox"]}, "mode": "shred"}, "body.mode"),
            ({"agent": {"mbox": LEARNER["mbox"]}, "tenant": "nowhere"}, "tenant"),
        ):
            response = await admin.post("/admin/erasure", json=body)
            assert response.status_code in (400, 404), response.text
            assert response.json()["error"]["field"] == field
    async with group.client("auditor@sub-a") as auditor:
        response = await auditor.post("/admin/erasure", json={"agent": {"mbox": LEARNER["mbox"]}})
    assert response.status_code == 403


@pytest.mark.parametrize(("days_later", "deleted"), [(29, False), (31, True)])
async def test_retention_deletes_old_records_where_a_policy_applies(
    group: Group, days_later: int, deleted: bool
) -> None:
    """sub-a keeps 30 days and dept-a1 inherits it; the group and sub-b keep everything."""
    async with group.admin_client() as admin:
        response = await admin.patch(
            f"/admin/tenants/{group.names['sub-a']}", json={"retention_days": 30}
        )
        assert response.json()["retention_days"] == 30
    async with create_sessionmaker(group.app.state.engine)() as session:
        root = await auth_store.tenant_by_name(session, group.names["group"])
        assert root is not None
        results = await apply_retention(
            session,
            Actor("test", "test", root),
            group.app.state.statement_hooks,
            datetime.now(UTC) + timedelta(days=days_later),
        )
        await session.commit()
    expected = {"statements": 1, "documents": 1} if deleted else {"statements": 0, "documents": 0}
    assert results == {group.names["sub-a"]: expected, group.names["dept-a1"]: expected}
    for short in ("group", "sub-a", "dept-a1", "sub-b"):
        async with group.client(f"lms@{short}") as client:
            found = await client.get(
                "/xapi/statements", params={"statementId": group.statement_ids[short]}
            )
            state = await client.get("/xapi/activities/state", params=state_params())
        gone = deleted and short in ("sub-a", "dept-a1")
        assert found.status_code == (404 if gone else 200), short
        assert state.status_code == (404 if gone else 200), short


async def test_retention_runs_through_the_admin_api(group: Group) -> None:
    async with group.admin_client() as admin:
        await admin.patch(f"/admin/tenants/{group.names['sub-b']}", json={"retention_days": 1})
        response = await admin.post("/admin/retention/apply")
    assert response.status_code == 200
    assert response.json() == {group.names["sub-b"]: {"statements": 0, "documents": 0}}
