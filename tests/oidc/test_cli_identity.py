"""``sigstore-async identity``: the identity a token would give, never the token."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sigstore_async.cli import main

from ._support import EMAIL, make_jwt

CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "GOOGLE_SERVICE_ACCOUNT_NAME",
    "GCE_METADATA_HOST",
    "SIGSTORE_ID_TOKEN",
    "SIGSTORE_IDENTITY_TOKEN",
)


@pytest.fixture(autouse=True)
def no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def fresh(**claims: Any) -> str:
    # The CLI reads the wall clock, so its tokens are made relative to it.
    now = int(time.time())
    return make_jwt(iat=now - 5, exp=now + 600, **claims)


def test_token_file_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = fresh(
        iss="https://oauth2.sigstore.dev/auth",
        federated_claims={"connector_id": "https://github.com/login/oauth"},
    )
    path = tmp_path / "token"
    path.write_text(token)
    status = main(["identity", "--identity-token-file", str(path), "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    doc = json.loads(out)
    assert doc["identity"] == EMAIL
    assert doc["identity_kind"] == "email"
    assert doc["certificate_issuer"] == "https://github.com/login/oauth"
    assert doc["issuer"] == "https://oauth2.sigstore.dev/auth"
    assert doc["source"] == "file"
    assert token not in out + err


def test_environment_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = fresh()
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", token)
    status = main(["identity", "--flow", "none"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert f"identity:  {EMAIL} (email)" in out
    assert "issuer:    https://accounts.google.com" in out
    assert "source:    environment" in out
    assert "expires:" in out
    assert "(in 9m" in out
    assert token not in out + err


def test_nothing_found(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["identity", "--no-ambient", "--flow", "none"])
    _out, err = capsys.readouterr()
    assert status == 1
    assert "no identity token" in err


def test_nothing_found_lists_what_was_tried(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # but no id-token permission
    status = main(["identity", "--flow", "none", "--json", "--provider-timeout", "5"])
    out, _ = capsys.readouterr()
    assert status == 1
    doc = json.loads(out)
    tried = {a["provider"]: a for a in doc["attempts"]}
    assert tried["github-actions"]["outcome"] == "failed"
    assert "id-token: write" in tried["github-actions"]["reason"]
    assert tried["environment"]["outcome"] == "skipped"


def test_expired_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = int(time.time())
    path = tmp_path / "token"
    token = make_jwt(iat=now - 7200, exp=now - 3600)
    path.write_text(token)
    status = main(["identity", "--identity-token-file", str(path), "--json"])
    out, err = capsys.readouterr()
    assert status == 1
    assert json.loads(out)["reason"] == "expired"
    assert token not in out + err


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["identity", "--identity-token-file", str(tmp_path / "missing")])
    _, err = capsys.readouterr()
    assert status == 1
    assert "FileNotFoundError" in err


def test_token_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "token"
    path.write_bytes(b"\xff\xfe" + fresh().encode())
    status = main(
        ["identity", "--no-ambient", "--flow", "none", "--identity-token-file", str(path)]
    )
    _, err = capsys.readouterr()
    assert status == 1
    assert "not UTF-8" in err
    assert "Traceback" not in err


def test_client_secret_file_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"\xff\xfe")
    status = main(
        [
            "identity",
            "--no-ambient",
            "--flow",
            "client-credentials",
            "--oidc-issuer",
            "http://127.0.0.1:9",
            "--oidc-client-secret-file",
            str(path),
        ]
    )
    _, err = capsys.readouterr()
    assert status == 1
    assert "not UTF-8" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon"])
def test_provider_timeout_must_be_a_finite_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["identity", "--no-ambient", "--flow", "none", "--provider-timeout", value])
    assert info.value.code == 2
    assert "--provider-timeout" in capsys.readouterr().err


@pytest.mark.parametrize("issuer", ["http://[::1", "http://\udcff/"])
def test_an_issuer_that_is_not_a_url(issuer: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing can be sent: a clean error, before any connection is tried.
    status = main(
        ["identity", "--no-ambient", "--flow", "client-credentials", "--oidc-issuer", issuer]
    )
    _, err = capsys.readouterr()
    assert status == 1
    assert "cannot be made" in err
