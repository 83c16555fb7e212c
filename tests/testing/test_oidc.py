"""LocalSigstore's OIDC issuer: discovery, JWKS, tokens checked by an independent
JWT library (PyJWT), and the three grants a client can use."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from sigstore_async.testing import LocalSigstore

pytestmark = pytest.mark.anyio

WORKFLOW = "https://github.com/octo/widget/.github/workflows/release.yml@refs/tags/v1.0"


async def _jwks_decode(
    http: httpx.AsyncClient, token: str, audience: str = "sigstore"
) -> dict[str, Any]:
    config = (await http.get("/oidc/.well-known/openid-configuration")).json()
    jwks = (await http.get(config["jwks_uri"])).json()
    key = jwt.PyJWK(jwks["keys"][0])
    claims: dict[str, Any] = jwt.decode(
        token, key.key, algorithms=[key.algorithm_name], audience=audience
    )
    return claims


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
async def test_tokens_verify_with_the_jwks(algorithm: str) -> None:
    async with LocalSigstore(oidc_algorithm=algorithm) as stack, stack.client() as http:  # type: ignore[arg-type]
        config = (await http.get("/oidc/.well-known/openid-configuration")).json()
        assert config["issuer"] == stack.oidc_url
        assert config["id_token_signing_alg_values_supported"] == [algorithm]
        claims = await _jwks_decode(http, stack.issue_token("bob@example.com"))
    assert claims["iss"] == stack.oidc_url
    assert claims["email"] == "bob@example.com"
    assert claims["email_verified"] is True
    assert claims["exp"] - claims["iat"] == 600


async def test_github_claims() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        claims = await _jwks_decode(http, stack.issue_token(WORKFLOW, event_name="release"))
    assert claims["sub"] == "repo:octo/widget:ref:refs/tags/v1.0"
    assert claims["job_workflow_ref"] == "octo/widget/.github/workflows/release.yml@refs/tags/v1.0"
    assert claims["repository"] == "octo/widget"
    assert claims["repository_owner"] == "octo"
    assert claims["ref"] == "refs/tags/v1.0"
    assert claims["event_name"] == "release"  # overridden
    assert claims["runner_environment"] == "github-hosted"
    assert len(claims["sha"]) == 40


async def test_bad_identity() -> None:
    async with LocalSigstore() as stack:
        with pytest.raises(ValueError, match="email address or a URI"):
            stack.issue_token("not an identity")


async def test_client_credentials() -> None:
    async with LocalSigstore(default_identity="ci@example.com") as stack, stack.client() as http:
        stack.oidc.clients["builder"] = (WORKFLOW, {})
        r = await http.post("/oidc/token", data={"grant_type": "client_credentials"})
        assert r.status_code == 200
        claims = await _jwks_decode(http, r.json()["access_token"])
        assert claims["email"] == "ci@example.com"
        r = await http.post(
            "/oidc/token", data={"grant_type": "client_credentials"}, auth=("builder", "secret")
        )
        claims = await _jwks_decode(http, r.json()["access_token"], audience="builder")
        assert claims["job_workflow_ref"].startswith("octo/widget/")


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


async def test_authorization_code_with_pkce() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        verifier, challenge = _pkce()
        redirect_uri = "http://localhost:1234/callback"
        r = await http.get(
            "/oidc/auth",
            params={
                "response_type": "code",
                "client_id": "sigstore",
                "redirect_uri": redirect_uri,
                "scope": "openid email",
                "state": "xyz",
                "nonce": "n-1",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "login_hint": "carol@example.com",
            },
        )
        assert r.status_code == 302
        location = urlsplit(r.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
        query = parse_qs(location.query)
        assert query["state"] == ["xyz"]
        code = query["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": "wrong" + verifier,
        }
        r = await http.post("/oidc/token", data=form, auth=("sigstore", ""))
        assert r.status_code == 400
        assert r.json()["error"] == "invalid_grant"

        # A failed exchange burns the code (single use); authorize again.
        r = await http.get(
            "/oidc/auth",
            params={
                "response_type": "code",
                "client_id": "sigstore",
                "redirect_uri": redirect_uri,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "nonce": "n-1",
            },
        )
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        form |= {"code": code, "code_verifier": verifier}
        r = await http.post("/oidc/token", data=form, auth=("sigstore", ""))
        assert r.status_code == 200, r.text
        claims = await _jwks_decode(http, r.json()["access_token"])
        assert claims["email"] == "signer@example.com"  # no login_hint: the default identity
        assert claims["nonce"] == "n-1"
        r = await http.post("/oidc/token", data=form, auth=("sigstore", ""))
        assert r.json()["error"] == "invalid_grant"  # used


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "redirect_uri"),
        ({"redirect_uri": "http://x/cb", "response_type": "token"}, "response_type"),
        ({"redirect_uri": "http://x/cb", "response_type": "code"}, "PKCE"),
        (
            {
                "redirect_uri": "http://x/cb",
                "response_type": "code",
                "code_challenge": "abc",
                "code_challenge_method": "plain",
            },
            "PKCE",
        ),
    ],
)
async def test_authorize_rejects(params: dict[str, str], message: str) -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.get("/oidc/auth", params=params)
    assert r.status_code == 400
    assert message in r.json()["message"]


async def test_device_flow() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.post("/oidc/device/code", data={"client_id": "sigstore"})
        grant = r.json()
        assert grant["verification_uri"] == stack.oidc_url + "/device"
        poll = {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": grant["device_code"],
            "client_id": "sigstore",
        }
        r = await http.post("/oidc/token", data=poll)
        assert (r.status_code, r.json()["error"]) == (400, "authorization_pending")
        assert stack.oidc.pending_user_codes() == [grant["user_code"]]
        stack.oidc.approve_device(grant["user_code"], WORKFLOW)
        r = await http.post("/oidc/token", data=poll)
        assert r.status_code == 200
        claims = await _jwks_decode(http, r.json()["id_token"])
        assert claims["repository"] == "octo/widget"
        r = await http.post("/oidc/token", data=poll)
        assert r.json()["error"] == "invalid_grant"  # used up


async def test_device_flow_denied_and_browser_page() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        denied = (await http.post("/oidc/device/code", data={"client_id": "sigstore"})).json()
        stack.oidc.deny_device(denied["user_code"])
        r = await http.post(
            "/oidc/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": denied["device_code"],
            },
        )
        assert r.json()["error"] == "access_denied"

        grant = (await http.post("/oidc/device/code", data={"client_id": "sigstore"})).json()
        page = urlsplit(grant["verification_uri_complete"])
        r = await http.get(page.path + "?" + page.query)  # the test is the browser
        assert r.status_code == 200
        r = await http.post(
            "/oidc/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": grant["device_code"],
            },
        )
        assert r.status_code == 200
        assert (await http.get("/oidc/device", params={"user_code": "NOPE"})).status_code == 404
        with pytest.raises(KeyError):
            stack.oidc.approve_device("NOPE-NOPE")


async def test_token_endpoint_errors() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.post("/oidc/token", data={"grant_type": "password"})
        assert r.json()["error"] == "unsupported_grant_type"
        r = await http.post("/oidc/token", content=b"\xff\xfe", headers={"content-type": "x"})
        assert r.status_code == 400
        r = await http.post(
            "/oidc/token",
            data={"grant_type": "client_credentials"},
            headers={"authorization": "Basic !!!"},
        )
        assert r.json()["error"] == "invalid_client"
