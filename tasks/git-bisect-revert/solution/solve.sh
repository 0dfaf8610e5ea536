#!/bin/bash
set -e
cd /app/project
first=$(git rev-list --max-parents=0 main)
git bisect start main "$first"
git bisect run python3 /app/check_slugify.py > /tmp/bisect.log 2>&1
bad=$(git rev-parse refs/bisect/bad)
git bisect reset
echo "$bad" > /app/first_bad.txt
git checkout -q main
# --no-edit: no editor is available (and none is needed)
git revert --no-edit "$bad"
python3 /app/check_slugify.py
git log --oneline -3
