"""Ambient credentials: identity tokens that the machine a signer runs on can
hand over without a person.

Owns: one provider per place a signer lives (GitHub Actions, GitLab CI and
any CI that exports ``SIGSTORE_ID_TOKEN``, Buildkite, CircleCI, Google Cloud,
an explicit environment variable or file), and detection: every provider
tried at once, each under its own timeout, the first valid token *in
preference order* chosen, and a record of what each provider did and why.

Does not own: parsing tokens (``token``), HTTP policy (``_http``), or the
clock (callers pass one).

Why preference order rather than the first to answer: two providers can both
succeed (a GitLab job's ``SIGSTORE_ID_TOKEN`` is also the generic variable),
and the report must say the same thing every run. Providers that do not
apply answer at once, so waiting for a more preferred one costs nothing in
practice; the later ones are cancelled as soon as the winner is known.

Environment: providers read ``AmbientContext.env`` (``os.environ`` unless the
caller passes a mapping) and agent commands run with exactly that
environment, so tests never have to change the process's own.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Literal, Protocol

import anyio
import anyio.to_thread
import attrs
import httpx

from .._core import JSON_ERRORS
from .._http import RetryPolicy, request
from .._time import Clock, utc_now
from ..errors import IdentityError, ServiceError
from .token import DEFAULT_AUDIENCE, DEFAULT_LEEWAY, IdentityToken

__all__ = [
    "AmbientContext",
    "AmbientProvider",
    "Attempt",
    "Buildkite",
    "CircleCI",
    "Detection",
    "EnvironmentVariable",
    "GitHubActions",
    "GitLabCI",
    "GoogleCloud",
    "Skip",
    "TokenFile",
    "default_providers",
    "detect",
]

logger = logging.getLogger(__name__)

#: Seconds each provider may take (a metadata server or agent that hangs
#: must not hold detection hostage).
DEFAULT_PROVIDER_TIMEOUT = 15.0
_RETRY = RetryPolicy(attempts=3, deadline=10.0)


@attrs.frozen
class Skip:
    """What a provider returns when the environment is not its own."""

    reason: str


@attrs.frozen
class AmbientContext:
    """What providers may use: the shared HTTP client, the environment, and
    the audience the token must be for."""

    http: httpx.AsyncClient
    env: Mapping[str, str] = attrs.field(repr=False)
    audience: str = DEFAULT_AUDIENCE


class AmbientProvider(Protocol):
    """A place tokens come from.

    ``fetch`` returns the raw token, or :class:`Skip` when the environment is
    not its own; it raises :class:`~sigstore_async.errors.IdentityError`,
    :class:`~sigstore_async.errors.ServiceError` or ``OSError`` when the
    environment is its own but no token can be had. Messages never contain
    tokens or the credentials used to get them.
    """

    @property
    def name(self) -> str: ...

    async def fetch(self, context: AmbientContext) -> str | Skip: ...


Outcome = Literal["found", "skipped", "failed", "not needed"]


@attrs.frozen
class Attempt:
    """What one provider did during detection."""

    provider: str
    #: ``found`` a valid token; ``skipped`` (not this environment); ``failed``
    #: (its environment, but no valid token, or a timeout); ``not needed`` (a
    #: preferred provider had already won, so it was cancelled).
    outcome: Outcome
    reason: str

    def __str__(self) -> str:
        return f"{self.provider}: {self.outcome}: {self.reason}"


@attrs.frozen
class Detection:
    """The outcome of :func:`detect`: the token and its provider, if any,
    and one :class:`Attempt` per provider in preference order."""

    token: IdentityToken | None
    provider: str | None
    attempts: tuple[Attempt, ...]


# --- providers -------------------------------------------------------------------------------


def _nonempty(text: str, what: str) -> str:
    token = text.strip()
    if not token:
        raise IdentityError(f"{what} is empty")
    return token


@attrs.frozen
class TokenFile:
    """A token in a file, e.g. a mounted projected service-account token."""

    path: Path = attrs.field(converter=Path)
    name: str = "file"

    async def fetch(self, context: AmbientContext) -> str | Skip:
        try:
            text = await anyio.Path(self.path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return Skip(f"{self.path} does not exist")
        except UnicodeDecodeError as e:
            raise IdentityError(f"{self.path} is not text") from e
        except (OSError, ValueError) as e:  # ValueError: a NUL in the path
            raise IdentityError(f"{self.path} cannot be read: {e}") from e
        return _nonempty(text, str(self.path))


@attrs.frozen
class EnvironmentVariable:
    """A token in an environment variable: ``SIGSTORE_ID_TOKEN`` (cosign, and
    any CI that exports it) or ``SIGSTORE_IDENTITY_TOKEN`` (sigstore-python)."""

    names: tuple[str, ...] = ("SIGSTORE_ID_TOKEN", "SIGSTORE_IDENTITY_TOKEN")
    name: str = "environment"

    async def fetch(self, context: AmbientContext) -> str | Skip:
        for var in self.names:
            value = context.env.get(var)
            if value:
                return _nonempty(value, var)
        return Skip(f"{' and '.join(self.names)} are not set")


@attrs.frozen
class GitHubActions:
    """GitHub Actions: a GET to ``ACTIONS_ID_TOKEN_REQUEST_URL`` with
    ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` as bearer, which GitHub sets only for
    jobs granted ``permissions: id-token: write``."""

    name: str = "github-actions"

    async def fetch(self, context: AmbientContext) -> str | Skip:
        env = context.env
        if not env.get("GITHUB_ACTIONS"):
            return Skip("GITHUB_ACTIONS is not set")
        url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        bearer = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        if not url or not bearer:
            raise IdentityError(
                "ACTIONS_ID_TOKEN_REQUEST_URL or ACTIONS_ID_TOKEN_REQUEST_TOKEN is unset: "
                "the job needs `permissions: id-token: write` (not granted to pull "
                "requests from forks)"
            )
        # The URL carries its own query (api-version): add to it, never replace it.
        try:
            target = str(httpx.URL(url).copy_merge_params({"audience": context.audience}))
        except httpx.InvalidURL as e:
            raise IdentityError("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL") from e
        response = await request(
            context.http,
            "GET",
            target,
            service=self.name,
            headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
            retry=_RETRY,
        )
        try:
            value = json.loads(response.content)["value"]
        except (*JSON_ERRORS, KeyError, TypeError) as e:
            raise ServiceError("the ID-token response has no 'value'", service=self.name) from e
        if not isinstance(value, str):
            raise ServiceError("the ID-token response's 'value' is not a string", service=self.name)
        return _nonempty(value, "the ID-token response")


def gitlab_variable(audience: str) -> str:
    """The variable a GitLab job's ``id_tokens:`` entry for ``audience`` is
    expected in: the audience upper-cased, every character outside
    ``A-Z0-9_`` (and a leading digit) replaced by ``_``, then ``_ID_TOKEN``
    (``sigstore`` -> ``SIGSTORE_ID_TOKEN``)."""
    return re.sub(r"[^A-Z0-9_]|^[^A-Z_]", "_", audience.upper()) + "_ID_TOKEN"


@attrs.frozen
class GitLabCI:
    """GitLab CI/CD: the job's ``id_tokens:`` put the token in a variable
    named after the audience (see :func:`gitlab_variable`)."""

    name: str = "gitlab-ci"

    async def fetch(self, context: AmbientContext) -> str | Skip:
        if not context.env.get("GITLAB_CI"):
            return Skip("GITLAB_CI is not set")
        var = gitlab_variable(context.audience)
        value = context.env.get(var)
        if not value:
            raise IdentityError(
                f"{var} is not set: add `id_tokens: {var}: aud: {context.audience}` to the job"
            )
        return _nonempty(value, var)


async def _run_agent(context: AmbientContext, argv: Sequence[str]) -> str:
    """Run a CI agent's token command with the context's environment; its stdout."""
    path = context.env.get("PATH", os.defpath)
    executable = await anyio.to_thread.run_sync(shutil.which, argv[0], os.X_OK, path)
    if executable is None:
        raise IdentityError(f"`{argv[0]}` is not on PATH")
    result = await anyio.run_process(
        [executable, *argv[1:]],
        env=dict(context.env),
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        # stderr only: stdout is where a token would be.
        first = result.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        detail = f": {first[0][:200]}" if first else ""
        raise IdentityError(f"`{argv[0]}` exited with status {result.returncode}{detail}")
    try:
        text = result.stdout.decode("ascii")
    except UnicodeDecodeError as e:
        raise IdentityError(f"`{argv[0]}` printed something that is not a token") from e
    return _nonempty(text, f"the output of `{argv[0]}`")


@attrs.frozen
class Buildkite:
    """Buildkite: ``buildkite-agent oidc request-token --audience AUD``."""

    name: str = "buildkite"

    async def fetch(self, context: AmbientContext) -> str | Skip:
        if not context.env.get("BUILDKITE"):
            return Skip("BUILDKITE is not set")
        return await _run_agent(
            context, ["buildkite-agent", "oidc", "request-token", "--audience", context.audience]
        )


@attrs.frozen
class CircleCI:
    """CircleCI: ``circleci run oidc get --claims '{"aud": AUD}' --root-issuer``
    (the root issuer is the one Fulcio's public configuration names)."""

    name: str = "circleci"

    async def fetch(self, context: AmbientContext) -> str | Skip:
        if not context.env.get("CIRCLECI"):
            return Skip("CIRCLECI is not set")
        claims = json.dumps({"aud": context.audience})
        return await _run_agent(
            context, ["circleci", "run", "oidc", "get", "--claims", claims, "--root-issuer"]
        )


_GCP_PRODUCT_NAMES = frozenset({"Google", "Google Compute Engine"})
_GCP_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_GCP_IAM = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{}:generateIdToken"


@attrs.frozen
class GoogleCloud:
    """Google Cloud: the metadata server's identity endpoint for the
    instance's service account; or, when ``GOOGLE_SERVICE_ACCOUNT_NAME`` is
    set, an ID token for that account through IAM Credentials
    ``generateIdToken`` (service-account impersonation) authorised by the
    metadata server's access token.

    The instance is recognised by its DMI product name (``product_name_file``)
    or an explicit ``GCE_METADATA_HOST``, never by probing the network.
    """

    product_name_file: Path = attrs.field(
        default=Path("/sys/class/dmi/id/product_name"), converter=Path
    )
    iam_url: str = _GCP_IAM
    name: str = "google-cloud"

    def _metadata(self, env: Mapping[str, str]) -> str:
        host = env.get("GCE_METADATA_HOST") or "metadata.google.internal"
        return f"http://{host}/computeMetadata/v1/instance/service-accounts/default"

    async def _on_gce(self, env: Mapping[str, str]) -> str | None:
        """Why this looks like Google Cloud, or None."""
        if env.get("GCE_METADATA_HOST"):
            return "GCE_METADATA_HOST is set"
        try:
            product = (await anyio.Path(self.product_name_file).read_text()).strip()
        except (OSError, UnicodeDecodeError):
            return None
        return f"product name {product!r}" if product in _GCP_PRODUCT_NAMES else None

    async def fetch(self, context: AmbientContext) -> str | Skip:
        env = context.env
        account = env.get("GOOGLE_SERVICE_ACCOUNT_NAME")
        headers = {"Metadata-Flavor": "Google"}
        if account:
            response = await request(
                context.http,
                "GET",
                self._metadata(env) + "/token",
                service=self.name,
                params={"scopes": _GCP_SCOPE},
                headers=headers,
                retry=_RETRY,
            )
            access = _json_field(response, "access_token", self.name)
            response = await request(
                context.http,
                "POST",
                self.iam_url.format(account),
                service=self.name,
                json={"audience": context.audience, "includeEmail": True},
                headers={"Authorization": f"Bearer {access}"},
                retry=_RETRY,
            )
            return _nonempty(_json_field(response, "token", self.name), "generateIdToken")
        if await self._on_gce(env) is None:
            return Skip("not on Google Cloud (no Google DMI product name, no GCE_METADATA_HOST)")
        response = await request(
            context.http,
            "GET",
            self._metadata(env) + "/identity",
            service=self.name,
            params={"audience": context.audience, "format": "full"},
            headers=headers,
            retry=_RETRY,
        )
        try:
            text = response.content.decode("ascii")
        except UnicodeDecodeError:
            raise ServiceError(
                "the metadata server's identity token is not ASCII text", service=self.name
            ) from None
        return _nonempty(text, "the metadata server's identity token")


def _json_field(response: httpx.Response, field: str, service: str) -> str:
    try:
        value = json.loads(response.content).get(field)
    except (*JSON_ERRORS, AttributeError) as e:
        raise ServiceError("the response is not a JSON object", service=service) from e
    if not isinstance(value, str) or not value:
        raise ServiceError(f"the response has no {field!r}", service=service)
    return value


def default_providers() -> tuple[AmbientProvider, ...]:
    """Every built-in provider, most preferred first.

    GitLab comes before the generic variable because in a GitLab job the
    variable *is* GitLab's mechanism; an explicitly exported variable comes
    before the CI services' own token endpoints.
    """
    return (
        GitLabCI(),
        EnvironmentVariable(),
        GitHubActions(),
        Buildkite(),
        CircleCI(),
        GoogleCloud(),
    )


# --- detection -------------------------------------------------------------------------------


async def _attempt(
    provider: AmbientProvider,
    context: AmbientContext,
    *,
    provider_timeout: float,
    clock: Clock,
    issuer: str | None,
    leeway: timedelta,
) -> tuple[Attempt, IdentityToken | None]:
    name = provider.name
    try:
        with anyio.fail_after(provider_timeout):
            raw = await provider.fetch(context)
    except TimeoutError:
        return Attempt(name, "failed", f"no answer within {provider_timeout:g} seconds"), None
    except (IdentityError, ServiceError) as e:
        return Attempt(name, "failed", str(e)), None
    except OSError as e:
        return Attempt(name, "failed", f"{type(e).__name__}: {e.strerror or e}"), None
    if isinstance(raw, Skip):
        return Attempt(name, "skipped", raw.reason), None
    try:
        token = IdentityToken.from_jwt(
            raw, now=clock(), audience=context.audience, issuer=issuer, leeway=leeway
        )
    except IdentityError as e:
        return Attempt(name, "failed", f"unusable token: {e}"), None
    return Attempt(name, "found", f"a token for {token.identity} from {token.issuer}"), token


async def detect(
    http: httpx.AsyncClient,
    *,
    providers: Sequence[AmbientProvider] | None = None,
    audience: str = DEFAULT_AUDIENCE,
    issuer: str | None = None,
    env: Mapping[str, str] | None = None,
    provider_timeout: float = DEFAULT_PROVIDER_TIMEOUT,
    clock: Clock = utc_now,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> Detection:
    """Try every provider at once; return the most preferred valid token.

    Each provider has ``provider_timeout`` seconds; one that takes longer is
    recorded as failed. The whole detection takes at most about that long.

    A token counts only if it parses and passes the checks of
    :meth:`IdentityToken.from_jwt` for ``audience`` (and ``issuer``, when
    given). A provider's failure is recorded in its :class:`Attempt` and never
    raised; ``Detection.token`` is None when no provider found one.
    Programming errors in a provider still propagate.
    """
    chosen = tuple(providers) if providers is not None else default_providers()
    context = AmbientContext(http, env=dict(os.environ) if env is None else env, audience=audience)
    attempts: list[Attempt | None] = [None] * len(chosen)
    tokens: list[IdentityToken | None] = [None] * len(chosen)
    scopes = [anyio.CancelScope() for _ in chosen]
    winner: list[int] = []

    def settle() -> None:
        # The winner is the first provider with a token once every provider
        # preferred to it has finished without one.
        for i, attempt in enumerate(attempts):
            if attempt is None:
                return
            if tokens[i] is not None:
                winner.append(i)
                for scope in scopes[i + 1 :]:
                    scope.cancel()
                return

    async def run(i: int) -> None:
        with scopes[i]:
            attempts[i], tokens[i] = await _attempt(
                chosen[i],
                context,
                provider_timeout=provider_timeout,
                clock=clock,
                issuer=issuer,
                leeway=leeway,
            )
            if not winner:
                settle()

    async with anyio.create_task_group() as tg:
        for i in range(len(chosen)):
            tg.start_soon(run, i)

    final = tuple(
        a if a is not None else Attempt(p.name, "not needed", "a preferred provider won")
        for p, a in zip(chosen, attempts, strict=True)
    )
    for attempt in final:
        logger.debug("ambient credentials: %s", attempt)
    if not winner:
        return Detection(None, None, final)
    i = winner[0]
    return Detection(tokens[i], chosen[i].name, final)
