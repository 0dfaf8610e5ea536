#!/bin/bash
set -e
python3 - <<'PY'
import csv
from collections import defaultdict
from decimal import Decimal

seen = set()
totals = defaultdict(Decimal)
with open("/app/orders.csv", newline="") as f:
    for row in csv.DictReader(f):
        if row["order_id"] in seen:
            continue
        seen.add(row["order_id"])
        if row["status"].strip().lower() != "completed":
            continue
        totals[row["customer_email"].strip().lower()] += Decimal(row["amount"].strip())
top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
with open("/app/top_customers.txt", "w") as out:
    for email, total in top:
        out.write(f"{email},{total:.2f}\n")
PY
cat /app/top_customers.txt
