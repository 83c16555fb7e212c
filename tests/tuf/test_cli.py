"""The command line: the TUF conformance protocol (``tuf``) and ``trust`` for people,
against a repository served on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigstore_async.cli import main
from sigstore_async.trust import embedded_tuf_root

from .conftest import Loopback, make_repo

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = REPO / "sigstore_async" / "trust" / "_embedded" / "production"


def tuf(server: Loopback, tmp_path: Path, *args: str) -> int:
    return main(
        ["tuf", "--metadata-dir", str(tmp_path / "metadata"), "--metadata-url", server.url, *args]
    )


def download(server: Loopback, tmp_path: Path, *names: str) -> int:
    options = [x for name in names for x in ("--target-name", name)]
    return tuf(
        server,
        tmp_path,
        *options,
        "--target-base-url",
        server.url + "/targets",
        "--target-dir",
        str(tmp_path / "targets"),
        "download",
    )


def test_conformance_protocol(tmp_path: Path, loopback: Loopback) -> None:
    root = tmp_path / "initial_root.json"
    root.write_bytes(loopback.repo.root_json())
    meta = tmp_path / "metadata"
    assert main(["tuf", "--metadata-dir", str(meta), "init", str(root)]) == 0
    assert loopback.seen == []  # init makes no request
    assert (meta / "root.json").read_bytes() == root.read_bytes()

    assert tuf(loopback, tmp_path, "refresh") == 0
    assert loopback.seen == [
        "/2.root.json",
        "/timestamp.json",
        "/1.snapshot.json",
        "/1.targets.json",
    ]
    for role in ("root", "timestamp", "snapshot", "targets"):
        doc = json.loads((meta / f"{role}.json").read_bytes())
        assert doc["signed"]["version"] == 1

    loopback.seen.clear()
    assert download(loopback, tmp_path, "other.txt", "trusted_root.json") == 0
    assert (tmp_path / "targets" / "other.txt").read_bytes() == b"other\n"
    assert sum(p.startswith("/targets/") for p in loopback.seen) == 2
    # Already downloaded with matching hashes: not fetched again.
    loopback.seen.clear()
    assert download(loopback, tmp_path, "other.txt") == 0
    assert not any(p.startswith("/targets/") for p in loopback.seen)
    # A new version of the target is fetched, into the same file.
    loopback.repo.publish_target("other.txt", b"v2\n")
    assert download(loopback, tmp_path, "other.txt") == 0
    assert (tmp_path / "targets" / "other.txt").read_bytes() == b"v2\n"
    # In order, stopping at the first failure.
    loopback.seen.clear()
    (tmp_path / "targets" / "trusted_root.json").unlink()
    assert download(loopback, tmp_path, "missing", "trusted_root.json") == 1
    assert not (tmp_path / "targets" / "trusted_root.json").exists()


def test_conformance_failures_exit_1(tmp_path: Path, loopback: Loopback) -> None:
    root = tmp_path / "initial_root.json"
    root.write_bytes(loopback.repo.root_json())
    assert main(["tuf", "--metadata-dir", str(tmp_path / "metadata"), "init", str(root)]) == 0
    loopback.repo.expire("timestamp")
    assert tuf(loopback, tmp_path, "refresh") == 1
    assert main(["tuf", "--metadata-dir", str(tmp_path / "m2"), "init", str(tmp_path / "no")]) == 1
    # No trusted root: fails without a request.
    loopback.seen.clear()
    assert (
        main(
            [
                "tuf",
                "--metadata-dir",
                str(tmp_path / "m3"),
                "--metadata-url",
                loopback.url,
                "refresh",
            ]
        )
        == 1
    )
    assert loopback.seen == []
    loopback.repo.heal()
    loopback.repo.serve_wrong_hash("other.txt")
    assert download(loopback, tmp_path, "other.txt") == 1


@pytest.fixture
def sigstore_repo() -> Loopback:
    targets = {
        "trusted_root.json": (PRODUCTION / "trusted_root.json").read_bytes(),
        "signing_config.v0.2.json": (PRODUCTION / "signing_config.json").read_bytes(),
    }
    return Loopback(make_repo(targets=targets, root_versions=2))


@pytest.mark.parametrize(
    "url", ["\udcff", "http://[::1", "ftp://tuf.example", "https://", "tuf.example/repo"]
)
def test_trust_init_refuses_a_url_that_is_not_a_repository(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root.json"
    root.write_bytes(embedded_tuf_root("production"))  # a valid root: only the URL is wrong
    common = ["--tuf-url", url, "--cache-dir", str(tmp_path / "cache")]
    assert main(["trust", "init", *common, str(root), "--no-refresh"]) == 1
    err = capsys.readouterr().err
    assert "TUF repository URL" in err
    assert "Traceback" not in err
    assert not (tmp_path / "cache").exists()


def test_trust_commands(
    tmp_path: Path, sigstore_repo: Loopback, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root.json"
    with sigstore_repo as server:
        root.write_bytes(server.repo.root_json())
        common = ["--tuf-url", server.url, "--cache-dir", str(tmp_path / "cache")]
        # Without an initial root there is nothing to trust.
        assert main(["trust", "show", *common]) == 1
        assert "no initial root" in capsys.readouterr().err
        assert main(["trust", "init", *common, str(root)]) == 0
        out = capsys.readouterr().out
        assert "trusting" in out
        assert "root: version 2" in out
        assert "transparency logs: " in out
        server.seen.clear()
        assert main(["trust", "show", *common, "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert server.seen == []  # fresh: from the cache
        assert summary["tuf"]["rootVersion"] == 2
        assert summary["tuf"]["fromNetwork"] is False
        assert summary["trustedRoot"]["tlogs"][0]["baseUrl"] == "https://rekor.sigstore.dev"
        assert summary["signingConfig"]["ca"] == ["https://fulcio.sigstore.dev"]
        assert main(["trust", "refresh", *common]) == 0
        assert "(just now)" in capsys.readouterr().out
        assert "/timestamp.json" in server.seen
        assert main(["trust", "show", *common, "--offline"]) == 0
        assert "from the local cache" in capsys.readouterr().out
        assert main(["trust", "show", "--root", str(root)]) == 2
        server.repo.resign("snapshot", untrusted=True)
        assert main(["trust", "refresh", *common]) == 1
        assert "BadMetadataSignature" in capsys.readouterr().err


def test_trust_show_offline_public_good(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trust", "show", "--offline", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "instance: production (trust from embedded)" in out
    assert (
        main(["trust", "show", "--staging", "--offline", "--cache-dir", str(tmp_path), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["instance"] == "staging"
