"""Identity tokens: a JWT's claims, and the identity Fulcio will certify from them.

Owns: decoding a compact JWT *without* checking its signature (Fulcio checks
it against the issuer's keys; a client that checked it too would add a JWKS
fetch and prove nothing more), the checks a user can rely on before a network
round trip (audience, ``exp`` and ``nbf`` against a given time with a small
leeway, the issuer), and the mapping from claims to the certificate's identity
per Fulcio's issuer types.

Does not own: obtaining tokens (``ambient``, ``flows``), reading the clock
(callers pass ``now``), or verifying anything cryptographically.

Sans-I/O: no network, no async runtime, no clock, no files.

The raw token is a bearer credential. It is kept out of ``repr``, ``str`` and
every error message; :meth:`IdentityToken.reveal` is the one way to get it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

import attrs

from .._core import JSON_ERRORS
from ..errors import (
    ExpiredToken,
    InvalidToken,
    NoIdentity,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
)

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_LEEWAY",
    "ISSUER_TYPES",
    "IdentityKind",
    "IdentityToken",
    "issuer_type",
]

#: The audience Sigstore's Fulcio instances expect (their ``client-id``).
DEFAULT_AUDIENCE = "sigstore"
#: Clock skew tolerated between this host and the issuer. Fulcio itself
#: tolerates none on ``exp``, so this stays small: a token that we accept
#: within the leeway may still be refused a few seconds later.
DEFAULT_LEEWAY = timedelta(seconds=10)
#: A token larger than this is not an identity token we want to parse.
MAX_TOKEN_BYTES = 64 * 1024

#: How the identity appears in the certificate: an rfc822Name SAN, a URI SAN,
#: or ``subject`` for issuer types whose SAN form depends on the Fulcio
#: deployment (generic, URI, SPIFFE and username types certify ``sub``).
IdentityKind = Literal["email", "uri", "subject"]

# Fulcio's public issuer configuration, config/identity/config.yaml
# (sigstore/fulcio@001376a), plus the staging federated issuer.
_EMAIL_ISSUERS = frozenset(
    {
        "https://accounts.google.com",
        "https://auth.eclipse.org/auth/realms/foundation-service-accounts",
        "https://issuer.hello.coop",
        "https://oauth2.sigstage.dev/auth",
        "https://oauth2.sigstore.dev/auth",
        "https://sigstore.verify.ibm.com/oauth2",
        "https://www.kaggle.com/api/v1/models/signing",
    }
)
# Dex: "issuer-claim: $.federated_claims.connector_id" -- the certificate
# records the upstream identity provider, not Dex.
_FEDERATED_ISSUERS = frozenset(
    {"https://oauth2.sigstage.dev/auth", "https://oauth2.sigstore.dev/auth"}
)
_GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
_GITLAB_ISSUERS = frozenset(
    {
        "https://dev.gitlab.org",
        "https://gitlab.archlinux.org",
        "https://gitlab.com",
        "https://ops.gitlab.net",
    }
)
_BUILDKITE_ISSUER = "https://agent.buildkite.com"
_CIRCLECI_ISSUER = "https://oidc.circleci.com"
_CODEFRESH_ISSUER = "https://oidc.codefresh.io"
_CHAINGUARD_ISSUERS = frozenset({"https://issuer.chainops.dev", "https://issuer.enforce.dev"})
# Fulcio's kubernetes meta-issuers (EKS, AKS, GKE).
_KUBERNETES_ISSUERS = (
    re.compile(r"https://oidc\.eks\.[^/]+\.amazonaws\.com/id/[^/]+"),
    re.compile(r"https://([^/]+\.)?oic\.prod-aks\.azure\.com/[^/]+(/[^/]+)?"),
    re.compile(r"https://oidc\.prod-aks\.azure\.com/[^/]+"),
    re.compile(
        r"https://container\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+/clusters/[^/]+"
    ),
)

# Fulcio's email principal (pkg/identity/email/principal.go).
_EMAIL_RE = re.compile(r"^.+@.+\..+$")
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")


#: Fulcio's issuer types that this module knows how to map to an identity.
ISSUER_TYPES = frozenset(
    {
        "email",
        "github-workflow",
        "gitlab-pipeline",
        "buildkite-job",
        "circleci-job",
        "codefresh-workflow",
        "chainguard-identity",
        "kubernetes",
        "uri",
        "spiffe",
        "username",
        "generic",
    }
)


def issuer_type(issuer: str) -> str:
    """Fulcio's issuer type for ``issuer`` in the public-good configuration.

    One of ``email``, ``github-workflow``, ``gitlab-pipeline``,
    ``buildkite-job``, ``circleci-job``, ``codefresh-workflow``,
    ``chainguard-identity``, ``kubernetes``, or ``generic`` for an issuer the
    public configuration does not name: a private Fulcio's configuration
    decides, and :meth:`IdentityToken.from_jwt` then guesses (see there)
    unless told through ``issuer_types``.
    """
    if issuer in _EMAIL_ISSUERS:
        return "email"
    if issuer == _GITHUB_ISSUER or issuer.startswith(_GITHUB_ISSUER + "/"):
        return "github-workflow"
    if issuer in _GITLAB_ISSUERS:
        return "gitlab-pipeline"
    if issuer == _BUILDKITE_ISSUER:
        return "buildkite-job"
    if issuer == _CIRCLECI_ISSUER or issuer.startswith(_CIRCLECI_ISSUER + "/org/"):
        return "circleci-job"
    if issuer == _CODEFRESH_ISSUER:
        return "codefresh-workflow"
    if issuer in _CHAINGUARD_ISSUERS:
        return "chainguard-identity"
    if any(p.fullmatch(issuer) for p in _KUBERNETES_ISSUERS):
        return "kubernetes"
    return "generic"


def _b64url(segment: str, what: str) -> bytes:
    # RFC 7515 2: base64url without padding.
    if not _B64URL_RE.match(segment):
        raise InvalidToken(f"the token's {what} is not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as e:
        raise InvalidToken(f"the token's {what} is not base64url") from e


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except JSON_ERRORS as e:
        raise InvalidToken(f"the token's {what} is not JSON") from e
    if not isinstance(value, dict):
        raise InvalidToken(f"the token's {what} is not a JSON object")
    return value


def _decode(raw: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, unverified."""
    if len(raw) > MAX_TOKEN_BYTES:
        raise InvalidToken("the token is too large")
    parts = raw.split(".")
    if len(parts) == 5:
        raise InvalidToken("the token is encrypted (JWE); an identity token is a signed JWT")
    if len(parts) != 3:
        raise InvalidToken("the token is not a JWT (header.payload.signature)")
    header = _json_object(_b64url(parts[0], "header"), "header")
    claims = _json_object(_b64url(parts[1], "payload"), "payload")
    _b64url(parts[2], "signature")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise InvalidToken("the token's header has no algorithm", claim="alg")
    # RFC 7519 6: an unsecured JWT carries no signature Fulcio could check.
    if alg.lower() == "none" or not parts[2]:
        raise InvalidToken("the token is unsigned", claim="alg")
    return header, claims


def _string(claims: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise InvalidToken(f"the token has no {name!r} claim", claim=name)
        return None
    if not isinstance(value, str) or (required and not value):
        raise InvalidToken(f"the token's {name!r} claim is not a non-empty string", claim=name)
    return value


def _time(claims: Mapping[str, Any], name: str, *, required: bool = True) -> datetime | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise InvalidToken(f"the token has no {name!r} claim", claim=name)
        return None
    # RFC 7519 2: NumericDate, seconds since the epoch (may be fractional).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the token's {name!r} claim is not a number", claim=name)
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as e:
        raise InvalidToken(f"the token's {name!r} claim is out of range", claim=name) from e


def _audience(claims: Mapping[str, Any]) -> tuple[str, ...]:
    value = claims.get("aud")
    # RFC 7519 4.1.3: a string or an array of strings.
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(a, str) for a in value):
        return tuple(value)
    if value is None:
        raise InvalidToken("the token has no 'aud' claim", claim="aud")
    raise InvalidToken("the token's 'aud' claim is not a string or a list of them", claim="aud")


def _claim_for_san(claims: Mapping[str, Any], name: str, default: str | None = None) -> str:
    """A claim a CI provider's SAN template needs (Fulcio: the claimed value
    wins over the configured default; a missing one is an error)."""
    value = claims.get(name, default)
    if not isinstance(value, str) or not value:
        raise NoIdentity(
            f"the token has no {name!r} claim, which Fulcio needs for the certificate identity",
            claim=name,
        )
    return value


@attrs.frozen
class _Identity:
    identity: str
    kind: IdentityKind
    challenge: str
    certificate_issuer: str


def _email_identity(claims: Mapping[str, Any], issuer: str) -> _Identity:
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise NoIdentity("the token has no 'email' claim", claim="email")
    # Fulcio's email principal: the address must be verified and look like one.
    if claims.get("email_verified") is not True:
        raise NoIdentity("the token's email address is not verified", claim="email_verified")
    if not _EMAIL_RE.match(email):
        raise NoIdentity("the token's 'email' claim is not an email address", claim="email")
    certificate_issuer = issuer
    if issuer in _FEDERATED_ISSUERS:
        federated = claims.get("federated_claims")
        connector = federated.get("connector_id") if isinstance(federated, dict) else None
        if not isinstance(connector, str) or not connector:
            raise NoIdentity(
                "the federated token does not name its upstream identity provider",
                claim="federated_claims.connector_id",
            )
        certificate_issuer = connector
    return _Identity(email, "email", email, certificate_issuer)


def _derive(claims: Mapping[str, Any], issuer: str, sub: str, kind_of_issuer: str) -> _Identity:
    """Fulcio's subject alternative name for these claims (its issuer types
    and the ci-provider SAN templates of config/identity/config.yaml)."""
    if kind_of_issuer == "email":
        return _email_identity(claims, issuer)
    if kind_of_issuer == "github-workflow":
        url = _claim_for_san(claims, "url", "https://github.com")
        san = f"{url}/{_claim_for_san(claims, 'job_workflow_ref')}"
    elif kind_of_issuer == "gitlab-pipeline":
        # ci_config_ref_uri carries its host: gitlab.com/group/project//.gitlab-ci.yml@refs/...
        san = f"https://{_claim_for_san(claims, 'ci_config_ref_uri')}"
    elif kind_of_issuer == "buildkite-job":
        url = _claim_for_san(claims, "url", "https://buildkite.com")
        org = _claim_for_san(claims, "organization_slug")
        san = f"{url}/{org}/{_claim_for_san(claims, 'pipeline_slug')}"
    elif kind_of_issuer == "circleci-job":
        api = _claim_for_san(claims, "api_url", "https://circleci.com/api/v2")
        project = _claim_for_san(claims, "oidc.circleci.com/project-id")
        definition = _claim_for_san(claims, "oidc.circleci.com/pipeline-definition-id")
        san = f"{api}/projects/{project}/pipeline-definitions/{definition}"
    elif kind_of_issuer == "codefresh-workflow":
        platform = _claim_for_san(claims, "platform_url", "https://g.codefresh.io")
        parts = [
            _claim_for_san(claims, n)
            for n in ("account_name", "pipeline_name", "account_id", "pipeline_id")
        ]
        san = f"{platform}/{parts[0]}/{parts[1]}:{parts[2]}/{parts[3]}"
    elif kind_of_issuer == "chainguard-identity":
        # Fulcio's chainguard principal: the issuer URL joined with the subject.
        san = f"{issuer.rstrip('/')}/{sub}"
    elif kind_of_issuer == "kubernetes":
        k8s = claims.get("kubernetes.io")
        ns = k8s.get("namespace") if isinstance(k8s, dict) else None
        sa = k8s.get("serviceaccount") if isinstance(k8s, dict) else None
        sa_name = sa.get("name") if isinstance(sa, dict) else None
        if not (isinstance(ns, str) and ns and isinstance(sa_name, str) and sa_name):
            raise NoIdentity(
                "the Kubernetes token names no namespace and service account",
                claim="kubernetes.io",
            )
        san = f"https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa_name}"
    elif kind_of_issuer in ("uri", "spiffe"):
        return _Identity(sub, "uri", sub, issuer)
    elif kind_of_issuer == "generic" and _verified_email(claims):
        # A deployment this module does not know: a person's token (verified
        # email) is most likely certified as an email identity, as Fulcio's
        # email type and LocalSigstore do; anything else as its subject.
        return _email_identity(claims, issuer)
    else:
        return _Identity(sub, "subject", sub, issuer)
    return _Identity(san, "uri", sub, issuer)


def _verified_email(claims: Mapping[str, Any]) -> bool:
    email = claims.get("email")
    return (
        claims.get("email_verified") is True
        and isinstance(email, str)
        and bool(_EMAIL_RE.match(email))
    )


@attrs.frozen(eq=False, repr=False)
class IdentityToken:
    """An OIDC identity token, parsed and checked, with the identity Fulcio
    will put in the certificate.

    Build one with :meth:`from_jwt`. The signature is not checked here:
    Fulcio checks it against the issuer's published keys.

    Two tokens are equal when their raw JWTs are. ``repr`` and ``str`` never
    show the raw token; :meth:`reveal` returns it for sending to Fulcio.
    """

    _raw: str
    #: ``iss``: who issued the token.
    issuer: str
    #: ``sub``.
    subject: str
    #: ``aud``, always as a tuple.
    audience: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    not_before: datetime | None
    #: The identity Fulcio will certify (the Subject Alternative Name): an
    #: email address, a CI workflow URI, or ``sub``.
    identity: str
    identity_kind: IdentityKind
    #: Fulcio's issuer type (see :func:`issuer_type`).
    issuer_type: str
    #: The issuer Fulcio records in the certificate: ``iss``, or for a
    #: federated issuer (Sigstore's Dex) the upstream provider it names in
    #: ``federated_claims.connector_id``. Compare this to a verification policy's issuer.
    certificate_issuer: str
    #: What Fulcio's proof of possession signs: the email for email issuers, else ``sub``.
    challenge: str
    _claims: dict[str, Any]

    @property
    def claims(self) -> Mapping[str, Any]:
        """Every claim, read-only (the claims are not secret; the token is)."""
        return MappingProxyType(self._claims)

    @classmethod
    def from_jwt(
        cls,
        raw: str,
        *,
        now: datetime,
        audience: str = DEFAULT_AUDIENCE,
        issuer: str | None = None,
        leeway: timedelta = DEFAULT_LEEWAY,
        issuer_types: Mapping[str, str] | None = None,
    ) -> IdentityToken:
        """Parse ``raw`` (a compact JWT) and check it at time ``now``.

        Checks, in order: the JWT structure and the OpenID Connect claims
        ``iss``, ``sub``, ``aud``, ``iat``, ``exp`` (present and well typed);
        that ``aud`` contains ``audience``; that ``iss`` is ``issuer`` when one
        is expected; ``exp`` and ``nbf`` against ``now`` with ``leeway``; and
        that the claims name an identity Fulcio would certify.

        The identity follows Fulcio's public-good issuer configuration. For an
        issuer it does not name, ``issuer_types`` (issuer URL to Fulcio type,
        e.g. ``{"https://sso.example.com": "email"}``) says how a private
        deployment is configured; failing that, a verified email is taken as
        the identity, else ``sub``.

        Raises:
            InvalidToken: not a signed JWT, or a required claim is missing or mistyped.
            WrongAudience: ``aud`` does not contain ``audience``.
            WrongIssuer: ``iss`` is not ``issuer``.
            ExpiredToken: ``now`` is past ``exp`` + ``leeway``.
            TokenNotYetValid: ``now`` is before ``nbf`` - ``leeway``.
            NoIdentity: the claims name no identity Fulcio would certify.
        """
        if not isinstance(raw, str):
            raise TypeError("an identity token is a str")
        raw = raw.strip()
        _header, claims = _decode(raw)
        # OpenID Connect Core 1.0, 2: iss, sub, aud, exp and iat are REQUIRED.
        iss = _string(claims, "iss")
        sub = _string(claims, "sub")
        assert iss is not None
        assert sub is not None
        aud = _audience(claims)
        issued_at = _time(claims, "iat")
        expires_at = _time(claims, "exp")
        not_before = _time(claims, "nbf", required=False)
        assert issued_at is not None
        assert expires_at is not None
        if audience not in aud:
            raise WrongAudience(
                f"the token is for audience {', '.join(map(repr, aud))}, not {audience!r}",
                expected=audience,
                actual=aud,
            )
        if issuer is not None and iss != issuer:
            raise WrongIssuer(
                f"the token was issued by {iss!r}, not {issuer!r}", expected=issuer, actual=iss
            )
        kind_of_issuer = (issuer_types or {}).get(iss) or issuer_type(iss)
        if kind_of_issuer not in ISSUER_TYPES:
            raise ValueError(f"unknown Fulcio issuer type {kind_of_issuer!r}")
        derived = _derive(claims, iss, sub, kind_of_issuer)
        token = cls(
            raw,
            issuer=iss,
            subject=sub,
            audience=aud,
            issued_at=issued_at,
            expires_at=expires_at,
            not_before=not_before,
            identity=derived.identity,
            identity_kind=derived.kind,
            issuer_type=kind_of_issuer,
            certificate_issuer=derived.certificate_issuer,
            challenge=derived.challenge,
            claims=claims,
        )
        token.check_time(now, leeway=leeway)
        return token

    def check_time(self, now: datetime, *, leeway: timedelta = DEFAULT_LEEWAY) -> None:
        """Check ``exp`` and ``nbf`` at ``now``, allowing ``leeway`` of clock skew.

        ``iat`` is not compared with ``now``: Fulcio does not, and a host
        whose clock lags the issuer's would refuse fresh tokens.

        Raises:
            ExpiredToken: ``now`` >= ``exp`` + ``leeway`` (RFC 7519 4.1.4).
            TokenNotYetValid: ``now`` < ``nbf`` - ``leeway`` (RFC 7519 4.1.5).
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if now >= self.expires_at + leeway:
            raise ExpiredToken(
                f"the token expired at {self.expires_at.isoformat()} (it is {now.isoformat()})",
                expires_at=self.expires_at,
                now=now,
            )
        if self.not_before is not None and now < self.not_before - leeway:
            raise TokenNotYetValid(
                f"the token is not valid before {self.not_before.isoformat()} "
                f"(it is {now.isoformat()})",
                valid_from=self.not_before,
                now=now,
            )

    def is_valid_at(self, now: datetime, *, leeway: timedelta = DEFAULT_LEEWAY) -> bool:
        """Whether :meth:`check_time` passes at ``now``."""
        try:
            self.check_time(now, leeway=leeway)
        except (ExpiredToken, TokenNotYetValid):
            return False
        return True

    def remaining(self, now: datetime) -> timedelta:
        """How long until ``exp`` (negative once expired)."""
        return self.expires_at - now

    def reveal(self) -> str:
        """The raw JWT, for sending to Fulcio. It is a bearer credential:
        never log it, print it or put it in an error."""
        return self._raw

    def __repr__(self) -> str:
        return (
            f"IdentityToken(identity={self.identity!r}, issuer={self.certificate_issuer!r}, "
            f"expires_at={self.expires_at.isoformat()!r})"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdentityToken):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)
