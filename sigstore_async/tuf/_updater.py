"""The async TUF updater: the network and disk shell around ``_trusted``.

Owns: the TUF client workflow's I/O -- which file to read from the local store
or fetch from the repository next, the size limit of every download, the
deadline of a whole refresh, persisting what verified -- and target lookup and
download. Every byte goes through ``_trusted`` before it is used or stored.

Does not own: any trust decision (``_trusted``), the HTTP policy (``_http``:
retries, error mapping, bounded downloads), the file layout and lock
(``_store``), or when to refresh (``_repository``).

Why a native async workflow rather than python-tuf's synchronous ``Updater``
in a worker thread: the bridge would hold a worker thread for the whole
refresh, block in it on every request (``anyio.from_thread.run`` per fetch),
make a stalled download uncancellable from the event loop, and tie us to
``Updater``'s file layout and its private trusted-set module. The workflow
itself is short once the checks are in a sans-I/O core; here every request
is an ordinary awaitable on the shared ``httpx.AsyncClient``, cancellation and
deadlines are anyio's, and signature checks run in worker threads so the
event loop never waits on them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote

import anyio
import attrs
import httpx
from tuf.api.metadata import TargetFile, Targets  # type: ignore[attr-defined]

from .._http import RetryPolicy, download
from .._time import Clock, utc_now
from ..errors import (
    LengthOrHashMismatch,
    RepositoryUnavailable,
    ResponseTooLarge,
    ServiceError,
    TufError,
)
from ._store import (
    REFRESHED_AT,
    ROOT_HISTORY,
    LocalFiles,
    MetadataStore,
    read_file,
    role_filename,
    target_filename,
    write_atomic,
)
from ._trusted import (
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    TargetSearch,
    TrustedMetadata,
    check_target,
)

__all__ = ["Persist", "Updater", "UpdaterConfig"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: How verified metadata reaches the store: file by file as each verifies (the
#: TUF specification's behaviour, which the client conformance suite checks), or
#: all at once when the whole refresh has succeeded, so that a failed refresh
#: leaves the previous, complete state on disk.
Persist = Literal["incremental", "on_success"]


#: Transient failures of a TUF request are retried a little: a refresh has a
#: deadline of its own, and an unreachable repository should be reported soon.
DEFAULT_RETRY = RetryPolicy(attempts=3, base=0.2, max_delay=2.0, deadline=15.0)


@attrs.frozen
class UpdaterConfig:
    """Limits and policies of an :class:`Updater`.

    Every download has a size limit: the length its parent metadata records
    when it records one, else the ``*_max_length`` of its role. ``timeout``
    bounds a whole refresh (or target lookup) in seconds, which also defeats
    a repository that trickles bytes slowly enough to dodge per-read timeouts.
    """

    max_root_rotations: int = 32
    max_delegations: int = 32
    root_max_length: int = 512_000
    timestamp_max_length: int = 16_384
    snapshot_max_length: int = 2_000_000
    targets_max_length: int = 5_000_000
    #: Fetch ``<hash>.<name>`` when the repository uses consistent snapshots.
    prefix_targets_with_hash: bool = True
    retry: RetryPolicy = DEFAULT_RETRY
    timeout: float | None = 60.0


class _Writer:
    """Collects the files a refresh verified, and stores them per ``Persist``.

    ``incremental``: what verified in a step (the root walk, the timestamp, the
    snapshot, a targets role) is written when the step ends, even when it ends
    with an error (the roots that verified before a bad one stay trusted).
    ``on_success``: everything is written by :meth:`commit` at the end. Either
    way the files of a step go to disk in one worker-thread call.
    """

    def __init__(self, store: MetadataStore, persist: Persist | None) -> None:
        self._store = store
        self._persist = persist
        self.files: dict[str, bytes] = {}

    def put(self, name: str, data: bytes) -> None:
        if self._persist is not None:
            self.files.pop(name, None)  # keep the order of the last write
            self.files[name] = data

    async def step_done(self) -> None:
        if self._persist == "incremental":
            await self.commit()

    async def commit(self) -> None:
        files, self.files = self.files, {}
        await self._store.write(files)

    @asynccontextmanager
    async def step(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await self.step_done()


class Updater:
    """A TUF client for one repository and one local metadata directory.

    ``bootstrap`` is the trusted root the client starts from on every refresh
    (a root shipped with the application, or one the user chose); the store's
    copies of later roots are verified from it again each time. With
    ``bootstrap=None`` the store's ``root.json`` is the trust anchor, as in the
    TUF client conformance protocol, where ``init`` placed it.

    ``http=None`` makes an offline updater: :meth:`load_local` only.

    The updater takes no lock: when processes share the store, hold
    ``store.lock()`` around its use.
    """

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        metadata_url: str,
        store: MetadataStore,
        bootstrap: bytes | None = None,
        target_base_url: str | None = None,
        target_dir: str | os.PathLike[str] | None = None,
        config: UpdaterConfig | None = None,
        clock: Clock = utc_now,
        persist: Persist = "incremental",
    ) -> None:
        self._http = http
        self.metadata_url = metadata_url.rstrip("/")
        self.store = store
        self._bootstrap = bootstrap
        self.target_base_url = target_base_url.rstrip("/") if target_base_url else None
        self.target_dir = Path(target_dir) if target_dir is not None else None
        self.config = config or UpdaterConfig()
        self._clock = clock
        self._persist = persist
        self._trusted: TrustedMetadata | None = None
        self._local = LocalFiles()
        self._online = False

    @property
    def trusted(self) -> TrustedMetadata:
        """The metadata trusted by the last refresh or load.

        Raises:
            RuntimeError: neither has succeeded yet.
        """
        if self._trusted is None:
            raise RuntimeError("refresh() or load_local() first")
        return self._trusted

    @property
    def local(self) -> LocalFiles:
        """The store as the last refresh or load read it."""
        return self._local

    # -- the workflow ---------------------------------------------------------------------------

    async def refresh(self) -> TrustedMetadata:
        """Update the top-level metadata from the repository (spec 5.3 to 5.6).

        Cached files are used where they verify and still match, so an
        unchanged repository costs one request (the timestamp).

        Raises:
            RepositoryUnavailable: a request failed, or the refresh timed out.
            MetadataExpired, RollbackAttack, BadMetadataSignature,
            LengthOrHashMismatch, MalformedMetadata: the repository's metadata
                failed a check (an attack, or a broken repository).
            TufError: no trusted root to start from.
            OSError: the store could not be written.
        """
        if self._http is None:
            raise RuntimeError("an updater without an HTTP client is offline: use load_local()")
        return await self._deadline(self._run(online=True, check_expiry=True))

    async def load_local(self, *, check_expiry: bool = True) -> TrustedMetadata:
        """Verify the store's metadata from the trusted root, without the network.

        ``check_expiry=False`` accepts expired metadata (offline use: only a
        refresh can prove freshness); signatures, versions and hashes are still
        checked. Nothing is written.

        Raises:
            TufError: a subclass naming what did not verify, or
                ``RepositoryUnavailable`` for a file the store lacks.
        """
        return await self._run(online=False, check_expiry=check_expiry)

    async def _deadline(self, work: Awaitable[_T]) -> _T:
        """Await ``work`` within ``config.timeout`` seconds."""
        timeout = self.config.timeout
        try:
            with anyio.fail_after(timeout):
                return await work
        except TimeoutError as e:
            raise self._stamp(
                RepositoryUnavailable(f"the repository did not answer within {timeout}s")
            ) from e

    async def _run(self, *, online: bool, check_expiry: bool) -> TrustedMetadata:
        now = self._clock()
        local = await self.store.read()
        anchor = self._bootstrap if self._bootstrap is not None else local.files.get("root.json")
        if anchor is None:
            raise self._stamp(TufError("no trusted root to start from", role=ROOT))
        writer = _Writer(self.store, (self._persist if online else None))
        try:
            trusted = await _cpu(
                partial(TrustedMetadata, anchor, now=now, check_expiry=check_expiry)
            )
            async with writer.step():
                await self._update_roots(trusted, anchor, local, writer, online=online)
            async with writer.step():
                await self._update_timestamp(trusted, local, writer, online=online)
            async with writer.step():
                await self._update_snapshot(trusted, local, writer, online=online)
            async with writer.step():
                await self._load_targets(trusted, TARGETS, ROOT, local, writer, online=online)
        except TufError as e:
            raise self._stamp(e) from e.__cause__
        if online:
            writer.put(REFRESHED_AT, MetadataStore.refreshed_at_bytes(now))
            await writer.commit()
            local = attrs.evolve(local, refreshed_at=now)
        self._trusted, self._local, self._online = trusted, local, online
        return trusted

    async def _update_roots(
        self,
        trusted: TrustedMetadata,
        anchor: bytes,
        local: LocalFiles,
        writer: _Writer,
        *,
        online: bool,
    ) -> None:
        # 5.3: walk root versions N+1, N+2, ... until the repository has no
        # next one, at most max_root_rotations of them.
        first = trusted.root.version + 1
        last = first + self.config.max_root_rotations
        # The cached versions first, in one worker-thread call.
        current = await _cpu(_walk_cached_roots, trusted, local.roots, last) or anchor
        for version in range(trusted.root.version + 1, last):
            if not online:
                break
            data = await self._fetch_metadata(
                ROOT, version, self.config.root_max_length, missing_ok=True
            )
            if data is None:
                break
            await _cpu(trusted.update_root, data)
            current = data
            writer.put(f"{ROOT_HISTORY}/{version}.root.json", data)
            writer.put("root.json", data)
        if local.files.get("root.json") != current:
            # The bootstrap root may be newer than the store's.
            writer.put("root.json", current)
        # 5.3.10: the final root must be current; checked before any request
        # for the timestamp is made.
        trusted.check_root()

    async def _update_timestamp(
        self, trusted: TrustedMetadata, local: LocalFiles, writer: _Writer, *, online: bool
    ) -> None:
        cached = local.files.get("timestamp.json")
        if cached is not None:
            # The cached timestamp, even expired, is the reference for the
            # rollback checks of the new one (5.4.3).
            try:
                await _cpu(trusted.update_timestamp, cached)
            except TufError as e:
                if not online:
                    raise
                logger.info("cached timestamp is not usable as final: %s", e)
        elif not online:
            raise RepositoryUnavailable("offline, and not in the local store", role=TIMESTAMP)
        if online:
            data = await self._fetch_metadata(TIMESTAMP, None, self.config.timestamp_max_length)
            assert data is not None
            if await _cpu(trusted.update_timestamp, data):
                writer.put("timestamp.json", data)

    async def _update_snapshot(
        self, trusted: TrustedMetadata, local: LocalFiles, writer: _Writer, *, online: bool
    ) -> None:
        cached = local.files.get("snapshot.json")
        if cached is not None:
            try:
                await _cpu(partial(trusted.update_snapshot, cached, cached=True))
            except TufError as e:
                if not online:
                    raise
                logger.info("cached snapshot is not usable as final: %s", e)
            else:
                return
        elif not online:
            raise RepositoryUnavailable("offline, and not in the local store", role=SNAPSHOT)
        meta = trusted.timestamp.snapshot_meta
        version = meta.version if trusted.root.consistent_snapshot else None
        data = await self._fetch_metadata(
            SNAPSHOT, version, meta.length or self.config.snapshot_max_length
        )
        assert data is not None
        await _cpu(trusted.update_snapshot, data)
        writer.put("snapshot.json", data)

    async def _load_targets(
        self,
        trusted: TrustedMetadata,
        role: str,
        delegator: str,
        local: LocalFiles,
        writer: _Writer,
        *,
        online: bool,
    ) -> Targets:
        known = trusted.delegated(role, delegator)
        if known is not None:
            return known
        name = role_filename(role)
        cached = local.files.get(name)
        if cached is not None:
            try:
                found: Targets = await _cpu(trusted.update_targets, cached, role, delegator)
            except TufError as e:
                if not online:
                    raise
                logger.info("cached %s is not usable: %s", role, e)
            else:
                return found
        elif not online:
            raise RepositoryUnavailable("offline, and not in the local store", role=role)
        meta = trusted.snapshot_meta(role)
        version = meta.version if trusted.root.consistent_snapshot else None
        data = await self._fetch_metadata(
            role, version, meta.length or self.config.targets_max_length
        )
        assert data is not None
        found = await _cpu(trusted.update_targets, data, role, delegator)
        writer.put(name, data)
        return found

    # -- targets ---------------------------------------------------------------------------------

    async def get_target_info(self, path: str) -> TargetFile | None:
        """The trusted description of target ``path``, or ``None`` if no role lists it.

        Searches the delegation graph in the specified order (spec 5.6.7),
        loading delegated metadata from the store or, after a refresh, from the
        repository. Refreshes first if nothing is loaded yet.

        Raises:
            TufError: as for :meth:`refresh`, for the delegated roles it loads.
        """
        if self._trusted is None:
            await (self.refresh() if self._http is not None else self.load_local())
        trusted = self.trusted
        writer = _Writer(self.store, self._persist if self._online else None)
        search = TargetSearch(path, max_roles=self.config.max_delegations)
        found: TargetFile | None = None

        async def walk() -> None:
            nonlocal found
            while (step := search.next()) is not None:
                role, delegator = step
                async with writer.step():
                    targets = await self._load_targets(
                        trusted, role, delegator, self._local, writer, online=self._online
                    )
                found = search.visit(role, targets)
                if found is not None:
                    return

        try:
            await self._deadline(walk())
        except TufError as e:
            raise self._stamp(e) from e.__cause__
        await writer.commit()
        return found

    def target_path(self, info: TargetFile) -> Path:
        """Where :meth:`download_target` stores ``info`` by default.

        Raises:
            ValueError: no ``target_dir``.
        """
        if self.target_dir is None:
            raise ValueError("give the updater a target_dir, or a file path")
        return self.target_dir / target_filename(info.path)

    async def read_cached_target(
        self, info: TargetFile, filepath: str | os.PathLike[str] | None = None
    ) -> bytes | None:
        """The bytes of the stored copy of ``info`` if its length and hashes match,
        else ``None``."""
        path = Path(filepath) if filepath is not None else self.target_path(info)
        data = await anyio.to_thread.run_sync(read_file, path)
        if data is None:
            return None
        try:
            await _cpu(check_target, info, data)
        except LengthOrHashMismatch:
            return None
        return data

    async def find_cached_target(
        self, info: TargetFile, filepath: str | os.PathLike[str] | None = None
    ) -> Path | None:
        """The stored copy of ``info`` if its length and hashes match, else ``None``."""
        path = Path(filepath) if filepath is not None else self.target_path(info)
        return path if await self.read_cached_target(info, path) is not None else None

    async def fetch_target(self, info: TargetFile, *, target_base_url: str | None = None) -> bytes:
        """Download target ``info`` and check its length and hashes (spec 5.7).

        Raises:
            RepositoryUnavailable: the download failed.
            LengthOrHashMismatch: wrong bytes, or more than the recorded length.
            ValueError: no target base URL.
        """
        if self._http is None:
            raise RuntimeError("an updater without an HTTP client is offline")
        base = (target_base_url or self.target_base_url or "").rstrip("/")
        if not base:
            raise ValueError("give the updater a target_base_url")
        relative = info.path
        consistent = self._trusted is not None and self._trusted.root.consistent_snapshot
        if consistent and self.config.prefix_targets_with_hash and info.hashes:
            directory, sep, name = relative.rpartition("/")
            relative = f"{directory}{sep}{next(iter(info.hashes.values()))}.{name}"
        url = f"{base}/{quote(relative, safe='/')}"
        role = f"target:{info.path}"

        async def get() -> bytes:
            assert self._http is not None
            return await download(
                self._http, url, service="tuf", max_bytes=info.length, retry=self.config.retry
            )

        try:
            data: bytes = await self._deadline(get())
        except ResponseTooLarge as e:
            raise self._stamp(
                LengthOrHashMismatch(f"longer than the {info.length} bytes recorded", role=role)
            ) from e
        except ServiceError as e:
            raise self._stamp(RepositoryUnavailable(str(e), role=role, status=e.status)) from e
        try:
            await _cpu(check_target, info, data)
        except TufError as e:
            raise self._stamp(e) from e.__cause__
        return data

    async def download_target(
        self,
        info: TargetFile,
        filepath: str | os.PathLike[str] | None = None,
        *,
        target_base_url: str | None = None,
    ) -> Path:
        """Download target ``info``, check it, and store it atomically at ``filepath``
        (default: :meth:`target_path`). Returns the path.

        Raises:
            RepositoryUnavailable, LengthOrHashMismatch: as :meth:`fetch_target`.
            OSError: the file could not be written.
        """
        path = Path(filepath) if filepath is not None else self.target_path(info)
        data = await self.fetch_target(info, target_base_url=target_base_url)
        await anyio.to_thread.run_sync(write_atomic, path, data)
        return path

    # -- I/O helpers -----------------------------------------------------------------------------

    def _stamp(self, error: TufError) -> TufError:
        error.repository = error.repository or self.metadata_url
        return error

    async def _fetch_metadata(
        self, role: str, version: int | None, max_length: int, *, missing_ok: bool = False
    ) -> bytes | None:
        assert self._http is not None
        name = role_filename(role)
        url = (
            f"{self.metadata_url}/{name}"
            if version is None
            else f"{self.metadata_url}/{version}.{name}"
        )
        try:
            return await download(
                self._http, url, service="tuf", max_bytes=max_length, retry=self.config.retry
            )
        except ResponseTooLarge as e:
            raise LengthOrHashMismatch(
                f"longer than the {max_length} bytes allowed", role=role
            ) from e
        except ServiceError as e:
            # 5.3.2: a missing next root version means the trusted root is the newest.
            if missing_ok and e.status in (403, 404):
                return None
            raise RepositoryUnavailable(str(e), role=role, status=e.status) from e


def _walk_cached_roots(
    trusted: TrustedMetadata, roots: Mapping[int, bytes], last: int
) -> bytes | None:
    """Update ``trusted`` with the consecutive cached root versions that verify,
    up to (not including) ``last``; return the bytes of the last one used."""
    used = None
    version = trusted.root.version + 1
    while version < last and (data := roots.get(version)) is not None:
        try:
            trusted.update_root(data)
        except TufError as e:
            logger.info("cached root version %d does not verify: %s", version, e)
            break
        used = data
        version += 1
    return used


async def _cpu(fn: Callable[..., _T], *args: object) -> _T:
    """Run a verification step in a worker thread: signature checks and
    canonical JSON would otherwise hold the event loop for milliseconds."""
    return await anyio.to_thread.run_sync(fn, *args)
