"""What identity would a signature made here carry? No network needed.

    python examples/identity_token.py

Uses $SIGSTORE_ID_TOKEN (or $SIGSTORE_IDENTITY_TOKEN) when it holds a usable
token; otherwise it makes a demonstration token itself (with a fake signature:
the SDK never checks token signatures, Fulcio does). It prints the identity
Fulcio would certify, and what ambient detection tried.
"""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime

import anyio
import httpx

from sigstore_async.errors import IdentityError
from sigstore_async.oidc import EnvironmentVariable, IdentityToken, detect


def demo_token() -> str:
    """A GitHub Actions-shaped token, unsigned in all but form."""

    def b64(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:octo/repo:ref:refs/tags/v1.0.0",
        "aud": "sigstore",
        "iat": now,
        "exp": now + 300,
        "job_workflow_ref": "octo/repo/.github/workflows/release.yml@refs/tags/v1.0.0",
    }
    return f"{b64({'alg': 'RS256'})}.{b64(claims)}.{b64('signature')}"


async def main() -> int:
    env = dict(os.environ)
    async with httpx.AsyncClient() as http:
        # Only the environment variable is consulted: no request is made.
        detection = await detect(http, providers=[EnvironmentVariable()], env=env)
    for attempt in detection.attempts:
        print(f"tried     {attempt}")
    token = detection.token
    source = detection.provider
    now = datetime.now(UTC)  # the library takes the time; an application reads the clock
    if token is None:
        token = IdentityToken.from_jwt(demo_token(), now=now)
        source = "made by this example"
    print(f"identity  {token.identity} ({token.identity_kind})")
    print(f"issuer    {token.certificate_issuer} (type {token.issuer_type})")
    print(f"expires   {token.expires_at.isoformat()}")
    print(f"source    {source}")
    print(f"repr      {token!r}")  # the raw token never appears

    # The checks a user can rely on before any round trip, as typed errors:
    try:
        IdentityToken.from_jwt(token.reveal(), now=now, audience="someone-else")
    except IdentityError as e:
        print(f"refused   {type(e).__name__} ({e.reason}): {e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(anyio.run(main))
