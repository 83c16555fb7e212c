"""Random damage to real bundles and trust roots never crashes the verifier.

Each example takes a happy-path vector, damages one part of its bundle or of
its trust root (a field removed, replaced by any JSON value, a byte of a
base64 field changed, a character of a string changed, a list doubled) and
verifies. The only acceptable failures are the typed ones: VerificationError,
InvalidBundle, InvalidTrustRoot. Some damage is harmless (an unused hint, a
trust-root entry the bundle does not use) and is accepted; what is asserted
here is that nothing escapes untyped. The targeted mutations, each of which
must be rejected, are in test_mutations.py.

A wider, longer campaign of the same kind, run by hand, found five bugs: an
unknown hash-algorithm name, certificates with an invalid version
(cryptography's InvalidVersion is not a ValueError), integrated times past
the year 9999, 64-bit integers above int64, and in-toto ``_type`` values that
do not hash. A later one, over trust documents, found timestamps whose offset
overflows datetime, years below 1000 written without their leading zero (so
``to_json`` output did not read back), and log URLs that urlsplit refuses.
Each has its own regression test next to the code it concerns; these
examples are the broad net, a few hundred per run, new ones each run.
A longer campaign: ``SIGSTORE_ASYNC_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigstore_async import InvalidBundle, InvalidTrustRoot, TrustMaterial, VerificationError
from sigstore_async.models.trust_root import (
    CLIENT_TRUST_CONFIG_MEDIA_TYPE,
    ClientTrustConfig,
    SigningConfig,
    TrustedRoot,
)
from sigstore_async.trust import embedded_signing_config, embedded_trusted_root
from tests._json import inner_paths, json_values
from tests.test_mutations import PASSING, _trust, _verify

pytestmark = pytest.mark.vectors

TYPED = (VerificationError, InvalidBundle, InvalidTrustRoot)
#: Examples per run of the bundle test (the trust-root test runs half as many).
EXAMPLES = int(os.environ.get("SIGSTORE_ASYNC_FUZZ_EXAMPLES", "400"))

any_json = json_values(
    st.sampled_from([0, -1, 2**53, 2**63 - 1, 2**63, -(2**63), 253402300800]),
    text=6,
    width=2,
    max_leaves=6,
)


def _damage(doc: Any, data: st.DataObject) -> None:
    """Damage one node of ``doc`` in place."""
    path = data.draw(st.sampled_from(inner_paths(doc)), label="path")
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    value = parent[key]
    how = data.draw(st.sampled_from(["remove", "replace", "bytes", "char", "double"]), label="how")
    if how == "remove":
        del parent[key]
    elif how == "replace":
        parent[key] = data.draw(any_json, label="value")
    elif how == "double" and isinstance(value, list):
        value.extend(copy.deepcopy(value))
    elif isinstance(value, str) and value:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if how == "bytes" and len(raw) > 4:
            at = data.draw(st.integers(0, len(raw) - 1), label="at")
            byte = data.draw(st.integers(0, 255), label="byte")
            parent[key] = base64.b64encode(raw[:at] + bytes([byte]) + raw[at + 1 :]).decode()
        else:
            at = data.draw(st.integers(0, len(value) - 1), label="at")
            char = data.draw(st.sampled_from(["", "0", "9", "-", " ", "\n", "a", "Z", "é"]))
            parent[key] = value[:at] + char + value[at + 1 :]


def _case(data: st.DataObject) -> Any:
    if not PASSING:
        pytest.skip("vectors absent")
    return data.draw(st.sampled_from(PASSING), label="case")


@given(st.data())
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_bundles_fail_typed(data: st.DataObject) -> None:
    case = _case(data)
    doc = json.loads(case.bundle.read_text())
    _damage(doc, data)
    with contextlib.suppress(*TYPED):
        _verify(case, doc, _trust(case))


@given(st.data())
@settings(
    max_examples=max(1, EXAMPLES // 2), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
def test_damaged_trust_roots_fail_typed(data: st.DataObject) -> None:
    case = _case(data)
    if case.trusted_root is not None:
        root = json.loads(case.trusted_root.read_text())
    else:
        root = json.loads(embedded_trusted_root().to_json())
    _damage(root, data)
    with contextlib.suppress(*TYPED):
        trust = TrustMaterial.from_json(json.dumps(root))
        _verify(case, json.loads(case.bundle.read_text()), trust)


#: Times that are valid RFC 3339 text but sit at the edges of what a
#: protobuf Timestamp (years 1 to 9999) and Python's datetime hold.
EDGE_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59.999999999Z",
        "9999-12-31T23:59:59-00:01",
        "0999-06-01T00:00:00Z",
        "0026-01-14T00:00:00Z",
        "2024-02-29T23:59:60Z",
    ]
)


def _trust_documents() -> list[tuple[type[Any], dict[str, Any]]]:
    root = json.loads(embedded_trusted_root().to_json())
    config = json.loads(embedded_signing_config().to_json())
    both = {
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": root,
        "signingConfig": config,
    }
    return [(TrustedRoot, root), (SigningConfig, config), (ClientTrustConfig, both)]


TRUST_DOCUMENTS = _trust_documents()


@given(st.data())
@settings(
    max_examples=max(1, EXAMPLES // 2), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
def test_damaged_trust_documents_read_typed_and_round_trip(data: st.DataObject) -> None:
    # Not vector data: the embedded public-good documents. A damaged document is
    # refused with InvalidTrustRoot or read; what is read writes JSON that reads
    # back equal (a year below 1000 once did not), and builds trust material or
    # is refused typed.
    cls, original = data.draw(st.sampled_from(TRUST_DOCUMENTS), label="document")
    doc = copy.deepcopy(original)
    if data.draw(st.booleans(), label="edge time"):
        paths = [p for p in inner_paths(doc) if p[-1] in ("start", "end")]
        path = data.draw(st.sampled_from(paths), label="path")
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = data.draw(EDGE_TIMES, label="time")
    else:
        _damage(doc, data)
    try:
        read = cls.from_json(json.dumps(doc))
    except InvalidTrustRoot:
        return
    assert cls.from_json(read.to_json()) == read
    if cls is TrustedRoot:
        with contextlib.suppress(InvalidTrustRoot):
            TrustMaterial.from_trusted_root(read)
