"""Protocol rules that hold across resources: versions, About, errors, CORS, alternate syntax."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from auth.models import Scope
from lrs.settings import Settings
from tests.conftest import client_for, make_credential
from tests.factories import statement


@pytest.fixture
async def authorization(app: FastAPI) -> str:
    header, _ = await make_credential(app, [Scope.ALL])
    return header


class TestVersionHeader:
    async def test_about_needs_no_auth_or_version(self, app: FastAPI) -> None:
        """Communication 2.8.s5.b3-b4: About answers without credentials or version header."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as bare:
            response = await bare.get("/xapi/about")
        assert response.status_code == 200
        assert response.json() == {"version": ["1.0.3", "2.0.0"]}
        assert response.headers["X-Experience-API-Version"] == "2.0.0"

    async def test_missing_header_is_400_with_version(
        self, app: FastAPI, authorization: str
    ) -> None:
        """Communication 3.3.s3.b4: a request without the header is rejected, header answered."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": authorization},
        ) as bare:
            response = await bare.get("/xapi/statements")
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "X-Experience-API-Version"
        assert response.headers["X-Experience-API-Version"] in ("1.0.3", "2.0.0")

    @pytest.mark.parametrize(
        ("sent", "answered"), [("1.0", "1.0.3"), ("1.0.1", "1.0.3"), ("2.0.0", "2.0.0")]
    )
    async def test_accepted_versions(
        self, app: FastAPI, authorization: str, sent: str, answered: str
    ) -> None:
        """Communication 3.3.s3.b3-b5: 1.0 and 1.0.x accepted; 2.0.x under xAPI 2.0."""
        async with client_for(app, authorization, sent) as client:
            response = await client.get("/xapi/statements")
        assert response.status_code == 200
        assert response.headers["X-Experience-API-Version"] == answered

    @pytest.mark.parametrize("sent", ["0.9", "1.1.0", "3.0.0", "banana"])
    async def test_rejected_versions(self, app: FastAPI, authorization: str, sent: str) -> None:
        """Communication 3.3.s3.b6-b7: other versions are a 400."""
        async with client_for(app, authorization, sent) as client:
            response = await client.get("/xapi/statements")
        assert response.status_code == 400


class TestErrors:
    async def test_unknown_path_is_json_404(self, app: FastAPI, authorization: str) -> None:
        async with client_for(app, authorization) as client:
            response = await client.get("/xapi/nothing-here")
        assert response.status_code == 404
        assert response.json()["error"]["status"] == 404

    async def test_body_over_limit_is_413(self, database_url: str) -> None:
        """Communication 3.2.s3.b11-b12: an oversized request is a 413."""
        from lrs.app import create_app

        small = create_app(
            Settings(environment="test", database_url=database_url, max_request_bytes=100)
        )
        async with small.router.lifespan_context(small):
            header, _ = await make_credential(small, [Scope.ALL])
            async with client_for(small, header) as client:
                response = await client.post("/xapi/statements", json=[statement()] * 5)
        assert response.status_code == 413


class TestCors:
    async def test_preflight_needs_no_auth(self, app: FastAPI) -> None:
        """Browser content (cmi5 AUs) preflights cross-origin requests without credentials."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as browser:
            response = await browser.options(
                "/xapi/statements",
                headers={
                    "Origin": "http://content.example.com",
                    "Access-Control-Request-Method": "PUT",
                    "Access-Control-Request-Headers": "authorization,x-experience-api-version",
                },
            )
        assert response.status_code == 200
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allowed
        assert "x-experience-api-version" in allowed


class TestAlternateRequestSyntax:
    async def test_put_through_form_post(self, app: FastAPI, authorization: str) -> None:
        """Communication 1.3: POST ?method=PUT with headers and parameters as form fields."""
        statement_id = str(uuid.uuid4())
        form = {
            "Authorization": authorization,
            "X-Experience-API-Version": "1.0.3",
            "Content-Type": "application/json",
            "statementId": statement_id,
            "content": json.dumps(statement()),
        }
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as browser:
            response = await browser.post(
                "/xapi/statements?method=PUT",
                content=urlencode(form),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert response.status_code == 204
            fetched = await browser.post(
                "/xapi/statements?method=GET",
                content=urlencode(
                    {
                        "Authorization": authorization,
                        "X-Experience-API-Version": "1.0.3",
                        "statementId": statement_id,
                    }
                ),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert fetched.status_code == 200
        assert fetched.json()["id"] == statement_id

    async def test_other_query_parameters_are_400(self, app: FastAPI, authorization: str) -> None:
        """Communication 1.3.s3.b2: with method= the query string holds nothing else."""
        async with client_for(app, authorization) as client:
            response = await client.post(
                "/xapi/statements?method=GET&verb=x",
                content=b"",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert response.status_code == 400

    async def test_removed_in_xapi_2(self, app: FastAPI, authorization: str) -> None:
        """xAPI 2.0 removed the alternate request syntax: such requests are a 400."""
        async with client_for(app, authorization, "2.0.0") as client:
            response = await client.post(
                "/xapi/statements?method=GET",
                content=b"",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert response.status_code == 400
