from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from lrs.errors import Forbidden


class Scope(StrEnum):
    """The OAuth scopes named by xAPI-Communication 4.2 (table 1), then this LRS's own."""

    STATEMENTS_WRITE = "statements/write"
    STATEMENTS_READ_MINE = "statements/read/mine"
    STATEMENTS_READ = "statements/read"
    STATE = "state"
    DEFINE = "define"
    PROFILE = "profile"
    ALL_READ = "all/read"
    ALL = "all"
    # Not xAPI's: `all` does not grant them.
    ADMIN = "admin"
    AUDIT_READ = "audit/read"
    REPORTS_READ = "reports/read"
    CMI5_LAUNCH = "cmi5/launch"
    # Marks the credential an AU session's fetch URL hands out (cmi5 8.2); cmi5's hooks
    # confine it to that session.
    CMI5_SESSION = "cmi5/session"


XAPI_SCOPES = frozenset(
    {
        Scope.STATEMENTS_WRITE,
        Scope.STATEMENTS_READ_MINE,
        Scope.STATEMENTS_READ,
        Scope.STATE,
        Scope.DEFINE,
        Scope.PROFILE,
        Scope.ALL_READ,
        Scope.ALL,
    }
)


class Role(StrEnum):
    CONTENT = "content"
    LMS = "lms"
    ANALYST = "analyst"
    ADMIN = "admin"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class RoleGrant:
    scopes: frozenset[Scope]
    rollup: bool


ROLE_GRANTS = {
    # What a content package or player needs.
    Role.CONTENT: RoleGrant(frozenset({Scope.STATEMENTS_WRITE, Scope.STATE}), rollup=False),
    Role.LMS: RoleGrant(
        frozenset(
            {
                Scope.STATEMENTS_WRITE,
                Scope.STATEMENTS_READ,
                Scope.STATE,
                Scope.PROFILE,
                Scope.DEFINE,
                Scope.CMI5_LAUNCH,
            }
        ),
        rollup=False,
    ),
    Role.ANALYST: RoleGrant(frozenset({Scope.STATEMENTS_READ, Scope.REPORTS_READ}), rollup=True),
    # Manages the tenants, credentials and directory of its subtree.
    Role.ADMIN: RoleGrant(frozenset({Scope.ADMIN}), rollup=True),
    Role.AUDITOR: RoleGrant(
        frozenset({Scope.ALL_READ, Scope.REPORTS_READ, Scope.AUDIT_READ}), rollup=True
    ),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a credential, its tenant and what it may do.

    Writes land in `tenant_id`; reads cover `read_tenant_ids` (the tenant itself, plus its
    subtree when the credential rolls up)."""

    tenant_id: int
    credential_id: int
    key: str
    scopes: frozenset[Scope]
    authority: dict[str, Any] = field(hash=False, compare=False)
    read_tenant_ids: tuple[int, ...] = ()
    expires_at: datetime | None = None
    rollup: bool = False

    def has_any(self, *scopes: Scope) -> bool:
        """`all` stands for every xAPI scope, none of this LRS's own."""
        if Scope.ALL in self.scopes and not XAPI_SCOPES.isdisjoint(scopes):
            return True
        return not self.scopes.isdisjoint(scopes)

    def require(self, *scopes: Scope) -> None:
        """403 unless the credential holds one of `scopes` (or `all`, for xAPI's)."""
        if not self.has_any(*scopes):
            also = (Scope.ALL,) if not XAPI_SCOPES.isdisjoint(scopes) else ()
            names = " or ".join(sorted({scope.value for scope in (*scopes, *also)}))
            raise Forbidden(f"this credential lacks the scope {names}", "scope")

    @property
    def readable(self) -> tuple[int, ...]:
        return self.read_tenant_ids or (self.tenant_id,)
