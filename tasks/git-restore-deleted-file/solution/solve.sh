#!/bin/bash
set -e
cd /app/repo
# the commit that deleted config.yaml
del=$(git log --diff-filter=D --format=%H -n 1 -- config.yaml)
rm -f config.yaml
git checkout "${del}^" -- config.yaml
git commit -m "Restore config.yaml"
git status --short
git log --oneline
