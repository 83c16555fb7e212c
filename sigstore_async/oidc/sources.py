"""One call that finds a signer's identity token wherever it lives.

Owns: the order in which token sources are consulted for ``sign``,
``attest`` and ``identity``: an explicit token, an explicit token file,
ambient detection, then (if asked for) an interactive or service flow. And
the name of the source that supplied the token, for people and logs.

Does not own: any source's mechanics (``ambient``, ``flows``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Literal

import anyio
import httpx

from .._time import Clock, utc_now
from ..errors import InvalidToken, NoCredential
from .ambient import DEFAULT_PROVIDER_TIMEOUT, AmbientProvider, Attempt, detect
from .flows import Interaction, Issuer
from .token import DEFAULT_AUDIENCE, DEFAULT_LEEWAY, IdentityToken

__all__ = ["Flow", "obtain_token"]

#: The flow to fall back to when no ambient credential is found.
Flow = Literal["browser", "oob", "device", "client-credentials"]


async def obtain_token(
    http: httpx.AsyncClient,
    *,
    token: str | None = None,
    token_file: str | Path | None = None,
    ambient: bool | Sequence[AmbientProvider] = True,
    flow: Flow | None = None,
    issuer: Issuer | None = None,
    interaction: Interaction | None = None,
    audience: str = DEFAULT_AUDIENCE,
    env: Mapping[str, str] | None = None,
    provider_timeout: float = DEFAULT_PROVIDER_TIMEOUT,
    clock: Clock = utc_now,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> tuple[IdentityToken, str]:
    """An identity token and the name of the source that supplied it.

    Sources, first match wins:

    1. ``token``, a raw JWT the caller was given (source ``"argument"``);
    2. ``token_file`` (source ``"file"``);
    3. ambient detection, unless ``ambient`` is False (``True`` means the
       default providers; a sequence replaces them). The source is the
       provider's name (``"github-actions"``, ``"environment"`` ...);
    4. ``flow`` against ``issuer`` (default: Sigstore's production issuer):
       ``"browser"`` (falls back to out of band without a browser: source
       ``"browser"`` or ``"out-of-band"``), ``"oob"``, ``"device"``,
       ``"client-credentials"``.

    An explicit token or file that is unusable raises at once: a source the
    caller named is never silently passed over.

    Raises:
        NoCredential: no source supplied a token; ``attempts`` says why.
        IdentityError: an explicit token, or the token a flow returned, is
            unusable; or a flow was refused (``AuthorizationFailed``).
        NetworkError, ServiceError: a flow could not reach its issuer.
        OSError: ``token_file`` cannot be read.
    """
    now = clock()
    if token is not None:
        return IdentityToken.from_jwt(token, now=now, audience=audience, leeway=leeway), "argument"
    if token_file is not None:
        data = await anyio.Path(token_file).read_bytes()
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidToken(f"the token file {token_file} is not UTF-8 text") from None
        return IdentityToken.from_jwt(raw, now=now, audience=audience, leeway=leeway), "file"
    attempts: tuple[Attempt, ...] = ()
    if ambient is not False:
        detection = await detect(
            http,
            providers=None if ambient is True else ambient,
            audience=audience,
            env=env,
            provider_timeout=provider_timeout,
            clock=clock,
            leeway=leeway,
        )
        if detection.token is not None and detection.provider is not None:
            return detection.token, detection.provider
        attempts = detection.attempts
    if flow is None:
        raise NoCredential(
            "no identity token: no ambient credential was found and no sign-in flow was asked for",
            attempts=attempts,
        )
    if issuer is None:
        issuer = Issuer.production(http, audience=audience, clock=clock, leeway=leeway)
    if flow == "browser" or flow == "oob":
        return await issuer._interactive(interaction=interaction, force_oob=flow == "oob")
    if flow == "device":
        return await issuer.device_flow(interaction=interaction), "device"
    if flow == "client-credentials":
        return await issuer.client_credentials(), "client-credentials"
    raise ValueError(f"unknown flow {flow!r}")
