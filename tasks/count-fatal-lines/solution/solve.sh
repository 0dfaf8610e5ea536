#!/bin/bash
set -e
grep -c 'FATAL' /app/big.log > /app/fatal_count.txt
cat /app/fatal_count.txt
