"""Tests for the largest-file-name task."""
import hashlib
import os
from pathlib import Path

DATA = Path("/app/data")
ANSWER = Path("/app/largest.txt")
# SHA-256 over the sorted "relative path<TAB>sha256 of content" lines of every file under /app/data.
MANIFEST_SHA256 = "bc44cb129b7cd66753561b95b2c70300e3d439ef047e05940569ca4416324895"


def all_files():
    result = {}
    for dirpath, _dirnames, filenames in os.walk(DATA):
        for name in filenames:
            full = Path(dirpath) / name
            result[str(full.relative_to(DATA))] = full
    return result


def manifest_digest():
    lines = []
    for rel, full in sorted(all_files().items()):
        lines.append(f"{rel}\t{hashlib.sha256(full.read_bytes()).hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def expected_answer():
    sizes = {rel: full.stat().st_size for rel, full in all_files().items()}
    biggest = max(sizes.values())
    winners = [rel for rel, size in sizes.items() if size == biggest]
    assert len(winners) == 1, f"test data error: several largest files {winners}"
    return winners[0]


def test_data_unchanged():
    assert DATA.is_dir(), "/app/data is missing"
    assert manifest_digest() == MANIFEST_SHA256, "files under /app/data must not be changed, added or removed"


def test_answer_file_exists():
    assert ANSWER.is_file(), "/app/largest.txt was not created"


def test_answer_is_a_single_line():
    content = ANSWER.read_text()
    assert content.rstrip("\n").count("\n") == 0, (
        f"/app/largest.txt must contain exactly one line (the path), got {content[:300]!r}"
    )


def test_answer_is_relative_path_of_largest_file():
    got = ANSWER.read_text().rstrip("\n")
    want = expected_answer()
    assert got == want, (
        f"/app/largest.txt should contain exactly {want!r} (path relative to /app/data), got {got!r}"
    )
