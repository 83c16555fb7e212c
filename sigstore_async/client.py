"""The top-level client: one Sigstore instance, its trust, and the shared HTTP client.

Owns: choosing where trust comes from (a TUF repository, documents the user
passes, a ``ClientTrustConfig``, the offline cache or the embedded roots), the
lifetime of the one ``httpx.AsyncClient`` every service client shares, and
handing out verifiers over the current trust (signers and OIDC flows plug in
here too; see the extension points at the end of :class:`Sigstore`).

Does not own: the TUF workflow and its freshness policy
(:mod:`sigstore_async.tuf`), any verification rule (:mod:`sigstore_async.verify`),
or service protocols.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypedDict, Unpack

import anyio
import attrs
import httpx

from ._http import new_client
from ._time import Clock, utc_now
from .errors import RepositoryUnavailable, TrustError, TufError
from .models.trust_root import ClientTrustConfig, SigningConfig, TrustedRoot
from .oidc import Issuer
from .sign import Signer
from .sign.config import OIDC_VERSIONS, select_services
from .sign.signer import TokenSource
from .trust import TrustMaterial, embedded_signing_config, embedded_trusted_root
from .tuf import TrustUpdater, TufRepository, TufStatus, TufTrust, UpdaterConfig
from .tuf._repository import Instance
from .verify import Verifier

__all__ = ["Sigstore", "SigstoreOptions", "TrustConfig", "TrustSource"]

logger = logging.getLogger(__name__)

#: Where a :class:`TrustConfig` came from: ``"tuf"`` (verified through TUF; see
#: ``TrustConfig.tuf`` for whether this load reached the network), ``"embedded"``
#: (the public-good roots shipped in this package, offline without a usable
#: cache), ``"explicit"`` (documents the caller passed).
TrustSource = Literal["tuf", "embedded", "explicit"]

#: A document given directly: parsed, its JSON (bytes or text), or a path.
_Doc = bytes | str | os.PathLike[str]


@attrs.frozen
class TrustConfig:
    """The trust a :class:`Sigstore` client works with: the trusted root (indexed
    for verification as ``material``) and the signing config."""

    trusted_root: TrustedRoot
    #: Where to sign. ``None`` when the source has none (a private TUF
    #: repository that publishes no signing config).
    signing_config: SigningConfig | None
    material: TrustMaterial = attrs.field(eq=False, repr=False)
    source: TrustSource = "explicit"
    #: The TUF state behind it: repository, versions, expiry, last refresh.
    tuf: TufStatus | None = None

    def to_client_trust_config(self) -> ClientTrustConfig:
        """As a ``ClientTrustConfig`` document (what ``from_trust_config`` reads).

        Raises:
            TrustError: there is no signing config to include.
        """
        if self.signing_config is None:
            raise TrustError("no signing config to put in a client trust config")
        return ClientTrustConfig(
            media_type="application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            trusted_root=self.trusted_root,
            signing_config=self.signing_config,
        )


class SigstoreOptions(TypedDict, total=False):
    """Keyword options of every :class:`Sigstore` constructor."""

    #: A client to use instead of one the ``Sigstore`` object creates and owns
    #: (it is then never closed by ``Sigstore``).
    http: httpx.AsyncClient
    #: The transport of the owned client (an in-process app, a proxy...).
    transport: httpx.AsyncBaseTransport
    #: Never use the network for trust: verify the local TUF cache (expiry is
    #: reported, not enforced) or, for the public-good instances, fall back to
    #: the roots embedded in this package.
    offline: bool
    #: Use this trusted root instead of the repository's (no TUF for it).
    trusted_root: TrustedRoot | _Doc
    #: Use this signing config instead of the repository's.
    signing_config: SigningConfig | _Doc
    #: Where the TUF metadata, target and trust-anchor files go (default: the
    #: user data and cache directories, per repository URL).
    cache_dir: str | os.PathLike[str]
    #: Refresh when the last refresh is older than this (default one hour), or
    #: when the metadata expires.
    max_age: timedelta
    #: Limits and timeouts of the TUF client.
    tuf_config: UpdaterConfig
    #: The clock (tests pass a fixed one).
    clock: Clock


def _read_doc(value: _Doc) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return value.encode()
    try:
        return Path(os.fspath(value)).read_bytes()
    except OSError as e:
        raise TrustError(f"cannot read {os.fspath(value)}: {e.strerror}") from e
    except ValueError as e:  # a NUL in the path
        raise TrustError(f"cannot read {os.fspath(value)!r}: {e}") from e


class Sigstore:
    """A Sigstore instance: its trust material, kept fresh, and its services.

    Build one with a named constructor (they do no I/O), then use it as an
    async context manager, which owns the HTTP client shared by everything it
    hands out::

        async with Sigstore.production() as sigstore:
            verifier = await sigstore.verifier()      # TUF refresh, once
            ...

    :meth:`trust` returns the current :class:`TrustConfig`; concurrent calls
    share one refresh, and a refresh happens only when the cached TUF metadata
    expired or is older than ``max_age`` (:meth:`refresh` forces one). When a
    refresh fails the error says why and the previous trust stays in place.
    """

    def __init__(
        self,
        *,
        name: str,
        repository: TufRepository | None = None,
        trust_config: ClientTrustConfig | _Doc | None = None,
        **options: Unpack[SigstoreOptions],
    ) -> None:
        if (repository is None) == (trust_config is None):
            raise TypeError("give exactly one of repository and trust_config")
        if trust_config is not None and (
            options.get("trusted_root") is not None or options.get("signing_config") is not None
        ):
            # They replace TUF targets; a trust config would silently win.
            raise TypeError("a trust config gives the trusted root and signing config itself")
        self.name = name
        self.repository = repository
        self._trust_config = trust_config
        self._http: httpx.AsyncClient | None = options.get("http")
        self._owns_http = self._http is None
        self._transport = options.get("transport")
        self.offline = options.get("offline", False)
        self._trusted_root = options.get("trusted_root")
        self._signing_config = options.get("signing_config")
        cache_dir = options.get("cache_dir")
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.max_age = options.get("max_age", timedelta(hours=1))
        self._tuf_config = options.get("tuf_config")
        self.clock: Clock = options.get("clock", utc_now)
        self._opened = False
        self._closed = False
        self._updater: TrustUpdater | None = None
        self._explicit: TrustConfig | None = None
        self._index_lock: anyio.Lock | None = None
        self._cached: tuple[TufTrust, TrustConfig] | None = None
        self._verifier: tuple[TrustConfig, Verifier] | None = None

    # -- named constructors (no I/O) -----------------------------------------------------------

    @classmethod
    def production(cls, **options: Unpack[SigstoreOptions]) -> Sigstore:
        """Sigstore's public-good instance; trust from its TUF repository, starting
        from the root embedded in this package."""
        return cls(name="production", repository=TufRepository.production(), **options)

    @classmethod
    def staging(cls, **options: Unpack[SigstoreOptions]) -> Sigstore:
        """Sigstore's public-good staging instance."""
        return cls(name="staging", repository=TufRepository.staging(), **options)

    @classmethod
    def from_tuf(
        cls,
        url: str,
        *,
        root: bytes | str | os.PathLike[str] | None = None,
        **options: Unpack[SigstoreOptions],
    ) -> Sigstore:
        """A private instance whose trust comes from the TUF repository at ``url``.

        ``root`` is the initial ``root.json`` (bytes or a path), from a source
        you trust; ``None`` uses the root saved for ``url`` by
        ``sigstore-async trust init`` (:func:`sigstore_async.tuf.save_initial_root`).
        Trust on first use is never implicit.
        """
        return cls(name=url, repository=TufRepository.from_url(url, root), **options)

    @classmethod
    def from_trust_config(
        cls, config: ClientTrustConfig | _Doc, **options: Unpack[SigstoreOptions]
    ) -> Sigstore:
        """An instance described by a ``ClientTrustConfig`` document (its JSON, a
        path, or the parsed model), as other Sigstore clients take it: its trusted
        root and signing config are used as they are, without TUF."""
        return cls(name="trust config", trust_config=config, **options)

    # -- lifetime ------------------------------------------------------------------------------

    async def __aenter__(self) -> Sigstore:
        if self._closed:
            raise RuntimeError("this Sigstore client is closed")
        if self._http is None:
            self._http = new_client(transport=self._transport)
        self._opened = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        self._closed = True
        http, self._http = self._http, None
        if http is not None and self._owns_http:
            await http.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared HTTP client (for the service clients built on this object).

        Raises:
            RuntimeError: not opened with ``async with``, or closed.
        """
        if self._http is None or self._closed or (self._owns_http and not self._opened):
            raise RuntimeError("use `async with Sigstore...() as sigstore:` first")
        return self._http

    # -- trust ---------------------------------------------------------------------------------

    async def trust(self, *, refresh: bool = False) -> TrustConfig:
        """The current trusted root and signing config.

        Through TUF (unless given explicitly or offline): from memory while
        fresh, else from the local cache if another process refreshed it
        recently, else from the repository; ``refresh=True`` forces the last.
        Concurrent callers share one load.

        Raises:
            TufError: the TUF update failed; the subclass says why
                (``RepositoryUnavailable``, ``MetadataExpired``,
                ``RollbackAttack``, ``BadMetadataSignature``,
                ``LengthOrHashMismatch``, ``MalformedMetadata``,
                ``TargetNotFound``). The previous trust stays in place.
            InvalidTrustRoot: a trusted root or signing config is malformed.
            TrustError: no trust anchor for a private repository, or a document
                cannot be read.
            OSError: the TUF cache could not be written (or, for a private
                repository, read).
            RuntimeError: the network is needed and the client is not open.
        """
        if self._trust_config is not None or self._trusted_root is not None:
            return await self._explicit_trust()
        if self.offline and self._explicit is not None:
            return self._explicit  # offline, already fell back to the embedded roots
        updater = self._tuf_updater()
        try:
            tuf = await updater.get(force=refresh)
        except (TufError, OSError) as e:
            if not self.offline or self.repository is None or self.repository.instance is None:
                raise
            return await self._embedded(e)
        cached = self._cached
        if cached is not None and cached[0] is tuf:
            return cached[1]
        async with self._once():  # index each new trusted root once, for all callers
            cached = self._cached
            if cached is not None and cached[0] is tuf:
                return cached[1]
            signing = await self._signing_override()
            material = await anyio.to_thread.run_sync(
                TrustMaterial.from_trusted_root, tuf.trusted_root
            )
            config = TrustConfig(
                trusted_root=tuf.trusted_root,
                signing_config=signing if signing is not None else tuf.signing_config,
                material=material,
                source="tuf",
                tuf=tuf.status,
            )
            self._cached = (tuf, config)
            return config

    async def refresh(self) -> TrustConfig:
        """Refresh from the TUF repository now (see :meth:`trust`).

        Raises:
            TufError, InvalidTrustRoot, TrustError, RuntimeError: as :meth:`trust`.
        """
        return await self.trust(refresh=True)

    async def verifier(self, **options: Any) -> Verifier:
        """A :class:`~sigstore_async.verify.Verifier` over the current trust.

        ``options`` are passed to ``Verifier`` (``options=``, ``concurrency=``,
        ...). Without options, calls share one verifier (and its cache) for as
        long as the trust does not change.

        Raises:
            TufError, InvalidTrustRoot, TrustError, RuntimeError: as :meth:`trust`.
        """
        config = await self.trust()
        if options:
            options.setdefault("clock", self.clock)
            return Verifier(config.material, **options)
        if self._verifier is not None and self._verifier[0] is config:
            return self._verifier[1]
        verifier = Verifier(config.material, clock=self.clock)
        self._verifier = (config, verifier)
        return verifier

    def _tuf_updater(self) -> TrustUpdater:
        if self._updater is None:
            assert self.repository is not None
            http = None if self.offline else self.http
            self._updater = TrustUpdater(
                self.repository,
                http,
                cache_dir=self._cache_dir,
                offline=self.offline,
                max_age=self.max_age,
                config=self._tuf_config,
                clock=self.clock,
            )
        elif not self.offline:
            self.http  # noqa: B018 - raises when closed
        return self._updater

    async def _signing_override(self) -> SigningConfig | None:
        value = self._signing_config
        if value is None or isinstance(value, SigningConfig):
            return value
        data = await anyio.to_thread.run_sync(_read_doc, value)
        return SigningConfig.from_json(data)

    def _once(self) -> anyio.Lock:
        if self._index_lock is None:
            self._index_lock = anyio.Lock()
        return self._index_lock

    async def _explicit_trust(self) -> TrustConfig:
        if self._explicit is not None:
            return self._explicit
        async with self._once():
            if self._explicit is None:
                self._explicit = await self._build_explicit()
            return self._explicit

    async def _build_explicit(self) -> TrustConfig:
        signing: SigningConfig | None
        if self._trust_config is not None:
            value = self._trust_config
            if not isinstance(value, ClientTrustConfig):
                value = ClientTrustConfig.from_json(
                    await anyio.to_thread.run_sync(_read_doc, value)
                )
            assert value.trusted_root is not None
            root, signing = value.trusted_root, value.signing_config
        else:
            given = self._trusted_root
            assert given is not None
            if isinstance(given, TrustedRoot):
                root = given
            else:
                root = TrustedRoot.from_json(await anyio.to_thread.run_sync(_read_doc, given))
            signing = None
            if self.repository is not None and self.repository.instance is not None:
                signing = await anyio.to_thread.run_sync(
                    embedded_signing_config, self.repository.instance
                )
        override = await self._signing_override()
        material = await anyio.to_thread.run_sync(TrustMaterial.from_trusted_root, root)
        return TrustConfig(
            trusted_root=root,
            signing_config=override if override is not None else signing,
            material=material,
            source="explicit",
        )

    async def _embedded(self, error: Exception) -> TrustConfig:
        assert self.repository is not None
        assert self.repository.instance is not None
        async with self._once():
            if self._explicit is None:
                self._explicit = await self._build_embedded(self.repository.instance, error)
            return self._explicit

    async def _build_embedded(self, instance: Instance, error: Exception) -> TrustConfig:
        assert self.repository is not None
        # An empty cache is the normal state of offline use; a cache that does
        # not verify is worth a warning.
        log = logger.info if isinstance(error, RepositoryUnavailable) else logger.warning
        log(
            "offline: the TUF cache of %s is not usable (%s); using the trust root "
            "embedded in this package",
            self.repository.url,
            error,
        )
        root = await anyio.to_thread.run_sync(embedded_trusted_root, instance)
        signing = await anyio.to_thread.run_sync(embedded_signing_config, instance)
        override = await self._signing_override()
        material = await anyio.to_thread.run_sync(TrustMaterial.from_trusted_root, root)
        return TrustConfig(
            trusted_root=root,
            signing_config=override if override is not None else signing,
            material=material,
            source="embedded",
        )

    # -- signing and identity -----------------------------------------------------------------

    @asynccontextmanager
    async def signer(self, token: TokenSource, **options: Any) -> AsyncIterator[Signer]:
        """A :class:`~sigstore_async.sign.Signer` for ``token`` over the current trust.

        ``token`` is an identity token (raw JWT or ``IdentityToken``) or a
        callable that returns one (used again when the certificate is renewed
        after the token expired). The signer shares this client's HTTP pool and
        clock; ``options`` go to ``Signer`` (``key_type=``, ``verify=``, ...).

        Raises:
            TrustError: this instance publishes no signing config.
            TufError, InvalidTrustRoot: as :meth:`trust`.
            IdentityError, ServiceError: as ``Signer.__aenter__``.
        """
        config = await self.trust()
        if config.signing_config is None:
            raise TrustError("this Sigstore instance publishes no signing config")
        options.setdefault("clock", self.clock)
        async with Signer(
            token,
            signing_config=config.signing_config,
            trust=config.material,
            http=self.http,
            **options,
        ) as signer:
            yield signer

    async def oidc(self) -> Issuer:
        """The OIDC issuer of this instance's signing config, for token flows
        (``interactive()``, ``device_flow()``, ``client_credentials()``) over
        this client's HTTP pool.

        Raises:
            TrustError: the signing config names no OIDC issuer usable now.
        """
        config = await self.trust()
        if config.signing_config is None:
            raise TrustError("this Sigstore instance publishes no signing config")
        # The signing config's selection rules: versions, validity, operators.
        chosen = select_services(
            config.signing_config.oidc_urls,
            versions=OIDC_VERSIONS,
            config=None,
            now=self.clock(),
            what="OIDC issuer",
        )
        if not chosen:
            raise TrustError("the signing config names no usable OIDC issuer")
        return Issuer(self.http, chosen[0].url, clock=self.clock)
