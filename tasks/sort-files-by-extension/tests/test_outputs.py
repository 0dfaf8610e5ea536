"""Tests for the sort-files-by-extension task."""
import os
from pathlib import Path

import pytest

INBOX = Path("/app/inbox")
SORTED = Path("/app/sorted")

EXPECTED = {
    "report.pdf": "pdf",
    "Annual Report 2023.PDF": "pdf",
    "photo.jpg": "jpg",
    "holiday photo.JPG": "jpg",
    "notes.txt": "txt",
    "todo list.txt": "txt",
    "data.csv": "csv",
    "archive.tar.gz": "gz",
    "draft.final.docx": "docx",
    "song.Mp3": "mp3",
    "Makefile": "other",
    "README": "other",
    "run backup.sh": "sh",
    "config.yaml": "yaml",
}


def content_of(name):
    return f"this is the file {name}\n" * 3


@pytest.mark.parametrize("name,ext", sorted(EXPECTED.items()))
def test_file_sorted_into_extension_dir(name, ext):
    target = SORTED / ext / name
    assert target.is_file(), f"expected {target} to exist"
    assert target.read_text() == content_of(name), f"content of {target} changed"


def test_inbox_has_no_regular_files_left():
    leftovers = [p.name for p in INBOX.iterdir() if p.is_file()]
    assert leftovers == [], f"files still in /app/inbox: {leftovers}"


def test_subdirectory_left_in_place():
    old = INBOX / "old" / "old.txt"
    assert old.is_file(), "/app/inbox/old/old.txt must stay where it is"
    assert old.read_text() == "an old file that stays where it is\n"


def test_no_unexpected_entries_in_sorted():
    expected_paths = {f"{ext}/{name}" for name, ext in EXPECTED.items()}
    found = set()
    for root, dirs, files in os.walk(SORTED):
        for f in files:
            found.add(os.path.relpath(os.path.join(root, f), SORTED))
    extra = sorted(found - expected_paths)
    assert not extra, f"unexpected files in /app/sorted: {extra}"
    dirs = sorted(p.name for p in SORTED.iterdir() if p.is_dir())
    assert dirs == sorted(set(EXPECTED.values())), f"unexpected directories in /app/sorted: {dirs}"
