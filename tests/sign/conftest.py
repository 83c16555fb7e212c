"""Fixtures for the signing tests: a LocalSigstore per test, a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sigstore_async._http import RetryPolicy
from sigstore_async.testing import LocalSigstore
from sigstore_async.trust import TrustMaterial
from tests.conftest import ManualClock

#: Retries that keep fault tests fast: same shape, shorter waits.
FAST_RETRY = RetryPolicy(attempts=6, base=0.005, max_delay=0.05, deadline=10.0)


FakeClock = ManualClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def stack(clock: FakeClock) -> AsyncIterator[LocalSigstore]:
    async with LocalSigstore(clock=clock, seed=1234) as s:
        yield s


@pytest.fixture
def trust(stack: LocalSigstore) -> TrustMaterial:
    return TrustMaterial.from_trusted_root(stack.trusted_root)
