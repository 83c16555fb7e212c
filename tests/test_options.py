"""Verification thresholds and time rules (DESIGN: decisions on the edges)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sigstore_async import (
    Bundle,
    CertificateTransparencyError,
    Identity,
    TimestampError,
    TransparencyLogError,
    TrustMaterial,
    VerificationOptions,
)
from sigstore_async.trust import embedded_trusted_root
from sigstore_async.verify import Artifact, verify_bundle
from tests._vectors import DEFAULT_IDENTITY, DEFAULT_ISSUER, Case, cases

pytestmark = pytest.mark.vectors
NOW = datetime(2026, 11, 26, tzinfo=UTC)
POLICY = Identity(DEFAULT_IDENTITY, DEFAULT_ISSUER)


def _case(name: str) -> Case:
    for c in cases():
        if c.name == name:
            return c
    pytest.skip("vectors absent")


def _run(case: Case, options: VerificationOptions, now: datetime = NOW) -> object:
    trust = (
        TrustMaterial.from_json(case.trusted_root.read_bytes())
        if case.trusted_root
        else TrustMaterial.from_trusted_root(embedded_trusted_root())
    )
    return verify_bundle(
        Bundle.from_json(case.bundle.read_bytes()),
        artifact=Artifact.from_bytes(case.artifact.read_bytes()),
        policy=POLICY,
        trust=trust,
        now=now,
        options=options,
    )


def test_defaults_pass() -> None:
    _run(_case("happy-path-v0.3"), VerificationOptions())
    _run(_case("rekor2-happy-path"), VerificationOptions())


def test_tlog_threshold_counts_distinct_logs() -> None:
    with pytest.raises(TransparencyLogError, match="distinct logs"):
        _run(_case("happy-path-v0.3"), VerificationOptions(tlog_threshold=2))


def test_timestamp_threshold_counts_distinct_sources() -> None:
    # One SET-backed integrated time: a threshold of two is not met.
    with pytest.raises(TimestampError, match="distinct sources"):
        _run(_case("happy-path-v0.3"), VerificationOptions(timestamp_threshold=2))
    # Rekor v2: one TSA timestamp, no integrated time.
    with pytest.raises(TimestampError):
        _run(_case("rekor2-happy-path"), VerificationOptions(timestamp_threshold=2))


def test_sct_threshold() -> None:
    with pytest.raises(CertificateTransparencyError):
        _run(_case("happy-path-v0.3"), VerificationOptions(sct_threshold=2))
    # Zero disables the SCT requirement (a private instance without CT).
    _run(_case("happy-path-v0.3"), VerificationOptions(sct_threshold=0))


def test_verified_time_in_the_future_is_rejected() -> None:
    case = _case("happy-path-v0.3")
    # Verify "as of" a day before the entry was integrated.
    logged = datetime(2024, 3, 19, 17, 26, 26, tzinfo=UTC)
    with pytest.raises(TransparencyLogError, match="future"):
        _run(case, VerificationOptions(), now=logged - timedelta(days=1))
    _run(case, VerificationOptions(), now=logged + timedelta(seconds=1))


def test_negative_thresholds_are_misuse() -> None:
    with pytest.raises(ValueError):
        VerificationOptions(tlog_threshold=-1)


def test_naive_now_is_misuse() -> None:
    with pytest.raises(ValueError):
        _run(_case("happy-path-v0.3"), VerificationOptions(), now=datetime(2026, 1, 1))
