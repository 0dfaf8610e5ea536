"""Tests for the hello-script task."""
import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path("/app/greet.sh")
NAMES = ["Ada", "Grace", "Linus", "Mary Ann", "Jean-Luc", "Ada  Lovelace"]


def run(name):
    return subprocess.run(
        [str(SCRIPT), name], capture_output=True, text=True, timeout=10, cwd="/"
    )


def test_script_exists():
    assert SCRIPT.is_file(), "/app/greet.sh was not created"


def test_script_is_executable():
    assert os.access(SCRIPT, os.X_OK), "/app/greet.sh is not executable (chmod +x)"


def test_script_runs_directly():
    try:
        result = run("Ada")
    except OSError as exc:
        pytest.fail(f"/app/greet.sh cannot be run directly (missing #! line?): {exc}")
    assert result.returncode == 0, f"/app/greet.sh Ada exited with {result.returncode}: {result.stderr}"


@pytest.mark.parametrize("name", NAMES)
def test_greeting(name):
    result = run(name)
    expected = f"Hello, {name}!"
    assert result.returncode == 0, f"/app/greet.sh {name!r} exited with {result.returncode}: {result.stderr}"
    assert result.stdout.rstrip("\n") == expected, (
        f"/app/greet.sh {name!r} should print exactly {expected!r}, printed {result.stdout!r}"
    )
