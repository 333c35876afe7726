"""Course import over HTTP (cmi5 6.1, 14), registrations (cmi5 3.0, 9.6.1) and package
content."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from auth.models import Scope
from cmi5 import rules
from cmi5.package import SAMPLE, sample_package
from lrs import cli
from tests.cmi5.conftest import (
    COURSE,
    POLICY,
    QUIZ,
    learner,
    register,
    statements_of,
    verbs,
)
from tests.cmi5.test_structure import NS, TEXT
from tests.conftest import client_for, make_credential


class TestImport:
    async def test_a_zip_package_is_imported_with_lms_ids(
        self, lms: httpx.AsyncClient, course: dict[str, object]
    ) -> None:
        """cmi5 8.1.5, 9.4: the LMS's ids of the course, blocks and AUs differ from the
        publisher's."""
        assert course["id"] == COURSE
        assert course["version"] == 1
        assert course["lmsId"] != COURSE
        children = course["children"]
        assert isinstance(children, list)
        assert [child["type"] for child in children] == ["au", "block", "block"]
        assert all(child["lmsId"] != child["id"] for child in children)
        listed = (await lms.get("/cmi5/courses", params={"id": COURSE})).json()
        assert [c["version"] for c in listed] == [1]

    async def test_standalone_xml_and_multipart(self, lms: httpx.AsyncClient) -> None:
        """cmi5 14: a cmi5.xml on its own, raw or as a form's file; its AU urls must be
        fully qualified (14.2)."""
        xml = (
            f'<courseStructure xmlns="{NS}"><course id="https://example.org/xml">{TEXT}</course>'
            f'<au id="https://example.org/xml/au">{TEXT}<url>https://example.org/au.html</url>'
            "</au></courseStructure>"
        ).encode()
        raw = await lms.post("/cmi5/courses", content=xml, headers={"Content-Type": "text/xml"})
        assert raw.status_code == 201, raw.text
        form = await lms.post("/cmi5/courses", files={"file": ("cmi5.xml", xml, "application/xml")})
        assert form.status_code == 201, form.text
        assert form.json()["version"] == 2  # cmi5 6.1: a re-import versions the course

        relative = (SAMPLE / "cmi5.xml").read_bytes()
        refused = await lms.post(
            "/cmi5/courses", content=relative, headers={"Content-Type": "application/xml"}
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["field"] == "courseStructure/au[1]/url"
        assert "14.2" in refused.json()["error"]["message"]

    async def test_refused_packages_name_the_problem(self, lms: httpx.AsyncClient) -> None:
        markdown = await lms.post(
            "/cmi5/courses", content=b"# course", headers={"Content-Type": "text/markdown"}
        )
        assert markdown.status_code == 400
        assert markdown.json()["error"]["field"] == "Content-Type"
        not_zip = await lms.post(
            "/cmi5/courses", content=b"text", headers={"Content-Type": "application/zip"}
        )
        assert not_zip.status_code == 400
        assert (await lms.get("/cmi5/courses")).json() == []

    async def test_content_is_served_from_the_package(
        self, app: FastAPI, lms: httpx.AsyncClient, course: dict[str, object]
    ) -> None:
        registration = await register(lms)
        launched = await lms.post(f"/cmi5/registrations/{registration}/launch", json={"au": QUIZ})
        path = launched.json()["url"].split("://", 1)[1].split("/", 1)[1].split("?")[0]
        async with client_for(app, None) as browser:
            page = await browser.get(f"/{path}")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.content == (SAMPLE / "index.html").read_bytes()
        async with client_for(app, None) as browser:
            unknown = await browser.get(f"/cmi5/content/{uuid.uuid4()}/index.html")
        assert unknown.status_code == 404

    async def test_a_credential_without_cmi5_launch_may_not_import(self, app: FastAPI) -> None:
        authorization, _ = await make_credential(app, [Scope.STATEMENTS_WRITE, Scope.STATE])
        async with client_for(app, authorization) as client:
            response = await client.post(
                "/cmi5/courses",
                content=sample_package(),
                headers={"Content-Type": "application/zip"},
            )
        assert response.status_code == 403


class TestRegistrations:
    async def test_not_applicable_aus_are_satisfied_at_registration(
        self, lms: httpx.AsyncClient, course: dict[str, object]
    ) -> None:
        """cmi5 9.6.1: moveOn is evaluated when the registration is created."""
        registration = await register(lms)
        status = (await lms.get(f"/cmi5/registrations/{registration}")).json()
        policy, fire, first_aid = status["course"]["children"]
        assert (policy["id"], policy["satisfied"]) == (POLICY, True)
        assert not fire["satisfied"]
        assert not first_aid["satisfied"]
        assert not status["course"]["satisfied"]
        assert await statements_of(lms, registration) == []  # no block or course met yet

    async def test_a_block_of_not_applicable_aus_is_satisfied_before_any_launch(
        self, lms: httpx.AsyncClient
    ) -> None:
        """cmi5 9.3.9, 9.6.1 (CATAPULT 004-5): satisfied for the block, then the course,
        with a fresh session id."""
        xml = (
            f'<courseStructure xmlns="{NS}"><course id="https://example.org/na">{TEXT}</course>'
            f'<block id="https://example.org/na/b">{TEXT}'
            f'<au id="https://example.org/na/au">{TEXT}<url>https://example.org/a</url></au>'
            "</block></courseStructure>"
        ).encode()
        await lms.post("/cmi5/courses", content=xml, headers={"Content-Type": "application/xml"})
        response = await lms.post(
            "/cmi5/registrations", json={"course": "https://example.org/na", "actor": learner()}
        )
        registration = response.json()["id"]
        found = await statements_of(lms, registration)
        assert verbs(found) == ["satisfied", "satisfied"]
        block, whole = found
        assert block["object"]["definition"]["type"] == rules.BLOCK_TYPE
        assert block["object"]["id"] != "https://example.org/na/b"
        assert block["context"]["contextActivities"]["grouping"] == [
            {"id": "https://example.org/na/b"}
        ]
        assert whole["object"]["definition"]["type"] == rules.COURSE_TYPE
        session_id = block["context"]["extensions"][rules.SESSION_ID]
        assert whole["context"]["extensions"][rules.SESSION_ID] == session_id

    async def test_a_learner_is_an_agent_with_an_account(
        self, lms: httpx.AsyncClient, course: dict[str, object]
    ) -> None:
        """cmi5 9.2."""
        response = await lms.post(
            "/cmi5/registrations",
            json={"course": COURSE, "actor": {"mbox": "mailto:a@example.org"}},
        )
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "actor"

    async def test_registrations_keep_their_course_version(
        self, lms: httpx.AsyncClient, course: dict[str, object]
    ) -> None:
        """A re-import versions the course without changing existing registrations."""
        actor = learner()
        first = await register(lms, actor)
        await lms.post(
            "/cmi5/courses", content=sample_package(), headers={"Content-Type": "application/zip"}
        )
        second = await register(lms, actor)
        listed = (await lms.get("/cmi5/registrations", params={"agent": json.dumps(actor)})).json()
        assert [(r["id"], r["version"]) for r in listed] == [(first, 1), (second, 2)]

    async def test_unknown_course_is_404(self, lms: httpx.AsyncClient) -> None:
        response = await lms.post(
            "/cmi5/registrations", json={"course": "https://example.org/none", "actor": learner()}
        )
        assert response.status_code == 404


def test_the_command_line_imports_a_package(
    cli_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lrs cmi5 import PACKAGE --tenant T`; a bad package exits naming the problem."""
    package = tmp_path / "course.zip"
    package.write_bytes(sample_package())
    cli.main(["tenants", "create", "plant"])
    capsys.readouterr()
    cli.main(["cmi5", "import", str(package), "--tenant", "plant"])
    imported = json.loads(capsys.readouterr().out)
    assert (imported["id"], imported["version"]) == (COURSE, 1)
    broken = tmp_path / "cmi5.xml"
    broken.write_bytes((SAMPLE / "cmi5.xml").read_bytes())
    with pytest.raises(SystemExit, match=r"fully qualified .*courseStructure/au\[1\]/url"):
        cli.main(["cmi5", "import", str(broken), "--tenant", "plant"])
