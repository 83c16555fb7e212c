"""Shared fixtures: the vectors directory, fixed clocks, both anyio backends."""

from __future__ import annotations

import base64
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import settings

# Timing varies on a loaded 2-core machine: hypothesis' per-example deadline
# would make property tests flaky without making them stronger.
settings.register_profile("sigstore-async", deadline=None)
settings.load_profile("sigstore-async")

REPO = Path(__file__).resolve().parent.parent


def _stale_extension_modules() -> list[str]:
    """Compiled modules (mypyc) in the source tree older than their source: the
    tests would run the old code, since an extension module wins the import."""
    stale = []
    for ext in (REPO / "sigstore_async").rglob("*.so"):
        source = ext.parent / (ext.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > ext.stat().st_mtime:
            stale.append(str(ext.relative_to(REPO)))
    return stale


if _stale := _stale_extension_modules():
    pytest.exit(
        "compiled modules older than their sources (rebuild or delete them): " + ", ".join(_stale),
        returncode=4,
    )

# No test may read or write the user's real TUF cache: point the platform
# directories at a scratch folder for the whole run (subprocesses inherit it).
_SCRATCH = tempfile.mkdtemp(prefix="sigstore-async-tests-")
for _var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
    os.environ[_var] = os.path.join(_SCRATCH, _var.lower())


def vectors_root() -> Path | None:
    """The sigstore-conformance vectors: $SIGSTORE_ASYNC_VECTORS, or ../shared/vectors."""
    env = os.environ.get("SIGSTORE_ASYNC_VECTORS")
    root = Path(env) if env else REPO.parent / "shared" / "vectors"
    root = root / "sigstore-conformance"
    return root if (root / "bundle-verify").is_dir() else None


@pytest.fixture(scope="session")
def vectors() -> Path:
    root = vectors_root()
    if root is None:
        pytest.skip(
            "sigstore-conformance vectors not found: set SIGSTORE_ASYNC_VECTORS or place "
            "them in ../shared/vectors"
        )
    return root


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class ManualClock:
    """A clock that moves only when a test says so; pass it to the stack and the
    client alike instead of patching ``datetime``."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def with_bad_version(der: bytes) -> bytes:
    """A DER certificate with its version set to 125, which X.509 does not have.

    cryptography refuses it with ``InvalidVersion``, which is not a ValueError:
    a site that catches only ValueError lets it escape.
    """
    at = der.index(b"\xa0\x03\x02\x01\x02")  # [0] EXPLICIT INTEGER 2 (v3)
    return der[: at + 4] + b"\x7c" + der[at + 5 :]


def pem_certificate(der: bytes) -> bytes:
    """PEM armour around DER that need not parse (the PEM encoders of cryptography
    take only certificates that do)."""
    body = base64.encodebytes(der)
    return b"-----BEGIN CERTIFICATE-----\n" + body + b"-----END CERTIFICATE-----\n"


def with_unknown_key_algorithm(der: bytes) -> bytes:
    """A DER certificate whose subjectPublicKeyInfo names an algorithm cryptography
    does not know (id-ecPublicKey's last arc changed): it loads, but its
    ``public_key()`` raises ``UnsupportedAlgorithm``."""
    ec_public_key = b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"
    assert der.count(ec_public_key) == 1
    return der.replace(ec_public_key, ec_public_key[:-1] + b"\x09")
