"""cmi5 course structures (cmi5 13, 14): parsed from `cmi5.xml`, checked against the rules of
the course structure schema and of the spec text, and kept as plain dataclasses.

The schema's rules are written out here rather than run through an XSD engine so that a
refused structure gets a message naming the element and the rule it breaks. The parser
refuses DTDs outright, so no entity (external or expanding) is ever resolved.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from lrs.errors import BadRequest

NAMESPACE = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd"
_NS = f"{{{NAMESPACE}}}"
MOVE_ON = ("NotApplicable", "Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed")
LAUNCH_METHODS = ("AnyWindow", "OwnWindow")
# cmi5 8.1: the names the LMS adds to an AU's url; the url may not use them itself.
LAUNCH_PARAMETERS = ("endpoint", "fetch", "actor", "registration", "activityId")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
# RFC 1738 2.2: characters that never appear unencoded in a URL.
_UNSAFE_URL = re.compile(r"[\s<>\"{}|\\^`]")


class InvalidStructure(BadRequest):
    """A course structure or package that cannot be imported; `field` is the element's path."""


Text = dict[str, str]  # language tag ("" when none) -> text


@dataclass(frozen=True)
class AU:
    id: str
    title: Text
    description: Text
    url: str
    move_on: str = "NotApplicable"
    launch_method: str = "AnyWindow"
    mastery_score: float | None = None
    activity_type: str | None = None
    launch_parameters: str | None = None
    entitlement_key: str | None = None
    objectives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    id: str
    title: Text
    description: Text
    children: tuple[AU | Block, ...]
    objectives: tuple[str, ...] = ()

    def aus(self) -> Iterator[AU]:
        return _aus(self.children)


@dataclass(frozen=True)
class Objective:
    id: str
    title: Text
    description: Text


@dataclass(frozen=True)
class Course:
    id: str
    title: Text
    description: Text
    children: tuple[AU | Block, ...]
    objectives: tuple[Objective, ...] = ()

    def aus(self) -> Iterator[AU]:
        return _aus(self.children)

    def blocks(self) -> Iterator[Block]:
        return _blocks(self.children)

    def au(self, au_id: str) -> AU | None:
        return next((au for au in self.aus() if au.id == au_id), None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Course:
        return cls(
            id=data["id"],
            title=data["title"],
            description=data["description"],
            children=tuple(_node_from_json(child) for child in data["children"]),
            objectives=tuple(Objective(**o) for o in data["objectives"]),
        )


def _node_from_json(data: dict[str, Any]) -> AU | Block:
    if "children" in data:
        return Block(
            id=data["id"],
            title=data["title"],
            description=data["description"],
            children=tuple(_node_from_json(child) for child in data["children"]),
            objectives=tuple(data["objectives"]),
        )
    return AU(**{**data, "objectives": tuple(data["objectives"])})


def _aus(nodes: Iterable[AU | Block]) -> Iterator[AU]:
    for node in nodes:
        if isinstance(node, AU):
            yield node
        else:
            yield from _aus(node.children)


def _blocks(nodes: Iterable[AU | Block]) -> Iterator[Block]:
    for node in nodes:
        if isinstance(node, Block):
            yield from _blocks(node.children)
            yield node  # innermost first


def parse_course(xml: bytes, has_file: Callable[[str], bool] | None = None) -> Course:
    """The course of a `cmi5.xml`. `has_file` answers whether a package holds a path; without
    it the structure stands alone and every AU url must be fully qualified (cmi5 14.2)."""
    try:
        root = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException:
        raise InvalidStructure(
            "the XML declares a DTD or entities, which a course structure may not", "cmi5.xml"
        ) from None
    except ET.ParseError as error:
        raise InvalidStructure(f"not well-formed XML: {error}", "cmi5.xml") from None
    if root.tag != f"{_NS}courseStructure":
        raise InvalidStructure(
            f"the root element must be courseStructure in the namespace {NAMESPACE}",
            "courseStructure",
        )
    return _Parser(has_file).course(root)


@dataclass
class _Parser:
    has_file: Callable[[str], bool] | None
    ids: dict[str, str] = field(default_factory=dict)  # id -> path of its element
    objective_refs: list[tuple[str, str]] = field(default_factory=list)  # (idref, path)

    def course(self, root: ET.Element) -> Course:
        path = "courseStructure"
        _attributes(root, path, ())
        elements = _sequence(
            root,
            path,
            [("course", 1, 1), ("objectives", 0, 1), ("au|block", 1, None)],
        )
        course_element = elements["course"][0]
        course_path = f"{path}/course"
        attributes = _attributes(course_element, course_path, ("id",))
        parts = _sequence(course_element, course_path, [("title", 1, 1), ("description", 1, 1)])
        course_id = self.identifier(attributes, course_path)
        objectives = tuple(
            self.objective(element, f"{path}/objectives/objective[{n}]")
            for objectives in elements.get("objectives", [])
            for n, element in enumerate(
                _sequence(objectives, f"{path}/objectives", [("objective", 1, None)])["objective"],
                start=1,
            )
        )
        children = self.nodes(elements["au|block"], path)
        declared = {objective.id for objective in objectives}
        for idref, ref_path in self.objective_refs:
            if idref not in declared:
                raise InvalidStructure(
                    f"objective {idref!r} is not declared in the course's objectives", ref_path
                )
        return Course(
            id=course_id,
            title=_text(parts["title"][0], f"{course_path}/title"),
            description=_text(parts["description"][0], f"{course_path}/description"),
            children=children,
            objectives=objectives,
        )

    def nodes(self, elements: list[ET.Element], parent_path: str) -> tuple[AU | Block, ...]:
        counts: dict[str, int] = {}
        nodes: list[AU | Block] = []
        for element in elements:
            name = _local(element)
            counts[name] = counts.get(name, 0) + 1
            path = f"{parent_path}/{name}[{counts[name]}]"
            nodes.append(self.au(element, path) if name == "au" else self.block(element, path))
        return tuple(nodes)

    def identifier(self, attributes: dict[str, str], path: str, name: str = "id") -> str:
        value = attributes.get(name)
        if value is None:
            raise InvalidStructure(f"the {name} attribute is required", path)
        _require_iri(value, f"{path}@{name}")
        if value in self.ids:
            raise InvalidStructure(
                f"the id {value!r} is already used by {self.ids[value]}; ids are unique "
                "within a course structure (cmi5 13.1.2-13.1.4)",
                f"{path}@{name}",
            )
        self.ids[value] = path
        return value

    def objective(self, element: ET.Element, path: str) -> Objective:
        attributes = _attributes(element, path, ("id",))
        parts = _children_by_name(element, path, ("title", "description"))
        return Objective(
            id=self.identifier(attributes, path),
            title=_text(parts["title"], f"{path}/title"),
            description=_text(parts["description"], f"{path}/description"),
        )

    def references(self, elements: list[ET.Element], path: str) -> tuple[str, ...]:
        refs = []
        for container in elements:
            objectives = _sequence(container, f"{path}/objectives", [("objective", 1, None)])
            for n, element in enumerate(objectives["objective"], start=1):
                ref_path = f"{path}/objectives/objective[{n}]"
                idref = _attributes(element, ref_path, ("idref",)).get("idref")
                if idref is None:
                    raise InvalidStructure("the idref attribute is required", ref_path)
                _require_iri(idref, f"{ref_path}@idref")
                self.objective_refs.append((idref, ref_path))
                refs.append(idref)
        return tuple(refs)

    def block(self, element: ET.Element, path: str) -> Block:
        attributes = _attributes(element, path, ("id",))
        block_id = self.identifier(attributes, path)
        parts = _sequence(
            element,
            path,
            [("title", 1, 1), ("description", 1, 1), ("objectives", 0, 1), ("au|block", 1, None)],
        )
        return Block(
            id=block_id,
            title=_text(parts["title"][0], f"{path}/title"),
            description=_text(parts["description"][0], f"{path}/description"),
            objectives=self.references(parts.get("objectives", []), path),
            children=self.nodes(parts["au|block"], path),
        )

    def au(self, element: ET.Element, path: str) -> AU:
        attributes = _attributes(
            element, path, ("id", "moveOn", "masteryScore", "launchMethod", "activityType")
        )
        au_id = self.identifier(attributes, path)
        parts = _sequence(
            element,
            path,
            [
                ("title", 1, 1),
                ("description", 1, 1),
                ("objectives", 0, 1),
                ("url", 1, 1),
                ("launchParameters", 0, 1),
                ("entitlementKey", 0, 1),
            ],
        )
        move_on = _choice(attributes, "moveOn", MOVE_ON, path)
        launch_method = _choice(attributes, "launchMethod", LAUNCH_METHODS, path)
        return AU(
            id=au_id,
            title=_text(parts["title"][0], f"{path}/title"),
            description=_text(parts["description"][0], f"{path}/description"),
            objectives=self.references(parts.get("objectives", []), path),
            url=self.url(_simple(parts["url"][0], f"{path}/url"), f"{path}/url"),
            move_on=move_on,
            launch_method=launch_method,
            mastery_score=_mastery_score(attributes.get("masteryScore"), f"{path}@masteryScore"),
            activity_type=attributes.get("activityType"),
            launch_parameters=_optional_simple(parts, "launchParameters", path),
            entitlement_key=_optional_simple(parts, "entitlementKey", path),
        )

    def url(self, url: str, path: str) -> str:
        if not url:
            raise InvalidStructure("an AU url may not be empty", path)
        if _UNSAFE_URL.search(url):
            raise InvalidStructure(
                f"the url {url!r} holds a character RFC 1738 requires to be encoded (cmi5 13.1.4)",
                path,
            )
        parts = urlsplit(url)
        clashes = sorted(
            {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
            & set(LAUNCH_PARAMETERS)
        )
        if clashes:
            raise InvalidStructure(
                f"the url's query uses {', '.join(clashes)}, a name the LMS adds at launch "
                "(cmi5 8.1)",
                path,
            )
        if _SCHEME.match(url):
            return url
        if self.has_file is None:
            raise InvalidStructure(
                f"the url {url!r} is relative; in a course structure imported on its own "
                "every AU url must be fully qualified (cmi5 14.2)",
                path,
            )
        if url.startswith("/") or not self.has_file(parts.path):
            raise InvalidStructure(
                f"the url {url!r} names no file in the package; content outside the package "
                "needs a fully qualified url (cmi5 14.1)",
                path,
            )
        return url


def _local(element: ET.Element) -> str:
    return element.tag.removeprefix(_NS) if element.tag.startswith(_NS) else element.tag


def _is_cmi5(element: ET.Element) -> bool:
    return element.tag.startswith(_NS)


def _is_foreign(name: str) -> bool:
    """An element or attribute of another namespace, which the schema allows (##other)."""
    return name.startswith("{") and not name.startswith(_NS)


def _attributes(element: ET.Element, path: str, allowed: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for name, value in element.attrib.items():
        if _is_foreign(name):
            continue  # cmi5 13.1.5: extensions may be ignored
        if name not in allowed:
            raise InvalidStructure(f"{_local(element)} has no attribute {name!r}", path)
        values[name] = value.strip()
    return values


def _sequence(
    element: ET.Element, path: str, steps: list[tuple[str, int, int | None]]
) -> dict[str, list[ET.Element]]:
    """The children of `element` matched against the schema's sequence `steps` (name, least,
    most); names joined by | are a choice. Elements of other namespaces may follow them."""
    found: dict[str, list[ET.Element]] = {}
    step = 0
    children = [child for child in element if isinstance(child.tag, str)]  # not comments
    for position, child in enumerate(children):
        if _is_foreign(child.tag):
            rest = children[position:]
            if any(_is_cmi5(other) for other in rest):
                late = next(_local(other) for other in rest if _is_cmi5(other))
                raise InvalidStructure(
                    f"{late} may not follow an extension element", f"{path}/{late}"
                )
            break
        name = _local(child)
        if not _is_cmi5(child):
            raise InvalidStructure(f"{name} is not in the namespace {NAMESPACE}", f"{path}/{name}")
        while step < len(steps) and name not in steps[step][0].split("|"):
            key, least, _ = steps[step]
            if len(found.get(key, [])) < least:
                raise InvalidStructure(
                    f"expected {_expected(key)} here, found {name}", f"{path}/{name}"
                )
            step += 1
        if step == len(steps):
            raise InvalidStructure(
                f"{name} is not allowed here in {_local(element)} (schema order: "
                f"{', '.join(_expected(key) for key, _, _ in steps)})",
                f"{path}/{name}",
            )
        key, _, most = steps[step]
        found.setdefault(key, []).append(child)
        if most is not None and len(found[key]) > most:
            raise InvalidStructure(f"{_local(element)} holds more than one {name}", path)
    for key, least, _ in steps[step:]:
        if len(found.get(key, [])) < least:
            raise InvalidStructure(f"{_local(element)} needs {_expected(key)}", path)
    return found


def _expected(key: str) -> str:
    return " or ".join(key.split("|"))


def _children_by_name(
    element: ET.Element, path: str, names: tuple[str, ...]
) -> dict[str, ET.Element]:
    """Children in any order, each exactly once (the schema's xs:all)."""
    found: dict[str, ET.Element] = {}
    for child in element:
        if not isinstance(child.tag, str) or _is_foreign(child.tag):
            continue
        name = _local(child)
        if not _is_cmi5(child) or name not in names or name in found:
            raise InvalidStructure(f"{name} is not allowed here", f"{path}/{name}")
        found[name] = child
    for name in names:
        if name not in found:
            raise InvalidStructure(f"{_local(element)} needs {name}", path)
    return found


def _text(element: ET.Element, path: str) -> Text:
    _attributes(element, path, ())
    strings = _sequence(element, path, [("langstring", 1, None)])["langstring"]
    text: Text = {}
    for n, string in enumerate(strings, start=1):
        string_path = f"{path}/langstring[{n}]"
        lang = _attributes(string, string_path, ("lang",)).get("lang", "")
        if lang and not _LANGUAGE.fullmatch(lang):
            raise InvalidStructure(f"{lang!r} is not a language tag", f"{string_path}@lang")
        text[lang] = (string.text or "").strip()  # cmi5 13.1: values are trimmed
    return text


def _simple(element: ET.Element, path: str) -> str:
    if any(isinstance(child.tag, str) and not _is_foreign(child.tag) for child in element):
        raise InvalidStructure(f"{_local(element)} holds text, not elements", path)
    return (element.text or "").strip()


def _optional_simple(parts: dict[str, list[ET.Element]], name: str, path: str) -> str | None:
    elements = parts.get(name)
    return _simple(elements[0], f"{path}/{name}") if elements else None


def _choice(attributes: dict[str, str], name: str, allowed: tuple[str, ...], path: str) -> str:
    value = attributes.get(name, allowed[0])
    if value not in allowed:
        raise InvalidStructure(
            f"{name} is one of {', '.join(allowed)}, not {value!r}", f"{path}@{name}"
        )
    return value


def _mastery_score(raw: str | None, path: str) -> float | None:
    """cmi5 13.1.4: a decimal from 0 to 1 with at most 4 decimal places."""
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidStructure(f"masteryScore is a decimal, not {raw!r}", path) from None
    exponent = value.as_tuple().exponent
    if (
        not value.is_finite()
        or not 0 <= value <= 1
        or (isinstance(exponent, int) and exponent < -4)
    ):
        raise InvalidStructure(
            f"masteryScore is from 0 to 1 with at most 4 decimal places, not {raw!r}", path
        )
    return float(value)


def _require_iri(value: str, path: str) -> None:
    """cmi5 3.0: ids are fully qualified IRIs (a scheme, then no spaces)."""
    if not _SCHEME.match(value) or any(c.isspace() for c in value):
        raise InvalidStructure(f"{value!r} is not a fully qualified IRI (cmi5 3.0)", path)
