"""Every example runs and succeeds (they need the sample vectors)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (REPO / "examples").glob("*.py") if not p.name.startswith("_"))
ARGS = {"verify_many.py": ["200"]}


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(example: Path, vectors: object) -> None:
    out = subprocess.run(
        [sys.executable, str(example), *ARGS.get(example.name, [])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip()


def test_verify_many_example_on_trio(vectors: object) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "verify_many.py"), "--trio", "100"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "99 verified, 1 rejected" in out.stdout
