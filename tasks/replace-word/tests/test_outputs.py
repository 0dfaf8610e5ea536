"""Tests for the replace-word task."""
from pathlib import Path

NOTES = Path("/app/notes.txt")

ORIGINAL = 'Meeting notes - project foo\nThe foo service is slow on Mondays.\nWe should restart foo before the foo backup runs.\nFood orders are handled by another team.\nNothing to report for the database.\nAction items: move foo logs to the archive; ping the foo owners.\nFooled by the dashboard again? Check the foofighter job.\n'

EXPECTED = ORIGINAL.replace("foo", "bar")


def test_notes_file_exists():
    assert NOTES.is_file(), "/app/notes.txt must still exist"


def test_no_lowercase_foo_left():
    content = NOTES.read_text()
    assert "foo" not in content, "there is still a lowercase 'foo' in /app/notes.txt"


def test_capitalised_words_untouched():
    content = NOTES.read_text()
    assert "Food orders" in content, "'Food' must not be changed (case-sensitive replacement)"
    assert "Fooled" in content, "'Fooled' must not be changed (case-sensitive replacement)"


def test_content_exactly_as_expected():
    content = NOTES.read_text()
    assert content.rstrip("\n") == EXPECTED.rstrip("\n"), (
        "after the replacement the file should read:\n" + EXPECTED + "\nbut it reads:\n" + content
    )
