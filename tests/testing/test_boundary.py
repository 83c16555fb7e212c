"""The library never imports its test affordances: importing every module of
``sigstore_async`` except ``sigstore_async.testing`` leaves it unimported."""

from __future__ import annotations

import subprocess
import sys

import sigstore_async.testing

CHECK = """
import importlib, pkgutil, sys
import sigstore_async

def walk(path, prefix):
    # Not pkgutil.walk_packages: it imports every package, sigstore_async.testing too.
    for info in pkgutil.iter_modules(path, prefix):
        if info.name in ("sigstore_async.testing", "sigstore_async.__main__"):
            continue
        module = importlib.import_module(info.name)
        if info.ispkg:
            walk(module.__path__, info.name + ".")

walk(sigstore_async.__path__, "sigstore_async.")
leaked = sorted(m for m in sys.modules if m.startswith("sigstore_async.testing"))
assert not leaked, leaked
print("ok")
"""


def test_library_does_not_import_testing() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_public_names() -> None:
    names = sigstore_async.testing.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))  # constants first
    assert set(sigstore_async.testing.__all__) == {
        "SERVICES",
        "Adversary",
        "LocalSigstore",
        "LocalTufRepository",
        "ServiceFaults",
    }
