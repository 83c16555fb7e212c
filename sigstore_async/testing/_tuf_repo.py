"""A TUF repository made and signed in memory, for tests of TUF clients.

Owns: the metadata of a TUF 1.0 repository (root, timestamp, snapshot, targets and delegated
targets roles), its signing keys, the bytes it serves, and the ways a test can make it lie
(rollback, mix-and-match, expiry, bad signatures, wrong hashes, endless data). Metadata is built
and signed with python-tuf's metadata API (``tuf.api.metadata``), so what is served is what a
real repository would serve, written by independent code rather than by the client under test.

The layout is Sigstore's: consistent snapshots, metadata at the repository root as
``<version>.<role>.json`` plus the unversioned ``timestamp.json``, and target files under
``targets/`` as ``<sha256 hex>.<name>``.

Does not own: an HTTP server. :meth:`LocalTufRepository.handle` answers a request synchronously;
:meth:`LocalTufRepository.asgi_app` wraps it as an ASGI callable that ``LocalSigstore`` mounts
under ``/tuf/`` or that can be served alone. It does not read the wall clock except through the
``clock`` it is given (by default :func:`sigstore_async._time.utc_now`).

Attack modes change what is served and stay in force until the repository publishes new bytes at
the same path, or until :meth:`LocalTufRepository.heal`.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar
from urllib.parse import quote, unquote

import attrs
from cryptography.hazmat.primitives.serialization import load_pem_private_key

# Neither package lists these in __all__, so mypy --strict sees them as not re-exported.
from securesystemslib.signer import CryptoSigner, Key, SSlibKey  # type: ignore[attr-defined]
from tuf.api.metadata import (  # type: ignore[attr-defined]
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

from sigstore_async._time import Clock, utc_now

__all__ = [
    "DEFAULT_LIFETIMES",
    "Delegation",
    "LocalTufRepository",
    "hash_bin_delegations",
]

ROOT: Final = "root"
TIMESTAMP: Final = "timestamp"
SNAPSHOT: Final = "snapshot"
TARGETS: Final = "targets"
_TOP_LEVEL: Final = (ROOT, TIMESTAMP, SNAPSHOT, TARGETS)
_ONLINE: Final = (TIMESTAMP, SNAPSHOT, TARGETS)

#: How long freshly signed metadata stays valid, per role. Delegated roles use ``targets``.
DEFAULT_LIFETIMES: Final[Mapping[str, timedelta]] = {
    ROOT: timedelta(days=365),
    TARGETS: timedelta(days=90),
    SNAPSHOT: timedelta(days=7),
    TIMESTAMP: timedelta(days=1),
}

_KEY_SCHEMES: Final = ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ed25519")
_HASH: Final = "sha256"
_STATE_FORMAT: Final = 1
# Indented, like Sigstore's files: not canonical JSON, so a client that verifies signatures over
# the bytes it downloaded instead of over the canonical form of ``signed`` fails here too.
_SERIALIZER: Final = JSONSerializer(compact=False)

_T = TypeVar("_T", Root, Timestamp, Snapshot, Targets)

# ASGI 3 callables, typed loosely (the other side is any ASGI server or framework).
_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
ASGIApp = Callable[[_Scope, _Receive, _Send], Awaitable[None]]


def _to_tuple(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class Delegation:
    """A delegated targets role, as :meth:`LocalTufRepository.set_delegations` publishes it.

    Exactly one of ``paths`` (shell-style patterns, TUF ``paths``) and ``path_hash_prefixes``
    (hex prefixes of the SHA-256 of the target path, TUF ``path_hash_prefixes``) is set.
    ``targets`` are the role's initial target files. ``keys`` fresh keys are made for the role,
    ``threshold`` of which must sign it.
    """

    name: str
    paths: tuple[str, ...] | None = attrs.field(default=None, converter=_to_tuple)
    path_hash_prefixes: tuple[str, ...] | None = attrs.field(default=None, converter=_to_tuple)
    terminating: bool = False
    keys: int = 1
    threshold: int = 1
    targets: Mapping[str, bytes] = attrs.field(factory=dict, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if (self.paths is None) == (self.path_hash_prefixes is None):
            raise ValueError(f"{self.name}: set exactly one of paths and path_hash_prefixes")
        if not 1 <= self.threshold <= self.keys:
            raise ValueError(f"{self.name}: need 1 <= threshold <= keys")
        if self.name in _TOP_LEVEL or not self.name:
            raise ValueError(f"a delegated role cannot be called {self.name!r}")

    def role(self, keyids: list[str]) -> DelegatedRole:
        """The python-tuf ``DelegatedRole`` for this delegation with these key ids."""
        return DelegatedRole(
            self.name,
            keyids,
            self.threshold,
            self.terminating,
            None if self.paths is None else list(self.paths),
            None if self.path_hash_prefixes is None else list(self.path_hash_prefixes),
        )

    def matches(self, target_path: str) -> bool:
        """Whether this role is trusted for ``target_path`` (TUF's own matching rules)."""
        return self.role([]).is_delegated_path(target_path)


def hash_bin_delegations(
    bit_length: int, *, name_prefix: str = "bin", keys: int = 1, threshold: int = 1
) -> list[Delegation]:
    """``2**bit_length`` terminating hash-bin delegations that together cover every target.

    Bin ``i`` is named ``<name_prefix>-<i in hex>`` and owns a run of consecutive SHA-256 hex
    prefixes (as in the TUF specification's hashed bin delegation). Use
    :meth:`Delegation.matches` to find the bin of a target.
    """
    if not 1 <= bit_length <= 12:
        raise ValueError("bit_length must be between 1 and 12")
    bins = 2**bit_length
    prefix_len = -(-bit_length // 4)
    per_bin = 16**prefix_len // bins
    width = len(f"{bins - 1:x}")
    return [
        Delegation(
            name=f"{name_prefix}-{i:0{width}x}",
            path_hash_prefixes=[
                f"{p:0{prefix_len}x}" for p in range(i * per_bin, (i + 1) * per_bin)
            ],
            terminating=True,
            keys=keys,
            threshold=threshold,
        )
        for i in range(bins)
    ]


def _path(path: str) -> str:
    """A repository path as stored: unquoted, without query or leading slash."""
    return unquote(path.split("?", 1)[0]).lstrip("/")


# The units digit of the seconds of "expires": changing it keeps the length and the date valid.
_EXPIRES_SECONDS: Final = re.compile(rb'("expires": ?"\d{4}-\d\d-\d\dT\d\d:\d\d:\d)(\d)(Z")')


def _tamper_seconds(match: re.Match[bytes]) -> bytes:
    digit = (int(match[2]) + 1) % 10
    return match[1] + str(digit).encode() + match[3]


def _flip_last_byte(data: bytes) -> bytes:
    if not data:
        raise ValueError("cannot alter an empty file without changing its length")
    return data[:-1] + bytes([data[-1] ^ 0x01])


class LocalTufRepository:
    """An in-memory TUF repository with consistent snapshots, for tests of TUF clients.

    Example::

        repo = LocalTufRepository({"trusted_root.json": data}, root_versions=12)
        bootstrap = repo.root_json()        # root v1; a client walks to v12
        status, headers, body = repo.handle("GET", "/timestamp.json")

    Args:
        targets: Target files of the top-level targets role, name to content.
        clock: Returns the current aware time; metadata expires this long after it is signed
            (see ``lifetimes``). Default: the wall clock.
        root_versions: Root versions to make at once; each version after the first rotates
            every root key (see :meth:`walk_to_version`).
        keys_for_role: How many keys each top-level role has (default 1 each).
        threshold: The signature threshold of each top-level role (default 1 each).
        lifetimes: Per-role validity, overriding :data:`DEFAULT_LIFETIMES`.
        meta_hashes: Whether timestamp and snapshot record the length and SHA-256 of the
            metadata they point at (as Sigstore's repository does) or only its version.
        key_scheme: ``ecdsa-sha2-nistp256`` (Sigstore's), ``ecdsa-sha2-nistp384`` or
            ``ed25519``.

    Raises:
        ValueError: Inconsistent keys, thresholds, versions or scheme.

    Attributes:
        counts: Requests seen by :meth:`handle`, per path (``"/timestamp.json"``,
            ``"/targets/<hash>.<name>"``), unknown paths included. Clear it freely.

    Every method takes one lock, so a client in a worker thread and the ASGI app in the event
    loop may share a repository. Keys are made fresh for each repository and leave it only
    through :meth:`export_state` (which :meth:`from_state` reads back, for restarts).
    """

    def __init__(
        self,
        targets: Mapping[str, bytes] | None = None,
        *,
        clock: Clock = utc_now,
        root_versions: int = 1,
        keys_for_role: Mapping[str, int] | None = None,
        threshold: Mapping[str, int] | None = None,
        lifetimes: Mapping[str, timedelta] | None = None,
        meta_hashes: bool = True,
        key_scheme: str = "ecdsa-sha2-nistp256",
    ) -> None:
        if key_scheme not in _KEY_SCHEMES:
            raise ValueError(f"key_scheme must be one of {_KEY_SCHEMES}")
        if root_versions < 1:
            raise ValueError("root_versions must be >= 1")
        keys_for_role = dict(keys_for_role or {})
        threshold = dict(threshold or {})
        if not set(keys_for_role) | set(threshold) <= set(_TOP_LEVEL):
            raise ValueError(f"keys_for_role and threshold take only the roles {_TOP_LEVEL}")

        self._setup(clock, lifetimes, meta_hashes, key_scheme)
        root = Root(expires=self._expiry(ROOT), consistent_snapshot=True)
        for role in _TOP_LEVEL:
            count, role_threshold = keys_for_role.get(role, 1), threshold.get(role, 1)
            if not 1 <= role_threshold <= count:
                raise ValueError(f"{role}: need 1 <= threshold <= keys")
            self._signers[role] = [self._new_signer() for _ in range(count)]
            for signer in self._signers[role]:
                root.add_key(signer.public_key, role)
            root.roles[role].threshold = role_threshold
        self._root = Metadata(root)
        self._root_signers[1] = list(self._signers[ROOT])
        self._sign(self._root, self._signers[ROOT])
        self._store(ROOT, self._root)

        self._targets: dict[str, Metadata[Targets]] = {
            TARGETS: Metadata(Targets(expires=self._expiry(TARGETS)))
        }
        self._delegator: dict[str, str] = {}
        for name, data in (targets or {}).items():
            self._add_target(TARGETS, name, data)
        self._snapshot = Metadata(Snapshot(expires=self._expiry(SNAPSHOT), meta={}))
        self._timestamp = Metadata(Timestamp(expires=self._expiry(TIMESTAMP)))
        self._commit({TARGETS, SNAPSHOT, TIMESTAMP}, in_place=_ONLINE)
        self.walk_to_version(root_versions)

    def _setup(
        self,
        clock: Clock,
        lifetimes: Mapping[str, timedelta] | None,
        meta_hashes: bool,
        key_scheme: str,
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._lifetimes = {**DEFAULT_LIFETIMES, **(lifetimes or {})}
        self._meta_hashes = meta_hashes
        self._key_scheme = key_scheme
        self._signers: dict[str, list[CryptoSigner]] = {}
        self._root_signers: dict[int, list[CryptoSigner]] = {}
        self._history: dict[str, dict[int, bytes]] = {}
        self._files: dict[str, bytes] = {}
        self._overrides: dict[str, tuple[int, bytes]] = {}
        self.counts: Counter[str] = Counter()

    # -- persistence -----------------------------------------------------------------------

    def export_state(self) -> dict[str, bytes]:
        """What :meth:`from_state` needs to go on publishing after a restart, as named blobs.

        Holds the private keys of every role (PEM, unencrypted: these are test keys), every
        root version, the current timestamp, snapshot and targets roles as served, and the
        target files they list. Attack modes (:meth:`set_response` and the like) are not kept.
        """
        with self._lock:
            keys: dict[str, dict[str, Any]] = {}

            def ids(signers: Iterable[CryptoSigner]) -> list[str]:
                out = []
                for signer in signers:
                    public = signer.public_key
                    keys[public.keyid] = {
                        "private": signer.private_bytes.decode(),
                        "public": public.to_dict(),
                    }
                    out.append(public.keyid)
                return out

            manifest = {
                "format": _STATE_FORMAT,
                "key_scheme": self._key_scheme,
                "signers": {role: ids(signers) for role, signers in self._signers.items()},
                "root_signers": {str(v): ids(s) for v, s in self._root_signers.items()},
                "targets_roles": list(self._targets),
                "delegator": dict(self._delegator),
                "keys": keys,
            }
            records = {"manifest": json.dumps(manifest, sort_keys=True).encode()}
            for version, data in self._history[ROOT].items():
                records[f"root/{version}"] = data
            for role in (TIMESTAMP, SNAPSHOT, *self._targets):
                records[f"current/{role}"] = self._current_bytes(role)
            for md in self._targets.values():
                for target in md.signed.targets.values():
                    path = self._target_file_path(target)
                    if path in self._files:
                        records[f"file/{path}"] = self._files[path]
            return records

    @classmethod
    def from_state(
        cls,
        records: Mapping[str, bytes],
        targets: Mapping[str, bytes] | None = None,
        *,
        clock: Clock = utc_now,
        lifetimes: Mapping[str, timedelta] | None = None,
        meta_hashes: bool = True,
    ) -> LocalTufRepository:
        """The repository that :meth:`export_state` saved, with the same keys and metadata.

        Every root version is served again, byte for byte, so a client that trusts any of
        them goes on updating. When a file of ``targets`` differs from (or is missing in)
        the top-level targets role, the role is published again with it (a new targets
        version, signed by the same keys; root unchanged); other target files stay. Roles
        that have expired, or spent more than half their lifetime, are published again with
        a new version and a fresh expiry (root included, signed by the same keys).

        Raises:
            ValueError: ``records`` is not a state this class wrote.
        """
        try:
            manifest = json.loads(records["manifest"])
            if manifest.get("format") != _STATE_FORMAT:
                raise ValueError(f"unknown TUF state format {manifest.get('format')!r}")
            repo = cls.__new__(cls)
            repo._setup(clock, lifetimes, meta_hashes, manifest["key_scheme"])
            signers = {
                keyid: CryptoSigner(
                    load_pem_private_key(key["private"].encode(), None),
                    SSlibKey.from_dict(keyid, dict(key["public"])),
                )
                for keyid, key in manifest["keys"].items()
            }
            repo._signers = {
                role: [signers[k] for k in ids] for role, ids in manifest["signers"].items()
            }
            repo._root_signers = {
                int(v): [signers[k] for k in ids] for v, ids in manifest["root_signers"].items()
            }
            for name, data in records.items():
                kind, _, rest = name.partition("/")
                if kind == "root":
                    repo._history.setdefault(ROOT, {})[int(rest)] = data
                    repo._put(f"{int(rest)}.root.json", data)
                elif kind == "file":
                    repo._put(rest, data)
            newest = max(repo._history[ROOT])
            repo._root = Metadata[Root].from_bytes(repo._history[ROOT][newest])
            repo._targets = {}
            for role in manifest["targets_roles"]:
                repo._targets[role] = repo._restore(role, records[f"current/{role}"], Targets)
            repo._delegator = dict(manifest["delegator"])
            repo._snapshot = repo._restore(SNAPSHOT, records[f"current/{SNAPSHOT}"], Snapshot)
            repo._timestamp = repo._restore(TIMESTAMP, records[f"current/{TIMESTAMP}"], Timestamp)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"unusable TUF repository state: {e!r}") from e
        with repo._lock:
            repo._refresh(targets)
        return repo

    def _restore(self, role: str, data: bytes, kind: type[_T]) -> Metadata[_T]:
        md = Metadata[_T].from_bytes(data)
        if not isinstance(md.signed, kind):
            raise ValueError(f"{role} is a {md.signed.type}")
        self._history.setdefault(role, {})[md.signed.version] = data
        self._put(
            "timestamp.json" if role == TIMESTAMP else f"{md.signed.version}.{role}.json", data
        )
        return md

    def _current_bytes(self, role: str) -> bytes:
        version = self._metadata(role).signed.version
        return self._history[role].get(version) or self._metadata(role).to_bytes(_SERIALIZER)

    def _refresh(self, targets: Mapping[str, bytes] | None) -> None:
        """After a restart: publish ``targets`` if they changed, and renew stale roles."""
        now = self._now()

        def stale(role: str) -> bool:
            expires: datetime = self._metadata(role).signed.expires
            lifetime = self._lifetimes.get(role, self._lifetimes[TARGETS])
            return expires - now < lifetime / 2

        if stale(ROOT):
            self._publish_root(self._signers[ROOT])
        changed = {role for role in (*self._targets, SNAPSHOT, TIMESTAMP) if stale(role)}
        current = self._targets[TARGETS].signed.targets
        for name, data in (targets or {}).items():
            target = current.get(name)
            if target is not None and target == TargetFile.from_data(name, data, [_HASH]):
                self._put(self._target_file_path(target), data)
            else:
                self._add_target(TARGETS, name, data)
                changed.add(TARGETS)
        if changed:
            self._commit(changed)

    # -- reading ---------------------------------------------------------------------------

    def root_json(self, version: int = 1) -> bytes:
        """The signed bytes of root ``version`` (default the first, the bootstrap root).

        Raises:
            KeyError: No such root version.
        """
        with self._lock:
            return self._history[ROOT][version]

    @property
    def root_version(self) -> int:
        """The newest root version published."""
        with self._lock:
            return self._root.signed.version

    def version(self, role: str) -> int:
        """The newest version published of ``role`` (top-level or delegated).

        Raises:
            KeyError: Unknown role.
        """
        with self._lock:
            return int(self._metadata(role).signed.version)

    def target_path(self, name: str, role: str | None = None) -> str:
        """The URL path (``/targets/<sha256>.<name>``) of the current target ``name``.

        Searches ``role``, or every targets role when ``role`` is None.

        Raises:
            KeyError: No such target.
        """
        with self._lock:
            roles = [role] if role is not None else list(self._targets)
            for candidate in roles:
                target = self._targets[candidate].signed.targets.get(name)
                if target is not None:
                    return "/" + self._target_file_path(target)
            raise KeyError(name)

    # -- serving ---------------------------------------------------------------------------

    def handle(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        """Answer a request for ``path``, relative to the repository root.

        ``path`` is the URL path as sent (percent-encoding is undone, a query is ignored):
        ``/<version>.root.json``, ``/timestamp.json``, ``/<version>.<role>.json``,
        ``/targets/<sha256>.<name>``. GET and HEAD only; anything unknown is a 404.

        Returns:
            The status, the response headers and the body.
        """
        key = _path(path)
        with self._lock:
            self.counts["/" + key] += 1
            if method not in ("GET", "HEAD"):
                return 405, {"allow": "GET, HEAD", "content-length": "0"}, b""
            if key in self._overrides:
                status, body = self._overrides[key]
            elif key in self._files:
                status, body = 200, self._files[key]
            else:
                status, body = 404, b"not found"
        if status != 200:
            content_type = "text/plain"
        elif key.endswith(".json") and not key.startswith("targets/"):
            content_type = "application/json"
        else:
            content_type = "application/octet-stream"
        headers = {"content-type": content_type, "content-length": str(len(body))}
        return status, headers, b"" if method == "HEAD" else body

    def asgi_app(self) -> ASGIApp:
        """An ASGI 3 application serving :meth:`handle`.

        Mounted under a prefix, it answers relative to the scope's ``root_path`` when the path
        starts with it (both ASGI conventions for ``path`` work). Lifespan events are accepted.
        """

        async def app(scope: _Scope, receive: _Receive, send: _Send) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            if scope["type"] != "http":
                raise RuntimeError(f"LocalTufRepository serves HTTP only, not {scope['type']}")
            path: str = scope["path"]
            root_path: str = scope.get("root_path", "")
            if root_path and path.startswith(root_path):
                path = path[len(root_path) :]
            status, headers, body = self.handle(scope["method"], quote(path))
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

        return app

    # -- honest changes --------------------------------------------------------------------

    def publish_target(self, name: str, data: bytes, *, role: str = TARGETS) -> str:
        """Add or replace target ``name`` in ``role``; publish new role, snapshot and timestamp.

        Returns:
            The target's URL path, ``/targets/<sha256>.<name>``.

        Raises:
            KeyError: Unknown role.
        """
        with self._lock:
            path = self._add_target(role, name, data)
            self._commit({role})
            return "/" + path

    def remove_target(self, name: str, *, role: str = TARGETS) -> None:
        """Drop target ``name`` from ``role`` (its file stays served, as in a real repository).

        Raises:
            KeyError: Unknown role or target.
        """
        with self._lock:
            del self._targets[role].signed.targets[name]
            self._commit({role})

    def rotate_root(
        self,
        *,
        keys_for_role: Mapping[str, int] | None = None,
        keep: Mapping[str, int] | None = None,
        threshold: Mapping[str, int] | None = None,
        signed_by_old: bool = True,
        signed_by_new: bool = True,
    ) -> int:
        """Publish the next root version, changing keys and thresholds of top-level roles.

        For each role in ``keys_for_role`` (default: ``{"root": <current count>}``, a complete
        rotation of the root keys) the role ends with that many keys: the first ``keep[role]``
        (default 0) current keys survive and fresh keys make up the rest; rotated-out keys are
        gone from the new root. ``threshold`` sets new thresholds. The new root is signed by the
        keys of the previous root and of the new root, as the TUF specification requires
        (5.3.4, 5.3.5); online roles whose keys or threshold changed are re-signed and
        republished.

        ``signed_by_old=False`` leaves out every key of the previous root (an attack: the
        client must refuse, UnsignedMetadataError); ``signed_by_new=False`` signs with the
        previous root's keys only (the client must refuse unless they meet the new threshold).

        Returns:
            The new root version.

        Raises:
            ValueError: A count, keep or threshold that cannot work, or a non-top-level role.
        """
        with self._lock:
            if keys_for_role is None:
                keys_for_role = {ROOT: len(self._signers[ROOT])}
            keep = dict(keep or {})
            threshold = dict(threshold or {})
            if not set(keep) <= set(keys_for_role):
                raise ValueError("keep applies only to roles in keys_for_role")
            root = self._root.signed
            for role in set(keys_for_role) | set(threshold):
                if role not in _TOP_LEVEL:
                    raise ValueError(f"{role} is not a top-level role")
                count = keys_for_role.get(role, len(self._signers[role]))
                kept = keep.get(role, 0)
                if not 0 <= kept <= min(count, len(self._signers[role])):
                    raise ValueError(f"{role}: cannot keep {kept} keys")
                if not 1 <= threshold.get(role, root.roles[role].threshold) <= count:
                    raise ValueError(f"{role}: need 1 <= threshold <= keys")

            old_signers = list(self._signers[ROOT])
            for role, count in keys_for_role.items():
                kept = keep.get(role, 0)
                for signer in self._signers[role][kept:]:
                    root.revoke_key(signer.public_key.keyid, role)
                fresh = [self._new_signer() for _ in range(count - kept)]
                for signer in fresh:
                    root.add_key(signer.public_key, role)
                self._signers[role] = self._signers[role][:kept] + fresh
            for role, value in threshold.items():
                root.roles[role].threshold = value

            old_ids = {s.public_key.keyid for s in old_signers}
            signers = old_signers if signed_by_old else []
            if signed_by_new:
                signers += [s for s in self._signers[ROOT] if s.public_key.keyid not in old_ids]
            version = self._publish_root(signers)
            online = (set(keys_for_role) | set(threshold)) - {ROOT}
            if online:
                self._commit(online)
            return version

    def walk_to_version(self, version: int) -> None:
        """Rotate every root key, one root version at a time, until root is at ``version``.

        Each step is a full rotation, so a client can only reach ``version`` by verifying
        every intermediate root in turn.

        Raises:
            ValueError: ``version`` is older than the current root.
        """
        with self._lock:
            if version < self._root.signed.version:
                raise ValueError(f"root is already at version {self._root.signed.version}")
            while self._root.signed.version < version:
                self.rotate_root()

    def rotate_key(self, role: str) -> None:
        """Replace every key of ``role`` with a fresh one and republish what that affects.

        Root: as :meth:`rotate_root`. Timestamp, snapshot, targets: a new root with the new
        keys, then the role re-signed with them. Delegated role: its delegator lists the new
        keys, and both are republished.

        Raises:
            KeyError: Unknown role.
        """
        with self._lock:
            if role in _TOP_LEVEL:
                self.rotate_root(keys_for_role={role: len(self._signers[role])})
                return
            delegator = self._targets[self._delegator[role]].signed
            delegations = delegator.delegations
            if delegations is None or delegations.roles is None:
                raise RuntimeError(f"{role} is not delegated")  # unreachable: set_delegations
            old = {s.public_key.keyid for s in self._signers[role]}
            self._signers[role] = [self._new_signer() for _ in self._signers[role]]
            delegated = delegations.roles[role]
            delegated.keyids = [s.public_key.keyid for s in self._signers[role]]
            still_used = {k for r in delegations.roles.values() for k in r.keyids}
            for keyid in old - still_used:
                del delegations.keys[keyid]
            for signer in self._signers[role]:
                delegations.keys[signer.public_key.keyid] = signer.public_key
            self._commit({role, self._delegator[role]})

    def bump_version(self, role: str, *, to: int | None = None) -> int:
        """Publish ``role`` again with a new version (the next, or ``to``) and fresh expiry.

        Snapshot and timestamp follow as needed. ``to`` (not for root) may jump ahead, e.g. to
        set up a fast-forward; a ``to`` at or below the current version overwrites published
        versions and is a rollback in all but name.

        Returns:
            The new version.

        Raises:
            KeyError: Unknown role.
            ValueError: ``to`` given for root, or below 1.
        """
        with self._lock:
            if role == ROOT:
                if to is not None:
                    raise ValueError("root versions are sequential; use rollback() to lie")
                return self._publish_root(self._signers[ROOT])
            md = self._metadata(role)
            if to is not None:
                if to < 1:
                    raise ValueError("versions start at 1")
                md.signed.version = to - 1
            self._commit({role})
            return int(md.signed.version)

    def set_delegations(
        self, delegations: Sequence[Delegation], *, delegator: str = TARGETS
    ) -> None:
        """Make ``delegator`` delegate to ``delegations``, in this order, replacing its list.

        Each delegated role gets fresh keys and ``Delegation.targets`` as its target files.
        A role dropped from the list stays in snapshot (clients refuse a snapshot that loses
        a role). Delegator, roles, snapshot and timestamp are republished.

        Raises:
            KeyError: Unknown delegator.
            ValueError: Duplicate names, or a role already delegated by another delegator.
        """
        with self._lock:
            parent = self._targets[delegator]
            names = [d.name for d in delegations]
            if len(set(names)) != len(names) or delegator in names:
                raise ValueError("delegated role names must be unique and not the delegator")
            for name in names:
                if self._delegator.get(name, delegator) != delegator:
                    raise ValueError(f"{name} is already delegated by {self._delegator[name]}")
            for name, parent_name in list(self._delegator.items()):
                if parent_name == delegator and name not in names:
                    del self._delegator[name]  # no longer delegated; stays in snapshot
            keys: dict[str, Key] = {}
            roles: dict[str, DelegatedRole] = {}
            new: set[str] = set()
            for delegation in delegations:
                signers = [self._new_signer() for _ in range(delegation.keys)]
                self._signers[delegation.name] = signers
                for signer in signers:
                    keys[signer.public_key.keyid] = signer.public_key
                roles[delegation.name] = delegation.role([s.public_key.keyid for s in signers])
                md = self._targets.get(delegation.name)
                if md is None:
                    md = Metadata(Targets(expires=self._expiry(delegation.name)))
                    self._targets[delegation.name] = md
                    new.add(delegation.name)
                md.signed.targets = {}
                for name, data in delegation.targets.items():
                    self._add_target(delegation.name, name, data)
                self._delegator[delegation.name] = delegator
            parent.signed.delegations = Delegations(keys, roles) if roles else None
            self._commit({delegator, *names}, in_place=new)

    # -- attacks ---------------------------------------------------------------------------

    def expire(self, role: str) -> int:
        """Publish a new version of ``role`` that is already expired by the clock.

        Root gets a new (expired) version; other roles get a new version and snapshot and
        timestamp point at it. A client must refuse (ExpiredMetadataError), except that an
        expired root that is not the newest root is fine.

        Returns:
            The new version.

        Raises:
            KeyError: Unknown role.
        """
        with self._lock:
            if role == ROOT:
                return self._publish_root(self._signers[ROOT], expired=True)
            self._commit({role}, expired={role})
            return int(self._metadata(role).signed.version)

    def resign(self, role: str, *, untrusted: bool = False, signatures: int | None = None) -> None:
        """Sign the current version of ``role`` again, in place, and republish its parents.

        With ``untrusted=True`` the only signature is by a fresh key its delegator does not
        list; with ``signatures=n`` only the first ``n`` of the role's keys sign (for root,
        the first ``n`` of the previous root's keys and of its own). Either makes a client
        refuse with UnsignedMetadataError once it verifies the role. Snapshot and timestamp are
        republished so that their lengths and hashes match the re-signed bytes.

        Raises:
            KeyError: Unknown role.
        """
        with self._lock:
            if role == ROOT:
                version = self._root.signed.version
                if untrusted:
                    signers = [self._new_signer()]
                else:
                    own = self._root_signers[version][:signatures]
                    previous = self._root_signers.get(version - 1, [])[:signatures]
                    signers = previous + own
                self._sign(self._root, signers)
                self._store(ROOT, self._root)
                return
            signers = [self._new_signer()] if untrusted else self._signers[role][:signatures]
            self._commit({role}, in_place={role}, signers={role: signers})

    def rollback(self, role: str, to_version: int) -> None:
        """Serve the older ``to_version`` of ``role`` as if it were current.

        - timestamp: ``timestamp.json`` serves the old timestamp.
        - snapshot: a new timestamp, properly signed, points at the old snapshot.
        - targets or a delegated role: a new snapshot and timestamp point at the old version.
        - root: ``<newest + 1>.root.json`` serves the old root.

        A client that has seen the newer version must refuse (BadVersionNumberError; for root,
        UnsignedMetadataError instead when the root keys changed since ``to_version``, as the
        signature check comes first). One that has not cannot tell for timestamp, snapshot
        and targets, which is why a client keeps its trusted metadata. Honest publishing
        later undoes it.

        Raises:
            KeyError: No such role or version.
            ValueError: ``to_version`` is not older than the current version.
        """
        with self._lock:
            old = self._history[role][to_version]
            if to_version >= self.version(role):
                raise ValueError(f"{role} v{to_version} is not older than the current version")
            if role == TIMESTAMP:
                self._overrides["timestamp.json"] = (200, old)
            elif role == ROOT:
                self._overrides[f"{self._root.signed.version + 1}.root.json"] = (200, old)
            elif role == SNAPSHOT:
                self._timestamp.signed.snapshot_meta = self._metafile(SNAPSHOT, to_version)
                self._commit({TIMESTAMP})
            else:
                self._snapshot.signed.meta[f"{role}.json"] = self._metafile(role, to_version)
                self._commit({SNAPSHOT})

    def mix_and_match(self) -> None:
        """Serve, at the snapshot path the timestamp names, the previous (genuine) snapshot.

        Metadata from two repository states, served with the length the timestamp records: the
        client must refuse, with LengthOrHashMismatchError when the timestamp records hashes
        (``meta_hashes``) and BadVersionNumberError otherwise.
        """
        with self._lock:
            if len(self._history[SNAPSHOT]) < 2:
                self._commit({SNAPSHOT})
            current = self._timestamp.signed.snapshot_meta.version
            older = max(v for v in self._history[SNAPSHOT] if v < current)
            # Same length as the genuine file (re-serialized compactly, then padded with
            # whitespace, signatures still valid), so that the failure is the hash and not the
            # length, whichever ECDSA signature happened to be longer.
            compact = Metadata[Snapshot].from_bytes(self._history[SNAPSHOT][older]).to_bytes()
            padding = len(self._history[SNAPSHOT][current]) - len(compact)
            self._overrides[f"{current}.snapshot.json"] = (200, compact + b" " * padding)

    def corrupt(self, path: str) -> None:
        """Tamper with the file at ``path`` (as :meth:`handle` takes it), keeping its length.

        Metadata keeps its signatures but its ``expires`` moves by a few seconds, so no
        signature verifies any more (UnsignedMetadataError, or LengthOrHashMismatchError first
        where the parent records hashes). A target file has its last byte changed
        (LengthOrHashMismatchError).

        Raises:
            KeyError: Nothing is served at ``path``.
        """
        with self._lock:
            key = _path(path)
            data = self._served(key)
            if key.startswith("targets/") or not key.endswith(".json"):
                tampered = _flip_last_byte(data)
            else:
                tampered, found = _EXPIRES_SECONDS.subn(_tamper_seconds, data, count=1)
                if not found:
                    raise ValueError(f"{path} is not metadata this repository wrote")
            self._overrides[key] = (200, tampered)

    def serve_wrong_hash(self, target: str, *, length_delta: int = 0) -> None:
        """Serve target ``target`` with the wrong content.

        ``length_delta=0`` keeps the length and changes a byte (LengthOrHashMismatchError);
        a negative delta truncates (LengthOrHashMismatchError); a positive one appends bytes
        (a client reading at most the expected length stops: DownloadLengthMismatchError).

        Raises:
            KeyError: No such target.
        """
        with self._lock:
            key = _path(self.target_path(target))
            data = self._files[key]
            if length_delta == 0:
                wrong = _flip_last_byte(data)
            elif length_delta < 0:
                wrong = data[:length_delta]
            else:
                wrong = data + b"\0" * length_delta
            self._overrides[key] = (200, wrong)

    def serve_oversized(self, path: str, size: int) -> None:
        """Serve the file at ``path`` padded with spaces to ``size`` bytes (endless data).

        Raises:
            KeyError: Nothing is served at ``path``.
            ValueError: ``size`` is not larger than the file.
        """
        with self._lock:
            key = _path(path)
            data = self._served(key)
            if size <= len(data):
                raise ValueError(f"{path} is already {len(data)} bytes")
            self._overrides[key] = (200, data + b" " * (size - len(data)))

    def set_response(self, path: str, status: int, body: bytes = b"") -> None:
        """Answer requests for ``path`` with ``status`` and ``body`` (e.g. 403, 500, 503)."""
        with self._lock:
            self._overrides[_path(path)] = (status, body)

    def heal(self) -> None:
        """Drop every attack that changes what a path serves (not re-signed metadata)."""
        with self._lock:
            self._overrides.clear()

    # -- internals -------------------------------------------------------------------------

    def _new_signer(self) -> CryptoSigner:
        if self._key_scheme == "ed25519":
            return CryptoSigner.generate_ed25519()
        return CryptoSigner.generate_ecdsa(scheme=self._key_scheme)

    def _now(self) -> datetime:
        # python-tuf wants UTC exactly, and drops microseconds.
        return self._clock().astimezone(UTC)

    def _expiry(self, role: str, *, expired: bool = False) -> datetime:
        if expired:
            return self._now() - timedelta(seconds=1)
        return self._now() + self._lifetimes.get(role, self._lifetimes[TARGETS])

    def _metadata(self, role: str) -> Metadata[Any]:
        if role == TIMESTAMP:
            return self._timestamp
        if role == SNAPSHOT:
            return self._snapshot
        if role == ROOT:
            return self._root
        return self._targets[role]

    def _served(self, key: str) -> bytes:
        if key in self._overrides:
            return self._overrides[key][1]
        return self._files[key]

    @staticmethod
    def _sign(md: Metadata[_T], signers: Iterable[CryptoSigner]) -> None:
        md.signatures.clear()
        for signer in signers:
            md.sign(signer, append=True)

    def _put(self, key: str, data: bytes) -> None:
        self._files[key] = data
        self._overrides.pop(key, None)

    def _store(self, role: str, md: Metadata[_T]) -> None:
        data = md.to_bytes(_SERIALIZER)
        version = md.signed.version
        self._history.setdefault(role, {})[version] = data
        self._put("timestamp.json" if role == TIMESTAMP else f"{version}.{role}.json", data)

    def _metafile(self, role: str, version: int) -> MetaFile:
        if self._meta_hashes:
            return MetaFile.from_data(version, self._history[role][version], [_HASH])
        return MetaFile(version)

    @staticmethod
    def _target_file_path(target: TargetFile) -> str:
        directory, sep, base = target.path.rpartition("/")
        return f"targets/{directory}{sep}{target.hashes[_HASH]}.{base}"

    def _add_target(self, role: str, name: str, data: bytes) -> str:
        target = TargetFile.from_data(name, data, [_HASH])
        self._targets[role].signed.targets[name] = target
        path = self._target_file_path(target)
        self._put(path, data)
        return path

    def _publish_root(self, signers: Iterable[CryptoSigner], *, expired: bool = False) -> int:
        root = self._root.signed
        root.version += 1
        root.expires = self._expiry(ROOT, expired=expired)
        self._root_signers[root.version] = list(self._signers[ROOT])
        self._sign(self._root, signers)
        self._store(ROOT, self._root)
        return root.version

    def _commit(
        self,
        roles: Iterable[str],
        *,
        in_place: Iterable[str] = (),
        expired: Iterable[str] = (),
        signers: Mapping[str, Sequence[CryptoSigner]] | None = None,
    ) -> None:
        """Sign and publish ``roles``, then the snapshot and timestamp above them.

        Roles in ``in_place`` keep their version and expiry; the others get the next version
        and a fresh expiry (already past for roles in ``expired``).
        """
        changed, unbumped, past = set(roles), set(in_place), set(expired)
        chosen: Mapping[str, Sequence[CryptoSigner]] = signers or {}

        def publish(role: str, md: Metadata[_T]) -> None:
            if role not in unbumped:
                md.signed.version += 1
                md.signed.expires = self._expiry(role, expired=role in past)
            self._sign(md, chosen.get(role, self._signers[role]))
            self._store(role, md)

        for role in sorted(changed - {SNAPSHOT, TIMESTAMP}):
            md = self._targets[role]
            publish(role, md)
            self._snapshot.signed.meta[f"{role}.json"] = self._metafile(role, md.signed.version)
            changed.add(SNAPSHOT)
        if SNAPSHOT in changed:
            publish(SNAPSHOT, self._snapshot)
            version = self._snapshot.signed.version
            self._timestamp.signed.snapshot_meta = self._metafile(SNAPSHOT, version)
            changed.add(TIMESTAMP)
        if TIMESTAMP in changed:
            publish(TIMESTAMP, self._timestamp)
