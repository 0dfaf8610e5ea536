"""Tests for the git-restore-deleted-file task."""
import subprocess
from pathlib import Path

REPO = Path("/app/repo")
ORIGINAL_TIP = "e8b7288a7593338456e908cd71bbff7acfe87ee6"
ORIGINAL_HISTORY = [
    "deddd7d53e9b04f7944b85736a51e03fe9973959",
    "efa709dafc57ea9bd02887026c41d1ef5bc19af3",
    "1fc3fc953fc2b1e5fa6a4f9b24c036a18dae0310",
    "e5d8bdf9b069e5479f31fd91e9bf47b33a75c98f",
    ORIGINAL_TIP,
]
EXPECTED_CONFIG = """server:
  host: 0.0.0.0
  port: 8443
  tls: true
storage:
  path: /var/lib/weather
  retention_days: 30
api:
  provider: open-meteo
  timeout_seconds: 15
"""


def git(*args):
    result = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True
    )
    assert result.returncode == 0, f"git {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def test_on_branch_main():
    assert git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main", "HEAD must be on branch main"


def test_exactly_one_new_commit_on_top_of_old_history():
    parents = git("rev-parse", "HEAD^@").split()
    assert parents == [ORIGINAL_TIP], (
        "the restoration must be a single new (non-merge) commit directly on top of the "
        "original main; existing history must not be rewritten"
    )
    history = git("rev-list", "--reverse", "HEAD").split()
    assert history[:-1] == ORIGINAL_HISTORY, "the old history was changed"


def test_commit_message():
    subject = git("log", "-1", "--format=%B", "HEAD").strip()
    assert subject == "Restore config.yaml", f"unexpected commit message: {subject!r}"


def test_committed_config_content():
    committed = git("show", "HEAD:config.yaml")
    assert committed == EXPECTED_CONFIG, (
        "config.yaml in the new commit does not match its content from just before it was deleted"
    )


def test_commit_only_touches_config():
    changed = git("diff", "--name-only", ORIGINAL_TIP, "HEAD").split()
    assert changed == ["config.yaml"], f"the new commit should only add config.yaml, it changes {changed}"


def test_working_tree_clean_and_file_present():
    status = git("status", "--porcelain", "--untracked-files=all")
    assert status.strip() == "", f"working tree is not clean:\n{status}"
    assert (REPO / "config.yaml").read_text() == EXPECTED_CONFIG
