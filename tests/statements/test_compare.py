"""Statement comparison (xAPI-Data 2.3.1.s9): one class per immutability exception, each test
naming the requirement it checks; the last classes check that every other difference counts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from statements.compare import statements_equivalent

Statement = dict[str, Any]

UUID_A = "3a1f6d52-8f0c-4b3e-9a57-0c6f2d8e41b7"
UUID_B = "c0ffee00-1234-4abc-8def-0123456789ab"
ACTIVITY_ID = "http://example.com/courses/algebra/quiz-1"


def agent(name: str = "learner") -> Statement:
    return {"objectType": "Agent", "mbox": f"mailto:{name}@example.com"}


def make_statement(**parts: Any) -> Statement:
    statement: Statement = {
        "id": UUID_A,
        "actor": agent(),
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },
        "object": {"objectType": "Activity", "id": ACTIVITY_ID},
        "timestamp": "2024-03-01T10:20:30.123Z",
    }
    statement.update(parts)
    return statement


def changed(statement: Statement, path: str, value: Any) -> Statement:
    """A deep copy of `statement` with the dotted `path` set to `value` (`...` removes it)."""
    result = copy.deepcopy(statement)
    *parents, last = path.split(".")
    target: Any = result
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is ...:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return result


def assert_equivalent(a: Statement, b: Statement) -> None:
    assert statements_equivalent(a, b)
    assert statements_equivalent(b, a)


def assert_different(a: Statement, b: Statement) -> None:
    assert not statements_equivalent(a, b)
    assert not statements_equivalent(b, a)


class TestLrsAssignedProperties:
    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("stored", "2024-03-02T00:00:00Z"),
            ("authority", {"objectType": "Agent", "mbox": "mailto:lrs@example.com"}),
            ("version", "1.0.3"),
        ],
    )
    def test_set_by_the_lrs_is_ignored(self, key: str, value: Any) -> None:
        """Data 2.3.1.b1: stored, authority and version are assigned during LRS processing."""
        assert_equivalent(make_statement(), make_statement(**{key: value}))
        assert_equivalent(
            make_statement(**{key: value}),
            make_statement(**{key: {"other": True} if key == "authority" else "x"}),
        )

    def test_attachments_are_not_part_of_the_statement(self) -> None:
        """Data 2.3.1.b6: attachments are not part of statements."""
        attachment = {
            "usageType": "http://example.com/usage",
            "display": {"en-US": "a file"},
            "contentType": "text/plain",
            "length": 3,
            "sha2": "0" * 64,
        }
        assert_equivalent(make_statement(), make_statement(attachments=[attachment]))

    def test_id_is_ignored_when_one_side_has_none(self) -> None:
        """Data 2.3.1.b1: the LRS assigns the id, so a JWS payload may lack it."""
        assert_equivalent(make_statement(), changed(make_statement(), "id", ...))

    def test_different_ids_differ(self) -> None:
        """Data 2.3.1.s9.b2: an id both sides give is part of the statement."""
        assert_different(make_statement(), make_statement(id=UUID_B))

    def test_timestamp_is_ignored_when_one_side_has_none(self) -> None:
        """Data 2.3.1.b1: the LRS sets a missing timestamp (to stored)."""
        assert_equivalent(make_statement(), changed(make_statement(), "timestamp", ...))
        assert_equivalent(make_statement(), make_statement(timestamp=None))

    def test_timestamp_filled_in_from_stored_is_ignored(self) -> None:
        """Data 2.4.7.s3.b2: a statement sent twice without timestamp gets each time the
        timestamp of its own stored; those are not a difference."""
        first = make_statement(timestamp="2024-03-01T10:00:00.000Z", stored="2024-03-01T10:00Z")
        again = make_statement(timestamp="2024-03-01T11:00:00.000Z", stored="2024-03-01T11:00Z")
        assert_equivalent(first, again)
        sent = changed(first, "stored", "2024-03-01T10:05Z")
        assert_different(sent, changed(again, "stored", "2024-03-01T11:05Z"))

    def test_different_timestamps_differ(self) -> None:
        """Data 2.3.1.b4: a timestamp both sides give must name the same instant."""
        assert_different(make_statement(), make_statement(timestamp="2024-03-01T10:20:31.123Z"))


class TestDefinitionsAndVerbDisplay:
    def test_activity_definition_is_ignored(self) -> None:
        """Data 2.3.1.b2: Activity Definitions are not part of the statement."""
        defined = changed(
            make_statement(), "object.definition", {"name": {"en-US": "Quiz 1"}, "type": "x:y"}
        )
        assert_equivalent(make_statement(), defined)

    def test_context_activity_definitions_are_ignored(self) -> None:
        """Data 2.3.1.b2: also for the Activities in contextActivities."""
        plain = make_statement(context={"contextActivities": {"parent": [{"id": ACTIVITY_ID}]}})
        defined = changed(
            plain, "context.contextActivities.parent.0.definition", {"name": {"en": "P"}}
        )
        assert_equivalent(plain, defined)

    def test_verb_display_is_ignored(self) -> None:
        """Data 2.3.1.b3: the verb's display is not part of the statement."""
        assert_equivalent(
            make_statement(), changed(make_statement(), "verb.display", {"fr-FR": "terminé"})
        )
        assert_equivalent(make_statement(), changed(make_statement(), "verb.display", ...))

    def test_verb_id_counts(self) -> None:
        """Data 2.3.1.s9.b2: the verb id is not an exception."""
        assert_different(
            make_statement(), changed(make_statement(), "verb.id", "http://example.com/verbs/x")
        )

    def test_activity_id_counts(self) -> None:
        """Data 2.3.1.s9.b2: the Activity id is not an exception."""
        assert_different(
            make_statement(), changed(make_statement(), "object.id", ACTIVITY_ID + "/2")
        )


class TestTimestamps:
    @pytest.mark.parametrize(
        "other",
        [
            "2024-03-01T05:20:30.123-05:00",
            "2024-03-01T10:20:30.123+00:00",
            "2024-03-01T11:50:30.123+01:30",
            "2024-03-01T10:20:30.1234567Z",
            "2024-03-01T10:20:30.123000Z",
        ],
    )
    def test_same_instant_is_equal(self, other: str) -> None:
        """Data 2.3.1.b4 and 4.5.s1.b5, b7: time zone and precision beyond milliseconds are
        serialization only."""
        assert_equivalent(make_statement(), make_statement(timestamp=other))

    def test_a_different_millisecond_differs(self) -> None:
        """Data 4.5.s1.b3: timestamps keep millisecond precision."""
        assert_different(make_statement(), make_statement(timestamp="2024-03-01T10:20:30.124Z"))

    def test_substatement_timestamp_is_compared_as_an_instant(self) -> None:
        """Data 2.3.1.b4, applied inside a SubStatement."""
        sub = {
            "objectType": "SubStatement",
            "actor": agent(),
            "verb": {"id": "http://example.com/verbs/plan"},
            "object": {"id": ACTIVITY_ID},
            "timestamp": "2024-05-04T17:00:00Z",
        }
        same = changed(sub, "timestamp", "2024-05-04T12:00:00-05:00")
        assert_equivalent(make_statement(object=sub), make_statement(object=same))
        later = changed(sub, "timestamp", "2024-05-04T17:00:01Z")
        assert_different(make_statement(object=sub), make_statement(object=later))

    def test_substatement_timestamp_is_not_lrs_assigned(self) -> None:
        """Data 2.3.1.b1 names only the statement's own timestamp: a SubStatement's counts."""
        sub = {
            "objectType": "SubStatement",
            "actor": agent(),
            "verb": {"id": "http://example.com/verbs/plan"},
            "object": {"id": ACTIVITY_ID},
            "timestamp": "2024-05-04T17:00:00Z",
        }
        assert_different(
            make_statement(object=sub), make_statement(object=changed(sub, "timestamp", ...))
        )


class TestGroupMembers:
    def group(self, *names: str) -> Statement:
        return {"objectType": "Group", "member": [agent(name) for name in names]}

    def test_member_order_is_ignored(self) -> None:
        """Data 2.3.1.b5: the Agents of a Group are an unordered list."""
        assert_equivalent(
            make_statement(actor=self.group("a", "b", "c")),
            make_statement(actor=self.group("c", "a", "b")),
        )

    def test_member_order_is_ignored_everywhere_a_group_appears(self) -> None:
        """Data 2.3.1.b5: in the object, context.team and context.instructor too."""
        first = make_statement(
            object=self.group("a", "b"),
            context={"team": self.group("c", "d"), "instructor": self.group("e", "f")},
        )
        second = make_statement(
            object=self.group("b", "a"),
            context={"team": self.group("d", "c"), "instructor": self.group("f", "e")},
        )
        assert_equivalent(first, second)

    def test_member_order_in_context_groups_is_ignored(self) -> None:
        """Data 2.3.1.b5 for xAPI 2.0 contextGroups."""
        first = make_statement(
            context={
                "contextGroups": [{"objectType": "contextGroup", "group": self.group("a", "b")}]
            }
        )
        second = make_statement(
            context={
                "contextGroups": [{"objectType": "contextGroup", "group": self.group("b", "a")}]
            }
        )
        assert_equivalent(first, second)

    def test_different_members_differ(self) -> None:
        """Data 2.3.1.s9.b2: who is in the Group counts."""
        assert_different(
            make_statement(actor=self.group("a", "b")), make_statement(actor=self.group("a", "c"))
        )
        assert_different(
            make_statement(actor=self.group("a", "b")),
            make_statement(actor=self.group("a", "b", "b")),
        )


class TestCaseInsensitiveValues:
    def test_mbox_scheme_and_domain(self) -> None:
        """Data 2.3.1.b7: the domain of an e-mail address is case-insensitive, so is the
        mailto: scheme (RFC 3986 3.1)."""
        shouting = make_statement(
            actor={"objectType": "Agent", "mbox": "MAILTO:learner@Example.COM"}
        )
        assert_equivalent(make_statement(), shouting)

    def test_mbox_local_part_counts(self) -> None:
        """Data 2.3.1.s9.b2: the local part of an address is case-sensitive (RFC 5321 2.4)."""
        other = make_statement(actor={"objectType": "Agent", "mbox": "mailto:Learner@example.com"})
        assert_different(make_statement(), other)

    def test_mbox_sha1sum_hex(self) -> None:
        """Data 2.3.1.b7: hex digits are case-insensitive."""
        digest = "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"
        assert_equivalent(
            make_statement(actor={"mbox_sha1sum": digest}),
            make_statement(actor={"mbox_sha1sum": digest.upper()}),
        )

    def test_uuids(self) -> None:
        """Data 2.3.1.b7 and 4.4: UUIDs (id, registration, StatementRef ids) ignore case."""
        lower = make_statement(
            object={"objectType": "StatementRef", "id": UUID_B},
            context={
                "registration": UUID_B,
                "statement": {"objectType": "StatementRef", "id": UUID_B},
            },
        )
        upper = make_statement(
            id=UUID_A.upper(),
            object={"objectType": "StatementRef", "id": UUID_B.upper()},
            context={
                "registration": UUID_B.upper(),
                "statement": {"objectType": "StatementRef", "id": UUID_B.upper()},
            },
        )
        assert_equivalent(lower, upper)

    def test_context_language_tag(self) -> None:
        """Data 2.3.1.b7: language tags are case-insensitive (RFC 5646 2.1.1)."""
        assert_equivalent(
            make_statement(context={"language": "en-US"}),
            make_statement(context={"language": "en-us"}),
        )

    def test_other_strings_keep_their_case(self) -> None:
        """Data 2.3.1.s9.b2: an actor's name, a response and IRIs are compared exactly."""
        assert_different(
            make_statement(result={"response": "yes"}), make_statement(result={"response": "YES"})
        )
        assert_different(
            make_statement(), changed(make_statement(), "object.id", ACTIVITY_ID.upper())
        )
        named = changed(make_statement(), "actor.name", "Ann")
        assert_different(named, changed(named, "actor.name", "ann"))


class TestDurations:
    @pytest.mark.parametrize(
        ("one", "other"),
        [
            ("PT1.234S", "PT1.23S"),
            ("P1DT12H36M0.1237S", "P1DT12H36M0.12S"),
            ("PT1.2S", "PT1.20S"),
            ("PT1S", "PT1.00S"),
            ("PT4H35M59.149S", "PT4H35M59.14S"),
        ],
    )
    def test_precision_beyond_hundredths_is_ignored(self, one: str, other: str) -> None:
        """Data 4.6.s1.b5 (and the 2.0 suite's 4.2.7 signature test): truncated, not rounded."""
        assert_equivalent(
            make_statement(result={"duration": one}), make_statement(result={"duration": other})
        )

    @pytest.mark.parametrize(
        ("one", "other"),
        [
            ("PT1.239S", "PT1.24S"),  # rounding is not truncation
            ("PT0.12S", "PT0.13S"),
            ("PT1M", "PT60S"),  # Data 2.3.1.b8: units are not converted
            ("P1D", "PT24H"),
        ],
    )
    def test_other_differences_count(self, one: str, other: str) -> None:
        """Data 2.3.1.b8: a duration is otherwise compared as a string."""
        assert_different(
            make_statement(result={"duration": one}), make_statement(result={"duration": other})
        )


class TestContextActivities:
    def test_one_activity_equals_an_array_of_one(self) -> None:
        """Data 2.4.6.2.s4.b3-b4: a single Activity is the same as an array holding it."""
        activity = {"objectType": "Activity", "id": ACTIVITY_ID}
        assert_equivalent(
            make_statement(context={"contextActivities": {"parent": activity}}),
            make_statement(context={"contextActivities": {"parent": [activity]}}),
        )

    def test_activity_order_counts(self) -> None:
        """Data 2.3.1.s9.b2: only a Group's members are unordered (2.3.1.b5)."""
        first = {"id": ACTIVITY_ID}
        second = {"id": ACTIVITY_ID + "/2"}
        assert_different(
            make_statement(context={"contextActivities": {"grouping": [first, second]}}),
            make_statement(context={"contextActivities": {"grouping": [second, first]}}),
        )


class TestDefaultObjectTypes:
    def test_left_out_object_types_equal_their_defaults(self) -> None:
        """Data 2.4.2.1.s2 and 2.4.4.s2: objectType defaults to Agent for an actor and to
        Activity for an object, so leaving it out is serialization only."""
        bare = changed(changed(make_statement(), "actor.objectType", ...), "object.objectType", ...)
        assert_equivalent(make_statement(), bare)

    def test_a_different_object_type_counts(self) -> None:
        """Data 2.3.1.s9.b2: an Agent is not a Group."""
        as_group = changed(make_statement(), "actor.objectType", "Group")
        assert_different(make_statement(), as_group)


class TestSubStatements:
    def test_exceptions_apply_inside_a_substatement(self) -> None:
        """Data 2.3.1: the same rules apply recursively to a SubStatement."""
        sub: Statement = {
            "objectType": "SubStatement",
            "actor": {"objectType": "Group", "member": [agent("a"), agent("b")]},
            "verb": {"id": "http://example.com/verbs/plan", "display": {"en": "planned"}},
            "object": {"id": ACTIVITY_ID, "definition": {"name": {"en": "Quiz"}}},
            "result": {"duration": "PT2.345S"},
            "context": {"contextActivities": {"parent": {"id": ACTIVITY_ID}}},
        }
        other: Statement = {
            "objectType": "SubStatement",
            "actor": {"objectType": "Group", "member": [agent("b"), agent("a")]},
            "verb": {"id": "http://example.com/verbs/plan"},
            "object": {"objectType": "Activity", "id": ACTIVITY_ID},
            "result": {"duration": "PT2.34S"},
            "context": {"contextActivities": {"parent": [{"id": ACTIVITY_ID}]}},
        }
        assert_equivalent(make_statement(object=sub), make_statement(object=other))
        assert_different(
            make_statement(object=sub),
            make_statement(object=changed(other, "verb.id", "http://example.com/verbs/do")),
        )


class TestEverythingElseCounts:
    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("result.score.scaled", 0.5),
            ("result.success", False),
            ("result.extensions.urn:example:ext", {"b": 1}),
            ("context.platform", "other"),
            ("context.extensions.urn:example:ext", [1, 2]),
            ("actor.name", "Someone Else"),
        ],
    )
    def test_a_changed_property_differs(self, path: str, value: Any) -> None:
        """Data 2.3.1.s9.b2: differences outside the exceptions must not be ignored."""
        base = make_statement(
            result={
                "score": {"scaled": 0.9},
                "success": True,
                "extensions": {"urn:example:ext": {"a": 1}},
            },
            context={
                "platform": "web",
                "extensions": {"urn:example:ext": [1, 2, 3]},
            },
        )
        assert_different(base, changed(base, path, value))

    def test_an_added_property_differs(self) -> None:
        """Data 2.3.1.s9.b2: a property one side lacks (other than id and timestamp) counts."""
        assert_different(make_statement(), make_statement(result={"completion": True}))

    def test_a_boolean_is_not_a_number(self) -> None:
        """Data 2.3.1.s9.b2: JSON true is not the number 1."""
        assert_different(
            make_statement(context={"extensions": {"http://example.com/e": True}}),
            make_statement(context={"extensions": {"http://example.com/e": 1}}),
        )

    def test_equal_numbers_are_equal(self) -> None:
        """RFC 8259 6: 1 and 1.0 are the same JSON number, not a different serialization."""
        assert_equivalent(
            make_statement(result={"score": {"raw": 1}}),
            make_statement(result={"score": {"raw": 1.0}}),
        )

    def test_unexpected_shapes_are_compared_without_error(self) -> None:
        """Data 2.6.s5.b3.b2: a JWS payload may hold anything; comparing never raises."""
        odd = make_statement(actor="me", verb=[], object=3, result=None, context="x")
        assert statements_equivalent(odd, copy.deepcopy(odd))
        assert_different(odd, make_statement())
