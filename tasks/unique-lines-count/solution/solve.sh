#!/bin/bash
set -e
sort -u /app/visitors.log | wc -l > /app/unique.txt
