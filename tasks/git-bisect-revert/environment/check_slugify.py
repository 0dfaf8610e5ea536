#!/usr/bin/env python3
"""Regression check for textkit.slug.slugify.

Run it from the root of the textkit repository:  python3 /app/check_slugify.py
Exit status 0 = slugify behaves correctly, 1 = it does not.
"""
import os
import sys

sys.path.insert(0, os.getcwd())
sys.dont_write_bytecode = True
from textkit.slug import slugify  # noqa: E402

CASES = {
    "Hello World": "hello-world",
    "Hello, World!": "hello-world",
    "  Leading and trailing  ": "leading-and-trailing",
    "Rock & Roll -- 2024": "rock-roll-2024",
    "already-a-slug": "already-a-slug",
    "MiXeD CaSe 42": "mixed-case-42",
}

failed = 0
for text, expected in CASES.items():
    got = slugify(text)
    if got != expected:
        failed += 1
        print(f"FAIL slugify({text!r}) = {got!r}, expected {expected!r}")
if failed:
    print(f"{failed} of {len(CASES)} cases failed")
    sys.exit(1)
print(f"all {len(CASES)} cases passed")
