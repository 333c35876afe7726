"""State, Activity Profile and Agent Profile documents, on both back ends and xAPI versions."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from auth.models import Scope
from tests.conftest import client_for, make_credential

ACTIVITY = "http://example.com/activities/doc-test"
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:doc@example.com"})
STATE = "/xapi/activities/state"
ACTIVITY_PROFILE = "/xapi/activities/profile"
AGENT_PROFILE = "/xapi/agents/profile"


def state_params(**extra: str) -> dict[str, str]:
    return {"activityId": ACTIVITY, "agent": AGENT, **extra}


# (path, scope parameters, id parameter) of each document resource
RESOURCES = [
    pytest.param(STATE, {"activityId": ACTIVITY, "agent": AGENT}, "stateId", id="state"),
    pytest.param(ACTIVITY_PROFILE, {"activityId": ACTIVITY}, "profileId", id="activity-profile"),
    pytest.param(AGENT_PROFILE, {"agent": AGENT}, "profileId", id="agent-profile"),
]


def etag_of(content: bytes) -> str:
    return f'"{hashlib.sha1(content).hexdigest()}"'  # noqa: S324 - the xAPI ETag


class TestSingleDocument:
    @pytest.mark.parametrize(("path", "scope", "id_name"), RESOURCES)
    async def test_put_get_delete(
        self, client: httpx.AsyncClient, path: str, scope: dict[str, str], id_name: str
    ) -> None:
        """Communication 2.3.s3, 2.6.s3, 2.7.s3: PUT 204, GET 200 with the bytes and their
        Content-Type, ETag (SHA-1, quoted) and Last-Modified, DELETE 204, then GET 404."""
        params = {**scope, id_name: "doc-1"}
        content = b"\x00binary\xff"
        put = await client.put(
            path,
            params=params,
            content=content,
            headers={"Content-Type": "application/octet-stream", "If-None-Match": "*"},
        )
        assert put.status_code == 204
        got = await client.get(path, params=params)
        assert got.status_code == 200
        assert got.content == content
        assert got.headers["Content-Type"] == "application/octet-stream"
        assert got.headers["ETag"] == etag_of(content)
        assert "Last-Modified" in got.headers
        assert (await client.delete(path, params=params)).status_code == 204
        assert (await client.get(path, params=params)).status_code == 404

    @pytest.mark.parametrize(("path", "scope", "id_name"), RESOURCES)
    async def test_post_merges_json_objects(
        self, client: httpx.AsyncClient, path: str, scope: dict[str, str], id_name: str
    ) -> None:
        """Communication 2.2.s7: POST merges top-level properties; nested objects are replaced."""
        params = {**scope, id_name: "merge"}
        first = {"a": 1, "nested": {"x": 1, "y": 2}}
        assert (await client.post(path, params=params, json=first)).status_code == 204
        second = {"b": 2, "nested": {"z": 3}}
        assert (await client.post(path, params=params, json=second)).status_code == 204
        merged = (await client.get(path, params=params)).json()
        assert merged == {"a": 1, "b": 2, "nested": {"z": 3}}

    @pytest.mark.parametrize(("path", "scope", "id_name"), RESOURCES)
    async def test_post_onto_non_json_is_400(
        self, client: httpx.AsyncClient, path: str, scope: dict[str, str], id_name: str
    ) -> None:
        """Communication 2.2.s8.b1: POST where either document is not a JSON object is a 400,
        and the stored document stays as it was."""
        params = {**scope, id_name: "text"}
        await client.post(
            path, params=params, content=b"plain", headers={"Content-Type": "text/plain"}
        )
        response = await client.post(path, params=params, json={"a": 1})
        assert response.status_code == 400
        assert (await client.get(path, params=params)).content == b"plain"

    @pytest.mark.parametrize(("path", "scope", "id_name"), RESOURCES)
    async def test_list_ids_since(
        self, client: httpx.AsyncClient, path: str, scope: dict[str, str], id_name: str
    ) -> None:
        """Communication 2.3.s4, 2.6.s4, 2.7.s4: GET without an id lists ids; since is exclusive."""
        before = datetime.now(UTC) - timedelta(seconds=1)
        for name in ("one", "two"):
            await client.post(path, params={**scope, id_name: name}, json={"n": name})
        listed = await client.get(path, params=scope)
        assert sorted(listed.json()) == ["one", "two"]
        assert "Last-Modified" in listed.headers
        later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        assert (await client.get(path, params={**scope, "since": later})).json() == []
        earlier = await client.get(path, params={**scope, "since": before.isoformat()})
        assert len(earlier.json()) == 2


class TestConcurrency:
    """Communication 3.1: If-Match / If-None-Match on PUT, POST and DELETE."""

    @pytest.mark.parametrize(("path", "scope", "id_name"), RESOURCES)
    @pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
    async def test_matrix(
        self,
        client: httpx.AsyncClient,
        path: str,
        scope: dict[str, str],
        id_name: str,
        method: str,
    ) -> None:
        """Each precondition by document exists / absent: 412 when it fails, and then nothing
        changes; success when it holds."""
        params = {**scope, id_name: f"cc-{uuid.uuid4().hex[:6]}"}
        original = json.dumps({"v": 1}).encode()
        body = json.dumps({"v": 2}).encode()
        json_type = {"Content-Type": "application/json"}

        async def send(headers: dict[str, str]) -> httpx.Response:
            content = None if method == "DELETE" else body
            return await client.request(
                method, path, params=params, content=content, headers={**json_type, **headers}
            )

        # Absent document: If-Match fails; If-None-Match: * holds.
        assert (await send({"If-Match": etag_of(original)})).status_code == 412
        assert (await client.get(path, params=params)).status_code == 404
        if method != "DELETE":
            assert (await send({"If-None-Match": "*"})).status_code == 204
            await client.delete(path, params=params)

        # Existing document: wrong If-Match and If-None-Match: * fail; right If-Match holds.
        await client.put(
            path, params=params, content=original, headers={**json_type, "If-None-Match": "*"}
        )
        assert (await send({"If-Match": '"0000"'})).status_code == 412
        if method != "DELETE":
            assert (await send({"If-None-Match": "*"})).status_code == 412
        assert (await client.get(path, params=params)).content == original
        assert (await send({"If-Match": etag_of(original)})).status_code == 204
        after = await client.get(path, params=params)
        assert after.status_code == (404 if method == "DELETE" else 200)

    @pytest.mark.parametrize(("path", "scope", "id_name"), RESOURCES)
    async def test_header_less_put_onto_existing(
        self,
        client: httpx.AsyncClient,
        xapi_version: str,
        path: str,
        scope: dict[str, str],
        id_name: str,
    ) -> None:
        """Communication 3.1.s4.b13-b15: a PUT without preconditions may not overwrite a
        profile (409, body says what to do); xAPI 2.0 applies that to State too, 1.0.3 lets
        State be overwritten."""
        params = {**scope, id_name: "no-headers"}
        await client.put(path, params=params, json={"v": 1}, headers={"If-None-Match": "*"})
        response = await client.put(path, params=params, json={"v": 2})
        if path == STATE and xapi_version == "1.0.3":
            assert response.status_code == 204
            assert (await client.get(path, params=params)).json() == {"v": 2}
        else:
            assert response.status_code == 409
            assert "If-Match" in response.json()["error"]["message"]
            assert (await client.get(path, params=params)).json() == {"v": 1}

    @pytest.mark.parametrize(
        "path_scope",
        [({"activityId": ACTIVITY}, ACTIVITY_PROFILE), ({"agent": AGENT}, AGENT_PROFILE)],
    )
    async def test_header_less_profile_put_of_new_document(
        self, client: httpx.AsyncClient, xapi_version: str, path_scope: tuple[dict[str, str], str]
    ) -> None:
        """1.0.3 (as ADL's suite checks): a header-less profile PUT is a 400 even for a new
        document; xAPI 2.0 creates it."""
        scope, path = path_scope
        response = await client.put(path, params={**scope, "profileId": "new"}, json={"v": 1})
        assert response.status_code == (400 if xapi_version == "1.0.3" else 204)


class TestState:
    async def test_registration_separates_documents(self, client: httpx.AsyncClient) -> None:
        """Communication 2.3.s3: documents with and without a registration are separate."""
        registration = str(uuid.uuid4())
        await client.post(STATE, params=state_params(stateId="s"), json={"plain": True})
        await client.post(
            STATE, params=state_params(stateId="s", registration=registration), json={"reg": True}
        )
        plain = await client.get(STATE, params=state_params(stateId="s"))
        with_registration = await client.get(
            STATE, params=state_params(stateId="s", registration=registration)
        )
        assert plain.json() == {"plain": True}
        assert with_registration.json() == {"reg": True}

    async def test_delete_all_clears_the_context(self, client: httpx.AsyncClient) -> None:
        """Communication 2.3.s5: DELETE without stateId deletes every state of the context."""
        for state_id in ("a", "b"):
            await client.post(STATE, params=state_params(stateId=state_id), json={})
        assert (await client.delete(STATE, params=state_params())).status_code == 204
        assert (await client.get(STATE, params=state_params())).json() == []

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"agent": AGENT, "stateId": "s"}, "activityId"),
            ({"activityId": ACTIVITY, "stateId": "s"}, "agent"),
            ({"activityId": ACTIVITY, "agent": "{bad", "stateId": "s"}, "agent"),
            ({"activityId": "not an iri", "agent": AGENT, "stateId": "s"}, "activityId"),
            (state_params(stateId="s", registration="nope"), "registration"),
            (state_params(since="yesterday"), "since"),
            (state_params(stateid="s"), "stateid"),
        ],
    )
    async def test_bad_parameters_are_400(
        self, client: httpx.AsyncClient, params: dict[str, str], field: str
    ) -> None:
        """Communication 2.3.s3 table 1, 3.2.s3.b7-b8: parameters are validated; 400 names one."""
        response = await client.get(STATE, params=params)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field


class TestLimitsAndAccess:
    async def test_document_over_limit_is_413(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Communication 3.2.s3.b12: an oversized document is a 413."""
        app.state.settings.max_document_bytes = 10
        response = await client.post(STATE, params=state_params(stateId="big"), content=b"x" * 11)
        assert response.status_code == 413

    async def test_scope_and_tenant(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """Communication 4.2 table 1: state needs the state scope; tenants are isolated."""
        await client.post(STATE, params=state_params(stateId="mine"), json={"t": 1})
        reader, _ = await make_credential(app, [Scope.STATEMENTS_READ])
        async with client_for(app, reader) as statements_only:
            response = await statements_only.get(STATE, params=state_params(stateId="mine"))
            assert response.status_code == 403
            assert "state" in response.json()["error"]["message"]
        other, _ = await make_credential(app, [Scope.ALL], tenant="other")
        async with client_for(app, other) as stranger:
            response = await stranger.get(STATE, params=state_params(stateId="mine"))
            assert response.status_code == 404


class TestActivitiesAndAgents:
    async def test_activity_definition_merges_languages(self, client: httpx.AsyncClient) -> None:
        """Communication 2.5: the canonical definition holds all known data for the id."""
        activity_id = "http://example.com/activities/merged"

        def with_description(language: str, text: str) -> dict[str, Any]:
            return {
                "actor": {"mbox": "mailto:a@example.com"},
                "verb": {"id": "http://example.com/verbs/did"},
                "object": {"id": activity_id, "definition": {"description": {language: text}}},
            }

        await client.post("/xapi/statements", json=with_description("en-US", "Course"))
        await client.post("/xapi/statements", json=with_description("fr-FR", "Cours"))
        response = await client.get("/xapi/activities", params={"activityId": activity_id})
        assert response.json()["definition"]["description"] == {"en-US": "Course", "fr-FR": "Cours"}

    async def test_unknown_activity_still_answers(self, client: httpx.AsyncClient) -> None:
        """Communication 2.5.s2.b1 (MUST-tested in 2.0): an unseen id is still an Activity."""
        response = await client.get(
            "/xapi/activities", params={"activityId": "http://example.com/never"}
        )
        assert response.json() == {"objectType": "Activity", "id": "http://example.com/never"}

    async def test_activity_id_is_required(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/xapi/activities")
        assert response.status_code == 400

    async def test_agents_returns_person(self, client: httpx.AsyncClient) -> None:
        """Communication 2.4: the Person object holds arrays of names and identifiers."""
        agent = {"objectType": "Agent", "name": "Ann", "mbox": "mailto:ann@example.com"}
        response = await client.get("/xapi/agents", params={"agent": json.dumps(agent)})
        assert response.json() == {
            "objectType": "Person",
            "name": ["Ann"],
            "mbox": ["mailto:ann@example.com"],
        }

    async def test_agents_rejects_invalid_agent(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/xapi/agents", params={"agent": '{"name": "no ifi"}'})
        assert response.status_code == 400
