"""Sigstore's trust material from a TUF repository, kept fresh and fetched once.

Owns: which repository a Sigstore instance uses and the root it starts from
(:class:`TufRepository`: the embedded public-good roots, or a private
instance's URL plus a root the user supplied), where its files live
(platformdirs, per repository URL), when to refresh (the cached timestamp has
expired or the last refresh is older than ``max_age``), the single flight that
makes N concurrent callers share one refresh, the cross-process lock around
it, and reading the ``trusted_root.json`` and signing config targets.

Does not own: the TUF workflow (``_updater``), any trust check (``_trusted``),
or what the SDK does with the result (``sigstore_async.client``).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import anyio
import attrs
import httpx
import platformdirs

from .._time import Clock, utc_now
from ..errors import RepositoryUnavailable, TargetNotFound, TrustError, TufError
from ..models.trust_root import SigningConfig, TrustedRoot
from ..trust import embedded_tuf_root
from ._store import MetadataStore, read_file, write_atomic
from ._trusted import TrustedMetadata, parse_root
from ._updater import Updater, UpdaterConfig

__all__ = [
    "PRODUCTION_URL",
    "SIGNING_CONFIG_TARGET",
    "STAGING_URL",
    "TRUSTED_ROOT_TARGET",
    "TrustUpdater",
    "TufRepository",
    "TufStatus",
    "TufTrust",
    "save_initial_root",
]

logger = logging.getLogger(__name__)

PRODUCTION_URL = "https://tuf-repo-cdn.sigstore.dev"
STAGING_URL = "https://tuf-repo-cdn.sigstage.dev"
TRUSTED_ROOT_TARGET = "trusted_root.json"
SIGNING_CONFIG_TARGET = "signing_config.v0.2.json"
APP_NAME = "sigstore-async"

Instance = Literal["production", "staging"]


def _repository_url(url: object) -> str:
    """The repository's URL without a trailing slash.

    Raises:
        TrustError: not an http(s) URL (it names the cache directory too, so
            it must also be text that encodes).
    """
    text = str(url).rstrip("/")
    try:
        text.encode("utf-8")
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, UnicodeError) as e:
        raise TrustError(f"not a TUF repository URL: {text!r}") from e
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise TrustError(f"not an http(s) TUF repository URL: {text!r}")
    return text


def _url_dir(url: str) -> str:
    return quote(url.rstrip("/"), safe="")


@attrs.frozen
class TufRepository:
    """A Sigstore instance's TUF repository and the root a client starts from.

    ``root`` is the trust anchor: the bytes of an initial ``root.json``, a path
    to one, or ``None`` for the root saved earlier with
    :func:`save_initial_root` (``sigstore-async trust init``). Trust on first
    use is never implicit: a repository without either cannot be used.
    Building one does no I/O.
    """

    url: str = attrs.field(converter=_repository_url)
    root: bytes | Path | None = attrs.field(default=None, repr=False)
    #: The public-good instance whose embedded root this is, if any.
    instance: Instance | None = None
    #: Where target files are; default ``<url>/targets``.
    target_base_url: str | None = None

    @classmethod
    def production(cls) -> TufRepository:
        """Sigstore's public-good repository, from the root embedded in this package."""
        return cls(PRODUCTION_URL, instance="production")

    @classmethod
    def staging(cls) -> TufRepository:
        """Sigstore's public-good staging repository, from its embedded root."""
        return cls(STAGING_URL, instance="staging")

    @classmethod
    def from_url(
        cls, url: str, root: bytes | str | os.PathLike[str] | None = None
    ) -> TufRepository:
        """A private instance's repository at ``url``, trusting ``root`` (bytes or a
        path), or the root saved for ``url`` by :func:`save_initial_root` when ``None``."""
        if isinstance(root, str | os.PathLike):
            root = Path(root)
        return cls(url, root=root)

    @property
    def targets_url(self) -> str:
        return (self.target_base_url or f"{self.url}/targets").rstrip("/")

    async def bootstrap_root(self, *, cache_dir: Path | None = None) -> bytes:
        """The bytes of the trust anchor (read in a worker thread).

        Raises:
            TrustError: no root was given and none was saved for this URL, or
                the file cannot be read.
        """
        if isinstance(self.root, bytes):
            return self.root
        if self.instance is not None and self.root is None:
            return await anyio.to_thread.run_sync(embedded_tuf_root, self.instance)
        path = self.root if self.root is not None else anchor_path(self.url, cache_dir)
        data = await anyio.to_thread.run_sync(read_file, path)
        if data is None:
            if self.root is None:
                raise TrustError(
                    f"no initial root.json for {self.url}: pass one, or save one with "
                    "`sigstore-async trust init`"
                )
            raise TrustError(f"cannot read the initial root {path}")
        return data


def metadata_dir(url: str, cache_dir: Path | None = None) -> Path:
    """The metadata directory of repository ``url``: under ``cache_dir`` when given,
    else in the user data directory (platformdirs)."""
    base = cache_dir if cache_dir is not None else Path(platformdirs.user_data_dir(APP_NAME))
    return base / "tuf" / _url_dir(url) / "metadata"


def targets_dir(url: str, cache_dir: Path | None = None) -> Path:
    """The target cache of repository ``url`` (user cache directory by default)."""
    base = cache_dir if cache_dir is not None else Path(platformdirs.user_cache_dir(APP_NAME))
    return base / "tuf" / _url_dir(url) / "targets"


def anchor_path(url: str, cache_dir: Path | None = None) -> Path:
    """Where :func:`save_initial_root` keeps the trust anchor of ``url``: apart from
    the (untrusted) metadata cache."""
    base = cache_dir if cache_dir is not None else Path(platformdirs.user_data_dir(APP_NAME))
    return base / "anchors" / f"{_url_dir(url)}.root.json"


async def save_initial_root(
    url: str, root: bytes, *, cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Trust ``root`` as the initial root of the repository at ``url`` from now on.

    This is the explicit act that replaces trust on first use: the root must
    come from a source the user trusts (the instance's operators). It must be
    TUF root metadata signed by a threshold of its own keys. Returns where it
    was saved.

    Raises:
        TrustError: ``url`` is not an http(s) URL.
        MalformedMetadata, BadMetadataSignature: not a self-signed root.
        OSError: it could not be written.
    """
    url = _repository_url(url)
    await anyio.to_thread.run_sync(parse_root, root)
    path = anchor_path(url, Path(cache_dir) if cache_dir is not None else None)
    await anyio.to_thread.run_sync(write_atomic, path, root)
    return path


@attrs.frozen
class TufStatus:
    """What a TUF load established, for people and for freshness decisions."""

    repository: str
    root_version: int
    root_expires: datetime
    timestamp_version: int
    snapshot_version: int
    targets_version: int
    #: The earliest expiry of the top-level metadata: refresh before then.
    expires: datetime
    #: The last refresh that reached the repository (from the store when this
    #: load did not), if known.
    refreshed_at: datetime | None
    #: Whether this load fetched from the repository.
    from_network: bool
    #: Whether expired metadata was accepted (offline use).
    expired: bool = False

    @classmethod
    def of(
        cls,
        repository: str,
        trusted: TrustedMetadata,
        *,
        refreshed_at: datetime | None,
        from_network: bool,
        now: datetime,
    ) -> TufStatus:
        expires = trusted.expires()
        return cls(
            repository=repository,
            root_version=trusted.root.version,
            root_expires=trusted.root.expires,
            timestamp_version=trusted.timestamp.version,
            snapshot_version=trusted.snapshot.version,
            targets_version=trusted.targets.version,
            expires=expires,
            refreshed_at=refreshed_at,
            from_network=from_network,
            expired=expires <= now,
        )


@attrs.frozen
class TufTrust:
    """A trusted root and signing config delivered by TUF."""

    trusted_root: TrustedRoot
    #: ``None`` when the repository publishes none (some private instances).
    signing_config: SigningConfig | None
    status: TufStatus


class TrustUpdater:
    """Keeps a Sigstore instance's trusted root and signing config current.

    :meth:`get` returns the last result while it is fresh: the metadata it was
    verified with has not expired and the last refresh is younger than
    ``max_age``. Otherwise it loads again: from the local store when another
    process (or an earlier run) refreshed recently enough, else from the
    repository. Concurrent callers share one load (single flight), failures
    included; processes sharing the store take turns under its lock, so the
    second finds the first one's fresh files and fetches nothing.

    With ``offline=True`` nothing is fetched: the store's metadata is verified
    from the trust anchor (signatures, thresholds, versions, hashes; expiry is
    reported, not enforced, since only the network can prove freshness).

    A failed load raises and changes nothing: the previous result stays, in
    memory and on disk (files are written only when a whole refresh verified).
    """

    def __init__(
        self,
        repository: TufRepository,
        http: httpx.AsyncClient | None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        offline: bool = False,
        max_age: timedelta = timedelta(hours=1),
        config: UpdaterConfig | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if http is None and not offline:
            raise ValueError("an online TrustUpdater needs an HTTP client")
        self.repository = repository
        self._http = http
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.offline = offline
        self.max_age = max_age
        self._config = config or UpdaterConfig()
        self._clock = clock
        self._current: TufTrust | None = None
        self._lock: anyio.Lock | None = None
        self._generation = 0
        self._last_error: Exception | None = None
        #: Loads that ran (not the calls that shared one): for tests and metrics.
        self.loads = 0

    @property
    def metadata_dir(self) -> Path:
        return metadata_dir(self.repository.url, self._cache_dir)

    @property
    def targets_dir(self) -> Path:
        return targets_dir(self.repository.url, self._cache_dir)

    @property
    def current(self) -> TufTrust | None:
        """The last successful result, without loading."""
        return self._current

    def fresh(self, trust: TufTrust, now: datetime) -> bool:
        """Whether ``trust`` may be used at ``now`` without loading again."""
        if self.offline:
            return True
        status = trust.status
        if status.refreshed_at is None or now >= status.expires:
            return False
        age = now - status.refreshed_at
        return timedelta(0) <= age < self.max_age

    async def get(self, *, force: bool = False) -> TufTrust:
        """The current trust material, loading it if it is not fresh (or if ``force``).

        ``force=True`` always reaches the repository (unless offline), but
        concurrent forced calls still share one refresh.

        Raises:
            TufError: a subclass saying what failed (unreachable, expired,
                rollback, signature, hashes...).
            TrustError: no trust anchor for the repository.
            InvalidTrustRoot: the repository serves a malformed trusted root or
                signing config.
            OSError: the store could not be written.
        """
        current = self._current
        if not force and current is not None and self.fresh(current, self._clock()):
            return current
        if self._lock is None:
            self._lock = anyio.Lock()
        generation = self._generation
        async with self._lock:
            if self._generation != generation:
                # Another caller loaded while this one waited: share its outcome.
                if self._last_error is not None:
                    raise self._last_error
                current = self._current
                if current is not None and (
                    not force or current.status.from_network or self.offline
                ):
                    return current
            try:
                result = await self._load(force=force)
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as e:
                self._generation += 1
                self._last_error = e
                raise
            self._generation += 1
            self._last_error = None
            self._current = result
            return result

    async def _load(self, *, force: bool) -> TufTrust:
        self.loads += 1
        bootstrap = await self.repository.bootstrap_root(cache_dir=self._cache_dir)
        store = MetadataStore(self.metadata_dir)
        async with store.lock(required=not self.offline):
            updater = Updater(
                None if self.offline else self._http,
                metadata_url=self.repository.url,
                store=store,
                bootstrap=bootstrap,
                target_base_url=self.repository.targets_url,
                target_dir=self.targets_dir,
                config=self._config,
                clock=self._clock,
                persist="on_success",
            )
            now = self._clock()
            if self.offline:
                offline = await updater.load_local(check_expiry=False)
                return await self._finish(updater, offline, now, from_network=False)
            trusted: TrustedMetadata | None = None
            if not force:
                local = await store.read()
                if local.refreshed_at is not None and (
                    timedelta(0) <= now - local.refreshed_at < self.max_age
                ):
                    try:
                        trusted = await updater.load_local()
                    except TufError as e:
                        logger.info("cached TUF metadata not usable, refreshing: %s", e)
            if trusted is not None:
                try:
                    return await self._finish(updater, trusted, now, from_network=False)
                except TufError as e:
                    logger.info("cached TUF targets not usable, refreshing: %s", e)
            trusted = await updater.refresh()
            return await self._finish(updater, trusted, now, from_network=True)

    async def _finish(
        self, updater: Updater, trusted: TrustedMetadata, now: datetime, *, from_network: bool
    ) -> TufTrust:
        root_json = await self._target(updater, TRUSTED_ROOT_TARGET)
        if root_json is None:
            raise TargetNotFound(
                "the repository lists no trusted root",
                role=f"target:{TRUSTED_ROOT_TARGET}",
                repository=self.repository.url,
            )
        signing_json = await self._target(updater, SIGNING_CONFIG_TARGET)
        trusted_root = await anyio.to_thread.run_sync(TrustedRoot.from_json, root_json)
        signing_config = (
            await anyio.to_thread.run_sync(SigningConfig.from_json, signing_json)
            if signing_json is not None
            else None
        )
        status = TufStatus.of(
            self.repository.url,
            trusted,
            refreshed_at=now if from_network else updater.local.refreshed_at,
            from_network=from_network,
            now=now,
        )
        if status.expired:
            logger.warning(
                "offline: using TUF metadata of %s that expired at %s",
                self.repository.url,
                status.expires,
            )
        return TufTrust(trusted_root=trusted_root, signing_config=signing_config, status=status)

    async def _target(self, updater: Updater, name: str) -> bytes | None:
        info = await updater.get_target_info(name)
        if info is None:
            return None
        data = await updater.read_cached_target(info)
        if data is not None:
            return data
        if self.offline:
            raise RepositoryUnavailable(
                "offline, and not in the target cache",
                role=f"target:{name}",
                repository=self.repository.url,
            )
        data = await updater.fetch_target(info)
        await anyio.to_thread.run_sync(write_atomic, updater.target_path(info), data)
        return data
