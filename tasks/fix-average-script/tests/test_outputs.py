"""Tests for the fix-average-script task."""
import csv
import hashlib
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path("/app/stats.py")
SCORES = Path("/app/scores.csv")
REPORT = Path("/app/report.txt")
SCORES_SHA256 = "8c5ee82f2dbb08eaae275528b61f249ebed99e189c7035a2130b6c513418adf0"


def expected_report(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    scores = [float(r["score"]) for r in rows]
    return (
        f"count={len(scores)}\n"
        f"mean={sum(scores) / len(scores):.2f}\n"
        f"min={min(scores):.2f}\n"
        f"max={max(scores):.2f}\n"
    )


def run_script(tmp_path, csv_text):
    src = tmp_path / "input.csv"
    out = tmp_path / "out.txt"
    src.write_text(csv_text)
    result = subprocess.run(
        ["python3", str(SCRIPT), str(src), str(out)],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, f"stats.py failed: {result.stderr}"
    return src, out.read_text()


def test_scores_csv_unchanged():
    digest = hashlib.sha256(SCORES.read_bytes()).hexdigest()
    assert digest == SCORES_SHA256, "/app/scores.csv must not be modified"


def test_report_exists():
    assert REPORT.is_file(), "/app/report.txt was not produced"


def test_report_is_correct():
    expected = expected_report(SCORES)
    assert REPORT.read_text().strip() == expected.strip(), (
        f"wrong report.\nexpected:\n{expected}\ngot:\n{REPORT.read_text()}"
    )


def test_script_counts_every_row(tmp_path):
    src, out = run_script(tmp_path, "name,score\nann,10\nben,20\ncid,30\ndan,40\n")
    assert out.splitlines()[0] == "count=4", f"every data row must be counted, got:\n{out}"


def test_script_mean_is_not_truncated(tmp_path):
    src, out = run_script(tmp_path, "name,score\nann,1\nben,2\n")
    assert "mean=1.50" in out.splitlines(), f"mean of 1 and 2 must be 1.50, got:\n{out}"


def test_script_min_max_are_numeric(tmp_path):
    src, out = run_script(tmp_path, "name,score\nann,9\nben,100\ncid,25.5\n")
    lines = out.splitlines()
    assert "min=9.00" in lines and "max=100.00" in lines, (
        f"min/max must compare numbers, not strings, got:\n{out}"
    )


@pytest.mark.parametrize("csv_text", [
    "name,score\nsolo,77.25\n",
    "name,score\na,50\nb,60.5\nc,99.5\nd,8\ne,70",  # no trailing newline
])
def test_script_matches_reference(tmp_path, csv_text):
    src, out = run_script(tmp_path, csv_text)
    assert out.strip() == expected_report(src).strip()
