"""Tests for the extract-emails task."""
import hashlib
import re
from pathlib import Path

CONTACTS = Path("/app/contacts.txt")
EMAILS = Path("/app/emails.txt")
CONTACTS_SHA256 = "bf0a75d187dedebcfaabee6a06bb3f9f89a39e5e938ff253ab5545678ccbe356"
EXPECTED_COUNT = 20

# The definition of an address given in the instruction.
ADDRESS = re.compile(r"[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]+")


def expected_addresses():
    found = {m.lower() for m in ADDRESS.findall(CONTACTS.read_text())}
    return sorted(found)  # Python sorts str by code point == ASCII byte order here


def output_lines():
    return EMAILS.read_text().splitlines()


def test_contacts_unchanged():
    assert CONTACTS.is_file(), "/app/contacts.txt is missing"
    digest = hashlib.sha256(CONTACTS.read_bytes()).hexdigest()
    assert digest == CONTACTS_SHA256, "/app/contacts.txt must not be modified"


def test_emails_file_exists():
    assert EMAILS.is_file(), "/app/emails.txt was not created"


def test_lines_are_bare_addresses():
    for line in output_lines():
        assert ADDRESS.fullmatch(line), (
            f"every line must be exactly one e-mail address with no other text or punctuation, got {line!r}"
        )


def test_all_lowercase():
    for line in output_lines():
        assert line == line.lower(), f"addresses must be lowercased, got {line!r}"


def test_no_duplicates():
    lines = output_lines()
    dupes = sorted({x for x in lines if lines.count(x) > 1})
    assert not dupes, f"each address must appear only once; repeated: {dupes}"


def test_same_set_of_addresses():
    expected = expected_addresses()
    assert len(expected) == EXPECTED_COUNT
    got = set(output_lines())
    missing = sorted(set(expected) - got)
    extra = sorted(got - set(expected))
    assert not missing and not extra, f"missing addresses: {missing}; unexpected lines: {extra}"


def test_sorted_ascii_order():
    lines = output_lines()
    assert lines == sorted(lines), (
        "addresses must be sorted in ASCII byte order (LC_ALL=C sort), got:\n" + "\n".join(lines)
    )


def test_exact_content():
    expected = "\n".join(expected_addresses()) + "\n"
    content = EMAILS.read_text()
    assert content == expected, (
        "/app/emails.txt should read:\n" + expected + "\nbut it reads:\n" + content
    )
