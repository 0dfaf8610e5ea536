"""Tests for the start-inventory-service task."""
import csv
import hashlib
import json
import os
import time
import urllib.error
import urllib.request

import pytest

BASE = "http://127.0.0.1:8085"
ITEMS_CSV = "/app/service/items.csv"
ITEMS_SHA256 = "b4fad16c4d3dd7e8e69bdced0750ef039bd5c8ec70ddf7bdd7277b683e104ce6"


def get(path, timeout=5):
    with urllib.request.urlopen(BASE + path, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read().decode())


def expected_items():
    with open(ITEMS_CSV, newline="") as f:
        return [
            {"sku": r["sku"], "name": r["name"], "quantity": int(r["quantity"])}
            for r in csv.DictReader(f)
        ]


@pytest.fixture(scope="module", autouse=True)
def wait_for_service():
    deadline = time.time() + 15
    last = None
    while time.time() < deadline:
        try:
            get("/health", timeout=2)
            return
        except Exception as exc:  # noqa: BLE001
            last = exc
            time.sleep(0.5)
    pytest.fail(f"nothing answers on {BASE}/health: {last}")


def test_items_csv_unchanged():
    with open(ITEMS_CSV, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == ITEMS_SHA256, "items.csv must not be modified"


def test_health_endpoint():
    status, body = get("/health")
    assert status == 200
    assert body.get("status") == "ok", f"unexpected /health body: {body}"
    assert body.get("items") == len(expected_items()), "the service did not load all items from items.csv"


def test_items_endpoint_serves_csv_contents():
    status, body = get("/items")
    assert status == 200
    assert body == expected_items(), "GET /items does not match /app/service/items.csv"


@pytest.mark.parametrize("index", [0, 4, 9])
def test_single_item_lookup(index):
    item = expected_items()[index]
    status, body = get("/items/" + item["sku"])
    assert status == 200
    assert body == item


def test_unknown_item_is_404():
    with pytest.raises(urllib.error.HTTPError) as info:
        get("/items/SKU-0000")
    assert info.value.code == 404


def test_served_by_provided_server_script():
    found = False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "server.py" in cmd and "python" in cmd:
            found = True
            break
    assert found, "no running python process for /app/service/server.py was found"
