"""Course structures: cmi5 13 (elements, attributes, defaults) and 14 (packages)."""

from __future__ import annotations

import io
import zipfile

import pytest

from cmi5.package import SAMPLE, read_package
from cmi5.structure import InvalidStructure, parse_course
from lrs.errors import PayloadTooLarge

NS = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"
TEXT = '<title><langstring lang="en">T</langstring></title>' + (
    '<description><langstring lang="en">D</langstring></description>'
)


def structure(body: str, course_id: str = "https://example.org/c") -> bytes:
    return (
        f'<courseStructure xmlns="{NS}"><course id="{course_id}">{TEXT}</course>{body}'
        "</courseStructure>"
    ).encode()


def au(url: str = "https://example.org/au", attributes: str = "", au_id: str = "a") -> str:
    return f'<au id="https://example.org/{au_id}" {attributes}>{TEXT}<url>{url}</url></au>'


def refused(xml: bytes, field: str) -> InvalidStructure:
    with pytest.raises(InvalidStructure) as caught:
        parse_course(xml)
    assert caught.value.field == field, caught.value.message
    return caught.value


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class TestElements:
    def test_the_sample_course_parses_with_its_tree_and_defaults(self) -> None:
        """cmi5 13.1.4: moveOn defaults to NotApplicable, launchMethod to AnyWindow."""
        course = parse_course(
            (SAMPLE / "cmi5.xml").read_bytes(), has_file=lambda path: path == "index.html"
        )
        assert course.id == "https://lrs.example.org/courses/workplace-safety"
        assert [au.move_on for au in course.aus()] == [
            "NotApplicable",
            "Completed",
            "Passed",
            "CompletedAndPassed",
        ]
        quiz = course.au("https://lrs.example.org/courses/workplace-safety/fire/quiz")
        assert quiz is not None
        assert (quiz.mastery_score, quiz.launch_method) == (0.8, "OwnWindow")
        assert quiz.launch_parameters == '{"questions": 5}'
        assert quiz.entitlement_key == "safety-2026"
        assert [block.id.rsplit("/", 1)[1] for block in course.blocks()] == ["fire", "first-aid"]
        policy = next(course.aus())
        assert policy.launch_method == "AnyWindow"
        assert course.title == {"en-US": "Workplace safety"}

    def test_values_are_trimmed(self) -> None:
        """cmi5 13.1: leading and trailing whitespace of every value is dropped."""
        course = parse_course(structure(au(url="<![CDATA[\n  https://example.org/x  \n]]>")))
        assert next(course.aus()).url == "https://example.org/x"

    def test_element_order_follows_the_schema(self) -> None:
        """CourseStructure.xsd auType: title, description, objectives, url, ..."""
        misplaced = (
            '<au id="https://example.org/a"><url>https://example.org/x</url>' + TEXT + "</au>"
        )
        error = refused(structure(misplaced), "courseStructure/au[1]/url")
        assert "title" in error.message

    def test_a_course_needs_an_au_or_block(self) -> None:
        refused(structure(""), "courseStructure")

    def test_a_root_in_another_namespace_is_refused(self) -> None:
        refused(b"<courseStructure><course/></courseStructure>", "courseStructure")

    def test_unknown_attribute_is_refused_and_foreign_ones_ignored(self) -> None:
        """cmi5 13.1.5: extensions in other namespaces may be ignored."""
        refused(structure(au(attributes='colour="red"')), "courseStructure/au[1]")
        extended = structure(
            au(attributes='xmlns:x="https://example.org/x" x:colour="red"')
            + '<x:note xmlns:x="https://example.org/x">extra</x:note>'
        )
        assert parse_course(extended).id == "https://example.org/c"

    @pytest.mark.parametrize(
        ("attributes", "field"),
        [
            ('moveOn="Finished"', "courseStructure/au[1]@moveOn"),
            ('launchMethod="Popup"', "courseStructure/au[1]@launchMethod"),
            ('masteryScore="1.5"', "courseStructure/au[1]@masteryScore"),
            ('masteryScore="0.12345"', "courseStructure/au[1]@masteryScore"),
            ('masteryScore="high"', "courseStructure/au[1]@masteryScore"),
        ],
    )
    def test_attribute_values(self, attributes: str, field: str) -> None:
        """cmi5 13.1.4: moveOn and launchMethod enumerations; masteryScore 0-1, 4 places."""
        refused(structure(au(attributes=attributes)), field)


class TestIdentifiers:
    def test_ids_are_fully_qualified_iris(self) -> None:
        """cmi5 3.0: an id without a scheme is refused."""
        refused(structure(au(), course_id="example.org/c"), "courseStructure/course@id")

    def test_ids_are_unique(self) -> None:
        """cmi5 13.1.4: AU ids are unique within the structure."""
        error = refused(structure(au() + au()), "courseStructure/au[2]@id")
        assert "au[1]" in error.message

    def test_objective_references_must_be_declared(self) -> None:
        block = (
            '<block id="https://example.org/b">'
            + TEXT
            + '<objectives><objective idref="https://example.org/o"/></objectives>'
            + au()
            + "</block>"
        )
        refused(structure(block), "courseStructure/block[1]/objectives/objective[1]")


class TestUrls:
    @pytest.mark.parametrize("url", ["index.html", "/index.html", "path/1/index.html?x=1"])
    def test_standalone_xml_needs_fully_qualified_urls(self, url: str) -> None:
        """cmi5 14.2."""
        refused(structure(au(url=url)), "courseStructure/au[1]/url")

    def test_a_url_with_a_space_is_refused(self) -> None:
        """cmi5 13.1.4: RFC 1738."""
        refused(structure(au(url="https://example.org/a b")), "courseStructure/au[1]/url")

    def test_a_url_may_not_use_the_launch_parameter_names(self) -> None:
        """cmi5 8.1: endpoint, fetch, actor, registration and activityId are the LMS's."""
        error = refused(
            structure(au(url="https://example.org/a?endpoint=x&amp;b=1")),
            "courseStructure/au[1]/url",
        )
        assert "endpoint" in error.message


class TestHostileXml:
    def test_external_entities_are_refused(self) -> None:
        xxe = (
            b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<courseStructure xmlns="' + NS.encode() + b'">&x;</courseStructure>'
        )
        error = refused(xxe, "cmi5.xml")
        assert "DTD" in error.message

    def test_malformed_xml_is_a_clear_400(self) -> None:
        assert refused(b"<courseStructure", "cmi5.xml").status_code == 400


class TestPackages:
    def test_a_zip_with_relative_urls_keeps_its_files(self) -> None:
        """cmi5 14.1: AUs in the package are addressed relative to its root."""
        package = read_package(
            "application/zip",
            zipped({"cmi5.xml": structure(au(url="web/index.html?x=1")), "web/index.html": b"<p>"}),
            max_unpacked_bytes=10_000,
        )
        assert next(package.course.aus()).url == "web/index.html?x=1"
        assert package.files["web/index.html"].content_type == "text/html"

    def test_a_relative_url_must_name_a_file_of_the_zip(self) -> None:
        with pytest.raises(InvalidStructure, match="names no file"):
            read_package(
                "application/zip",
                zipped({"cmi5.xml": structure(au(url="missing.html"))}),
                max_unpacked_bytes=10_000,
            )

    def test_a_zip_needs_cmi5_xml_at_its_root(self) -> None:
        with pytest.raises(InvalidStructure, match=r"no cmi5\.xml"):
            read_package(
                "application/zip",
                zipped({"course/cmi5.xml": structure(au())}),
                max_unpacked_bytes=10_000,
            )

    @pytest.mark.parametrize("name", ["../evil.html", "/etc/evil", "a/../../evil", "C:/evil"])
    def test_members_outside_the_package_are_refused(self, name: str) -> None:
        """Zip slip: a member name may not climb out of the package."""
        with pytest.raises(InvalidStructure, match="outside the package"):
            read_package(
                "application/zip",
                zipped({"cmi5.xml": structure(au()), name: b"x"}),
                max_unpacked_bytes=10_000,
            )

    def test_a_package_that_unpacks_past_the_limit_is_refused(self) -> None:
        bomb = zipped({"cmi5.xml": structure(au()), "zeros.bin": bytes(1_000_000)})
        assert len(bomb) < 10_000  # compresses well
        with pytest.raises(PayloadTooLarge):
            read_package("application/zip", bomb, max_unpacked_bytes=100_000)

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [("application/zip", b"not a zip"), ("text/markdown", b"# a course"), (None, b"")],
    )
    def test_other_bodies_are_refused(self, content_type: str | None, body: bytes) -> None:
        """cmi5 14: an XML file or a zip, nothing else."""
        with pytest.raises(InvalidStructure):
            read_package(content_type, body, max_unpacked_bytes=10_000)

    def test_one_thousand_aus(self) -> None:
        """cmi5 6.1: structures with more than 1000 AUs."""
        many = "".join(au(au_id=f"a{n}") for n in range(1200))
        assert len(list(parse_course(structure(many)).aus())) == 1200
