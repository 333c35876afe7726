"""Signed statements (xAPI-Data 2.6): JWS tokens are built here, with a key and a self-signed
X.509 certificate made by `cryptography`, in the shapes the ADL suite sends (XAPI-00115 to
XAPI-00117) and in the ways a signature can be malformed."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from lrs.errors import BadRequest
from statements.attachments import AttachmentPart
from statements.signature import SIGNATURE_USAGE, verify_signed_statements

Statement = dict[str, Any]

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    certificate_der: bytes

    @property
    def x5c(self) -> list[str]:
        return [base64.b64encode(self.certificate_der).decode()]


def self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xAPI test signer")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def signer() -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signer(key, self_signed(key))


@pytest.fixture(scope="module")
def stranger() -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signer(key, self_signed(key))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(
    header: Mapping[str, Any],
    payload: bytes,
    key: rsa.RSAPrivateKey,
    hash_name: str = "RS256",
) -> bytes:
    """A JWS Compact Serialization (RFC 7515 7.1) signed with RSASSA-PKCS1-v1_5."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), HASHES[hash_name]())
    return f"{signing_input}.{b64url(signature)}".encode()


def make_statement(**parts: Any) -> Statement:
    statement: Statement = {
        "id": "3a1f6d52-8f0c-4b3e-9a57-0c6f2d8e41b7",
        "actor": {"objectType": "Agent", "mbox": "mailto:xapi@adlnet.gov"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-US": "x"}},
        "object": {"objectType": "Activity", "id": "http://www.example.com/meetings/34534"},
    }
    statement.update(parts)
    return statement


def payload_of(statement: Statement) -> bytes:
    return json.dumps(statement).encode()


def attach(
    statement: Statement, token: bytes, content_type: str = "application/octet-stream"
) -> tuple[list[Statement], dict[str, AttachmentPart]]:
    """The received statement with its signature Attachment, and the matched parts."""
    sha2 = hashlib.sha256(token).hexdigest()
    signed = copy.deepcopy(statement)
    signed.setdefault("attachments", []).append(
        {
            "usageType": SIGNATURE_USAGE,
            "display": {"en-US": "Signed by the tests"},
            "contentType": content_type,
            "length": len(token),
            "sha2": sha2,
        }
    )
    return [signed], {sha2: AttachmentPart(sha2, content_type, token)}


def verify(statements: list[Statement], parts: dict[str, AttachmentPart]) -> None:
    verify_signed_statements(statements, parts, "statements")


def rejection(statements: list[Statement], parts: dict[str, AttachmentPart]) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        verify(statements, parts)
    return caught.value


class TestAcceptedSignatures:
    @pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
    def test_rsa_algorithms_with_x5c(self, signer: Signer, alg: str) -> None:
        """Data 2.6.s4.b4 and 2.6.s5.b3.b3, suite XAPI-00117: RS256/384/512 verified with
        the x5c certificate."""
        statement = make_statement()
        token = jws({"alg": alg, "x5c": signer.x5c}, payload_of(statement), signer.key, alg)
        statements, parts = attach(statement, token)
        verify(statements, parts)  # no exception
        assert statements[0]["attachments"][0]["usageType"] == SIGNATURE_USAGE

    def test_without_x5c_only_the_payload_is_checked(self, stranger: Signer) -> None:
        """Data 2.6.s5.b3.b3 applies only when the header has a certificate (the suite signs
        without one, XAPI-00117)."""
        statement = make_statement()
        statements, parts = attach(
            statement, jws({"alg": "RS256"}, payload_of(statement), stranger.key)
        )
        verify(statements, parts)
        assert len(parts) == 1

    def test_payload_without_the_lrs_assigned_id(self, signer: Signer) -> None:
        """Data 2.6.s4.b3 with 2.3.1.b1: the statement as signed may lack the id."""
        statement = make_statement()
        unsigned_id = {key: value for key, value in statement.items() if key != "id"}
        token = jws({"alg": "RS256", "x5c": signer.x5c}, payload_of(unsigned_id), signer.key)
        verify(*attach(statement, token))

    def test_payload_compared_as_in_data_2_3_1(self, signer: Signer) -> None:
        """Data 2.6.s5.b3.b2 with 4.6.s1.b5 (2.0 suite 4.2.7): duration digits beyond 0.01 s,
        time zones and verb display do not count."""
        signed = make_statement(
            result={"duration": "P1DT12H36M0.12S"}, timestamp="2023-05-04T12:00:00-05:00"
        )
        received = make_statement(
            result={"duration": "P1DT12H36M0.1237S"}, timestamp="2023-05-04T17:00:00.000Z"
        )
        received["verb"]["display"] = {"fr-FR": "a assisté"}
        token = jws({"alg": "RS256", "x5c": signer.x5c}, payload_of(signed), signer.key)
        verify(*attach(received, token))

    def test_other_attachments_stay_in_the_original(self, signer: Signer) -> None:
        """Data 2.6.s4.b3: the original statement is the one before the signature was added,
        which may carry other attachments."""
        other = {
            "usageType": "http://example.com/usage",
            "display": {"en-US": "file"},
            "contentType": "text/plain",
            "length": 1,
            "sha2": "0" * 64,
            "fileUrl": "http://example.com/f",
        }
        statement = make_statement(attachments=[other])
        token = jws({"alg": "RS256", "x5c": signer.x5c}, payload_of(statement), signer.key)
        verify(*attach(statement, token))

    def test_padded_base64url_is_tolerated(self, signer: Signer) -> None:
        """RFC 7515 2 omits "=" padding; correctly padded segments still decode."""
        statement = make_statement()
        header = base64.urlsafe_b64encode(b'{"alg": "RS256"}').decode()
        body = base64.urlsafe_b64encode(payload_of(statement)).decode()
        signature = signer.key.sign(
            f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        token = f"{header}.{body}.{b64url(signature)}".encode()
        assert "=" in header + body
        verify(*attach(statement, token))

    def test_unsigned_statements_need_nothing(self) -> None:
        """Data 2.6: only statements with a signature Attachment are checked."""
        verify_signed_statements([make_statement()], {}, "statements")
        assert "attachments" not in make_statement()


class TestRejectedSignatures:
    def test_tampered_payload(self, signer: Signer) -> None:
        """Data 2.6.s5.b3.b3: a payload changed after signing fails the x5c check."""
        statement = make_statement()
        token = jws({"alg": "RS256", "x5c": signer.x5c}, payload_of(statement), signer.key)
        header, _, signature = token.decode().split(".")
        other = make_statement(result={"success": True})
        forged = f"{header}.{b64url(payload_of(other))}.{signature}".encode()
        error = rejection(*attach(other, forged))
        assert "does not verify" in error.message
        assert error.field == "statements[0].attachments[0]"

    def test_statement_differs_from_payload(self, signer: Signer) -> None:
        """Data 2.6.s5.b3.b2, suite XAPI-00116: the received statement must be the signed one."""
        token = jws({"alg": "RS256", "x5c": signer.x5c}, payload_of(make_statement()), signer.key)
        changed = make_statement(result={"duration": "PT1M"})
        assert "differs" in rejection(*attach(changed, token)).message

    def test_signed_with_another_key(self, signer: Signer, stranger: Signer) -> None:
        """Data 2.6.s5.b3.b3: the signature must verify with the x5c certificate's key."""
        statement = make_statement()
        token = jws({"alg": "RS256", "x5c": signer.x5c}, payload_of(statement), stranger.key)
        assert "x5c" in rejection(*attach(statement, token)).message

    def test_alg_header_disagrees_with_signature(self, signer: Signer) -> None:
        """Data 2.6.s5.b3.b3: an RS512 signature announced as RS256 does not verify."""
        statement = make_statement()
        token = jws({"alg": "RS256", "x5c": signer.x5c}, payload_of(statement), signer.key, "RS512")
        assert "does not verify" in rejection(*attach(statement, token)).message

    @pytest.mark.parametrize("alg", ["none", "HS256", "ES256", "PS256", "rs256", None, 256])
    def test_other_algorithms(self, alg: Any) -> None:
        """Data 2.6.s4.b4, suite XAPI-00117: only RS256, RS384 and RS512."""
        statement = make_statement()
        header = {"alg": alg} if alg is not None else {}
        payload = b64url(payload_of(statement))
        token = f"{b64url(json.dumps(header).encode())}.{payload}.{b64url(b'sig')}".encode()
        assert "RS256, RS384 or RS512" in rejection(*attach(statement, token)).message

    def test_wrong_content_type(self, signer: Signer) -> None:
        """Data 2.6.s4.b1, suite XAPI-00115 (text/plain; charset=ascii)."""
        statement = make_statement()
        token = jws({"alg": "RS256"}, payload_of(statement), signer.key)
        error = rejection(*attach(statement, token, "text/plain; charset=ascii"))
        assert error.field == "statements[0].attachments[0].contentType"

    def test_payload_not_json(self, signer: Signer) -> None:
        """Data 2.6.s4.b3, suite XAPI-00116 ("breakJson": a quote replaced)."""
        statement = make_statement()
        broken = json.dumps(statement).replace('"', "'", 1).encode()
        error = rejection(*attach(statement, jws({"alg": "RS256"}, broken, signer.key)))
        assert "JWS payload" in error.message

    def test_payload_not_a_statement_object(self, signer: Signer) -> None:
        """Data 2.6.s4.b3: the payload is a statement, not another JSON value."""
        statement = make_statement()
        token = jws({"alg": "RS256"}, b"[1, 2]", signer.key)
        assert "statement object" in rejection(*attach(statement, token)).message

    def test_data_not_sent(self, signer: Signer) -> None:
        """Data 2.6.s5.b3: the LRS must decode the JWS, so it must have it."""
        statement = make_statement()
        statements, _ = attach(statement, jws({"alg": "RS256"}, payload_of(statement), signer.key))
        assert "multipart part" in rejection(statements, {}).message

    def test_unknown_critical_extension(self, signer: Signer) -> None:
        """RFC 7515 4.1.11: a crit header this LRS does not understand."""
        statement = make_statement()
        token = jws({"alg": "RS256", "crit": ["exp"], "exp": 1}, payload_of(statement), signer.key)
        assert "crit" in rejection(*attach(statement, token)).message

    @pytest.mark.parametrize(
        "x5c",
        [
            "MIIB",  # not an array
            [],
            [42],
            ["not base64 at all!"],
            [base64.b64encode(b"not a certificate").decode()],
        ],
    )
    def test_unusable_certificate(self, signer: Signer, x5c: Any) -> None:
        """RFC 7515 4.1.6: x5c is an array of base64 DER certificates."""
        statement = make_statement()
        token = jws({"alg": "RS256", "x5c": x5c}, payload_of(statement), signer.key)
        assert "x5c" in rejection(*attach(statement, token)).message

    def test_certificate_without_rsa_key(self, signer: Signer) -> None:
        """Data 2.6.s4.b4: RS algorithms need an RSA key."""
        ec_certificate = self_signed(ec.generate_private_key(ec.SECP256R1()))
        statement = make_statement()
        header = {"alg": "RS256", "x5c": [base64.b64encode(ec_certificate).decode()]}
        token = jws(header, payload_of(statement), signer.key)
        assert "RSA" in rejection(*attach(statement, token)).message

    def test_every_signature_is_checked(self, signer: Signer, stranger: Signer) -> None:
        """Data 2.6.s5.b1: a statement with a good and a bad signature is rejected."""
        statement = make_statement()
        good = jws({"alg": "RS256", "x5c": signer.x5c}, payload_of(statement), signer.key)
        bad = jws({"alg": "RS256", "x5c": signer.x5c}, payload_of(statement), stranger.key)
        statements, parts = attach(statement, good)
        more, more_parts = attach(statements[0], bad)
        error = rejection(more, parts | more_parts)
        assert error.field == "statements[0].attachments[1]"


class TestMalformedTokens:
    @pytest.mark.parametrize(
        ("token", "complaint"),
        [
            (b"", "three base64url parts"),
            (b"garbage", "three base64url parts"),
            (b"a.b", "three base64url parts"),
            (b"a.b.c.d", "three base64url parts"),
            ("\u00e9.e30.c2ln".encode(), "not ASCII"),
            (b"\xff\xfe\x00", "not ASCII"),
            (b"e30.e30.c2ln!", "signature is not base64url"),  # "!" is not in the alphabet
            (b"e30.e30.c2lnb", "signature is not base64url"),  # 5 characters: no base64 length
            (b"e30.e30.c2ln=", "signature is not base64url"),  # padding to no multiple of 4
            (b"bm90IGpzb24.e30.c2ln", "header: not valid JSON"),  # "not json"
            (b"W10.e30.c2ln", "header must be a JSON object"),  # []
            (b"eyJhbGciOiJSUzI1NiJ9..c2ln", "payload: not valid JSON"),  # no payload
            (b"eyJhbGciOiJSUzI1NiJ9.e30.", "empty signature"),
        ],
    )
    def test_malformed_jws_is_a_bad_request(self, token: bytes, complaint: str) -> None:
        """Data 2.6.s5.b1-b2, suite XAPI-00115: a malformed signature is a 400 whose message
        says what is wrong, never another error."""
        error = rejection(*attach(make_statement(), token))
        assert complaint in error.message
        assert error.field == "statements[0].attachments[0]"

    def test_json_serialization_is_named(self) -> None:
        """Data 2.6.s4.b2: only the Compact Serialization is accepted; the message says so."""
        statement = make_statement()
        token = b'{"payload":"e30","signatures":[]}'
        assert "JSON Serialization" in rejection(*attach(statement, token)).message
