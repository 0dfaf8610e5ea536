"""Tests for the literal-dollar-text task."""
from pathlib import Path

MOTD = Path("/app/motd.txt")

LINE1 = r"Welcome to $HOME -- today is $(date) and you are `whoami`."
LINE2 = r"""Don't "expand" anything: C:\temp\new costs $5 & 100%."""
EXPECTED = LINE1 + "\n" + LINE2 + "\n"


def content():
    return MOTD.read_bytes().decode("utf-8", errors="replace")


def test_motd_exists():
    assert MOTD.is_file(), "/app/motd.txt was not created"


def test_exactly_two_lines_ending_with_newline():
    text = content()
    assert text.endswith("\n"), "/app/motd.txt must end with a newline"
    assert not text.endswith("\n\n"), "/app/motd.txt must not end with an empty line"
    lines = text.split("\n")[:-1]
    assert len(lines) == 2, f"/app/motd.txt must have exactly 2 lines, it has {len(lines)}: {lines!r}"


def test_variables_not_expanded():
    text = content()
    for literal in ("$HOME", "$(date)", "`whoami`", "$5"):
        assert literal in text, f"{literal!r} must appear literally in /app/motd.txt (it was expanded or lost)"


def test_quotes_kept():
    text = content()
    assert "Don't" in text, "the single quote in \"Don't\" is missing"
    assert '"expand"' in text, 'the double quotes around "expand" are missing'


def test_backslashes_kept():
    text = content()
    assert "\t" not in text, "/app/motd.txt contains a tab: \\t must stay a backslash followed by t"
    assert r"C:\temp\new" in text, r"the path C:\temp\new must appear literally with single backslashes"


def test_first_line_exact():
    lines = content().split("\n")
    assert lines[0] == LINE1, f"line 1 should be {LINE1!r}, got {lines[0]!r}"


def test_second_line_exact():
    lines = content().split("\n")
    assert len(lines) > 1 and lines[1] == LINE2, f"line 2 should be {LINE2!r}, got {lines[1:2]}"


def test_exact_content():
    text = content()
    assert text == EXPECTED, "/app/motd.txt should be exactly:\n" + EXPECTED + "\nbut it is:\n" + text
