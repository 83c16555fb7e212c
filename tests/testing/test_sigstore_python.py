"""Acceptance: sigstore-python 4.5.1, a third-party client, signs against a served
LocalSigstore and verifies with its trust root; the SDK verifies the same bundles.

sigstore-python is synchronous; it runs in a worker thread while the stack
serves from the test's event loop.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from sigstore_async import Identity, Statement
from sigstore_async.testing import LocalSigstore

from ._local import verifier

pytestmark = pytest.mark.anyio

sigstore = pytest.importorskip("sigstore")

ARTIFACT = b"a release built by sigstore-python"
WORKFLOW = "https://github.com/octo/widget/.github/workflows/release.yml@refs/tags/v2"


def _sign_and_verify(config_json: str, token: str, identity: str, issuer: str) -> tuple[str, str]:
    """sigstore-python's public API: sign an artifact and an in-toto statement,
    then verify both against the trust config's root."""
    from sigstore import dsse
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity as PolicyIdentity

    config = ClientTrustConfig.from_json(config_json)
    context = SigningContext.from_trust_config(config)
    statement = (
        dsse.StatementBuilder()
        .subjects(
            [
                dsse.Subject(
                    name="release.tar.gz", digest={"sha256": hashlib.sha256(ARTIFACT).hexdigest()}
                )
            ]
        )
        .predicate_type("https://slsa.dev/provenance/v1")
        .predicate({"buildDefinition": {"buildType": "https://example.com/build"}})
        .build()
    )
    with context.signer(IdentityToken(token)) as signer:
        artifact_bundle = signer.sign_artifact(ARTIFACT)
        dsse_bundle = signer.sign_dsse(statement)
    checker = Verifier(trusted_root=config.trusted_root)
    policy = PolicyIdentity(identity=identity, issuer=issuer)
    checker.verify_artifact(ARTIFACT, artifact_bundle, policy)
    payload_type, _ = checker.verify_dsse(dsse_bundle, policy)
    assert payload_type == "application/vnd.in-toto+json"
    return artifact_bundle.to_json(), dsse_bundle.to_json()


@pytest.mark.parametrize("rekor_v2", [False, True], ids=["rekor-v1", "rekor-v2-tsa"])
@pytest.mark.parametrize("identity", ["alice@example.com", WORKFLOW], ids=["email", "workflow"])
async def test_sigstore_python_signs_and_both_verify(
    rekor_v2: bool, identity: str, tmp_path: Path
) -> None:
    async with LocalSigstore(serve=True) as stack:
        files = await stack.write_trust_files(tmp_path)
        name = "trust_config_rekor_v2.json" if rekor_v2 else "trust_config.json"
        config_json = files[name].read_text()
        token = stack.issue_token(identity)
        artifact_json, dsse_json = await anyio.to_thread.run_sync(
            _sign_and_verify, config_json, token, identity, stack.oidc_url
        )
        policy = Identity(identity, stack.oidc_url)
        ours = verifier(stack)
        result = await ours.verify(artifact_json, ARTIFACT, policy)
        assert result.identity == identity
        result = await ours.verify(dsse_json, ARTIFACT, policy)
        assert isinstance(result.statement, Statement)
        assert result.statement.predicate_type == "https://slsa.dev/provenance/v1"
        log = "POST /rekor-v2/api/v2/log/entries" if rekor_v2 else "POST /rekor/api/v1/log/entries"
        assert stack.requests[log] == 2
        assert stack.requests["POST /tsa/api/v1/timestamp"] == 2
        assert stack.requests["POST /api/v2/signingCert"] == 1  # one certificate, cached


def _trust_config_from_tuf(url: str, root: Path) -> str:
    from sigstore.models import ClientTrustConfig

    config = ClientTrustConfig.from_tuf(url, bootstrap_root=root)
    return config.trusted_root._inner.to_json()  # type: ignore[no-any-return]


async def test_sigstore_python_reads_the_tuf_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sigstore-python keeps TUF metadata in the user's data and cache directories.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    async with LocalSigstore(serve=True) as stack:
        files = await stack.write_trust_files(tmp_path / "trust")
        trusted_root = await anyio.to_thread.run_sync(
            _trust_config_from_tuf, stack.tuf_url, files["root.json"]
        )
    from sigstore_async import TrustedRoot

    assert TrustedRoot.from_json(trusted_root) == stack.trusted_root
    assert stack.requests["GET /tuf/{path}"] >= 4  # root, timestamp, snapshot, targets, target
