"""Ambient credentials: each provider against fake endpoints (httpx.MockTransport)
and fake agent commands (scripts on a PATH given to the subprocess), and
detection's order, timeouts and report."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from sigstore_async._http import new_client
from sigstore_async.oidc import (
    AmbientContext,
    Buildkite,
    Detection,
    EnvironmentVariable,
    GitHubActions,
    GoogleCloud,
    Skip,
    TokenFile,
    default_providers,
    detect,
)
from sigstore_async.oidc.ambient import gitlab_variable

from ._support import EMAIL, GITHUB_ISSUER, NOW, WORKFLOW, clock, make_jwt

pytestmark = pytest.mark.anyio

TOKEN = make_jwt()
GITHUB_TOKEN = make_jwt(
    iss=GITHUB_ISSUER,
    sub="repo:octo/repo:ref:refs/tags/v1",
    job_workflow_ref=WORKFLOW.removeprefix("https://github.com/"),
    email=None,
    email_verified=None,
)
BEARER = "ghs_request-bearer-secret"
REQUEST_URL = "https://pipelines.actions.example/idtoken/1?api-version=2.0"


class Fake:
    """A MockTransport handler with routes by (method, host+path); records requests."""

    def __init__(self, routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]]):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.host + request.url.path)
        handler = self.routes.get(key)
        if handler is None:
            return httpx.Response(404, json={"message": f"no route {key}"})
        return handler(request)


@pytest.fixture
async def offline() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that refuses every request (nothing reaches any network)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request to {request.url}")

    async with new_client(transport=httpx.MockTransport(refuse)) as http:
        yield http


async def run_detect(http: httpx.AsyncClient, env: dict[str, str], **kwargs: Any) -> Detection:
    kwargs.setdefault("providers", default_providers_without_gcp_file())
    return await detect(http, env=env, clock=clock, **kwargs)


def default_providers_without_gcp_file() -> tuple[Any, ...]:
    # The machine running the tests might be a Google Cloud VM: read a file we control.
    return tuple(
        GoogleCloud(product_name_file="/nonexistent/product_name")
        if isinstance(p, GoogleCloud)
        else p
        for p in default_providers()
    )


def outcomes(detection: Detection) -> dict[str, str]:
    return {a.provider: a.outcome for a in detection.attempts}


# --- detection over an empty environment ------------------------------------------------------


async def test_nothing_found_says_why_for_each_provider(offline: httpx.AsyncClient) -> None:
    detection = await run_detect(offline, {})
    assert detection.token is None
    assert detection.provider is None
    assert [a.provider for a in detection.attempts] == [
        "gitlab-ci",
        "environment",
        "github-actions",
        "buildkite",
        "circleci",
        "google-cloud",
    ]
    assert set(outcomes(detection).values()) == {"skipped"}
    reasons = {a.provider: a.reason for a in detection.attempts}
    assert reasons["github-actions"] == "GITHUB_ACTIONS is not set"
    assert "SIGSTORE_ID_TOKEN" in reasons["environment"]
    assert "not on Google Cloud" in reasons["google-cloud"]
    assert all(str(a).startswith(a.provider + ": skipped: ") for a in detection.attempts)


async def test_default_environment_is_the_process_environment(
    offline: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", TOKEN)
    detection = await detect(offline, providers=[EnvironmentVariable()], clock=clock)
    assert detection.provider == "environment"


# --- explicit variable and file ---------------------------------------------------------------


async def test_environment_variable(offline: httpx.AsyncClient) -> None:
    detection = await run_detect(offline, {"SIGSTORE_ID_TOKEN": TOKEN + "\n"})
    assert detection.provider == "environment"
    assert detection.token is not None
    assert detection.token.identity == EMAIL
    assert detection.token.reveal() == TOKEN


async def test_sigstore_python_variable_name(offline: httpx.AsyncClient) -> None:
    detection = await run_detect(offline, {"SIGSTORE_IDENTITY_TOKEN": TOKEN})
    assert detection.provider == "environment"


async def test_token_file(offline: httpx.AsyncClient, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    detection = await run_detect(offline, {}, providers=[TokenFile(path)])
    assert detection.provider == "file"
    missing = await run_detect(offline, {}, providers=[TokenFile(tmp_path / "nope")])
    assert outcomes(missing) == {"file": "skipped"}
    unreadable = await run_detect(offline, {}, providers=[TokenFile(tmp_path)])
    assert outcomes(unreadable) == {"file": "failed"}
    (tmp_path / "empty").write_text("\n")
    empty = await run_detect(offline, {}, providers=[TokenFile(tmp_path / "empty")])
    assert outcomes(empty) == {"file": "failed"}
    # A path no file system takes (open() raises ValueError): failed, not raised.
    nul = await run_detect(offline, {}, providers=[TokenFile(f"{tmp_path}/a\0b")])
    assert outcomes(nul) == {"file": "failed"}


# --- GitHub Actions ---------------------------------------------------------------------------


def github_env() -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": REQUEST_URL,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": BEARER,
    }


def github_endpoint(
    status: int = 200, body: Any = None
) -> tuple[Fake, Callable[[httpx.Request], httpx.Response]]:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {BEARER}"
        return httpx.Response(status, json={"value": GITHUB_TOKEN} if body is None else body)

    fake = Fake({("GET", "pipelines.actions.example/idtoken/1"): answer})
    return fake, answer


async def test_github_actions(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake, _ = github_endpoint()
    async with new_client(transport=httpx.MockTransport(fake)) as http:
        detection = await run_detect(http, github_env())
    assert detection.provider == "github-actions"
    assert detection.token is not None
    assert detection.token.identity == WORKFLOW
    assert detection.token.issuer_type == "github-workflow"
    (request,) = fake.requests
    assert request.url.params["audience"] == "sigstore"
    assert request.url.params["api-version"] == "2.0"  # the URL's own query is kept
    # Neither the token nor the bearer that fetched it reaches a log line or the report.
    for secret in (GITHUB_TOKEN, BEARER):
        assert secret not in caplog.text
        assert all(secret not in a.reason for a in detection.attempts)


async def test_github_actions_custom_audience() -> None:
    fake, _ = github_endpoint(body={"value": make_jwt(aud="my-fulcio")})
    async with new_client(transport=httpx.MockTransport(fake)) as http:
        detection = await run_detect(http, github_env(), audience="my-fulcio")
    assert detection.provider == "github-actions"
    assert fake.requests[0].url.params["audience"] == "my-fulcio"


async def test_github_actions_without_id_token_permission(offline: httpx.AsyncClient) -> None:
    detection = await run_detect(offline, {"GITHUB_ACTIONS": "true"})
    attempt = next(a for a in detection.attempts if a.provider == "github-actions")
    assert attempt.outcome == "failed"
    assert "id-token: write" in attempt.reason


@pytest.mark.parametrize(
    ("status", "body"),
    [(403, {"message": "forbidden"}), (200, {"nope": 1}), (200, {"value": 5}), (200, [1])],
)
async def test_github_actions_bad_answers(status: int, body: Any) -> None:
    fake, _ = github_endpoint(status, body)
    async with new_client(transport=httpx.MockTransport(fake)) as http:
        detection = await run_detect(http, github_env())
    assert detection.token is None
    assert outcomes(detection)["github-actions"] == "failed"


async def test_github_actions_answer_nested_too_deep() -> None:
    fake = Fake(
        {
            ("GET", "pipelines.actions.example/idtoken/1"): lambda r: httpx.Response(
                200, content=b"[" * 100_000
            )
        }
    )
    async with new_client(transport=httpx.MockTransport(fake)) as http:
        detection = await run_detect(http, github_env())
    assert outcomes(detection)["github-actions"] == "failed"


async def test_github_actions_bearer_that_is_not_ascii(offline: httpx.AsyncClient) -> None:
    # It cannot be sent in a header: the attempt fails, no request is made.
    env = github_env() | {"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "\u00e9"}
    detection = await run_detect(offline, env)
    assert outcomes(detection)["github-actions"] == "failed"


async def test_github_actions_token_for_another_audience_is_refused() -> None:
    fake, _ = github_endpoint(body={"value": make_jwt(aud="not-sigstore")})
    async with new_client(transport=httpx.MockTransport(fake)) as http:
        detection = await run_detect(http, github_env())
    attempt = next(a for a in detection.attempts if a.provider == "github-actions")
    assert attempt.outcome == "failed"
    assert attempt.reason.startswith("unusable token: ")
    assert "audience" in attempt.reason


# --- GitLab CI --------------------------------------------------------------------------------


async def test_gitlab_is_preferred_over_the_generic_variable(offline: httpx.AsyncClient) -> None:
    gitlab = make_jwt(
        iss="https://gitlab.com",
        ci_config_ref_uri="gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main",
        email=None,
        email_verified=None,
    )
    detection = await run_detect(offline, {"GITLAB_CI": "true", "SIGSTORE_ID_TOKEN": gitlab})
    assert detection.provider == "gitlab-ci"
    assert detection.token is not None
    assert detection.token.identity == "https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main"
    # The generic variable found the same token, and was not chosen.
    assert outcomes(detection)["environment"] in ("found", "not needed")


async def test_gitlab_without_id_tokens(offline: httpx.AsyncClient) -> None:
    detection = await run_detect(offline, {"GITLAB_CI": "true"})
    attempt = next(a for a in detection.attempts if a.provider == "gitlab-ci")
    assert attempt.outcome == "failed"
    assert "id_tokens" in attempt.reason
    assert "SIGSTORE_ID_TOKEN" in attempt.reason


@pytest.mark.parametrize(
    ("audience", "variable"),
    [
        ("sigstore", "SIGSTORE_ID_TOKEN"),
        ("http://test.audience", "HTTP___TEST_AUDIENCE_ID_TOKEN"),
        ("1abc", "_ABC_ID_TOKEN"),
    ],
)
def test_gitlab_variable_name(audience: str, variable: str) -> None:
    assert gitlab_variable(audience) == variable


# --- agent commands ---------------------------------------------------------------------------


def write_agent(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def agent_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # The agent directory first; the system's for the shell's own tools.
    return {"PATH": f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin", **extra}


RECORD_ARGS = 'printf "%s\\n" "$@" > "$ARGS_FILE"\n'


async def test_buildkite_agent(offline: httpx.AsyncClient, tmp_path: Path) -> None:
    write_agent(tmp_path, "buildkite-agent", RECORD_ARGS + f'printf "%s\\n" "{TOKEN}"\n')
    args = tmp_path / "args"
    env = agent_env(tmp_path, BUILDKITE="true", ARGS_FILE=str(args))
    detection = await run_detect(offline, env)
    assert detection.provider == "buildkite"
    assert args.read_text().split("\n")[:-1] == [
        "oidc",
        "request-token",
        "--audience",
        "sigstore",
    ]


async def test_circleci_cli(offline: httpx.AsyncClient, tmp_path: Path) -> None:
    write_agent(tmp_path, "circleci", RECORD_ARGS + f'echo "{TOKEN}"\n')
    args = tmp_path / "args"
    env = agent_env(tmp_path, CIRCLECI="true", ARGS_FILE=str(args))
    detection = await run_detect(offline, env)
    assert detection.provider == "circleci"
    argv = args.read_text().split("\n")[:-1]
    assert argv[:4] == ["run", "oidc", "get", "--claims"]
    assert json.loads(argv[4]) == {"aud": "sigstore"}
    assert argv[5] == "--root-issuer"


async def test_agent_failure_reports_stderr_never_stdout(
    offline: httpx.AsyncClient, tmp_path: Path
) -> None:
    write_agent(
        tmp_path,
        "buildkite-agent",
        f'echo "{TOKEN}"\necho "agent: not authorised for OIDC" >&2\nexit 3\n',
    )
    detection = await run_detect(offline, agent_env(tmp_path, BUILDKITE="1"))
    attempt = next(a for a in detection.attempts if a.provider == "buildkite")
    assert attempt.outcome == "failed"
    assert "status 3" in attempt.reason
    assert "not authorised for OIDC" in attempt.reason
    assert TOKEN not in attempt.reason


async def test_agent_missing(offline: httpx.AsyncClient, tmp_path: Path) -> None:
    detection = await run_detect(offline, agent_env(tmp_path, BUILDKITE="1", CIRCLECI="1"))
    failed = {a.provider: a.reason for a in detection.attempts if a.outcome == "failed"}
    assert "`buildkite-agent` is not on PATH" in failed["buildkite"]
    assert "`circleci` is not on PATH" in failed["circleci"]


async def test_agent_printing_nothing_or_binary(offline: httpx.AsyncClient, tmp_path: Path) -> None:
    write_agent(tmp_path, "buildkite-agent", "exit 0\n")
    write_agent(tmp_path, "circleci", "printf '\\377\\376'\n")
    detection = await run_detect(offline, agent_env(tmp_path, BUILDKITE="1", CIRCLECI="1"))
    assert outcomes(detection)["buildkite"] == "failed"
    assert outcomes(detection)["circleci"] == "failed"


async def test_a_hanging_provider_times_out_and_the_next_wins(
    offline: httpx.AsyncClient, tmp_path: Path
) -> None:
    write_agent(tmp_path, "buildkite-agent", "exec sleep 30\n")
    env = agent_env(tmp_path, BUILDKITE="1", SIGSTORE_ID_TOKEN=TOKEN)
    start = time.monotonic()
    detection = await run_detect(
        offline, env, providers=[Buildkite(), EnvironmentVariable()], provider_timeout=0.5
    )
    assert time.monotonic() - start < 5
    assert detection.provider == "environment"
    buildkite = detection.attempts[0]
    assert buildkite.outcome == "failed"
    assert buildkite.reason == "no answer within 0.5 seconds"


# --- Google Cloud -----------------------------------------------------------------------------

METADATA = "metadata.google.internal/computeMetadata/v1/instance/service-accounts/default"


async def test_google_cloud_metadata_server(tmp_path: Path) -> None:
    product = tmp_path / "product_name"
    product.write_text("Google Compute Engine\n")

    def identity(request: httpx.Request) -> httpx.Response:
        assert request.headers["metadata-flavor"] == "Google"
        assert request.url.params["audience"] == "sigstore"
        assert request.url.params["format"] == "full"
        return httpx.Response(200, text=TOKEN)

    fake = Fake({("GET", METADATA + "/identity"): identity})
    async with new_client(transport=httpx.MockTransport(fake)) as http:
        detection = await run_detect(http, {}, providers=[GoogleCloud(product_name_file=product)])
    assert detection.provider == "google-cloud"


async def test_google_cloud_metadata_host_override() -> None:
    fake = Fake(
        {
            (
                "GET",
                "127.0.0.1/computeMetadata/v1/instance/service-accounts/default/identity",
            ): lambda r: httpx.Response(200, text=TOKEN)
        }
    )
    async with new_client(transport=httpx.MockTransport(fake)) as http:
        detection = await run_detect(
            http,
            {"GCE_METADATA_HOST": "127.0.0.1"},
            providers=[GoogleCloud(product_name_file="/nonexistent")],
        )
    assert detection.provider == "google-cloud"


async def test_google_cloud_service_account_impersonation(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    account = "signer@project.iam.gserviceaccount.com"
    access = "ya29.access-token-secret"

    def access_token(request: httpx.Request) -> httpx.Response:
        assert request.headers["metadata-flavor"] == "Google"
        assert request.url.params["scopes"] == "https://www.googleapis.com/auth/cloud-platform"
        return httpx.Response(200, json={"access_token": access, "expires_in": 3599})

    def generate(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {access}"
        assert json.loads(request.content) == {"audience": "sigstore", "includeEmail": True}
        return httpx.Response(200, json={"token": TOKEN})

    fake = Fake(
        {
            ("GET", METADATA + "/token"): access_token,
            (
                "POST",
                f"iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{account}"
                ":generateIdToken",
            ): generate,
        }
    )
    async with new_client(transport=httpx.MockTransport(fake)) as http:
        detection = await run_detect(
            http,
            {"GOOGLE_SERVICE_ACCOUNT_NAME": account},
            providers=[GoogleCloud(product_name_file="/nonexistent")],
        )
    assert detection.provider == "google-cloud"
    assert len(fake.requests) == 2
    assert access not in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"expires_in": 1}),
        httpx.Response(200, text="not json"),
        httpx.Response(403, json={"error": "denied"}),
        httpx.Response(200, content=b"[" * 100_000),  # RecursionError in json.loads
        # Not ASCII: it cannot go into the next request's Authorization header.
        httpx.Response(200, json={"access_token": "\u00e9"}),
        # An error body its charset does not decode (the message quotes it).
        httpx.Response(403, content=b"{}", headers={"content-type": "text/plain; charset=utf-16"}),
    ],
)
async def test_google_cloud_impersonation_without_access_token(answer: httpx.Response) -> None:
    fake = Fake({("GET", METADATA + "/token"): lambda r: answer})
    env = {"GOOGLE_SERVICE_ACCOUNT_NAME": "sa@p.iam.gserviceaccount.com"}
    detection = await detect_google_cloud(fake, env)
    assert outcomes(detection) == {"google-cloud": "failed"}


async def detect_google_cloud(
    handler: Callable[[httpx.Request], httpx.Response], env: dict[str, str]
) -> Detection:
    """Detection with the Google Cloud provider alone, outside any VM."""
    async with new_client(transport=httpx.MockTransport(handler)) as http:
        return await run_detect(
            http, env, providers=[GoogleCloud(product_name_file="/nonexistent")]
        )


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.Response(200, content="\u00e9".encode() + TOKEN.encode()), "not ASCII"),
        (httpx.Response(200, content=b"\xff" + TOKEN.encode()), "not ASCII"),
        # A token is ASCII whatever the answer's charset claims (a UTF-16 label
        # made reading it as text raise UnicodeError).
        (
            httpx.Response(
                200, content=TOKEN.encode(), headers={"content-type": "text/plain; charset=utf-16"}
            ),
            None,
        ),
    ],
)
async def test_google_cloud_identity_is_ascii(answer: httpx.Response, reason: str | None) -> None:
    fake = Fake(
        {
            (
                "GET",
                "127.0.0.1/computeMetadata/v1/instance/service-accounts/default/identity",
            ): lambda r: answer
        }
    )
    detection = await detect_google_cloud(fake, {"GCE_METADATA_HOST": "127.0.0.1"})
    if reason is None:
        assert detection.provider == "google-cloud"
    else:
        assert outcomes(detection) == {"google-cloud": "failed"}
        assert reason in detection.attempts[0].reason


async def test_google_cloud_metadata_host_that_is_not_a_host() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request can be made")

    detection = await detect_google_cloud(refuse, {"GCE_METADATA_HOST": "[::1"})
    assert outcomes(detection) == {"google-cloud": "failed"}


async def test_google_cloud_other_product_is_skipped(
    offline: httpx.AsyncClient, tmp_path: Path
) -> None:
    product = tmp_path / "product_name"
    product.write_text("VirtualBox\n")
    detection = await run_detect(offline, {}, providers=[GoogleCloud(product_name_file=product)])
    assert outcomes(detection) == {"google-cloud": "skipped"}


async def test_metadata_server_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    async with new_client(transport=httpx.MockTransport(refuse)) as http:
        detection = await run_detect(
            http,
            {"GCE_METADATA_HOST": "169.254.169.254"},
            providers=[GoogleCloud(product_name_file="/nonexistent")],
        )
    (attempt,) = detection.attempts
    assert attempt.outcome == "failed"
    assert "ConnectError" in attempt.reason


# --- detection: order, cancellation, custom providers ----------------------------------------


class Slow:
    """A provider that answers after ``delay`` seconds (or never)."""

    def __init__(self, name: str, delay: float, token: str | None = None) -> None:
        self.name = name
        self.delay = delay
        self.token = token
        self.cancelled = False

    async def fetch(self, context: AmbientContext) -> str | Skip:
        try:
            await anyio.sleep(self.delay)
        except anyio.get_cancelled_exc_class():
            self.cancelled = True
            raise
        return self.token if self.token is not None else Skip("nothing here")


async def test_later_providers_are_cancelled_once_the_winner_is_known(
    offline: httpx.AsyncClient,
) -> None:
    slow = Slow("slow", 30)
    start = time.monotonic()
    detection = await run_detect(
        offline, {"SIGSTORE_ID_TOKEN": TOKEN}, providers=[EnvironmentVariable(), slow]
    )
    assert time.monotonic() - start < 5
    assert detection.provider == "environment"
    assert slow.cancelled
    assert outcomes(detection) == {"environment": "found", "slow": "not needed"}


async def test_a_preferred_provider_is_waited_for(offline: httpx.AsyncClient) -> None:
    preferred = Slow("preferred", 0.2, make_jwt(sub="preferred", email="p@example.com"))
    detection = await run_detect(
        offline, {"SIGSTORE_ID_TOKEN": TOKEN}, providers=[preferred, EnvironmentVariable()]
    )
    assert detection.provider == "preferred"
    assert detection.token is not None
    assert detection.token.identity == "p@example.com"
    assert outcomes(detection) == {"preferred": "found", "environment": "found"}


async def test_an_unusable_token_falls_through_to_the_next_provider(
    offline: httpx.AsyncClient,
) -> None:
    expired = make_jwt(exp=int(NOW.timestamp()) - 3600)
    detection = await run_detect(
        offline,
        {"SIGSTORE_ID_TOKEN": expired, "OTHER": TOKEN},
        providers=[EnvironmentVariable(), EnvironmentVariable(names=("OTHER",), name="other")],
    )
    assert detection.provider == "other"
    first = detection.attempts[0]
    assert first.outcome == "failed"
    assert "expired" in first.reason
    assert expired not in first.reason


async def test_expected_issuer(offline: httpx.AsyncClient) -> None:
    detection = await run_detect(
        offline,
        {"SIGSTORE_ID_TOKEN": TOKEN},
        providers=[EnvironmentVariable()],
        issuer="https://oauth2.sigstore.dev/auth",
    )
    assert detection.token is None
    assert "issued by" in detection.attempts[0].reason


async def test_a_bug_in_a_provider_propagates(offline: httpx.AsyncClient) -> None:
    class Buggy:
        name = "buggy"

        async def fetch(self, context: AmbientContext) -> str | Skip:
            raise KeyError("bug")

    with pytest.raises(BaseExceptionGroup) as info:
        await run_detect(offline, {}, providers=[Buggy()])
    assert info.group_contains(KeyError)


async def test_no_providers(offline: httpx.AsyncClient) -> None:
    detection = await run_detect(offline, {}, providers=[])
    assert detection == Detection(None, None, ())


async def test_github_actions_request_url_garbage(offline: httpx.AsyncClient) -> None:
    env = github_env() | {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://[::1"}
    detection = await run_detect(offline, env, providers=[GitHubActions()])
    assert outcomes(detection) == {"github-actions": "failed"}
