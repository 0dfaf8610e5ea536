"""Tests for the create-config-file task."""
from pathlib import Path

CONFIG_DIR = Path("/app/config")
SETTINGS = CONFIG_DIR / "settings.ini"


def test_config_directory_exists():
    assert CONFIG_DIR.is_dir(), "/app/config must be a directory"


def test_settings_file_exists():
    assert SETTINGS.is_file(), "/app/config/settings.ini must be a regular file"


def test_settings_content():
    content = SETTINGS.read_text()
    lines = [line.strip() for line in content.splitlines() if line.strip()]
    assert lines == ["mode=production"], (
        f"settings.ini must contain exactly the line 'mode=production', got {content!r}"
    )
