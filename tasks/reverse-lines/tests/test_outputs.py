"""Tests for the reverse-lines task."""
import hashlib
from pathlib import Path

HISTORY = Path("/app/history.txt")
REVERSED = Path("/app/reversed.txt")
HISTORY_SHA256 = "29ca04a288dcdecfd8e7dab362133f00544f0770456727379dbf63df281c290f"
EXPECTED_LINES = 24


def original_lines():
    return HISTORY.read_text().split("\n")[:-1]  # file ends with a newline


def output_lines():
    return REVERSED.read_text().split("\n")[:-1]


def test_history_unchanged():
    assert HISTORY.is_file(), "/app/history.txt is missing"
    digest = hashlib.sha256(HISTORY.read_bytes()).hexdigest()
    assert digest == HISTORY_SHA256, "/app/history.txt must not be modified"


def test_reversed_file_exists():
    assert REVERSED.is_file(), "/app/reversed.txt was not created"


def test_ends_with_newline():
    assert REVERSED.read_text().endswith("\n"), "the last line of /app/reversed.txt must end with a newline"


def test_same_number_of_lines():
    want = original_lines()
    assert len(want) == EXPECTED_LINES
    got = output_lines()
    assert len(got) == len(want), (
        f"/app/reversed.txt must have {len(want)} lines (duplicates kept, no extra empty lines), it has {len(got)}"
    )


def test_first_and_last_line():
    want = original_lines()[::-1]
    got = output_lines()
    assert got and got[0] == want[0], f"the first line must be {want[0]!r}, got {got[:1]}"
    assert got[-1] == want[-1], f"the last line must be {want[-1]!r}, got {got[-1:]}"


def test_lines_copied_exactly():
    original = set(original_lines())
    for i, line in enumerate(output_lines(), start=1):
        assert line in original, (
            f"line {i} of /app/reversed.txt, {line!r}, is not an exact line of /app/history.txt "
            "(leading whitespace and backslashes must be kept)"
        )


def test_exact_reverse_order():
    want = "\n".join(original_lines()[::-1]) + "\n"
    got = REVERSED.read_text()
    assert got == want, "/app/reversed.txt should read:\n" + want + "\nbut it reads:\n" + got
