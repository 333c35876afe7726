"""The isolation matrix: a credential reads its own tenant and, only when its role rolls up,
the tenants below it; never a sibling's or a parent's records, whatever it asks."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.factories import ACTIVITY, VERB
from tests.tenancy.conftest import LEARNER, REGISTRATION, Group, new_credential, state_params

# Reader -> the tenants whose records it sees.
VISIBLE = {
    "lms@group": {"group"},
    "lms@sub-a": {"sub-a"},
    "lms@dept-a1": {"dept-a1"},
    "lms@sub-b": {"sub-b"},
    "analyst@sub-a": {"sub-a", "dept-a1"},
    "auditor@sub-a": {"sub-a", "dept-a1"},
    "analyst@group": {"group", "sub-a", "dept-a1", "sub-b"},
}

# Every statement query parameter, each matching the statement of every tenant.
QUERIES: dict[str, dict[str, str]] = {
    "none": {},
    "agent": {"agent": json.dumps({"mbox": LEARNER["mbox"]})},
    "verb": {"verb": VERB},
    "activity": {"activity": ACTIVITY},
    "registration": {"registration": REGISTRATION},
    "related_activities": {"activity": ACTIVITY, "related_activities": "true"},
    "related_agents": {
        "agent": json.dumps({"mbox": "mailto:coach@example.com"}),
        "related_agents": "true",
    },
    "since": {"since": "2000-01-01T00:00:00Z"},
    "until": {"until": "2999-01-01T00:00:00Z"},
}


def expected_ids(group: Group, reader: str) -> set[str]:
    return {group.statement_ids[short] for short in VISIBLE[reader]}


async def all_pages(client: httpx.AsyncClient, params: dict[str, Any]) -> list[str]:
    """Every statement id of a query, following `more` links one statement at a time."""
    response = await client.get("/xapi/statements", params={**params, "limit": "1"})
    ids: list[str] = []
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        ids.extend(s["id"] for s in body["statements"])
        if not body["more"]:
            return ids
        response = await client.get(body["more"])


@pytest.mark.parametrize("reader", sorted(VISIBLE))
async def test_statement_queries_see_exactly_the_readable_tenants(
    group: Group, reader: str
) -> None:
    """xAPI-Communication 2.1.3 queries, scoped by tenant: every parameter, every page."""
    async with group.client(reader) as client:
        for name, params in QUERIES.items():
            ids = await all_pages(client, params)
            assert sorted(ids) == sorted(expected_ids(group, reader)), name


async def test_statement_id_guesses_find_only_readable_statements(group: Group) -> None:
    for reader, visible in VISIBLE.items():
        async with group.client(reader) as client:
            for short, statement_id in group.statement_ids.items():
                response = await client.get(
                    "/xapi/statements", params={"statementId": statement_id}
                )
                expected = 200 if short in visible else 404
                assert response.status_code == expected, (reader, short, response.text)


async def test_a_more_link_carries_no_tenant(group: Group) -> None:
    """A `more` link taken from one subsidiary and replayed by its sibling pages through the
    sibling's own records only."""
    async with group.client("analyst@group") as client:
        first = (await client.get("/xapi/statements", params={"limit": "1"})).json()
    assert first["more"]
    async with group.client("lms@sub-b") as sibling:
        response = await sibling.get(first["more"])
    assert response.status_code == 200
    assert {s["id"] for s in response.json()["statements"]} <= {group.statement_ids["sub-b"]}


async def test_state_documents_are_per_tenant(group: Group) -> None:
    """Every tenant stored a document under the same keys; each reads its own."""
    for own in ("group", "sub-a", "dept-a1", "sub-b"):
        async with group.client(f"lms@{own}") as client:
            response = await client.get("/xapi/activities/state", params=state_params())
        assert response.status_code == 200
        assert response.content == own.encode()


async def test_a_siblings_document_cannot_be_read_probed_or_deleted(group: Group) -> None:
    secret_id = f"only-in-a-{uuid.uuid4().hex[:6]}"
    async with group.client("lms@sub-a") as owner:
        await owner.put(
            "/xapi/activities/state", params=state_params(stateId=secret_id), content=b"a"
        )
        etag = (
            await owner.get("/xapi/activities/state", params=state_params(stateId=secret_id))
        ).headers["ETag"]
    async with group.client("lms@sub-b") as sibling:
        params = state_params(stateId=secret_id)
        assert (await sibling.get("/xapi/activities/state", params=params)).status_code == 404
        without_id = {k: v for k, v in params.items() if k != "stateId"}
        ids = await sibling.get("/xapi/activities/state", params=without_id)
        assert ids.status_code == 200
        assert secret_id not in ids.json()
        # An ETag probe: If-Match with the owner's ETag finds no document here (412).
        probe = await sibling.put(
            "/xapi/activities/state", params=params, content=b"b", headers={"If-Match": etag}
        )
        assert probe.status_code == 412
        assert (await sibling.delete("/xapi/activities/state", params=params)).status_code == 204
    async with group.client("lms@sub-a") as owner:
        response = await owner.get("/xapi/activities/state", params=state_params(stateId=secret_id))
    assert response.status_code == 200
    assert response.content == b"a"


async def test_roll_up_does_not_extend_to_documents(group: Group) -> None:
    """Documents are a content package's working state in one tenant: the auditor of sub-a
    reads sub-a's, not dept-a1's (an id shared by both tenants would be ambiguous)."""
    async with group.client("auditor@sub-a") as client:
        response = await client.get("/xapi/activities/state", params=state_params())
    assert response.content == b"sub-a"


async def test_activity_definitions_come_from_readable_tenants(group: Group) -> None:
    """xAPI-Communication 2.5 canonical definitions; the reader's own tenant first."""
    for reader in VISIBLE:
        async with group.client(reader) as client:
            response = await client.get("/xapi/activities", params={"activityId": ACTIVITY})
        name = response.json()["definition"]["name"]["en-US"]
        assert name == f"course of {reader.split('@')[1]}"


async def test_the_agents_resource_links_only_the_readers_directory(group: Group) -> None:
    """The directory of sub-a names pat's account; sub-b's Person for pat stays bare."""
    async with group.admin_client() as admin:
        response = await admin.put(
            f"/admin/directory/{group.names['sub-a']}/hr-17",
            json={
                "name": "Pat Doe",
                "agents": [
                    {"mbox": LEARNER["mbox"]},
                    {"account": {"homePage": "https://hr.example.com", "name": "pat.doe"}},
                ],
            },
        )
        assert response.status_code == 200, response.text
    params = {"agent": json.dumps({"mbox": LEARNER["mbox"]})}
    async with group.client("lms@sub-a") as client:
        linked = (await client.get("/xapi/agents", params=params)).json()
    async with group.client("lms@sub-b") as client:
        bare = (await client.get("/xapi/agents", params=params)).json()
    assert linked["account"] == [{"homePage": "https://hr.example.com", "name": "pat.doe"}]
    assert linked["name"] == ["Pat Doe"]
    assert bare == {"objectType": "Person", "mbox": [LEARNER["mbox"]]}


async def test_writes_of_a_roll_up_credential_land_in_its_own_tenant(group: Group) -> None:
    """The group's analyst reads the subtree; a group credential that may write writes to
    the group only, and no subsidiary sees it."""
    async with group.client("lms@group") as writer:
        response = await writer.post(
            "/xapi/statements",
            json={
                "actor": {"mbox": "mailto:other@example.com"},
                "verb": {"id": VERB},
                "object": {"id": ACTIVITY},
            },
        )
        new_id = response.json()[0]
    async with group.client("analyst@group") as reader:
        seen = await all_pages(reader, {})
    async with group.client("lms@sub-a") as subsidiary:
        theirs = await all_pages(subsidiary, {})
    assert new_id in seen
    assert new_id not in theirs


async def test_admins_administer_only_their_subtree(group: Group) -> None:
    """An admin of sub-a sees sub-a and dept-a1; sub-b and the group are absent to it."""
    async with group.admin_client() as root:
        authorization, _ = await new_credential(root, group.names["sub-a"], role="admin")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=group.app),
        base_url="http://testserver",
        headers={"Authorization": authorization},
    ) as admin:
        names = {t["name"] for t in (await admin.get("/admin/tenants")).json()}
        assert names == {group.names["sub-a"], group.names["dept-a1"]}
        for outside in ("sub-b", "group"):
            response = await admin.post(
                "/admin/credentials", json={"tenant": group.names[outside], "role": "lms"}
            )
            assert response.status_code == 404, response.text
            response = await admin.post(
                "/admin/tenants",
                json={"name": f"x-{uuid.uuid4().hex[:6]}", "parent": group.names[outside]},
            )
            assert response.status_code == 404
            response = await admin.get(f"/admin/directory/{group.names[outside]}")
            assert response.status_code == 404
        keys = {c["tenant"] for c in (await admin.get("/admin/credentials")).json()}
        assert keys <= {group.names["sub-a"], group.names["dept-a1"]}
        audit_tenants = {e["tenant"] for e in (await admin.get("/admin/audit")).json()}
        assert audit_tenants <= {group.names["sub-a"], group.names["dept-a1"]}
        group_keys = [
            c["key"]
            for c in (await _root_credentials(group))
            if c["tenant"] == group.names["group"]
        ]
        response = await admin.post(f"/admin/credentials/{group_keys[0]}/revoke")
        assert response.status_code == 404


async def _root_credentials(group: Group) -> list[dict[str, Any]]:
    async with group.admin_client() as root:
        body: list[dict[str, Any]] = (await root.get("/admin/credentials")).json()
        return body
