#!/bin/bash
set -e
awk '!seen[$0]++' /app/ids.txt > /app/unique_ids.txt
