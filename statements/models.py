"""Statement query parameters (xAPI-Communication 2.1.3) and the `more` token that resumes them."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from lrs.errors import BadRequest
from lrs.params import check_parameter_names
from statements.validation import agent_ifi, is_iri, is_uuid, parse_agent, parse_timestamp

Format = Literal["exact", "ids", "canonical"]

QUERY_PARAMETERS = (
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "more",
)
# xAPI-Communication 2.1.3.s2.b2: with a statement id only these may come along.
_SINGLE_PARAMETERS = {"statementId", "voidedStatementId", "attachments", "format"}


@dataclass(frozen=True)
class StatementFilter:
    """The filters of a statement query (xAPI-Communication 2.1.3 table 1)."""

    agent: str | None = None
    related_agents: bool = False
    verb: str | None = None
    activity: str | None = None
    related_activities: bool = False
    registration: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    credential_id: int | None = None  # statements/read/mine

    @property
    def has_match_filters(self) -> bool:
        return any(v is not None for v in (self.agent, self.verb, self.activity, self.registration))


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the last row served, in the query's order."""

    stored: datetime
    seq: int


@dataclass(frozen=True)
class StatementQuery:
    statement_id: uuid.UUID | None = None
    voided_statement_id: uuid.UUID | None = None
    where: StatementFilter = StatementFilter()
    ascending: bool = False
    limit: int = 0
    format: Format = "exact"
    attachments: bool = False
    after: Cursor | None = None

    @property
    def single(self) -> bool:
        return self.statement_id is not None or self.voided_statement_id is not None


def _boolean(name: str, value: str) -> bool:
    # xAPI-Communication 2.1.3 (note): booleans are the literals true and false.
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false, not {value!r}", name)
    return value == "true"


def _uuid(name: str, value: str) -> uuid.UUID:
    if not is_uuid(value):
        raise BadRequest(f"{name} must be a UUID, not {value!r}", name)
    return uuid.UUID(value)


def _time(name: str, value: str) -> datetime:
    # A "+hh:mm" offset sent without URL-encoding arrives with its "+" decoded as a space.
    return parse_timestamp(value.replace(" ", "+"), name)


def _iri(name: str, value: str) -> str:
    if not is_iri(value):
        raise BadRequest(f"{name} must be an IRI, not {value!r}", name)
    return value


def parse_statement_query(pairs: list[tuple[str, str]]) -> StatementQuery:
    check_parameter_names([name for name, _ in pairs], QUERY_PARAMETERS)
    params = dict(pairs)
    if "more" in params:
        if len(params) > 1:
            raise BadRequest("a more link carries the whole query; send it alone", "more")
        return decode_more(params["more"])
    if "statementId" in params and "voidedStatementId" in params:
        raise BadRequest("send statementId or voidedStatementId, not both", "voidedStatementId")
    if "statementId" in params or "voidedStatementId" in params:
        extra = sorted(set(params) - _SINGLE_PARAMETERS)
        if extra:
            raise BadRequest(
                f"with statementId or voidedStatementId only attachments and format may be "
                f"given (found {', '.join(extra)})",
                extra[0],
            )
    limit = params.get("limit", "0")
    if not limit.isdigit():
        raise BadRequest(f"limit must be a non-negative integer, not {limit!r}", "limit")
    format_ = params.get("format", "exact")
    if format_ not in ("exact", "ids", "canonical"):
        raise BadRequest(f"format must be exact, ids or canonical, not {format_!r}", "format")
    where = StatementFilter(
        agent=agent_ifi(parse_agent(params["agent"])) if "agent" in params else None,
        related_agents=_boolean("related_agents", params.get("related_agents", "false")),
        verb=_iri("verb", params["verb"]) if "verb" in params else None,
        activity=_iri("activity", params["activity"]) if "activity" in params else None,
        related_activities=_boolean(
            "related_activities", params.get("related_activities", "false")
        ),
        registration=_uuid("registration", params["registration"])
        if "registration" in params
        else None,
        since=_time("since", params["since"]) if "since" in params else None,
        until=_time("until", params["until"]) if "until" in params else None,
    )
    return StatementQuery(
        statement_id=_uuid("statementId", params["statementId"])
        if "statementId" in params
        else None,
        voided_statement_id=_uuid("voidedStatementId", params["voidedStatementId"])
        if "voidedStatementId" in params
        else None,
        where=where,
        ascending=_boolean("ascending", params.get("ascending", "false")),
        limit=int(limit),
        format=format_,  # type: ignore[arg-type]  # checked against the three names above
        attachments=_boolean("attachments", params.get("attachments", "false")),
    )


def encode_more(query: StatementQuery, after: Cursor) -> str:
    """A stateless token for the next page: the query, its fixed upper bound and the cursor."""
    where = asdict(query.where)
    del where["credential_id"]  # always taken from the caller's credential, never from a token
    if where["registration"] is not None:
        where["registration"] = str(where["registration"])
    for name in ("since", "until"):
        where[name] = where[name].isoformat() if where[name] is not None else None
    state: dict[str, Any] = {
        "w": where,
        "a": query.ascending,
        "l": query.limit,
        "f": query.format,
        "t": query.attachments,
        "c": [after.stored.isoformat(), after.seq],
    }
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_more(token: str) -> StatementQuery:
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        # The decoder skips what is not base64; only the exact token issued is accepted.
        if base64.urlsafe_b64encode(raw).decode() != token:
            raise ValueError(token)
        state = json.loads(raw)
        where = dict(state["w"])
        if where["registration"] is not None:
            where["registration"] = uuid.UUID(where["registration"])
        for name in ("since", "until"):
            if where[name] is not None:
                where[name] = datetime.fromisoformat(where[name])
        stored, seq = state["c"]
        query = StatementQuery(
            where=StatementFilter(**where),
            ascending=bool(state["a"]),
            limit=int(state["l"]),
            format=state["f"] if state["f"] in ("exact", "ids", "canonical") else "exact",
            attachments=bool(state["t"]),
            after=Cursor(datetime.fromisoformat(stored), int(seq)),
        )
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("the more token is not one this LRS issued", "more") from None
    return query
