"""The Signer's batched worker-thread calls (bundle checks)."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from sigstore_async.sign.signer import _ThreadBatcher

pytestmark = pytest.mark.anyio


async def test_every_call_runs_once_in_a_worker_thread() -> None:
    batcher = _ThreadBatcher(anyio.CapacityLimiter(4), workers=2)
    main = threading.get_ident()
    ran: list[int] = []
    results: dict[int, tuple[int, bool]] = {}

    def work(i: int) -> tuple[int, bool]:
        ran.append(i)
        time.sleep(0.001)
        return i * i, threading.get_ident() != main

    async def one(i: int) -> None:
        results[i] = await batcher.run(lambda: work(i))

    async with anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(one, i)
    assert sorted(ran) == list(range(200))
    assert results == {i: (i * i, True) for i in range(200)}
    assert batcher._busy == 0
    assert not batcher._queue


async def test_errors_go_to_their_own_caller() -> None:
    batcher = _ThreadBatcher(anyio.CapacityLimiter(2), workers=1)
    outcomes: dict[int, object] = {}

    def work(i: int) -> int:
        if i % 3 == 0:
            raise ValueError(i)
        return i

    async def one(i: int) -> None:
        try:
            outcomes[i] = await batcher.run(lambda: work(i))
        except ValueError as e:
            outcomes[i] = e

    async with anyio.create_task_group() as tg:
        for i in range(30):
            tg.start_soon(one, i)
    for i in range(30):
        if i % 3 == 0:
            assert isinstance(outcomes[i], ValueError)
        else:
            assert outcomes[i] == i


async def test_cancelled_callers_strand_nobody() -> None:
    # One thread token, held: every hop waits, so callers can be cancelled
    # while queued, while waiting for a thread, or while owning a hop.
    limiter = anyio.CapacityLimiter(1)
    batcher = _ThreadBatcher(limiter, workers=2)
    done: list[int] = []

    async def one(i: int, scope: anyio.CancelScope) -> None:
        with scope:
            done.append(await batcher.run(lambda: i))

    scopes = [anyio.CancelScope() for _ in range(40)]
    async with anyio.create_task_group() as tg:
        await limiter.acquire()
        for i, scope in enumerate(scopes):
            tg.start_soon(one, i, scope)
        await anyio.sleep(0.05)
        for scope in scopes[::2]:  # cancel every other caller, hop owners among them
            scope.cancel()
        await anyio.sleep(0.05)
        limiter.release()
    assert sorted(done) == [i for i in range(40) if i % 2]
    assert batcher._busy == 0
    assert not batcher._queue
