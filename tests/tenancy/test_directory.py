"""The learner directory: agents mapped to people with org unit, job role and audience,
imported from CSV or JSON, all entries or none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lrs import cli
from tests.tenancy.conftest import Group

CSV = """external_id,name,org_unit,job_role,audience,mbox,account_homepage,account_name
e-1,Ann Lee,Sales,Rep,employee,mailto:ann@example.com,https://hr.example.com,ann.lee
c-9,Bo Chan,,,customer,mailto:bo@example.org,,
"""


async def people_of(group: Group, tenant: str, **filters: str) -> list[dict[str, Any]]:
    async with group.admin_client() as admin:
        response = await admin.get(f"/admin/directory/{group.names[tenant]}", params=filters)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


async def test_csv_import_maps_every_identifier_column(group: Group) -> None:
    async with group.admin_client() as admin:
        response = await admin.post(
            f"/admin/directory/{group.names['sub-a']}/import",
            content=CSV.encode(),
            headers={"Content-Type": "text/csv"},
        )
    assert response.json() == {"imported": 2}
    people = {p["external_id"]: p for p in await people_of(group, "sub-a")}
    assert people["e-1"]["agents"] == [
        {"account": {"homePage": "https://hr.example.com", "name": "ann.lee"}},
        {"mbox": "mailto:ann@example.com"},
    ]
    assert (people["e-1"]["org_unit"], people["e-1"]["job_role"]) == ("Sales", "Rep")
    assert people["c-9"]["audience"] == "customer"
    assert people["c-9"]["org_unit"] is None
    assert [p["external_id"] for p in await people_of(group, "sub-a", audience="customer")] == [
        "c-9"
    ]
    assert [p["external_id"] for p in await people_of(group, "sub-a", org_unit="Sales")] == ["e-1"]
    assert await people_of(group, "sub-b") == []


async def test_json_import_upserts_by_external_id(group: Group) -> None:
    entries: list[dict[str, Any]] = [
        {"external_id": "p-1", "name": "Pat", "agents": [{"mbox": "mailto:pat@example.com"}]},
        {
            "external_id": "p-2",
            "audience": "partner",
            "agents": [{"openid": "https://id.example.com/q"}],
        },
    ]
    async with group.admin_client() as admin:
        url = f"/admin/directory/{group.names['sub-b']}/import"
        assert (await admin.post(url, json=entries)).json() == {"imported": 2}
        # Re-imported: p-1 changes unit; p-2 now also owns Pat's mailbox.
        entries[0]["org_unit"] = "Ops"
        entries[1]["agents"].append({"mbox": "mailto:pat@example.com"})
        assert (await admin.post(url, json=entries)).json() == {"imported": 2}
    people = {p["external_id"]: p for p in await people_of(group, "sub-b")}
    assert people["p-1"]["org_unit"] == "Ops"
    assert people["p-1"]["agents"] == []
    assert {"mbox": "mailto:pat@example.com"} in people["p-2"]["agents"]


@pytest.mark.parametrize(
    ("content_type", "body", "field"),
    [
        ("text/csv", CSV + "x-1,Xi,,,visitor,mailto:xi@example.com,,\n", "line 4.audience"),
        ("text/csv", CSV + "x-2,No Id,,,employee,,,\n", "line 4.agents"),
        (
            "application/json",
            json.dumps(
                [
                    {"external_id": "ok", "agents": [{"mbox": "mailto:ok@example.com"}]},
                    {"external_id": "two", "agents": [{"mbox": "mailto:a@b.c", "openid": "x:y"}]},
                ]
            ),
            "body[1].agents[0]",
        ),
        ("application/json", '{"external_id": "x"}', "body"),
        # What the csv module refuses (was a 500, found by make fuzz).
        ("text/csv", "external_id\n" + "x" * 200_000 + "\n", "body"),
        ("text/plain", "hello", "Content-Type"),
    ],
)
async def test_one_bad_entry_rejects_the_whole_import(
    group: Group, content_type: str, body: str, field: str
) -> None:
    async with group.admin_client() as admin:
        response = await admin.post(
            f"/admin/directory/{group.names['dept-a1']}/import",
            content=body.encode(),
            headers={"Content-Type": content_type},
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field
    assert await people_of(group, "dept-a1") == []


async def test_put_and_delete_one_person(group: Group) -> None:
    url = f"/admin/directory/{group.names['sub-a']}/hr-5"
    async with group.admin_client() as admin:
        response = await admin.put(
            url, json={"name": "Kim", "agents": [{"mbox": "mailto:kim@example.com"}]}
        )
        assert response.status_code == 200
        assert response.json()["audience"] == "employee"
        assert (await admin.delete(url)).status_code == 204
        assert (await admin.delete(url)).status_code == 404
        audit = (await admin.get("/admin/audit", params={"action": "directory.delete"})).json()
    assert [entry["target"] for entry in audit] == ["hr-5"]


def test_the_cli_imports_a_directory_file(
    cli_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(CSV)
    cli.main(["tenants", "create", "works"])
    cli.main(["directory", "import", str(people), "--tenant", "works"])
    assert "2 people imported into works" in capsys.readouterr().out
    cli.main(["directory", "list", "--tenant", "works", "--audience", "customer"])
    assert [p["external_id"] for p in json.loads(capsys.readouterr().out)] == ["c-9"]
    cli.main(["audit", "--action", "directory.import"])
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["actor"].startswith("cli:")
    assert entry["source"] == "cli"
    assert entry["detail"] == {"people": 2}
    with pytest.raises(SystemExit, match=r"\.csv or \.json"):
        cli.main(["directory", "import", str(tmp_path / "people.txt"), "--tenant", "works"])
