"""Signed statements (xAPI-Data 2.6): a JWS (RFC 7515) sent as an attachment.

A statement is signed when one of its Attachments has the signature usageType. For each such
Attachment the LRS checks that the signature is well formed (2.6.s5.b3) and rejects the whole
request with 400 when it is not (2.6.s5.b1):

- the Attachment's contentType is application/octet-stream (2.6.s4.b1);
- its data came in the request (a fileUrl alone cannot be checked);
- the data is a JWS Compact Serialization (2.6.s4.b2: JSON Serialization is discouraged,
  "unlikely to be interoperable", and not accepted here) whose header names RS256, RS384 or
  RS512 (2.6.s4.b4) and understands no `crit` extension (RFC 7515 4.1.11);
- the payload is a JSON statement equivalent to the one received, without its signature
  Attachment(s) (2.6.s4.b3, 2.6.s5.b3.b2), under the comparison rules of Data 2.3.1;
- with an `x5c` header, the signature verifies with the first certificate's RSA key
  (2.6.s5.b3.b3, RFC 7515 4.1.6).

Accepting a signature vouches for nothing (2.6.s6.b2, and the note under 2.6.s5): the
certificate chain, its dates and its trust are not checked, only that the signature is
consistent with the certificate it names.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lrs.errors import BadRequest
from statements.attachments import AttachmentPart
from statements.compare import statements_equivalent
from statements.validation import parse_json

__all__ = ["SIGNATURE_USAGE", "verify_signed_statements"]

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
SIGNATURE_CONTENT_TYPE = "application/octet-stream"

# Data 2.6.s4.b4: RSASSA-PKCS1-v1_5 with SHA-2 (RFC 7518 3.3).
_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}
# RFC 7515 2: base64url without padding; correct "=" padding is tolerated.
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


@dataclass(frozen=True)
class _CompactJWS:
    header: dict[str, Any]
    payload: bytes
    signature: bytes
    signing_input: bytes  # ASCII(BASE64URL(header) "." BASE64URL(payload)), RFC 7515 5.1


def verify_signed_statements(
    statements: Sequence[Mapping[str, Any]], parts: Mapping[str, AttachmentPart], path: str
) -> None:
    """Check every signature Attachment of `statements` (Data 2.6.s5); `parts` are the
    matched attachment parts keyed by lower-case sha2 (`check_attachments`), `path` how the
    request names the statements, for the error's field."""
    for index, statement in enumerate(statements):
        attachments = statement.get("attachments") or []
        signatures = [
            (position, attachment)
            for position, attachment in enumerate(attachments)
            if isinstance(attachment, Mapping) and attachment.get("usageType") == SIGNATURE_USAGE
        ]
        if not signatures:
            continue
        original = _before_signing(statement)
        for position, attachment in signatures:
            field = f"{path}[{index}].attachments[{position}]"
            _verify(attachment, parts, original, field)


def _before_signing(statement: Mapping[str, Any]) -> dict[str, Any]:
    """Data 2.6.s4.b3: the statement as it was before its signature Attachment(s) were added."""
    original = dict(statement)
    kept = [
        attachment
        for attachment in statement.get("attachments") or []
        if not (isinstance(attachment, Mapping) and attachment.get("usageType") == SIGNATURE_USAGE)
    ]
    if kept:
        original["attachments"] = kept
    else:
        original.pop("attachments", None)
    return original


def _verify(
    attachment: Mapping[str, Any],
    parts: Mapping[str, AttachmentPart],
    original: Mapping[str, Any],
    field: str,
) -> None:
    content_type = str(attachment.get("contentType", ""))
    if content_type.split(";", 1)[0].strip().lower() != SIGNATURE_CONTENT_TYPE:
        raise BadRequest(
            f"a signature Attachment must have the contentType {SIGNATURE_CONTENT_TYPE}, not "
            f"{content_type!r} (Data 2.6.s4.b1)",
            f"{field}.contentType",
        )
    sha2 = str(attachment.get("sha2", "")).lower()
    part = parts.get(sha2)
    if part is None:
        raise BadRequest(
            "the JWS of a signature Attachment must be sent in the request as a multipart part, "
            "so the LRS can check it (Data 2.6.s5.b3)",
            field,
        )
    token = _parse_compact(part.data, field)
    algorithm = token.header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in _ALGORITHMS:
        raise BadRequest(
            f"the JWS alg must be RS256, RS384 or RS512, not {algorithm!r} (Data 2.6.s4.b4)",
            field,
        )
    if "crit" in token.header:
        raise BadRequest(
            "the JWS header names critical extensions (crit) this LRS does not understand "
            "(RFC 7515 4.1.11)",
            field,
        )
    try:
        payload = parse_json(token.payload, "the JWS payload")
    except BadRequest as error:
        raise BadRequest(f"{error.message} (Data 2.6.s4.b3)", field) from None
    if not isinstance(payload, dict):
        raise BadRequest("the JWS payload must be a statement object (Data 2.6.s4.b3)", field)
    try:
        same = statements_equivalent(payload, original)
    except RecursionError:
        same = False
    if not same:
        raise BadRequest(
            "the statement signed in the JWS payload differs from the statement received "
            "(Data 2.6.s5.b3.b2, compared as in Data 2.3.1)",
            field,
        )
    chain = token.header.get("x5c")
    if chain is None:
        # Without a certificate there is no key to check the signature with (this LRS does
        # not follow x5u or trust jwk/kid keys): only the payload could be compared.
        return
    _verify_with_certificate(token, chain, _ALGORITHMS[algorithm](), field)


def _parse_compact(data: bytes, field: str) -> _CompactJWS:
    """RFC 7515 7.1: BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)."""
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise BadRequest(
            "the signature is not a JWS Compact Serialization: it is not ASCII text (Data 2.6)",
            field,
        ) from None
    segments = text.split(".")
    if len(segments) != 3:
        hint = (
            "; the JWS JSON Serialization is not accepted (Data 2.6.s4.b2)"
            if text.startswith("{")
            else ""
        )
        raise BadRequest(
            "the signature is not a JWS Compact Serialization of three base64url parts "
            f"joined by dots (RFC 7515 7.1){hint}",
            field,
        )
    encoded_header, encoded_payload, encoded_signature = segments
    header_bytes = _base64url(encoded_header, "header", field)
    try:
        header = parse_json(header_bytes, "the JWS header")
    except BadRequest as error:
        raise BadRequest(f"{error.message} (RFC 7515 4)", field) from None
    if not isinstance(header, dict):
        raise BadRequest("the JWS header must be a JSON object (RFC 7515 4)", field)
    signature = _base64url(encoded_signature, "signature", field)
    if not signature:
        raise BadRequest("the JWS has an empty signature (RFC 7515 7.1)", field)
    return _CompactJWS(
        header=header,
        payload=_base64url(encoded_payload, "payload", field),
        signature=signature,
        signing_input=f"{encoded_header}.{encoded_payload}".encode("ascii"),
    )


def _base64url(segment: str, what: str, field: str) -> bytes:
    """RFC 7515 2 / RFC 4648 5, padding optional; anything else is a 400, never a 500."""
    unpadded = segment.rstrip("=")
    if (
        _BASE64URL.fullmatch(segment) is None
        or len(unpadded) % 4 == 1
        or (unpadded != segment and len(segment) % 4 != 0)
    ):
        raise BadRequest(f"the JWS {what} is not base64url (RFC 7515 2)", field)
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        raise BadRequest(f"the JWS {what} is not base64url (RFC 7515 2)", field) from None


def _verify_with_certificate(
    token: _CompactJWS, chain: Any, algorithm: hashes.HashAlgorithm, field: str
) -> None:
    """Data 2.6.s5.b3.b3: the first x5c certificate (base64 DER, RFC 7515 4.1.6) holds the key
    the JWS was signed with."""
    if not isinstance(chain, list) or not chain or not all(isinstance(c, str) for c in chain):
        raise BadRequest(
            "the JWS x5c header must be a non-empty array of base64 certificates (RFC 7515 4.1.6)",
            field,
        )
    try:
        der = base64.b64decode(chain[0], validate=True)
        certificate = x509.load_der_x509_certificate(der)
        key = certificate.public_key()
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        raise BadRequest(
            "the first JWS x5c entry is not a base64 DER X.509 certificate (RFC 7515 4.1.6)",
            field,
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadRequest(
            "the x5c certificate has no RSA key, which RS256/RS384/RS512 need (Data 2.6.s4.b4)",
            field,
        )
    try:
        key.verify(token.signature, token.signing_input, padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError):
        raise BadRequest(
            "the JWS signature does not verify with the key of its x5c certificate "
            "(Data 2.6.s5.b3.b3)",
            field,
        ) from None
