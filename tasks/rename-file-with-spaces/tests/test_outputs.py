"""Tests for the rename-file-with-spaces task."""
import hashlib
from pathlib import Path

INBOX = Path("/app/inbox")
OLD_NAME = "quarterly report (final).txt"
NEW_NAME = "quarterly_report_final.txt"

# SHA-256 of every file the environment created in /app/inbox.
ORIGINAL = {
    "quarterly report (final).txt": "79473aa69cf6429ec97e04620e633fc9436c877a0076aacf51e346d9ca7fcc13",
    "quarterly report (draft).txt": "0f734b2bb28332ee0931052698497677a5687e11f6c43201e8526a5c5bce53a0",
    "quarterly report.txt": "9d649d561920aedbba26359ec22c24e48976e91d1b4eb82cc0c4d6c212ca1600",
    "budget (final) v2.txt": "cb77d962e211b5753b0234c78cef9cbe82ecf01a531c0d58149c117ff2f60a10",
    "meeting notes 2024-10-04.txt": "c3ec2ba663b9ed249c1fbef65168bd9de6cea790b97cd1f21aed8a837ec259c6",
    "read me.md": "f1732ba8c941963f80a4ee6ad385ae9021a052a44e0820c3827886eaa3651947",
}


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expected_names():
    return sorted(NEW_NAME if n == OLD_NAME else n for n in ORIGINAL)


def test_new_file_exists():
    assert (INBOX / NEW_NAME).is_file(), f"/app/inbox/{NEW_NAME} does not exist"


def test_old_name_is_gone():
    assert not (INBOX / OLD_NAME).exists(), f"/app/inbox/{OLD_NAME} still exists: the file must be renamed, not copied"


def test_content_unchanged():
    path = INBOX / NEW_NAME
    assert path.is_file(), f"/app/inbox/{NEW_NAME} does not exist"
    assert sha256(path) == ORIGINAL[OLD_NAME], (
        f"/app/inbox/{NEW_NAME} must have the exact content of the original '{OLD_NAME}'"
    )


def test_other_files_untouched():
    for name, digest in ORIGINAL.items():
        if name == OLD_NAME:
            continue
        path = INBOX / name
        assert path.is_file(), f"'/app/inbox/{name}' must keep its name, but it is missing"
        assert sha256(path) == digest, f"'/app/inbox/{name}' must not be modified"


def test_no_other_files():
    got = sorted(p.name for p in INBOX.iterdir())
    assert got == expected_names(), f"/app/inbox should contain exactly {expected_names()}, it contains {got}"
