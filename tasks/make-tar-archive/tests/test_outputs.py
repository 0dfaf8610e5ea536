"""Tests for the make-tar-archive task."""
import hashlib
import os
import tarfile
from pathlib import Path

APP = Path("/app")
SITE = Path("/app/site")
ARCHIVE = Path("/app/backup.tar.gz")
# SHA-256 over the sorted "path relative to /app<TAB>sha256 of content" lines of every file in /app/site.
SITE_MANIFEST_SHA256 = "fabf610c408902cc85f3c4b8c2803f6a10a148ecc1c825bc75e5cf32cf24c350"


def site_files():
    result = {}
    for dirpath, _dirnames, filenames in os.walk(SITE):
        for name in filenames:
            full = Path(dirpath) / name
            result[str(full.relative_to(APP))] = full.read_bytes()
    return result


def archive_files():
    with tarfile.open(ARCHIVE, "r:gz") as tar:
        members = tar.getmembers()
        files = {m.name: tar.extractfile(m).read() for m in members if m.isfile()}
        names = [m.name for m in members]
    return names, files


def test_site_unchanged():
    assert SITE.is_dir(), "/app/site must still exist"
    lines = [
        f"{rel}\t{hashlib.sha256(data).hexdigest()}\n" for rel, data in sorted(site_files().items())
    ]
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()
    assert digest == SITE_MANIFEST_SHA256, "/app/site must stay in place with its files unchanged"


def test_archive_exists_and_is_gzip():
    assert ARCHIVE.is_file(), "/app/backup.tar.gz was not created"
    with ARCHIVE.open("rb") as f:
        magic = f.read(2)
    assert magic == b"\x1f\x8b", "/app/backup.tar.gz is not gzip-compressed"
    assert tarfile.is_tarfile(ARCHIVE), "/app/backup.tar.gz is not a valid tar archive"


def test_paths_start_with_site():
    names, _files = archive_files()
    assert names, "the archive is empty"
    bad = [n for n in names if n.rstrip("/") != "site" and not n.startswith("site/")]
    assert not bad, f"every path in the archive must start with 'site/', these do not: {bad[:10]}"


def test_all_files_present():
    _names, files = archive_files()
    expected = set(site_files())
    missing = sorted(expected - set(files))
    extra = sorted(set(files) - expected)
    assert not missing, f"files missing from the archive: {missing}"
    assert not extra, f"unexpected files in the archive: {extra}"


def test_file_contents_intact():
    _names, files = archive_files()
    for rel, data in site_files().items():
        assert files.get(rel) == data, f"{rel} in the archive differs from /app/{rel}"
