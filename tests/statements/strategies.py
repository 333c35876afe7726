"""Hypothesis strategies for valid xAPI statements (xAPI-Data 2.4), in the form this LRS
stores them as received: contextActivities values already arrays, nothing to normalise."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any, Literal

from hypothesis import strategies as st

JSON = dict[str, Any]

# Text a statement may hold: any character but U+0000 and lone surrogates.
_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
text = st.text(
    st.characters(exclude_categories=_SURROGATES, exclude_characters="\x00"), max_size=40
)
_segment = st.text(string.ascii_lowercase + string.digits + "-._~", min_size=1, max_size=12)
_unicode_segment = st.text(st.characters(categories=("Ll", "Lo")), min_size=1, max_size=8)
iri = st.builds(
    "{}://{}.example/{}".format,
    st.sampled_from(["http", "https", "urn-like"]),
    _segment,
    st.one_of(_segment, _unicode_segment),
)
irl = st.builds("https://{}.example/{}".format, _segment, _segment)
language_tag = st.sampled_from(["en", "en-US", "fr-CA", "de", "zh-Hans-CN", "es-419", "und"])
language_map = st.dictionaries(language_tag, text, min_size=1, max_size=3)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)
extensions = st.dictionaries(iri, json_value, min_size=1, max_size=3)
uuids = st.uuids().map(str)
# Hypothesis takes naive bounds and gives the moments the zone of `timezones`.
timestamps = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001
    max_value=datetime(2090, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda moment: moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
durations = st.builds(
    "PT{}H{}M{}S".format, st.integers(0, 99), st.integers(0, 59), st.integers(0, 59)
)


def _optional(**properties: st.SearchStrategy[Any]) -> st.SearchStrategy[JSON]:
    """Objects holding any subset of `properties`."""
    return st.fixed_dictionaries({}, optional=properties)


mbox = st.builds("mailto:{}@{}.example".format, _segment, _segment)
_ifi = st.one_of(
    st.fixed_dictionaries({"mbox": mbox}),
    st.fixed_dictionaries({"mbox_sha1sum": st.text("0123456789abcdef", min_size=40, max_size=40)}),
    st.fixed_dictionaries({"openid": irl}),
    st.fixed_dictionaries({"account": st.fixed_dictionaries({"homePage": irl, "name": text})}),
)


def _with(base: st.SearchStrategy[JSON], extra: st.SearchStrategy[JSON]) -> st.SearchStrategy[JSON]:
    return st.tuples(base, extra).map(lambda parts: {**parts[0], **parts[1]})


agent = _with(_ifi, _optional(objectType=st.just("Agent"), name=text))
group = st.one_of(
    # Anonymous: members, no identifier (Data 2.4.2.2.s2).
    _with(
        st.fixed_dictionaries(
            {"objectType": st.just("Group"), "member": st.lists(agent, min_size=1, max_size=3)}
        ),
        _optional(name=text),
    ),
    # Identified: an identifier, members optional.
    _with(
        _with(st.fixed_dictionaries({"objectType": st.just("Group")}), _ifi),
        _optional(name=text, member=st.lists(agent, max_size=2)),
    ),
)
verb = _with(st.fixed_dictionaries({"id": iri}), _optional(display=language_map))
definition = _optional(
    name=language_map, description=language_map, type=iri, moreInfo=irl, extensions=extensions
)
activity = _with(
    st.fixed_dictionaries({"id": iri}),
    _optional(objectType=st.just("Activity"), definition=definition),
)
statement_ref = st.fixed_dictionaries({"objectType": st.just("StatementRef"), "id": uuids})


@st.composite
def score(draw: st.DrawFn) -> JSON:
    low = draw(st.integers(-1000, 1000))
    high = draw(st.integers(low + 1, low + 1000))  # Data 2.4.5.1: max > min
    return draw(
        _optional(
            scaled=st.floats(-1, 1, allow_nan=False),
            raw=st.integers(low, high),
            min=st.just(low),
            max=st.just(high),
        )
    )


result = _optional(
    score=score(),
    success=st.booleans(),
    completion=st.booleans(),
    response=text,
    duration=durations,
    extensions=extensions,
)
context_activities = _optional(
    parent=st.lists(activity, min_size=1, max_size=2),
    grouping=st.lists(activity, min_size=1, max_size=2),
    category=st.lists(activity, min_size=1, max_size=2),
    other=st.lists(activity, min_size=1, max_size=2),
)
attachment = _with(
    st.fixed_dictionaries(
        {
            "usageType": iri,
            "display": language_map,
            "contentType": st.sampled_from(["text/plain", "application/pdf", "image/png"]),
            "length": st.integers(0, 10**9),
            "sha2": st.text("0123456789abcdef", min_size=64, max_size=64),
            "fileUrl": irl,
        }
    ),
    _optional(description=language_map),
)


@st.composite
def context(draw: st.DrawFn, object_is_activity: bool) -> JSON:
    """Data 2.4.6: revision and platform only when the object is an Activity."""
    properties: dict[str, st.SearchStrategy[Any]] = {
        "registration": uuids,
        "instructor": st.one_of(agent, group),
        "team": group,
        "contextActivities": context_activities,
        "language": language_tag,
        "statement": statement_ref,
        "extensions": extensions,
    }
    if object_is_activity:
        properties |= {"revision": text, "platform": text}
    return draw(_optional(**properties))


@st.composite
def _statement_parts(draw: st.DrawFn, sub: bool) -> JSON:
    target = draw(
        st.one_of(activity, _with(agent, st.just({"objectType": "Agent"})), group)
        if sub
        else st.one_of(
            activity, _with(agent, st.just({"objectType": "Agent"})), group, statement_ref
        )
    )
    is_activity = "id" in target and target.get("objectType", "Activity") == "Activity"
    parts = {"actor": draw(st.one_of(agent, group)), "verb": draw(verb), "object": target}
    parts |= draw(
        _optional(
            result=result,
            context=context(is_activity),
            timestamp=timestamps,
            attachments=st.lists(attachment, min_size=1, max_size=2),
        )
    )
    return parts


@st.composite
def statements(draw: st.DrawFn) -> JSON:
    """A valid statement; its object may be a SubStatement (Data 2.4.4.3)."""
    parts = draw(_statement_parts(sub=False))
    if draw(st.booleans()) and parts["object"].get("objectType") != "StatementRef":
        parts["object"] = {"objectType": "SubStatement", **draw(_statement_parts(sub=True))}
        for name in ("revision", "platform"):
            parts.get("context", {}).pop(name, None)
    if draw(st.booleans()):
        parts["id"] = draw(uuids)
    return parts
