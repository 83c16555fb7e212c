"""LocalSigstore end to end: bundles assembled from its services' answers verify
with the SDK's verifier, on asyncio and trio."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509

from sigstore_async import ClientTrustConfig, Identity, SigningConfig, TrustedRoot
from sigstore_async._core import sct
from sigstore_async._core.x509 import leaf_identity
from sigstore_async.testing import SERVICES, Adversary, LocalSigstore, ServiceFaults

from ._local import certificate, sign, verifier

pytestmark = pytest.mark.anyio

ARTIFACT = b"release-1.0.tar.gz contents"
WORKFLOW = "https://github.com/octo/widget/.github/workflows/release.yml@refs/tags/v1.0"


@pytest.mark.parametrize(
    ("rekor_v2", "dsse"),
    [(False, False), (False, True), (True, False), (True, True)],
    ids=["v1-hashedrekord", "v1-dsse", "v2-hashedrekord", "v2-dsse"],
)
async def test_bundles_verify(rekor_v2: bool, dsse: bool) -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        bundle = await sign(http, stack, ARTIFACT, rekor_v2=rekor_v2, dsse=dsse)
        result = await verifier(stack).verify(
            bundle, ARTIFACT, Identity("alice@example.com", stack.oidc_url)
        )
    assert result.identity == "alice@example.com"
    assert result.issuer == stack.oidc_url
    sources = {t.source for t in result.verified_times}
    assert sources == ({"timestamp_authority"} if rekor_v2 else {"transparency_log"})
    if dsse:
        assert result.statement is not None


async def test_v1_with_timestamp_has_two_verified_times() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        bundle = await sign(http, stack, ARTIFACT, tsa=True)
        result = await verifier(stack).verify(
            bundle, ARTIFACT, Identity("alice@example.com", stack.oidc_url)
        )
    assert {t.source for t in result.verified_times} == {"timestamp_authority", "transparency_log"}


async def test_github_workflow_identity() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        bundle = await sign(http, stack, ARTIFACT, identity=WORKFLOW)
        result = await verifier(stack).verify(bundle, ARTIFACT, Identity(WORKFLOW, stack.oidc_url))
    ext = result.extensions
    arc = "1.3.6.1.4.1.57264.1."
    assert ext[arc + "9"] == WORKFLOW  # build signer URI
    assert ext[arc + "12"] == "https://github.com/octo/widget"  # source repository URI
    assert ext[arc + "14"] == "refs/tags/v1.0"
    assert ext[arc + "5"] == "octo/widget"  # deprecated raw-bytes extension
    assert ext[arc + "20"] == "push"
    assert ext[arc + "11"] == "github-hosted"
    assert ext[arc + "21"].startswith("https://github.com/octo/widget/actions/runs/")


async def test_trust_material_shapes() -> None:
    async with LocalSigstore() as stack:
        root = TrustedRoot.from_json(stack.trusted_root.to_json())
        assert [t.base_url for t in root.tlogs] == [stack.rekor_url, stack.rekor_v2_url]
        v1 = SigningConfig.from_json(stack.signing_config.to_json())
        v2 = SigningConfig.from_json(stack.signing_config_rekor_v2.to_json())
        assert [(s.url, s.major_api_version) for s in v1.rekor_tlog_urls] == [(stack.rekor_url, 1)]
        assert [(s.url, s.major_api_version) for s in v2.rekor_tlog_urls] == [
            (stack.rekor_v2_url, 2)
        ]
        assert [s.url for s in v2.tsa_urls] == [stack.tsa_url]
        assert stack.make_signing_config(tsa=False).tsa_urls == ()
        config = ClientTrustConfig.from_json(stack.client_trust_config(rekor_v2=True).to_json())
        assert config.signing_config == stack.signing_config_rekor_v2


async def test_embedded_sct_is_over_the_precertificate() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        from cryptography.hazmat.primitives.asymmetric import ec

        chain = await certificate(http, stack, ec.generate_private_key(ec.SECP256R1()))
        ct = stack.trusted_root.ctlogs[0]
    from sigstore_async._core.keys import load_der_public_key

    assert ct.public_key is not None
    assert ct.log_id is not None
    ct_key = load_der_public_key(ct.public_key.raw_bytes)
    leaf, intermediate = chain[0], chain[1]
    count = sct.verify_embedded_scts(
        leaf,
        intermediate,
        ct_keys=lambda log_id, _when: ct_key if log_id == ct.log_id.key_id else None,
    )
    assert count == 1
    # The SCT list is the last extension; everything before it is the precertificate.
    assert leaf.extensions[-1].oid.dotted_string == "1.3.6.1.4.1.11129.2.4.2"


async def test_certificate_profile() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        from cryptography.hazmat.primitives.asymmetric import ec

        leaf, intermediate, root = await certificate(
            http, stack, ec.generate_private_key(ec.SECP256R1())
        )
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(minutes=10)
    assert leaf.issuer == intermediate.subject
    assert intermediate.issuer == root.subject
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    identity = leaf_identity(leaf)
    assert identity.san == "alice@example.com"
    assert identity.extensions["1.3.6.1.4.1.57264.1.1"] == stack.oidc_url
    assert identity.extensions["1.3.6.1.4.1.57264.1.8"] == stack.oidc_url


async def test_clock_is_the_stacks_time() -> None:
    fixed = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
    async with LocalSigstore(clock=lambda: fixed) as stack, stack.client() as http:
        bundle = await sign(http, stack, ARTIFACT, tsa=True)
        result = await verifier(stack, clock=lambda: fixed).verify(
            bundle, ARTIFACT, Identity("alice@example.com", stack.oidc_url)
        )
    assert {t.time for t in result.verified_times} == {fixed}
    assert stack.trusted_root.tlogs[0].public_key is not None
    valid_for = stack.trusted_root.tlogs[0].public_key.valid_for
    assert valid_for is not None
    assert valid_for.start == fixed - timedelta(days=1)


async def test_counters_and_index() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        await sign(http, stack, ARTIFACT)
        r = await http.get("/")
        assert r.json()["rekor"] == stack.rekor_url
        await http.get("/rekor/api/v1/log/entries", params={"logIndex": 0})
    assert stack.requests["POST /api/v2/signingCert"] == 1
    assert stack.requests["POST /rekor/api/v1/log/entries"] == 1
    assert stack.requests["GET /rekor/api/v1/log/entries"] == 1
    assert stack.request_count("rekor") == 2
    assert stack.request_count("fulcio") == 1  # the index page belongs to no service
    assert stack.requests["GET /"] == 1
    assert set(SERVICES) == {"oidc", "fulcio", "rekor", "rekor_v2", "tsa", "tuf"}
    with pytest.raises(ValueError, match="unknown service"):
        stack.request_count("nope")


async def test_tuf_serves_the_trust_root() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.get("/tuf/timestamp.json")
        assert r.status_code == 200
        path = stack.tuf.target_path("trusted_root.json")
        r = await http.get("/tuf" + path)
        assert TrustedRoot.from_json(r.content) == stack.trusted_root
        r = await http.get("/tuf" + stack.tuf.target_path("signing_config.v0.2.json"))
        assert SigningConfig.from_json(r.content) == stack.signing_config
        assert (await http.get("/tuf/nope.json")).status_code == 404
    assert stack.requests["GET /tuf/{path}"] == 4
    assert stack.request_count("tuf") == 4


async def test_misuse() -> None:
    with pytest.raises(ValueError, match="unknown services"):
        LocalSigstore(faults={"ca": ServiceFaults()})
    with pytest.raises(ValueError, match="error_status"):
        ServiceFaults(error_status=418)
    stack = LocalSigstore(adversary=[Adversary.WRONG_SET])
    async with stack:
        with pytest.raises(RuntimeError, match="once"):
            await stack.__aenter__()


async def test_artifact_digest_only() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        bundle = await sign(http, stack, ARTIFACT)
        result = await verifier(stack).verify(
            bundle,
            "sha256:" + hashlib.sha256(ARTIFACT).hexdigest(),
            Identity("alice@example.com", stack.oidc_url),
        )
    assert result.identity == "alice@example.com"


async def test_not_found_and_method() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.get("/nope")
        assert r.status_code == 404
        assert "message" in r.json()
        r = await http.get("/api/v2/signingCert")
        assert r.status_code == 405
        assert r.headers["allow"] == "POST"


async def test_served_stack_answers_on_loopback() -> None:
    async with LocalSigstore(serve=True) as stack:
        assert stack.base_url.startswith("http://127.0.0.1:")
        assert stack.trusted_root.tlogs[0].base_url == stack.base_url + "/rekor"
        async with httpx.AsyncClient(base_url=stack.base_url) as http:
            bundle = await sign(http, stack, ARTIFACT, rekor_v2=True)
        result = await verifier(stack).verify(
            bundle, ARTIFACT, Identity("alice@example.com", stack.oidc_url)
        )
    assert result.identity == "alice@example.com"
