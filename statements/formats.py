"""The `format` of returned statements (xAPI-Communication 2.1.3 table 1, row 12):
`exact` as stored, `ids` reduced to identifiers, `canonical` with this LRS's definitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statements.validation import COMPONENT_LISTS

_IFIS = ("mbox", "mbox_sha1sum", "openid", "account")

Definitions = Mapping[str, Mapping[str, Any]]


def _agent_ids(agent: Mapping[str, Any]) -> dict[str, Any]:
    reduced = {key: agent[key] for key in ("objectType", *_IFIS) if key in agent}
    if "member" in agent and not any(key in agent for key in _IFIS):
        # Anonymous Group: its members' identifiers are all that identify it.
        reduced["member"] = [_agent_ids(member) for member in agent["member"]]
    return reduced


def _object_ids(target: Mapping[str, Any]) -> dict[str, Any]:
    kind = target.get("objectType", "Activity")
    if kind in ("Agent", "Group"):
        return _agent_ids(target)
    if kind == "SubStatement":
        return to_ids(target)
    if kind == "StatementRef":
        return dict(target)
    return {"id": target["id"]}  # an Activity is its id


def _context_ids(context: Mapping[str, Any]) -> dict[str, Any]:
    reduced = dict(context)
    for name in ("instructor", "team"):
        if name in context:
            reduced[name] = _agent_ids(context[name])
    if "contextActivities" in context:
        reduced["contextActivities"] = {
            kind: [_object_ids(activity) for activity in activities]
            for kind, activities in context["contextActivities"].items()
        }
    if "contextAgents" in context:
        reduced["contextAgents"] = [
            {**item, "agent": _agent_ids(item["agent"])} for item in context["contextAgents"]
        ]
    if "contextGroups" in context:
        reduced["contextGroups"] = [
            {**item, "group": _agent_ids(item["group"])} for item in context["contextGroups"]
        ]
    return reduced


def to_ids(statement: Mapping[str, Any]) -> dict[str, Any]:
    reduced = dict(statement)
    reduced["actor"] = _agent_ids(statement["actor"])
    reduced["verb"] = {"id": statement["verb"]["id"]}
    reduced["object"] = _object_ids(statement["object"])
    if "context" in statement:
        reduced["context"] = _context_ids(statement["context"])
    if "authority" in statement:
        reduced["authority"] = _agent_ids(statement["authority"])
    return reduced


def parse_accept_language(header: str | None) -> list[str]:
    """Language ranges of an Accept-Language header, most preferred first, lower-cased."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted)]


def pick_language(language_map: Mapping[str, str], preferred: list[str]) -> dict[str, str]:
    """One entry of a language map (xAPI-Communication 2.1.3.s4): the first preferred language
    present (exactly, then by primary subtag), else the map's first entry."""
    if not language_map:
        return {}
    lowered = {key.lower(): key for key in language_map}
    for wanted in preferred:
        if wanted == "*":
            break
        if wanted in lowered:
            key = lowered[wanted]
            return {key: language_map[key]}
        for candidate, key in lowered.items():
            if candidate.split("-")[0] == wanted.split("-")[0]:
                return {key: language_map[key]}
    key = next(iter(language_map))
    return {key: language_map[key]}


def _canonical_definition(definition: Mapping[str, Any], preferred: list[str]) -> dict[str, Any]:
    result = dict(definition)
    for name in ("name", "description"):
        if name in definition:
            result[name] = pick_language(definition[name], preferred)
    for name in COMPONENT_LISTS:
        if name in definition:
            result[name] = [
                {**c, "description": pick_language(c["description"], preferred)}
                if "description" in c
                else dict(c)
                for c in definition[name]
            ]
    return result


def _canonical_activity(
    activity: Mapping[str, Any], definitions: Definitions, preferred: list[str]
) -> dict[str, Any]:
    definition = definitions.get(activity["id"], activity.get("definition"))
    result = dict(activity)
    if definition is not None:
        result["definition"] = _canonical_definition(definition, preferred)
    return result


def _canonical_object(
    target: Mapping[str, Any], definitions: Definitions, preferred: list[str]
) -> dict[str, Any]:
    kind = target.get("objectType", "Activity")
    if kind == "Activity":
        return _canonical_activity(target, definitions, preferred)
    if kind == "SubStatement":
        return to_canonical(target, definitions, preferred)
    return dict(target)


def to_canonical(
    statement: Mapping[str, Any], definitions: Definitions, preferred: list[str]
) -> dict[str, Any]:
    """Activities carry this LRS's canonical definitions and every Activity and verb language
    map is cut to one language chosen by Accept-Language (xAPI-Data 2.4.3.s6.b3)."""
    result = dict(statement)
    verb = statement["verb"]
    if "display" in verb:
        result["verb"] = {**verb, "display": pick_language(verb["display"], preferred)}
    result["object"] = _canonical_object(statement["object"], definitions, preferred)
    context = statement.get("context")
    if context is not None and "contextActivities" in context:
        result["context"] = {
            **context,
            "contextActivities": {
                kind: [_canonical_activity(a, definitions, preferred) for a in activities]
                for kind, activities in context["contextActivities"].items()
            },
        }
    return result
