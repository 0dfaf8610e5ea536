"""Tests for the csv-to-tsv task."""
import hashlib
from pathlib import Path

CSV = Path("/app/table.csv")
TSV = Path("/app/table.tsv")
CSV_SHA256 = "87426d6c7e71e7c75f00edddc23db983d61ddd7faf4847c91805e3553e53e725"
EXPECTED_ROWS = 21
FIELDS = 6


def csv_rows():
    return [line.split(",") for line in CSV.read_text(encoding="utf-8").splitlines()]


def tsv_lines():
    return TSV.read_text(encoding="utf-8").splitlines()


def test_csv_unchanged():
    assert CSV.is_file(), "/app/table.csv is missing"
    digest = hashlib.sha256(CSV.read_bytes()).hexdigest()
    assert digest == CSV_SHA256, "/app/table.csv must not be modified"


def test_tsv_file_exists():
    assert TSV.is_file(), "/app/table.tsv was not created"


def test_no_commas_and_real_tabs():
    content = TSV.read_text(encoding="utf-8")
    assert "," not in content, "/app/table.tsv still contains commas"
    assert "\\t" not in content, "/app/table.tsv contains the two characters backslash-t instead of a real tab"
    assert "\t" in content, "/app/table.tsv contains no tab characters"


def test_same_number_of_rows():
    want = csv_rows()
    assert len(want) == EXPECTED_ROWS
    got = tsv_lines()
    assert len(got) == len(want), f"/app/table.tsv must have {len(want)} lines (header included), it has {len(got)}"


def test_every_row_has_all_fields():
    for i, line in enumerate(tsv_lines(), start=1):
        n = len(line.split("\t"))
        assert n == FIELDS, (
            f"line {i} must have {FIELDS} tab-separated fields (empty fields kept), it has {n}: {line!r}"
        )


def test_header_row():
    got = tsv_lines()
    want = csv_rows()[0]
    assert got and got[0].split("\t") == want, f"the first line must be the header {want}, got {got[:1]}"


def test_rows_match_csv_exactly():
    want = ["\t".join(row) for row in csv_rows()]
    got = tsv_lines()
    for i, (g, w) in enumerate(zip(got, want), start=1):
        assert g == w, f"line {i} differs: expected {w!r}, got {g!r}"
    assert got == want


def test_ends_with_newline():
    assert TSV.read_bytes().endswith(b"\n"), "the last line of /app/table.tsv must end with a newline"
