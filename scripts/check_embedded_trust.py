#!/usr/bin/env python3
"""Cross-check our embedded public-good trust material against two published clients.

Usage:
    python scripts/check_embedded_trust.py NPM_DIR [--sigstore-dir DIR] [--embedded-dir DIR]

NPM_DIR is an unpacked ``@sigstore/tuf`` npm tarball (the folder that holds
``seeds.json``, or the folder that holds ``package/``). ``--sigstore-dir`` is the
``sigstore`` Python package folder (default: the installed one). ``--embedded-dir``
defaults to ``sigstore_async/trust/_embedded`` of this checkout.

What it checks:

* the production TUF root of the npm seeds and of the PyPI package: the same
  document, or, when the versions differ, that the newer one is signed by a threshold
  of the older one's root keys and by its own (TUF client spec 5.3.4, one version
  step; a gap of several versions cannot be checked without the roots between);
* that our ``production/root.json`` is the newest root both agree on, byte for byte;
* that the npm seed's ``trusted_root.json`` target, the PyPI one and ours are the same
  bytes;
* that every other embedded file is byte-identical to the PyPI package's.

Prints each finding, then ``OK`` (exit 0) or the list of differences (exit 1).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from tuf.api.exceptions import UnsignedMetadataError

# tuf documents Root here but does not list it in an __all__, which mypy --strict wants.
from tuf.api.metadata import Metadata, Root  # type: ignore[attr-defined, unused-ignore]

PRODUCTION_URL = "https://tuf-repo-cdn.sigstore.dev"
STAGING_URL = "https://tuf-repo-cdn.sigstage.dev"
# Our file name -> the file name in sigstore-python's ``_store/<quoted URL>/``.
PYPI_NAMES = {
    "root.json": "root.json",
    "trusted_root.json": "trusted_root.json",
    "signing_config.json": "signing_config.v0.2.json",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_dir(sigstore_dir: Path, url: str) -> Path:
    return sigstore_dir / "_store" / url.replace(":", "%3A").replace("/", "%2F")


def find_npm_package(path: Path) -> Path:
    for candidate in (path, path / "package"):
        if (candidate / "seeds.json").is_file():
            return candidate
    raise SystemExit(f"no seeds.json in {path} or {path / 'package'}")


def find_sigstore() -> Path:
    spec = importlib.util.find_spec("sigstore")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the sigstore package is not installed; pass --sigstore-dir")
    return Path(next(iter(spec.submodule_search_locations)))


def root_version(raw: bytes) -> int:
    version = json.loads(raw)["signed"]["version"]
    assert isinstance(version, int)
    return version


def check_chain(older: bytes, newer: bytes) -> str | None:
    """Return None if ``newer`` is a valid successor of ``older``, else why not."""
    old_md = Metadata[Root].from_bytes(older)
    new_md = Metadata[Root].from_bytes(newer)
    if new_md.signed.version != old_md.signed.version + 1:
        return (
            f"root v{old_md.signed.version} -> v{new_md.signed.version}: not consecutive, "
            "the roots in between are needed to check the chain"
        )
    try:
        # TUF client spec 5.3.4: signed by a threshold of the trusted root's root keys
        # and by a threshold of the new root's own root keys.
        old_md.signed.verify_delegate(Root.type, new_md.signed_bytes, new_md.signatures)
        new_md.signed.verify_delegate(Root.type, new_md.signed_bytes, new_md.signatures)
    except UnsignedMetadataError as exc:
        return f"root v{new_md.signed.version} is not signed by v{old_md.signed.version}: {exc}"
    return None


def signed_diff(a: bytes, b: bytes) -> list[str]:
    """Top-level keys of ``signed`` that differ between two root documents."""
    sa: dict[str, Any] = json.loads(a)["signed"]
    sb: dict[str, Any] = json.loads(b)["signed"]
    return sorted(k for k in sa.keys() | sb.keys() if sa.get(k) != sb.get(k))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("npm_dir", type=Path)
    parser.add_argument("--sigstore-dir", type=Path)
    parser.add_argument(
        "--embedded-dir",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "sigstore_async" / "trust" / "_embedded",
    )
    args = parser.parse_args(argv)
    npm_dir = find_npm_package(args.npm_dir)
    sigstore_dir: Path = args.sigstore_dir or find_sigstore()
    embedded: Path = args.embedded_dir
    problems: list[str] = []

    npm_meta = json.loads((npm_dir / "package.json").read_bytes())
    print(f"npm package: {npm_meta.get('name')} {npm_meta.get('version')} ({npm_dir})")
    print(f"PyPI package folder: {sigstore_dir}")
    seeds = json.loads((npm_dir / "seeds.json").read_bytes())
    print(f"npm seeds for: {', '.join(sorted(seeds))}")
    if PRODUCTION_URL not in seeds:
        problems.append(f"npm seeds.json has no entry for {PRODUCTION_URL}")
        seeds[PRODUCTION_URL] = {}
    seed = seeds[PRODUCTION_URL]
    if STAGING_URL not in seeds:
        print("staging: no npm seed to compare with; PyPI files only")

    # --- the production TUF root -------------------------------------------------------
    pypi_root = (store_dir(sigstore_dir, PRODUCTION_URL) / "root.json").read_bytes()
    expected_root = pypi_root
    if "root.json" in seed:
        npm_root = base64.b64decode(seed["root.json"], validate=True)
        npm_v, pypi_v = root_version(npm_root), root_version(pypi_root)
        print(f"root: npm v{npm_v} sha256 {sha256(npm_root)}")
        print(f"root: PyPI v{pypi_v} sha256 {sha256(pypi_root)}")
        if json.loads(npm_root) == json.loads(pypi_root):
            print(
                "root: npm and PyPI hold the same document"
                + ("" if npm_root == pypi_root else " (bytes differ)")
            )
        elif npm_v == pypi_v:
            problems.append(
                f"root: npm and PyPI hold different documents with the same version {npm_v}"
            )
        else:
            older, newer = (npm_root, pypi_root) if npm_v < pypi_v else (pypi_root, npm_root)
            newer_from = "npm" if newer is npm_root else "PyPI"
            why = check_chain(older, newer)
            if why is None:
                changed = ", ".join(signed_diff(older, newer))
                print(
                    f"root: v{root_version(newer)} ({newer_from}) is signed by "
                    f"v{root_version(older)}'s root keys and its own; "
                    f"signed fields that changed: {changed}"
                )
                expected_root = newer
            else:
                problems.append(f"root: {why}")
    else:
        problems.append("npm seed has no root.json")

    ours = (embedded / "production" / "root.json").read_bytes()
    print(f"root: ours v{root_version(ours)} sha256 {sha256(ours)}")
    if ours == expected_root:
        print("root: ours is the newest root that npm and PyPI agree on")
    elif root_version(ours) > root_version(expected_root):
        # Ours may be newer than both packages (taken from a newer release of one of
        # them); then it must chain from the newest root they agree on.
        why = check_chain(expected_root, ours)
        if why is None:
            print(f"root: ours is newer than both and signed by v{root_version(expected_root)}")
        else:
            problems.append(f"root: ours is newer than the agreed root but {why}")
    else:
        problems.append(
            f"root: ours (sha256 {sha256(ours)}) is not the newest agreed root "
            f"(sha256 {sha256(expected_root)})"
        )

    # --- the production trusted root ------------------------------------------------------
    pypi_tr = (store_dir(sigstore_dir, PRODUCTION_URL) / "trusted_root.json").read_bytes()
    our_tr = (embedded / "production" / "trusted_root.json").read_bytes()
    npm_target = seed.get("targets", {}).get("trusted_root.json")
    if npm_target is None:
        print("trusted_root: no target in the npm seed")
    else:
        npm_tr = base64.b64decode(npm_target, validate=True)
        print(f"trusted_root: npm target sha256 {sha256(npm_tr)}")
        if npm_tr != pypi_tr:
            same = json.loads(npm_tr) == json.loads(pypi_tr)
            problems.append(
                "trusted_root: npm target and PyPI differ"
                + (" in bytes only (same JSON)" if same else " in content")
            )
    print(f"trusted_root: PyPI sha256 {sha256(pypi_tr)}, ours {sha256(our_tr)}")
    if our_tr != pypi_tr:
        problems.append("trusted_root: ours differs from PyPI's")

    # --- everything else against PyPI --------------------------------------------------------
    for env, url in (("production", PRODUCTION_URL), ("staging", STAGING_URL)):
        for ours_name, pypi_name in PYPI_NAMES.items():
            if env == "production" and ours_name in {"root.json", "trusted_root.json"}:
                continue  # checked above
            mine = (embedded / env / ours_name).read_bytes()
            theirs = (store_dir(sigstore_dir, url) / pypi_name).read_bytes()
            status = "identical" if mine == theirs else "DIFFERENT"
            print(f"{env}/{ours_name}: sha256 {sha256(mine)}, PyPI {pypi_name}: {status}")
            if mine != theirs:
                problems.append(f"{env}/{ours_name}: differs from PyPI's {pypi_name}")

    if problems:
        print("DIFFERENCES:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
