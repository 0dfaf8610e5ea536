"""Builds /app/project: a small text utility library with a 40-commit history.

One commit in the middle silently breaks slugify(); everything is deterministic
(fixed author, committer and dates) so the commit hashes are stable.
"""
import os
import subprocess

REPO = "/app/project"
os.makedirs(REPO, exist_ok=True)
os.chdir(REPO)

ENV = dict(os.environ,
           GIT_AUTHOR_NAME="Sam Writer", GIT_AUTHOR_EMAIL="sam@example.com",
           GIT_COMMITTER_NAME="Sam Writer", GIT_COMMITTER_EMAIL="sam@example.com")
counter = [0]


def git(*args):
    subprocess.run(["git", *args], check=True, env=ENV, stdout=subprocess.DEVNULL)


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def replace(path, old, new):
    with open(path) as f:
        text = f.read()
    assert old in text, (path, old)
    write(path, text.replace(old, new, 1))


def commit(message):
    counter[0] += 1
    n = counter[0]
    date = f"2024-05-{1 + n // 3:02d}T{8 + n % 3 * 3:02d}:{n % 60:02d}:00+00:00"
    ENV["GIT_AUTHOR_DATE"] = ENV["GIT_COMMITTER_DATE"] = date
    git("add", "-A")
    git("commit", "-q", "-m", message)


git("init", "-q", "-b", "main", ".")
git("config", "user.name", "Agent")
git("config", "user.email", "agent@example.com")

SLUG_V1 = '''"""URL slugs."""
import re

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text, max_length=50):
    """Turn arbitrary text into a lowercase, dash-separated URL slug."""
    text = text.lower()
    text = _NON_ALNUM.sub("-", text)
    text = text.strip("-")
    return text[:max_length].rstrip("-")
'''

write("README.md", "# textkit\n\nSmall text utilities.\n")
write("textkit/__init__.py", '"""textkit - small text utilities."""\n__version__ = "0.1.0"\n')
write("textkit/slug.py", SLUG_V1)
commit("Initial textkit with slugify")

write("CHANGELOG.md", "# Changelog\n\n## 0.1.0\n- slugify\n")
commit("Add changelog")

write("textkit/wrap.py", '''"""Line wrapping."""


def wrap(text, width=72):
    words = text.split()
    lines, current = [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines
''')
commit("Add wrap()")

append("README.md", "\n## Usage\n\n```python\nfrom textkit.slug import slugify\n```\n")
commit("Document usage")

write("textkit/case.py", '''"""Case conversions."""


def snake_to_camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
''')
commit("Add snake_to_camel()")

append("textkit/case.py", '''

def camel_to_snake(name):
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out).lstrip("_")
''')
commit("Add camel_to_snake()")

replace("textkit/__init__.py", '"0.1.0"', '"0.2.0"')
append("CHANGELOG.md", "\n## 0.2.0\n- wrap, case conversions\n")
commit("Release 0.2.0")

write(".gitignore", "__pycache__/\n*.pyc\n")
commit("Add .gitignore")

write("textkit/count.py", '''"""Counting helpers."""


def word_count(text):
    return len(text.split())
''')
commit("Add word_count()")

append("textkit/count.py", '''

def char_count(text, spaces=True):
    return len(text) if spaces else len(text.replace(" ", ""))
''')
commit("Add char_count()")

replace("textkit/wrap.py", '"""Line wrapping."""', '"""Line wrapping (greedy)."""')
commit("Clarify wrap docstring")

append("README.md", "\n## Modules\n\n- slug\n- wrap\n- case\n- count\n")
commit("List modules in README")

replace("textkit/slug.py", '"""URL slugs."""', '"""URL slugs.\n\nSlugs only contain a-z, 0-9 and single dashes.\n"""')
commit("Fix slugify edge case in docs")

write("textkit/trim.py", '''"""Trimming helpers."""


def squeeze_spaces(text):
    return " ".join(text.split())
''')
commit("Add squeeze_spaces()")

append("textkit/trim.py", '''

def truncate(text, length, suffix="..."):
    if len(text) <= length:
        return text
    return text[: max(0, length - len(suffix))] + suffix
''')
commit("Add truncate()")

replace("textkit/__init__.py", '"0.2.0"', '"0.3.0"')
append("CHANGELOG.md", "\n## 0.3.0\n- count and trim helpers\n")
commit("Release 0.3.0")

write("docs/slug.md", "# slugify\n\n`slugify('Hello, World!')` returns `hello-world`.\n")
commit("Add slug docs")

write("docs/wrap.md", "# wrap\n\nGreedy word wrapping.\n")
commit("Add wrap docs")

replace("textkit/count.py", "def word_count(text):", "def word_count(text):\n    \"\"\"Number of whitespace separated words.\"\"\"")
commit("Document word_count")

replace("textkit/case.py", "def snake_to_camel(name):", "def snake_to_camel(name):\n    \"\"\"foo_bar -> fooBar\"\"\"")
commit("Document snake_to_camel")

append("docs/slug.md", "\nUse `max_length` to limit the slug length.\n")
commit("Document max_length")

replace("textkit/wrap.py", "def wrap(text, width=72):", "def wrap(text, width=72):\n    \"\"\"Wrap text into lines of at most width characters.\"\"\"")
commit("Document wrap")

# --- the culprit: looks like a harmless refactor --------------------------
replace("textkit/slug.py", '_NON_ALNUM = re.compile(r"[^a-z0-9]+")', '_NON_ALNUM = re.compile(r"[^a-z0-9]")')
commit("Refactor slug regex")
# ---------------------------------------------------------------------------

append("docs/wrap.md", "\nWords longer than the width get a line of their own.\n")
commit("Document long words")

replace("textkit/__init__.py", '"0.3.0"', '"0.4.0"')
append("CHANGELOG.md", "\n## 0.4.0\n- docs\n")
commit("Release 0.4.0")

write("textkit/initials.py", '''"""Initials."""


def initials(name):
    return "".join(part[0].upper() for part in name.split() if part)
''')
commit("Add initials()")

append("textkit/slug.py", '''

def unique_slug(text, existing, max_length=50):
    """slugify(text), with -2, -3, ... appended until it is not in existing."""
    base = slugify(text, max_length)
    slug, n = base, 2
    while slug in existing:
        slug = f"{base}-{n}"
        n += 1
    return slug
''')
commit("Add unique_slug()")

append("docs/slug.md", "\n`unique_slug(text, existing)` avoids collisions.\n")
commit("Document unique_slug")

replace("textkit/count.py", "def char_count(text, spaces=True):", "def char_count(text, spaces=True):\n    \"\"\"Number of characters, optionally without spaces.\"\"\"")
commit("Document char_count")

write("docs/case.md", "# case\n\nsnake_case <-> camelCase.\n")
commit("Add case docs")

append("README.md", "- initials\n")
commit("Mention initials in README")

replace("textkit/trim.py", 'def truncate(text, length, suffix="..."):', 'def truncate(text, length, suffix="..."):\n    """Shorten text to at most length characters."""')
commit("Document truncate")

write("docs/count.md", "# count\n\nword_count and char_count.\n")
commit("Add count docs")

replace("textkit/__init__.py", '"0.4.0"', '"0.5.0"')
append("CHANGELOG.md", "\n## 0.5.0\n- unique_slug, initials\n")
commit("Release 0.5.0")

append("textkit/initials.py", '''

def monogram(name):
    parts = name.split()
    return (parts[0][0] + parts[-1][0]).upper() if parts else ""
''')
commit("Add monogram()")

write("docs/trim.md", "# trim\n\nsqueeze_spaces and truncate.\n")
commit("Add trim docs")

replace("README.md", "Small text utilities.", "Small, dependency-free text utilities.")
commit("Polish README")

append("CHANGELOG.md", "\n## unreleased\n- monogram\n")
commit("Update changelog")

replace("textkit/initials.py", '"""Initials."""', '"""Initials and monograms."""')
commit("Update initials docstring")

replace("textkit/__init__.py", '"0.5.0"', '"0.6.0"')
replace("CHANGELOG.md", "## unreleased", "## 0.6.0")
commit("Release 0.6.0")
print("commits:", counter[0])
