"""Learner models kept current from a durable queue of stored statements, rebuilt from the
stored statements on demand, and the mastery parameters fitted to a tenant's answers."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics import bkt, memory, store, totals
from analytics.evidence import FOLD_ORDER, Evidence, Markers, evidence_of
from analytics.learner import ActivityState, fold
from analytics.store import Cursor, Key, ModelFilter
from analytics.tables import analytics_queue
from auth import store as auth_store
from auth.models import Principal
from auth.models import Scope as AuthScope
from lrs.errors import Forbidden
from lrs.settings import Settings
from statements import service as statements
from statements.indexing import is_voiding
from statements.service import Statement, StatementHooks
from statements.validation import agent_ifi, parse_agent
from tenancy.store import cohort_agents

logger = logging.getLogger(__name__)

# A skill needs this many answers for parameters of its own; others share the tenant's.
MIN_FIT_ANSWERS = 200
# A round (one transaction) folds the oldest queue entries up to this many statements; an
# entry, one stored batch, is never split. A bound of entries instead made rounds of a few
# statements where they were posted one by one, each round paying its dozen queries.
ROUND_STATEMENTS = 2000
# On SQLite a round holds the database's one write lock, so it is kept short: about what one
# batch write holds it for. One entry a round had made single POSTs pay a round (a dozen
# queries) each.
SQLITE_ROUND_STATEMENTS = 100
# Errors of the database or of reaching it: folding is tried again (at the next poll, or
# the next view). Any other error folding a round is a fault of one of its entries.
_NOT_THE_ENTRIES = (SQLAlchemyError, OSError, TimeoutError)


@dataclass(frozen=True)
class Rebuilt:
    statements: int
    evidence: int
    models: int


class Analytics:
    """The statement write only queues its new statements (one row in its transaction);
    `drain` folds them into the models later, in transactions of its own that delete what
    they fold. So a model update never lengthens a write or holds its locks, a statement
    is folded exactly once, and one stored is never lost."""

    def __init__(
        self, pass_score: float, poll_seconds: float, markers: Markers, view_fold_seconds: float
    ) -> None:
        self.pass_score = pass_score
        self.poll_seconds = poll_seconds
        self.markers = markers
        self.view_fold_seconds = view_fold_seconds

    @classmethod
    def configured(cls, settings: Settings) -> Analytics:
        markers = Markers(
            pre_test=frozenset(settings.analytics_pre_test_markers),
            post_test=frozenset(settings.analytics_post_test_markers),
            survey=frozenset(settings.analytics_survey_markers),
            indicator=frozenset(settings.analytics_indicator_markers),
        )
        return cls(
            settings.analytics_pass_score,
            settings.analytics_poll_seconds,
            markers,
            settings.analytics_view_fold_seconds,
        )

    def install(self, statement_hooks: StatementHooks) -> None:
        statement_hooks.feeds.append(analytics_queue)
        statement_hooks.erasures.append(self.erased)
        statement_hooks.expirations.append(self.expired)

    async def erased(
        self,
        session: AsyncSession,
        tenant_ids: Sequence[int],
        learner: str,
        pseudonym: str | None,
    ) -> None:
        """An erased learner's models go with their statements, or, when those were kept
        under a pseudonym, follow it (what a rebuild would make of them either way). Their
        queued statements need nothing: they are read back as stored when folded."""
        for tenant_id in sorted(tenant_ids):
            await store.lock_tenant(session, tenant_id, wait=True)
        await store.erase_learner(session, tenant_ids, learner, pseudonym)
        if pseudonym is None:
            await store.recount_totals(session, tenant_ids)

    async def expired(self, session: AsyncSession, tenant_id: int, cutoff: datetime) -> None:
        """Retention deleted the tenant's statements stored before `cutoff`: their evidence
        goes, and the models it was part of are folded again from what is left (what a
        rebuild would make of them). Those still queued are skipped when read back."""
        await store.lock_tenant(session, tenant_id, wait=True)
        touched = await store.expire_evidence(session, tenant_id, cutoff)
        if touched:
            await self._update(session, tenant_id, [], touched)

    async def drain(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tenant_ids: Sequence[int] | None = None,
        *,
        wait: bool = False,
        seconds: float | None = None,
    ) -> int:
        """Folds the statements queued for `tenant_ids` (all when None) by the time of the
        call into their models, a round per transaction; returns how many were read.
        Without `wait` a tenant another writer holds is left to it; with it (a view, which
        answers for every statement stored before it was asked) this waits its turn.
        `seconds`: no round begins after that long (a view's budget).

        On SQLite a fold holds the database's one write lock, which statement writes wait
        for: there a round is short (SQLITE_ROUND_STATEMENTS), and without `wait` (the
        background) the drain then leaves the lock free for as long as it held it, so writes
        are not starved."""
        async with sessionmaker() as session:
            queued = await store.queued_tenants(session, tenant_ids)
            one_writer = session.get_bind().dialect.name == "sqlite"
        done = 0
        begun = time.monotonic()
        for tenant_id, newest in sorted(queued.items()):
            while True:
                if seconds is not None and time.monotonic() - begun >= seconds:
                    return done
                set_aside = False
                started = time.monotonic()
                try:
                    async with sessionmaker() as session:
                        if not await store.lock_tenant(session, tenant_id, wait=wait):
                            break
                        bound = SQLITE_ROUND_STATEMENTS if one_writer else ROUND_STATEMENTS
                        folded = await self._fold_queued(session, tenant_id, newest, bound)
                        await session.commit()
                except _NOT_THE_ENTRIES:
                    raise
                except Exception:
                    folded, set_aside = await self._fold_one_by_one(sessionmaker, tenant_id, newest)
                if not folded and not set_aside:
                    break
                done += folded
                if one_writer and not wait:
                    await asyncio.sleep(time.monotonic() - started)
        return done

    async def backlog(self, session: AsyncSession, tenant_ids: Sequence[int]) -> store.Backlog:
        """What of these tenants' queue the models do not hold: statements still queued,
        entries set aside (`_fold_one_by_one`)."""
        return await store.backlog(session, tenant_ids)

    async def _fold_one_by_one(
        self, sessionmaker: async_sessionmaker[AsyncSession], tenant_id: int, newest: int
    ) -> tuple[int, bool]:
        """After a round raised: its entries folded one per transaction until the one that
        raises, which is set aside (logged; a rebuild reads its statements again), so one
        bad entry neither stops the others nor the tenant's views. Returns the statements
        read and whether one was set aside."""
        read = 0
        for _ in range(ROUND_STATEMENTS):  # at least as many entries as the round held
            async with sessionmaker() as session:
                await store.lock_tenant(session, tenant_id, wait=True)
                entry = await store.oldest_queued(session, tenant_id)
                if entry is None or entry > newest:
                    return read, False
                try:
                    read += await self._fold_queued(session, tenant_id, entry, statements=1)
                    await session.commit()
                except _NOT_THE_ENTRIES:
                    raise
                except Exception as error:
                    logger.exception(
                        "tenant %s: queue entry %s set aside (lrs analytics rebuild reads it)",
                        tenant_id,
                        entry,
                    )
                    await session.rollback()
                    await store.lock_tenant(session, tenant_id, wait=True)
                    await store.set_aside(session, entry, repr(error), datetime.now(UTC))
                    await session.commit()
                    return read, True
        return read, False

    async def _fold_queued(
        self,
        session: AsyncSession,
        tenant_id: int,
        newest: int | None,
        statements: int,
    ) -> int:
        """One round: the tenant's oldest queue entries (up to `newest`, up to `statements`
        statements, at least one entry) folded in; the caller holds the tenant's lock.
        Returns how many statements were read."""
        statement_ids = await store.take_queued(session, tenant_id, newest, statements)
        if statement_ids:
            await self._fold_in(session, tenant_id, statement_ids)
        return len(statement_ids)

    async def keep_current(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Drains the queue for as long as the server runs. Every worker of every instance
        runs this; the tenant locks share the tenants out among them. A poll's drain folds
        what was queued when it began; what came meanwhile waits for the next poll, so that
        under a stream of statements the rounds grow instead of chasing a few each."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.drain(sessionmaker)
            except Exception:
                logger.exception("folding queued statements failed; retrying")

    def evidence(self, batch: Iterable[Statement]) -> list[Evidence]:
        return [
            item
            for statement in batch
            for item in evidence_of(statement, self.pass_score, self.markers)
        ]

    async def _fold_in(
        self, session: AsyncSession, tenant_id: int, statement_ids: Sequence[str]
    ) -> None:
        """The statements' evidence joins their learners' models; a voiding statement's
        target leaves them (xAPI-Data 2.3.2: a voided statement no longer counts). Read back
        now, a statement voided since it was queued counts as voided."""
        stored = await statements.stored_statements(session, tenant_id, statement_ids)
        live = {uuid.UUID(s["id"]): s for s, voided in stored if not voided and not is_voiding(s)}
        folded = await store.with_evidence(session, tenant_id, live.keys())
        items = self.evidence(s for i, s in live.items() if i not in folded)
        await store.insert_evidence(session, tenant_id, items)
        voided = {uuid.UUID(s["object"]["id"]) for s, _ in stored if is_voiding(s)}
        touched = await store.retract_evidence(session, tenant_id, voided) if voided else set()
        if items or touched:
            await self._update(session, tenant_id, items, touched)

    async def _update(
        self,
        session: AsyncSession,
        tenant_id: int,
        items: Sequence[Evidence],
        retracted: set[Key],
    ) -> None:
        new: dict[Key, list[Evidence]] = defaultdict(list)
        for item in sorted(items, key=FOLD_ORDER):
            new[item.learner, item.activity_id].append(item)
        keys = set(new) | retracted
        saved = await store.states_of(session, tenant_id, keys)
        parameters = await store.parameters(session, tenant_id)
        forgetting = (await store.forgetting(session, [tenant_id]))[tenant_id]
        states: list[ActivityState] = []
        refold: set[Key] = set(retracted)
        for key, arrived in new.items():
            state = saved.get(key)
            if key in refold or (state is not None and arrived[0].order <= state.order):
                refold.add(key)  # late evidence: the fold's order is time, not arrival
            else:
                states.append(fold(state, arrived, bkt.for_skill(parameters, key[1]), forgetting))
        if refold:
            for key, evidence in (await store.evidence_for(session, tenant_id, refold)).items():
                if evidence:
                    skill = bkt.for_skill(parameters, key[1])
                    states.append(fold(None, evidence, skill, forgetting))
        await store.save_states(session, tenant_id, states, saved.keys())
        emptied = keys - {(state.learner, state.activity_id) for state in states}
        if emptied:
            await store.delete_states(session, tenant_id, emptied)
        await store.add_to_totals(session, tenant_id, totals.changes(saved.values(), states))

    async def rebuild(self, session: AsyncSession, tenant_id: int) -> Rebuilt:
        """The tenant's models made again from its stored statements: the same state the
        statements built as they arrived. Statements still queued that it read are skipped
        when their turn comes."""
        await store.lock_tenant(session, tenant_id, wait=True)
        await store.delete_tenant_models(session, tenant_id)
        count = evidence = 0
        async for page in statements.live_statements(session, tenant_id):
            count += len(page)
            items = self.evidence(page)
            evidence += len(items)
            await store.insert_evidence(session, tenant_id, items)
        models = await self._refold_all(session, tenant_id, replacing=False)
        return Rebuilt(count, evidence, models)

    async def _refold_all(self, session: AsyncSession, tenant_id: int, *, replacing: bool) -> int:
        """Every model of the tenant folded again from its evidence; `replacing`: they
        have saved rows (False: deleted before)."""
        saved = None if replacing else ()
        parameters = await store.parameters(session, tenant_id)
        forgetting = (await store.forgetting(session, [tenant_id]))[tenant_id]
        models = 0
        pending: list[Evidence] = []  # one model's evidence; it may span pages
        folded: list[ActivityState] = []  # saved a page at a time

        def fold_pending() -> None:
            nonlocal models
            if pending:
                pending.sort(key=FOLD_ORDER)
                skill = pending[0].activity_id
                folded.append(fold(None, pending, bkt.for_skill(parameters, skill), forgetting))
                models += 1
                pending.clear()

        async for page in store.evidence_in_order(session, tenant_id):
            for item in page:
                if pending and (item.learner, item.activity_id) != (
                    pending[0].learner,
                    pending[0].activity_id,
                ):
                    fold_pending()
                pending.append(item)
            await store.save_states(session, tenant_id, folded, saved)
            folded.clear()
        fold_pending()
        await store.save_states(session, tenant_id, folded, saved)
        await store.recount_totals(session, [tenant_id])
        return models

    async def fit(self, session: AsyncSession, tenant_id: int) -> Fitted:
        """Mastery parameters by EM from the tenant's answers: for each skill with at least
        MIN_FIT_ANSWERS, and ("") for all skills together; the forgetting curve's FSRS
        parameters from its recall events on items, where they beat the defaults on held-out
        reviews (`memory.fit`); then every model is refolded with them. It learns from the
        answers folded in: the caller drains the tenant's queue first (`drain`, which sets
        aside a batch whose fold raises)."""
        await store.lock_tenant(session, tenant_id, wait=True)
        answers: dict[Key, list[Evidence]] = defaultdict(list)
        async for page in store.evidence_in_order(session, tenant_id):
            for item in page:
                if item.correct is not None and item.relation != "grouping":
                    answers[item.learner, item.activity_id].append(item)
        sequences: dict[str, list[list[bool]]] = defaultdict(list)
        reviews: list[memory.History] = []  # what the memory folds: recall of the object
        for (_, skill), items in answers.items():
            items.sort(key=FOLD_ORDER)
            sequences[skill].append([bool(item.correct) for item in items])
            recalled = [
                (item.at, bool(item.correct), item.scaled)
                for item in items
                if item.relation == "object"
            ]
            if recalled:
                reviews.append(recalled)
        everything = [sequence for skill in sequences.values() for sequence in skill]
        fits: dict[str, bkt.Fit] = {}
        if everything:
            fits[""] = bkt.fit(everything)
        for skill, skill_sequences in sequences.items():
            if sum(map(len, skill_sequences)) >= MIN_FIT_ANSWERS:
                fits[skill] = bkt.fit(skill_sequences, start=fits[""].parameters)
        forgetting = memory.fit(reviews)
        now = datetime.now(UTC)
        await store.replace_parameters(session, tenant_id, fits, now)
        if forgetting.decided:
            await store.replace_forgetting(session, tenant_id, forgetting, now)
        await self._refold_all(session, tenant_id, replacing=True)
        return Fitted(fits, forgetting)


@dataclass(frozen=True)
class Fitted:
    mastery: dict[str, bkt.Fit]  # by skill; "": the tenant's default
    forgetting: memory.Fit


@dataclass(frozen=True)
class ViewRequest:
    agent: str | None  # JSON of an Agent, as the xAPI resources take it
    activity: str | None
    tenant: str | None  # a subtree of the reader's tenants, by its top tenant's name
    org_unit: str | None
    job_role: str | None
    audience: str | None
    since: datetime | None
    until: datetime | None
    limit: int
    after: Cursor | None
    at: datetime
    retention: float
    days: int
    csv: bool


async def view_scope(
    session: AsyncSession, principal: Principal, wanted: ViewRequest
) -> tuple[ModelFilter, dict[int, str]]:
    """What a view may read and was asked to: the reader's tenants (or the subtree named),
    one learner, one Activity, a cohort of the learner directory; with tenant names."""
    principal.require(AuthScope.REPORTS_READ, AuthScope.STATEMENTS_READ, AuthScope.ALL_READ)
    readable = set(principal.readable)
    if wanted.tenant is not None:
        # An unknown name and another's tenant answer alike: names are not for probing.
        top = await auth_store.tenant_by_name(session, wanted.tenant)
        if top is None or top.id not in readable:
            raise Forbidden(f"tenant {wanted.tenant!r} is not one this credential reads", "tenant")
        readable &= {tenant.id for tenant in await auth_store.subtree(session, top.path)}
    tenant_ids = tuple(sorted(readable))
    learner = None
    if wanted.agent is not None:
        learner = agent_ifi(parse_agent(wanted.agent))
    cohort = None
    if wanted.org_unit or wanted.job_role or wanted.audience:
        cohort = cohort_agents(tenant_ids, wanted.org_unit, wanted.job_role, wanted.audience)
    scope = ModelFilter(tenant_ids, learner, wanted.activity, cohort, wanted.since, wanted.until)
    names = {t.id: t.name for t in await auth_store.tenants_by_ids(session, tenant_ids)}
    return scope, names
