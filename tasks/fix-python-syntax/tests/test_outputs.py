"""Tests for the fix-python-syntax task."""
import runpy
import subprocess
from pathlib import Path

CALC = Path("/app/calc.py")

ORIGINAL = '"""Computes the answer from a small table of parts."""\n\nPARTS = [\n    ("bolts", 3, 4),\n    ("nuts", 5, 2),\n    ("washers", 2, 5),\n    ("screws", 1, 10),\n]\n\n\ndef weight(count, unit):\n    return count * unit\n\n\ndef total(parts)\n    result = 0\n    for _name, count, unit in parts:\n        result += weight(count, unit)\n    return result\n\n\ndef main():\n    answer = total(PARTS)\n    print(answer)\n\n\nif __name__ == "__main__":\n    main()\n'
BROKEN_LINE = "def total(parts)"
FIXED_LINE = "def total(parts):"


def test_program_prints_42():
    result = subprocess.run(
        ["python3", str(CALC)], capture_output=True, text=True, timeout=30, cwd="/"
    )
    assert result.returncode == 0, f"python3 /app/calc.py failed:\n{result.stderr}"
    assert result.stdout.strip() == "42", f"python3 /app/calc.py should print 42, printed {result.stdout!r}"


def test_syntax_error_line_fixed():
    lines = CALC.read_text().splitlines()
    index = ORIGINAL.splitlines().index(BROKEN_LINE)
    assert len(lines) > index, "/app/calc.py is shorter than the original"
    assert lines[index].rstrip() == FIXED_LINE, (
        f"line {index + 1} should become {FIXED_LINE!r}, got {lines[index]!r}"
    )


def test_rest_of_file_unchanged():
    original = ORIGINAL.splitlines()
    actual = CALC.read_text().splitlines()
    assert len(actual) == len(original), (
        f"/app/calc.py should still have {len(original)} lines, it has {len(actual)}"
    )
    for number, (got, want) in enumerate(zip(actual, original), start=1):
        if want == BROKEN_LINE:
            continue
        assert got == want, f"line {number} was changed: expected {want!r}, got {got!r}"


def test_total_still_computes():
    module = runpy.run_path(str(CALC), run_name="calc_under_test")
    assert module["total"]([("a", 2, 3), ("b", 4, 5)]) == 26, "total() no longer sums count * unit"
    assert module["total"]([]) == 0, "total([]) should be 0"
