"""``sigstore-async identity``: which identity a signature made here would carry.

Owns: the token-source options every signing command shares
(:func:`add_token_options`, :func:`token_from_args`, for ``sign`` and
``attest`` too) and rendering a token's identity, expiry and source. The
token itself is never printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import datetime
from typing import Any

import anyio
import httpx

from .._http import new_client
from .._time import utc_now
from ..errors import IdentityError, NoCredential, SigstoreError
from ..oidc import IdentityToken, Issuer, obtain_token
from ..oidc.ambient import DEFAULT_PROVIDER_TIMEOUT
from ..oidc.sources import Flow
from ._common import describe, eprint

__all__ = ["add_parser", "add_token_options", "token_from_args"]

#: How long a person has to finish signing in.
SIGN_IN_TIMEOUT = 300.0
FLOWS = ("auto", "browser", "oob", "device", "client-credentials", "none")


def seconds(text: str) -> float:
    """An argparse type: a finite, non-negative number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a finite, non-negative number: {text!r}")
    return value


def add_token_options(p: argparse.ArgumentParser) -> None:
    """The options that choose where an identity token comes from."""
    g = p.add_argument_group("identity token")
    g.add_argument(
        "--identity-token-file",
        metavar="PATH",
        help="read the OIDC identity token from PATH (a token is a credential: it is never "
        "taken on the command line, where other users could see it)",
    )
    g.add_argument(
        "--no-ambient",
        action="store_true",
        help="do not look for ambient credentials (CI providers, cloud metadata, "
        "SIGSTORE_ID_TOKEN)",
    )
    g.add_argument(
        "--flow",
        choices=FLOWS,
        default="auto",
        help="sign-in flow when no ambient credential is found: auto (browser when the "
        "terminal is interactive, else none), browser (out-of-band without one), oob, "
        "device, client-credentials, none",
    )
    g.add_argument(
        "--oidc-issuer",
        default=os.environ.get("SIGSTORE_OIDC_ISSUER"),
        help="OIDC issuer for sign-in flows (default: Sigstore's; env SIGSTORE_OIDC_ISSUER)",
    )
    g.add_argument(
        "--oidc-client-id",
        default=os.environ.get("SIGSTORE_OIDC_CLIENT_ID", "sigstore"),
        help="OAuth client id (env SIGSTORE_OIDC_CLIENT_ID)",
    )
    g.add_argument(
        "--oidc-client-secret-file",
        metavar="PATH",
        help="OAuth client secret, read from PATH (or env SIGSTORE_OIDC_CLIENT_SECRET)",
    )
    g.add_argument(
        "--audience", default="sigstore", help="the token audience Fulcio expects (sigstore)"
    )
    g.add_argument(
        "--provider-timeout",
        type=seconds,
        default=DEFAULT_PROVIDER_TIMEOUT,
        metavar="SECONDS",
        help="time each ambient provider may take",
    )


def _flow(args: argparse.Namespace) -> Flow | None:
    choice: str = args.flow
    if choice == "none":
        return None
    if choice == "auto":
        return "browser" if sys.stdin.isatty() else None
    if choice in ("browser", "oob", "device", "client-credentials"):
        return choice  # type: ignore[return-value]
    raise ValueError(choice)


async def _client_secret(args: argparse.Namespace) -> str | None:
    if args.oidc_client_secret_file:
        data = await anyio.Path(args.oidc_client_secret_file).read_bytes()  # off the loop
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise IdentityError(
                f"the client secret file {args.oidc_client_secret_file} is not UTF-8 text"
            ) from None
    return os.environ.get("SIGSTORE_OIDC_CLIENT_SECRET") or None


async def token_from_args(
    http: httpx.AsyncClient, args: argparse.Namespace, *, staging: bool = False
) -> tuple[IdentityToken, str]:
    """The token the options of :func:`add_token_options` select, and its source.

    Raises:
        NoCredential, IdentityError, ServiceError: as :func:`obtain_token`.
        OSError: a token or secret file cannot be read.
    """
    issuer_url = args.oidc_issuer or (Issuer.STAGING if staging else Issuer.PRODUCTION)
    issuer = Issuer(
        http,
        issuer_url,
        client_id=args.oidc_client_id,
        client_secret=await _client_secret(args),
        audience=args.audience,
    )
    with anyio.fail_after(SIGN_IN_TIMEOUT + args.provider_timeout):
        return await obtain_token(
            http,
            token_file=args.identity_token_file,
            ambient=not args.no_ambient,
            flow=_flow(args),
            issuer=issuer,
            audience=args.audience,
            provider_timeout=args.provider_timeout,
        )


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "identity",
        help="show the identity a signature made here would carry",
        description=(
            "Find an OIDC identity token as `sign` would (a token file, ambient credentials, "
            "then a sign-in flow) and print the identity Fulcio would certify, the issuer it "
            "would record, when the token expires, and which source supplied it. The token "
            "itself is never printed."
        ),
    )
    add_token_options(p)
    p.add_argument("--staging", action="store_true", help="use Sigstore's staging issuer")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)


def _remaining(token: IdentityToken, now: datetime) -> str:
    seconds = int(token.remaining(now).total_seconds())
    if seconds <= 0:
        return "expired"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"in {hours}h {minutes}m"
    return f"in {minutes}m {seconds}s"


def _render(token: IdentityToken, source: str) -> dict[str, Any]:
    return {
        "identity": token.identity,
        "identity_kind": token.identity_kind,
        "certificate_issuer": token.certificate_issuer,
        "issuer": token.issuer,
        "issuer_type": token.issuer_type,
        "subject": token.subject,
        "audience": list(token.audience),
        "expires_at": token.expires_at.isoformat(),
        "source": source,
    }


def _attempts(error: NoCredential) -> list[dict[str, str]]:
    return [
        {"provider": a.provider, "outcome": a.outcome, "reason": a.reason} for a in error.attempts
    ]


def run(args: argparse.Namespace) -> int:
    async def go() -> tuple[IdentityToken, str]:
        async with new_client() as http:
            return await token_from_args(http, args, staging=args.staging)

    try:
        token, source = anyio.run(go)
    except NoCredential as e:
        if args.json:
            print(json.dumps({"error": describe(e), "attempts": _attempts(e)}, indent=2))
        else:
            eprint(f"sigstore-async identity: {e}")
            for attempt in e.attempts:
                eprint(f"  {attempt}")
        return 1
    except TimeoutError:
        eprint("sigstore-async identity: signing in took too long")
        return 1
    except (SigstoreError, OSError) as e:
        if args.json:
            reason = e.reason if isinstance(e, IdentityError) else None
            print(json.dumps({"error": describe(e), "reason": reason}, indent=2))
        else:
            eprint(f"sigstore-async identity: {describe(e)}")
        return 1
    out = _render(token, source)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"identity:  {token.identity} ({token.identity_kind})")
    print(f"issuer:    {token.certificate_issuer}")
    if token.certificate_issuer != token.issuer:
        print(f"via:       {token.issuer}")
    print(f"expires:   {token.expires_at.isoformat()} ({_remaining(token, utc_now())})")
    print(f"source:    {source}")
    return 0
