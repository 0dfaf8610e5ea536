"""Tests for the sum-column task."""
import csv
import hashlib
from pathlib import Path

SALES = Path("/app/sales.csv")
OUT = Path("/app/total.txt")
SALES_SHA256 = "a6385eb3a308d117f998c05fa2ce102a87ab2e3fdc73b75cb57c738c6024f3cf"


def read_rows():
    with SALES.open(newline="") as f:
        return list(csv.DictReader(f))


def test_sales_unchanged():
    assert SALES.is_file(), "/app/sales.csv is missing"
    digest = hashlib.sha256(SALES.read_bytes()).hexdigest()
    assert digest == SALES_SHA256, "/app/sales.csv must not be modified"


def test_output_file_exists():
    assert OUT.is_file(), "/app/total.txt was not created"


def test_output_is_only_digits():
    content = OUT.read_text().strip()
    assert content.isdigit(), (
        f"/app/total.txt must contain only the digits of the sum, got {content!r}"
    )


def test_sum_of_amount_column():
    content = OUT.read_text().strip()
    rows = read_rows()
    expected = sum(int(row["amount"]) for row in rows)
    wrong_column = sum(int(row["quantity"]) for row in rows)
    assert int(content) != wrong_column, (
        "/app/total.txt holds the sum of the last column (quantity), not of the amount column"
    )
    assert int(content) == expected, (
        f"the amount column sums to {expected}, /app/total.txt says {content}"
    )
