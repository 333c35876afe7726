"""Statement requests with attachments: the content types of xAPI-Communication 1.5.

A statement PUT/POST is `application/json` (no attachment data: every Attachment needs a
`fileUrl`, 1.5.2.s2.b1) or `multipart/mixed` (RFC 2046; 1.5.2.s2.b2): the statements in a
first `application/json` part, then one part per attachment's raw bytes, matched to
Attachment objects by SHA-2 only (1.5.2.s1.b4). Any other content type is a 400 (the ADL
suite, XAPI-00127, sends `multipart/form-data`).

Parts are held in memory: the request body has already been read whole, within the size
limit the routes enforce (Communication 3.2.s3.b11).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lrs.errors import BadRequest

__all__ = [
    "AttachmentPart",
    "build_multipart_mixed",
    "check_attachments",
    "parse_statement_request",
]

CONTENT_TYPE = "Content-Type"
HASH_HEADER = "X-Experience-API-Hash"
TRANSFER_ENCODING = "Content-Transfer-Encoding"
CONTENT_LENGTH = "Content-Length"

_CRLF = b"\r\n"

# RFC 2045 5.1 / RFC 9110 5.6.2: a name (token), and a parameter whose value is a token or a
# quoted-string (with backslash escapes).
_NAME = r"[!#$%&'*+.^_`|~0-9A-Za-z\-]+"
_PARAMETER = re.compile(
    rf"[ \t]*;[ \t]*(?P<name>{_NAME})[ \t]*=[ \t]*"
    r"(?:\"(?P<quoted>(?:[^\"\\]|\\.)*)\"|(?P<bare>[^;\"]*?))[ \t]*(?=;|\Z)"
)
_EMPTY_PARAMETER = re.compile(r"[ \t]*;[ \t]*(?=;|\Z)")
_MEDIA_TYPE = re.compile(rf"[ \t]*(?P<type>{_NAME}/{_NAME})[ \t]*")
# RFC 2046 5.1.1: 1 to 70 bchars, the last not a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
# RFC 5322 2.2: a header field name is printable US-ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")

# SHA-2 digests by hex length (Data 2.4.11.s2.table1.row6; Communication 1.5.2.s4.b4 asks
# for SHA-256, -384 or -512; SHA-224 is SHA-2 too).
_SHA2: dict[int, Callable[[bytes], Any]] = {
    56: hashlib.sha224,
    64: hashlib.sha256,
    96: hashlib.sha384,
    128: hashlib.sha512,
}
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class AttachmentPart:
    """The raw bytes of one attachment and the part headers that describe them.

    `sha2` is the part's X-Experience-API-Hash (lower-cased once `check_attachments` has
    matched it); `content_type` is its Content-Type, "" when the part had none;
    `content_length` its Content-Length header, when it had one (not its size: that is
    `len(data)`)."""

    sha2: str
    content_type: str
    data: bytes
    content_length: int | None = None


# --- content types ----------------------------------------------------------------------------


def _media_type(value: str, field: str) -> tuple[str, dict[str, str]]:
    """`type/subtype` (lower-cased) and its parameters (names lower-cased)."""
    match = _MEDIA_TYPE.match(value)
    if match is None:
        raise BadRequest(f"{value!r} is not a media type such as application/json", field)
    parameters: dict[str, str] = {}
    rest = value[match.end() :]
    while rest.strip(" \t"):
        empty = _EMPTY_PARAMETER.match(rest)
        if empty is not None:  # a stray ";", as in "multipart/mixed;"
            rest = rest[empty.end() :]
            continue
        parameter = _PARAMETER.match(rest)
        if parameter is None:
            raise BadRequest(f"cannot read the parameters of the media type {value!r}", field)
        if parameter["quoted"] is not None:
            parameters[parameter["name"].lower()] = re.sub(r"\\(.)", r"\1", parameter["quoted"])
        else:
            parameters[parameter["name"].lower()] = parameter["bare"]
        rest = rest[parameter.end() :]
    return match["type"].lower(), parameters


def _same_media_type(declared: str, sent: str) -> bool:
    """Communication 1.5.2.s2.b2.b7: a part's Content-Type matches the Attachment's
    contentType when type/subtype are equal (case-insensitively, RFC 2045 5.1) and every
    parameter given by both has the same value (charset case-insensitively, RFC 2046 4.1.2).
    A parameter only one side gives is no mismatch: the spec's own example (1.5.2.s6)
    declares `text/plain; charset=ascii` for a part sent as `text/plain`."""
    try:
        left_type, left_parameters = _media_type(declared, "contentType")
        right_type, right_parameters = _media_type(sent, CONTENT_TYPE)
    except BadRequest:
        return declared.strip().lower() == sent.strip().lower()
    if left_type != right_type:
        return False
    for name in left_parameters.keys() & right_parameters.keys():
        left, right = left_parameters[name], right_parameters[name]
        if name == "charset":
            left, right = left.lower(), right.lower()
        if left != right:
            return False
    return True


# --- parsing a request ----------------------------------------------------------------------


def parse_statement_request(
    content_type: str | None, body: bytes
) -> tuple[bytes, list[AttachmentPart]]:
    """The statements' JSON and the attachment parts of a statement PUT/POST body.

    `application/json` (any parameters) gives `(body, [])`; `multipart/mixed` gives its first
    part and the later ones. Anything else, or a malformed multipart body, is a 400."""
    if not content_type:
        raise BadRequest(
            "a statement request needs a Content-Type of application/json or multipart/mixed "
            "(Communication 1.5)",
            CONTENT_TYPE,
        )
    media_type, parameters = _media_type(content_type, CONTENT_TYPE)
    if media_type == "application/json":
        return body, []
    if media_type != "multipart/mixed":
        raise BadRequest(
            f"statements are sent as application/json or multipart/mixed, not {media_type} "
            "(Communication 1.5)",
            CONTENT_TYPE,
        )
    boundary = parameters.get("boundary")
    if boundary is None:
        raise BadRequest(
            "a multipart/mixed Content-Type needs a boundary parameter (RFC 2046 5.1.1, "
            "Communication 1.5.2.s2.b2)",
            CONTENT_TYPE,
        )
    if _BOUNDARY.fullmatch(boundary) is None:
        raise BadRequest(
            f"the multipart boundary {boundary!r} is not 1 to 70 of the characters RFC 2046 "
            "5.1.1 allows",
            CONTENT_TYPE,
        )
    return _split_parts(body, boundary.encode("ascii"))


def _split_parts(body: bytes, boundary: bytes) -> tuple[bytes, list[AttachmentPart]]:
    parts = list(_body_parts(body, boundary))
    if not parts:
        raise BadRequest("the multipart body has no parts (RFC 2046 5.1.1)", "body")
    (first_headers, first_content), rest = parts[0], parts[1:]
    first_type = first_headers.get(CONTENT_TYPE.lower())
    if first_type is None or _media_type(first_type, CONTENT_TYPE)[0] != "application/json":
        raise BadRequest(
            "the first part of a multipart/mixed statement request must hold the statements "
            f"as application/json, not {first_type or 'text/plain (no Content-Type)'} "
            "(Communication 1.5.2.s2.b2.b1)",
            CONTENT_TYPE,
        )
    attachments = [
        _attachment_part(headers, content, index)
        for index, (headers, content) in enumerate(rest, start=2)
    ]
    return first_content, attachments


def _body_parts(body: bytes, boundary: bytes) -> Iterator[tuple[dict[str, str], bytes]]:
    """RFC 2046 5.1.1: every delimiter is CRLF "--" boundary; the first may open the body.
    A preamble before the first delimiter and an epilogue after the last are ignored."""
    delimiter = _CRLF + b"--" + boundary
    text = _CRLF + body
    start = text.find(delimiter)
    if start < 0:
        raise BadRequest(
            "the multipart body has no line holding its boundary, after a CRLF or at the start "
            "(RFC 2046 5.1.1)",
            CONTENT_TYPE,
        )
    position = start + len(delimiter)
    while True:
        if text.startswith(b"--", position):
            return  # the close delimiter; what follows is the epilogue
        if position >= len(text):
            raise BadRequest(
                "the multipart body ends without its closing boundary (RFC 2046 5.1.1)", "body"
            )
        line_end = text.find(_CRLF, position)
        if line_end < 0 or text[position:line_end].strip(b" \t"):
            raise BadRequest(
                "a multipart boundary line must end right after the boundary (RFC 2046 5.1.1)",
                "body",
            )
        part_start = line_end + len(_CRLF)
        end = text.find(delimiter, part_start)
        if end < 0:
            raise BadRequest(
                "the multipart body ends without its closing boundary (RFC 2046 5.1.1)", "body"
            )
        yield _headers_and_content(text[part_start:end])
        position = end + len(delimiter)


def _headers_and_content(part: bytes) -> tuple[dict[str, str], bytes]:
    """RFC 2046 5.1.1 / RFC 5322 2.2: header lines, an empty line, then the content."""
    if part.startswith(_CRLF):
        return {}, part[len(_CRLF) :]
    head, separator, content = part.partition(_CRLF + _CRLF)
    if not separator:
        raise BadRequest(
            "a multipart part has no empty line between its headers and its content "
            "(RFC 2046 5.1.1)",
            "body",
        )
    try:
        lines = head.decode("ascii").split("\r\n")
    except UnicodeDecodeError:
        raise BadRequest("multipart part headers must be US-ASCII (RFC 5322 2.2)", "body") from None
    headers: dict[str, str] = {}
    unfolded: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += line  # RFC 5322 2.2.3: a folded header line continues
        else:
            unfolded.append(line)
    for line in unfolded:
        name, colon, value = line.partition(":")
        name = name.strip(" \t")
        if not colon or _FIELD_NAME.fullmatch(name) is None:
            raise BadRequest(f"{line!r} is not a multipart part header (RFC 5322 2.2)", "body")
        key = name.lower()
        if key in headers:
            raise BadRequest(f"a multipart part gives the header {name} twice", "body")
        headers[key] = value.strip(" \t")
    return headers, content


def _attachment_part(headers: Mapping[str, str], content: bytes, index: int) -> AttachmentPart:
    where = f"part {index} of the multipart body"
    sha2 = headers.get(HASH_HEADER.lower())
    if not sha2:
        raise BadRequest(
            f"{where} has no {HASH_HEADER} header; each attachment part needs one "
            "(Communication 1.5.2.s2.b2.b3)",
            HASH_HEADER,
        )
    encoding = headers.get(TRANSFER_ENCODING.lower())
    if encoding is None or encoding.lower() != "binary":
        raise BadRequest(
            f"{where} must have {TRANSFER_ENCODING}: binary, not "
            f"{encoding or 'none'} (Communication 1.5.2.s2.b2.b4)",
            TRANSFER_ENCODING,
        )
    content_type = headers.get(CONTENT_TYPE.lower(), "")
    if content_type:
        _media_type(content_type, CONTENT_TYPE)
    length: int | None = None
    if CONTENT_LENGTH.lower() in headers:
        raw_length = headers[CONTENT_LENGTH.lower()]
        if not raw_length.isascii() or not raw_length.isdigit():
            raise BadRequest(f"{where} has the Content-Length {raw_length!r}", CONTENT_LENGTH)
        length = int(raw_length)
        if length != len(content):
            raise BadRequest(
                f"{where} declares a Content-Length of {length} but holds {len(content)} bytes",
                CONTENT_LENGTH,
            )
    return AttachmentPart(sha2=sha2, content_type=content_type, data=content, content_length=length)


# --- attachments against parts --------------------------------------------------------------


def _declared_attachments(
    statements: Sequence[Mapping[str, Any]],
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each Attachment object with its path: the statements' and their SubStatements'
    (Data 2.4.11 allows them there too)."""
    for index, statement in enumerate(statements):
        places = [(f"statements[{index}]", statement)]
        target = statement.get("object")
        if isinstance(target, Mapping) and target.get("objectType") == "SubStatement":
            places.append((f"statements[{index}].object", target))
        for path, holder in places:
            for position, attachment in enumerate(holder.get("attachments") or ()):
                yield f"{path}.attachments[{position}]", attachment


def check_attachments(
    statements: Sequence[Mapping[str, Any]], parts: Sequence[AttachmentPart], multipart: bool
) -> dict[str, AttachmentPart]:
    """Pair attachment parts with the (validated) statements' Attachment objects by SHA-2
    (Communication 1.5.2.s1.b4); returns the parts to store, keyed by lower-case sha2.

    400 when: a request that is not multipart has an Attachment without fileUrl (1.5.2.s2.b1);
    an Attachment has neither fileUrl nor a part (1.5.2.s3.b5); a part's bytes do not hash
    to its X-Experience-API-Hash; a part matches no Attachment (suite XAPI-00128); or a part's
    Content-Type or Content-Length disagrees with its Attachment (1.5.2.s2.b2.b7). One part
    may serve several Attachments, in one statement or many (1.5.2.s2.b2.b5)."""
    declared = list(_declared_attachments(statements))
    if not multipart:
        for path, attachment in declared:
            if "fileUrl" not in attachment:
                raise BadRequest(
                    "an Attachment without fileUrl needs its data, sent as a multipart/mixed "
                    "request (Communication 1.5.2.s2.b1)",
                    f"{path}.fileUrl",
                )
    by_hash: dict[str, AttachmentPart] = {}
    for sent in parts:
        checked = _verified(sent)
        by_hash.setdefault(checked.sha2, checked)
    used: set[str] = set()
    for path, attachment in declared:
        sha2 = str(attachment["sha2"]).lower()
        part = by_hash.get(sha2)
        if part is None:
            if "fileUrl" not in attachment:
                raise BadRequest(
                    f"no multipart part has the {HASH_HEADER} {sha2} of this Attachment, and "
                    "it has no fileUrl (Communication 1.5.2.s3.b5)",
                    f"{path}.sha2",
                )
            continue
        used.add(sha2)
        _agrees(part, attachment, path, parts)
        if not part.content_type:
            by_hash[sha2] = replace(part, content_type=str(attachment["contentType"]))
    surplus = sorted(by_hash.keys() - used)
    if surplus:
        raise BadRequest(
            f"the multipart part with {HASH_HEADER} {surplus[0]} belongs to no Attachment of "
            "the statements (Communication 1.5.2.s1.b4)",
            HASH_HEADER,
        )
    return by_hash


def _verified(part: AttachmentPart) -> AttachmentPart:
    """The part with its hash lower-cased, once the hash is shown to be its bytes' SHA-2."""
    sha2 = part.sha2.strip().lower()
    digest = _SHA2.get(len(sha2))
    if digest is None or _HEX.fullmatch(sha2) is None:
        raise BadRequest(
            f"the {HASH_HEADER} {part.sha2!r} is not the hex digest of SHA-224, SHA-256, "
            "SHA-384 or SHA-512 (Data 2.4.11.s2.table1.row6)",
            HASH_HEADER,
        )
    if digest(part.data).hexdigest() != sha2:
        raise BadRequest(
            f"the bytes of the multipart part with {HASH_HEADER} {sha2} have another "
            "SHA-2 digest; attachments are matched by the SHA-2 of their raw data "
            "(Communication 1.5.2.s1.b4)",
            HASH_HEADER,
        )
    return replace(part, sha2=sha2)


def _agrees(
    part: AttachmentPart,
    attachment: Mapping[str, Any],
    path: str,
    parts: Sequence[AttachmentPart],
) -> None:
    """Communication 1.5.2.s2.b2.b7, checked against every part that sent these bytes."""
    declared_type = str(attachment["contentType"])
    for sent in parts:
        if sent.sha2.strip().lower() != part.sha2:
            continue
        if sent.content_type and not _same_media_type(declared_type, sent.content_type):
            raise BadRequest(
                f"the part with {HASH_HEADER} {part.sha2} is sent as {sent.content_type} but "
                f"the Attachment's contentType is {declared_type} "
                "(Communication 1.5.2.s2.b2.b7)",
                f"{path}.contentType",
            )
        if sent.content_length is not None and sent.content_length != attachment["length"]:
            raise BadRequest(
                f"the part with {HASH_HEADER} {part.sha2} has a Content-Length of "
                f"{sent.content_length} but the Attachment's length is {attachment['length']} "
                "(Communication 1.5.2.s2.b2.b7)",
                f"{path}.length",
            )


# --- building a response ----------------------------------------------------------------------

_SAFE_HEADER_VALUE = re.compile(r"[\x20-\x7e]+")


def build_multipart_mixed(json_body: bytes, parts: Sequence[AttachmentPart]) -> tuple[str, bytes]:
    """A GET `attachments=true` answer (Communication 2.1.3.s2.b6, 1.5.2.s3.b1): the statement
    JSON, then each attachment's bytes once. Returns the Content-Type value and the body.

    The boundary is random hex, so it needs no quoting, and is drawn again while it occurs
    in any of the data (RFC 2046 5.1.1)."""
    unique: dict[str, AttachmentPart] = {}
    for part in parts:
        unique.setdefault(part.sha2.lower(), part)
    chunks = [json_body, *(part.data for part in unique.values())]
    boundary = _fresh_boundary(chunks)
    dash_boundary = b"--" + boundary.encode("ascii")
    out = [dash_boundary, _CRLF, b"Content-Type: application/json", _CRLF, _CRLF, json_body]
    for sha2, part in unique.items():
        content_type = part.content_type
        if _SAFE_HEADER_VALUE.fullmatch(content_type) is None:
            content_type = "application/octet-stream"
        out += [
            _CRLF,
            dash_boundary,
            _CRLF,
            f"Content-Type: {content_type}".encode("ascii"),
            _CRLF,
            b"Content-Transfer-Encoding: binary",
            _CRLF,
            f"{HASH_HEADER}: {sha2}".encode("ascii"),
            _CRLF,
            _CRLF,
            part.data,
        ]
    out += [_CRLF, dash_boundary, b"--", _CRLF]
    return f"multipart/mixed; boundary={boundary}", b"".join(out)


def _fresh_boundary(chunks: Sequence[bytes]) -> str:
    while True:
        boundary = secrets.token_hex(24)
        needle = boundary.encode("ascii")
        if not any(needle in chunk for chunk in chunks):
            return boundary
