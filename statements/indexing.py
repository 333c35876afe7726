"""What a statement is found by: the agents and activities it mentions, and the Activity
definitions it carries, read off a validated statement."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from statements.validation import COMPONENT_LISTS, agent_ifi

Statement = Mapping[str, Any]

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"
_LANGUAGE_MAPS = ("name", "description")


def is_voiding(statement: Statement) -> bool:
    """xAPI-Data 2.3.2: the voided verb with a StatementRef object."""
    target = statement["object"]
    return bool(
        statement["verb"]["id"] == VOIDED_VERB and target.get("objectType") == "StatementRef"
    )


def _agent_keys(agent_or_group: Mapping[str, Any]) -> Iterator[str]:
    """The IFI of an Agent or identified Group, and those of a Group's members."""
    key = agent_ifi(agent_or_group)
    if key is not None:
        yield key
    for member in agent_or_group.get("member", ()):
        member_key = agent_ifi(member)
        if member_key is not None:
            yield member_key


def _is_agent(target: Mapping[str, Any]) -> bool:
    return target.get("objectType") in ("Agent", "Group")


def _is_activity(target: Mapping[str, Any]) -> bool:
    return bool(target.get("objectType", "Activity") == "Activity")


def _context_agents(context: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for name in ("instructor", "team"):
        if name in context:
            yield context[name]
    for item in context.get("contextAgents", ()):
        yield item["agent"]
    for item in context.get("contextGroups", ()):
        yield item["group"]


def _context_activities(context: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for activities in context.get("contextActivities", {}).values():
        yield from activities


def agent_index(statement: Statement) -> dict[str, bool]:
    """Agent key -> direct. Direct: actor and Agent/Group object (with Group members), which
    `agent=` matches; the rest is what `related_agents=true` adds (xAPI-Communication 2.1.3)."""
    keys: dict[str, bool] = {}

    def add(agent: Mapping[str, Any], direct: bool) -> None:
        for key in _agent_keys(agent):
            keys[key] = keys.get(key, False) or direct

    add(statement["actor"], True)
    target = statement["object"]
    if _is_agent(target):
        add(target, True)
    if "authority" in statement:
        add(statement["authority"], False)
    for agent in _context_agents(statement.get("context", {})):
        add(agent, False)
    if target.get("objectType") == "SubStatement":
        add(target["actor"], False)
        if _is_agent(target["object"]):
            add(target["object"], False)
        for agent in _context_agents(target.get("context", {})):
            add(agent, False)
    return keys


def activity_index(statement: Statement) -> dict[str, bool]:
    """Activity id -> direct. Direct: the object, which `activity=` matches; context activities
    and SubStatement parts are what `related_activities=true` adds."""
    ids: dict[str, bool] = {}
    target = statement["object"]
    if _is_activity(target):
        ids[target["id"]] = True
    related = list(_context_activities(statement.get("context", {})))
    if target.get("objectType") == "SubStatement":
        if _is_activity(target["object"]):
            related.append(target["object"])
        related.extend(_context_activities(target.get("context", {})))
    for activity in related:
        ids.setdefault(activity["id"], False)
    return ids


def carried_activities(statement: Statement) -> Iterator[Mapping[str, Any]]:
    """Every Activity object in the statement, wherever it stands."""
    target = statement["object"]
    if _is_activity(target):
        yield target
    yield from _context_activities(statement.get("context", {}))
    if target.get("objectType") == "SubStatement":
        if _is_activity(target["object"]):
            yield target["object"]
        yield from _context_activities(target.get("context", {}))


def merge_definition(known: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical definition after `incoming` arrives: language maps are merged language by
    language (xAPI-Communication 2.5: all known data for the id), other properties take the
    newest value, and interaction components merge their descriptions by component id."""
    merged = dict(known)
    for name, value in incoming.items():
        if name in _LANGUAGE_MAPS or name == "extensions":
            merged[name] = {**known.get(name, {}), **value}
        elif name in COMPONENT_LISTS:
            merged[name] = _merge_components(known.get(name, []), value)
        else:
            merged[name] = value
    return merged


def _merge_components(
    known: list[Mapping[str, Any]], incoming: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    previous = {component["id"]: component for component in known}
    merged = []
    for component in incoming:
        description = {
            **previous.get(component["id"], {}).get("description", {}),
            **component.get("description", {}),
        }
        merged.append({**component, **({"description": description} if description else {})})
    return merged
