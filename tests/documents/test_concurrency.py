"""Documents written at the same time lose no update (xAPI-Communication 3.1)."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.documents.test_routes import STATE, etag_of, state_params

CONCURRENT = 12


async def test_concurrent_merges_keep_every_property(client: httpx.AsyncClient) -> None:
    """Communication 2.2.s7: each POST merges its properties into the stored document; POSTs
    arriving together each see the others' results, so none of them is lost."""
    params = state_params(stateId="merged-at-once")
    answers = await asyncio.gather(
        *(client.post(STATE, params=params, json={f"part{i}": i}) for i in range(CONCURRENT))
    )
    assert [answer.status_code for answer in answers] == [204] * CONCURRENT
    stored = (await client.get(STATE, params=params)).json()
    assert stored == {f"part{i}": i for i in range(CONCURRENT)}


async def test_concurrent_conditional_puts_let_one_through(client: httpx.AsyncClient) -> None:
    """Communication 3.1.s4: of PUTs that all carry the ETag the document had, one replaces it
    and the others, whose precondition no longer holds, get 412 and change nothing."""
    params = state_params(stateId="replaced-at-once")
    first = json.dumps({"version": 0}).encode()
    created = await client.put(
        STATE, params=params, content=first, headers={"Content-Type": "application/json"}
    )
    assert created.status_code == 204
    bodies = [json.dumps({"version": i}).encode() for i in range(1, CONCURRENT + 1)]
    answers = await asyncio.gather(
        *(
            client.put(
                STATE,
                params=params,
                content=body,
                headers={"Content-Type": "application/json", "If-Match": etag_of(first)},
            )
            for body in bodies
        )
    )
    statuses = [answer.status_code for answer in answers]
    assert sorted(statuses) == [204] + [412] * (CONCURRENT - 1)
    stored = await client.get(STATE, params=params)
    assert stored.content == bodies[statuses.index(204)]
