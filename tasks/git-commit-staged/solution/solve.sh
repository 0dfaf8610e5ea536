#!/bin/bash
set -e
cd /app/repo
git commit -m "Add greeting page"
git status --short
git log --oneline
