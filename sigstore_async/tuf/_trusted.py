"""The checks of the TUF client workflow, over python-tuf's metadata API (sans-I/O).

Owns: deciding whether bytes are TUF metadata that can be trusted given what is
already trusted -- signature thresholds, root rotation, version and rollback
rules, expiry, lengths and hashes -- in the order of the specification's
detailed client workflow (TUF specification 1.0, section 5), and the order in
which the delegation graph is searched for a target (5.6.7). It takes bytes and
a ``now`` and returns python-tuf ``Signed`` objects, or raises a
:class:`~sigstore_async.errors.TufError` subclass naming the failed check.

Does not own: fetching, files, locks, the clock or retries (the updater shell,
``_updater.py``, moves the bytes and decides what to fetch next).

Why not python-tuf's own ``TrustedMetadataSet``: it lives in the private
``tuf.ngclient._internal`` package, reads the wall clock itself, and raises
python-tuf's exceptions. This module uses only the public metadata API
(``Metadata.from_bytes``, ``verify_delegate``, ``verify_length_and_hashes``,
``Delegations.get_roles_for_target``), keeps time a parameter, and raises the
SDK's typed errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TypeVar

from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import (  # type: ignore[attr-defined]
    Metadata,
    MetaFile,
    Root,
    Signed,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from ..errors import (
    BadMetadataSignature,
    LengthOrHashMismatch,
    MalformedMetadata,
    MetadataExpired,
    RollbackAttack,
    TufError,
)

__all__ = ["TargetSearch", "TrustedMetadata", "check_target", "parse_root"]

ROOT = "root"
TIMESTAMP = "timestamp"
SNAPSHOT = "snapshot"
TARGETS = "targets"

_S = TypeVar("_S", Root, Timestamp, Snapshot, Targets)


def _parse(data: bytes, kind: type[_S], role: str) -> tuple[Metadata[_S], bytes]:
    """Deserialize ``data`` as metadata of type ``kind``; return it and its signed bytes."""
    try:
        md = Metadata[_S].from_bytes(data)
        signed_bytes = md.signed_bytes
    except Exception as e:  # DeserializationError, and anything a hostile document provokes
        raise MalformedMetadata(f"not valid TUF metadata: {e}", role=role) from e
    if not isinstance(md.signed, kind):
        raise MalformedMetadata(f"expected {kind.type} metadata, got {md.signed.type}", role=role)
    return md, signed_bytes


def _verify(delegator: Root | Targets, role: str, md: Metadata[_S], signed_bytes: bytes) -> None:
    """Spec 5.3.4, 5.4.2, 5.5.3, 5.6.3: a threshold of the delegator's keys for ``role``."""
    try:
        delegator.verify_delegate(role, signed_bytes, md.signatures)
    except UnsignedMetadataError as e:
        raise BadMetadataSignature(str(e), role=role) from e
    except Exception as e:  # no delegation for the role, a key of an unknown kind
        raise BadMetadataSignature(f"cannot verify signatures: {e}", role=role) from e


def _check_meta(meta: MetaFile | TargetFile, data: bytes, role: str) -> None:
    """Spec 5.5.2, 5.6.2, 5.7.3: the length and hashes the parent records, when it does."""
    try:
        meta.verify_length_and_hashes(data)
    except LengthOrHashMismatchError as e:
        raise LengthOrHashMismatch(str(e), role=role) from e


def parse_root(data: bytes) -> Root:
    """Parse a root and check that it is signed by a threshold of its own root keys.

    Raises:
        MalformedMetadata: not root metadata.
        BadMetadataSignature: not signed by itself.
    """
    md, signed_bytes = _parse(data, Root, ROOT)
    _verify(md.signed, ROOT, md, signed_bytes)
    return md.signed


def check_target(info: TargetFile, data: bytes) -> None:
    """Check a target file's bytes against its trusted length and hashes (spec 5.7.3).

    Raises:
        LengthOrHashMismatch: they differ.
    """
    _check_meta(info, data, f"target:{info.path}")


class TrustedMetadata:
    """The metadata of one repository trusted so far, grown one verified step at a time.

    Start from a trusted root (the bootstrap root shipped with the client, or
    one the user chose); then, in this order: newer roots (:meth:`update_root`),
    the timestamp, the snapshot, the top-level targets and delegated targets.
    A step fails with a ``TufError`` and leaves what was trusted before as it
    was, except for the "intermediate" cases the specification asks for: an
    expired timestamp or snapshot, or a snapshot whose version the timestamp
    does not name, is kept (and so used to detect a rollback by the next one)
    but is not final, so nothing after it can load.

    ``check_expiry=False`` skips every expiry check; offline use of a cache takes
    it, because expiry is the freshness that only the network can give.
    """

    def __init__(
        self,
        root: bytes,
        *,
        now: datetime,
        check_expiry: bool = True,
    ) -> None:
        self.now = now
        self.check_expiry = check_expiry
        # Spec 5.2: the trusted root is trusted because the user chose it, and
        # must still be signed by a threshold of its own keys.
        self._root: Root = parse_root(root)
        self._timestamp: Timestamp | None = None
        self._snapshot: Snapshot | None = None
        self._snapshot_final_error: TufError | None = None
        # Targets metadata by (delegator, role): a role is trusted only as its
        # delegator's delegate.
        self._targets: dict[tuple[str, str], Targets] = {}

    # -- reading -----------------------------------------------------------------------------

    @property
    def root(self) -> Root:
        return self._root

    @property
    def timestamp(self) -> Timestamp:
        if self._timestamp is None:
            raise RuntimeError("no timestamp loaded")
        return self._timestamp

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            raise RuntimeError("no snapshot loaded")
        return self._snapshot

    @property
    def targets(self) -> Targets:
        found = self._targets.get((ROOT, TARGETS))
        if found is None:
            raise RuntimeError("no targets loaded")
        return found

    def delegated(self, role: str, delegator: str) -> Targets | None:
        """The verified metadata of ``role`` as ``delegator``'s delegate, if loaded."""
        return self._targets.get((delegator, role))

    def complete(self) -> bool:
        """Whether every top-level role is loaded and final."""
        return (
            self._timestamp is not None
            and self._snapshot is not None
            and self._snapshot_final_error is None
            and (ROOT, TARGETS) in self._targets
        )

    def expires(self) -> datetime:
        """The earliest expiry among the loaded top-level roles."""
        signed: list[Signed] = [self._root]
        signed += [s for s in (self._timestamp, self._snapshot) if s is not None]
        signed += [t for (parent, _), t in self._targets.items() if parent == ROOT]
        return min(s.expires for s in signed)

    # -- the workflow ---------------------------------------------------------------------------

    def _expired(self, signed: Signed) -> bool:
        return self.check_expiry and signed.is_expired(self.now)

    def update_root(self, data: bytes) -> Root:
        """Verify ``data`` as the next root version and trust it (spec 5.3.3 to 5.3.8).

        An expired root is accepted here: only the last one must be current
        (5.3.10, checked when the timestamp loads).

        Raises:
            RuntimeError: the timestamp is already loaded.
            MalformedMetadata: not root metadata.
            BadMetadataSignature: not signed by a threshold of the trusted root's
                root keys, or of its own.
            RollbackAttack: its version is not the trusted version plus one.
        """
        if self._timestamp is not None:
            raise RuntimeError("roots must be updated before the timestamp")
        md, signed_bytes = _parse(data, Root, ROOT)
        # 5.3.4: a threshold of the keys of the trusted root, and of its own.
        _verify(self._root, ROOT, md, signed_bytes)
        _verify(md.signed, ROOT, md, signed_bytes)
        # 5.3.5: exactly the next version.
        expected = self._root.version + 1
        if md.signed.version != expected:
            raise RollbackAttack(
                f"expected root version {expected}, got {md.signed.version}", role=ROOT
            )
        self._root = md.signed
        return md.signed

    def check_root(self) -> None:
        """Spec 5.3.10: the final root must not have expired.

        Raises:
            MetadataExpired: it has.
        """
        if self._expired(self._root):
            raise MetadataExpired(
                f"root version {self._root.version} expired at {self._root.expires}", role=ROOT
            )

    def update_timestamp(self, data: bytes) -> bool:
        """Verify ``data`` as the timestamp (spec 5.4).

        Returns ``False`` when it has the version already trusted: the trusted
        one is kept (and should not be stored again). An expired timestamp is
        kept as the reference for the next one's rollback check, then raises.

        Raises:
            RuntimeError: the snapshot is already loaded.
            MetadataExpired: the final root, or this timestamp, has expired.
            MalformedMetadata, BadMetadataSignature: as for any role.
            RollbackAttack: its version, or the snapshot version it names, is
                older than the trusted timestamp's.
        """
        if self._snapshot is not None:
            raise RuntimeError("the timestamp must be updated before the snapshot")
        self.check_root()
        md, signed_bytes = _parse(data, Timestamp, TIMESTAMP)
        _verify(self._root, TIMESTAMP, md, signed_bytes)  # 5.4.2
        new, old = md.signed, self._timestamp
        if old is not None:
            # 5.4.3.1: no older timestamp; the same version is kept as it is.
            if new.version < old.version:
                raise RollbackAttack(
                    f"timestamp version {new.version} is older than the trusted "
                    f"version {old.version}",
                    role=TIMESTAMP,
                )
            if new.version == old.version:
                return False
            # 5.4.3.2: no older snapshot.
            if new.snapshot_meta.version < old.snapshot_meta.version:
                raise RollbackAttack(
                    f"timestamp names snapshot version {new.snapshot_meta.version}, older "
                    f"than the trusted version {old.snapshot_meta.version}",
                    role=TIMESTAMP,
                )
        self._timestamp = new
        self._check_timestamp_final()  # 5.4.4
        return True

    def _check_timestamp_final(self) -> Timestamp:
        ts = self._timestamp
        if ts is None:
            raise RuntimeError("no timestamp loaded")
        if self._expired(ts):
            raise MetadataExpired(
                f"timestamp version {ts.version} expired at {ts.expires}", role=TIMESTAMP
            )
        return ts

    def update_snapshot(self, data: bytes, *, cached: bool = False) -> None:
        """Verify ``data`` as the snapshot (spec 5.5).

        ``cached=True`` is for the copy in the local cache: it is loaded even
        when the timestamp no longer matches it, so that it is the reference
        for the rollback check of the one that replaces it, but it is final
        only if it matches the timestamp's version and recorded hashes.

        Raises:
            RuntimeError: out of order.
            MetadataExpired: the timestamp or this snapshot has expired.
            LengthOrHashMismatch: not the length or hashes the timestamp records.
            RollbackAttack: a role's version went back or a role disappeared
                since the trusted snapshot, or the version is not the one the
                timestamp names.
            MalformedMetadata, BadMetadataSignature: as for any role.
        """
        ts = self._check_timestamp_final()
        if self._targets:
            raise RuntimeError("the snapshot must be updated before targets")
        meta = ts.snapshot_meta
        hash_error: TufError | None = None
        if not cached:
            _check_meta(meta, data, SNAPSHOT)  # 5.5.2
        md, signed_bytes = _parse(data, Snapshot, SNAPSHOT)
        _verify(self._root, SNAPSHOT, md, signed_bytes)  # 5.5.3
        new, old = md.signed, self._snapshot
        if old is not None:
            # 5.5.5: no role disappears, no role's version goes back.
            for name, info in old.meta.items():
                now_info = new.meta.get(name)
                if now_info is None:
                    raise RollbackAttack(
                        f"snapshot version {new.version} drops {name}", role=SNAPSHOT
                    )
                if now_info.version < info.version:
                    raise RollbackAttack(
                        f"snapshot version {new.version} names {name} version "
                        f"{now_info.version}, older than the trusted {info.version}",
                        role=SNAPSHOT,
                    )
        if cached:
            try:
                _check_meta(meta, data, SNAPSHOT)
            except TufError as e:
                hash_error = e
        self._snapshot = new
        self._snapshot_final_error = None
        # 5.5.4 and 5.5.6: final only when it is the version the timestamp names
        # and it is current.
        if new.version != meta.version:
            self._snapshot_final_error = RollbackAttack(
                f"timestamp names snapshot version {meta.version}, got {new.version}",
                role=SNAPSHOT,
            )
        elif hash_error is not None:
            self._snapshot_final_error = hash_error
        elif self._expired(new):
            self._snapshot_final_error = MetadataExpired(
                f"snapshot version {new.version} expired at {new.expires}", role=SNAPSHOT
            )
        if self._snapshot_final_error is not None:
            raise self._snapshot_final_error

    def update_targets(self, data: bytes, role: str = TARGETS, delegator: str = ROOT) -> Targets:
        """Verify ``data`` as targets metadata for ``role``, delegated by ``delegator``
        (``"root"`` for the top-level targets role; spec 5.6).

        Raises:
            RuntimeError: the snapshot is not final, or the delegator is not loaded.
            MalformedMetadata: the snapshot does not list the role, or not
                targets metadata.
            LengthOrHashMismatch: not the length or hashes the snapshot records.
            BadMetadataSignature: not signed by a threshold of the keys the
                delegator trusts for the role.
            RollbackAttack: not the version the snapshot names.
            MetadataExpired: it has expired.
        """
        if self._snapshot is None or self._snapshot_final_error is not None:
            raise RuntimeError("targets need a final snapshot")
        parent: Root | Targets | None
        if delegator == ROOT:
            if role != TARGETS:
                raise RuntimeError("root delegates only the top-level targets role")
            parent = self._root
        else:
            parent = next((t for (_, r), t in self._targets.items() if r == delegator), None)
        if parent is None:
            raise RuntimeError(f"{delegator} must be loaded before its delegate {role}")
        meta = self._snapshot.meta.get(f"{role}.json")
        if meta is None:
            raise MalformedMetadata("the snapshot does not list this role", role=role)
        _check_meta(meta, data, role)  # 5.6.2
        md, signed_bytes = _parse(data, Targets, role)
        _verify(parent, role, md, signed_bytes)  # 5.6.3
        if md.signed.version != meta.version:  # 5.6.4
            raise RollbackAttack(
                f"snapshot names version {meta.version}, got {md.signed.version}", role=role
            )
        if self._expired(md.signed):  # 5.6.5
            raise MetadataExpired(
                f"version {md.signed.version} expired at {md.signed.expires}", role=role
            )
        self._targets[(delegator, role)] = md.signed
        return md.signed

    def snapshot_meta(self, role: str) -> MetaFile:
        """What the snapshot records for ``role``.

        Raises:
            MalformedMetadata: it records nothing.
        """
        meta = self.snapshot.meta.get(f"{role}.json")
        if meta is None:
            raise MalformedMetadata("the snapshot does not list this role", role=role)
        return meta


class TargetSearch:
    """The order in which the delegation graph is searched for one target (spec 5.6.7).

    A pre-order depth-first walk from the top-level targets role: a role's own
    targets first, then the delegates trusted for the path, in the order they
    are listed. A role is visited once (cycles end there); after a terminating
    delegation no other branch is tried; at most ``max_roles`` roles are
    visited. The shell drives it::

        search = TargetSearch(path)
        while (step := search.next()) is not None:
            role, delegator = step
            found = search.visit(role, await load(role, delegator))
            if found is not None:
                break
    """

    def __init__(self, path: str, *, max_roles: int = 32) -> None:
        self.path = path
        self.max_roles = max_roles
        self._stack: list[tuple[str, str]] = [(TARGETS, ROOT)]
        self._visited: set[str] = set()

    def next(self) -> tuple[str, str] | None:
        """The next (role, delegator) to load and :meth:`visit`, or ``None`` when done."""
        while self._stack and len(self._visited) < self.max_roles:
            role, delegator = self._stack.pop()
            if role not in self._visited:
                return role, delegator
        return None

    def visit(self, role: str, targets: Targets) -> TargetFile | None:
        """Look in ``role``'s verified metadata; queue its delegates if the target is not there."""
        self._visited.add(role)
        found: TargetFile | None = targets.targets.get(self.path)
        if found is not None:
            self._stack.clear()
            return found
        if targets.delegations is None:
            return None
        children: list[tuple[str, str]] = []
        for child, terminating in _roles_for(targets, self.path):
            children.append((child, role))
            if terminating:
                # 5.6.7.2.1: do not backtrack to other roles after this one.
                self._stack.clear()
                break
        self._stack.extend(reversed(children))
        return None


def _roles_for(targets: Targets, path: str) -> Iterator[tuple[str, bool]]:
    assert targets.delegations is not None
    # Paths (shell-style patterns), path hash prefixes and succinct hash bins
    # (TAP 15) are matched by python-tuf's public Delegations API.
    yield from targets.delegations.get_roles_for_target(path)
