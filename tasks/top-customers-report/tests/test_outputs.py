"""Tests for the top-customers-report task."""
import csv
import hashlib
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ORDERS = Path("/app/orders.csv")
OUTPUT = Path("/app/top_customers.txt")
ORDERS_SHA256 = "9cbc2dc49e151d94128f5c9fb7bcc96a42aa0691b1651dadca1ebdf262da5020"

# Reference answer for the shipped data (also recomputed below from the CSV).
EXPECTED = [
    "alice.wong@example.com,5120.40",
    "bruno.silva@example.org,4890.00",
    "chen.li@example.net,4500.25",
    "gita.rao@example.com,4300.00",
    "dora.kent@example.com,4100.10",
]


def reference():
    seen = set()
    totals = defaultdict(Decimal)
    with open(ORDERS, newline="") as f:
        for row in csv.DictReader(f):
            if row["order_id"] in seen:
                continue
            seen.add(row["order_id"])
            if row["status"].strip().lower() != "completed":
                continue
            totals[row["customer_email"].strip().lower()] += Decimal(row["amount"].strip())
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return [f"{email},{total:.2f}" for email, total in ranked[:5]]


def output_lines():
    assert OUTPUT.is_file(), "/app/top_customers.txt was not created"
    return [line.strip() for line in OUTPUT.read_text().splitlines() if line.strip()]


def test_orders_unchanged():
    digest = hashlib.sha256(ORDERS.read_bytes()).hexdigest()
    assert digest == ORDERS_SHA256, "/app/orders.csv must not be modified"


def test_reference_consistent():
    assert reference() == EXPECTED


def test_exactly_five_lines_without_header():
    lines = output_lines()
    assert len(lines) == 5, f"expected exactly 5 lines, got {len(lines)}: {lines}"
    assert not any("email" in line.lower() for line in lines), "the output must not contain a header"


def test_line_format():
    for line in output_lines():
        email, sep, total = line.partition(",")
        assert sep and "@" in email, f"bad line {line!r}: expected <email>,<total>"
        assert email == email.lower() and email == email.strip(), f"e-mail must be lowercase, trimmed: {line!r}"
        whole, dot, cents = total.partition(".")
        assert whole.isdigit() and dot and len(cents) == 2 and cents.isdigit(), (
            f"total must have exactly two decimals: {line!r}"
        )


def test_same_customers_as_reference():
    got = {line.split(",")[0] for line in output_lines()}
    want = {line.split(",")[0] for line in EXPECTED}
    assert got == want, f"wrong set of customers.\nexpected: {sorted(want)}\ngot:      {sorted(got)}"


def test_totals_match_reference():
    got = dict(line.split(",", 1) for line in output_lines())
    for line in EXPECTED:
        email, total = line.split(",")
        assert got.get(email) == total, f"total for {email}: expected {total}, got {got.get(email)}"


def test_exact_order_with_tie_break():
    assert output_lines() == EXPECTED, (
        "wrong ranking.\nexpected:\n" + "\n".join(EXPECTED) + "\ngot:\n" + "\n".join(output_lines())
    )
