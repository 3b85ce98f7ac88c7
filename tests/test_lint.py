"""``ruff check`` over the code base (config in pyproject.toml) must report nothing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["s2sad", "tests", "examples", "benchmarks"]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_clean():
    targets = [t for t in TARGETS if (ROOT / t).exists()]
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
         *targets],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"ruff check {' '.join(targets)} found problems "
                    f"(exit {proc.returncode}):\n{proc.stdout}{proc.stderr}", pytrace=False)
