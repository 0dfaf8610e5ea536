"""Tests for the count-words task."""
import hashlib
from pathlib import Path

ESSAY = Path("/app/essay.txt")
OUT = Path("/app/word_count.txt")
ESSAY_SHA256 = "335d8ce6d9a8506fa853280768f74226edc605da41365e97fc84322611451893"


def test_essay_unchanged():
    assert ESSAY.is_file(), "/app/essay.txt is missing"
    digest = hashlib.sha256(ESSAY.read_bytes()).hexdigest()
    assert digest == ESSAY_SHA256, "/app/essay.txt must not be modified"


def test_output_file_exists():
    assert OUT.is_file(), "/app/word_count.txt was not created"


def test_output_is_only_a_number():
    content = OUT.read_text().strip()
    assert content.isdigit(), (
        f"/app/word_count.txt must contain only digits (no file name, no label), got {content!r}"
    )


def test_word_count_is_correct():
    content = OUT.read_text().strip()
    expected = len(ESSAY.read_bytes().decode("ascii").split())
    lines = len(ESSAY.read_text().splitlines())
    assert int(content) != lines or expected == lines, (
        f"/app/word_count.txt holds the number of lines ({lines}), not the number of words"
    )
    assert int(content) == expected, (
        f"expected {expected} words (as `wc -w` counts), /app/word_count.txt says {content}"
    )
