"""Fixtures for the ``_core`` tests: the sigstore-conformance vectors.

The vectors live beside the checkout in ``../shared/vectors`` (or wherever
``SIGSTORE_ASYNC_VECTORS`` points); they are read in place, never copied into
the repository. Tests that need them are skipped, saying why, when they are
absent.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

from sigstore_async._core.keys import PublicKey, load_der_public_key

_REPO_ROOT = Path(__file__).resolve().parents[2]
_PRODUCTION_ROOT = "_store/https%3A%2F%2Ftuf-repo-cdn.sigstore.dev/trusted_root.json"


def _vectors_root() -> Path:
    configured = os.environ.get("SIGSTORE_ASYNC_VECTORS")
    return Path(configured) if configured else _REPO_ROOT.parent / "shared" / "vectors"


def _production_trusted_root() -> Path | None:
    # The public-good trust root that sigstore-python (a test dependency) embeds.
    spec = importlib.util.find_spec("sigstore")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _PRODUCTION_ROOT
    return path if path.is_file() else None


@attrs.frozen
class LogEntryCase:
    """The first transparency log entry of a vector bundle, with its log's key."""

    entry: dict[str, Any]
    key: PublicKey
    key_id: bytes
    name: str

    def b64(self, *path: str) -> bytes:
        value: Any = self.entry
        for part in path:
            value = value[part]
        return base64.b64decode(value)


@attrs.frozen
class Conformance:
    """Read access to ``sigstore-conformance/bundle-verify``."""

    cases: Path

    def bundle(self, case: str) -> dict[str, Any]:
        path = self.cases / case / "bundle.sigstore.json"
        if not path.is_file():
            pytest.skip(f"vector case {case} is absent from {self.cases}")
        result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return result

    def trusted_root(self, case: str) -> dict[str, Any]:
        path = self.cases / case / "trusted_root.json"
        if not path.is_file():
            production = _production_trusted_root()
            if production is None:
                pytest.skip("the production trusted root of the `sigstore` package is absent")
            path = production
        result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return result

    def log_entry(self, case: str) -> LogEntryCase:
        """The case's first tlog entry, and the key, log id and key name (the
        host of ``baseUrl``) of the trust root's log with that log id."""
        entry = self.bundle(case)["verificationMaterial"]["tlogEntries"][0]
        key_id = base64.b64decode(entry["logId"]["keyId"])
        for log in self.trusted_root(case)["tlogs"]:
            if base64.b64decode(log["logId"]["keyId"]) == key_id:
                hostname = urlsplit(log["baseUrl"]).hostname
                assert hostname
                return LogEntryCase(
                    entry=entry,
                    key=load_der_public_key(base64.b64decode(log["publicKey"]["rawBytes"])),
                    key_id=key_id,
                    name=hostname,
                )
        raise AssertionError(f"{case}: no log in the trusted root has log id {key_id.hex()}")


@pytest.fixture(scope="session")
def conformance() -> Conformance:
    cases = _vectors_root() / "sigstore-conformance" / "bundle-verify"
    if not cases.is_dir():
        pytest.skip(
            f"sigstore-conformance vectors not found at {cases} "
            "(set SIGSTORE_ASYNC_VECTORS to the vectors directory)"
        )
    return Conformance(cases)
