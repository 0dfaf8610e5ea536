#!/usr/bin/env python3
"""Interactive project setup wizard.

Asks a few questions on standard input and writes /app/project.json.
"""
import hashlib
import json
import re
import sys

OUTPUT = "/app/project.json"
ENVIRONMENTS = ("dev", "staging", "prod")
LICENSE = """\
------------------------------------------------------------------
 ACME Project Toolkit - License Agreement
 You may use this toolkit for any purpose. It comes without
 warranty of any kind. By typing 'yes' you accept these terms.
------------------------------------------------------------------"""


def ask(prompt, validate, default=None, tries=3):
    for _ in range(tries):
        try:
            answer = input(prompt)
        except EOFError:
            print("\naborted: no more input", file=sys.stderr)
            sys.exit(1)
        answer = answer.strip()
        if not answer and default is not None:
            answer = default
        value, error = validate(answer)
        if error is None:
            return value
        print(f"  invalid answer: {error}")
    print("too many invalid answers, giving up", file=sys.stderr)
    sys.exit(1)


def v_license(a):
    if a.lower() == "yes":
        return True, None
    return None, "type 'yes' to accept the license"


def v_name(a):
    if re.fullmatch(r"[a-z][a-z0-9-]{2,30}", a):
        return a, None
    return None, "use 3-31 lowercase letters, digits or dashes, starting with a letter"


def v_port(a):
    if a.isdigit() and 1024 <= int(a) <= 65535:
        return int(a), None
    return None, "port must be a number between 1024 and 65535"


def v_yes_no(a):
    if a.lower() in ("y", "yes"):
        return True, None
    if a.lower() in ("n", "no"):
        return False, None
    return None, "answer y or n"


def v_email(a):
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", a):
        return a, None
    return None, "not a valid e-mail address"


def v_env(a):
    if a in ENVIRONMENTS:
        return a, None
    return None, "choose one of " + ", ".join(ENVIRONMENTS)


def checksum(cfg):
    raw = "|".join(str(cfg[k]) for k in ("name", "port", "tls", "admin_email", "environment"))
    return hashlib.sha256((raw + "|wizard-v2").encode()).hexdigest()


def main():
    print("Welcome to the project setup wizard.")
    print(LICENSE)
    ask("Do you accept the license terms? (yes/no): ", v_license)
    cfg = {}
    cfg["name"] = ask("Project name: ", v_name)
    cfg["port"] = ask("HTTP port [8000]: ", v_port, default="8000")
    cfg["tls"] = ask("Enable TLS? [y/N]: ", v_yes_no, default="n")
    cfg["admin_email"] = ask("Admin e-mail: ", v_email)
    cfg["environment"] = ask("Environment (dev/staging/prod) [dev]: ", v_env, default="dev")
    print("\nSummary:")
    for key, value in cfg.items():
        print(f"  {key:12} {value}")
    if not ask(f"Write configuration to {OUTPUT}? [y/N]: ", v_yes_no, default="n"):
        print("nothing written")
        sys.exit(1)
    cfg["checksum"] = checksum(cfg)
    with open(OUTPUT, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    print(f"configuration written to {OUTPUT}")


if __name__ == "__main__":
    main()
