"""``Sigstore``: trust through TUF, refreshed once for many callers, fresh enough,
offline, explicit; and faults that must leave the previous trust in place."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx
import pytest

from sigstore_async._http import RetryPolicy
from sigstore_async.client import Sigstore, TrustConfig
from sigstore_async.errors import (
    BadMetadataSignature,
    MetadataExpired,
    RepositoryUnavailable,
    RollbackAttack,
    TargetNotFound,
    TrustError,
    TufError,
)
from sigstore_async.models.trust_root import ClientTrustConfig
from sigstore_async.testing import LocalSigstore, LocalTufRepository, ServiceFaults
from sigstore_async.trust import embedded_signing_config, embedded_trusted_root
from sigstore_async.tuf import UpdaterConfig, save_initial_root
from sigstore_async.verify import Verifier
from tests.conftest import ManualClock

from .conftest import FAST, URL, Served, snapshot_dir, stall

pytestmark = pytest.mark.anyio

TRUSTED_ROOT = embedded_trusted_root("production")
SIGNING_CONFIG = embedded_signing_config("production")
TARGETS = {
    "trusted_root.json": TRUSTED_ROOT.to_json(indent=2).encode(),
    "signing_config.v0.2.json": SIGNING_CONFIG.to_json(indent=2).encode(),
}


Clock = ManualClock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def served(clock: Clock) -> Served:
    return Served(LocalTufRepository(TARGETS, clock=clock, root_versions=3))


def sigstore(served: Served, tmp_path: Path, clock: Clock, **options: object) -> Sigstore:
    settings: dict[str, object] = {"tuf_config": FAST, **options}
    return Sigstore.from_tuf(
        URL,
        root=served.repo.root_json(),
        transport=served.transport,
        cache_dir=tmp_path,
        clock=clock,
        **settings,  # type: ignore[arg-type]
    )


def no_network() -> httpx.MockTransport:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request {request.url}")

    return httpx.MockTransport(refuse)


async def test_trust_through_tuf(served: Served, tmp_path: Path, clock: Clock) -> None:
    async with sigstore(served, tmp_path, clock) as s:
        config = await s.trust()
        assert config.source == "tuf"
        assert config.trusted_root == TRUSTED_ROOT
        assert config.signing_config == SIGNING_CONFIG
        assert config.tuf is not None
        assert config.tuf.root_version == 3
        assert config.tuf.from_network
        assert config.tuf.refreshed_at == clock.now
        assert config.material.trusted_root == TRUSTED_ROOT
        verifier = await s.verifier()
        assert isinstance(verifier, Verifier)
        assert await s.verifier() is verifier
        assert await s.verifier(concurrency=2) is not verifier
        assert config.to_client_trust_config().trusted_root == TRUSTED_ROOT


async def test_a_hundred_callers_one_round_of_fetches(
    served: Served, tmp_path: Path, clock: Clock
) -> None:
    results: list[TrustConfig] = []
    async with sigstore(served, tmp_path, clock) as s:

        async def call() -> None:
            results.append(await s.trust())

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(call)
    assert len(results) == 100
    assert all(r is results[0] for r in results)
    counts = served.counts()
    assert sorted(counts.values()) == [1] * len(counts)
    assert served.kinds() == [
        "root",
        "root",
        "root",
        "timestamp",
        "snapshot",
        "targets",
        "target",
        "target",
    ]


async def test_two_clients_of_one_process_share_the_cache(
    served: Served, tmp_path: Path, clock: Clock
) -> None:
    """Two ``Sigstore`` objects over one cache: the lock orders them, and the second
    finds the first one's fresh files."""
    results: list[TrustConfig] = []

    async def one() -> None:
        async with sigstore(served, tmp_path, clock) as s:
            results.append(await s.trust())

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)
    assert sorted(r.tuf.from_network for r in results if r.tuf) == [False, True]
    assert served.kinds().count("timestamp") == 1


async def test_refresh_only_when_stale(served: Served, tmp_path: Path, clock: Clock) -> None:
    async with sigstore(served, tmp_path, clock, max_age=timedelta(hours=1)) as s:
        first = await s.trust()
        served.clear()
        assert await s.trust() is first  # fresh in memory
        clock.advance(timedelta(minutes=30))
        assert await s.trust() is first
        assert served.requests == []
    # Another client (another process, later) finds the cache fresh: no request.
    async with sigstore(served, tmp_path, clock, max_age=timedelta(hours=1)) as s:
        config = await s.trust()
        assert served.requests == []
        assert config.tuf is not None
        assert not config.tuf.from_network
        assert config.tuf.refreshed_at == first.tuf.refreshed_at  # type: ignore[union-attr]
        # Older than max_age: refresh; an unchanged repository costs the timestamp.
        clock.advance(timedelta(minutes=31))
        refreshed = await s.trust()
        assert served.kinds() == ["root", "timestamp"]
        assert refreshed.tuf is not None
        assert refreshed.tuf.from_network
        served.clear()
        forced = await s.refresh()
        assert served.kinds() == ["root", "timestamp"]
        assert forced is not refreshed


async def test_expiry_forces_a_refresh(served: Served, tmp_path: Path, clock: Clock) -> None:
    async with sigstore(served, tmp_path, clock, max_age=timedelta(days=30)) as s:
        await s.trust()
        clock.advance(timedelta(days=2))  # the timestamp (one day) has expired
        served.repo.bump_version("timestamp")  # the repository has published a new one
        served.clear()
        config = await s.trust()
        assert served.kinds() == ["root", "timestamp"]
        assert config.tuf is not None
        assert config.tuf.timestamp_version == 2


async def test_a_stale_repository_is_a_freeze(served: Served, tmp_path: Path, clock: Clock) -> None:
    async with sigstore(served, tmp_path, clock) as s:
        before = await s.trust()
        clock.advance(timedelta(days=2))  # the repository publishes nothing new
        with pytest.raises(MetadataExpired) as info:
            await s.trust()
        assert info.value.role == "timestamp"
        assert info.value.repository == URL
        assert before.tuf is not None


async def test_attack_keeps_the_previous_trust(
    served: Served, tmp_path: Path, clock: Clock
) -> None:
    repo = served.repo
    repo.bump_version("snapshot")
    async with sigstore(served, tmp_path, clock) as s:
        before = await s.trust()
        files = snapshot_dir(tmp_path)
        repo.rollback("snapshot", 1)
        with pytest.raises(RollbackAttack):
            await s.refresh()
        assert snapshot_dir(tmp_path) == files
        # Still fresh in memory: callers keep working with the trust they had.
        assert await s.trust() is before
        # Once stale, every caller sees the attack, and concurrent callers share one attempt.
        clock.advance(timedelta(hours=2))
        served.clear()
        errors: list[BaseException] = []

        async def call() -> None:
            try:
                await s.trust()
            except TufError as e:
                errors.append(e)

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call)
        assert len(errors) == 20
        assert all(isinstance(e, RollbackAttack) for e in errors)
        assert served.kinds().count("timestamp") == 1
        assert snapshot_dir(tmp_path) == files


async def test_bad_signature_is_typed(served: Served, tmp_path: Path, clock: Clock) -> None:
    served.repo.resign("targets", untrusted=True)
    async with sigstore(served, tmp_path, clock) as s:
        with pytest.raises(BadMetadataSignature) as info:
            await s.trust()
    assert info.value.reason == "signature"
    assert info.value.role == "targets"


async def test_missing_trusted_root_target(tmp_path: Path, clock: Clock) -> None:
    served = Served(LocalTufRepository({"other": b"x"}, clock=clock))
    async with sigstore(served, tmp_path, clock) as s:
        with pytest.raises(TargetNotFound):
            await s.trust()


async def test_without_signing_config(tmp_path: Path, clock: Clock) -> None:
    targets = {"trusted_root.json": TARGETS["trusted_root.json"]}
    served = Served(LocalTufRepository(targets, clock=clock))
    async with sigstore(served, tmp_path, clock) as s:
        config = await s.trust()
    assert config.signing_config is None
    with pytest.raises(TrustError):
        config.to_client_trust_config()


# -- faults ------------------------------------------------------------------------------


async def test_repository_disappears_mid_refresh(
    served: Served, tmp_path: Path, clock: Clock
) -> None:
    async with sigstore(served, tmp_path, clock) as s:
        before = await s.trust()
        files = snapshot_dir(tmp_path)
        served.repo.publish_target("trusted_root.json", TARGETS["trusted_root.json"] + b"\n")

        async def gone(request: httpx.Request) -> httpx.Response | None:
            if request.url.path != "/timestamp.json" and "root" not in request.url.path:
                raise httpx.ConnectError("connection refused")
            return None

        served.fault = gone
        with pytest.raises(RepositoryUnavailable) as info:
            await s.refresh()
        assert info.value.role == "snapshot"
        assert info.value.status is None
        assert snapshot_dir(tmp_path) == files
        assert await s.trust() is before


async def test_server_errors_are_retried_then_typed(
    served: Served, tmp_path: Path, clock: Clock
) -> None:
    async def broken(request: httpx.Request) -> httpx.Response | None:
        return httpx.Response(500, text="oops")

    served.fault = broken
    config = UpdaterConfig(retry=RetryPolicy(attempts=3, base=0.001, max_delay=0.01))
    async with sigstore(served, tmp_path, clock, tuf_config=config) as s:
        with pytest.raises(RepositoryUnavailable) as info:
            await s.trust()
    assert info.value.status == 500
    assert info.value.reason == "unavailable"
    assert len(served.requests) == 3


async def test_a_stalled_repository_times_out(served: Served, tmp_path: Path, clock: Clock) -> None:
    config = UpdaterConfig(retry=RetryPolicy(attempts=1), timeout=0.2)
    async with sigstore(served, tmp_path, clock, tuf_config=config) as s:
        await s.trust()
        files = snapshot_dir(tmp_path)
        served.fault = stall
        start = anyio.current_time()
        with pytest.raises(RepositoryUnavailable, match="did not answer within"):
            await s.refresh()
        assert anyio.current_time() - start < 5
        assert snapshot_dir(tmp_path) == files


# -- offline, explicit, anchors ------------------------------------------------------------


async def test_offline_uses_the_verified_cache(
    served: Served, tmp_path: Path, clock: Clock
) -> None:
    async with sigstore(served, tmp_path, clock) as s:
        online = await s.trust()
    clock.advance(timedelta(days=10))  # long expired: offline use still works
    offline = Sigstore.from_tuf(
        URL,
        root=served.repo.root_json(),
        transport=no_network(),
        cache_dir=tmp_path,
        clock=clock,
        offline=True,
    )
    async with offline as s:
        config = await s.trust()
        assert config.trusted_root == online.trusted_root
        assert config.tuf is not None
        assert config.tuf.expired
        assert not config.tuf.from_network
        assert await s.refresh() is not None  # offline: reloads the cache, no network

    # A tampered cache is refused, never used.
    ts = tmp_path / "tuf" / quote(URL, safe="") / "metadata" / "timestamp.json"
    await anyio.Path(ts).write_bytes((await anyio.Path(ts).read_bytes()).replace(b"1", b"2", 1))
    offline = Sigstore.from_tuf(
        URL, root=served.repo.root_json(), cache_dir=tmp_path, clock=clock, offline=True
    )
    async with offline as s:
        with pytest.raises(TufError):
            await s.trust()


async def test_offline_public_good_falls_back_to_embedded(tmp_path: Path) -> None:
    async with Sigstore.production(offline=True, cache_dir=tmp_path, transport=no_network()) as s:
        config = await s.trust()
    assert config.source == "embedded"
    assert config.trusted_root == TRUSTED_ROOT
    assert config.signing_config == SIGNING_CONFIG


async def test_from_trust_config_uses_no_network(tmp_path: Path) -> None:
    document = ClientTrustConfig(
        media_type="application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        trusted_root=TRUSTED_ROOT,
        signing_config=SIGNING_CONFIG,
    )
    path = tmp_path / "config.json"
    await anyio.Path(path).write_text(document.to_json())
    for value in (document, document.to_json(), document.to_json().encode(), path, str(path)):
        async with Sigstore.from_trust_config(value, transport=no_network()) as s:
            config = await s.trust()
            assert config.source == "explicit"
            assert config.signing_config == SIGNING_CONFIG
            assert await s.refresh() is config


async def test_explicit_trusted_root(served: Served, tmp_path: Path, clock: Clock) -> None:
    async with Sigstore.production(trusted_root=TARGETS["trusted_root.json"]) as s:
        config = await s.trust()
    assert config.source == "explicit"
    assert config.signing_config == SIGNING_CONFIG  # the embedded one goes with it
    # A signing config override on top of TUF.
    async with sigstore(served, tmp_path, clock, signing_config=SIGNING_CONFIG) as s:
        config = await s.trust()
        assert config.source == "tuf"
        assert config.signing_config == SIGNING_CONFIG


async def test_private_repository_needs_an_anchor(
    served: Served, tmp_path: Path, clock: Clock
) -> None:
    async with Sigstore.from_tuf(URL, transport=served.transport, cache_dir=tmp_path) as s:
        with pytest.raises(TrustError, match="no initial root"):
            await s.trust()
    assert served.requests == []
    with pytest.raises(BadMetadataSignature):
        await save_initial_root(
            URL,
            served.repo.root_json().replace(b'"version": 1', b'"version": 5'),
            cache_dir=tmp_path,
        )
    await save_initial_root(URL, served.repo.root_json(), cache_dir=tmp_path)
    s = Sigstore.from_tuf(
        URL, transport=served.transport, cache_dir=tmp_path, clock=clock, tuf_config=FAST
    )
    async with s:
        config = await s.trust()
    assert config.tuf is not None
    assert config.tuf.root_version == 3


async def test_lifetime(served: Served, tmp_path: Path, clock: Clock) -> None:
    s = sigstore(served, tmp_path, clock)
    with pytest.raises(RuntimeError, match="async with"):
        await s.trust()
    async with s:
        await s.trust()
    with pytest.raises(RuntimeError):
        await s.refresh()
    with pytest.raises(RuntimeError):
        async with s:
            pass
    # An injected client is used, and left open.
    async with served.client() as http:
        async with Sigstore.from_tuf(
            URL, root=served.repo.root_json(), http=http, cache_dir=tmp_path, tuf_config=FAST
        ) as s2:
            await s2.refresh()
        assert not http.is_closed


async def test_end_to_end_with_local_sigstore(tmp_path: Path) -> None:
    async with LocalSigstore() as stack:
        s = Sigstore.from_tuf(
            stack.tuf_url,
            root=stack.tuf.root_json(),
            transport=stack.transport,
            cache_dir=tmp_path,
            tuf_config=FAST,
        )
        async with s:
            config = await s.trust()
            assert config.trusted_root == stack.trusted_root
            assert config.signing_config == stack.signing_config
            stack.faults.services["tuf"] = ServiceFaults(fail_next=5, error_status=503)
            with pytest.raises(RepositoryUnavailable) as info:
                await s.refresh()
            assert info.value.status == 503
            assert await s.trust() is config
