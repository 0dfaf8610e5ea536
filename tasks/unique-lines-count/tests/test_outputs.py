"""Tests for the unique-lines-count task."""
import hashlib
from pathlib import Path

LOG = Path("/app/visitors.log")
OUT = Path("/app/unique.txt")
LOG_SHA256 = "8261a2390f37776820cfe38858b2ab4351a921b6c7865d2720326e31a165dbd5"


def lines():
    return LOG.read_text().splitlines()


def test_log_unchanged():
    assert LOG.is_file(), "/app/visitors.log is missing"
    digest = hashlib.sha256(LOG.read_bytes()).hexdigest()
    assert digest == LOG_SHA256, "/app/visitors.log must not be modified"


def test_output_file_exists():
    assert OUT.is_file(), "/app/unique.txt was not created"


def test_output_is_only_a_number():
    content = OUT.read_text().strip()
    assert content.isdigit(), (
        f"/app/unique.txt must contain only digits (no file name, no label), got {content!r}"
    )


def test_distinct_line_count():
    content = OUT.read_text().strip()
    ls = lines()
    expected = len(set(ls))
    adjacent_runs = sum(1 for i, l in enumerate(ls) if i == 0 or ls[i - 1] != l)
    assert int(content) != adjacent_runs, (
        f"{content} counts runs of adjacent equal lines (`uniq` without `sort`), "
        "but repeated lines are not adjacent"
    )
    assert int(content) != len(ls), f"{content} is the total number of lines, not the distinct ones"
    assert int(content) == expected, (
        f"the file has {expected} distinct lines, /app/unique.txt says {content}"
    )
