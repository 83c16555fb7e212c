"""The async TUF updater against repositories built with python-tuf's metadata API,
served in process: the workflow, key rotations, and every attack the repository can
mount (each must be caught and typed, and leave the trusted state as it was)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import anyio.lowlevel
import httpx
import pytest

from sigstore_async._time import utc_now
from sigstore_async.errors import (
    BadMetadataSignature,
    LengthOrHashMismatch,
    MalformedMetadata,
    MetadataExpired,
    RepositoryUnavailable,
    RollbackAttack,
    TufError,
)
from sigstore_async.testing import LocalTufRepository
from sigstore_async.testing._tuf_repo import Delegation, hash_bin_delegations
from sigstore_async.tuf import UpdaterConfig

from .conftest import FAST, TRUSTED_ROOT, URL, Served, make_repo, snapshot_dir, updater

pytestmark = pytest.mark.anyio


async def test_cold_refresh_walks_every_root_and_stores_unversioned(tmp_path: Path) -> None:
    repo = make_repo(root_versions=12)
    served = Served(repo)
    async with served.client() as http:
        u = updater(http, tmp_path, repo.root_json(1))
        trusted = await u.refresh()
    assert trusted.root.version == 12
    # Roots 2..12, a 404 for 13, then the top-level roles once each.
    assert served.kinds() == ["root"] * 12 + ["timestamp", "snapshot", "targets"]
    assert "/13.root.json" in served.requests
    assert "/1.snapshot.json" in served.requests  # consistent snapshots: versioned names
    files = sorted(p.name for p in (tmp_path / "metadata").iterdir())
    assert files == [
        "refreshed-at",
        "root.json",
        "root_history",
        "snapshot.json",
        "targets.json",
        "timestamp.json",
    ]
    assert (tmp_path / "metadata" / "root.json").read_bytes() == repo.root_json(12)
    assert len(list((tmp_path / "metadata" / "root_history").iterdir())) == 11


async def test_warm_refresh_fetches_only_the_timestamp(tmp_path: Path, served: Served) -> None:
    async with served.client() as http:
        await updater(http, tmp_path, served.repo.root_json()).refresh()
        served.clear()
        await updater(http, tmp_path, served.repo.root_json()).refresh()
    assert served.kinds() == ["root", "timestamp"]  # the probe for root v2, then the timestamp


async def test_new_targets_are_fetched_once_then_reused(tmp_path: Path, served: Served) -> None:
    async with served.client() as http:
        u = updater(http, tmp_path, served.repo.root_json())
        info = await u.get_target_info("trusted_root.json")
        assert info is not None
        path = await u.download_target(info)
        assert path.read_bytes() == TRUSTED_ROOT
        assert served.kinds().count("target") == 1
        assert await u.find_cached_target(info) == path
        assert await u.read_cached_target(info) == TRUSTED_ROOT
        # A tampered copy is not reused.
        path.write_bytes(b"x" * len(TRUSTED_ROOT))
        assert await u.find_cached_target(info) is None
        assert await u.get_target_info("missing.txt") is None
    target_path = served.repo.target_path("trusted_root.json")
    assert served.counts()[target_path] == 1  # fetched as <sha256>.<name>


async def test_new_target_version_is_found_after_a_refresh(tmp_path: Path, served: Served) -> None:
    async with served.client() as http:
        u = updater(http, tmp_path, served.repo.root_json())
        await u.refresh()
        served.repo.publish_target("other.txt", b"new\n")
        u = updater(http, tmp_path, served.repo.root_json())
        await u.refresh()
        info = await u.get_target_info("other.txt")
        assert info is not None
        assert await u.fetch_target(info) == b"new\n"


# -- key rotations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "keep", "threshold"),
    [
        pytest.param({"root": 3}, {}, {"root": 2}, id="grow-to-3-of-2"),
        pytest.param({"root": 1}, {"root": 1}, {"root": 1}, id="keep-one"),
        pytest.param({"root": 2, "timestamp": 2}, {}, {"timestamp": 2}, id="timestamp-threshold"),
        pytest.param({"snapshot": 1, "targets": 1}, {}, {}, id="online-keys"),
    ],
)
async def test_root_rotations_are_followed(
    tmp_path: Path, keys: dict[str, int], keep: dict[str, int], threshold: dict[str, int]
) -> None:
    repo = make_repo(keys_for_role={"root": 2}, threshold={"root": 2})
    served = Served(repo)
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json()).refresh()
        version = repo.rotate_root(keys_for_role=keys, keep=keep, threshold=threshold)
        repo.rotate_root()  # and once more, with every root key replaced
        trusted = await updater(http, tmp_path, repo.root_json()).refresh()
    assert trusted.root.version == version + 1
    for role, value in threshold.items():
        assert trusted.root.roles[role].threshold == value


async def test_rotated_out_keys_no_longer_sign(tmp_path: Path, served: Served) -> None:
    repo = served.repo
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json()).refresh()
        repo.rotate_key("timestamp")
        # Fast-forward recovery: the cached timestamp (old key) is dropped, the new one loads.
        trusted = await updater(http, tmp_path, repo.root_json()).refresh()
        assert trusted.root.version == 2
        repo.resign("timestamp", untrusted=True)
        with pytest.raises(BadMetadataSignature) as info:
            await updater(http, tmp_path, repo.root_json()).refresh()
    assert info.value.role == "timestamp"


@pytest.mark.parametrize(
    ("signed_by_old", "signed_by_new"),
    [(False, True), (True, False)],
    ids=["not-by-old-root", "not-by-new-root"],
)
async def test_root_must_be_signed_by_old_and_new_keys(
    tmp_path: Path, served: Served, signed_by_old: bool, signed_by_new: bool
) -> None:
    repo = served.repo
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json()).refresh()
        before = snapshot_dir(tmp_path / "metadata")
        repo.rotate_root(signed_by_old=signed_by_old, signed_by_new=signed_by_new)
        with pytest.raises(BadMetadataSignature) as info:
            await updater(http, tmp_path, repo.root_json()).refresh()
    assert info.value.role == "root"
    assert info.value.reason == "signature"
    assert info.value.repository == URL
    assert snapshot_dir(tmp_path / "metadata") == before


async def test_root_threshold_not_met(tmp_path: Path) -> None:
    repo = make_repo(keys_for_role={"root": 3}, threshold={"root": 2})
    served = Served(repo)
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json()).refresh()
        repo.bump_version("root")
        repo.resign("root", signatures=1)
        with pytest.raises(BadMetadataSignature):
            await updater(http, tmp_path, repo.root_json()).refresh()


async def test_root_rotations_are_bounded(tmp_path: Path) -> None:
    repo = make_repo(root_versions=8)
    served = Served(repo)
    config = UpdaterConfig(max_root_rotations=3, retry=FAST.retry, timeout=5.0)
    async with served.client() as http:
        # The walk stops at v4; each rotation replaced only the root keys, so the
        # online roles still verify under v4.
        trusted = await updater(http, tmp_path, repo.root_json(), config=config).refresh()
    assert trusted.root.version == 4
    assert served.kinds().count("root") == 3


# -- expiry (freeze attacks) -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["root", "timestamp", "snapshot", "targets"])
async def test_expired_metadata_at_each_level(tmp_path: Path, served: Served, role: str) -> None:
    repo = served.repo
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json(), persist="on_success").refresh()
        before = snapshot_dir(tmp_path / "metadata")
        repo.expire(role)
        with pytest.raises(MetadataExpired) as info:
            await updater(http, tmp_path, repo.root_json(), persist="on_success").refresh()
    assert info.value.role == role
    assert info.value.reason == "expired"
    assert snapshot_dir(tmp_path / "metadata") == before


async def test_expired_intermediate_root_is_fine(tmp_path: Path, served: Served) -> None:
    repo = served.repo
    repo.expire("root")  # v2, expired
    repo.bump_version("root")  # v3, current
    async with served.client() as http:
        trusted = await updater(http, tmp_path, repo.root_json()).refresh()
    assert trusted.root.version == 3


async def test_time_moves_on(tmp_path: Path, served: Served) -> None:
    """The client's clock decides: everything the repository signed expires for it."""
    later = utc_now() + timedelta(days=2)
    async with served.client() as http:
        await updater(http, tmp_path, served.repo.root_json()).refresh()
        with pytest.raises(MetadataExpired) as info:
            await updater(http, tmp_path, served.repo.root_json(), clock=lambda: later).refresh()
    assert info.value.role == "timestamp"


# -- rollbacks and mix-and-match ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("timestamp", RollbackAttack),
        ("snapshot", RollbackAttack),
        ("targets", RollbackAttack),
        ("root", RollbackAttack),
    ],
)
async def test_rollback_of_every_role(
    tmp_path: Path, served: Served, role: str, expected: type[TufError]
) -> None:
    repo = served.repo
    repo.bump_version(role)
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json(), persist="on_success").refresh()
        before = snapshot_dir(tmp_path / "metadata")
        repo.rollback(role, 1)
        with pytest.raises(expected) as info:
            await updater(http, tmp_path, repo.root_json(), persist="on_success").refresh()
    assert info.value.reason == "rollback"
    assert snapshot_dir(tmp_path / "metadata") == before


@pytest.mark.parametrize(
    ("meta_hashes", "expected"),
    [(True, LengthOrHashMismatch), (False, RollbackAttack)],
    ids=["with-hashes", "versions-only"],
)
async def test_mix_and_match_snapshot(
    tmp_path: Path, meta_hashes: bool, expected: type[TufError]
) -> None:
    repo = make_repo(meta_hashes=meta_hashes)
    served = Served(repo)
    repo.mix_and_match()
    async with served.client() as http:
        with pytest.raises(expected) as info:
            await updater(http, tmp_path, repo.root_json()).refresh()
    assert info.value.role == "snapshot"


async def test_same_timestamp_version_keeps_the_trusted_one(tmp_path: Path, served: Served) -> None:
    repo = served.repo
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json()).refresh()
        stored = (tmp_path / "metadata" / "timestamp.json").read_bytes()
        repo.resign("timestamp")  # new bytes, same version
        await updater(http, tmp_path, repo.root_json()).refresh()
    assert (tmp_path / "metadata" / "timestamp.json").read_bytes() == stored


# -- lengths, hashes, sizes, signatures ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "size"),
    [("/timestamp.json", 20_000), ("/2.root.json", 600_000), ("/1.snapshot.json", 10_000)],
)
async def test_oversized_responses_are_cut_off(
    tmp_path: Path, served: Served, path: str, size: int
) -> None:
    repo = served.repo
    if path == "/2.root.json":
        repo.bump_version("root")
    repo.serve_oversized(path, size)
    async with served.client() as http:
        with pytest.raises(LengthOrHashMismatch) as info:
            await updater(http, tmp_path, repo.root_json()).refresh()
    assert info.value.reason == "length or hash"


async def test_endless_stream_is_read_only_up_to_the_limit(tmp_path: Path, served: Served) -> None:
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            sent.append(1)
            yield b" " * 4096

    async def fault(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/timestamp.json":
            return httpx.Response(200, content=endless())
        return None

    served.fault = fault
    async with served.client() as http:
        with pytest.raises(LengthOrHashMismatch, match="16384 bytes"):
            await updater(http, tmp_path, served.repo.root_json()).refresh()
    assert len(sent) <= 16384 // 4096 + 1


async def test_endless_target_is_cut_off_at_its_length(tmp_path: Path, served: Served) -> None:
    served.repo.serve_wrong_hash("other.txt", length_delta=10_000_000)
    async with served.client() as http:
        u = updater(http, tmp_path, served.repo.root_json())
        info = await u.get_target_info("other.txt")
        assert info is not None
        with pytest.raises(LengthOrHashMismatch) as error:
            await u.download_target(info)
    assert error.value.role == "target:other.txt"
    assert not (tmp_path / "targets" / "other.txt").exists()


@pytest.mark.parametrize("delta", [0, -1])
async def test_wrong_target_bytes(tmp_path: Path, served: Served, delta: int) -> None:
    served.repo.serve_wrong_hash("other.txt", length_delta=delta)
    async with served.client() as http:
        u = updater(http, tmp_path, served.repo.root_json())
        info = await u.get_target_info("other.txt")
        assert info is not None
        with pytest.raises(LengthOrHashMismatch):
            await u.fetch_target(info)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/timestamp.json", BadMetadataSignature),  # nothing records its hash
        ("/1.snapshot.json", LengthOrHashMismatch),  # the timestamp records its hash
        ("/1.targets.json", LengthOrHashMismatch),  # the snapshot records its hash
        ("/2.root.json", BadMetadataSignature),
    ],
)
async def test_tampered_metadata(
    tmp_path: Path, served: Served, path: str, expected: type[TufError]
) -> None:
    if path == "/2.root.json":
        served.repo.bump_version("root")
    served.repo.corrupt(path)
    async with served.client() as http:
        with pytest.raises(expected):
            await updater(http, tmp_path, served.repo.root_json()).refresh()


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets"])
async def test_signed_by_an_untrusted_key(tmp_path: Path, served: Served, role: str) -> None:
    served.repo.resign(role, untrusted=True)
    async with served.client() as http:
        with pytest.raises(BadMetadataSignature) as info:
            await updater(http, tmp_path, served.repo.root_json()).refresh()
    assert info.value.role == role


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b'{"signed": {"_type": "snapshot"}, "signatures": []}', b"[1, 2]"],
)
async def test_malformed_timestamp(tmp_path: Path, served: Served, body: bytes) -> None:
    served.repo.set_response("/timestamp.json", 200, body)
    async with served.client() as http:
        with pytest.raises(MalformedMetadata):
            await updater(http, tmp_path, served.repo.root_json()).refresh()


async def test_wrong_role_type(tmp_path: Path, served: Served) -> None:
    # A correctly signed document of another role where the timestamp should be.
    served.repo.set_response("/timestamp.json", 200, served.repo.root_json())
    async with served.client() as http:
        with pytest.raises(MalformedMetadata, match="expected timestamp"):
            await updater(http, tmp_path, served.repo.root_json()).refresh()


async def test_bad_bootstrap_root_makes_no_request(tmp_path: Path, served: Served) -> None:
    root = json.loads(served.repo.root_json())
    root["signed"]["version"] = 7  # breaks its own signatures
    async with served.client() as http:
        with pytest.raises(BadMetadataSignature):
            await updater(http, tmp_path, json.dumps(root).encode()).refresh()
        with pytest.raises(MalformedMetadata):
            await updater(http, tmp_path, b"{}").refresh()
    assert served.requests == []


async def test_no_anchor(tmp_path: Path, served: Served) -> None:
    async with served.client() as http:
        with pytest.raises(TufError, match="no trusted root"):
            await updater(http, tmp_path, None).refresh()


async def test_store_root_is_the_anchor_without_bootstrap(tmp_path: Path, served: Served) -> None:
    (tmp_path / "metadata").mkdir()
    (tmp_path / "metadata" / "root.json").write_bytes(served.repo.root_json())
    served.repo.bump_version("root")
    async with served.client() as http:
        trusted = await updater(http, tmp_path, None).refresh()
    assert trusted.root.version == 2
    assert (tmp_path / "metadata" / "root.json").read_bytes() == served.repo.root_json(2)


# -- delegations ---------------------------------------------------------------------------


async def test_delegation_graph_order_and_terminating(tmp_path: Path) -> None:
    repo = make_repo()
    repo.set_delegations(
        [
            Delegation("a", paths=["a/*"], targets={"a/one": b"A"}),
            Delegation("b", paths=["*/two"], terminating=True, targets={}),
            Delegation("c", paths=["*"], targets={"b/two": b"C"}),
        ]
    )
    repo.set_delegations([Delegation("b1", paths=["b/*"], targets={"b/two": b"B1"})], delegator="b")
    served = Served(repo)
    async with served.client() as http:
        u = updater(http, tmp_path, repo.root_json())
        one = await u.get_target_info("a/one")
        assert one is not None
        assert await u.fetch_target(one) == b"A"
        served.clear()
        # b is terminating for */two: found in its delegate b1; c is never consulted.
        two = await u.get_target_info("b/two")
        assert two is not None
        assert await u.fetch_target(two) == b"B1"
        assert served.kinds() == ["b", "b1", "target"]
        served.clear()
        # x/two: b is terminating and b1 does not match: not found, c not tried.
        assert await u.get_target_info("x/two") is None
        assert "c" not in served.kinds()
        # Anything else falls through to c.
        assert await u.get_target_info("zzz") is None
        assert "c" in served.kinds()
    # Delegated roles are stored under their (encoded) names.
    assert {"a.json", "b.json", "b1.json", "c.json"} <= {
        p.name for p in (tmp_path / "metadata").iterdir()
    }


async def test_hash_bin_delegations(tmp_path: Path) -> None:
    repo = make_repo()
    bins = hash_bin_delegations(4)
    names = [f"pkg/{i}" for i in range(20)]
    repo.set_delegations(bins)
    for name in names:
        role = next(b.name for b in bins if b.matches(name))
        repo.publish_target(name, name.encode(), role=role)
    served = Served(repo)
    async with served.client() as http:
        u = updater(http, tmp_path, repo.root_json())
        for name in names[:5]:
            served.clear()
            info = await u.get_target_info(name)
            assert info is not None
            assert await u.fetch_target(info) == name.encode()
            # Only the one bin responsible for the path is fetched (bins are terminating).
            roles = [k for k in served.kinds() if k not in ("target", "root", "timestamp")]
            roles = [r for r in roles if r not in ("snapshot", "targets")]
            assert len(roles) <= 1


async def test_delegated_role_attacks_are_caught(tmp_path: Path) -> None:
    repo = make_repo()
    repo.set_delegations([Delegation("a", paths=["a/*"], targets={"a/x": b"x"})])
    served = Served(repo)
    async with served.client() as http:
        u = updater(http, tmp_path, repo.root_json())
        await u.refresh()
        repo.resign("a", untrusted=True)
        u = updater(http, tmp_path, repo.root_json())
        with pytest.raises(BadMetadataSignature) as info:
            await u.get_target_info("a/x")
        assert info.value.role == "a"
        repo.expire("a")
        u = updater(http, tmp_path, repo.root_json())
        with pytest.raises(MetadataExpired):
            await u.get_target_info("a/x")


async def test_delegation_search_is_bounded(tmp_path: Path) -> None:
    repo = make_repo()
    repo.set_delegations([Delegation(f"d{i}", paths=["*"]) for i in range(6)])
    served = Served(repo)
    config = UpdaterConfig(max_delegations=3, retry=FAST.retry, timeout=5.0)
    async with served.client() as http:
        u = updater(http, tmp_path, repo.root_json(), config=config)
        assert await u.get_target_info("nowhere") is None
    # targets, d0, d1: three roles visited at most.
    assert [k for k in served.kinds() if k.startswith("d")] == ["d0", "d1"]


@pytest.mark.parametrize("name", ["?", "#", "/delegatedrole", "../delegatedrole", ".."])
async def test_unusual_role_names_stay_inside(tmp_path: Path, name: str) -> None:
    repo = make_repo()
    repo.set_delegations([Delegation(name, paths=["*"])])
    served = Served(repo)
    async with served.client() as http:
        u = updater(http, tmp_path, repo.root_json())
        assert await u.get_target_info("nothing") is None
    stored = [tmp_path / name for name in snapshot_dir(tmp_path)]
    assert all(
        tmp_path / "metadata" in p.parents or tmp_path / "targets" in p.parents for p in stored
    )


# -- offline ---------------------------------------------------------------------------------


async def test_load_local_verifies_the_cache_without_network(
    tmp_path: Path, served: Served
) -> None:
    repo = served.repo
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json()).refresh()
    offline = updater(None, tmp_path, repo.root_json())
    trusted = await offline.load_local()
    assert trusted.complete()
    info = await offline.get_target_info("other.txt")
    assert info is not None
    # Tampering with the cache is caught: the cache is not trusted.
    path = tmp_path / "metadata" / "snapshot.json"
    doc = json.loads(path.read_bytes())
    doc["signed"]["version"] += 1
    path.write_text(json.dumps(doc))
    with pytest.raises(BadMetadataSignature):
        await updater(None, tmp_path, repo.root_json()).load_local()


async def test_load_local_expiry_is_optional(tmp_path: Path, served: Served) -> None:
    later = utc_now() + timedelta(days=30)
    async with served.client() as http:
        await updater(http, tmp_path, served.repo.root_json()).refresh()
    with pytest.raises(MetadataExpired):
        await updater(None, tmp_path, served.repo.root_json(), clock=lambda: later).load_local()
    trusted = await updater(
        None, tmp_path, served.repo.root_json(), clock=lambda: later
    ).load_local(check_expiry=False)
    assert trusted.expires() < later


async def test_offline_updater_cannot_refresh(tmp_path: Path, served: Served) -> None:
    with pytest.raises(RuntimeError):
        await updater(None, tmp_path, served.repo.root_json()).refresh()
    with pytest.raises(RepositoryUnavailable):
        await updater(None, tmp_path, served.repo.root_json()).load_local()


async def test_on_success_persists_nothing_from_a_failed_refresh(
    tmp_path: Path, served: Served
) -> None:
    repo = served.repo
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json(), persist="on_success").refresh()
        before = snapshot_dir(tmp_path / "metadata")
        repo.bump_version("root")
        repo.publish_target("other.txt", b"v2")
        repo.resign("targets", untrusted=True)
        with pytest.raises(BadMetadataSignature):
            await updater(http, tmp_path, repo.root_json(), persist="on_success").refresh()
        assert snapshot_dir(tmp_path / "metadata") == before
        # Incremental persistence (the TUF specification's) keeps what verified.
        with pytest.raises(BadMetadataSignature):
            await updater(http, tmp_path, repo.root_json()).refresh()
    after = snapshot_dir(tmp_path / "metadata")
    assert after["root.json"] == repo.root_json(2)
    assert after["targets.json"] == before["targets.json"]


async def test_works_with_a_repository_of_another_key_scheme(tmp_path: Path) -> None:
    repo = LocalTufRepository({"a": b"a"}, key_scheme="ed25519", root_versions=2)
    served = Served(repo)
    async with served.client() as http:
        trusted = await updater(http, tmp_path, repo.root_json()).refresh()
    assert trusted.root.version == 2


async def test_verification_does_not_block_the_loop(tmp_path: Path) -> None:
    """Signature checks run in worker threads: while a cache of 30 root versions is
    verified, the event loop keeps running other tasks. (Run on the loop, the
    checks would leave a ticker a handful of ticks, one per await; timing gaps
    would not tell, a loaded machine has gaps of its own.)"""
    repo = make_repo(root_versions=30)
    served = Served(repo)
    async with served.client() as http:
        await updater(http, tmp_path, repo.root_json()).refresh()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await anyio.lowlevel.checkpoint()
            ticks += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.lowlevel.checkpoint()
        before = ticks
        trusted = await updater(None, tmp_path, repo.root_json()).load_local()
        during = ticks - before
        tg.cancel_scope.cancel()
    assert trusted.root.version == 30
    assert during > 1000, during
