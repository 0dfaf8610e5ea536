#!/bin/bash
set -e
cd /app
python3 /app/wizard.py <<'ANSWERS'
yes
orion
9090
n
ops@example.com
prod
y
ANSWERS
cat /app/project.json
