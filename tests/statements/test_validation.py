"""Statement validation: one class per rule family, each naming the xAPI-Data (D) or
xAPI-Communication (C) requirement it covers. Cases are written from the spec text and from
what the ADL conformance suite accepts (200) and rejects (400)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lrs.errors import BadRequest
from lrs.versions import XAPIVersion
from statements.validation import (
    agent_ifi,
    is_iri,
    is_uuid,
    parse_agent,
    parse_json,
    parse_timestamp,
    validate_statement,
    validate_statements,
)

V1 = XAPIVersion.V1
V2 = XAPIVersion.V2
BOTH = pytest.mark.parametrize("version", [V1, V2])

Statement = dict[str, Any]

VERB_ID = "http://adlnet.gov/expapi/verbs/completed"
ACTIVITY_ID = "http://example.com/courses/algebra/quiz-1"
UUID_A = "3a1f6d52-8f0c-4b3e-9a57-0c6f2d8e41b7"
UUID_B = "c0ffee00-1234-4abc-8def-0123456789ab"
SHA256 = "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"


def agent(name: str = "learner") -> Statement:
    return {"objectType": "Agent", "mbox": f"mailto:{name}@example.com"}


def group(*members: Statement, **ifi: Any) -> Statement:
    return {"objectType": "Group", "member": list(members) or [agent()], **ifi}


def activity(activity_id: str = ACTIVITY_ID, /, **definition: Any) -> Statement:
    result: Statement = {"objectType": "Activity", "id": activity_id}
    if definition:
        result["definition"] = definition
    return result


def make_statement(**parts: Any) -> Statement:
    statement: Statement = {
        "actor": agent(),
        "verb": {"id": VERB_ID, "display": {"en-US": "completed"}},
        "object": activity(),
    }
    statement.update(parts)
    return statement


def substatement(**parts: Any) -> Statement:
    sub = make_statement(**parts)
    return {"objectType": "SubStatement", **sub}


def attachment(**changes: Any) -> Statement:
    """A valid Attachment with `changes` applied; a change to `...` leaves the property out."""
    result: Statement = {
        "usageType": "http://adlnet.gov/expapi/attachments/signature",
        "display": {"en-US": "Signature"},
        "description": {"en-US": "A signature"},
        "contentType": "application/octet-stream",
        "length": 4235,
        "sha2": SHA256,
        "fileUrl": "http://example.com/files/signature",
    }
    result.update(changes)
    return {key: value for key, value in result.items() if value is not ...}


def accepts(payload: Any, version: XAPIVersion = V1) -> list[Statement]:
    """The validated statements; fails the test with the validator's message otherwise."""
    return validate_statements(copy.deepcopy(payload), version)


def rejects(payload: Any, version: XAPIVersion = V1) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        validate_statements(copy.deepcopy(payload), version)
    error = caught.value
    assert error.status_code == 400
    assert error.field is not None
    assert error.message.startswith(f"{error.field}: ")
    return error


# --- strict JSON ----------------------------------------------------------------------------


class TestParseJson:
    """D 2.2.s2.b2 (each property once), RFC 8259 (UTF-8, no NaN/Infinity)."""

    def test_parses_bytes_and_text(self) -> None:
        assert parse_json(b'{"a": [1, 2.5, true, null, "\xc3\xa9"]}', "body") == {
            "a": [1, 2.5, True, None, "é"]
        }
        assert parse_json('[{"b": {}}]', "body") == [{"b": {}}]

    @pytest.mark.parametrize(
        "raw",
        [
            '{"actor": {}, "actor": {}}',
            '{"verb": {"id": "http://x.y/z", "id": "http://x.y/w"}}',
            '[{"a": 1}, {"b": {"c": 1, "c": 1}}]',
        ],
    )
    def test_rejects_a_property_used_twice_in_one_object(self, raw: str) -> None:
        """D 2.2.s2.b2: a Statement MUST use each property no more than one time."""
        with pytest.raises(BadRequest) as caught:
            parse_json(raw, "body")
        assert caught.value.field == "body"
        assert "more than once" in caught.value.message
        assert "2.2.s2.b2" in caught.value.message

    @pytest.mark.parametrize("raw", ["NaN", "[Infinity]", '{"raw": -Infinity}'])
    def test_rejects_non_finite_numbers(self, raw: str) -> None:
        with pytest.raises(BadRequest) as caught:
            parse_json(raw, "body")
        assert "not a JSON number" in caught.value.message

    @pytest.mark.parametrize(
        "raw", ["", "{", "{'a': 1}", '{"a": 1,}', "[1, 2", '{"a": 1} trailing', "undefined"]
    )
    def test_rejects_malformed_json(self, raw: str) -> None:
        """Suite XAPI-00014: a not well-formed JSON object is rejected."""
        with pytest.raises(BadRequest) as caught:
            parse_json(raw, "content")
        assert caught.value.field == "content"
        assert caught.value.message.startswith("content: not valid JSON")

    def test_rejects_bytes_that_are_not_utf8(self) -> None:
        """C 1.4: the body is UTF-8."""
        with pytest.raises(BadRequest) as caught:
            parse_json(b'{"name": "\xff"}', "body")
        assert "UTF-8" in caught.value.message

    def test_ignores_a_leading_byte_order_mark(self) -> None:
        assert parse_json('\ufeff{"a": 1}'.encode(), "body") == {"a": 1}

    def test_rejects_a_lone_surrogate_escape(self) -> None:
        with pytest.raises(BadRequest) as caught:
            parse_json('{"name": "\\ud800"}', "body")
        assert "surrogate" in caught.value.message

    def test_accepts_a_surrogate_pair_escape(self) -> None:
        assert parse_json('{"name": "\\ud83d\\ude00"}', "body") == {"name": "\U0001f600"}

    def test_rejects_absurd_nesting(self) -> None:
        with pytest.raises(BadRequest) as caught:
            parse_json("[" * 200_000 + "]" * 200_000, "body")
        assert caught.value.field == "body"


# --- request shape, batches and normalization ----------------------------------------------


class TestPayloadShape:
    """C 2.1.2: the body is one Statement or an array of Statements to be stored."""

    def test_single_statement_returns_a_list_of_one(self) -> None:
        statement = make_statement()
        result = validate_statements(statement, V1)
        assert result == [statement]
        assert result[0] is statement

    def test_batch_returns_every_statement_in_order(self) -> None:
        batch = [make_statement(id=UUID_A), make_statement(id=UUID_B)]
        assert [s["id"] for s in validate_statements(batch, V1)] == [UUID_A, UUID_B]

    def test_empty_batch_is_rejected(self) -> None:
        """Decision: C 2.1.2 asks for statements "to be stored"; [] is a client error."""
        error = rejects([])
        assert error.field == "statements"
        assert "empty" in error.message

    @pytest.mark.parametrize("payload", ["statement", 12, None, True])
    def test_body_must_be_an_object_or_array(self, payload: Any) -> None:
        error = rejects(payload)
        assert error.field == "statement"

    def test_batch_items_must_be_objects(self) -> None:
        error = rejects([make_statement(), "not a statement"])
        assert error.field == "statements[1]"
        assert "must be a JSON object, not a string" in error.message

    def test_error_paths_name_the_batch_index(self) -> None:
        batch = [make_statement() for _ in range(4)]
        batch[3]["context"] = {"registration": "not-a-uuid"}
        error = rejects(batch)
        assert error.field == "statements[3].context.registration"

    def test_error_paths_for_a_single_statement(self) -> None:
        error = rejects(make_statement(actor={"mbox": "learner@example.com"}))
        assert error.field == "statement.actor.mbox"


class TestBatchIds:
    """C 2.1.2.s2.b6 (400 in the 2.0 suite): no two statements of a batch share an id."""

    @BOTH
    def test_repeated_id_rejects_the_batch(self, version: XAPIVersion) -> None:
        batch = [make_statement(id=UUID_A), make_statement(id=UUID_B), make_statement(id=UUID_A)]
        error = rejects(batch, version)
        assert error.field == "statements[2].id"
        assert "statements[0]" in error.message

    def test_ids_compare_as_uuids_whatever_their_case(self) -> None:
        error = rejects([make_statement(id=UUID_A), make_statement(id=UUID_A.upper())])
        assert error.field == "statements[1].id"

    def test_statements_without_ids_do_not_clash(self) -> None:
        assert len(accepts([make_statement(), make_statement(), make_statement(id=UUID_A)])) == 3


class TestNormalization:
    """D 2.4.6.2.s4.b3-b4: every contextActivities value is stored (and returned) as an array."""

    def test_single_activities_become_arrays_in_place(self) -> None:
        statement = make_statement(
            context={
                "contextActivities": {
                    "parent": activity("http://example.com/a"),
                    "grouping": [activity("http://example.com/b")],
                    "other": {"id": "http://example.com/c"},
                }
            }
        )
        (result,) = validate_statements(statement, V1)
        assert result is statement
        assert statement["context"]["contextActivities"] == {
            "parent": [activity("http://example.com/a")],
            "grouping": [activity("http://example.com/b")],
            "other": [{"id": "http://example.com/c"}],
        }

    @BOTH
    def test_substatement_context_activities_become_arrays(self, version: XAPIVersion) -> None:
        inner = substatement(context={"contextActivities": {"category": activity()}})
        (result,) = validate_statements(make_statement(object=inner), version)
        assert result["object"]["context"]["contextActivities"] == {"category": [activity()]}

    def test_nothing_else_changes(self) -> None:
        statement = make_statement(
            id=UUID_A,
            timestamp="2015-03-01T10:20:30.1234+02:00",
            result={"duration": "PT1.23456S", "score": {"raw": 5, "min": 0, "max": 10}},
            context={"contextActivities": {"parent": [activity()]}, "language": "EN-us"},
        )
        original = copy.deepcopy(statement)
        assert validate_statements(statement, V1) == [original]

    def test_validate_statement_alone_never_changes_its_input(self) -> None:
        statement = make_statement(
            timestamp=None, context={"contextActivities": {"parent": activity()}}
        )
        original = copy.deepcopy(statement)
        validate_statement(statement, V2)
        assert statement == original


# --- general formatting rules ---------------------------------------------------------------


class TestRequiredProperties:
    """D 2.2.s2.b3: a Statement MUST use actor, verb and object."""

    @pytest.mark.parametrize("missing", ["actor", "verb", "object"])
    def test_missing_property_is_rejected(self, missing: str) -> None:
        statement = make_statement()
        del statement[missing]
        error = rejects(statement)
        assert error.field == f"statement.{missing}"
        assert f"requires {missing!r}" in error.message


class TestNulls:
    """D 2.2.s4.b1.b1: no null values, except inside extensions (suite XAPI-00001)."""

    @pytest.mark.parametrize(
        ("statement", "field"),
        [
            (make_statement(actor={**agent(), "name": None}), "statement.actor.name"),
            (
                make_statement(verb={"id": VERB_ID, "display": {"en-US": None}}),
                "statement.verb.display.en-US",
            ),
            (make_statement(context={"registration": None}), "statement.context.registration"),
            (
                make_statement(object=activity(moreInfo=None)),
                "statement.object.definition.moreInfo",
            ),
            (make_statement(result={"success": None}), "statement.result.success"),
            (make_statement(id=None), "statement.id"),
            (make_statement(context=None), "statement.context"),
            (make_statement(object=substatement(timestamp=None)), "statement.object.timestamp"),
        ],
        ids=["name", "display", "registration", "moreInfo", "success", "id", "context", "sub-ts"],
    )
    @BOTH
    def test_null_is_rejected(self, statement: Statement, field: str, version: XAPIVersion) -> None:
        error = rejects(statement, version)
        assert error.field == field
        assert "null" in error.message

    @pytest.mark.parametrize("where", ["definition", "result", "context"])
    def test_null_extension_values_are_accepted(self, where: str) -> None:
        """D 4.1.s3.b2 / suite XAPI-00119: extension values are never a reason to reject."""
        extensions = {"extensions": {"http://example.com/ext/a": None}}
        if where == "definition":
            statement = make_statement(object=activity(**extensions))
        else:
            statement = make_statement(**{where: extensions})
        assert accepts(statement)

    def test_null_timestamp_is_rejected_under_1_0_3(self) -> None:
        error = rejects(make_statement(timestamp=None), V1)
        assert error.field == "statement.timestamp"

    def test_null_timestamp_means_absent_under_2_0(self) -> None:
        """Decision (LRS-CHECKLIST 18): the 2.0 suite sends "timestamp": null and expects the
        LRS to set it to stored, as for a missing timestamp (D 2.4.7.s3.b2)."""
        (result,) = accepts(make_statement(timestamp=None), V2)
        assert "timestamp" not in result


class TestJsonTypes:
    """D 2.2.s4.b1.b2-b3: no strings for numbers or booleans, no wrong types at all
    (suite XAPI-00006)."""

    @pytest.mark.parametrize(
        ("statement", "field"),
        [
            (make_statement(result={"success": "true"}), "statement.result.success"),
            (make_statement(result={"completion": 1}), "statement.result.completion"),
            (make_statement(result={"response": 42}), "statement.result.response"),
            (make_statement(result={"score": {"raw": "12"}}), "statement.result.score.raw"),
            (make_statement(result={"score": {"scaled": True}}), "statement.result.score.scaled"),
            (make_statement(result={"score": {"max": False}}), "statement.result.score.max"),
            (make_statement(result="passed"), "statement.result"),
            (make_statement(actor={**agent(), "name": 123}), "statement.actor.name"),
            (make_statement(actor="mailto:learner@example.com"), "statement.actor"),
            (make_statement(verb=VERB_ID), "statement.verb"),
            (make_statement(object=ACTIVITY_ID), "statement.object"),
            (make_statement(context=[]), "statement.context"),
            (make_statement(context={"revision": 2}), "statement.context.revision"),
            (make_statement(attachments={}), "statement.attachments"),
            (make_statement(version=1.0), "statement.version"),
        ],
    )
    def test_wrong_type_is_rejected(self, statement: Statement, field: str) -> None:
        error = rejects(statement)
        assert error.field == field
        assert " not " in error.message

    @pytest.mark.parametrize("raw", [0, -3, 7.5, 1e3])
    def test_numbers_of_any_json_form_are_accepted(self, raw: float) -> None:
        assert accepts(make_statement(result={"score": {"raw": raw}}))


class TestUnknownProperties:
    """D 2.2.s4.b1.b7 and 2.2.s4.b8 (MUST-tested in 2.0): nothing the spec does not define,
    anywhere in the statement."""

    @pytest.mark.parametrize(
        ("statement", "field"),
        [
            (make_statement(dummy="dummy"), "statement.dummy"),
            (make_statement(actor={**agent(), "age": 3}), "statement.actor.age"),
            (
                make_statement(actor={**group(mbox="mailto:g@example.com"), "size": 1}),
                "statement.actor.size",
            ),
            (make_statement(verb={"id": VERB_ID, "name": "x"}), "statement.verb.name"),
            (make_statement(object={**activity(), "name": "x"}), "statement.object.name"),
            (
                make_statement(object=activity(title={"en": "x"})),
                "statement.object.definition.title",
            ),
            (
                make_statement(
                    object=activity(interactionType="choice", choices=[{"id": "a", "label": "A"}])
                ),
                "statement.object.definition.choices[0].label",
            ),
            (make_statement(result={"grade": "A"}), "statement.result.grade"),
            (make_statement(result={"score": {"percent": 5}}), "statement.result.score.percent"),
            (make_statement(context={"location": "x"}), "statement.context.location"),
            (
                make_statement(context={"contextActivities": {"parents": [activity()]}}),
                "statement.context.contextActivities.parents",
            ),
            (
                make_statement(actor={"account": {"homePage": "http://x.y", "name": "n", "id": 1}}),
                "statement.actor.account.id",
            ),
            (
                make_statement(object={"objectType": "StatementRef", "id": UUID_A, "x": 1}),
                "statement.object.x",
            ),
            (make_statement(attachments=[attachment(hash="x")]), "statement.attachments[0].hash"),
            (
                make_statement(object={**substatement(), "extra": 1}),
                "statement.object.extra",
            ),
            (make_statement(object=substatement(objectType2=1)), "statement.object.objectType2"),
        ],
    )
    @BOTH
    def test_unknown_property_is_rejected(
        self, statement: Statement, field: str, version: XAPIVersion
    ) -> None:
        error = rejects(statement, version)
        assert error.field == field
        assert "has no property" in error.message

    @pytest.mark.parametrize(
        ("statement", "field"),
        [
            (
                {"Actor": agent(), "verb": {"id": VERB_ID}, "object": activity()},
                "statement.Actor",
            ),
            (make_statement(actor={"objectType": "Agent", "MBOX": "mailto:a@b.c"}), None),
            (make_statement(object={"objecttype": "Activity", "id": ACTIVITY_ID}), None),
        ],
    )
    def test_key_case_must_match(self, statement: Statement, field: str | None) -> None:
        """D 2.2.s4.b1.b5 (suite XAPI-00008): keys are case-sensitive."""
        error = rejects(statement)
        if field is not None:
            assert error.field == field
        assert "case-sensitive" in error.message


# --- formats: UUID, IRI, language tags, timestamps, durations -------------------------------


class TestUuids:
    """D 2.4.1.s1 and 4.4: UUIDs in standard string form (suite XAPI-00027...00030)."""

    @pytest.mark.parametrize(
        "value",
        [
            UUID_A,
            UUID_A.upper(),
            "00000000-0000-0000-0000-000000000000",
            "12345678-1234-5678-1234-567812345678",  # the spec's own example (D 2.4.s2)
        ],
    )
    def test_valid(self, value: str) -> None:
        assert is_uuid(value)
        assert accepts(make_statement(id=value))

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "AA97B177-9383-4934-8543-0F91A7A028368",
            "MA97B177-9383-4934-8543-0F91A7A02836",
            "3a1f6d528f0c4b3e9a570c6f2d8e41b7",
            "{3a1f6d52-8f0c-4b3e-9a57-0c6f2d8e41b7}",
            "urn:uuid:3a1f6d52-8f0c-4b3e-9a57-0c6f2d8e41b7",
            UUID_A + "\n",
            " " + UUID_A,
        ],
    )
    def test_invalid(self, value: str) -> None:
        assert not is_uuid(value)
        error = rejects(make_statement(id=value))
        assert error.field == "statement.id"
        assert "UUID" in error.message

    @pytest.mark.parametrize("value", [12345, {"key": "x"}])
    def test_not_a_string(self, value: Any) -> None:
        assert rejects(make_statement(id=value)).field == "statement.id"


class TestIris:
    """D 2.2.s4.b1.b4 and b8 (suite XAPI-00011): IRIs and IRLs need a scheme; best-effort
    syntax (D 2.2.s4.b6)."""

    @pytest.mark.parametrize(
        "value",
        [
            "http://example.com/xapi/verbs#defenestrated",
            "https://example.com/path/../other?x=1&y=%20z",
            "urn:uuid:3a1f6d52-8f0c-4b3e-9a57-0c6f2d8e41b7",
            "mailto:someone@example.com",
            "http://example.com/فعل/خواندن",
            "tag:example.com,2024:xapi",
            "x:y",
        ],
    )
    def test_valid(self, value: str) -> None:
        assert is_iri(value)
        assert accepts(make_statement(verb={"id": value}))

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "adlnet.gov/expapi/verbs/attended",
            "not.a.valid.iri.com/verb",
            "ab=c://should.fail.com",
            "1http://example.com",
            "http:",
            "http://exa mple.com",
            "http://example.com/%zz",
            "http://example.com/<tag>",
            "http://example.com/\n",
            "should fail",
        ],
    )
    def test_invalid(self, value: str) -> None:
        assert not is_iri(value)
        error = rejects(make_statement(verb={"id": value}))
        assert error.field == "statement.verb.id"
        assert "IRI" in error.message

    @pytest.mark.parametrize(
        ("statement", "field"),
        [
            (make_statement(actor={"openid": "open.id.com/testUser"}), "statement.actor.openid"),
            (
                make_statement(actor={"account": {"homePage": "homePage.com/u", "name": "1"}}),
                "statement.actor.account.homePage",
            ),
            (make_statement(object=activity("example.com/a")), "statement.object.id"),
            (
                make_statement(object=activity(type="adlnet.gov/expapi/activities/meeting")),
                "statement.object.definition.type",
            ),
            (
                make_statement(object=activity(moreInfo="virtualmeeting.example.com/345256")),
                "statement.object.definition.moreInfo",
            ),
            (
                make_statement(attachments=[attachment(usageType="example.com/usage")]),
                "statement.attachments[0].usageType",
            ),
            (
                make_statement(attachments=[attachment(fileUrl="over.there.com/file.txt")]),
                "statement.attachments[0].fileUrl",
            ),
        ],
    )
    def test_every_iri_property_is_checked(self, statement: Statement, field: str) -> None:
        assert rejects(statement).field == field


class TestLanguageMaps:
    """D 4.2 and 2.2.s4.b2 (suite XAPI-00013, XAPI-00121): RFC 5646 keys, string values."""

    @pytest.mark.parametrize(
        "tag",
        [
            "en",
            "en-US",
            "EN-us",
            "es-419",
            "zh-Hant-TW",
            "zh-yue-HK",
            "de-CH-1901",
            "sl-rozaj-biske",
            "en-a-bbb-x-a-ccc",
            "x-whatever",
            "i-klingon",
            "sgn-BE-FR",
            "und",
        ],
    )
    def test_valid_tags(self, tag: str) -> None:
        assert accepts(make_statement(verb={"id": VERB_ID, "display": {tag: "done"}}))
        assert accepts(make_statement(context={"language": tag}))

    @pytest.mark.parametrize(
        "tag",
        ["", "a12345", "a12345678", "en_US", "en-", "-en", "e", "123", "en-US-", "en--US", "é"],
    )
    def test_invalid_tags(self, tag: str) -> None:
        error = rejects(make_statement(verb={"id": VERB_ID, "display": {tag: "done"}}))
        assert error.field == "statement.verb.display"
        assert "RFC 5646" in error.message
        error = rejects(make_statement(context={"language": tag}))
        assert error.field == "statement.context.language"

    @pytest.mark.parametrize(
        ("statement", "field"),
        [
            (
                make_statement(verb={"id": VERB_ID, "display": "completed"}),
                "statement.verb.display",
            ),
            (make_statement(verb={"id": VERB_ID, "display": 12345}), "statement.verb.display"),
            (
                make_statement(verb={"id": VERB_ID, "display": {"en": 1}}),
                "statement.verb.display.en",
            ),
            (
                make_statement(object=activity(name={"en": ["Quiz"]})),
                "statement.object.definition.name.en",
            ),
            (
                make_statement(object=activity(description={"a12345": "x"})),
                "statement.object.definition.description",
            ),
            (
                make_statement(attachments=[attachment(display={"en-US": {}})]),
                "statement.attachments[0].display.en-US",
            ),
        ],
    )
    def test_maps_hold_strings_under_tags(self, statement: Statement, field: str) -> None:
        assert rejects(statement).field == field


class TestTimestamps:
    """D 4.5 (suite XAPI-00123, configs/timestamps.js): ISO 8601 date-times; the negative zero
    offsets are refused, +00:00 accepted (2.0 suite)."""

    @pytest.mark.parametrize(
        ("value", "instant"),
        [
            ("2008-09-15T15:53:00.601Z", datetime(2008, 9, 15, 15, 53, 0, 601000, tzinfo=UTC)),
            ("2008-09-15T15:53:00.601+00:00", datetime(2008, 9, 15, 15, 53, 0, 601000, UTC)),
            ("2008-09-15T15:53:00+0000", datetime(2008, 9, 15, 15, 53, tzinfo=UTC)),
            ("2008-09-15T15:53:00+00", datetime(2008, 9, 15, 15, 53, tzinfo=UTC)),
            ("2023-05-04T12:00:00-05:00", datetime(2023, 5, 4, 17, 0, tzinfo=UTC)),
            ("2023-05-04T12:00:00+05:30", datetime(2023, 5, 4, 6, 30, tzinfo=UTC)),
            ("2015-01-01T10:20:30.123456789Z", datetime(2015, 1, 1, 10, 20, 30, 123456, UTC)),
            ("2015-01-01T10:20Z", datetime(2015, 1, 1, 10, 20, tzinfo=UTC)),
            ("20080915T155300Z", datetime(2008, 9, 15, 15, 53, tzinfo=UTC)),
            ("20080915T155300.5-0100", datetime(2008, 9, 15, 16, 53, 0, 500000, UTC)),
        ],
    )
    def test_valid(self, value: str, instant: datetime) -> None:
        parsed = parse_timestamp(value, "since")
        assert parsed.tzinfo is not None
        assert parsed == instant
        assert accepts(make_statement(timestamp=value, stored=value))
        assert accepts(make_statement(object=substatement(timestamp=value)))

    def test_a_time_without_zone_is_read_as_utc(self) -> None:
        """D 4.5.s1.b4: the zone is SHOULD*, so a zoneless time is accepted, as UTC."""
        parsed = parse_timestamp("2015-01-01T10:20:30", "until")
        assert parsed == datetime(2015, 1, 1, 10, 20, 30, tzinfo=UTC)
        assert accepts(make_statement(timestamp="2015-01-01T10:20:30"))

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "should fail",
            "01/011/2015",
            "2008-09-15T15:53:00.601-00",
            "2008-09-15T15:53:00.601-0000",
            "2008-09-15T15:53:00.601-00:00",
            "2008-09-15",
            "2008-09-15 15:53:00Z",
            "2008-13-01T00:00:00Z",
            "2008-02-30T00:00:00Z",
            "2008-09-15T24:00:00Z",
            "2008-09-15T15:53:00+24:00",
            "2008-09-15T15:53:00+05:60",
            "2008-09-15T15:53:00.Z",
            "2008-9-15T15:53:00Z",
            "1221494580",
        ],
    )
    def test_invalid(self, value: str) -> None:
        with pytest.raises(BadRequest) as caught:
            parse_timestamp(value, "since")
        assert caught.value.field == "since"
        assert "ISO 8601" in caught.value.message
        for field in ("timestamp", "stored"):
            assert rejects(make_statement(**{field: value})).field == f"statement.{field}"
        assert rejects(make_statement(object=substatement(timestamp=value))).field == (
            "statement.object.timestamp"
        )

    def test_future_timestamps_are_accepted(self) -> None:
        """D 2.4.7.s3.b5-b6: the LRS does not reject future timestamps."""
        future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        assert accepts(make_statement(timestamp=future), V2)

    def test_parsed_zone_is_kept(self) -> None:
        parsed = parse_timestamp("2023-05-04T12:00:00-05:00", "since")
        assert parsed.utcoffset() == timezone(timedelta(hours=-5)).utcoffset(None)


class TestDurations:
    """D 4.6 (suite XAPI-00124, configs/durations.js): ISO 8601:2004 4.4.3.2 durations."""

    @pytest.mark.parametrize(
        "value",
        [
            "PT1H0M0.1S",
            "PT4H35M59.14S",
            "PT16559.14S",
            "P3Y1M29DT4H35M59.14S",
            "P3Y",
            "P4W",
            "P1DT12H36M0.12567S",
            "PT0S",
            "P0D",
            "PT1,5S",
            "P1.5Y",
            "P1Y2M",
            "PT36H",
        ],
    )
    def test_valid(self, value: str) -> None:
        assert accepts(make_statement(result={"duration": value}))
        assert accepts(make_statement(object=substatement(result={"duration": value})))

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "P",
            "PT",
            "P1DT",
            "PA1H0M0S",
            "P4W1D",
            "P1W2W",
            "PT1.5H30M",
            "P-1D",
            "1H",
            "pt1h",
            "PT1H30M5.S",
            "P1M2Y",
            "PT1S2M",
            "P16559.14S",  # the spec's table shows it, but S belongs after T (4.4.3.2)
            "P0003-01-29T04:35:59",  # the alternative format D 4.6.s1.b1 forbids
            "should fail",
        ],
    )
    def test_invalid(self, value: str) -> None:
        error = rejects(make_statement(result={"duration": value}))
        assert error.field == "statement.result.duration"
        assert "ISO 8601 duration" in error.message

    def test_not_a_string(self) -> None:
        assert rejects(make_statement(result={"duration": 12345})).field == (
            "statement.result.duration"
        )


# --- actor, agents and groups ---------------------------------------------------------------


class TestAgents:
    """D 2.4.2.1 and 2.4.2.3-2.4.2.4 (suite XAPI-00032...00043)."""

    @pytest.mark.parametrize(
        "actor",
        [
            {"mbox": "mailto:learner@example.com"},
            {"objectType": "Agent", "name": "Learner", "mbox": "mailto:first.last+x@sub.ex.co"},
            {"mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"},
            {"mbox_sha1sum": "CD9B00A5611F94EAA7B1661EDAB976068E364975"},
            {"openid": "http://openid.example.org/12345"},
            {"account": {"homePage": "http://www.example.com", "name": "1625378"}},
        ],
    )
    def test_valid(self, actor: Statement) -> None:
        assert accepts(make_statement(actor=actor))

    @pytest.mark.parametrize(
        ("actor", "found"),
        [
            ({"objectType": "Agent", "name": "nobody"}, 0),
            ({"mbox": "mailto:a@example.com", "openid": "http://openid.example.org/1"}, 2),
            (
                {
                    "mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975",
                    "account": {"homePage": "http://www.example.com", "name": "a"},
                    "openid": "http://openid.example.org/1",
                },
                3,
            ),
        ],
    )
    def test_needs_exactly_one_ifi(self, actor: Statement, found: int) -> None:
        """D 2.4.2.1.s2.b1-b2 (suite XAPI-00034)."""
        error = rejects(make_statement(actor=actor))
        assert error.field == "statement.actor"
        assert error.message == (
            "statement.actor: an Agent must have exactly one of mbox, mbox_sha1sum, openid, "
            f"account (found {found}) (Data 2.4.2.1.s2.b1)"
        )

    @pytest.mark.parametrize(
        "mbox",
        [
            "learner@example.com",
            "mailto:should.fail.com",
            "http://should.fail.com",
            "mailto:",
            "mailto:@example.com",
            "mailto:a@",
            "mailto:a b@example.com",
            "mailto:a@b@example.com",
            "",
        ],
    )
    def test_mbox_is_a_mailto_iri(self, mbox: str) -> None:
        """D 2.4.2.3.s3.table1.row1 (suite XAPI-00038)."""
        error = rejects(make_statement(actor={"mbox": mbox}))
        assert error.field == "statement.actor.mbox"
        assert "mailto:" in error.message

    @pytest.mark.parametrize(
        "digest",
        ["", "cd9b00a5611f94eaa7b1661edab976068e36497", "zz9b00a5611f94eaa7b1661edab976068e364975"],
    )
    def test_mbox_sha1sum_is_hex_sha1(self, digest: str) -> None:
        """D 2.4.2.3.s3.table1.row2 (suite XAPI-00039)."""
        assert rejects(make_statement(actor={"mbox_sha1sum": digest})).field == (
            "statement.actor.mbox_sha1sum"
        )

    @pytest.mark.parametrize(
        ("account", "field"),
        [
            ({"name": "xAPI account name"}, "statement.actor.account.homePage"),
            ({"homePage": "http://www.example.com"}, "statement.actor.account.name"),
            (
                {"homePage": "ab=c://should.fail.com", "name": "a"},
                "statement.actor.account.homePage",
            ),
            ({"homePage": "http://www.example.com", "name": {"key": "value"}}, None),
            ("http://www.example.com|name", "statement.actor.account"),
        ],
    )
    def test_account_needs_homepage_and_name(self, account: Any, field: str | None) -> None:
        """D 2.4.2.4.s2.table1 (suite XAPI-00041...00043)."""
        error = rejects(make_statement(actor={"account": account}))
        assert error.field == (field or "statement.actor.account.name")

    @pytest.mark.parametrize("object_type", ["agent", "Person", "Activity", 123, {"k": "v"}])
    def test_object_type_is_agent_or_group(self, object_type: Any) -> None:
        """D 2.4.2.1.s2.table1.row1 and 2.2.s4.b1.b6 (suite XAPI-00032)."""
        actor = {"objectType": object_type, "mbox": "mailto:a@example.com"}
        error = rejects(make_statement(actor=actor))
        assert error.field == "statement.actor.objectType"


class TestGroups:
    """D 2.4.2.2 (suite XAPI-00035...00037)."""

    @pytest.mark.parametrize(
        "actor",
        [
            group(agent("a"), agent("b")),
            group(mbox="mailto:team@example.com"),
            {"objectType": "Group", "openid": "http://openid.example.org/team"},
            {
                "objectType": "Group",
                "name": "Team",
                "account": {"homePage": "http://example.com", "name": "team-1"},
                "member": [{"mbox": "mailto:a@example.com"}],
            },
        ],
    )
    def test_valid(self, actor: Statement) -> None:
        assert accepts(make_statement(actor=actor))
        assert accepts(make_statement(object=actor))

    def test_anonymous_group_needs_members(self) -> None:
        """D 2.4.2.2.s4.b1."""
        error = rejects(make_statement(actor={"objectType": "Group", "name": "Team"}))
        assert error.field == "statement.actor"
        assert "anonymous Group" in error.message

    def test_identified_group_has_exactly_one_ifi(self) -> None:
        """D 2.4.2.2.s5.b1."""
        actor = group(mbox="mailto:t@example.com", openid="http://openid.example.org/t")
        error = rejects(make_statement(actor=actor))
        assert error.field == "statement.actor"
        assert "(found 2)" in error.message

    @pytest.mark.parametrize(
        "member",
        [
            {"objectType": "Group", "mbox": "mailto:inner@example.com"},
            group(agent("inner")),
        ],
    )
    def test_members_are_agents_only(self, member: Statement) -> None:
        """D 2.4.2.2.s4.b2, s5.b2 (suite XAPI-00036)."""
        anonymous = group(agent(), member)
        error = rejects(make_statement(actor=anonymous))
        assert error.field == "statement.actor.member[1].objectType"
        assert "members must be Agents" in error.message
        identified = group(member, mbox="mailto:t@example.com")
        error = rejects(make_statement(actor=identified))
        assert error.field == "statement.actor.member[0].objectType"
        assert "members must be Agents" in error.message

    @pytest.mark.parametrize(
        ("member", "field"),
        [
            ({"name": "no ifi"}, "statement.actor.member[1]"),
            ({"mbox": "nobody"}, "statement.actor.member[1].mbox"),
            ("mailto:a@example.com", "statement.actor.member[1]"),
        ],
    )
    def test_members_are_valid_agents(self, member: Any, field: str) -> None:
        assert rejects(make_statement(actor=group(agent(), member))).field == field

    def test_member_is_an_array(self) -> None:
        actor = {"objectType": "Group", "member": agent()}
        assert rejects(make_statement(actor=actor)).field == "statement.actor.member"

    def test_team_must_be_a_group(self) -> None:
        """D 2.4.6.s3.table1.row3 (suite XAPI-00087)."""
        assert accepts(make_statement(context={"team": group(agent("a"))}))
        error = rejects(make_statement(context={"team": agent()}))
        assert error.field == "statement.context.team.objectType"


class TestAuthority:
    """D 2.4.9.s3.b1 (suite configs/authorities.js, XAPI-00024, 00098, 00100): an Agent, or an
    anonymous Group of exactly two Agents (3-legged OAuth)."""

    oauth_pair = (
        {"account": {"homePage": "http://example.com/xAPI/OAuth/Token", "name": "oauth_x75db"}},
        {"mbox": "mailto:bob@example.com"},
    )

    def test_agent_and_oauth_pair_are_accepted(self) -> None:
        assert accepts(make_statement(authority=agent("admin")))
        assert accepts(make_statement(authority=group(*self.oauth_pair)))

    @pytest.mark.parametrize(
        "ifi",
        [
            {"mbox": "mailto:bob@example.com"},
            {"mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"},
            {"openid": "http://openid.example.org/12345"},
            {"account": {"homePage": "http://www.example.com", "name": "xAPI account name"}},
        ],
    )
    def test_identified_group_is_rejected(self, ifi: Statement) -> None:
        error = rejects(make_statement(authority=group(*self.oauth_pair, **ifi)))
        assert error.field == "statement.authority"
        assert "anonymous" in error.message

    @pytest.mark.parametrize("count", [1, 3])
    def test_group_needs_exactly_two_members(self, count: int) -> None:
        members = [agent(f"m{index}") for index in range(count)]
        error = rejects(make_statement(authority=group(*members)))
        assert error.field == "statement.authority.member"
        assert f"found {count}" in error.message

    def test_authority_agent_needs_an_ifi(self) -> None:
        assert rejects(make_statement(authority={"objectType": "Agent"})).field == (
            "statement.authority"
        )


# --- verb and object ------------------------------------------------------------------------


class TestVerb:
    """D 2.4.3.s3.table1 (suite XAPI-00044): id IRI required, display a language map."""

    def test_display_is_optional(self) -> None:
        assert accepts(make_statement(verb={"id": VERB_ID}))

    def test_id_is_required(self) -> None:
        error = rejects(make_statement(verb={"display": {"en-US": "attended"}}))
        assert error.field == "statement.verb.id"

    def test_voiding_statement_targets_a_statement_ref(self) -> None:
        """D 2.3.2.s2.b1 (suite XAPI-00017): the voided verb takes a StatementRef object."""
        voided = {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}}
        assert accepts(
            make_statement(verb=voided, object={"objectType": "StatementRef", "id": UUID_A})
        )
        error = rejects(make_statement(verb=voided))
        assert error.field == "statement.object.objectType"
        assert "StatementRef" in error.message


class TestObjectType:
    """D 2.4.4.s2 (suite XAPI-00046): Activity by default, or Agent, Group, SubStatement,
    StatementRef in exact case."""

    def test_activity_is_the_default(self) -> None:
        assert accepts(make_statement(object={"id": ACTIVITY_ID}))

    @pytest.mark.parametrize(
        "target",
        [
            activity(),
            agent("peer"),
            group(agent("a"), agent("b")),
            {"objectType": "StatementRef", "id": UUID_A},
            substatement(),
        ],
        ids=["Activity", "Agent", "Group", "StatementRef", "SubStatement"],
    )
    def test_each_object_type_is_accepted(self, target: Statement) -> None:
        assert accepts(make_statement(object=target))

    @pytest.mark.parametrize(
        "object_type", ["activity", "ACTIVITY", "Statement", "statementref", "Substatement", 1]
    )
    def test_other_object_types_are_rejected(self, object_type: Any) -> None:
        target = {"objectType": object_type, "id": ACTIVITY_ID}
        error = rejects(make_statement(object=target))
        assert error.field == "statement.object.objectType"

    @pytest.mark.parametrize(
        "target",
        [{"mbox": "mailto:peer@example.com"}, {"member": [agent("a")], "name": "Team"}],
        ids=["agent", "group"],
    )
    def test_agent_or_group_object_states_its_object_type(self, target: Statement) -> None:
        """D 2.4.4.2.s1.b1 (suite XAPI-00065), in statements and SubStatements."""
        error = rejects(make_statement(object=target))
        assert error.field == "statement.object.objectType"
        assert "must state its objectType" in error.message
        error = rejects(make_statement(object=substatement(object=target)))
        assert error.field == "statement.object.object.objectType"


class TestActivities:
    """D 2.4.4.1 (suite XAPI-00047 and configs/activities.js)."""

    def test_full_definition_is_accepted(self) -> None:
        target = activity(
            name={"en-GB": "example meeting", "en-US": "example meeting"},
            description={"en-US": "An example meeting"},
            type="http://adlnet.gov/expapi/activities/meeting",
            moreInfo="http://virtualmeeting.example.com/345256",
            extensions={"http://example.com/ext/location": "X:\\meetings\\one"},
        )
        assert accepts(make_statement(object=target))

    def test_id_is_required(self) -> None:
        error = rejects(make_statement(object={"objectType": "Activity"}))
        assert error.field == "statement.object.id"

    def test_definition_is_an_object(self) -> None:
        target = {"id": ACTIVITY_ID, "definition": "a quiz"}
        assert rejects(make_statement(object=target)).field == "statement.object.definition"


class TestInteractions:
    """D 2.4.4.1.s8-s16 (suite XAPI-00064 and configs/activities.js)."""

    @pytest.mark.parametrize(
        ("interaction_type", "fields"),
        [
            ("true-false", {"correctResponsesPattern": ["true"]}),
            ("choice", {"choices": [{"id": "a"}, {"id": "b"}], "correctResponsesPattern": ["a"]}),
            ("fill-in", {"correctResponsesPattern": ["{case_matters=false}Bob's your uncle"]}),
            ("long-fill-in", {"correctResponsesPattern": []}),
            ("matching", {"source": [{"id": "1"}], "target": [{"id": "a"}]}),
            ("performance", {"steps": [{"id": "pong", "description": {"en-US": "Net pong"}}]}),
            ("sequencing", {"choices": [{"id": "tim"}, {"id": "ben"}]}),
            ("likert", {"scale": [{"id": "likert_0", "description": {"en-US": "It's OK"}}]}),
            ("numeric", {"correctResponsesPattern": ["4[:]"]}),
            ("other", {"correctResponsesPattern": ["(35.937432,-86.868896)"]}),
        ],
    )
    def test_each_interaction_type(self, interaction_type: str, fields: Statement) -> None:
        target = activity(interactionType=interaction_type, **fields)
        assert accepts(make_statement(object=target))

    @pytest.mark.parametrize("interaction_type", ["Choice", "TRUE-FALSE", "multiple-choice", ""])
    def test_interaction_type_is_one_of_the_listed_values(self, interaction_type: str) -> None:
        """D 2.4.4.1.s13.b1 and 2.2.s4.b1.b6."""
        error = rejects(make_statement(object=activity(interactionType=interaction_type)))
        assert error.field == "statement.object.definition.interactionType"

    @pytest.mark.parametrize(
        "field", ["correctResponsesPattern", "choices", "scale", "source", "target", "steps"]
    )
    def test_interaction_properties_require_interaction_type(self, field: str) -> None:
        """Suite XAPI-00064: interaction properties only with an interactionType."""
        value: list[Any] = ["a"] if field == "correctResponsesPattern" else [{"id": "a"}]
        error = rejects(make_statement(object=activity(**{field: value})))
        assert error.field == f"statement.object.definition.{field}"
        assert "requires 'interactionType'" in error.message

    @pytest.mark.parametrize("pattern", ["a", ["a", 1], [["a"]], [None]])
    def test_correct_responses_pattern_is_an_array_of_strings(self, pattern: Any) -> None:
        """D 2.4.4.1.s8.table1.row2."""
        target = activity(interactionType="choice", correctResponsesPattern=pattern)
        error = rejects(make_statement(object=target))
        assert error.field is not None
        assert error.field.startswith("statement.object.definition.correctResponsesPattern")

    def test_component_ids_are_distinct_within_a_list(self) -> None:
        """D 2.4.4.1.s16.b1."""
        target = activity(interactionType="choice", choices=[{"id": "a"}, {"id": "b"}, {"id": "a"}])
        error = rejects(make_statement(object=target))
        assert error.field == "statement.object.definition.choices[2].id"
        assert "used twice" in error.message

    def test_the_same_id_may_appear_in_different_lists(self) -> None:
        target = activity(interactionType="matching", source=[{"id": "x"}], target=[{"id": "x"}])
        assert accepts(make_statement(object=target))

    @pytest.mark.parametrize(
        ("component", "field"),
        [
            ({"description": {"en-US": "no id"}}, "statement.object.definition.scale[0].id"),
            ({"id": 1}, "statement.object.definition.scale[0].id"),
            ({"id": "a", "description": {"a12345": "x"}}, None),
            ("likert_0", "statement.object.definition.scale[0]"),
        ],
    )
    def test_component_shape(self, component: Any, field: str | None) -> None:
        """D 2.4.4.1.s15.table1: id (string) required, description a language map."""
        target = activity(interactionType="likert", scale=[component])
        error = rejects(make_statement(object=target))
        assert error.field == (field or "statement.object.definition.scale[0].description")


class TestStatementRefs:
    """D 2.4.4.3.s4 (suite XAPI-00072/00073)."""

    def test_target_need_not_exist(self) -> None:
        assert accepts(make_statement(object={"objectType": "StatementRef", "id": UUID_B}))

    @pytest.mark.parametrize(
        ("target", "field"),
        [
            ({"objectType": "StatementRef"}, "statement.object.id"),
            ({"objectType": "StatementRef", "id": "statementref"}, "statement.object.id"),
            ({"objectType": "StatementRef", "id": ACTIVITY_ID}, "statement.object.id"),
        ],
    )
    def test_needs_a_uuid_id(self, target: Statement, field: str) -> None:
        assert rejects(make_statement(object=target)).field == field

    def test_context_statement_is_a_statement_ref(self) -> None:
        """D 2.4.6.s3.table1.row8 (suite XAPI-00091)."""
        assert accepts(
            make_statement(context={"statement": {"objectType": "StatementRef", "id": UUID_A}})
        )
        for value, field in [
            ({"id": UUID_A}, "statement.context.statement.objectType"),
            ("statementref", "statement.context.statement"),
            ({"objectType": "StatementRef", "id": "x"}, "statement.context.statement.id"),
        ]:
            assert rejects(make_statement(context={"statement": value})).field == field


class TestSubStatements:
    """D 2.4.4.3.s8 (suite XAPI-00066...00071)."""

    def test_full_substatement_is_accepted(self) -> None:
        inner = substatement(
            result={"success": True},
            context={"registration": UUID_A, "platform": "web"},
            timestamp="2099-01-01T00:00:00Z",
            attachments=[attachment()],
        )
        assert accepts(make_statement(object=inner))

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("id", UUID_A),
            ("stored", "2015-01-01T00:00:00Z"),
            ("version", "1.0.0"),
            ("authority", agent("admin")),
        ],
    )
    def test_lrs_properties_are_forbidden(self, key: str, value: Any) -> None:
        """D 2.4.4.3.s8.b3."""
        error = rejects(make_statement(object=substatement(**{key: value})))
        assert error.field == f"statement.object.{key}"
        assert "must not have" in error.message

    def test_cannot_be_nested(self) -> None:
        """D 2.4.4.3.s8.b4."""
        error = rejects(make_statement(object=substatement(object=substatement())))
        assert error.field == "statement.object.object.objectType"
        assert "cannot hold another SubStatement" in error.message

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"actor": {"mbox": "x"}}, "statement.object.actor.mbox"),
            ({"verb": {"id": "x"}}, "statement.object.verb.id"),
            ({"object": {"objectType": "StatementRef", "id": "x"}}, "statement.object.object.id"),
            ({"result": {"score": {"scaled": 2}}}, "statement.object.result.score.scaled"),
        ],
    )
    def test_is_validated_as_a_statement(self, changes: Statement, field: str) -> None:
        """D 2.4.4.3.s8.b2."""
        assert rejects(make_statement(object=substatement(**changes))).field == field

    @pytest.mark.parametrize("missing", ["actor", "verb", "object"])
    def test_needs_actor_verb_and_object(self, missing: str) -> None:
        inner = substatement()
        del inner[missing]
        assert rejects(make_statement(object=inner)).field == f"statement.object.{missing}"


# --- result ---------------------------------------------------------------------------------


class TestResult:
    """D 2.4.5.s2.table1 (suite XAPI-00074...00079)."""

    def test_full_result_is_accepted(self) -> None:
        result = {
            "score": {"scaled": 0.95, "raw": 95, "min": 0, "max": 100},
            "success": True,
            "completion": False,
            "response": "We agreed on some example actions.",
            "duration": "PT1H0M0S",
            "extensions": {"http://example.com/ext/x": {"any": ["json"]}},
        }
        assert accepts(make_statement(result=result))

    def test_empty_result_is_accepted(self) -> None:
        """D 2.2.s2.b1 only says SHOULD NOT for empty objects."""
        assert accepts(make_statement(result={}))


class TestScore:
    """D 2.4.5.1.s2.table1 (suite XAPI-00080...00083)."""

    @pytest.mark.parametrize(
        "score",
        [
            {"scaled": 1},
            {"scaled": -1},
            {"scaled": 0.6767676},
            {"raw": 100.6767676},
            {"raw": -5},
            {"raw": 0, "min": 0},
            {"raw": 10, "max": 10},
            {"min": -1.5, "max": 2.5},
        ],
    )
    def test_valid(self, score: Statement) -> None:
        assert accepts(make_statement(result={"score": score}))

    @pytest.mark.parametrize(
        ("score", "field"),
        [
            ({"scaled": 1.0001}, "scaled"),
            ({"scaled": -1.5}, "scaled"),
            ({"min": 10, "max": 10}, "min"),
            ({"min": 11, "max": 10}, "min"),
            ({"raw": -1, "min": 0, "max": 10}, "raw"),
            ({"raw": 11, "min": 0, "max": 10}, "raw"),
            ({"raw": 11, "max": 10}, "raw"),
            ({"raw": -1, "min": 0}, "raw"),
        ],
    )
    def test_ranges(self, score: Statement, field: str) -> None:
        error = rejects(make_statement(result={"score": score}))
        assert error.field == f"statement.result.score.{field}"


# --- context --------------------------------------------------------------------------------


class TestContext:
    """D 2.4.6.s3.table1 (suite XAPI-00086...00092)."""

    def test_full_context_is_accepted(self) -> None:
        context = {
            "registration": UUID_A,
            "instructor": agent("teacher"),
            "team": group(agent("a"), agent("b")),
            "contextActivities": {
                "parent": [activity("http://example.com/parent")],
                "grouping": activity("http://example.com/grouping"),
                "category": [],
                "other": [activity("http://example.com/o1"), {"id": "http://example.com/o2"}],
            },
            "revision": "r2",
            "platform": "Example virtual meeting software",
            "language": "tlh",
            "statement": {"objectType": "StatementRef", "id": UUID_B},
            "extensions": {"http://example.com/ext/altitude": 1548},
        }
        assert accepts(make_statement(context=context))

    def test_instructor_may_be_a_group(self) -> None:
        assert accepts(make_statement(context={"instructor": group(agent("t1"), agent("t2"))}))

    @pytest.mark.parametrize(
        ("context", "field"),
        [
            ({"registration": "should fail"}, "statement.context.registration"),
            ({"registration": 12345}, "statement.context.registration"),
            ({"instructor": {"key": "should fail"}}, "statement.context.instructor.key"),
            ({"instructor": {"name": "no ifi"}}, "statement.context.instructor"),
            ({"contextActivities": []}, "statement.context.contextActivities"),
            ({"contextActivities": {"parent": "http://x.y"}}, None),
            ({"contextActivities": {"parent": [{"id": "bad"}]}}, None),
            ({"contextActivities": {"Parent": [activity()]}}, None),
            ({"platform": 12345}, "statement.context.platform"),
            ({"language": 12345}, "statement.context.language"),
            ({"extensions": {"should fail": True}}, "statement.context.extensions"),
            ({"extensions": []}, "statement.context.extensions"),
        ],
    )
    def test_invalid(self, context: Statement, field: str | None) -> None:
        error = rejects(make_statement(context=context))
        if field is None:
            assert error.field is not None
            assert error.field.startswith("statement.context.contextActivities.")
        else:
            assert error.field == field

    @pytest.mark.parametrize("key", ["revision", "platform"])
    @pytest.mark.parametrize(
        "target",
        [
            agent("peer"),
            group(agent("a")),
            {"objectType": "StatementRef", "id": UUID_A},
            substatement(),
        ],
        ids=["Agent", "Group", "StatementRef", "SubStatement"],
    )
    def test_revision_and_platform_only_with_an_activity_object(
        self, key: str, target: Statement
    ) -> None:
        """D 2.4.6.s4.b1-b2 (a missing objectType counts as Activity)."""
        assert accepts(make_statement(object={"id": ACTIVITY_ID}, context={key: "x"}))
        error = rejects(make_statement(object=target, context={key: "x"}))
        assert error.field == f"statement.context.{key}"
        assert "only be used when" in error.message

    def test_substatement_revision_follows_its_own_object(self) -> None:
        inner = substatement(object=agent("peer"), context={"revision": "1"})
        assert rejects(make_statement(object=inner)).field == "statement.object.context.revision"


CONTEXT_AGENTS: list[Statement] = [
    {
        "objectType": "contextAgent",
        "agent": agent("player-1"),
        "relevantTypes": ["https://example.com/activity-types/position/quarterback"],
    },
    {"objectType": "contextAgent", "agent": {"mbox": "mailto:coach@example.com"}},
]
CONTEXT_GROUPS: list[Statement] = [
    {
        "objectType": "contextGroup",
        "group": group(agent("p1"), agent("p2"), mbox="mailto:team-1@example.com"),
        "relevantTypes": ["https://example.com/activity-types/team/a"],
    },
    {"objectType": "contextGroup", "group": group(agent("p3"))},
]


class TestContextAgentsAndGroups:
    """xAPI 2.0 only (suite v2_0/configs/contextagents.js, contextgroups.js): contextAgents
    and contextGroups in statement and SubStatement contexts."""

    def test_accepted_under_2_0(self) -> None:
        context = {"contextAgents": CONTEXT_AGENTS, "contextGroups": CONTEXT_GROUPS}
        assert accepts(make_statement(context=context), V2)
        assert accepts(make_statement(object=substatement(context=context)), V2)

    @pytest.mark.parametrize("key", ["contextAgents", "contextGroups"])
    def test_unknown_under_1_0_3(self, key: str) -> None:
        context = {"contextAgents": CONTEXT_AGENTS, "contextGroups": CONTEXT_GROUPS}
        error = rejects(make_statement(context={key: context[key]}), V1)
        assert error.field == f"statement.context.{key}"
        assert "has no property" in error.message

    @pytest.mark.parametrize(
        ("item", "field"),
        [
            ({"objectType": "Should fail", "agent": agent()}, "objectType"),
            ({"objectType": "contextagent", "agent": agent()}, "objectType"),
            ({"agent": agent()}, "objectType"),
            ({"objectType": "contextAgent"}, "agent"),
            ({"objectType": "contextAgent", "agent": {"key": "Should fail"}}, "agent.key"),
            ({"objectType": "contextAgent", "agent": group(agent())}, "agent.objectType"),
            (
                {"objectType": "contextAgent", "agent": agent(), "relevantTypes": []},
                "relevantTypes",
            ),
            (
                {"objectType": "contextAgent", "agent": agent(), "relevantTypes": ["abc"]},
                "relevantTypes[0]",
            ),
            (
                {"objectType": "contextAgent", "agent": agent(), "relevantTypes": "http://x.y"},
                "relevantTypes",
            ),
            ({"objectType": "contextAgent", "agent": agent(), "role": "x"}, "role"),
        ],
    )
    def test_invalid_context_agent(self, item: Statement, field: str) -> None:
        for statement, prefix in [
            (make_statement(context={"contextAgents": [item]}), "statement.context"),
            (
                make_statement(object=substatement(context={"contextAgents": [item]})),
                "statement.object.context",
            ),
        ]:
            error = rejects(statement, V2)
            assert error.field == f"{prefix}.contextAgents[0].{field}"

    @pytest.mark.parametrize(
        ("item", "field"),
        [
            ({"objectType": "Should fail", "group": group(agent())}, "objectType"),
            ({"objectType": "contextGroup", "group": {"key": "Should fail"}}, "group.key"),
            ({"objectType": "contextGroup", "group": agent()}, "group.objectType"),
            ({"objectType": "contextGroup", "agent": group(agent())}, "agent"),
            (
                {"objectType": "contextGroup", "group": group(agent()), "relevantTypes": []},
                "relevantTypes",
            ),
            (
                {"objectType": "contextGroup", "group": group(agent()), "relevantTypes": ["abc"]},
                "relevantTypes[0]",
            ),
        ],
    )
    def test_invalid_context_group(self, item: Statement, field: str) -> None:
        error = rejects(make_statement(context={"contextGroups": [item]}), V2)
        assert error.field == f"statement.context.contextGroups[0].{field}"

    def test_lists_are_arrays(self) -> None:
        error = rejects(make_statement(context={"contextAgents": CONTEXT_AGENTS[0]}), V2)
        assert error.field == "statement.context.contextAgents"


# --- extensions, attachments, LRS-set properties --------------------------------------------


class TestExtensions:
    """D 4.1.s3 (suite XAPI-00118...00120): IRI keys, values never checked."""

    @pytest.mark.parametrize("value", [None, "", {}, [], True, 12345, {"key": "valid"}, "valid"])
    def test_any_value_is_accepted(self, value: Any) -> None:
        extensions = {"http://example.com/ext": value}
        assert accepts(make_statement(result={"extensions": extensions}))
        assert accepts(make_statement(object=activity(extensions=extensions)))

    def test_empty_extensions_are_accepted(self) -> None:
        assert accepts(make_statement(context={"extensions": {}}))

    @pytest.mark.parametrize("key", ["should fail", "example.com/extension/wrong", ""])
    def test_keys_are_iris(self, key: str) -> None:
        error = rejects(make_statement(result={"extensions": {key: 1}}))
        assert error.field == "statement.result.extensions"
        assert "extension key" in error.message


class TestAttachments:
    """D 2.4.11.s2.table1 (suite configs/attachments.js)."""

    def test_valid(self) -> None:
        minimal = attachment(description=..., fileUrl=...)
        assert accepts(make_statement(attachments=[attachment(), minimal]))
        assert accepts(make_statement(attachments=[]))

    @pytest.mark.parametrize("missing", ["usageType", "display", "contentType", "length", "sha2"])
    def test_required_properties(self, missing: str) -> None:
        error = rejects(make_statement(attachments=[attachment(**{missing: ...})]))
        assert error.field == f"statement.attachments[0].{missing}"
        assert "requires" in error.message

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"contentType": "text"}, "contentType"),
            ({"contentType": 12345}, "contentType"),
            ({"contentType": "text/plain; charset"}, "contentType"),
            ({"length": -1}, "length"),
            ({"length": 1.5}, "length"),
            ({"length": "27"}, "length"),
            ({"length": True}, "length"),
            ({"sha2": "should fail"}, "sha2"),
            ({"sha2": SHA256[:-1]}, "sha2"),
            ({"sha2": 12345}, "sha2"),
            ({"usageType": "should fail"}, "usageType"),
            ({"fileUrl": "should fail"}, "fileUrl"),
            ({"display": "A test attachment"}, "display"),
            ({"description": {"a12345": "x"}}, "description"),
        ],
    )
    def test_invalid(self, changes: Statement, field: str) -> None:
        error = rejects(make_statement(attachments=[attachment(), attachment(**changes)]))
        assert error.field == f"statement.attachments[1].{field}"

    @pytest.mark.parametrize(
        "content_type",
        ["text/plain; charset=ascii", "application/json", 'multipart/mixed; boundary="a b"'],
    )
    def test_media_types(self, content_type: str) -> None:
        assert accepts(make_statement(attachments=[attachment(contentType=content_type)]))

    @pytest.mark.parametrize("digest", [SHA256.upper(), "a" * 56, "b" * 96, "c" * 128])
    def test_sha2_family_digests(self, digest: str) -> None:
        assert accepts(make_statement(attachments=[attachment(sha2=digest)]))


class TestStoredAndVersion:
    """D 2.4.8.s3.b2 (stored validated, then overwritten) and 2.4.10.s3 (version)."""

    @pytest.mark.parametrize("value", ["1.0", "1.0.0", "1.0.3", "1.0.9", "1.0.10"])
    @BOTH
    def test_1_0_versions_are_accepted(self, value: str, version: XAPIVersion) -> None:
        assert accepts(make_statement(version=value), version)

    @pytest.mark.parametrize("value", ["2.0.0", "2.0", "2.0.1"])
    def test_2_0_versions_only_under_2_0(self, value: str) -> None:
        assert accepts(make_statement(version=value), V2)
        error = rejects(make_statement(version=value), V1)
        assert error.field == "statement.version"
        assert "1.0" in error.message

    @pytest.mark.parametrize(
        "value", ["0.9.9", "1.1.0", "2.1.0", "3.0.0", "1.0.", "1", "1.0.x", "v1.0.0", "", "x"]
    )
    @BOTH
    def test_other_versions_are_rejected(self, value: str, version: XAPIVersion) -> None:
        assert rejects(make_statement(version=value), version).field == "statement.version"

    def test_stored_must_be_a_timestamp(self) -> None:
        assert accepts(make_statement(stored="2013-05-18T05:32:34.804Z"))
        assert rejects(make_statement(stored="yesterday")).field == "statement.stored"


# --- the agent query parameter and IFI keys ---------------------------------------------------


class TestParseAgent:
    """C 2.1.3 table 1 (agent parameter) and D 2.2.s4.b4 (parameters validated like
    statement values; suite XAPI-00012)."""

    @pytest.mark.parametrize(
        "value",
        [
            {"mbox": "mailto:learner@example.com"},
            {"objectType": "Agent", "account": {"homePage": "http://x.example", "name": "7"}},
            {"objectType": "Group", "openid": "http://openid.example.org/team"},
            {"objectType": "Group", "mbox": "mailto:t@example.com", "member": [agent()]},
        ],
    )
    def test_agent_or_identified_group(self, value: Statement) -> None:
        assert parse_agent(json.dumps(value)) == value

    @pytest.mark.parametrize(
        "raw",
        [
            "wrong",
            "[]",
            '"mailto:learner@example.com"',
            "{}",
            '{"objectType": "Group", "member": [{"mbox": "mailto:a@example.com"}]}',
            '{"mbox": "mailto:a@example.com", "openid": "http://openid.example.org/a"}',
            '{"mbox": "learner@example.com"}',
            '{"mbox": "mailto:a@example.com", "mbox": "mailto:b@example.com"}',
            '{"mbox": "mailto:a@example.com", "extra": 1}',
        ],
    )
    def test_rejects_anything_else(self, raw: str) -> None:
        with pytest.raises(BadRequest) as caught:
            parse_agent(raw, "agent")
        assert caught.value.field is not None
        assert caught.value.field.startswith("agent")


class TestAgentIfi:
    """D 2.4.2.3: the key agents and identified groups are indexed and found by."""

    @pytest.mark.parametrize(
        ("value", "key"),
        [
            ({"mbox": "mailto:a@b.c"}, "mbox:mailto:a@b.c"),
            (
                {"mbox_sha1sum": "CD9B00A5611F94EAA7B1661EDAB976068E364975"},
                "mbox_sha1sum:cd9b00a5611f94eaa7b1661edab976068e364975",
            ),
            ({"openid": "http://openid.example.org/1"}, "openid:http://openid.example.org/1"),
            (
                {"account": {"homePage": "http://example.com", "name": "Ann"}},
                "account:http://example.com|Ann",
            ),
            (group(agent(), mbox="mailto:team@b.c"), "mbox:mailto:team@b.c"),
            (group(agent()), None),
        ],
    )
    def test_key(self, value: Statement, key: str | None) -> None:
        assert agent_ifi(value) == key

    def test_equal_agents_share_a_key_whatever_else_they_carry(self) -> None:
        named = {"objectType": "Agent", "name": "Ann", "mbox": "mailto:a@b.c"}
        assert agent_ifi(named) == agent_ifi({"mbox": "mailto:a@b.c"})
        assert agent_ifi({"mbox": "mailto:a@b.c"}) != agent_ifi({"mbox": "mailto:A@b.c"})
