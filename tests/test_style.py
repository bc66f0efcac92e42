"""The code is lint-clean and formatted: ruff (lint and format) on Python, snakefmt on the workflow."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["snakefmt", "--check", "workflow"]],
    ids=["ruff check", "ruff format", "snakefmt"],
)
def test_style(command):
    proc = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, (
        f"{' '.join(command)} (fix with the same tool):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    )
