"""Tests for the env-file-from-list task."""
import hashlib
from pathlib import Path

SETTINGS = Path("/app/settings.txt")
ENV = Path("/app/.env")
SETTINGS_SHA256 = "f850f0ae632642858efed3b89974ee2b6935776b82ac30b0261a6d496603d75f"


def expected_lines():
    lines = []
    for line in SETTINGS.read_text().splitlines():
        name, value = line.split(": ", 1)
        lines.append(f"{name}={value}")
    return lines


def env_lines():
    content = ENV.read_text()
    if content.endswith("\n"):
        content = content[:-1]
    return content.split("\n")


def test_settings_unchanged():
    assert SETTINGS.is_file(), "/app/settings.txt is missing"
    digest = hashlib.sha256(SETTINGS.read_bytes()).hexdigest()
    assert digest == SETTINGS_SHA256, "/app/settings.txt must not be modified"


def test_env_file_exists():
    assert ENV.is_file(), "/app/.env was not created"


def test_env_has_one_line_per_setting():
    got = env_lines()
    want = expected_lines()
    assert len(got) == len(want), (
        f"/app/.env should have exactly {len(want)} lines (one per setting, no blank lines), it has {len(got)}"
    )


def test_names_in_same_order():
    got = [line.split("=", 1)[0] for line in env_lines()]
    want = [line.split("=", 1)[0] for line in expected_lines()]
    assert got == want, f"setting names/order in /app/.env should be {want}, got {got}"


def test_lines_exact():
    got = env_lines()
    for want in expected_lines():
        assert want in got, f"/app/.env should contain the line {want!r}"
    assert got == expected_lines(), "/app/.env lines are not exactly NAME=value in the original order"
