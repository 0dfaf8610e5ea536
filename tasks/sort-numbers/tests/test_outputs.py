"""Tests for the sort-numbers task."""
import hashlib
from pathlib import Path

SCORES = Path("/app/scores.txt")
SORTED = Path("/app/sorted_scores.txt")
SCORES_SHA256 = "33dfb7aef405e8e345236c951e52c5bc8913b0a9286f1df4657cf6b3e7609e82"
EXPECTED_COUNT = 123


def input_numbers():
    return [int(x) for x in SCORES.read_text().split()]


def output_lines():
    return SORTED.read_text().splitlines()


def test_scores_unchanged():
    assert SCORES.is_file(), "/app/scores.txt is missing"
    digest = hashlib.sha256(SCORES.read_bytes()).hexdigest()
    assert digest == SCORES_SHA256, "/app/scores.txt must not be modified"


def test_sorted_file_exists():
    assert SORTED.is_file(), "/app/sorted_scores.txt was not created"


def test_lines_are_plain_numbers():
    for i, line in enumerate(output_lines(), start=1):
        assert line.isdigit(), f"line {i} must contain only a number, got {line!r}"


def test_same_count_duplicates_kept():
    want = input_numbers()
    assert len(want) == EXPECTED_COUNT
    got = output_lines()
    assert len(got) == len(want), (
        f"/app/sorted_scores.txt must have {len(want)} lines like /app/scores.txt (duplicates kept), it has {len(got)}"
    )


def test_same_numbers():
    got = sorted(int(x) for x in output_lines() if x.isdigit())
    assert got == sorted(input_numbers()), "/app/sorted_scores.txt must contain exactly the numbers of /app/scores.txt"


def test_numeric_not_lexicographic_order():
    got = [int(x) for x in output_lines() if x.isdigit()]
    for i in range(1, len(got)):
        assert got[i - 1] <= got[i], (
            f"numbers are not in ascending numeric order: {got[i - 1]} comes before {got[i]} "
            "(a plain text sort puts 10 before 9)"
        )


def test_exact_content():
    want = "".join(f"{n}\n" for n in sorted(input_numbers()))
    got = SORTED.read_text()
    assert got == want, "/app/sorted_scores.txt should read:\n" + want + "\nbut it reads:\n" + got
