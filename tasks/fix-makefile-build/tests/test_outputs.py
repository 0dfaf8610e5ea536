"""Tests for the fix-makefile-build task."""
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path("/app/calc")
BINARY = PROJECT / "bin" / "calc"
SOURCE_SHA256 = {
    "main.c": "243ed89250de6062c0015065e08eabe8519674f61f3d7c59c424076320907edb",
    "ops.c": "4f0ac94249cb7585070b367011594c8b3b9537bbb310f6d76d71bda0163240b9",
    "ops.h": "485cc2407b7fecdbc1e8266735d63e2f60f0a54660131dda99a727ba6b11bb77",
}
CASES = [
    (["add", "2", "3"], "5.0000"),
    (["mul", "1.5", "4"], "6.0000"),
    (["pow", "2", "10"], "1024.0000"),
    (["hypot", "3", "4"], "5.0000"),
    (["hypot", "5", "12"], "13.0000"),
]


@pytest.mark.parametrize("name", sorted(SOURCE_SHA256))
def test_sources_unchanged(name):
    digest = hashlib.sha256((PROJECT / "src" / name).read_bytes()).hexdigest()
    assert digest == SOURCE_SHA256[name], f"src/{name} must not be modified"


def test_binary_was_built():
    assert BINARY.is_file(), "/app/calc/bin/calc does not exist; build the project"
    out = subprocess.run(["file", str(BINARY)], capture_output=True, text=True).stdout
    assert "ELF" in out, f"/app/calc/bin/calc is not a compiled executable: {out}"


@pytest.mark.parametrize("args,expected", CASES)
def test_built_binary_computes(args, expected):
    result = subprocess.run([str(BINARY), *args], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected, f"calc {' '.join(args)} printed {result.stdout!r}"


def test_clean_build_from_scratch(tmp_path):
    work = tmp_path / "calc"
    shutil.copytree(PROJECT, work)
    clean = subprocess.run(["make", "clean"], cwd=work, capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, f"make clean failed:\n{clean.stdout}{clean.stderr}"
    assert not (work / "bin" / "calc").exists(), "make clean must remove bin/calc"
    build = subprocess.run(["make"], cwd=work, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, f"make failed on a clean tree:\n{build.stdout}{build.stderr}"
    binary = work / "bin" / "calc"
    assert binary.is_file(), "make did not produce bin/calc"
    for args, expected in CASES:
        out = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=10)
        assert out.stdout.strip() == expected
