"""The top-level ``Sigstore`` client end to end: trust, a signer, the OIDC
issuer and a verifier, all over one HTTP pool, against LocalSigstore."""

from __future__ import annotations

import pytest

from sigstore_async import Identity, Sigstore, TrustError
from sigstore_async.testing import LocalSigstore

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("rekor_v2", [False, True])
async def test_sign_then_verify_through_one_client(rekor_v2: bool) -> None:
    async with LocalSigstore() as stack:
        config = stack.client_trust_config(rekor_v2=rekor_v2)
        async with Sigstore.from_trust_config(config, transport=stack.transport) as sigstore:
            token = stack.issue_token("me@example.com")
            async with sigstore.signer(token) as signer:
                bundle = await signer.sign(b"an artifact")
            verifier = await sigstore.verifier()
            result = await verifier.verify(
                bundle, b"an artifact", Identity("me@example.com", stack.oidc_url)
            )
            assert result.identity == "me@example.com"
            issuer = await sigstore.oidc()
            assert issuer.url == stack.oidc_url


@pytest.mark.parametrize("path", ["/tmp/no/such/trust_config.json", "/tmp/a\0b.json"])
async def test_an_unreadable_trust_config_is_a_trust_error(path: str) -> None:
    # A NUL in the path made open() raise ValueError, which escaped untyped.
    with pytest.raises(TrustError, match="cannot read"):
        async with Sigstore.from_trust_config(path) as sigstore:
            await sigstore.trust()


@pytest.mark.parametrize("option", ["trusted_root", "signing_config"])
def test_a_trust_config_takes_no_separate_root_or_signing_config(option: str) -> None:
    # It was silently ignored (the trust config's own document was used).
    with pytest.raises(TypeError, match="trust config"):
        Sigstore.from_trust_config("{}", **{option: b"{}"})  # type: ignore[arg-type]
