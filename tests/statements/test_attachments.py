"""Statement request content types and attachments (xAPI-Communication 1.5): bodies are built
by hand, in the shapes the ADL conformance suite sends (XAPI-00127 to XAPI-00135)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from lrs.errors import BadRequest
from statements.attachments import (
    AttachmentPart,
    build_multipart_mixed,
    check_attachments,
    parse_statement_request,
)

Statement = dict[str, Any]

BOUNDARY = "-------314159265358979323846"
MIXED = f"multipart/mixed; boundary={BOUNDARY}"
TEXT = b"here is a simple attachment"
OTHER_TEXT = b"here is another simple attachment"
STATEMENTS_JSON = b'{"actor": {"mbox": "mailto:a@example.com"}}'


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def attachment(data: bytes = TEXT, **changes: Any) -> Statement:
    result: Statement = {
        "usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "A test attachment"},
        "contentType": "text/plain",
        "length": len(data),
        "sha2": sha256(data),
    }
    result.update(changes)
    return result


def make_statement(*attachments: Statement) -> Statement:
    statement: Statement = {
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
        "object": {"id": "http://www.example.com/meetings/34534"},
    }
    if attachments:
        statement["attachments"] = list(attachments)
    return statement


def json_part(content: bytes = STATEMENTS_JSON, content_type: str = "application/json") -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: {content_type}\r\n\r\n".encode()
    return head + content + b"\r\n"


def data_part(data: bytes = TEXT, **headers: str) -> bytes:
    """An attachment part; `headers` (underscores for dashes) override the defaults, and
    the value "-" leaves a header out."""
    fields = {
        "Content-Type": "text/plain",
        "Content-Transfer-Encoding": "binary",
        "X-Experience-API-Hash": sha256(data),
    }
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})
    lines = b"".join(
        f"{name}: {value}\r\n".encode() for name, value in fields.items() if value != "-"
    )
    return b"--" + BOUNDARY.encode() + b"\r\n" + lines + b"\r\n" + data + b"\r\n"


def close() -> bytes:
    return b"--" + BOUNDARY.encode() + b"--\r\n"


def part(data: bytes = TEXT, content_type: str = "text/plain", **extra: Any) -> AttachmentPart:
    return AttachmentPart(sha2=sha256(data), content_type=content_type, data=data, **extra)


def rejected(content_type: str | None, body: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        parse_statement_request(content_type, body)
    return caught.value


class TestContentTypes:
    @pytest.mark.parametrize(
        "content_type",
        ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
    )
    def test_json_is_the_statements_alone(self, content_type: str) -> None:
        """Communication 1.5.1: application/json carries statements and no attachment data."""
        assert parse_statement_request(content_type, STATEMENTS_JSON) == (STATEMENTS_JSON, [])

    @pytest.mark.parametrize(
        "content_type",
        [
            f"multipart/form-data; boundary={BOUNDARY}",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            None,
            "",
        ],
    )
    def test_other_content_types_are_rejected(self, content_type: str | None) -> None:
        """Communication 1.5 and suite XAPI-00127: statements are application/json or
        multipart/mixed; multipart/form-data is a 400."""
        body = json_part() + data_part() + close()
        assert rejected(content_type, body).field == "Content-Type"


class TestMultipartParsing:
    def test_statements_and_attachment_parts(self) -> None:
        """Communication 1.5.2.s2.b2: the first part holds the statements, the later parts the
        raw attachment data with their headers."""
        body = json_part() + data_part() + data_part(OTHER_TEXT, Content_Type="text/html") + close()
        statements, parts = parse_statement_request(MIXED, body)
        assert statements == STATEMENTS_JSON
        assert parts == [
            AttachmentPart(sha2=sha256(TEXT), content_type="text/plain", data=TEXT),
            AttachmentPart(sha2=sha256(OTHER_TEXT), content_type="text/html", data=OTHER_TEXT),
        ]

    def test_quoted_boundary_preamble_and_epilogue(self) -> None:
        """RFC 2046 5.1.1 (Communication 1.5.2.s6): a quoted boundary of the allowed special
        characters; text before the first and after the last boundary is ignored."""
        boundary = "abcABC0123'()+_,-./:=?"
        body = (
            b"preamble\r\n--" + boundary.encode() + b"\r\nContent-Type:application/json\r\n\r\n"
            b"[]\r\n--" + boundary.encode() + b"\r\nContent-Type:text/plain\r\n"
            b"Content-Transfer-Encoding:binary\r\nX-Experience-API-Hash:"
            + sha256(TEXT).encode()
            + b"\r\n\r\n"
            + TEXT
            + b"\r\n--"
            + boundary.encode()
            + b"--\r\nepilogue"
        )
        statements, parts = parse_statement_request(f'multipart/mixed; boundary="{boundary}"', body)
        assert statements == b"[]"
        assert [p.data for p in parts] == [TEXT]

    def test_binary_data_is_kept_byte_for_byte(self) -> None:
        """Communication 1.5.2.s6.b3: raw octets, CR and LF included, are not encoded."""
        data = bytes(range(256)) + b"\r\n\r\n--" + b"\r\n"
        _, parts = parse_statement_request(MIXED, json_part() + data_part(data) + close())
        assert parts[0].data == data

    def test_close_delimiter_without_final_crlf(self) -> None:
        """RFC 2046 5.1.1: the suite's signed bodies end right after the close delimiter."""
        body = b"\r\n" + json_part() + close()[:-2]
        assert parse_statement_request(MIXED, body) == (STATEMENTS_JSON, [])

    @pytest.mark.parametrize("content_type", ["multipart/mixed", "multipart/mixed;"])
    def test_boundary_parameter_is_required(self, content_type: str) -> None:
        """Communication 1.5.2.s2.b2, RFC 2046 5.1.1, suite XAPI-00131 (header without
        boundary)."""
        error = rejected(content_type, json_part() + data_part() + close())
        assert error.field == "Content-Type"
        assert "boundary" in error.message

    def test_boundary_must_be_in_the_body(self) -> None:
        """RFC 2046 5.1.1, suite XAPI-00130: a body without its boundary is malformed."""
        assert "boundary" in rejected(MIXED, STATEMENTS_JSON).message

    def test_unusable_boundary_is_rejected(self) -> None:
        """RFC 2046 5.1.1: a boundary is 1 to 70 characters of a limited set."""
        assert rejected("multipart/mixed; boundary=" + "a" * 71, b"").field == "Content-Type"

    def test_body_must_end_with_the_close_delimiter(self) -> None:
        """RFC 2046 5.1.1: a truncated body is malformed."""
        assert "closing boundary" in rejected(MIXED, json_part() + data_part()).message

    def test_first_part_must_be_json(self) -> None:
        """Communication 1.5.2.s2.b2.b1, suite XAPI-00134."""
        body = json_part(content_type="text/plain") + data_part() + close()
        assert "application/json" in rejected(MIXED, body).message

    def test_first_part_without_content_type_is_rejected(self) -> None:
        """Communication 1.5.2.s2.b2.b6: the first part's Content-Type MUST be
        application/json (RFC 2046 5.1.1 would default it to text/plain)."""
        body = b"--" + BOUNDARY.encode() + b"\r\n\r\n" + STATEMENTS_JSON + b"\r\n" + close()
        assert rejected(MIXED, body).field == "Content-Type"

    def test_statements_before_the_first_boundary_are_a_preamble(self) -> None:
        """Suite XAPI-00131 (no boundary before the statements): the first real part is then
        text/plain, which is rejected."""
        body = b"Content-Type: application/json\r\n\r\n" + STATEMENTS_JSON + b"\r\n"
        body += data_part() + close()
        assert rejected(MIXED, body).field == "Content-Type"

    def test_a_part_needs_the_hash_header(self) -> None:
        """Communication 1.5.2.s2.b2.b3, suite XAPI-00132 (missing X-Experience-API-Hash);
        also suite XAPI-00133, where a second JSON part has no hash."""
        missing = json_part() + data_part(X_Experience_API_Hash="-") + close()
        assert rejected(MIXED, missing).field == "X-Experience-API-Hash"
        two_json = json_part() + json_part() + data_part() + close()
        assert rejected(MIXED, two_json).field == "X-Experience-API-Hash"

    @pytest.mark.parametrize("encoding", ["base64", "quoted-printable", "-"])
    def test_a_part_needs_binary_transfer_encoding(self, encoding: str) -> None:
        """Communication 1.5.2.s2.b2.b4, suite XAPI-00135."""
        body = json_part() + data_part(Content_Transfer_Encoding=encoding) + close()
        assert rejected(MIXED, body).field == "Content-Transfer-Encoding"

    def test_header_names_are_case_insensitive(self) -> None:
        """RFC 5322 1.2.2 / RFC 2045: header field names ignore case."""
        raw = (
            b"--" + BOUNDARY.encode() + b"\r\ncontent-type: text/plain\r\n"
            b"CONTENT-TRANSFER-ENCODING: BINARY\r\nx-experience-api-hash: "
            + sha256(TEXT).encode()
            + b"\r\n\r\n"
            + TEXT
            + b"\r\n"
        )
        _, parts = parse_statement_request(MIXED, json_part() + raw + close())
        assert parts == [part()]

    def test_a_header_line_without_colon_is_malformed(self) -> None:
        """RFC 5322 2.2: a header field is a name, a colon and a value."""
        body = json_part() + data_part()
        body = body.replace(b"Content-Type: text/plain\r\n", b"Content-Type text/plain\r\n")
        assert "header" in rejected(MIXED, body + close()).message

    def test_content_length_must_match_the_part(self) -> None:
        """RFC 2046 5.1 / Communication 1.5.2.s2.b2.b7: a declared Content-Length that is not
        the part's size is malformed; a matching one is kept for the length check."""
        wrong = json_part() + data_part(Content_Length=str(len(TEXT) + 1)) + close()
        assert rejected(MIXED, wrong).field == "Content-Length"
        right = json_part() + data_part(Content_Length=str(len(TEXT))) + close()
        assert parse_statement_request(MIXED, right)[1][0].content_length == len(TEXT)


class TestCheckAttachments:
    def test_no_attachments(self) -> None:
        """Communication 1.5.1.s1.b1 and 1.5.2.s3.b8: statements without Attachments are
        accepted in either content type."""
        assert check_attachments([make_statement()], [], multipart=False) == {}
        assert check_attachments([make_statement()], [], multipart=True) == {}

    def test_file_url_attachments_need_no_data(self) -> None:
        """Communication 1.5.1.s1.b2 and 1.5.2.s3.b9."""
        linked = make_statement(attachment(fileUrl="http://example.com/file.txt"))
        assert check_attachments([linked], [], multipart=False) == {}
        assert check_attachments([linked], [], multipart=True) == {}

    def test_json_request_with_attachment_data_expected(self) -> None:
        """Communication 1.5.2.s2.b1, suite XAPI-00129: application/json needs a fileUrl on
        every Attachment."""
        with pytest.raises(BadRequest) as caught:
            check_attachments([make_statement(attachment())], [], multipart=False)
        assert caught.value.field == "statements[0].attachments[0].fileUrl"

    def test_matching_parts_are_returned_by_hash(self) -> None:
        """Communication 1.5.2.s3.b4 and 1.5.2.s1.b4: parts pair with Attachments by SHA-2."""
        statement = make_statement(attachment(), attachment(OTHER_TEXT))
        matched = check_attachments([statement], [part(OTHER_TEXT), part()], multipart=True)
        assert matched == {sha256(TEXT): part(), sha256(OTHER_TEXT): part(OTHER_TEXT)}

    def test_missing_part_is_rejected(self) -> None:
        """Communication 1.5.2.s3.b5, suite XAPI-00129: an Attachment without fileUrl and
        without a part."""
        statement = make_statement(attachment(), attachment(OTHER_TEXT))
        with pytest.raises(BadRequest) as caught:
            check_attachments([statement], [part()], multipart=True)
        assert caught.value.field == "statements[0].attachments[1].sha2"

    def test_surplus_part_is_rejected(self) -> None:
        """Suite XAPI-00128: a part that is no Attachment's data."""
        with pytest.raises(BadRequest) as caught:
            check_attachments(
                [make_statement(attachment())], [part(), part(OTHER_TEXT)], multipart=True
            )
        assert sha256(OTHER_TEXT) in caught.value.message

    def test_hash_must_be_the_data_hash(self) -> None:
        """Communication 1.5.2.s1.b4, suite XAPI-00132: a part's X-Experience-API-Hash that is
        not the SHA-2 of its bytes."""
        lying = AttachmentPart(sha2=sha256(OTHER_TEXT), content_type="text/plain", data=TEXT)
        with pytest.raises(BadRequest) as caught:
            check_attachments([make_statement(attachment(OTHER_TEXT))], [lying], multipart=True)
        assert caught.value.field == "X-Experience-API-Hash"

    @pytest.mark.parametrize("algorithm", ["sha224", "sha384", "sha512"])
    def test_other_sha2_lengths(self, algorithm: str) -> None:
        """Data 2.4.11.s2.table1.row6, Communication 1.5.2.s4.b4: SHA-224/384/512 digests are
        checked with their own algorithm."""
        digest = hashlib.new(algorithm, TEXT).hexdigest()
        sent = AttachmentPart(sha2=digest, content_type="text/plain", data=TEXT)
        matched = check_attachments(
            [make_statement(attachment(sha2=digest))], [sent], multipart=True
        )
        assert list(matched) == [digest]

    @pytest.mark.parametrize("sha2", ["abc", "ab" * 20, "z" * 64, "a" * 63])
    def test_hashes_that_are_not_sha2_are_rejected(self, sha2: str) -> None:
        """Data 2.4.11.s2.table1.row6: the hash is a hex SHA-2 digest (not SHA-1's 40 digits)."""
        sent = AttachmentPart(sha2=sha2, content_type="text/plain", data=TEXT)
        with pytest.raises(BadRequest) as caught:
            check_attachments([make_statement(attachment(sha2=sha2))], [sent], multipart=True)
        assert "SHA" in caught.value.message

    def test_hash_case_is_ignored(self) -> None:
        """Data 2.3.1.b7: hex digits are case-insensitive; results are keyed lower-case."""
        shouting = AttachmentPart(sha2=sha256(TEXT).upper(), content_type="text/plain", data=TEXT)
        statement = make_statement(attachment(sha2=sha256(TEXT).upper()))
        assert check_attachments([statement], [shouting], multipart=True) == {sha256(TEXT): part()}

    def test_one_part_serves_several_statements(self) -> None:
        """Communication 1.5.2.s2.b2.b5: one copy of the data for every Attachment using it."""
        statements = [make_statement(attachment()), make_statement(attachment(), attachment())]
        assert check_attachments(statements, [part()], multipart=True) == {sha256(TEXT): part()}

    def test_a_part_may_also_serve_a_file_url_attachment(self) -> None:
        """Communication 1.5.2.s1.b4: data sent for an Attachment with fileUrl is matched and
        kept, not surplus."""
        linked = make_statement(attachment(fileUrl="http://example.com/file.txt"))
        assert check_attachments([linked], [part()], multipart=True) == {sha256(TEXT): part()}

    def test_substatement_attachments_are_matched_too(self) -> None:
        """Data 2.4.11 (SubStatement attachments) and Communication 1.5.2.s3.b5."""
        sub = {"objectType": "SubStatement", **make_statement(attachment(OTHER_TEXT))}
        statement = make_statement(attachment())
        statement["object"] = sub
        matched = check_attachments([statement], [part(), part(OTHER_TEXT)], multipart=True)
        assert set(matched) == {sha256(TEXT), sha256(OTHER_TEXT)}
        with pytest.raises(BadRequest) as caught:
            check_attachments([statement], [part()], multipart=True)
        assert caught.value.field == "statements[0].object.attachments[0].sha2"

    def test_content_type_must_agree(self) -> None:
        """Communication 1.5.2.s2.b2.b7: the part's Content-Type is the contentType."""
        with pytest.raises(BadRequest) as caught:
            check_attachments(
                [make_statement(attachment())], [part(content_type="image/png")], multipart=True
            )
        assert caught.value.field == "statements[0].attachments[0].contentType"

    @pytest.mark.parametrize(
        ("declared", "sent"),
        [
            ("text/plain; charset=ascii", "text/plain"),  # the spec's example, 1.5.2.s6
            ("text/plain", "Text/Plain; charset=utf-8"),
            ("text/plain; charset=UTF-8", "text/plain;charset=utf-8"),
        ],
    )
    def test_content_type_agreement_is_by_media_type(self, declared: str, sent: str) -> None:
        """Communication 1.5.2.s2.b2.b7 with RFC 2045 5.1: type and subtype ignore case; a
        parameter only one side gives is no disagreement."""
        statement = make_statement(attachment(contentType=declared))
        matched = check_attachments([statement], [part(content_type=sent)], multipart=True)
        assert matched[sha256(TEXT)].content_type == sent

    def test_differing_charsets_disagree(self) -> None:
        """Communication 1.5.2.s2.b2.b7: a parameter both sides give must match."""
        statement = make_statement(attachment(contentType="text/plain; charset=ascii"))
        with pytest.raises(BadRequest):
            check_attachments(
                [statement], [part(content_type="text/plain; charset=utf-16")], multipart=True
            )

    def test_a_part_without_content_type_takes_the_attachments(self) -> None:
        """Communication 1.5.2.s2.b2.b6-b7: Content-Type is a SHOULD; without one, the
        Attachment's contentType is what gets stored."""
        statement = make_statement(attachment(contentType="image/png"))
        matched = check_attachments([statement], [part(content_type="")], multipart=True)
        assert matched[sha256(TEXT)].content_type == "image/png"

    def test_declared_length_is_not_checked_against_the_data(self) -> None:
        """Suite XAPI-00127 sends a hex-encoded image whose length is the binary file's
        size and expects 200: only a part's Content-Length header is compared."""
        statement = make_statement(attachment(length=len(TEXT) // 2))
        assert check_attachments([statement], [part()], multipart=True) == {sha256(TEXT): part()}

    def test_content_length_header_must_agree_with_length(self) -> None:
        """Communication 1.5.2.s2.b2.b7: Content-Length corresponds to length."""
        statement = make_statement(attachment(length=len(TEXT) + 5))
        with pytest.raises(BadRequest) as caught:
            check_attachments([statement], [part(content_length=len(TEXT))], multipart=True)
        assert caught.value.field == "statements[0].attachments[0].length"


class TestBuildMultipartMixed:
    def test_round_trip(self) -> None:
        """Communication 1.5.2.s3.b1 and 2.1.3.s2.b6: statements first as application/json,
        then each attachment with its Content-Type, binary encoding and hash."""
        body_json = b'{"statements":[],"more":""}'
        parts = [part(), part(OTHER_TEXT, "text/html")]
        content_type, body = build_multipart_mixed(body_json, parts)
        statements, received = parse_statement_request(content_type, body)
        assert statements == body_json
        assert received == parts

    def test_each_attachment_once(self) -> None:
        """Communication 1.5.2.s2.b2.b5: one copy of data several statements use."""
        _, body = build_multipart_mixed(b"{}", [part(), part(), part(OTHER_TEXT)])
        assert body.count(TEXT) == 1
        assert body.count(b"X-Experience-API-Hash: ") == 2

    def test_shape_for_simple_parsers(self) -> None:
        """RFC 2046 5.1.1 with CRLF line ends: the suite's multipartParser reads the boundary
        unquoted and uses it in a regular expression, so it is plain hex, and the body starts
        with the first delimiter."""
        content_type, body = build_multipart_mixed(b"{}", [part()])
        match = re.fullmatch(r"multipart/mixed; boundary=([0-9a-f]{16,70})", content_type)
        assert match is not None
        boundary = match.group(1).encode()
        assert body.startswith(b"--" + boundary + b"\r\nContent-Type: application/json\r\n\r\n")
        assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
        assert b"\r\nContent-Transfer-Encoding: binary\r\n" in body
        assert body.replace(b"\r\n", b"").count(b"\n") == 0

    def test_boundary_is_random_and_not_in_the_data(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """RFC 2046 5.1.1: the boundary must not occur in the encapsulated data; a drawn
        boundary that does is drawn again."""
        first, _ = build_multipart_mixed(b"{}", [])
        second, _ = build_multipart_mixed(b"{}", [])
        assert first != second
        draws = iter(["0123abcd", "4567ef89"])
        monkeypatch.setattr("statements.attachments.secrets.token_hex", lambda _: next(draws))
        content_type, body = build_multipart_mixed(b"{}", [part(b"data 0123abcd data")])
        assert content_type == "multipart/mixed; boundary=4567ef89"
        assert parse_statement_request(content_type, body)[1][0].data == b"data 0123abcd data"

    def test_no_attachments(self) -> None:
        """Communication 2.1.3.s2.b6: attachments=true with none still answers multipart."""
        content_type, body = build_multipart_mixed(b"{}", [])
        assert parse_statement_request(content_type, body) == (b"{}", [])
