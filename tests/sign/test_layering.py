"""The signing core is sans-I/O: ``sign.config`` and ``sign.assembly`` import
without httpx or an async runtime, and read no clock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = ["sigstore_async.sign.config", "sigstore_async.sign.assembly"]

_BLOCKER = """
import sys, types, importlib
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"httpx", "anyio", "asyncio", "trio", "sniffio"}:
            raise ImportError("blocked in the sans-I/O core: " + name)
        return None
sys.meta_path.insert(0, Block())
# The package __init__ files re-export the async shells: keep them out.
root = %r
for name, sub in (("sigstore_async", ""), ("sigstore_async.verify", "/verify"),
                  ("sigstore_async.sign", "/sign")):
    pkg = types.ModuleType(name)
    pkg.__path__ = [root + sub]
    sys.modules[name] = pkg
for name in %r:
    importlib.import_module(name)
print("ok")
"""


def test_signing_core_imports_without_io_libraries() -> None:
    code = _BLOCKER % (str(REPO / "sigstore_async"), CORE)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_signing_core_does_not_read_the_clock() -> None:
    for name in CORE:
        text = (REPO / (name.replace(".", "/") + ".py")).read_text()
        for needle in ("datetime.now(", "time.time(", "datetime.utcnow(", "utc_now("):
            assert needle not in text, (name, needle)
