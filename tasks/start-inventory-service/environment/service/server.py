#!/usr/bin/env python3
"""Tiny inventory HTTP service.

Configuration is read from service.conf next to this file.

Endpoints:
  GET /health        -> {"status": "ok", "items": <number of items>}
  GET /items         -> JSON list of all items
  GET /items/<sku>   -> one item, or 404
"""
import configparser
import csv
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


def load_config():
    cfg = configparser.ConfigParser()
    path = os.path.join(HERE, "service.conf")
    if not cfg.read(path):
        raise SystemExit(f"cannot read configuration file {path}")
    return cfg


def load_items(path):
    with open(path, newline="") as f:
        return [
            {"sku": row["sku"], "name": row["name"], "quantity": int(row["quantity"])}
            for row in csv.DictReader(f)
        ]


class Handler(BaseHTTPRequestHandler):
    items = []

    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"status": "ok", "items": len(self.items)})
        elif self.path == "/items":
            self._send(200, self.items)
        elif self.path.startswith("/items/"):
            sku = self.path[len("/items/"):]
            for item in self.items:
                if item["sku"] == sku:
                    self._send(200, item)
                    return
            self._send(404, {"error": f"unknown sku {sku}"})
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, fmt, *args):
        print("%s - %s" % (self.address_string(), fmt % args), flush=True)


def main():
    cfg = load_config()
    host = cfg.get("server", "host")
    port = cfg.getint("server", "port")
    Handler.items = load_items(cfg.get("data", "items_file"))
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"inventory service listening on {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
