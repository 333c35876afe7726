"""The LMS side of cmi5: course import, registrations, launch, the fetch URL, the session
rules on what AUs send, and the LMS's own statements (launched, satisfied, waived,
abandoned).

It plugs into statement and document storage through their hooks (`Cmi5.install`);
neither package imports this one. Services never commit: the route owns the transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession

from auth import service as auth_service
from auth.models import Principal, Scope
from cmi5 import rules, store
from cmi5.package import read_package, sample_package
from cmi5.rules import SessionView
from cmi5.store import (
    CourseRow,
    LearnerChoice,
    LearnerKey,
    Progress,
    RegistrationRow,
    SessionRow,
)
from cmi5.structure import AU, Block, Course
from documents import service as documents
from documents.service import (
    Action,
    DocumentAccess,
    DocumentHooks,
    DocumentKind,
    DocumentScope,
    Preconditions,
)
from lrs.errors import BadRequest, Forbidden, NotFound, Unauthorized
from lrs.middleware import utc_timestamp
from lrs.settings import Settings
from lrs.versions import XAPIVersion
from statements import service as statements
from statements.service import AfterStore, StatementHooks
from statements.validation import agent_ifi, validate_agent

SAMPLE_COURSE_ID = "https://lrs.example.org/courses/workplace-safety"
LAUNCH_DATA = "LMS.LaunchData"
LEARNER_PREFERENCES = "cmi5LearnerPreferences"
LAUNCH_MODES = ("Normal", "Browse", "Review")
WAIVE_REASONS = ("Tested Out", "Equivalent AU", "Equivalent Outside Activity", "Administrative")
_ACTIVITY_NAMESPACE = uuid.UUID("5b0f6c1e-6f0a-4d8e-9a57-3c1d2e0c5a11")
# The LMS's documents and statements follow the cmi5 profile over xAPI 1.0.3: LaunchData is
# rewritten before every launch, which 1.0.3 allows without If-Match.
_VERSION = XAPIVersion.V1


@dataclass(frozen=True)
class OutlineNode:
    """A node of a course as progress reports walk it: the course, a block or an AU."""

    id: str  # the publisher's
    kind: str  # "course", "block" or "au"
    activity_id: str  # the LMS's id, which the node's statements are about
    title: dict[str, str]  # a language map
    parent: str | None
    depth: int
    move_on: str | None  # an AU's rule
    aus: tuple[str, ...]  # the AUs at or under the node


@dataclass(frozen=True)
class Launch:
    url: str
    launch_method: str
    session_id: uuid.UUID
    activity_id: str


class Cmi5:
    def __init__(
        self,
        *,
        public_url: str,
        session_seconds: float,
        max_package_bytes: int,
        language_preference: str,
        statement_hooks: StatementHooks,
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.session_seconds = session_seconds
        self.max_package_bytes = max_package_bytes
        self.language_preference = language_preference
        self.statement_hooks = statement_hooks

    @classmethod
    def configured(cls, settings: Settings, statement_hooks: StatementHooks) -> Cmi5:
        return cls(
            public_url=settings.public_url,
            session_seconds=settings.cmi5_session_seconds,
            max_package_bytes=settings.cmi5_max_package_bytes,
            language_preference=settings.cmi5_language_preference,
            statement_hooks=statement_hooks,
        )

    def install(self, document_hooks: DocumentHooks) -> None:
        self.statement_hooks.checks.append(self.check_statements)
        self.statement_hooks.after_store.append(AfterStore(self.after_store, self.is_au_session))
        document_hooks.checks.append(self.check_document)

    # Identifiers

    def lms_id(self, course: CourseRow, kind: str, node_id: str) -> str:
        """cmi5 8.1.5, 9.4: the LMS's own id of an AU, block or course, never the publisher's;
        the same in every registration and version of the course."""
        name = json.dumps([course.tenant_id, course.course.id, kind, node_id])
        return f"{self.public_url}/cmi5/activities/{uuid.uuid5(_ACTIVITY_NAMESPACE, name)}"

    def _lms_authority(self) -> dict[str, Any]:
        return {
            "objectType": "Agent",
            "name": "cmi5 LMS",
            "account": {"homePage": self.public_url, "name": "cmi5"},
        }

    def tenant_principal(self, tenant_id: int) -> Principal:
        """The LMS acting for a tenant from inside the service (the command line, the demo)."""
        return Principal(
            tenant_id=tenant_id,
            credential_id=0,
            key="cmi5",
            scopes=frozenset({Scope.CMI5_LAUNCH}),
            authority=self._lms_authority(),
        )

    # Courses

    async def import_sample(self, session: AsyncSession, tenant_id: int) -> None:
        """The sample course, unless the tenant has it already."""
        if not await store.courses(session, tenant_id, SAMPLE_COURSE_ID):
            await self.import_course(
                session, self.tenant_principal(tenant_id), "application/zip", sample_package()
            )

    async def import_course(
        self, session: AsyncSession, principal: Principal, content_type: str | None, body: bytes
    ) -> CourseRow:
        principal.require(Scope.CMI5_LAUNCH)
        package = read_package(content_type, body, max_unpacked_bytes=self.max_package_bytes)
        return await store.insert_course(
            session,
            principal.tenant_id,
            package.course,
            datetime.now(UTC),
            {path: (f.content_type, f.data) for path, f in package.files.items()},
        )

    async def courses(
        self, session: AsyncSession, principal: Principal, course_id: str | None
    ) -> list[CourseRow]:
        principal.require(Scope.CMI5_LAUNCH)
        return await store.courses(session, principal.tenant_id, course_id)

    def describe_course(self, row: CourseRow) -> dict[str, Any]:
        def node(item: AU | Block) -> dict[str, Any]:
            kind = "au" if isinstance(item, AU) else "block"
            described: dict[str, Any] = {
                "type": kind,
                "id": item.id,
                "lmsId": self.lms_id(row, kind, item.id),
                "title": item.title,
            }
            if isinstance(item, AU):
                described |= {
                    "url": item.url,
                    "moveOn": item.move_on,
                    "launchMethod": item.launch_method,
                    "masteryScore": item.mastery_score,
                    "activityType": item.activity_type,
                }
            else:
                described["children"] = [node(child) for child in item.children]
            return described

        return {
            "id": row.course.id,
            "version": row.version,
            "lmsId": self.lms_id(row, "course", row.course.id),
            "title": row.course.title,
            "description": row.course.description,
            "imported": utc_timestamp(row.created_at),
            "children": [node(child) for child in row.course.children],
        }

    # Registrations

    def outline(self, row: CourseRow) -> list[OutlineNode]:
        """The course, then its blocks and AUs depth first, in the structure's order."""
        nodes: list[OutlineNode] = []

        def visit(item: Course | Block | AU, parent: str | None, depth: int) -> None:
            children: tuple[AU | Block, ...] = ()
            aus: tuple[str, ...] = (item.id,)
            kind = "au"
            if not isinstance(item, AU):
                kind = "course" if isinstance(item, Course) else "block"
                children, aus = item.children, tuple(au.id for au in item.aus())
            nodes.append(
                OutlineNode(
                    id=item.id,
                    kind=kind,
                    activity_id=self.lms_id(row, kind, item.id),
                    title=_language_map(item.title),
                    parent=parent,
                    depth=depth,
                    move_on=item.move_on if isinstance(item, AU) else None,
                    aus=aus,
                )
            )
            for child in children:
                visit(child, item.id, depth + 1)

        visit(row.course, None, 0)
        return nodes

    async def course_progress(
        self,
        session: AsyncSession,
        tenant_ids: Sequence[int],
        course_id: str,
        chosen: LearnerChoice,
    ) -> tuple[dict[int, list[OutlineNode]], dict[LearnerKey, dict[str, Progress]]]:
        """For reports: per tenant that imported the course, the outline of its newest
        version; and the learners registered in it that `chosen` names, with what they
        have met."""
        outlines = {}
        for tenant_id in tenant_ids:
            versions = await store.courses(session, tenant_id, course_id)
            if versions:
                outlines[tenant_id] = self.outline(versions[0])
        learners = await store.learners_progress(session, list(outlines), course_id, chosen)
        return outlines, learners

    async def create_registration(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        course_id: str,
        actor: Any,
        version: int | None = None,
    ) -> RegistrationRow:
        """cmi5 3.0, 9.6.1: a new registration of the learner on the course's newest (or a
        named) version; NotApplicable AUs are satisfied at once, and with them any block or
        the course they complete."""
        principal.require(Scope.CMI5_LAUNCH)
        versions = await store.courses(session, principal.tenant_id, course_id)
        course = next((c for c in versions if version is None or c.version == version), None)
        if course is None:
            raise NotFound(f"no course {course_id!r} (version {version or 'any'})", "course")
        learner = _learner(actor)
        registration = await store.insert_registration(
            session, uuid.uuid4(), course, learner, agent_ifi(learner) or "", datetime.now(UTC)
        )
        await self._satisfy(session, principal, registration, {}, uuid.uuid4())
        return registration

    async def registration(
        self, session: AsyncSession, principal: Principal, registration_id: uuid.UUID
    ) -> RegistrationRow:
        principal.require(Scope.CMI5_LAUNCH)
        found = await store.registration(session, principal.tenant_id, registration_id)
        if found is None:
            raise NotFound(f"no registration {registration_id}", "registration")
        return found

    async def _registered_au(
        self, session: AsyncSession, principal: Principal, registration_id: uuid.UUID, au_id: str
    ) -> tuple[RegistrationRow, AU]:
        registration = await self.registration(session, principal, registration_id)
        au = registration.course.course.au(au_id)
        if au is None:
            raise NotFound(f"the course has no AU {au_id!r}", "au")
        return registration, au

    async def registrations(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        actor: Any | None,
        course_id: str | None,
    ) -> list[RegistrationRow]:
        principal.require(Scope.CMI5_LAUNCH)
        return await store.registrations(
            session,
            principal.tenant_id,
            actor_ifi=agent_ifi(_learner(actor)) if actor is not None else None,
            course_id=course_id,
        )

    async def status(self, session: AsyncSession, registration: RegistrationRow) -> dict[str, Any]:
        """The registration's tree: course → blocks → AUs, each with what it has met."""
        progress = await store.progress(session, registration.id)
        course = registration.course

        def flags(node_id: str) -> dict[str, Any]:
            met = progress.get(node_id, Progress())
            return {"satisfied": met.satisfied}

        def node(item: AU | Block) -> dict[str, Any]:
            if isinstance(item, AU):
                met = progress.get(item.id, Progress())
                return {
                    "type": "au",
                    "id": item.id,
                    "activityId": self.lms_id(course, "au", item.id),
                    "title": item.title,
                    "moveOn": item.move_on,
                    "completed": met.completed,
                    "passed": met.passed,
                    "waived": met.waived,
                    "waiveReason": met.waive_reason,
                    "satisfied": met.satisfied,
                }
            return {
                "type": "block",
                "id": item.id,
                "title": item.title,
                **flags(item.id),
                "children": [node(child) for child in item.children],
            }

        return {
            "id": str(registration.id),
            "actor": registration.actor,
            "created": utc_timestamp(registration.created_at),
            "course": {
                "id": course.course.id,
                "version": course.version,
                "title": course.course.title,
                **flags(course.course.id),
                "children": [node(child) for child in course.course.children],
            },
        }

    # Launch

    async def launch(
        self,
        session: AsyncSession,
        principal: Principal,
        registration_id: uuid.UUID,
        *,
        au_id: str,
        launch_mode: str = "Normal",
        return_url: str | None = None,
    ) -> Launch:
        """cmi5 8.1, 9.3.1, 10: abandons the registration's open sessions, writes
        LMS.LaunchData and (when missing) cmi5LearnerPreferences, records `launched`, and
        answers the launch URL with its one-time fetch URL."""
        registration, au = await self._registered_au(session, principal, registration_id, au_id)
        course = registration.course
        if launch_mode not in LAUNCH_MODES:
            raise BadRequest(f"launchMode is one of {', '.join(LAUNCH_MODES)}", "launchMode")
        for stale in await store.open_sessions(session, registration.id):
            await self._abandon(session, principal, registration, stale)
        now = datetime.now(UTC)
        session_id = uuid.uuid4()
        activity_id = self.lms_id(course, "au", au.id)
        context_template = {
            "contextActivities": {"grouping": [{"id": au.id}]},
            "extensions": {rules.SESSION_ID: str(session_id)},
        }
        launch_data: dict[str, Any] = {
            "contextTemplate": context_template,
            "launchMode": launch_mode,
            "moveOn": au.move_on,
        }
        if au.mastery_score is not None:
            launch_data["masteryScore"] = au.mastery_score
        if au.launch_parameters is not None:
            launch_data["launchParameters"] = au.launch_parameters
        if au.entitlement_key is not None:
            launch_data["entitlementKey"] = {"courseStructure": au.entitlement_key}
        if return_url is not None:
            launch_data["returnURL"] = return_url
        actor_key = agent_ifi(registration.actor)
        await documents.write_document(
            session,
            principal,
            _VERSION,
            DocumentScope(DocumentKind.STATE, activity_id, actor_key, registration.id),
            LAUNCH_DATA,
            merge=False,
            content_type="application/json",
            content=json.dumps(launch_data).encode(),
            preconditions=Preconditions(),
        )
        await self._ensure_preferences(session, principal, actor_key)

        au_url = (
            au.url
            if urlsplit(au.url).scheme
            else (f"{self.public_url}/cmi5/content/{course.content_key}/{au.url}")
        )
        fetch_secret = secrets.token_urlsafe(24)
        row = SessionRow(
            id=session_id,
            registration_id=registration.id,
            au_id=au.id,
            launch_mode=launch_mode,
            move_on=au.move_on,
            mastery_score=au.mastery_score,
            context_template=context_template,
            fetch_hash=_digest(fetch_secret),
            credential_id=None,
            launched_at=now,
            last_statement_at=None,
            expires_at=now + timedelta(seconds=self.session_seconds),
            preferences_read=False,
            state="launched",
            verbs=[],
            launch_url=au_url,
        )
        await store.insert_session(session, row)
        extensions: dict[str, Any] = {
            rules.LAUNCH_MODE: launch_mode,
            rules.LAUNCH_URL: au_url,
            rules.MOVE_ON: au.move_on,
        }
        if au.mastery_score is not None:
            extensions[rules.MASTERY_SCORE] = au.mastery_score
        if au.launch_parameters is not None:
            extensions[rules.LAUNCH_PARAMETERS] = au.launch_parameters
        await self._record(
            session,
            principal,
            [
                self._statement(
                    registration,
                    "launched",
                    {"id": activity_id, "definition": _definition(au)},
                    session_id,
                    grouping=au.id,
                    extensions=extensions,
                    timestamp=now,
                )
            ],
        )
        parameters = {
            "endpoint": f"{self.public_url}/xapi",
            "fetch": f"{self.public_url}/cmi5/fetch/{session_id}/{fetch_secret}",
            "actor": json.dumps(registration.actor, separators=(",", ":")),
            "registration": str(registration.id),
            "activityId": activity_id,
        }
        parts = urlsplit(au_url)
        query = "&".join(part for part in (parts.query, urlencode(parameters)) if part)
        return Launch(
            urlunsplit(parts._replace(query=query)), au.launch_method, session_id, activity_id
        )

    async def _ensure_preferences(
        self, session: AsyncSession, principal: Principal, actor_key: str | None
    ) -> None:
        """cmi5 11: the learner's preferences, written with the LMS's defaults when the
        learner has none yet."""
        scope = DocumentScope(DocumentKind.AGENT_PROFILE, agent=actor_key)
        try:
            await documents.get_document(session, principal, scope, LEARNER_PREFERENCES)
        except NotFound:
            preferences = {"languagePreference": self.language_preference, "audioPreference": "on"}
            await documents.write_document(
                session,
                principal,
                _VERSION,
                scope,
                LEARNER_PREFERENCES,
                merge=False,
                content_type="application/json",
                content=json.dumps(preferences).encode(),
                preconditions=Preconditions(if_none_match=("*",)),
            )

    async def fetch(
        self, session: AsyncSession, session_id: uuid.UUID, secret: str
    ) -> dict[str, str]:
        """cmi5 8.2: the session's auth token, once; then error 1 (used or expired), and error
        2 for a URL that names no session."""
        row = await store.session_by_id(session, session_id, for_update=True)
        if row is None or not hmac.compare_digest(row.fetch_hash, _digest(secret)):
            return _fetch_error("2", "this fetch URL names no session")
        if row.credential_id is not None:
            return _fetch_error("1", "the auth token of this session has been handed out")
        if row.state in ("terminated", "abandoned") or row.expires_at <= datetime.now(UTC):
            return _fetch_error("1", "the session has ended")
        registration = await store.registration_by_id(session, row.registration_id)
        assert registration is not None
        made = await auth_service.create_credential(
            session,
            tenant=await auth_service.tenant_by_id(session, registration.tenant_id),
            key=f"cmi5-{row.id}",
            scopes=[
                Scope.STATEMENTS_WRITE,
                Scope.STATEMENTS_READ_MINE,
                Scope.STATE,
                Scope.PROFILE,
                Scope.CMI5_SESSION,
            ],
            name=f"cmi5 session {row.id}",
            expires_at=row.expires_at,
        )
        await store.update_session(session, row.id, {"credential_id": made.row.id})
        token = base64.b64encode(f"{made.row.key}:{made.secret}".encode()).decode()
        return {"auth-token": token}

    # Waive and abandon

    async def waive(
        self,
        session: AsyncSession,
        principal: Principal,
        registration_id: uuid.UUID,
        *,
        au_id: str,
        reason: str,
    ) -> None:
        """cmi5 9.3.7: the AU's requirements met another way; its own session id, which the
        satisfied statements it causes share."""
        registration, au = await self._registered_au(session, principal, registration_id, au_id)
        course = registration.course
        if reason not in WAIVE_REASONS:
            raise BadRequest(
                f"reason is one of {', '.join(WAIVE_REASONS)} (cmi5 9.5.5.2)", "reason"
            )
        progress = await store.progress(session, registration.id)
        met = progress.get(au.id, Progress())
        if met.waived:
            raise BadRequest("the AU is already waived in this registration (cmi5 9.3)", "au")
        session_id = uuid.uuid4()
        await self._record(
            session,
            principal,
            [
                self._statement(
                    registration,
                    "waived",
                    {"id": self.lms_id(course, "au", au.id)},
                    session_id,
                    grouping=au.id,
                    result={
                        "success": True,
                        "completion": True,
                        "extensions": {rules.REASON: reason},
                    },
                    moveon=True,
                )
            ],
        )
        changed = {au.id: replace(met, waived=True, waive_reason=reason)}
        await self._satisfy(session, principal, registration, changed, session_id)

    async def abandon(
        self, session: AsyncSession, principal: Principal, session_id: uuid.UUID
    ) -> None:
        principal.require(Scope.CMI5_LAUNCH)
        row = await store.session_by_id(session, session_id, for_update=True)
        registration = None
        if row is not None:
            registration = await store.registration(
                session, principal.tenant_id, row.registration_id
            )
        if row is None or registration is None:
            raise NotFound(f"no session {session_id}", "session")
        if row.state in ("terminated", "abandoned"):
            raise BadRequest(f"the session has been {row.state} already", "session")
        await self._abandon(session, principal, registration, row)

    async def abandon_expired(self, session: AsyncSession) -> int:
        """cmi5 9.3.6: records `abandoned` for every session still open past its end (the
        server's timer runs it); returns how many."""
        expired = await store.expired_sessions(session, datetime.now(UTC))
        for row in expired:
            registration = await store.registration_by_id(session, row.registration_id)
            assert registration is not None
            principal = self.tenant_principal(registration.tenant_id)
            await self._abandon(session, principal, registration, row)
        return len(expired)

    async def _abandon(
        self,
        session: AsyncSession,
        principal: Principal,
        registration: RegistrationRow,
        row: SessionRow,
    ) -> None:
        """cmi5 9.3.6, 9.5.4.2: one `abandoned`, lasting from launch to the AU's last statement."""
        course = registration.course
        seconds = ((row.last_statement_at or row.launched_at) - row.launched_at).total_seconds()
        await store.update_session(session, row.id, {"state": "abandoned"})
        if row.credential_id is not None:
            await auth_service.revoke_credential_id(session, row.credential_id)
        await self._record(
            session,
            principal,
            [
                self._statement(
                    registration,
                    "abandoned",
                    {"id": self.lms_id(course, "au", row.au_id)},
                    row.id,
                    grouping=row.au_id,
                    result={"duration": f"PT{seconds:.2f}S"},
                )
            ],
        )

    # Satisfaction

    async def _satisfy(
        self,
        session: AsyncSession,
        principal: Principal,
        registration: RegistrationRow,
        changed: dict[str, Progress],
        session_id: uuid.UUID,
    ) -> None:
        """Saves `changed` progress, then marks satisfied every AU, block and the course that
        now meets its rule, recording `satisfied` for each block and the course newly met
        (innermost first, the course last; cmi5 9.3.9)."""
        progress = {**await store.progress(session, registration.id), **changed}
        course = registration.course.course
        newly: list[Block | Course] = []
        for au in course.aus():
            met = progress.get(au.id, Progress())
            if not met.satisfied and (met.waived or _moves_on(au.move_on, met)):
                progress[au.id] = changed[au.id] = replace(met, satisfied=True)
        nodes: list[Block | Course] = [*course.blocks(), course]
        for node in nodes:
            met = progress.get(node.id, Progress())
            if not met.satisfied and all(
                progress.get(child.id, Progress()).satisfied for child in node.children
            ):
                progress[node.id] = changed[node.id] = replace(met, satisfied=True)
                newly.append(node)
        await store.save_progress(session, registration.id, changed)
        await self._record(
            session,
            principal,
            [
                self._statement(
                    registration,
                    "satisfied",
                    {
                        "id": self.lms_id(
                            registration.course,
                            "course" if node is course else "block",
                            node.id,
                        ),
                        "definition": {
                            "type": rules.COURSE_TYPE if node is course else rules.BLOCK_TYPE,
                            "name": _language_map(node.title),
                        },
                    },
                    session_id,
                    grouping=node.id,
                )
                for node in newly
            ],
        )

    # Statements

    def _statement(
        self,
        registration: RegistrationRow,
        verb: str,
        target: dict[str, Any],
        session_id: uuid.UUID,
        *,
        grouping: str,
        extensions: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        moveon: bool = False,
        timestamp: datetime | None = None,
    ) -> dict[str, Any]:
        """An LMS statement (cmi5 9.2-9.7): the learner, the cmi5 category, the publisher id
        in grouping and the session id."""
        categories = [{"id": rules.CATEGORY}]
        if moveon:
            categories.append({"id": rules.MOVEON_CATEGORY})
        statement: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "timestamp": utc_timestamp(timestamp or datetime.now(UTC)),
            "actor": registration.actor,
            "verb": {"id": rules.VERBS[verb], "display": {"en-US": verb}},
            "object": {"objectType": "Activity", **target},
            "context": {
                "registration": str(registration.id),
                "contextActivities": {"category": categories, "grouping": [{"id": grouping}]},
                "extensions": {**(extensions or {}), rules.SESSION_ID: str(session_id)},
            },
        }
        if result is not None:
            statement["result"] = result
        return statement

    async def _record(
        self, session: AsyncSession, principal: Principal, batch: Sequence[dict[str, Any]]
    ) -> None:
        if batch:
            lms = replace(principal, authority=self._lms_authority())
            await statements.record_statements(session, lms, _VERSION, self.statement_hooks, batch)

    # Hooks: what a session credential may do

    async def _session_of(
        self, session: AsyncSession, principal: Principal
    ) -> tuple[SessionRow, RegistrationRow]:
        row = await store.session_by_credential(session, principal.credential_id, for_update=True)
        if row is None:
            raise Forbidden("this credential belongs to no cmi5 session", "Authorization")
        if row.state in ("terminated", "abandoned"):
            raise Unauthorized(f"the cmi5 session has been {row.state}", "Authorization")
        registration = await store.registration_by_id(session, row.registration_id)
        assert registration is not None
        return row, registration

    async def _view(
        self, session: AsyncSession, row: SessionRow, registration: RegistrationRow
    ) -> SessionView:
        progress = (await store.progress(session, registration.id)).get(row.au_id, Progress())
        course = registration.course
        return SessionView(
            session_id=str(row.id),
            registration=str(registration.id),
            actor_ifi=agent_ifi(registration.actor) or "",
            activity_id=self.lms_id(course, "au", row.au_id),
            launch_mode=row.launch_mode,
            mastery_score=row.mastery_score,
            context_template=row.context_template,
            state=row.state,
            verbs=list(row.verbs),
            preferences_read=row.preferences_read,
            completed=progress.completed,
            passed=progress.passed,
        )

    async def check_statements(
        self, session: AsyncSession, principal: Principal, batch: Sequence[dict[str, Any]]
    ) -> None:
        if Scope.CMI5_SESSION not in principal.scopes:
            return  # cmi5's rules bind AU sessions only; other clients get plain xAPI
        row, registration = await self._session_of(session, principal)
        view = await self._view(session, row, registration)
        resent = await statements.stored_ids(session, principal, batch)
        path = "statements" if len(batch) > 1 else "statement"
        for index, statement in enumerate(batch):
            if statement.get("id") not in resent:  # an AU retrying a request it sent before
                where = f"{path}[{index}]" if len(batch) > 1 else path
                rules.check_statement(view, statement, where)

    @staticmethod
    def is_au_session(principal: Principal) -> bool:
        return Scope.CMI5_SESSION in principal.scopes

    async def after_store(
        self, session: AsyncSession, principal: Principal, batch: Sequence[dict[str, Any]]
    ) -> None:
        """Applies an AU's accepted statements to its session and registration; a completed
        or passed may satisfy the AU, its blocks and the course."""
        if not self.is_au_session(principal) or not batch:
            return
        if principal.authority == self._lms_authority():
            return  # the LMS's own statements, written while handling the AU's
        row, registration = await self._session_of(session, principal)
        view = await self._view(session, row, registration)
        for statement in batch:
            rules.check_statement(view, statement, "statement")
        await store.update_session(
            session,
            row.id,
            {"state": view.state, "verbs": view.verbs, "last_statement_at": datetime.now(UTC)},
        )
        if {"completed", "passed"} & set(view.accepted):
            met = (await store.progress(session, registration.id)).get(row.au_id, Progress())
            changed = {row.au_id: replace(met, completed=view.completed, passed=view.passed)}
            await self._satisfy(session, principal, registration, changed, row.id)
        if view.state == "terminated" and row.credential_id is not None:
            await auth_service.revoke_credential_id(session, row.credential_id)

    async def check_document(
        self, session: AsyncSession, principal: Principal, access: DocumentAccess
    ) -> None:
        """An AU reads its LMS.LaunchData, cannot change it, keeps to its own learner and
        registration, and reads (not writes) cmi5LearnerPreferences (cmi5 10, 11)."""
        if Scope.CMI5_SESSION not in principal.scopes:
            return
        row, registration = await self._session_of(session, principal)
        scope = access.scope
        if scope.kind is DocumentKind.ACTIVITY_PROFILE:
            return
        if scope.agent != agent_ifi(registration.actor):
            raise Forbidden("an AU session may only use its learner's documents", "agent")
        if scope.kind is DocumentKind.STATE:
            if scope.registration != registration.id:
                raise Forbidden(
                    "an AU session may only use the state of its registration", "registration"
                )
            if access.document_id == LAUNCH_DATA and access.action is not Action.READ:
                raise Forbidden(
                    "LMS.LaunchData is the LMS's; an AU only reads it (cmi5 10)", "stateId"
                )
            return
        if access.document_id == LEARNER_PREFERENCES:
            if access.action is not Action.READ:
                raise Forbidden(
                    "cmi5LearnerPreferences is kept by the LMS; an AU only reads it (cmi5 11)",
                    "profileId",
                )
            if not row.preferences_read:
                await store.update_session(session, row.id, {"preferences_read": True})
                session.info["commit_read"] = True


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _fetch_error(code: str, text: str) -> dict[str, str]:
    return {"error-code": code, "error-text": text}


def _moves_on(rule: str, met: Progress) -> bool:
    """cmi5 13.1.4 moveOn."""
    return {
        "NotApplicable": True,
        "Passed": met.passed,
        "Completed": met.completed,
        "CompletedAndPassed": met.completed and met.passed,
        "CompletedOrPassed": met.completed or met.passed,
    }[rule]


def _learner(actor: Any) -> dict[str, Any]:
    """cmi5 9.2: the learner is an Agent identified by an account."""
    validate_agent(actor, "actor")
    if actor.get("objectType", "Agent") != "Agent" or "account" not in actor:
        raise BadRequest("a cmi5 learner is an Agent identified by an account (cmi5 9.2)", "actor")
    return {"objectType": "Agent", **actor}


def _language_map(text: dict[str, str]) -> dict[str, str]:
    """A structure's langstrings as an xAPI language map; one without lang is "und"."""
    return {lang or "und": value for lang, value in text.items() if value}


def _definition(au: AU) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "name": _language_map(au.title),
        "description": _language_map(au.description),
    }
    if au.activity_type:
        definition["type"] = au.activity_type
    return {key: value for key, value in definition.items() if value}
