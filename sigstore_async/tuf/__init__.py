"""The async TUF client: Sigstore's trust root delivered securely, refreshed once for many callers.

Layers, innermost first:

- ``_trusted`` (sans-I/O): the checks of the TUF client workflow over
  python-tuf's metadata API, given bytes and a ``now``.
- ``_store``: the local metadata directory (atomic writes, a cross-process lock).
- ``_updater``: :class:`Updater`, the workflow's I/O on the shared
  ``httpx.AsyncClient``: refresh, target lookup through delegations, target
  download, with a size limit on every download and a deadline on each refresh.
- ``_repository``: :class:`TrustUpdater`, Sigstore's trusted root and signing
  config from a :class:`TufRepository`, refreshed when stale, one load shared by
  concurrent callers and by processes sharing the cache.

Errors are :class:`~sigstore_async.errors.TufError` subclasses naming what failed.
"""

from ._repository import (
    PRODUCTION_URL,
    SIGNING_CONFIG_TARGET,
    STAGING_URL,
    TRUSTED_ROOT_TARGET,
    TrustUpdater,
    TufRepository,
    TufStatus,
    TufTrust,
    save_initial_root,
)
from ._store import MetadataStore
from ._trusted import TargetSearch, TrustedMetadata
from ._updater import Persist, Updater, UpdaterConfig

__all__ = [
    "PRODUCTION_URL",
    "SIGNING_CONFIG_TARGET",
    "STAGING_URL",
    "TRUSTED_ROOT_TARGET",
    "MetadataStore",
    "Persist",
    "TargetSearch",
    "TrustUpdater",
    "TrustedMetadata",
    "TufRepository",
    "TufStatus",
    "TufTrust",
    "Updater",
    "UpdaterConfig",
    "save_initial_root",
]
