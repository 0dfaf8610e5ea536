"""Tests for the first-error-line task."""
import hashlib
import re
from pathlib import Path

LOG = Path("/app/app.log")
OUT = Path("/app/first_error.txt")
LOG_SHA256 = "a94714427b0c9995ca46cac3bd308f3ca9e6225988c4d8526381c40f96ec9240"


def expected_line_number():
    for number, line in enumerate(LOG.read_text().splitlines(), start=1):
        if re.search(r"\bERROR\b", line):
            return number
    raise AssertionError("the log has no ERROR line")


def test_log_unchanged():
    assert LOG.is_file(), "/app/app.log is missing"
    digest = hashlib.sha256(LOG.read_bytes()).hexdigest()
    assert digest == LOG_SHA256, "/app/app.log must not be modified"


def test_output_file_exists():
    assert OUT.is_file(), "/app/first_error.txt was not created"


def test_output_is_only_a_number():
    content = OUT.read_text().strip()
    assert content.isdigit(), (
        f"/app/first_error.txt must contain only the line number (digits only), got {content!r}"
    )


def test_first_error_line_number():
    content = OUT.read_text().strip()
    lines = LOG.read_text().splitlines()
    expected = expected_line_number()
    number = int(content)
    if 1 <= number <= len(lines) and number != expected:
        raise AssertionError(
            f"line {number} is not the first line with the word ERROR: {lines[number - 1]!r}"
        )
    assert number == expected, (
        f"the first line with the word ERROR is line {expected}, /app/first_error.txt says {content}"
    )
