"""Tests for the git-bisect-revert task."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path("/app/project")
CHECK = "/app/check_slugify.py"
ANSWER = Path("/app/first_bad.txt")
ORIGINAL_TIP = "4d2e8aead31593c048ab5720d17d7c3c969a9bcc"
FIRST_BAD = "9957f066633de1c6c7850b2007f083d2f7a94961"


def git(*args, check=True):
    result = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    if check:
        assert result.returncode == 0, f"git {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def check_passes_at(commit, tmp_path):
    """Run the regression check against textkit/slug.py as of `commit`."""
    work = tmp_path / commit
    (work / "textkit").mkdir(parents=True)
    (work / "textkit" / "__init__.py").write_text("")
    (work / "textkit" / "slug.py").write_text(git("show", f"{commit}:textkit/slug.py"))
    result = subprocess.run([sys.executable, CHECK], cwd=work, capture_output=True, text=True)
    return result.returncode == 0


def test_first_bad_commit_recomputed(tmp_path):
    history = git("rev-list", "--reverse", ORIGINAL_TIP).split()
    first_bad = next(c for c in history if not check_passes_at(c, tmp_path))
    assert first_bad == FIRST_BAD


def test_answer_file():
    assert ANSWER.is_file(), "/app/first_bad.txt was not created"
    answer = ANSWER.read_text().strip()
    assert len(answer) == 40, f"expected a full 40-character hash, got {answer!r}"
    assert answer == FIRST_BAD, f"{answer} is not the first bad commit"


def test_back_on_main_and_not_bisecting():
    assert git("symbolic-ref", "--short", "HEAD").strip() == "main", "HEAD must be on branch main"
    assert not (REPO / ".git" / "BISECT_LOG").exists(), "a bisect is still in progress (run git bisect reset)"
    assert not (REPO / ".git" / "REVERT_HEAD").exists(), "a revert is still in progress"


def test_exactly_one_new_commit_on_top():
    parents = git("rev-parse", "HEAD^@").split()
    assert parents == [ORIGINAL_TIP], (
        "main must have exactly one new (non-merge) commit on top of the original history"
    )


def test_new_commit_only_touches_slug_module():
    changed = git("diff", "--name-only", ORIGINAL_TIP, "HEAD").split()
    assert changed == ["textkit/slug.py"], f"the new commit should only change textkit/slug.py, it changes {changed}"


def test_bad_change_reverted_and_later_work_kept():
    before = git("show", f"{ORIGINAL_TIP}:textkit/slug.py")
    expected = before.replace('re.compile(r"[^a-z0-9]")', 're.compile(r"[^a-z0-9]+")')
    assert expected != before
    assert git("show", "HEAD:textkit/slug.py") == expected, (
        "textkit/slug.py at HEAD should be the current version with the bad commit's change undone"
    )


def test_check_passes_at_head():
    result = subprocess.run([sys.executable, CHECK], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"check fails at HEAD:\n{result.stdout}{result.stderr}"


def test_unique_slug_still_works():
    code = (
        "from textkit.slug import unique_slug;"
        "print(unique_slug('Hello, World!', {'hello-world', 'hello-world-2'}))"
    )
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello-world-3"


def test_working_tree_clean():
    status = git("status", "--porcelain")
    assert status.strip() == "", f"working tree is not clean:\n{status}"
