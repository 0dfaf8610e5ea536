"""Tests for the count-fatal-lines task."""
import hashlib
from pathlib import Path

LOG = Path("/app/big.log")
COUNT = Path("/app/fatal_count.txt")
LOG_SHA256 = "4f4c73cd52bdedb2ea8490e2e2493a6c3fec90ee719a07750a9b78060f812e16"


def expected_count():
    with LOG.open() as f:
        return sum(1 for line in f if "FATAL" in line)


def test_log_file_unchanged():
    assert LOG.is_file(), "/app/big.log is missing"
    digest = hashlib.sha256(LOG.read_bytes()).hexdigest()
    assert digest == LOG_SHA256, "/app/big.log must not be modified"


def test_count_file_exists():
    assert COUNT.is_file(), "/app/fatal_count.txt was not created"


def test_count_file_contains_only_a_number():
    content = COUNT.read_text().strip()
    assert content.isdigit(), f"/app/fatal_count.txt must contain only digits, got {content[:200]!r}"


def test_count_is_correct():
    content = COUNT.read_text().strip()
    expected = expected_count()
    assert int(content) == expected, (
        f"expected {expected} lines containing uppercase FATAL, /app/fatal_count.txt says {content}"
    )
