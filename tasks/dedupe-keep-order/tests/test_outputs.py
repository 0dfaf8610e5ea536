"""Tests for the dedupe-keep-order task."""
import hashlib
from pathlib import Path

IDS = Path("/app/ids.txt")
UNIQUE = Path("/app/unique_ids.txt")
IDS_SHA256 = "c2fce37d11205a5c343aebd16deddf576b213e535922f0c084db44345fe33370"
EXPECTED_UNIQUE = 46


def expected_ids():
    seen = []
    for line in IDS.read_text().splitlines():
        if line not in seen:
            seen.append(line)
    return seen


def output_lines():
    return UNIQUE.read_text().splitlines()


def test_ids_unchanged():
    assert IDS.is_file(), "/app/ids.txt is missing"
    digest = hashlib.sha256(IDS.read_bytes()).hexdigest()
    assert digest == IDS_SHA256, "/app/ids.txt must not be modified"


def test_unique_file_exists():
    assert UNIQUE.is_file(), "/app/unique_ids.txt was not created"


def test_no_duplicates():
    lines = output_lines()
    dupes = sorted({x for x in lines if lines.count(x) > 1})
    assert not dupes, f"each id must appear only once in /app/unique_ids.txt; repeated: {dupes}"


def test_same_set_of_ids():
    want = expected_ids()
    assert len(want) == EXPECTED_UNIQUE
    got = set(output_lines())
    missing = [x for x in want if x not in got]
    extra = sorted(got - set(want))
    assert not missing and not extra, f"missing ids: {missing}; lines that are not ids of the input: {extra}"


def test_not_sorted_but_first_appearance_order():
    want = expected_ids()
    got = output_lines()
    assert got[:3] == want[:3], (
        f"the first ids must be {want[:3]} (order of first appearance, not sorted), got {got[:3]}"
    )
    assert got == want, (
        "ids must be in order of first appearance:\nexpected " + " ".join(want) + "\ngot      " + " ".join(got)
    )


def test_exact_content():
    want = "\n".join(expected_ids()) + "\n"
    got = UNIQUE.read_text()
    assert got == want, "/app/unique_ids.txt should read:\n" + want + "\nbut it reads:\n" + got
