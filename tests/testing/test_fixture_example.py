"""The fixtures of examples/local_sigstore_fixture.py work as documented."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx
import pytest

from sigstore_async.testing import LocalSigstore

_PATH = Path(__file__).resolve().parents[2] / "examples" / "local_sigstore_fixture.py"
_spec = importlib.util.spec_from_file_location("local_sigstore_fixture", _PATH)
assert _spec is not None
assert _spec.loader is not None
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

local_sigstore = example.local_sigstore
sigstore_http = example.sigstore_http

pytestmark = pytest.mark.anyio


async def test_fixtures(local_sigstore: LocalSigstore, sigstore_http: httpx.AsyncClient) -> None:
    bundle = await example.sign_by_hand(local_sigstore, sigstore_http, b"data")
    assert bundle.material.tlog_entries[0].log_index == 0
    assert local_sigstore.requests["POST /rekor/api/v1/log/entries"] == 1
