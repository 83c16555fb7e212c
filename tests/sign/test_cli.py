"""The signing commands: sign, attest, demo and conformance sign-bundle, against
a LocalSigstore served on loopback (the CLI runs its own event loop, in a
worker thread here)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from sigstore_async.cli import main
from sigstore_async.testing import LocalSigstore

pytestmark = pytest.mark.anyio

IDENTITY = "signer@example.com"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the CLI under test picks its own loop; one host backend is enough


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[LocalSigstore, dict[str, Path]]]:
    async with LocalSigstore(serve=True) as stack:
        files = await stack.write_trust_files(tmp_path / "trust")
        token = tmp_path / "token"
        token.write_text(stack.issue_token(IDENTITY))
        files["token"] = token
        yield stack, files


async def cli(*argv: str) -> int:
    return await anyio.to_thread.run_sync(main, list(argv))


def _token_args(files: dict[str, Path]) -> list[str]:
    return ["--identity-token-file", str(files["token"]), "--no-ambient", "--flow", "none"]


async def test_sign_many_files_and_verify(
    served: tuple[LocalSigstore, dict[str, Path]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack, files = served
    inputs = []
    for i in range(5):
        p = tmp_path / f"file{i}.txt"
        p.write_text(f"content {i}")
        inputs.append(str(p))
    trust = ["--trust-config", str(files["trust_config.json"])]
    assert await cli("sign", *trust, *_token_args(files), *inputs) == 0
    for p in inputs:
        assert await anyio.Path(p + ".sigstore.json").is_file()
    out = capsys.readouterr().out
    assert "5 signed, 0 failed" in out
    status = await cli(
        "verify",
        "--trusted-root",
        str(files["trusted_root.json"]),
        "--identity",
        IDENTITY,
        "--issuer",
        stack.oidc_url,
        *inputs,
    )
    assert status == 0
    # Refuses to overwrite, unless asked.
    assert await cli("sign", *trust, *_token_args(files), inputs[0]) == 2
    assert await cli("sign", *trust, *_token_args(files), "--overwrite", inputs[0]) == 0


async def test_sign_reports_failures_and_writes_nothing_for_them(
    served: tuple[LocalSigstore, dict[str, Path]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stack, files = served
    good = tmp_path / "good.bin"
    good.write_bytes(b"good")
    missing = tmp_path / "missing.bin"
    out_dir = tmp_path / "bundles"
    out_dir.mkdir()
    status = await cli(
        "sign",
        "--trust-config",
        str(files["trust_config_rekor_v2.json"]),
        *_token_args(files),
        "--output-dir",
        str(out_dir),
        "--json",
        str(good),
        str(missing),
    )
    assert status == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["signed"], report["failed"]) == (1, 1)
    assert report["results"][1]["error"]["type"] == "FileNotFoundError"
    assert sorted(p.name for p in out_dir.iterdir()) == ["good.bin.sigstore.json"]


async def _attest(files: dict[str, Path], tmp_path: Path, trust_config: str, *extra: str) -> int:
    """``attest`` of ``tmp_path/release.tar.gz`` with a small SLSA predicate."""
    artifact = tmp_path / "release.tar.gz"
    artifact.write_bytes(b"release")
    predicate = tmp_path / "predicate.json"
    predicate.write_text(json.dumps({"buildType": "https://example.com/build"}))
    return await cli(
        "attest",
        "--trust-config",
        str(files[trust_config]),
        *_token_args(files),
        *extra,
        "--predicate-type",
        "https://slsa.dev/provenance/v1",
        "--predicate",
        str(predicate),
        str(artifact),
    )


async def test_attest(served: tuple[LocalSigstore, dict[str, Path]], tmp_path: Path) -> None:
    _stack, files = served
    status = await _attest(files, tmp_path, "trust_config.json")
    assert status == 0
    bundle = json.loads((tmp_path / "release.tar.gz.sigstore.json").read_text())
    assert bundle["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # The bundle is named after the file: Path.with_name raised ValueError.
        ([""], "names no file"),
        (["/"], "names no file"),
        (["."], "names no file"),
        # Before, each file failed on its own, after signing in and fetching a certificate.
        (["--key-type", "ed25519", "ARTIFACT"], "Ed25519"),
    ],
)
async def test_sign_usage_errors(
    served: tuple[LocalSigstore, dict[str, Path]],
    tmp_path: Path,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stack, files = served
    artifact = tmp_path / "a.txt"
    artifact.write_text("a")
    argv = [str(artifact) if a == "ARTIFACT" else a for a in argv]
    trust = ["--trust-config", str(files["trust_config.json"])]
    assert await cli("sign", *trust, *_token_args(files), *argv) == 2
    assert message in capsys.readouterr().err


async def test_attest_with_ed25519_and_rekor_v2_is_a_usage_error(
    served: tuple[LocalSigstore, dict[str, Path]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Rekor v2 takes no Ed25519 entries: the Signer's ValueError was a traceback.
    _stack, files = served
    status = await _attest(files, tmp_path, "trust_config_rekor_v2.json", "--key-type", "ed25519")
    assert status == 2
    assert "Ed25519" in capsys.readouterr().err
    assert not (tmp_path / "release.tar.gz.sigstore.json").exists()


async def _sign_bundle(
    files: dict[str, Path], signing_config: str, bundle: Path, artifact: Path, *extra: str
) -> int:
    """``conformance sign-bundle`` as the conformance suite runs it."""
    return await cli(
        "conformance",
        "sign-bundle",
        *extra,
        "--identity-token",
        files["token"].read_text(),
        "--bundle",
        str(bundle),
        "--trusted-root",
        str(files["trusted_root.json"]),
        "--signing-config",
        str(files[signing_config]),
        str(artifact),
    )


@pytest.mark.parametrize("where", ["dir", "missing"])
async def test_an_unwritable_bundle_path_is_refused_before_signing(
    served: tuple[LocalSigstore, dict[str, Path]],
    tmp_path: Path,
    where: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Signing logs an entry for good: a bundle path that cannot be written is a
    # usage error found first, not a failure after the entry exists.
    stack, files = served
    artifact = tmp_path / "a.txt"
    artifact.write_text("a")
    bundle = tmp_path if where == "dir" else tmp_path / "no" / "a.sigstore.json"
    trust = ["--trust-config", str(files["trust_config.json"])]
    common = [*trust, *_token_args(files), "--overwrite"]
    assert await cli("sign", *common, "--bundle", str(bundle), str(artifact)) == 2
    assert await cli("sign", *common, "--output-dir", str(tmp_path / "no"), str(artifact)) == 2
    status = await _sign_bundle(files, "signing_config.json", bundle, artifact)
    assert status == 2
    err = capsys.readouterr().err
    assert "directory" in err
    assert stack.request_count("fulcio") == 0  # nothing was signed
    assert stack.request_count("rekor") == 0


@pytest.mark.parametrize("in_toto", [False, True], ids=["artifact", "in-toto"])
async def test_conformance_sign_bundle(
    served: tuple[LocalSigstore, dict[str, Path]], tmp_path: Path, in_toto: bool
) -> None:
    stack, files = served
    artifact = tmp_path / "a.txt"
    if in_toto:
        artifact.write_text(
            json.dumps(
                {
                    "_type": "https://in-toto.io/Statement/v1",
                    "subject": [{"name": "a", "digest": {"sha256": "ab" * 32}}],
                    "predicateType": "https://example.com/p",
                    "predicate": {},
                }
            )
        )
    else:
        artifact.write_text("conformance")
    bundle = tmp_path / "a.sigstore.json"
    extra = ["--in-toto"] if in_toto else []
    status = await _sign_bundle(files, "signing_config_rekor_v2.json", bundle, artifact, *extra)
    assert status == 0
    if not in_toto:
        status = await cli(
            "conformance",
            "verify-bundle",
            "--bundle",
            str(bundle),
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            stack.oidc_url,
            "--trusted-root",
            str(files["trusted_root.json"]),
            str(artifact),
        )
        assert status == 0


async def test_conformance_sign_bundle_with_an_expired_token(
    served: tuple[LocalSigstore, dict[str, Path]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack, files = served
    artifact = tmp_path / "a.txt"
    artifact.write_text("x")
    status = await cli(
        "conformance",
        "sign-bundle",
        "--identity-token",
        stack.issue_token(IDENTITY, exp=0),
        "--bundle",
        str(tmp_path / "out.json"),
        "--trusted-root",
        str(files["trusted_root.json"]),
        "--signing-config",
        str(files["signing_config.json"]),
        str(artifact),
    )
    assert status == 1
    assert "expired" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()
    assert stack.request_count("fulcio") == 0


async def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli("demo", "--count", "25", "--size", "64") == 0
    out = capsys.readouterr().out
    assert "signed 25 of 25 artifacts" in out
    assert "verified 25 of 25 bundles" in out
