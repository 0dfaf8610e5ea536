"""Tests for the max-value task."""
import hashlib
import re
from pathlib import Path

READINGS = Path("/app/readings.txt")
OUT = Path("/app/max.txt")
READINGS_SHA256 = "c3a8424d643621b1c73f99c55eba593c79e7fe07642c04bf588a3bb4e0ee716f"


def values():
    return [int(line) for line in READINGS.read_text().splitlines() if line.strip()]


def test_readings_unchanged():
    assert READINGS.is_file(), "/app/readings.txt is missing"
    digest = hashlib.sha256(READINGS.read_bytes()).hexdigest()
    assert digest == READINGS_SHA256, "/app/readings.txt must not be modified"


def test_output_file_exists():
    assert OUT.is_file(), "/app/max.txt was not created"


def test_output_is_a_single_integer():
    content = OUT.read_text().strip()
    assert re.fullmatch(r"-?[0-9]+", content), (
        f"/app/max.txt must contain only one integer, got {content!r}"
    )


def test_maximum_is_numeric_not_textual():
    content = OUT.read_text().strip()
    vals = values()
    textual = max(str(v) for v in vals)
    assert content != textual or int(textual) == max(vals), (
        f"{content} is the last value in a text (lexicographic) sort, not the numeric maximum"
    )
    assert int(content) == max(vals), (
        f"the largest value is {max(vals)}, /app/max.txt says {content}"
    )
