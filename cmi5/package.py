"""Course packages (cmi5 14): a standalone `cmi5.xml`, or a zip (32- or 64-bit) with
`cmi5.xml` at its root and the AUs' content files.

A zip is read defensively: member names that climb out of the package or are absolute are
refused (zip slip), and every member is read with a bound on its real size rather than on
what its header claims (a zip bomb stops at the bound).
"""

from __future__ import annotations

import io
import mimetypes
import posixpath
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from cmi5.structure import Course, InvalidStructure, parse_course
from lrs.errors import PayloadTooLarge

SAMPLE = Path(__file__).parent / "sample"
XML_TYPES = ("application/xml", "text/xml")
ZIP_TYPES = ("application/zip", "application/x-zip-compressed")


@dataclass(frozen=True)
class ContentFile:
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Package:
    course: Course
    files: dict[str, ContentFile] = field(default_factory=dict)


def read_package(content_type: str | None, body: bytes, *, max_unpacked_bytes: int) -> Package:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in XML_TYPES:
        return Package(parse_course(body))
    if media_type in ZIP_TYPES:
        return _read_zip(body, max_unpacked_bytes)
    raise InvalidStructure(
        "a course package is a cmi5.xml (application/xml) or a zip (application/zip), "
        f"not {media_type or 'a body without Content-Type'} (cmi5 14)",
        "Content-Type",
    )


def _read_zip(body: bytes, max_unpacked_bytes: int) -> Package:
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
        raise InvalidStructure("the body is not a zip archive (cmi5 14.1)", "body") from None
    files: dict[str, bytes] = {}
    left = max_unpacked_bytes
    with archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            name = _safe_name(member.filename)
            data = _read_member(archive, member, left)
            left -= len(data)
            files[name] = data
    xml = files.pop("cmi5.xml", None)
    if xml is None:
        raise InvalidStructure("the zip holds no cmi5.xml at its root (cmi5 14.1)", "body")
    course = parse_course(xml, has_file=lambda path: posixpath.normpath(unquote(path)) in files)
    return Package(
        course,
        {
            name: ContentFile(mimetypes.guess_type(name)[0] or "application/octet-stream", data)
            for name, data in files.items()
        },
    )


def _safe_name(name: str) -> str:
    """The member's path inside the package, or a 400 for one that would leave it."""
    normalized = posixpath.normpath(name.replace("\\", "/"))
    if (
        name.startswith(("/", "\\"))
        or (len(name) > 1 and name[1] == ":")
        or normalized == ".."
        or normalized.startswith("../")
        or "\x00" in name
    ):
        raise InvalidStructure(f"the zip member {name!r} points outside the package", "body")
    return normalized


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, left: int) -> bytes:
    try:
        with archive.open(member) as stream:
            data = stream.read(left + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as error:
        raise InvalidStructure(
            f"the zip member {member.filename!r} cannot be read ({type(error).__name__})",
            "body",
        ) from None
    if len(data) > left:
        raise PayloadTooLarge(
            "the package unpacks to more than the LRS_CMI5_MAX_PACKAGE_BYTES limit", "body"
        )
    return data


def sample_package() -> bytes:
    """This LRS's own small course (cmi5/sample) as a zip: the demo of `make run`, and the
    course of the tests."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(SAMPLE.iterdir()):
            archive.write(path, path.name)
    return buffer.getvalue()
