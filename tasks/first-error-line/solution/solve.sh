#!/bin/bash
set -e
grep -n -w ERROR /app/app.log | head -n 1 | cut -d: -f1 > /app/first_error.txt
