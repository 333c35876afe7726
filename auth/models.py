from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Scope(StrEnum):
    """OAuth scopes named by xAPI-Communication 4.2 (table 1)."""

    STATEMENTS_WRITE = "statements/write"
    STATEMENTS_READ_MINE = "statements/read/mine"
    STATEMENTS_READ = "statements/read"
    STATE = "state"
    DEFINE = "define"
    PROFILE = "profile"
    ALL_READ = "all/read"
    ALL = "all"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a credential, its tenant and what it may do."""

    tenant_id: int
    credential_id: int
    key: str
    scopes: frozenset[Scope]
    authority: dict[str, Any] = field(hash=False, compare=False)

    def has_any(self, *scopes: Scope) -> bool:
        return Scope.ALL in self.scopes or not self.scopes.isdisjoint(scopes)
