"""Tests for the file-checksum task."""
import hashlib
import re
from pathlib import Path

ARCHIVE = Path("/app/release.tar.gz")
OUT = Path("/app/checksum.txt")
ARCHIVE_SHA256 = "8f77d88ba1f9782e2526106c39d7dbbd9dcc248528e174c4268b6fc02bc3bb74"


def test_archive_unchanged():
    assert ARCHIVE.is_file(), "/app/release.tar.gz is missing"
    digest = hashlib.sha256(ARCHIVE.read_bytes()).hexdigest()
    assert digest == ARCHIVE_SHA256, "/app/release.tar.gz must not be modified"


def test_output_file_exists():
    assert OUT.is_file(), "/app/checksum.txt was not created"


def test_output_is_only_64_lowercase_hex_characters():
    content = OUT.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", content), (
        "/app/checksum.txt must contain only 64 lowercase hex characters "
        f"(no file name, no spaces), got {content!r}"
    )


def test_checksum_matches_archive():
    content = OUT.read_text().strip().lower()
    expected = hashlib.sha256(ARCHIVE.read_bytes()).hexdigest()
    for algo in ("md5", "sha1", "sha512"):
        other = hashlib.new(algo, ARCHIVE.read_bytes()).hexdigest()
        assert content != other, f"/app/checksum.txt holds the {algo} digest, not the SHA-256"
    assert content == expected, (
        f"the SHA-256 of /app/release.tar.gz is {expected}, /app/checksum.txt says {content}"
    )
