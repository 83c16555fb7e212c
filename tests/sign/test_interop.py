"""Interoperability with sigstore-python 4.5.1, both ways, against LocalSigstore:
it verifies what this SDK signs, and this SDK verifies what it signs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sigstore import dsse
from sigstore.models import Bundle as PyBundle
from sigstore.models import ClientTrustConfig as PyClientTrustConfig
from sigstore.models import TrustedRoot as PyTrustedRoot
from sigstore.oidc import IdentityToken as PyIdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier as PyVerifier
from sigstore.verify.policy import Identity as PyIdentity

from sigstore_async.models import Bundle
from sigstore_async.sign.signer import Signer
from sigstore_async.testing import LocalSigstore
from sigstore_async.trust import TrustMaterial
from sigstore_async.verify import Identity, Verifier

pytestmark = pytest.mark.anyio

IDENTITY = "signer@example.com"
STATEMENT = (
    b'{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":'
    b'{"sha256":"' + b"ab" * 32 + b'"}}],"predicateType":"https://example.com/p"}'
)


@pytest.fixture
async def served() -> AsyncIterator[LocalSigstore]:
    # sigstore-python speaks HTTP with requests: serve on loopback, real clock.
    async with LocalSigstore(serve=True) as s:
        yield s


@pytest.mark.parametrize(
    ("log", "tsa"), [("v1", True), ("v1", False), ("v2", True)], ids=["v1", "v1-no-tsa", "v2"]
)
async def test_sigstore_python_verifies_our_bundles(
    served: LocalSigstore, tmp_path: Path, log: str, tsa: bool
) -> None:
    trust = TrustMaterial.from_trusted_root(served.trusted_root)
    root_path = tmp_path / "trusted_root.json"
    root_path.write_text(served.trusted_root.to_json())
    data = b"interop artifact"
    async with Signer(
        served.issue_token(IDENTITY),
        signing_config=served.make_signing_config(rekor_v2=log == "v2", tsa=tsa),
        trust=trust,
    ) as signer:
        message = await signer.sign(data)
        dsse = await signer.sign_dsse(STATEMENT, "application/vnd.in-toto+json")
        attestation = await signer.attest(data, "https://example.com/predicate", {"k": "v"})

    def verify() -> list[Any]:
        verifier = PyVerifier(trusted_root=PyTrustedRoot.from_file(str(root_path)))
        policy = PyIdentity(identity=IDENTITY, issuer=served.oidc_url)
        verifier.verify_artifact(data, PyBundle.from_json(message.to_json()), policy)
        return [
            verifier.verify_dsse(PyBundle.from_json(b.to_json()), policy)
            for b in (dsse, attestation)
        ]

    (t1, p1), (t2, _) = await anyio.to_thread.run_sync(verify)
    assert (t1, p1) == ("application/vnd.in-toto+json", STATEMENT)
    assert t2 == "application/vnd.in-toto+json"


@pytest.mark.parametrize("log", ["v1", "v2"])
async def test_we_verify_sigstore_python_bundles(
    served: LocalSigstore, tmp_path: Path, log: str
) -> None:
    data = b"signed by sigstore-python"
    config_json = served.client_trust_config(rekor_v2=log == "v2").to_json()
    token = served.issue_token(IDENTITY)

    def sign() -> tuple[str, str]:
        context = SigningContext.from_trust_config(PyClientTrustConfig.from_json(config_json))
        with context.signer(PyIdentityToken(token), cache=True) as signer:
            artifact = signer.sign_artifact(data)
        with context.signer(PyIdentityToken(token), cache=True) as signer:
            statement = (
                dsse.StatementBuilder()
                .subjects([dsse.Subject(name="x", digest={"sha256": "ab" * 32})])
                .predicate_type("https://example.com/p")
                .build()
            )
            attested = signer.sign_dsse(statement)
        return artifact.to_json(), attested.to_json()

    artifact_json, dsse_json = await anyio.to_thread.run_sync(sign)
    verifier = Verifier(TrustMaterial.from_trusted_root(served.trusted_root))
    policy = Identity(IDENTITY, served.oidc_url)
    result = await verifier.verify(Bundle.from_json(artifact_json), data, policy)
    assert result.identity == IDENTITY
    result = await verifier.verify(Bundle.from_json(dsse_json), None, policy)
    assert result.statement is not None
