"""Tests for the setup-wizard-answers task."""
import hashlib
import json
from pathlib import Path

import pytest

WIZARD = Path("/app/wizard.py")
OUTPUT = Path("/app/project.json")
WIZARD_SHA256 = "2c461d750a73d151e7237bd0676a97eafe21ad7037da04ad4a86f9a093d71c56"

EXPECTED = {
    "name": "orion",
    "port": 9090,
    "tls": False,
    "admin_email": "ops@example.com",
    "environment": "prod",
}


def load():
    assert OUTPUT.is_file(), "/app/project.json was not written"
    return json.loads(OUTPUT.read_text())


def test_wizard_unchanged():
    digest = hashlib.sha256(WIZARD.read_bytes()).hexdigest()
    assert digest == WIZARD_SHA256, "/app/wizard.py must not be modified"


def test_config_written():
    load()


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_config_value(key):
    cfg = load()
    assert key in cfg, f"{key} missing from project.json"
    assert cfg[key] == EXPECTED[key], f"{key} is {cfg[key]!r}, expected {EXPECTED[key]!r}"


def test_config_has_only_wizard_keys():
    assert sorted(load()) == sorted(list(EXPECTED) + ["checksum"])


def test_config_generated_by_wizard():
    cfg = load()
    raw = "|".join(str(cfg[k]) for k in ("name", "port", "tls", "admin_email", "environment"))
    expected = hashlib.sha256((raw + "|wizard-v2").encode()).hexdigest()
    assert cfg.get("checksum") == expected, "project.json was not produced by the wizard"
    assert OUTPUT.read_text() == json.dumps(cfg, indent=2) + "\n", (
        "project.json is not formatted the way the wizard writes it"
    )
