"""The sans-I/O core of the TUF client: checks over python-tuf metadata, given bytes
and a time. Plain synchronous tests over metadata built here with python-tuf's
metadata API (no network, no event loop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from sigstore_async.errors import (
    BadMetadataSignature,
    LengthOrHashMismatch,
    MalformedMetadata,
    MetadataExpired,
    RollbackAttack,
)
from sigstore_async.tuf import TargetSearch, TrustedMetadata
from sigstore_async.tuf._store import role_filename, target_filename
from sigstore_async.tuf._trusted import check_target, parse_root

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


class Mini:
    """A tiny repository: one key per top-level role, everything in memory."""

    def __init__(self) -> None:
        self.signers = {r: CryptoSigner.generate_ecdsa() for r in Root().roles}
        root = Root(expires=LATER, consistent_snapshot=True)
        for role, signer in self.signers.items():
            root.add_key(signer.public_key, role)
        self.root = Metadata(root)
        self.targets = Metadata(Targets(expires=LATER))
        self.snapshot = Metadata(Snapshot(expires=LATER))
        self.timestamp = Metadata(Timestamp(expires=LATER))

    def bytes(self, md: Metadata[Any], role: str | None = None) -> bytes:
        md.signatures.clear()
        md.sign(self.signers[role or md.signed.type])
        return md.to_bytes(JSONSerializer())

    def publish(self) -> dict[str, bytes]:
        targets = self.bytes(self.targets)
        self.snapshot.signed.meta["targets.json"] = MetaFile.from_data(
            self.targets.signed.version, targets, ["sha256"]
        )
        snapshot = self.bytes(self.snapshot)
        self.timestamp.signed.snapshot_meta = MetaFile.from_data(
            self.snapshot.signed.version, snapshot, ["sha256"]
        )
        return {
            "root": self.bytes(self.root),
            "timestamp": self.bytes(self.timestamp),
            "snapshot": snapshot,
            "targets": targets,
        }


def load(files: dict[str, bytes]) -> TrustedMetadata:
    trusted = TrustedMetadata(files["root"], now=NOW)
    trusted.update_timestamp(files["timestamp"])
    trusted.update_snapshot(files["snapshot"])
    trusted.update_targets(files["targets"])
    return trusted


def test_a_complete_load() -> None:
    mini = Mini()
    trusted = load(mini.publish())
    assert trusted.complete()
    assert trusted.expires() == LATER


def test_steps_must_come_in_order() -> None:
    mini = Mini()
    files = mini.publish()
    trusted = TrustedMetadata(files["root"], now=NOW)
    with pytest.raises(RuntimeError):
        trusted.update_targets(files["targets"])
    trusted.update_timestamp(files["timestamp"])
    with pytest.raises(RuntimeError):
        trusted.update_root(files["root"])
    trusted.update_snapshot(files["snapshot"])
    trusted.update_targets(files["targets"])
    with pytest.raises(RuntimeError):
        trusted.update_snapshot(files["snapshot"])
    with pytest.raises(RuntimeError):
        trusted.update_targets(files["targets"], "nobody", "somebody")


def test_snapshot_may_not_drop_a_role_or_go_back() -> None:
    mini = Mini()
    mini.snapshot.signed.meta["extra.json"] = MetaFile(3)
    first = mini.publish()
    load(first)

    del mini.snapshot.signed.meta["extra.json"]
    mini.snapshot.signed.version += 1
    mini.timestamp.signed.version += 1
    dropped = mini.publish()
    with pytest.raises(RollbackAttack, match=r"drops extra\.json"):
        _reload(first, dropped).update_snapshot(dropped["snapshot"])

    mini.snapshot.signed.meta["extra.json"] = MetaFile(2)
    mini.snapshot.signed.version += 1
    mini.timestamp.signed.version += 1
    older = mini.publish()
    with pytest.raises(RollbackAttack, match="older than the trusted 3"):
        _reload(first, older).update_snapshot(older["snapshot"])
    # Without the cached snapshot to compare with, the same snapshot loads.
    fresh = TrustedMetadata(older["root"], now=NOW)
    fresh.update_timestamp(older["timestamp"])
    fresh.update_snapshot(older["snapshot"])


def _reload(cached: dict[str, bytes], new: dict[str, bytes]) -> TrustedMetadata:
    """A fresh set with the cached timestamp and snapshot loaded, then the new timestamp."""
    fresh = TrustedMetadata(cached["root"], now=NOW)
    fresh.update_timestamp(cached["timestamp"])
    fresh.update_timestamp(new["timestamp"])
    # The cached snapshot no longer matches the new timestamp: loaded, not final.
    with pytest.raises((RollbackAttack, LengthOrHashMismatch)):
        fresh.update_snapshot(cached["snapshot"], cached=True)
    assert not fresh.complete()
    return fresh


def test_cached_snapshot_with_other_bytes_is_not_final() -> None:
    mini = Mini()
    files = mini.publish()
    # The same version, signed again: other bytes than the timestamp's hash.
    resigned = mini.bytes(mini.snapshot).replace(b'"version": 1', b'"version":  1')
    trusted = TrustedMetadata(files["root"], now=NOW)
    trusted.update_timestamp(files["timestamp"])
    with pytest.raises(LengthOrHashMismatch):
        trusted.update_snapshot(resigned, cached=True)
    with pytest.raises(RuntimeError):
        trusted.update_targets(files["targets"])
    trusted.update_snapshot(files["snapshot"])
    trusted.update_targets(files["targets"])


def test_expiry_can_be_left_to_the_caller() -> None:
    mini = Mini()
    files = mini.publish()
    late = LATER + timedelta(days=1)
    with pytest.raises(MetadataExpired, match="root"):
        TrustedMetadata(files["root"], now=late).update_timestamp(files["timestamp"])
    trusted = TrustedMetadata(files["root"], now=late, check_expiry=False)
    trusted.update_timestamp(files["timestamp"])
    trusted.update_snapshot(files["snapshot"])
    trusted.update_targets(files["targets"])
    assert trusted.complete()


def test_timestamp_rules() -> None:
    mini = Mini()
    first = mini.publish()
    mini.timestamp.signed.version += 1
    second = mini.publish()
    trusted = TrustedMetadata(first["root"], now=NOW)
    trusted.update_timestamp(second["timestamp"])
    assert trusted.update_timestamp(second["timestamp"]) is False  # same version: kept
    with pytest.raises(RollbackAttack):
        trusted.update_timestamp(first["timestamp"])


def test_parse_root_and_targets() -> None:
    mini = Mini()
    files = mini.publish()
    assert parse_root(files["root"]).version == 1
    with pytest.raises(BadMetadataSignature):
        parse_root(mini.bytes(mini.root, "timestamp"))
    with pytest.raises(MalformedMetadata):
        parse_root(files["timestamp"])
    with pytest.raises(MalformedMetadata):
        parse_root(b"\xff")
    info = TargetFile.from_data("a", b"abc", ["sha256"])
    check_target(info, b"abc")
    with pytest.raises(LengthOrHashMismatch):
        check_target(info, b"abd")


# -- the delegation search order (spec 5.6.7) --------------------------------------------


def _targets(*roles: tuple[str, list[str], bool], has: tuple[str, ...] = ()) -> Targets:
    delegated = {
        name: DelegatedRole(name, [], 1, terminating, paths) for name, paths, terminating in roles
    }
    found = {path: TargetFile.from_data(path, b"x", ["sha256"]) for path in has}
    return Targets(targets=found, delegations=Delegations({}, delegated) if roles else None)


ANY = ["*", "*/*"]
GRAPH = {
    "targets": _targets(("a", ANY, False), ("b", ANY, True), ("c", ANY, False)),
    "a": _targets(("a1", ["x/*"], False)),
    "a1": _targets(),
    "b": _targets(("b1", ANY, False), ("a", ANY, False)),  # a again: a cycle
    "b1": _targets(has=("found",)),
    "c": _targets(has=("found", "only-c")),
}


def _walk(path: str, max_roles: int = 32) -> tuple[list[str], TargetFile | None]:
    search = TargetSearch(path, max_roles=max_roles)
    order = []
    found = None
    while (step := search.next()) is not None:
        role, _ = step
        order.append(role)
        found = search.visit(role, GRAPH[role])
        if found is not None:
            break
    return order, found


@pytest.mark.parametrize(
    ("path", "max_roles", "order", "found"),
    [
        # pre-order, depth first; b terminates the search: c is never tried.
        ("found", 32, ["targets", "a", "b", "b1"], True),
        ("only-c", 32, ["targets", "a", "b", "b1"], False),
        # a's delegate matches x/*; the cycle back to a is not followed.
        ("x/y", 32, ["targets", "a", "a1", "b", "b1"], False),
        ("found", 2, ["targets", "a"], False),
    ],
)
def test_search_order(path: str, max_roles: int, order: list[str], found: bool) -> None:
    seen, target = _walk(path, max_roles)
    assert seen == order
    assert (target is not None) == found


def test_search_finds_the_top_level_first() -> None:
    search = TargetSearch("t")
    step = search.next()
    assert step == ("targets", "root")
    assert search.visit("targets", _targets(has=("t",))) is not None
    assert search.next() is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("trusted_root.json", "trusted_root.json"),
        ("a/b", "a%2Fb"),
        ("..", "%2E."),
        (".", "%2E"),
        (".hidden", "%2Ehidden"),
        ("?#%", "%3F%23%25"),
    ],
)
def test_file_names_never_leave_their_directory(name: str, expected: str) -> None:
    assert target_filename(name) == expected
    assert "/" not in role_filename(name)
