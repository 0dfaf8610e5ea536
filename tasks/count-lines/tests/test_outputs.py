"""Tests for the count-lines task."""
import hashlib
from pathlib import Path

DATA = Path("/app/data.txt")
COUNT = Path("/app/count.txt")
DATA_SHA256 = "a384a98b3c0063c9f86b0c1c302b2b18e0ae0bb5d38410701777c30e606ed6c3"
EXPECTED_LINES = 137


def test_data_file_unchanged():
    assert DATA.exists(), "/app/data.txt is missing"
    digest = hashlib.sha256(DATA.read_bytes()).hexdigest()
    assert digest == DATA_SHA256, "/app/data.txt must not be modified"


def test_count_file_exists():
    assert COUNT.exists(), "/app/count.txt was not created"


def test_count_file_contains_only_a_number():
    content = COUNT.read_text().strip()
    assert content.isdigit(), (
        f"/app/count.txt must contain only digits, got {content!r}"
    )


def test_count_is_correct():
    content = COUNT.read_text().strip()
    actual_lines = len(DATA.read_text().splitlines())
    assert actual_lines == EXPECTED_LINES
    assert int(content) == actual_lines, (
        f"expected {actual_lines} lines, /app/count.txt says {content}"
    )
