"""Every sigstore-conformance bundle-verify case, twice (artifact and digest),
through the Python API and through the conformance command line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sigstore_async import (
    Bundle,
    Identity,
    InvalidBundle,
    SigstoreError,
    TrustMaterial,
    VerificationError,
    Verifier,
    VerifyingKey,
)
from sigstore_async.cli import main
from sigstore_async.trust import embedded_trusted_root
from sigstore_async.verify import Artifact
from tests._vectors import Case, case_ids, cases

pytestmark = pytest.mark.vectors

CASES = cases()
PRODUCTION = TrustMaterial.from_trusted_root(embedded_trusted_root("production"))


def _verifier(case: Case) -> Verifier:
    if case.trusted_root is not None:
        trust = TrustMaterial.from_json(case.trusted_root.read_bytes())
    else:
        trust = PRODUCTION
    return Verifier(trust)


async def _verify_api(case: Case, artifact: object) -> None:
    verifier = _verifier(case)
    if case.key is not None:
        try:
            key = VerifyingKey.from_pem(case.key.read_bytes())
        except ValueError as e:
            # An unusable key is refused before verification, as a typed error.
            raise SigstoreError(f"unusable key: {e}") from e
        await verifier.verify(case.bundle, artifact, key=key)  # type: ignore[arg-type]
    else:
        policy = Identity(case.identity, case.issuer)
        await verifier.verify(case.bundle, artifact, policy)  # type: ignore[arg-type]


@pytest.fixture(params=CASES or [None], ids=case_ids())
def case(request: pytest.FixtureRequest, vectors: object) -> Case:
    if request.param is None:
        pytest.skip("no vectors")
    c: Case = request.param
    return c


@pytest.mark.parametrize("form", ["artifact", "digest"])
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_api(case: Case, form: str) -> None:
    artifact: object = case.artifact if form == "artifact" else Artifact.from_digest(case.digest)
    if case.should_pass:
        await _verify_api(case, artifact)
    else:
        with pytest.raises(SigstoreError) as info:
            await _verify_api(case, artifact)
        # A rejection is always a typed error that names its step.
        assert isinstance(info.value, VerificationError | SigstoreError)
        if isinstance(info.value, VerificationError):
            assert info.value.step


@pytest.mark.parametrize("form", ["artifact", "digest"])
def test_conformance_cli(case: Case, form: str, capsys: pytest.CaptureFixture[str]) -> None:
    # --offline: the production root comes from the package, not the network.
    argv = ["conformance", "--offline", "verify-bundle", "--bundle", str(case.bundle)]
    if case.key is not None:
        argv += ["--key", str(case.key)]
    else:
        argv += ["--certificate-identity", case.identity, "--certificate-oidc-issuer", case.issuer]
    if case.trusted_root is not None:
        argv += ["--trusted-root", str(case.trusted_root)]
    argv.append(str(case.artifact) if form == "artifact" else case.digest)
    status = main(argv)
    err = capsys.readouterr().err
    if case.should_pass:
        assert status == 0, err
    else:
        assert status == 1, f"expected rejection, got {status}: {err}"
        assert "verification failed" in err


def test_all_cases_present(vectors: object) -> None:
    # 70 cases, each run twice: the acceptance list counts 140.
    assert len(CASES) == 70


def test_round_trip_every_bundle(vectors: object) -> None:
    parsed = 0
    for c in CASES:
        try:
            b = Bundle.from_json(c.bundle.read_bytes())
        except InvalidBundle:
            continue
        again = Bundle.from_dict(b.to_dict())
        assert again == b, c.name
        parsed += 1
    assert parsed >= 60


def test_fixed_time_is_used() -> None:
    # The verifier reads time only through its clock.
    seen = []

    def clock() -> datetime:
        seen.append(1)
        return datetime(2030, 1, 1, tzinfo=UTC)

    v = Verifier(PRODUCTION, clock=clock)
    assert v._clock() == datetime(2030, 1, 1, tzinfo=UTC)
    assert seen


@pytest.mark.parametrize("name", ["happy-path-v0.3", "signature-mismatch_fail"])
def test_console_script(name: str, vectors: object) -> None:
    """The installed entry point (python -m sigstore_async) speaks the protocol too."""
    import subprocess
    import sys

    case = next(c for c in CASES if c.name == name)
    out = subprocess.run(
        [
            sys.executable, "-m", "sigstore_async", "conformance", "--offline", "verify-bundle",
            "--bundle", str(case.bundle),
            "--certificate-identity", case.identity,
            "--certificate-oidc-issuer", case.issuer,
            case.digest,
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == (0 if case.should_pass else 1), out.stderr
