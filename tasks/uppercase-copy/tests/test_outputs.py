"""Tests for the uppercase-copy task."""
import hashlib
from pathlib import Path

QUIET = Path("/app/quiet.txt")
SHOUT = Path("/app/shout.txt")
QUIET_SHA256 = "1878e949d28ff226feb1041921bb5605a121323971360ea855174055d33cab56"

LOWER = b"abcdefghijklmnopqrstuvwxyz"
UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def expected_bytes():
    return QUIET.read_bytes().translate(bytes.maketrans(LOWER, UPPER))


def test_original_unchanged():
    assert QUIET.is_file(), "/app/quiet.txt is missing"
    digest = hashlib.sha256(QUIET.read_bytes()).hexdigest()
    assert digest == QUIET_SHA256, "/app/quiet.txt must not be modified"


def test_shout_file_exists():
    assert SHOUT.is_file(), "/app/shout.txt was not created"


def test_no_lowercase_letters_left():
    data = SHOUT.read_bytes()
    left = sorted({chr(b) for b in data if b in LOWER})
    assert not left, f"/app/shout.txt still contains lowercase letters: {left}"


def test_same_lines_and_final_newline():
    got = SHOUT.read_bytes()
    want = expected_bytes()
    got_n, want_n = got.count(b"\n"), want.count(b"\n")
    assert got_n == want_n, (
        f"/app/shout.txt must have {want_n} newline characters like the original "
        f"(empty lines and the final newline included), it has {got_n}"
    )
    assert got.endswith(b"\n"), "/app/shout.txt must end with a newline like the original"


def test_whitespace_and_punctuation_kept():
    got_lines = SHOUT.read_bytes().split(b"\n")
    want_lines = expected_bytes().split(b"\n")
    for i, (g, w) in enumerate(zip(got_lines, want_lines), start=1):
        assert g == w, f"line {i} differs: expected {w!r}, got {g!r}"


def test_byte_for_byte_uppercase_copy():
    got = SHOUT.read_bytes()
    want = expected_bytes()
    assert got == want, (
        "/app/shout.txt should be exactly:\n" + want.decode() + "\nbut it is:\n" + got.decode(errors="replace")
    )
