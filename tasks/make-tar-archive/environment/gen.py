"""Creates the /app/site folder deterministically."""
import os

ROOT = "/app/site"
TEXT = {
    "index.html": "<!DOCTYPE html>\n<html><head><title>Shop</title>"
    "<link rel=\"stylesheet\" href=\"css/style.css\"></head>\n"
    "<body><h1>Welcome to the shop</h1><script src=\"js/app.js\"></script></body></html>\n",
    "about.html": "<!DOCTYPE html>\n<html><body><p>About us: a tiny shop since 2011.</p></body></html>\n",
    "css/style.css": "body { margin: 0; font-family: serif; }\nh1 { font-size: 2em; }\n",
    "js/app.js": "document.addEventListener('DOMContentLoaded', () => {\n  console.log('shop ready');\n});\n",
    "docs/user guide.txt": "How to order:\n1. Pick a product.\n2. Pay.\n3. Wait for the parcel.\n",
    ".htaccess": "Options -Indexes\nErrorDocument 404 /index.html\n",
}

state = 99


def binary(size):
    global state
    out = bytearray()
    for _ in range(size):
        state = (state * 1103515245 + 12345) % 2147483648
        out.append((state >> 16) & 0xFF)
    return bytes(out)


for rel, text in TEXT.items():
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
os.makedirs(os.path.join(ROOT, "img"), exist_ok=True)
with open(os.path.join(ROOT, "img/logo.png"), "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + binary(3000))
with open(os.path.join(ROOT, "img/banner.jpg"), "wb") as f:
    f.write(b"\xff\xd8\xff\xe0" + binary(5000))
