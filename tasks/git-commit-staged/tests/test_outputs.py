"""Tests for the git-commit-staged task."""
import subprocess
from pathlib import Path

REPO = Path("/app/repo")
# The history built by environment/setup_repo.sh (fixed names and dates, so stable hashes).
ORIGINAL_HISTORY = [
    "5acc0e07741b0d2290644eca7a4ae1ea1901c950",
    "da4eeea9a5959f8f702592b8da865b8da6706b89",
]
ORIGINAL_TIP = ORIGINAL_HISTORY[-1]
# Tree object of the index as it was staged (depends on file contents only).
STAGED_TREE = "d1c9fd744d80f97d0bb75148f86dcbbbc048bf61"
MESSAGE = "Add greeting page"


def git(*args):
    result = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True
    )
    assert result.returncode == 0, f"git {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def test_on_branch_main():
    assert git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main", "HEAD must be on branch main"


def test_exactly_one_new_commit_on_top_of_old_history():
    head = git("rev-parse", "HEAD").strip()
    assert head != ORIGINAL_TIP, "no new commit was made: HEAD is still the old tip of main"
    parents = git("rev-parse", "HEAD^@").split()
    assert parents == [ORIGINAL_TIP], (
        "the new commit must sit directly on top of the original main "
        f"({ORIGINAL_TIP}); got parents {parents}"
    )
    history = git("rev-list", "--reverse", "HEAD").split()
    assert history[:-1] == ORIGINAL_HISTORY, "the existing history was changed"


def test_commit_message_exact():
    message = git("log", "-1", "--format=%B", "HEAD").strip()
    assert message == MESSAGE, f"commit message must be exactly {MESSAGE!r}, got {message!r}"


def test_commit_contains_exactly_the_staged_changes():
    tree = git("rev-parse", "HEAD^{tree}").strip()
    changed = sorted(git("diff", "--name-only", ORIGINAL_TIP, "HEAD").split())
    assert changed == ["greeting.html", "index.html"], (
        f"the new commit should change greeting.html and index.html only, it changes {changed}"
    )
    assert tree == STAGED_TREE, "the committed files differ from what was staged"
    greeting = git("show", "HEAD:greeting.html")
    assert "<h1>Hello, visitor!</h1>" in greeting, "greeting.html in the commit is not the staged version"


def test_author_is_the_configured_one():
    name = git("config", "user.name").strip()
    email = git("config", "user.email").strip()
    assert (name, email) == ("Pat Pages", "pat@example.com"), "the repository's user.name/user.email were changed"
    author = git("log", "-1", "--format=%an <%ae>", "HEAD").strip()
    assert author == f"{name} <{email}>", f"commit author should be {name} <{email}>, got {author}"


def test_working_tree_clean():
    status = git("status", "--porcelain", "--untracked-files=all")
    assert status.strip() == "", f"working tree is not clean:\n{status}"
