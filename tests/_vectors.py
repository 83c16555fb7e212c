"""Reading the sigstore-conformance bundle-verify cases (test helper)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import attrs

from tests.conftest import vectors_root

DEFAULT_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"


@attrs.frozen
class Case:
    name: str
    dir: Path
    should_pass: bool
    bundle: Path
    artifact: Path
    identity: str
    issuer: str
    key: Path | None
    trusted_root: Path | None

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.artifact.read_bytes()).hexdigest()


def _read(p: Path, default: str) -> str:
    return p.read_text().strip() if p.exists() else default


def cases() -> list[Case]:
    root = vectors_root()
    if root is None:
        return []
    base = root / "bundle-verify"
    out = []
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        out.append(
            Case(
                name=d.name,
                dir=d,
                should_pass=not d.name.endswith("_fail"),
                bundle=d / "bundle.sigstore.json",
                artifact=d / "artifact" if (d / "artifact").exists() else base / "a.txt",
                identity=_read(d / "identity", DEFAULT_IDENTITY),
                issuer=_read(d / "issuer", DEFAULT_ISSUER),
                key=d / "key.pub" if (d / "key.pub").exists() else None,
                trusted_root=d / "trusted_root.json"
                if (d / "trusted_root.json").exists()
                else None,
            )
        )
    return out


def case_ids() -> list[str]:
    return [c.name for c in cases()] or ["no-vectors"]
