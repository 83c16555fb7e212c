"""``LocalTufRepository`` is a correct TUF repository, and its attack modes are real.

The judge is python-tuf's own client, ``tuf.ngclient.Updater``, independent of our code: it must
accept everything the repository publishes honestly, and refuse each attack with the error the
TUF specification's client workflow calls for. Its fetcher calls ``handle`` directly.

python-tuf's Updater reads the wall clock, so these repositories sign with the wall clock too
(their default), except where a test is about the clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root  # type: ignore[attr-defined, unused-ignore]
from tuf.ngclient import FetcherInterface, Updater  # type: ignore[attr-defined, unused-ignore]

from sigstore_async.testing._tuf_repo import (
    DEFAULT_LIFETIMES,
    Delegation,
    LocalTufRepository,
    hash_bin_delegations,
)

TRUSTED_ROOT = b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}\n'
SIGNING_CONFIG = b'{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"}\n'
TARGETS = {"trusted_root.json": TRUSTED_ROOT, "signing_config.v0.2.json": SIGNING_CONFIG}
BASE = "https://tuf.test/"


class HandleFetcher(FetcherInterface):  # type: ignore[misc, unused-ignore]
    """python-tuf's network layer, answered by ``LocalTufRepository.handle``."""

    def __init__(self, repo: LocalTufRepository) -> None:
        self.repo = repo

    def _fetch(self, url: str) -> Iterator[bytes]:
        status, _, body = self.repo.handle("GET", urlsplit(url).path)
        if status != 200:
            raise exceptions.DownloadHTTPError(f"HTTP {status} for {url}", status)
        return iter([body])


class Client:
    """A TUF client with its own metadata cache, as a device keeps one between runs.

    Each call makes a new ``Updater`` (one refresh per Updater) over the same cache, so what an
    earlier call trusted protects later ones (rollback protection).
    """

    def __init__(self, repo: LocalTufRepository, cache: Path, bootstrap: bytes) -> None:
        self.repo, self.cache, self.bootstrap = repo, cache, bootstrap
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "targets").mkdir(exist_ok=True)

    def updater(self) -> Updater:
        return Updater(
            str(self.cache),
            BASE,
            str(self.cache / "targets"),
            BASE + "targets/",
            fetcher=HandleFetcher(self.repo),
            bootstrap=self.bootstrap,
        )

    def refresh(self) -> None:
        self.updater().refresh()

    def download(self, name: str) -> bytes:
        updater = self.updater()
        info = updater.get_targetinfo(name)
        if info is None:
            raise LookupError(name)
        return Path(updater.download_target(info)).read_bytes()

    def trusted_version(self, role: str) -> int:
        md = Metadata.from_bytes((self.cache / f"{role}.json").read_bytes())
        return int(md.signed.version)


@pytest.fixture
def make_client(tmp_path: Path) -> Callable[..., Client]:
    made = 0

    def make(repo: LocalTufRepository, bootstrap: bytes | None = None) -> Client:
        nonlocal made
        made += 1
        return Client(repo, tmp_path / f"client{made}", bootstrap or repo.root_json())

    return make


def _root(data: bytes) -> Metadata[Root]:
    return Metadata[Root].from_bytes(data)


# --- honest publishing ------------------------------------------------------------------------


def test_bootstrap_refresh_and_download(make_client: Callable[..., Client]) -> None:
    repo = LocalTufRepository(TARGETS)
    client = make_client(repo)
    assert client.download("trusted_root.json") == TRUSTED_ROOT
    assert repo.counts["/2.root.json"] == 1  # 404: root v1 is the newest
    assert repo.counts["/timestamp.json"] == 1
    assert repo.counts["/1.snapshot.json"] == 1
    assert repo.counts["/1.targets.json"] == 1
    assert repo.counts[repo.target_path("trusted_root.json")] == 1
    assert client.download("signing_config.v0.2.json") == SIGNING_CONFIG
    assert repo.counts["/timestamp.json"] == 2  # a new Updater refreshes again
    assert repo.counts["/1.snapshot.json"] == 1  # its cached snapshot is still current


def test_layout_is_consistent_snapshots_like_sigstore() -> None:
    repo = LocalTufRepository(TARGETS)
    root = _root(repo.root_json())
    assert root.signed.consistent_snapshot
    digest = hashlib.sha256(TRUSTED_ROOT).hexdigest()
    assert repo.target_path("trusted_root.json") == f"/targets/{digest}.trusted_root.json"
    for path in ("/1.root.json", "/timestamp.json", "/1.snapshot.json", "/1.targets.json"):
        status, headers, body = repo.handle("GET", path)
        assert (status, headers["content-type"]) == (200, "application/json")
        assert json.loads(body)["signed"]["_type"] == path.split(".")[-2].strip("/")
    for path in ("/root.json", "/1.timestamp.json", "/snapshot.json", "/targets/x", "/2.root.json"):
        assert repo.handle("GET", path)[0] == 404
    assert repo.handle("GET", repo.target_path("trusted_root.json"))[2] == TRUSTED_ROOT
    # Indented like Sigstore's files, so not the canonical form that signatures cover.
    assert b"\n" in repo.root_json()


def test_walks_twelve_root_versions(make_client: Callable[..., Client]) -> None:
    repo = LocalTufRepository(TARGETS, root_versions=12)
    assert repo.root_version == 12
    client = make_client(repo)
    assert client.download("trusted_root.json") == TRUSTED_ROOT
    assert client.trusted_version("root") == 12
    assert [repo.counts[f"/{v}.root.json"] for v in range(2, 14)] == [1] * 12
    # Each step rotates every root key: no version can be skipped.
    for version in range(1, 11):
        older, newer = _root(repo.root_json(version)), _root(repo.root_json(version + 1))
        assert not set(older.signed.roles["root"].keyids) & set(newer.signed.roles["root"].keyids)
        skipped = _root(repo.root_json(version + 2))
        with pytest.raises(exceptions.UnsignedMetadataError):
            older.signed.verify_delegate("root", skipped.signed_bytes, skipped.signatures)
    # A client bootstrapped from the newest root does not walk at all.
    latest = make_client(repo, repo.root_json(12))
    repo.counts.clear()
    latest.refresh()
    assert repo.counts["/13.root.json"] == 1
    assert sum(n for p, n in repo.counts.items() if p.endswith(".root.json")) == 1


def test_expiry_follows_the_clock(make_client: Callable[..., Client]) -> None:
    at = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    repo = LocalTufRepository(TARGETS, clock=lambda: at)
    for role, path in [
        ("root", "/1.root.json"),
        ("timestamp", "/timestamp.json"),
        ("snapshot", "/1.snapshot.json"),
        ("targets", "/1.targets.json"),
    ]:
        expires = Metadata.from_bytes(repo.handle("GET", path)[2]).signed.expires
        assert expires == at + DEFAULT_LIFETIMES[role]
    # Signed two days ago: python-tuf (which reads the wall clock) sees timestamp expired.
    stale = LocalTufRepository(TARGETS, clock=lambda: datetime.now(UTC) - timedelta(days=2))
    with pytest.raises(exceptions.ExpiredMetadataError, match="timestamp"):
        make_client(stale).refresh()


def test_publish_target(make_client: Callable[..., Client]) -> None:
    repo = LocalTufRepository(TARGETS)
    client = make_client(repo)
    assert client.download("trusted_root.json") == TRUSTED_ROOT
    path = repo.publish_target("trusted_root.json", b"new")
    repo.publish_target("extra", b"extra")
    assert path == repo.target_path("trusted_root.json")
    assert (repo.version("targets"), repo.version("snapshot"), repo.version("timestamp")) == (
        3,
        3,
        3,
    )
    assert client.download("trusted_root.json") == b"new"
    assert client.download("extra") == b"extra"
    assert client.trusted_version("snapshot") == 3
    repo.remove_target("extra")
    with pytest.raises(LookupError):
        client.download("extra")


ROTATIONS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("full root rotation", {}, {}),
    ("raise threshold", {}, {"keys_for_role": {"root": 3}, "threshold": {"root": 2}}),
    (
        "rotate one key out",
        {"keys_for_role": {"root": 3}, "threshold": {"root": 2}},
        {"keys_for_role": {"root": 3}, "keep": {"root": 2}},
    ),
    (
        "lower threshold",
        {"keys_for_role": {"root": 3}, "threshold": {"root": 3}},
        {"keys_for_role": {"root": 2}, "keep": {"root": 2}, "threshold": {"root": 1}},
    ),
    ("online keys", {}, {"keys_for_role": {"timestamp": 2, "snapshot": 1, "targets": 2}}),
    ("online threshold", {}, {"keys_for_role": {"targets": 3}, "threshold": {"targets": 2}}),
]


@pytest.mark.parametrize(
    ("setup", "rotation"), [r[1:] for r in ROTATIONS], ids=[r[0] for r in ROTATIONS]
)
def test_rotate_root(
    make_client: Callable[..., Client], setup: dict[str, Any], rotation: dict[str, Any]
) -> None:
    repo = LocalTufRepository(TARGETS, **setup)
    before = _root(repo.root_json())
    seen = make_client(repo)
    seen.refresh()
    assert repo.rotate_root(**rotation) == 2
    after = _root(repo.root_json(2))
    for role, count in rotation.get("keys_for_role", {"root": 1}).items():
        kept = set(before.signed.roles[role].keyids) & set(after.signed.roles[role].keyids)
        assert (len(after.signed.roles[role].keyids), len(kept)) == (
            count,
            rotation.get("keep", {}).get(role, 0),
        )
    for role, threshold in rotation.get("threshold", {}).items():
        assert after.signed.roles[role].threshold == threshold
    for client in (seen, make_client(repo)):
        assert client.download("trusted_root.json") == TRUSTED_ROOT
        assert client.trusted_version("root") == 2


@pytest.mark.parametrize(
    "rotation",
    [
        {"signed_by_old": False},
        {"signed_by_new": False},
        {"keys_for_role": {"root": 3}, "keep": {"root": 1}, "signed_by_old": False},
        {"keys_for_role": {"root": 2}, "keep": {"root": 1}, "threshold": {"root": 2},
         "signed_by_new": False},
    ],
)  # fmt: skip
def test_rotate_root_without_both_thresholds_is_refused(
    make_client: Callable[..., Client], rotation: dict[str, Any]
) -> None:
    repo = LocalTufRepository(TARGETS)
    repo.rotate_root(**rotation)
    with pytest.raises(exceptions.UnsignedMetadataError):
        make_client(repo).refresh()


@pytest.mark.parametrize("role", ["root", "timestamp", "snapshot", "targets"])
def test_rotate_key(make_client: Callable[..., Client], role: str) -> None:
    repo = LocalTufRepository(TARGETS)
    seen = make_client(repo)
    seen.refresh()
    repo.rotate_key(role)
    old, new = _root(repo.root_json(1)), _root(repo.root_json(2))
    for name in ("root", "timestamp", "snapshot", "targets"):
        same = old.signed.roles[name].keyids == new.signed.roles[name].keyids
        assert same == (name != role)
    for client in (seen, make_client(repo)):
        assert client.download("trusted_root.json") == TRUSTED_ROOT


@pytest.mark.parametrize(
    ("role", "to"), [("root", None), ("timestamp", 10), ("snapshot", None), ("targets", 7)]
)
def test_bump_version(make_client: Callable[..., Client], role: str, to: int | None) -> None:
    repo = LocalTufRepository(TARGETS)
    seen = make_client(repo)
    seen.refresh()
    version = repo.bump_version(role, to=to)
    assert version == (to or 2) == repo.version(role)
    seen.refresh()
    assert seen.trusted_version(role) == version
    assert make_client(repo).download("trusted_root.json") == TRUSTED_ROOT


# --- attacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["root", "timestamp", "snapshot", "targets"])
def test_expire(make_client: Callable[..., Client], role: str) -> None:
    repo = LocalTufRepository(TARGETS)
    assert repo.expire(role) == 2
    with pytest.raises(exceptions.ExpiredMetadataError, match=role):
        make_client(repo).refresh()


def test_expired_intermediate_root_is_fine(make_client: Callable[..., Client]) -> None:
    repo = LocalTufRepository(TARGETS)
    repo.expire("root")
    repo.rotate_root()
    client = make_client(repo)
    assert client.download("trusted_root.json") == TRUSTED_ROOT
    assert client.trusted_version("root") == 3


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets"])
def test_rollback(make_client: Callable[..., Client], role: str) -> None:
    repo = LocalTufRepository(TARGETS)
    repo.publish_target("trusted_root.json", b"v2")
    seen = make_client(repo)
    assert seen.download("trusted_root.json") == b"v2"
    repo.rollback(role, 1)
    with pytest.raises(exceptions.BadVersionNumberError):
        seen.refresh()
    # The rolled-back metadata is genuine: a client with no history cannot tell.
    assert make_client(repo).download("trusted_root.json") == TRUSTED_ROOT
    # Honest publishing ends the attack.
    repo.publish_target("trusted_root.json", b"v3")
    assert seen.download("trusted_root.json") == b"v3"


def test_rollback_root(make_client: Callable[..., Client]) -> None:
    repo = LocalTufRepository(TARGETS)
    repo.bump_version("root")
    repo.bump_version("root")  # same keys, so root v2 verifies under root v3
    repo.rollback("root", 2)
    with pytest.raises(exceptions.BadVersionNumberError, match="root version 4"):
        make_client(repo).refresh()
    # After a key rotation, the old root fails the signature check, which comes first.
    rotated = LocalTufRepository(TARGETS, root_versions=3)
    rotated.rollback("root", 2)
    with pytest.raises(exceptions.UnsignedMetadataError):
        make_client(rotated).refresh()


@pytest.mark.parametrize(
    ("meta_hashes", "error"),
    [(True, exceptions.LengthOrHashMismatchError), (False, exceptions.BadVersionNumberError)],
)
def test_mix_and_match(
    make_client: Callable[..., Client], meta_hashes: bool, error: type[Exception]
) -> None:
    repo = LocalTufRepository(TARGETS, meta_hashes=meta_hashes)
    repo.mix_and_match()
    with pytest.raises(error):
        make_client(repo).refresh()
    repo.heal()
    make_client(repo).refresh()


CORRUPTIONS: list[tuple[str, bool, type[Exception]]] = [
    ("/timestamp.json", True, exceptions.UnsignedMetadataError),
    ("/2.root.json", True, exceptions.UnsignedMetadataError),
    ("/1.snapshot.json", True, exceptions.LengthOrHashMismatchError),
    ("/1.targets.json", True, exceptions.LengthOrHashMismatchError),
    ("/1.snapshot.json", False, exceptions.UnsignedMetadataError),
    ("/1.targets.json", False, exceptions.UnsignedMetadataError),
]


@pytest.mark.parametrize(("path", "meta_hashes", "error"), CORRUPTIONS)
def test_corrupt_metadata(
    make_client: Callable[..., Client], path: str, meta_hashes: bool, error: type[Exception]
) -> None:
    repo = LocalTufRepository(TARGETS, root_versions=2, meta_hashes=meta_hashes)
    repo.corrupt(path)
    with pytest.raises(error):
        make_client(repo).refresh()


def test_corrupt_target(make_client: Callable[..., Client]) -> None:
    repo = LocalTufRepository(TARGETS)
    repo.corrupt(repo.target_path("trusted_root.json"))
    client = make_client(repo)
    with pytest.raises(exceptions.LengthOrHashMismatchError):
        client.download("trusted_root.json")
    assert client.download("signing_config.v0.2.json") == SIGNING_CONFIG


@pytest.mark.parametrize(
    ("delta", "error"),
    [
        (0, exceptions.LengthOrHashMismatchError),
        (-1, exceptions.LengthOrHashMismatchError),
        (1, exceptions.DownloadLengthMismatchError),
    ],
)
def test_serve_wrong_hash(
    make_client: Callable[..., Client], delta: int, error: type[Exception]
) -> None:
    repo = LocalTufRepository(TARGETS)
    repo.serve_wrong_hash("trusted_root.json", length_delta=delta)
    with pytest.raises(error):
        make_client(repo).download("trusted_root.json")


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("/timestamp.json", 16385),  # python-tuf's default timestamp_max_length is 16384
        ("/1.snapshot.json", 5000),  # the timestamp records the snapshot's length
        ("/2.root.json", 512001),  # root_max_length
    ],
)
def test_serve_oversized(make_client: Callable[..., Client], path: str, size: int) -> None:
    repo = LocalTufRepository(TARGETS, root_versions=2)
    repo.serve_oversized(path, size)
    assert len(repo.handle("GET", path)[2]) == size
    with pytest.raises(exceptions.DownloadLengthMismatchError):
        make_client(repo).refresh()


RESIGNS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("root", {"root_versions": 2}, {"untrusted": True}),
    ("timestamp", {}, {"untrusted": True}),
    ("snapshot", {}, {"untrusted": True}),
    ("targets", {}, {"untrusted": True}),
    (
        "root",
        {"root_versions": 2, "keys_for_role": {"root": 3}, "threshold": {"root": 2}},
        {"signatures": 1},
    ),
    (
        "timestamp",
        {"keys_for_role": {"timestamp": 2}, "threshold": {"timestamp": 2}},
        {"signatures": 1},
    ),
    ("targets", {"keys_for_role": {"targets": 5}, "threshold": {"targets": 3}}, {"signatures": 2}),
]


@pytest.mark.parametrize(("role", "setup", "how"), RESIGNS)
def test_resign_badly_is_refused(
    make_client: Callable[..., Client], role: str, setup: dict[str, Any], how: dict[str, Any]
) -> None:
    repo = LocalTufRepository(TARGETS, **setup)
    repo.resign(role, **how)
    with pytest.raises(exceptions.UnsignedMetadataError):
        make_client(repo).refresh()
    repo.resign(role)  # honest re-signing repairs it
    make_client(repo).refresh()


def test_http_errors_reach_the_client(make_client: Callable[..., Client]) -> None:
    repo = LocalTufRepository(TARGETS)
    repo.set_response("/timestamp.json", 503, b"try later")
    with pytest.raises(exceptions.DownloadHTTPError) as raised:
        make_client(repo).refresh()
    assert raised.value.status_code == 503
    repo.heal()
    make_client(repo).refresh()


# --- delegations ------------------------------------------------------------------------------

NPM = "registry.npmjs.org"


@pytest.mark.parametrize("terminating", [True, False])
def test_path_delegations(make_client: Callable[..., Client], terminating: bool) -> None:
    repo = LocalTufRepository(TARGETS)
    repo.set_delegations(
        [
            Delegation(
                NPM, paths=[f"{NPM}/*"], terminating=terminating, targets={f"{NPM}/keys": b"k"}
            ),
            Delegation("fallback", paths=[f"{NPM}/*", "other/*"], keys=2, threshold=2),
        ]
    )
    repo.publish_target(f"{NPM}/only-in-fallback", b"f", role="fallback")
    client = make_client(repo)
    assert client.download(f"{NPM}/keys") == b"k"
    assert repo.target_path(f"{NPM}/keys").startswith(f"/targets/{NPM}/")
    if terminating:
        with pytest.raises(LookupError):
            client.download(f"{NPM}/only-in-fallback")
    else:
        assert client.download(f"{NPM}/only-in-fallback") == b"f"
    # A target outside every delegation is not found, even when a role lists it.
    repo.publish_target("elsewhere", b"x", role="fallback")
    with pytest.raises(LookupError):
        client.download("elsewhere")


def test_delegated_role_attacks(make_client: Callable[..., Client]) -> None:
    repo = LocalTufRepository(TARGETS)
    repo.set_delegations([Delegation(NPM, paths=[f"{NPM}/*"], targets={f"{NPM}/keys": b"k"})])
    seen = make_client(repo)
    assert seen.download(f"{NPM}/keys") == b"k"
    repo.rotate_key(NPM)
    assert seen.download(f"{NPM}/keys") == b"k"
    repo.expire(NPM)
    with pytest.raises(exceptions.ExpiredMetadataError):
        make_client(repo).download(f"{NPM}/keys")
    repo.bump_version(NPM)
    repo.resign(NPM, untrusted=True)
    with pytest.raises(exceptions.UnsignedMetadataError):
        make_client(repo).download(f"{NPM}/keys")
    repo.resign(NPM)
    repo.publish_target(f"{NPM}/keys", b"k2", role=NPM)
    assert seen.download(f"{NPM}/keys") == b"k2"
    repo.rollback(NPM, 2)
    with pytest.raises(exceptions.BadVersionNumberError):
        seen.download(f"{NPM}/keys")


def test_hash_bins(make_client: Callable[..., Client]) -> None:
    bins = hash_bin_delegations(4)
    assert len(bins) == 16
    assert sorted(p for b in bins for p in b.path_hash_prefixes or ()) == list("0123456789abcdef")
    assert len(hash_bin_delegations(6)[0].path_hash_prefixes or ()) == 4
    repo = LocalTufRepository(TARGETS)
    repo.set_delegations(bins)
    names = [f"file-{i}" for i in range(5)]
    for name in names:
        (owner,) = [b.name for b in bins if b.matches(name)]
        repo.publish_target(name, name.encode(), role=owner)
    client = make_client(repo)
    repo.counts.clear()
    for name in names:
        assert client.download(name) == name.encode()
    fetched = {p for p in repo.counts if p.startswith("/") and ".bin-" in p}
    assert 1 <= len(fetched) <= len(names) < len(bins)
    # In the wrong bin, a target is invisible.
    wrong = next(b.name for b in bins if not b.matches("stray"))
    repo.publish_target("stray", b"s", role=wrong)
    with pytest.raises(LookupError):
        client.download("stray")


# --- serving ----------------------------------------------------------------------------------


def test_handle() -> None:
    repo = LocalTufRepository(TARGETS)
    status, headers, body = repo.handle("HEAD", "/timestamp.json")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) == len(repo.handle("GET", "/timestamp.json")[2])
    assert repo.handle("POST", "/timestamp.json")[0] == 405
    assert repo.handle("GET", "/timestamp.json?x=1")[0] == 200
    assert repo.handle("GET", "/nothing")[0] == 404
    assert repo.counts["/timestamp.json"] == 4
    assert repo.counts["/nothing"] == 1
    target = repo.handle("GET", repo.target_path("trusted_root.json"))
    assert target[1]["content-type"] == "application/octet-stream"


@pytest.mark.anyio
@pytest.mark.parametrize("root_path", ["", "/tuf"])
async def test_asgi_app(root_path: str) -> None:
    repo = LocalTufRepository(TARGETS)
    transport = httpx.ASGITransport(app=repo.asgi_app(), root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://tuf.test") as http:
        response = await http.get(f"{root_path}/timestamp.json")
        assert response.status_code == 200
        assert response.json()["signed"]["_type"] == "timestamp"
        response = await http.get(root_path + repo.target_path("trusted_root.json"))
        assert response.content == TRUSTED_ROOT
        assert (await http.get(f"{root_path}/3.root.json")).status_code == 404
    assert repo.counts["/timestamp.json"] == 1


@pytest.mark.anyio
async def test_asgi_lifespan() -> None:
    app = LocalTufRepository().asgi_app()
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> Any:
        return next(incoming)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_argument_checks() -> None:
    with pytest.raises(ValueError, match="threshold"):
        LocalTufRepository(keys_for_role={"root": 1}, threshold={"root": 2})
    with pytest.raises(ValueError, match="key_scheme"):
        LocalTufRepository(key_scheme="rsa")
    with pytest.raises(ValueError, match="exactly one"):
        Delegation("x")
    repo = LocalTufRepository(TARGETS, root_versions=2)
    with pytest.raises(ValueError, match="already at version"):
        repo.walk_to_version(1)
    with pytest.raises(ValueError, match="not older"):
        repo.rollback("timestamp", 1)
    with pytest.raises(ValueError, match="keep"):
        repo.rotate_root(keys_for_role={"root": 1}, keep={"root": 2})
    with pytest.raises(ValueError, match="top-level"):
        repo.rotate_root(keys_for_role={"someone": 1})
    with pytest.raises(ValueError, match="already"):
        repo.serve_oversized("/timestamp.json", 10)


@pytest.mark.parametrize("scheme", ["ed25519", "ecdsa-sha2-nistp384"])
def test_other_key_schemes(make_client: Callable[..., Client], scheme: str) -> None:
    repo = LocalTufRepository(TARGETS, root_versions=3, key_scheme=scheme)
    assert make_client(repo).download("trusted_root.json") == TRUSTED_ROOT


# --- persistence ------------------------------------------------------------------------------


def test_from_state_keeps_keys_and_metadata(make_client: Callable[..., Client]) -> None:
    """A repository restored from ``export_state`` serves the same roots and signs with the
    same keys: a client of the old one goes on updating, through changed targets and a rotation."""
    repo = LocalTufRepository(TARGETS, root_versions=3, key_scheme="ed25519")
    repo.set_delegations([Delegation("extra", paths=["extra/*"], targets={"extra/a": b"a"})])
    client = make_client(repo)
    assert client.download("extra/a") == b"a"
    state = repo.export_state()

    same = LocalTufRepository.from_state(state, TARGETS)
    for version in (1, 2, 3):
        assert same.root_json(version) == repo.root_json(version)
    for role in ("timestamp", "snapshot", "targets", "extra"):
        assert same.version(role) == repo.version(role)
    client.repo = same
    assert client.download("extra/a") == b"a"
    assert client.trusted_version("snapshot") == repo.version("snapshot")

    changed = {**TARGETS, "trusted_root.json": b'{"changed": true}\n'}
    moved = LocalTufRepository.from_state(state, changed)
    assert moved.root_version == 3
    assert moved.version("targets") == repo.version("targets") + 1
    client.repo = moved
    assert client.download("trusted_root.json") == b'{"changed": true}\n'
    assert client.download("signing_config.v0.2.json") == SIGNING_CONFIG
    moved.rotate_key("extra")
    moved.rotate_root()
    assert client.download("extra/a") == b"a"
    assert client.trusted_version("root") == 4

    # Restored again after the rotation: the new keys were kept.
    again = LocalTufRepository.from_state(moved.export_state())
    client.repo = again
    again.publish_target("extra/b", b"b", role="extra")
    assert client.download("extra/b") == b"b"


def test_from_state_renews_stale_roles(make_client: Callable[..., Client]) -> None:
    now = datetime.now(UTC)
    repo = LocalTufRepository(TARGETS, clock=lambda: now - timedelta(days=4))
    state = repo.export_state()
    restored = LocalTufRepository.from_state(state, TARGETS)
    assert restored.version("timestamp") == 2  # expired: renewed
    assert restored.version("snapshot") == 2  # more than half its week gone: renewed
    assert restored.version("targets") == 1
    assert restored.root_version == 1
    assert make_client(restored).download("trusted_root.json") == TRUSTED_ROOT


def test_from_state_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="unusable TUF repository state"):
        LocalTufRepository.from_state({"manifest": b"{}"})
    with pytest.raises(ValueError, match="unusable TUF repository state"):
        LocalTufRepository.from_state({})
