"""Tests for the edit-config-port task."""
from pathlib import Path

CONF = Path("/app/server.conf")

ORIGINAL = (
    "# tiny-web server configuration\n"
    "name = tiny-web\n"
    "host = 0.0.0.0\n"
    "port = 8080\n"
    "workers = 4\n"
    "timeout_seconds = 30\n"
    "log_level = info\n"
    "log_file = /var/log/tiny-web/server.log\n"
    "health_url = http://127.0.0.1:8080/health\n"
    "admin_port = 8081\n"
    "max_body_kb = 512\n"
    "keepalive = true\n"
)
OLD_LINE = "port = 8080"
NEW_LINE = "port = 9090"
EXPECTED = "".join(
    (NEW_LINE + "\n") if line == OLD_LINE + "\n" else line
    for line in ORIGINAL.splitlines(keepends=True)
)


def test_config_file_exists():
    assert CONF.is_file(), "/app/server.conf must still exist"


def test_port_line_changed():
    lines = CONF.read_text().splitlines()
    assert NEW_LINE in lines, f"there is no line exactly {NEW_LINE!r} in /app/server.conf"
    assert OLD_LINE not in lines, f"the line {OLD_LINE!r} is still in /app/server.conf"


def test_other_lines_unchanged():
    actual = CONF.read_text().splitlines()
    expected = EXPECTED.splitlines()
    assert len(actual) == len(expected), (
        f"/app/server.conf should have {len(expected)} lines, it has {len(actual)}"
    )
    for number, (got, want) in enumerate(zip(actual, expected), start=1):
        assert got == want, f"line {number} should be {want!r}, got {got!r}"


def test_file_bytes_exact():
    assert CONF.read_bytes() == EXPECTED.encode(), (
        "/app/server.conf must equal the original byte for byte except for the port line; expected:\n"
        + EXPECTED
    )
