"""Generates /app/big.log deterministically (no random module, a fixed LCG)."""

state = 20240611


def rnd(n):
    global state
    state = (state * 1103515245 + 12345) % 2147483648
    return (state >> 8) % n


SERVICES = ["api", "auth", "billing", "cache", "db", "mailer", "scheduler", "search"]
MESSAGES = {
    "DEBUG": ["cache lookup key={k}", "request parsed in {n}ms", "pool size now {n}"],
    "INFO": [
        "request {k} served in {n}ms",
        "user {k} logged in",
        "job {k} finished",
        "non-fatal warning suppressed for job {k}",
        "recovered after fatal-looking timeout on {k}",
    ],
    "WARN": [
        "slow query took {n}ms",
        "retrying job {k} (attempt {n})",
        "disk usage at {n}%, not fatal yet",
    ],
    "ERROR": [
        "job {k} failed: timeout after {n}ms",
        "could not reach upstream {k}",
        "Fatal error avoided: fallback used for {k}",
    ],
    "FATAL": [
        "out of memory in worker {k}",
        "database {k} unreachable, shutting down",
        "FATAL: corrupted index {k}",
    ],
}
LEVELS = ["DEBUG"] * 20 + ["INFO"] * 55 + ["WARN"] * 15 + ["ERROR"] * 9 + ["FATAL"] * 1

lines = []
seconds = 0
for i in range(60000):
    seconds += rnd(3)
    level = LEVELS[rnd(len(LEVELS))]
    template = MESSAGES[level][rnd(len(MESSAGES[level]))]
    msg = template.format(k=f"{rnd(100000):05d}", n=rnd(5000))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    d = 1 + h // 24
    h = h % 24
    lines.append(
        f"2024-06-{d:02d} {h:02d}:{m:02d}:{s:02d} {level:<5} [{SERVICES[rnd(len(SERVICES))]}] {msg}\n"
    )

with open("/app/big.log", "w") as f:
    f.writelines(lines)
