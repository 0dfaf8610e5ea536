"""Creates the /app/data tree deterministically (fixed sizes, LCG-generated content)."""
import os

ROOT = "/app/data"
# relative path -> size in bytes; the largest file is in a subfolder and has a space in its name.
FILES = {
    "readme.txt": 1200,
    "notes.md": 9500,
    "todo.txt": 310,
    "logs/app.log": 14000,
    "logs/error.log": 2048,
    "logs/old/app.1.log": 14990,
    "logs/old/app.2.log": 13000,
    "reports/q2.csv": 8000,
    "reports/q3 summary.csv": 15321,
    "reports/draft/q4.csv": 600,
    "images/logo.bin": 15000,
    "images/icon.bin": 4096,
    "empty.txt": 0,
}
state = 7


def content(size):
    global state
    words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "zeta"]
    out = []
    total = 0
    while total < size:
        state = (state * 1103515245 + 12345) % 2147483648
        w = words[(state >> 8) % len(words)] + ("\n" if (state >> 4) % 9 == 0 else " ")
        out.append(w)
        total += len(w)
    return "".join(out)[:size]


for rel, size in FILES.items():
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content(size))
    os.utime(path, (1717000000, 1717000000))
