"""IdentityToken: parsing, the pre-flight checks, and Fulcio's identity rules.

Sans-I/O: tokens are made here, the time is fixed, nothing is awaited.
"""

from __future__ import annotations

import logging
import pickle
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from sigstore_async.errors import (
    ExpiredToken,
    IdentityError,
    InvalidToken,
    NoIdentity,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
)
from sigstore_async.oidc import IdentityToken, issuer_type

from ._support import EMAIL, GITHUB_ISSUER, NOW, WORKFLOW, b64url, make_jwt

REPO = Path(__file__).resolve().parents[2]


def parse(raw: str, **kwargs: Any) -> IdentityToken:
    return IdentityToken.from_jwt(raw, now=NOW, **kwargs)


@attrs.frozen
class Case:
    name: str
    claims: dict[str, Any]
    identity: str
    kind: str
    issuer_type: str
    certificate_issuer: str | None = None  # None: the token's iss
    challenge: str | None = None  # None: sub


def _claims(iss: str, **extra: Any) -> dict[str, Any]:
    return {
        "iss": iss,
        "sub": "subject-1",
        "aud": "sigstore",
        "iat": int(NOW.timestamp()) - 10,
        "exp": int(NOW.timestamp()) + 600,
        **extra,
    }


# Fulcio's public-good issuer configuration (config/identity/config.yaml).
IDENTITIES = [
    Case(
        "google email",
        _claims("https://accounts.google.com", email=EMAIL, email_verified=True),
        EMAIL,
        "email",
        "email",
        challenge=EMAIL,
    ),
    Case(
        "dex federated through github",
        _claims(
            "https://oauth2.sigstore.dev/auth",
            email=EMAIL,
            email_verified=True,
            federated_claims={"connector_id": "https://github.com/login/oauth", "user_id": "1"},
        ),
        EMAIL,
        "email",
        "email",
        certificate_issuer="https://github.com/login/oauth",
        challenge=EMAIL,
    ),
    Case(
        "dex staging federated through google",
        _claims(
            "https://oauth2.sigstage.dev/auth",
            email=EMAIL,
            email_verified=True,
            federated_claims={"connector_id": "https://accounts.google.com"},
        ),
        EMAIL,
        "email",
        "email",
        certificate_issuer="https://accounts.google.com",
        challenge=EMAIL,
    ),
    Case(
        "github actions",
        _claims(GITHUB_ISSUER, job_workflow_ref=WORKFLOW.removeprefix("https://github.com/")),
        WORKFLOW,
        "uri",
        "github-workflow",
    ),
    Case(
        "github enterprise tenant",
        _claims(
            GITHUB_ISSUER + "/octo-enterprise",
            job_workflow_ref="octo/repo/.github/workflows/x.yml@refs/heads/main",
        ),
        "https://github.com/octo/repo/.github/workflows/x.yml@refs/heads/main",
        "uri",
        "github-workflow",
    ),
    Case(
        "gitlab.com",
        _claims(
            "https://gitlab.com",
            ci_config_ref_uri="gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main",
        ),
        "https://gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main",
        "uri",
        "gitlab-pipeline",
    ),
    Case(
        "buildkite",
        _claims("https://agent.buildkite.com", organization_slug="acme", pipeline_slug="release"),
        "https://buildkite.com/acme/release",
        "uri",
        "buildkite-job",
    ),
    Case(
        "circleci",
        _claims(
            "https://oidc.circleci.com/org/0123",
            **{
                "oidc.circleci.com/project-id": "p-1",
                "oidc.circleci.com/pipeline-definition-id": "d-2",
            },
        ),
        "https://circleci.com/api/v2/projects/p-1/pipeline-definitions/d-2",
        "uri",
        "circleci-job",
    ),
    Case(
        "codefresh",
        _claims(
            "https://oidc.codefresh.io",
            account_name="acme",
            pipeline_name="proj/pipe",
            account_id="a1",
            pipeline_id="p1",
        ),
        "https://g.codefresh.io/acme/proj/pipe:a1/p1",
        "uri",
        "codefresh-workflow",
    ),
    Case(
        "chainguard",
        _claims("https://issuer.enforce.dev"),
        "https://issuer.enforce.dev/subject-1",
        "uri",
        "chainguard-identity",
    ),
    Case(
        "kubernetes on EKS",
        _claims(
            "https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
            **{"kubernetes.io": {"namespace": "ci", "serviceaccount": {"name": "builder"}}},
        ),
        "https://kubernetes.io/namespaces/ci/serviceaccounts/builder",
        "uri",
        "kubernetes",
    ),
    Case(
        "unknown issuer, a service: its subject",
        _claims("https://sso.example.com"),
        "subject-1",
        "subject",
        "generic",
    ),
    Case(
        "unknown issuer, a person: the verified email",
        _claims("https://sso.example.com", email=EMAIL, email_verified=True),
        EMAIL,
        "email",
        "generic",
        challenge=EMAIL,
    ),
    Case(
        "unknown issuer, unverified email: its subject",
        _claims("https://sso.example.com", email=EMAIL, email_verified=False),
        "subject-1",
        "subject",
        "generic",
    ),
]


@pytest.mark.parametrize("case", IDENTITIES, ids=[c.name for c in IDENTITIES])
def test_identity_per_issuer(case: Case) -> None:
    token = parse(make_jwt(case.claims))
    assert token.identity == case.identity
    assert token.identity_kind == case.kind
    assert token.issuer_type == case.issuer_type
    assert token.certificate_issuer == (case.certificate_issuer or case.claims["iss"])
    assert token.challenge == (case.challenge or case.claims["sub"])
    assert token.issuer == case.claims["iss"]
    assert token.subject == "subject-1"


@attrs.frozen
class Bad:
    name: str
    raw: str
    error: type[IdentityError]
    claim: str | None = None


def _raw(header: str, payload: str, signature: str = "c2ln") -> str:
    return f"{header}.{payload}.{signature}"


_HEAD = b64url(b'{"alg":"ES256"}')

REJECTED = [
    Bad("not a jwt", "hello", InvalidToken),
    Bad("two parts", "a.b", InvalidToken),
    Bad("encrypted", "a.b.c.d.e", InvalidToken),
    Bad("bad base64", _raw(_HEAD, "!!!"), InvalidToken),
    Bad("payload not json", _raw(_HEAD, b64url(b"nope")), InvalidToken),
    Bad("payload a list", _raw(_HEAD, b64url(b"[1]")), InvalidToken),
    Bad("header not json", _raw(b64url(b"{"), b64url(b"{}")), InvalidToken),
    # Deeper than json.loads goes (RecursionError), yet under the size limit.
    Bad("header nested too deep", _raw(b64url(b"[" * 5000), b64url(b"{}")), InvalidToken),
    Bad("payload nested too deep", _raw(_HEAD, b64url(b"[" * 5000)), InvalidToken),
    Bad("no alg", make_jwt(header={"typ": "JWT"}), InvalidToken, "alg"),
    Bad("alg none", make_jwt(header={"alg": "none"}), InvalidToken, "alg"),
    Bad("no signature", make_jwt().rsplit(".", 1)[0] + ".", InvalidToken, "alg"),
    Bad("no iss", make_jwt(iss=None), InvalidToken, "iss"),
    Bad("iss not a string", make_jwt(iss=7), InvalidToken, "iss"),
    Bad("no sub", make_jwt(sub=None), InvalidToken, "sub"),
    Bad("no aud", make_jwt(aud=None), InvalidToken, "aud"),
    Bad("aud a number", make_jwt(aud=3), InvalidToken, "aud"),
    Bad("aud an empty list", make_jwt(aud=[]), InvalidToken, "aud"),
    Bad("no exp", make_jwt(exp=None), InvalidToken, "exp"),
    Bad("exp a string", make_jwt(exp="soon"), InvalidToken, "exp"),
    Bad("exp a boolean", make_jwt(exp=True), InvalidToken, "exp"),
    Bad("exp out of range", make_jwt(exp=10**30), InvalidToken, "exp"),
    Bad("no iat", make_jwt(iat=None), InvalidToken, "iat"),
    Bad("wrong audience", make_jwt(aud="someone-else"), WrongAudience),
    Bad("expired", make_jwt(exp=int(NOW.timestamp()) - 60), ExpiredToken),
    Bad("not yet valid", make_jwt(nbf=int(NOW.timestamp()) + 600), TokenNotYetValid),
    Bad("email unverified", make_jwt(email_verified=False), NoIdentity, "email_verified"),
    Bad("email_verified a string", make_jwt(email_verified="true"), NoIdentity),
    Bad("no email", make_jwt(email=None), NoIdentity, "email"),
    Bad("email not an address", make_jwt(email="alice"), NoIdentity, "email"),
    Bad(
        "dex without connector",
        make_jwt(iss="https://oauth2.sigstore.dev/auth"),
        NoIdentity,
        "federated_claims.connector_id",
    ),
    Bad(
        "github without job_workflow_ref",
        make_jwt(iss=GITHUB_ISSUER),
        NoIdentity,
        "job_workflow_ref",
    ),
    Bad(
        "gitlab without ci_config_ref_uri",
        make_jwt(iss="https://gitlab.com"),
        NoIdentity,
        "ci_config_ref_uri",
    ),
    Bad(
        "kubernetes without service account",
        make_jwt(iss="https://oidc.eks.eu-west-1.amazonaws.com/id/X"),
        NoIdentity,
        "kubernetes.io",
    ),
    Bad("too large", "a" * 70_000, InvalidToken),
]


@pytest.mark.parametrize("bad", REJECTED, ids=[b.name for b in REJECTED])
def test_rejected(bad: Bad) -> None:
    with pytest.raises(bad.error) as info:
        parse(bad.raw)
    if bad.claim is not None:
        assert getattr(info.value, "claim", None) == bad.claim
    assert info.value.reason
    assert bad.raw not in str(info.value)


def test_errors_carry_data() -> None:
    with pytest.raises(WrongAudience) as aud:
        parse(make_jwt(aud=["a", "b"]))
    assert aud.value.expected == "sigstore"
    assert aud.value.actual == ("a", "b")
    with pytest.raises(ExpiredToken) as exp:
        parse(make_jwt(exp=int(NOW.timestamp()) - 60))
    assert exp.value.now == NOW
    assert exp.value.expires_at == NOW - timedelta(seconds=60)
    assert exp.value.reason == "expired"


def test_audience_is_configurable_and_lists_are_accepted() -> None:
    assert parse(make_jwt(aud=["other", "sigstore"])).audience == ("other", "sigstore")
    assert parse(make_jwt(aud="my-fulcio"), audience="my-fulcio").audience == ("my-fulcio",)


def test_expected_issuer() -> None:
    raw = make_jwt()
    assert parse(raw, issuer="https://accounts.google.com").issuer == "https://accounts.google.com"
    with pytest.raises(WrongIssuer) as info:
        parse(raw, issuer="https://oauth2.sigstore.dev/auth")
    assert info.value.actual == "https://accounts.google.com"


@pytest.mark.parametrize(
    ("exp_offset", "nbf_offset", "ok"),
    [
        (1, None, True),  # expires in a second
        (0, None, True),  # expires now: within the leeway
        (-9, None, True),  # 9 s ago: within the 10 s leeway
        (-10, None, False),  # exactly at the edge of the leeway
        (600, 9, True),  # nbf 9 s ahead: within the leeway
        (600, 11, False),
    ],
)
def test_time_checks_with_leeway(exp_offset: int, nbf_offset: int | None, ok: bool) -> None:
    now = int(NOW.timestamp())
    raw = make_jwt(exp=now + exp_offset, nbf=None if nbf_offset is None else now + nbf_offset)
    if ok:
        parse(raw)
    else:
        with pytest.raises((ExpiredToken, TokenNotYetValid)):
            parse(raw)


def test_leeway_is_configurable() -> None:
    raw = make_jwt(exp=int(NOW.timestamp()) - 30)
    with pytest.raises(ExpiredToken):
        parse(raw)
    parse(raw, leeway=timedelta(minutes=1))


def test_iat_in_the_future_is_not_refused() -> None:
    # Fulcio does not compare iat with its clock; a lagging host must not either.
    parse(make_jwt(iat=int(NOW.timestamp()) + 120))


def test_time_helpers() -> None:
    token = parse(make_jwt())
    assert token.remaining(NOW) == timedelta(minutes=10)
    assert token.is_valid_at(NOW)
    assert not token.is_valid_at(NOW + timedelta(minutes=11))
    with pytest.raises(ValueError):
        token.check_time(NOW.replace(tzinfo=None))


def test_issuer_types_override_for_private_deployments() -> None:
    raw = make_jwt(iss="https://sso.example.com", sub="https://svc.example.com/builder")
    assert parse(raw).identity == EMAIL  # a guess: the verified email
    token = parse(raw, issuer_types={"https://sso.example.com": "uri"})
    assert token.identity == "https://svc.example.com/builder"
    assert token.identity_kind == "uri"
    with pytest.raises(ValueError):
        parse(raw, issuer_types={"https://sso.example.com": "telepathy"})


def test_issuer_type_table() -> None:
    assert issuer_type("https://accounts.google.com") == "email"
    assert issuer_type("https://token.actions.githubusercontent.com") == "github-workflow"
    assert issuer_type("https://token.actions.githubusercontent.comevil") == "generic"
    assert issuer_type("https://oidc.circleci.com") == "circleci-job"
    assert (
        issuer_type("https://container.googleapis.com/v1/projects/p/locations/l/clusters/c")
        == "kubernetes"
    )


def test_whitespace_around_the_token_is_ignored() -> None:
    raw = make_jwt()
    assert parse(f"  {raw}\n") == parse(raw)


def test_the_token_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    raw = make_jwt()
    token = parse(raw)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").info("token %s %r", token, token)
    for text in (repr(token), str(token), f"{token}", caplog.text):
        assert raw not in text
        assert raw.split(".")[1] not in text
    assert EMAIL in repr(token)
    assert token.reveal() == raw


def test_equality_and_hash_follow_the_raw_token() -> None:
    a, b = parse(make_jwt()), parse(make_jwt())
    c = parse(make_jwt(sub="someone-else"))
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert a != "a string"
    assert len({a, b, c}) == 2


def test_claims_are_read_only() -> None:
    token = parse(make_jwt())
    with pytest.raises(TypeError):
        token.claims["email"] = "mallory@example.com"  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        token.identity = "mallory@example.com"  # type: ignore[misc]


def test_not_a_string() -> None:
    with pytest.raises(TypeError):
        IdentityToken.from_jwt(b"bytes", now=NOW)  # type: ignore[arg-type]


def test_pickle_round_trip_keeps_the_token() -> None:
    token = parse(make_jwt())
    assert pickle.loads(pickle.dumps(token)) == token  # noqa: S301


def test_token_parsing_reads_no_clock_and_no_files() -> None:
    # Its imports without httpx or an async runtime: tests/test_layering.py.
    text = (REPO / "sigstore_async" / "oidc" / "token.py").read_text()
    for needle in ("datetime.now(", "time.time(", "utc_now", "open("):
        assert needle not in text
