"""The embedded trust material is what PROVENANCE.md says it is.

Every embedded file must have a row in PROVENANCE.md whose SHA-256 is the file's. A
file that the note says comes from the installed version of the ``sigstore`` package
must be byte-identical to the one it ships; a TUF root newer than the one ``sigstore``
ships must be signed by it (TUF client spec 5.3.4), so it is the same trust, rotated.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

import pytest

# Read from the checkout, not through an import of the package: these tests check
# data and must not depend on the rest of the package importing cleanly. The wheel's
# contents are checked when it is built.
EMBEDDED = Path(__file__).resolve().parents[1] / "sigstore_async" / "trust" / "_embedded"
FILES = [
    f"{env}/{name}"
    for env in ("production", "staging")
    for name in ("root.json", "trusted_root.json", "signing_config.json")
]
STORE_DIRS = {
    "production": "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev",
    "staging": "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev",
}
# Ours -> sigstore-python's name for the same file.
STORE_NAMES = {
    "root.json": "root.json",
    "trusted_root.json": "trusted_root.json",
    "signing_config.json": "signing_config.v0.2.json",
}


def embedded_bytes(relpath: str) -> bytes:
    return (EMBEDDED / relpath).read_bytes()


def provenance_rows() -> dict[str, dict[str, str]]:
    """The first table of PROVENANCE.md, keyed by its File column."""
    text = (EMBEDDED / "PROVENANCE.md").read_text("utf-8")
    header: list[str] | None = None
    rows: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            header = None
            continue
        cells = [c.strip().replace("`", "") for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(line) <= set("|- "):
            rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def sigstore_store_file(relpath: str) -> Path:
    pytest.importorskip("sigstore", reason="the sigstore package (a test dependency)")
    env, name = relpath.split("/")
    store = importlib.resources.files("sigstore") / "_store" / STORE_DIRS[env]
    return Path(str(store / STORE_NAMES[name]))


def test_every_embedded_file_has_a_row() -> None:
    assert sorted(provenance_rows()) == sorted(FILES)


@pytest.mark.parametrize("relpath", FILES)
def test_provenance_hash_is_the_file_hash(relpath: str) -> None:
    row = provenance_rows()[relpath]
    assert re.fullmatch(r"[0-9a-f]{64}", row["SHA-256"])
    assert hashlib.sha256(embedded_bytes(relpath)).hexdigest() == row["SHA-256"]


@pytest.mark.parametrize("relpath", FILES)
def test_identical_to_sigstore_or_recorded(relpath: str) -> None:
    theirs = sigstore_store_file(relpath).read_bytes()
    ours = embedded_bytes(relpath)
    if ours == theirs:
        return
    # Not the bytes that the installed sigstore ships: the note must record our hash and
    # must not claim this sigstore version as the source.
    row = provenance_rows()[relpath]
    assert hashlib.sha256(ours).hexdigest() == row["SHA-256"]
    claimed = re.fullmatch(r"PyPI sigstore (\S+)", row["Source package"])
    assert claimed is None or claimed.group(1) != importlib.metadata.version("sigstore")


@pytest.mark.parametrize("env", ["production", "staging"])
def test_root_is_sigstores_or_signed_by_it(env: str) -> None:
    from tuf.api.metadata import Metadata, Root  # type: ignore[attr-defined, unused-ignore]

    theirs = Metadata[Root].from_bytes(sigstore_store_file(f"{env}/root.json").read_bytes())
    ours = Metadata[Root].from_bytes(embedded_bytes(f"{env}/root.json"))
    assert ours.signed.version >= theirs.signed.version
    # Walk is one step at most: we embed nothing that needs intermediate roots.
    assert ours.signed.version - theirs.signed.version in (0, 1)
    if ours.signed.version == theirs.signed.version:
        assert ours.signed_bytes == theirs.signed_bytes
    else:
        theirs.signed.verify_delegate(Root.type, ours.signed_bytes, ours.signatures)
    ours.signed.verify_delegate(Root.type, ours.signed_bytes, ours.signatures)


@pytest.mark.parametrize(
    ("relpath", "check"),
    [
        *[(f"{e}/root.json", ("_type", "root")) for e in ("production", "staging")],
        *[
            (
                f"{e}/trusted_root.json",
                ("mediaType", "application/vnd.dev.sigstore.trustedroot+json;version=0.1"),
            )
            for e in ("production", "staging")
        ],
        *[
            (
                f"{e}/signing_config.json",
                ("mediaType", "application/vnd.dev.sigstore.signingconfig.v0.2+json"),
            )
            for e in ("production", "staging")
        ],
    ],
)
def test_file_kind(relpath: str, check: tuple[str, str]) -> None:
    document: dict[str, Any] = json.loads(embedded_bytes(relpath))
    key, value = check
    holder = document["signed"] if key == "_type" else document
    assert holder[key] == value


def test_staging_and_production_roots_differ() -> None:
    assert embedded_bytes("production/root.json") != embedded_bytes("staging/root.json")
