"""Tests for the fix-expression-evaluator task."""
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path("/app/exprcalc")
PROTECTED_SHA256 = {
    "tests/test_basic.py": "d46af61cf54e5b27987c00f060a9eec4f1932e8f36e489f8ce656b52e95b6972",
    "SPEC.md": "45f3e993dbacd66b6bc80ef2e034367a9c42604a1142b592f4b96ff670c3fdbc",
}

sys.path.insert(0, str(PROJECT))
sys.dont_write_bytecode = True


def load():
    import exprcalc  # noqa: PLC0415
    return exprcalc


@pytest.mark.parametrize("rel", sorted(PROTECTED_SHA256))
def test_protected_files_unchanged(rel):
    digest = hashlib.sha256((PROJECT / rel).read_bytes()).hexdigest()
    assert digest == PROTECTED_SHA256[rel], f"{rel} must not be modified"


def test_existing_unit_tests_pass():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=PROJECT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, f"unit tests fail:\n{result.stdout}\n{result.stderr}"


VALUE_CASES = [
    ("42", 42),
    ("8 - 3 - 2", 3),
    ("16 / 4 / 2", 2),
    ("10 % 4 % 3", 2),
    ("100 - 10 * 3 - 20 / 4", 65),
    ("(1 + 2) * (3 - 5) / 4", -1.5),
    ("2 ^ 3 ^ 2", 512),
    ("2 ^ 3 ^ 0", 2),
    ("-2 ^ 2", -4),
    ("2 ^ -1", 0.5),
    ("2 * (3 + 4) ^ 2", 98),
    ("--3", 3),
    ("1 - -1", 2),
    ("+4 - +1", 3),
    (".5 + .25", 0.75),
    ("3. * 2", 6),
    ("7 / 2", 3.5),
    ("-7 % 3", 2),
    ("max(1, 5, 3)", 5),
    ("min(4, 2, 8, 6)", 2),
    ("max(7)", 7),
    ("abs(2 - 10) ^ 2", 64),
    ("max(1, 2) - min(3, 4, 5) - 1", -2),
    (" \t1+2 ", 3),
]


@pytest.mark.parametrize("expr,expected", VALUE_CASES)
def test_value(expr, expected):
    result = load().evaluate(expr)
    assert isinstance(result, float), f"evaluate({expr!r}) must return a float, got {type(result)}"
    assert result == pytest.approx(expected), f"evaluate({expr!r}) = {result}, expected {expected}"


ERROR_CASES = [
    "",
    "   ",
    "2 3",
    "(1 + 2))",
    "(1 + 2",
    "1 +",
    "1 / 0",
    "5 % 0",
    "1 / (2 - 2)",
    "foo(1)",
    "abs(1, 2)",
    "min()",
    "2 $ 3",
    ".",
]


@pytest.mark.parametrize("expr", ERROR_CASES)
def test_error(expr):
    exprcalc = load()
    try:
        exprcalc.evaluate(expr)
    except exprcalc.CalcError:
        return
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"evaluate({expr!r}) raised {type(exc).__name__} instead of CalcError")
    pytest.fail(f"evaluate({expr!r}) did not raise CalcError")
