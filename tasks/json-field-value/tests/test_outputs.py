"""Tests for the json-field-value task."""
import hashlib
import json
from pathlib import Path

PKG = Path("/app/package.json")
OUT = Path("/app/version.txt")
PKG_SHA256 = "4a149aca80a082e71577bf0f3534164d6f3c0c0cba7e0f162e4dda836fb36ba4"


def nested_versions(node, top=True):
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "version" and not top:
                found.append(value)
            found += nested_versions(value, top=False)
    return found


def test_package_json_unchanged():
    assert PKG.is_file(), "/app/package.json is missing"
    digest = hashlib.sha256(PKG.read_bytes()).hexdigest()
    assert digest == PKG_SHA256, "/app/package.json must not be modified"


def test_output_file_exists():
    assert OUT.is_file(), "/app/version.txt was not created"


def test_output_has_no_quotes_or_key():
    content = OUT.read_text().strip()
    assert '"' not in content and "'" not in content, (
        f"/app/version.txt must not contain quotes, got {content!r}"
    )
    assert "version" not in content and ":" not in content and "," not in content, (
        f"/app/version.txt must contain only the value, not the key or JSON syntax, got {content!r}"
    )
    assert len(OUT.read_text().splitlines()) <= 1, "/app/version.txt must contain a single line"


def test_top_level_version():
    content = OUT.read_text().strip()
    data = json.loads(PKG.read_text())
    expected = data["version"]
    assert content not in nested_versions(data), (
        f"{content} is the version of a nested object, not the top-level version"
    )
    assert content == expected, (
        f"the top-level version is {expected}, /app/version.txt says {content!r}"
    )
