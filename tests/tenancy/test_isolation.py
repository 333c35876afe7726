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


DOCUMENT_RESOURCES = {
    "state": (
        "/xapi/activities/state",
        "stateId",
        {k: v for k, v in state_params().items() if k != "stateId"},
    ),
    "activity profile": ("/xapi/activities/profile", "profileId", {"activityId": ACTIVITY}),
    "agent profile": (
        "/xapi/agents/profile",
        "profileId",
        {"agent": json.dumps({"mbox": LEARNER["mbox"]})},
    ),
}


@pytest.mark.parametrize("resource", sorted(DOCUMENT_RESOURCES))
async def test_other_tenants_cannot_read_probe_or_delete_a_document(
    group: Group, resource: str
) -> None:
    """Sub-a's document is absent to its sibling, its parent and its child: by id, in the
    id list, to an If-Match probe with its ETag, and to DELETE."""
    path, id_name, scope = DOCUMENT_RESOURCES[resource]
    document_id = f"only-in-a-{uuid.uuid4().hex[:6]}"
    params = {**scope, id_name: document_id}
    async with group.client("lms@sub-a") as owner:
        created = await owner.put(path, params=params, content=b"a", headers={"If-None-Match": "*"})
        assert created.status_code == 204, created.text
        etag = (await owner.get(path, params=params)).headers["ETag"]
    for other in ("lms@sub-b", "lms@group", "lms@dept-a1"):
        async with group.client(other) as client:
            assert (await client.get(path, params=params)).status_code == 404, other
            ids = await client.get(path, params=scope)
            assert ids.status_code == 200
            assert document_id not in ids.json()
            probe = await client.put(path, params=params, content=b"b", headers={"If-Match": etag})
            assert probe.status_code == 412, other
            assert (await client.delete(path, params=params)).status_code == 204
    async with group.client("lms@sub-a") as owner:
        response = await owner.get(path, params=params)
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
